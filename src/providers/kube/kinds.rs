//! The Kubernetes kinds glidepath renders, with what the API needs to address them.

use kube::discovery::ApiResource;

pub struct Kind {
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

/// Every kind the renderer produces. A rendered kind missing here is a bug (tests check it).
pub const KINDS: &[Kind] = &[
    Kind { kind: "Namespace", group: "", version: "v1", plural: "namespaces", namespaced: false },
    Kind { kind: "ServiceAccount", group: "", version: "v1", plural: "serviceaccounts", namespaced: true },
    Kind { kind: "ConfigMap", group: "", version: "v1", plural: "configmaps", namespaced: true },
    Kind { kind: "Service", group: "", version: "v1", plural: "services", namespaced: true },
    Kind {
        kind: "PodDisruptionBudget",
        group: "policy",
        version: "v1",
        plural: "poddisruptionbudgets",
        namespaced: true,
    },
    Kind {
        kind: "HorizontalPodAutoscaler",
        group: "autoscaling",
        version: "v2",
        plural: "horizontalpodautoscalers",
        namespaced: true,
    },
    Kind {
        kind: "AnalysisTemplate",
        group: "argoproj.io",
        version: "v1alpha1",
        plural: "analysistemplates",
        namespaced: true,
    },
    Kind { kind: "Rollout", group: "argoproj.io", version: "v1alpha1", plural: "rollouts", namespaced: true },
];

pub fn find(kind: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.kind == kind)
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.to_string(),
            version: self.version.to_string(),
            api_version: self.api_version(),
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}
