//! The kind registry: every resource kind glidepath manages, declared once with what the rest of
//! the tree needs to know about it: which provider owns it, its apply rank, the fields that
//! force a replacement, how its API addresses it and the template it renders from.
//!
//! Everything that depends on a kind matches on [`Kind`] without a wildcard arm, so adding a
//! kind is a compile error everywhere a decision about it is missing.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which live system owns a resource: its name is the provider segment of an address
/// (`aws/…`, `ENV/OWNER/k8s/…`). A value, not an enum, so the core types name no provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderId(pub &'static str);

impl ProviderId {
    /// AWS resources: one account serves every environment.
    pub const AWS: ProviderId = ProviderId("aws");
    /// Kubernetes objects: one cluster (and namespace) per environment.
    pub const KUBE: ProviderId = ProviderId("k8s");
    /// The providers of the registered kinds, for reading addresses back from text.
    pub fn known() -> Vec<ProviderId> {
        let mut known: Vec<ProviderId> = Kind::all().map(|k| k.provider()).collect();
        known.dedup();
        known
    }

    pub fn parse(text: &str) -> Option<ProviderId> {
        Kind::all().map(|k| k.provider()).find(|p| p.0 == text)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for ProviderId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for ProviderId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ProviderId::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown provider `{text}`")))
    }
}

/// Whether a Kubernetes kind's API is always there, comes with a CRD glidepath requires
/// (Argo Rollouts), or with one only some catalogs use (a mesh, a gateway): an optional kind is
/// listed in an environment only when the catalog renders it or the state recorded it, so a
/// cluster without that CRD is never asked about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crd {
    BuiltIn,
    Required,
    Optional,
}

/// How the Kubernetes API addresses a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeApi {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    pub crd: Crd,
}

impl KubeApi {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// How a kind is reached: the AWS service whose SDK reads and writes it, or the Kubernetes API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Aws { service: &'static str },
    Kube(KubeApi),
}

/// Everything the tree knows about one kind, declared in [`Kind::spec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSpec {
    pub provider: ProviderId,
    /// Apply order: lower first, so things exist before what references them (deletes run in
    /// the reverse order).
    pub rank: u8,
    /// Top-level body fields the API cannot change in place: changing one is a delete and a
    /// create. Everything else is updated in place.
    pub replace_fields: &'static [&'static str],
    pub api: Api,
    /// The templates under `templates/` its bodies come from (AWS bodies are typed structs).
    pub templates: &'static [&'static str],
}

/// Every resource kind glidepath manages, by provider. Code that serves one provider matches
/// on that provider's kinds only, so adding a kind to one never touches the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Aws(AwsKind),
    Kube(KubeKind),
    /// A third provider's kinds, for the unit tests that show the core needs no change for one.
    #[cfg(test)]
    Stub(StubKind),
}

#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StubKind {
    Bucket,
    Queue,
}

#[cfg(test)]
impl StubKind {
    pub const PROVIDER: ProviderId = ProviderId("stub");

    const fn name(self) -> &'static str {
        match self {
            StubKind::Bucket => "stub_bucket",
            StubKind::Queue => "stub_queue",
        }
    }

    const fn spec(self) -> KindSpec {
        let rank = match self {
            StubKind::Bucket => 1,
            StubKind::Queue => 2,
        };
        KindSpec {
            provider: StubKind::PROVIDER,
            rank,
            replace_fields: &["name"],
            api: Api::Aws { service: "stub" },
            templates: &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AwsKind {
    OidcProvider,
    IamRole,
    EcrRepository,
    SnsTopic,
    SnsSubscription,
    S3Bucket,
    LogGroup,
    CodebuildProject,
    Codepipeline,
    EventsRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KubeKind {
    Namespace,
    ServiceAccount,
    ConfigMap,
    Service,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    AnalysisTemplate,
    Rollout,
    VirtualService,
    Ingress,
    HttpRoute,
    Job,
}

const fn aws(rank: u8, service: &'static str, replace_fields: &'static [&'static str]) -> KindSpec {
    KindSpec { provider: ProviderId::AWS, rank, replace_fields, api: Api::Aws { service }, templates: &[] }
}

const fn kube(
    rank: u8,
    (group, version, plural): (&'static str, &'static str, &'static str),
    namespaced: bool,
    crd: Crd,
    templates: &'static [&'static str],
) -> KindSpec {
    KindSpec {
        provider: ProviderId::KUBE,
        rank,
        // Server-side apply updates every field it may; the API server refuses the rest itself.
        replace_fields: &[],
        api: Api::Kube(KubeApi { group, version, plural, namespaced, crd }),
        templates,
    }
}

impl AwsKind {
    pub const ALL: [AwsKind; 10] = [
        AwsKind::OidcProvider,
        AwsKind::IamRole,
        AwsKind::EcrRepository,
        AwsKind::SnsTopic,
        AwsKind::SnsSubscription,
        AwsKind::S3Bucket,
        AwsKind::LogGroup,
        AwsKind::CodebuildProject,
        AwsKind::Codepipeline,
        AwsKind::EventsRule,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            AwsKind::OidcProvider => "iam_oidc_provider",
            AwsKind::IamRole => "iam_role",
            AwsKind::EcrRepository => "ecr_repository",
            AwsKind::SnsTopic => "sns_topic",
            AwsKind::SnsSubscription => "sns_subscription",
            AwsKind::S3Bucket => "s3_bucket",
            AwsKind::LogGroup => "cloudwatch_log_group",
            AwsKind::CodebuildProject => "codebuild_project",
            AwsKind::Codepipeline => "codepipeline",
            AwsKind::EventsRule => "events_rule",
        }
    }

    /// The declaration of each AWS kind: the one place to add one.
    pub const fn spec(self) -> KindSpec {
        match self {
            AwsKind::OidcProvider => aws(0, "iam", &["url"]),
            AwsKind::IamRole => aws(2, "iam", &["name", "path"]),
            AwsKind::EcrRepository => aws(1, "ecr", &["name", "encryption"]),
            AwsKind::SnsTopic => aws(1, "sns", &["name"]),
            // A subscription is all identity: any change is a replacement.
            AwsKind::SnsSubscription => aws(2, "sns", &["topic", "protocol", "endpoint"]),
            AwsKind::S3Bucket => aws(1, "s3", &["name"]),
            // Exists before the CodeBuild projects that log to it (else CodeBuild creates it on
            // the first build, never expiring and untagged).
            AwsKind::LogGroup => aws(1, "logs", &["name"]),
            // Projects run as their role; the pipeline names its role, bucket and projects; the
            // events rule names the pipeline.
            AwsKind::CodebuildProject => aws(3, "codebuild", &["name"]),
            AwsKind::Codepipeline => aws(4, "codepipeline", &[]),
            AwsKind::EventsRule => aws(5, "events", &["name"]),
        }
    }
}

impl KubeKind {
    pub const ALL: [KubeKind; 12] = [
        KubeKind::Namespace,
        KubeKind::ServiceAccount,
        KubeKind::ConfigMap,
        KubeKind::Service,
        KubeKind::PodDisruptionBudget,
        KubeKind::HorizontalPodAutoscaler,
        KubeKind::AnalysisTemplate,
        KubeKind::Rollout,
        KubeKind::VirtualService,
        KubeKind::Ingress,
        KubeKind::HttpRoute,
        KubeKind::Job,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            KubeKind::Namespace => "Namespace",
            KubeKind::ServiceAccount => "ServiceAccount",
            KubeKind::ConfigMap => "ConfigMap",
            KubeKind::Service => "Service",
            KubeKind::PodDisruptionBudget => "PodDisruptionBudget",
            KubeKind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            KubeKind::AnalysisTemplate => "AnalysisTemplate",
            KubeKind::Rollout => "Rollout",
            KubeKind::VirtualService => "VirtualService",
            KubeKind::Ingress => "Ingress",
            KubeKind::HttpRoute => "HTTPRoute",
            KubeKind::Job => "Job",
        }
    }

    /// The declaration of each Kubernetes kind: the one place to add one.
    pub const fn spec(self) -> KindSpec {
        match self {
            KubeKind::Namespace => kube(10, ("", "v1", "namespaces"), false, Crd::BuiltIn, &["kube/namespace.yaml.j2"]),
            KubeKind::ServiceAccount => {
                kube(11, ("", "v1", "serviceaccounts"), true, Crd::BuiltIn, &["kube/serviceaccount.yaml.j2"])
            }
            KubeKind::ConfigMap => kube(
                11,
                ("", "v1", "configmaps"),
                true,
                Crd::BuiltIn,
                &["kube/notification-configmap.yaml.j2", "kube/notification-template.yaml.j2"],
            ),
            KubeKind::Service => kube(12, ("", "v1", "services"), true, Crd::BuiltIn, &["kube/service.yaml.j2"]),
            KubeKind::PodDisruptionBudget => kube(
                15,
                ("policy", "v1", "poddisruptionbudgets"),
                true,
                Crd::BuiltIn,
                &["kube/poddisruptionbudget.yaml.j2"],
            ),
            KubeKind::HorizontalPodAutoscaler => kube(
                15,
                ("autoscaling", "v2", "horizontalpodautoscalers"),
                true,
                Crd::BuiltIn,
                &["kube/horizontalpodautoscaler.yaml.j2"],
            ),
            KubeKind::AnalysisTemplate => kube(
                13,
                ("argoproj.io", "v1alpha1", "analysistemplates"),
                true,
                Crd::Required,
                &["kube/analysistemplate-slo.yaml.j2", "kube/analysistemplate-smoke.yaml.j2"],
            ),
            KubeKind::Rollout => {
                kube(14, ("argoproj.io", "v1alpha1", "rollouts"), true, Crd::Required, &["kube/rollout.yaml.j2"])
            }
            // Traffic routers: they route to the Services, and the Rollout names them (the
            // controller refuses a Rollout whose router object is missing).
            KubeKind::VirtualService => kube(
                13,
                ("networking.istio.io", "v1", "virtualservices"),
                true,
                Crd::Optional,
                &["kube/virtualservice.yaml.j2"],
            ),
            KubeKind::Ingress => {
                kube(13, ("networking.k8s.io", "v1", "ingresses"), true, Crd::BuiltIn, &["kube/ingress.yaml.j2"])
            }
            KubeKind::HttpRoute => kube(
                13,
                ("gateway.networking.k8s.io", "v1", "httproutes"),
                true,
                Crd::Optional,
                &["kube/httproute.yaml.j2"],
            ),
            // A service's migration: after its ServiceAccount (rank 11), before its Rollout, which
            // apply changes only once the Job completed (the provider waits for it).
            KubeKind::Job => kube(13, ("batch", "v1", "jobs"), true, Crd::BuiltIn, &["kube/migration-job.yaml.j2"]),
        }
    }

    pub fn api(self) -> KubeApi {
        match self.spec().api {
            Api::Kube(api) => api,
            Api::Aws { .. } => unreachable!("Kubernetes kinds are declared with kube()"),
        }
    }

    pub fn parse(name: &str) -> Option<KubeKind> {
        KubeKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl Kind {
    /// Every registered kind, provider by provider.
    pub fn all() -> impl Iterator<Item = Kind> {
        let kinds = AwsKind::ALL.into_iter().map(Kind::Aws).chain(KubeKind::ALL.into_iter().map(Kind::Kube));
        #[cfg(test)]
        let kinds = kinds.chain([StubKind::Bucket, StubKind::Queue].into_iter().map(Kind::Stub));
        kinds
    }

    /// The name in addresses and bodies: `iam_role`, `Rollout`.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Aws(kind) => kind.name(),
            Kind::Kube(kind) => kind.name(),
            #[cfg(test)]
            Kind::Stub(kind) => kind.name(),
        }
    }

    pub const fn spec(self) -> KindSpec {
        match self {
            Kind::Aws(kind) => kind.spec(),
            Kind::Kube(kind) => kind.spec(),
            #[cfg(test)]
            Kind::Stub(kind) => kind.spec(),
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::all().find(|k| k.name() == name)
    }

    pub fn provider(self) -> ProviderId {
        self.spec().provider
    }
}

impl From<AwsKind> for Kind {
    fn from(kind: AwsKind) -> Self {
        Kind::Aws(kind)
    }
}

impl From<KubeKind> for Kind {
    fn from(kind: KubeKind) -> Self {
        Kind::Kube(kind)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_and_reads_back_from_its_name() {
        for kind in Kind::all() {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
            assert_eq!(Kind::all().filter(|k| k.name() == kind.name()).count(), 1, "{kind} named twice");
        }
    }

    #[test]
    fn each_kind_has_the_api_of_its_provider() {
        for kind in Kind::all().filter(|k| k.provider() != StubKind::PROVIDER) {
            let spec = kind.spec();
            match (spec.provider, spec.api) {
                (ProviderId::AWS, Api::Aws { .. }) => assert!(spec.templates.is_empty()),
                (ProviderId::KUBE, Api::Kube(api)) => {
                    assert!(!api.plural.is_empty() && api.plural.ends_with('s'));
                    assert!(!spec.templates.is_empty(), "{kind} renders from a template");
                }
                (provider, api) => panic!("{kind}: provider {provider} with {api:?}"),
            }
        }
    }

    /// The registry names every Kubernetes template, and only templates that exist.
    #[test]
    fn kube_templates_and_kinds_name_each_other() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/kube");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| format!("kube/{}", e.file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut named: Vec<String> =
            Kind::all().flat_map(|k| k.spec().templates.iter().map(|t| t.to_string())).collect();
        named.sort();
        assert_eq!(named, on_disk);
    }
}
