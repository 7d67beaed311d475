//! Typed desired resources: one struct per AWS resource type, and Kubernetes objects as kind +
//! body (rendered from templates). Each knows its address and the JSON body that plans diff.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::address::Address;

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Resource {
    Kube(KubeObject),
    Aws(AwsResource),
}

impl Resource {
    /// The document a plan compares field by field.
    pub fn body(&self) -> Value {
        match self {
            Resource::Kube(object) => object.body.clone(),
            Resource::Aws(resource) => serde_json::to_value(resource).expect("AWS resources serialize"),
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Resource::Kube(object) => &object.kind,
            Resource::Aws(resource) => resource.kind(),
        }
    }
}

/// Apply order of a resource kind: lower first, so things exist before what references them
/// (deletes run in the reverse order).
pub fn apply_rank(kind: &str) -> u8 {
    match kind {
        "iam_oidc_provider" => 0,
        "ecr_repository" | "sns_topic" => 1,
        "iam_role" | "sns_subscription" => 2,
        "Namespace" => 10,
        "ServiceAccount" | "ConfigMap" => 11,
        "Service" => 12,
        "AnalysisTemplate" => 13,
        "Rollout" => 14,
        _ => 15,
    }
}

/// A Kubernetes object as glidepath wants it to be.
#[derive(Debug, Clone, Serialize)]
pub struct KubeObject {
    pub env: String,
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AwsResource {
    OidcProvider(OidcProvider),
    IamRole(IamRole),
    EcrRepository(EcrRepository),
    SnsTopic(SnsTopic),
    SnsSubscription(SnsSubscription),
}

impl AwsResource {
    pub fn kind(&self) -> &'static str {
        match self {
            AwsResource::OidcProvider(_) => "iam_oidc_provider",
            AwsResource::IamRole(_) => "iam_role",
            AwsResource::EcrRepository(_) => "ecr_repository",
            AwsResource::SnsTopic(_) => "sns_topic",
            AwsResource::SnsSubscription(_) => "sns_subscription",
        }
    }

    pub fn name(&self) -> String {
        match self {
            AwsResource::OidcProvider(p) => p.url.trim_start_matches("https://").to_string(),
            AwsResource::IamRole(r) => r.name.clone(),
            AwsResource::EcrRepository(r) => r.name.clone(),
            AwsResource::SnsTopic(t) => t.name.clone(),
            AwsResource::SnsSubscription(s) => format!("{}/{}:{}", s.topic, s.protocol, s.endpoint),
        }
    }

    pub fn address(&self) -> Address {
        Address::aws(self.kind(), self.name())
    }

    /// Reads a body back into its typed form (plans carry bodies).
    pub fn from_body(body: &Value) -> Result<Self, String> {
        serde_json::from_value(body.clone()).map_err(|e| format!("not an AWS resource body: {e}"))
    }
}

/// Fields of a resource kind that AWS cannot change in place: changing one means delete and
/// create again. Everything else is updated in place.
pub fn replace_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "iam_oidc_provider" => &["url"],
        "iam_role" => &["name", "path"],
        "ecr_repository" => &["name", "encryption"],
        "sns_topic" => &["name"],
        "sns_subscription" => &["topic", "protocol", "endpoint"],
        _ => &[],
    }
}

pub type Tags = BTreeMap<String, String>;

/// The IAM OpenID Connect provider that lets GitHub Actions exchange its tokens for AWS roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OidcProvider {
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IamRole {
    pub name: String,
    pub path: String,
    pub description: String,
    pub max_session_duration: u32,
    pub trust_policy: Value,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, Value>,
    pub managed_policy_arns: Vec<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcrRepository {
    pub name: String,
    pub image_tag_mutability: String,
    pub scan_on_push: bool,
    pub encryption: String,
    pub lifecycle_policy: Value,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnsTopic {
    pub name: String,
    pub display_name: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnsSubscription {
    pub topic: String,
    pub protocol: String,
    pub endpoint: String,
}
