//! Typed desired resources: one struct per AWS resource type, and Kubernetes objects as kind +
//! body (rendered from templates). Each knows its address and the JSON body that plans diff.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::address::Address;
use crate::kinds::AwsKind;

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Resource {
    Kube(KubeObject),
    Aws(AwsResource),
}

impl Resource {
    /// The document a plan compares field by field.
    pub fn body(&self) -> Value {
        self.body_ref().into_owned()
    }

    /// [`Resource::body`] without copying a cluster object's body: what only reads it (checks,
    /// digests, diffs) borrows it; an AWS resource's body is made from its typed form.
    pub fn body_ref(&self) -> Cow<'_, Value> {
        match self {
            Resource::Kube(object) => Cow::Borrowed(&object.body),
            Resource::Aws(resource) => Cow::Owned(serde_json::to_value(resource).expect("AWS resources serialize")),
        }
    }

    /// The document apply sends, when it is not the planned body itself (a cluster object's
    /// manifest, whose body the server's dry-run replaced). Plans carry it, so applying a saved
    /// plan needs nothing the planning process kept.
    pub fn send(&self) -> Option<Value> {
        match self {
            Resource::Kube(object) => Some(object.manifest.clone().unwrap_or_else(|| object.body.clone())),
            Resource::Aws(_) => None,
        }
    }

    /// [`Resource::body`] and what [`Resource::send`] would be, moved out rather than copied (a
    /// plan takes the desired set it was made from). What is sent is only copied from the body
    /// when a change needs it ([`Sends::resolve`]): a no-op sends nothing.
    pub fn into_body_and_sends(self) -> (Value, Sends) {
        match self {
            Resource::Kube(object) => {
                let sends = object.manifest.map_or(Sends::Body, Sends::Manifest);
                (object.body, sends)
            }
            Resource::Aws(resource) => {
                (serde_json::to_value(&resource).expect("AWS resources serialize"), Sends::Nothing)
            }
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Resource::Kube(object) => &object.kind,
            Resource::Aws(resource) => resource.kind().name(),
        }
    }
}

/// What carrying out a change of a resource sends, when it is not the planned body: see
/// [`Resource::send`].
#[derive(Debug)]
pub enum Sends {
    /// The planned body itself, as a manifest (a cluster object as rendered).
    Body,
    /// A manifest apart from the planned body (which is the server's dry-run of it).
    Manifest(Value),
    /// Nothing apart from the planned body (an AWS resource, carried out from its typed form).
    Nothing,
}

impl Sends {
    /// `Change::send` of a change whose planned body is `after`.
    pub fn resolve(self, after: Option<&Value>) -> Option<Value> {
        match self {
            Sends::Body => after.cloned(),
            Sends::Manifest(manifest) => Some(manifest),
            Sends::Nothing => None,
        }
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
    /// What a plan compares: as rendered, or the server's dry-run of `manifest` once a cluster
    /// provider has read it.
    pub body: Value,
    /// What server-side apply sends, when `body` holds the server's prediction instead.
    #[serde(skip)]
    pub manifest: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AwsResource {
    OidcProvider(OidcProvider),
    IamRole(IamRole),
    EcrRepository(EcrRepository),
    SnsTopic(SnsTopic),
    SnsSubscription(SnsSubscription),
    S3Bucket(S3Bucket),
    LogGroup(LogGroup),
    CodebuildProject(CodebuildProject),
    Codepipeline(Pipeline),
    EventsRule(EventsRule),
}

impl AwsResource {
    /// The registered kind of each AWS resource type.
    pub fn kind(&self) -> AwsKind {
        match self {
            AwsResource::OidcProvider(_) => AwsKind::OidcProvider,
            AwsResource::IamRole(_) => AwsKind::IamRole,
            AwsResource::EcrRepository(_) => AwsKind::EcrRepository,
            AwsResource::SnsTopic(_) => AwsKind::SnsTopic,
            AwsResource::SnsSubscription(_) => AwsKind::SnsSubscription,
            AwsResource::S3Bucket(_) => AwsKind::S3Bucket,
            AwsResource::LogGroup(_) => AwsKind::LogGroup,
            AwsResource::CodebuildProject(_) => AwsKind::CodebuildProject,
            AwsResource::Codepipeline(_) => AwsKind::Codepipeline,
            AwsResource::EventsRule(_) => AwsKind::EventsRule,
        }
    }

    pub fn name(&self) -> String {
        match self {
            AwsResource::OidcProvider(p) => p.url.trim_start_matches("https://").to_string(),
            AwsResource::IamRole(r) => r.name.clone(),
            AwsResource::EcrRepository(r) => r.name.clone(),
            AwsResource::SnsTopic(t) => t.name.clone(),
            // An https endpoint may carry a token (`?token=`): the address shows a stand-in.
            AwsResource::SnsSubscription(s) => {
                format!("{}/{}:{}", s.topic, s.protocol, crate::redact::stand_in(&s.endpoint))
            }
            AwsResource::S3Bucket(b) => b.name.clone(),
            AwsResource::LogGroup(g) => g.name.clone(),
            AwsResource::CodebuildProject(p) => p.name.clone(),
            AwsResource::Codepipeline(p) => p.pipeline.name.clone(),
            AwsResource::EventsRule(r) => r.name.clone(),
        }
    }

    pub fn address(&self) -> Address {
        Address::global(self.kind(), self.name())
    }

    /// Reads a body back into its typed form (plans carry bodies).
    pub fn from_body(body: &Value) -> Result<Self, String> {
        serde_json::from_value(body.clone()).map_err(|e| format!("not an AWS resource body: {e}"))
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
    /// The topic's access policy (who may publish: the account, and EventBridge for pipelines).
    pub policy: Value,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnsSubscription {
    pub topic: String,
    pub protocol: String,
    pub endpoint: String,
}

/// The catalog's CodePipeline artifact store. New buckets block public access and encrypt with
/// SSE-S3 by default, so only the name and the ownership tags are managed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct S3Bucket {
    pub name: String,
    pub tags: Tags,
}

/// The CloudWatch Logs group CodeBuild projects write to, created ahead of them so it expires
/// its events and carries the ownership tags (CodeBuild would create it on the first build,
/// never expiring, untagged, and leave it behind when the service goes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogGroup {
    pub name: String,
    /// How long its events are kept; None (as read back) when they never expire.
    pub retention_in_days: Option<u32>,
    pub tags: Tags,
}

/// A CodeBuild project run by a pipeline action (source and artifacts come from CodePipeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodebuildProject {
    pub name: String,
    pub description: String,
    /// ARN of the role the builds run as.
    pub service_role: String,
    pub image: String,
    pub compute_type: String,
    /// Needed to run docker inside the build (the image build only).
    pub privileged_mode: bool,
    /// Plain-text environment variables of every build (actions add their own).
    pub environment_variables: BTreeMap<String, String>,
    pub timeout_minutes: u32,
    pub log_group: String,
    pub log_stream: String,
    /// The buildspec as a document, so a plan shows which of its fields changed.
    pub buildspec: Value,
    pub tags: Tags,
}

/// A CodePipeline: `pipeline` is the CodePipeline API's `pipeline` structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub pipeline: PipelineDeclaration,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineDeclaration {
    pub name: String,
    pub role_arn: String,
    pub artifact_store: ArtifactStore,
    pub pipeline_type: String,
    pub execution_mode: String,
    pub stages: Vec<StageDeclaration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<PipelineTrigger>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactStore {
    #[serde(rename = "type")]
    pub store_type: String,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageDeclaration {
    pub name: String,
    pub actions: Vec<ActionDeclaration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionDeclaration {
    pub name: String,
    pub action_type_id: ActionTypeId,
    pub run_order: u32,
    pub configuration: BTreeMap<String, String>,
    pub input_artifacts: Vec<ArtifactName>,
    pub output_artifacts: Vec<ArtifactName>,
    /// Where the action's output variables are published (`#{NAMESPACE.VARIABLE}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionTypeId {
    pub category: String,
    pub owner: String,
    pub provider: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactName {
    pub name: String,
}

/// A V2 pipeline trigger: pushes to these branches touching these paths start a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTrigger {
    pub provider_type: String,
    pub git_configuration: GitConfiguration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitConfiguration {
    pub source_action_name: String,
    pub push: Vec<GitPushFilter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitPushFilter {
    pub branches: GitIncludes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_paths: Option<GitIncludes>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitIncludes {
    pub includes: Vec<String>,
    /// Patterns that never start a run, whatever else the push touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
}

/// An EventBridge rule (default bus) with its targets, by target id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsRule {
    pub name: String,
    pub description: String,
    pub event_pattern: Value,
    pub state: String,
    /// Target id → where the rule delivers.
    pub targets: BTreeMap<String, EventsTarget>,
    pub tags: Tags,
}

/// Where an EventBridge rule delivers: the target's ARN and, for a target without a resource
/// policy to let EventBridge in (a pipeline, unlike an SNS topic), the role it invokes it as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "TargetBody", into = "TargetBody")]
pub struct EventsTarget {
    pub arn: String,
    pub role_arn: Option<String>,
}

impl EventsTarget {
    /// A target EventBridge may invoke through the target's own policy.
    pub fn arn(arn: impl Into<String>) -> Self {
        EventsTarget { arn: arn.into(), role_arn: None }
    }
}

/// A target's body: the bare ARN when it takes no role, so rules whose targets have none (and
/// the states and plans recorded before targets could) keep the body they always had.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TargetBody {
    Arn(String),
    WithRole { arn: String, role_arn: String },
}

impl From<TargetBody> for EventsTarget {
    fn from(body: TargetBody) -> Self {
        match body {
            TargetBody::Arn(arn) => EventsTarget { arn, role_arn: None },
            TargetBody::WithRole { arn, role_arn } => EventsTarget { arn, role_arn: Some(role_arn) },
        }
    }
}

impl From<EventsTarget> for TargetBody {
    fn from(target: EventsTarget) -> Self {
        match target.role_arn {
            None => TargetBody::Arn(target.arn),
            Some(role_arn) => TargetBody::WithRole { arn: target.arn, role_arn },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_target_without_a_role_is_its_bare_arn_and_one_with_a_role_names_both() {
        let topic = EventsTarget::arn("arn:aws:sns:eu-west-1:123456789012:shop-storefront");
        assert_eq!(serde_json::to_value(&topic).unwrap(), json!("arn:aws:sns:eu-west-1:123456789012:shop-storefront"));
        let pipeline = EventsTarget {
            arn: "arn:aws:codepipeline:eu-west-1:123456789012:shop-inventory".into(),
            role_arn: Some("arn:aws:iam::123456789012:role/glidepath/shop/shop-inventory-source-events".into()),
        };
        let body = serde_json::to_value(&pipeline).unwrap();
        assert_eq!(
            body,
            json!({
                "arn": "arn:aws:codepipeline:eu-west-1:123456789012:shop-inventory",
                "role_arn": "arn:aws:iam::123456789012:role/glidepath/shop/shop-inventory-source-events"
            })
        );
        for target in [topic, pipeline] {
            let back: EventsTarget = serde_json::from_value(serde_json::to_value(&target).unwrap()).unwrap();
            assert_eq!(back, target, "a body reads back as the target it was written from");
        }
    }
}
