//! The minijinja environment over `templates/`, compiled into the binary so output never depends
//! on the working directory. Templates produce YAML that is parsed straight back into JSON
//! values, so a template mistake is a render error, never a malformed file on disk.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::Value;

use super::RenderError;

const TEMPLATES: &[(&str, &str)] = &[
    ("kube/namespace.yaml.j2", include_str!("../../templates/kube/namespace.yaml.j2")),
    ("kube/serviceaccount.yaml.j2", include_str!("../../templates/kube/serviceaccount.yaml.j2")),
    ("kube/service.yaml.j2", include_str!("../../templates/kube/service.yaml.j2")),
    ("kube/poddisruptionbudget.yaml.j2", include_str!("../../templates/kube/poddisruptionbudget.yaml.j2")),
    ("kube/horizontalpodautoscaler.yaml.j2", include_str!("../../templates/kube/horizontalpodautoscaler.yaml.j2")),
    ("kube/analysistemplate-slo.yaml.j2", include_str!("../../templates/kube/analysistemplate-slo.yaml.j2")),
    ("kube/analysistemplate-smoke.yaml.j2", include_str!("../../templates/kube/analysistemplate-smoke.yaml.j2")),
    ("kube/rollout.yaml.j2", include_str!("../../templates/kube/rollout.yaml.j2")),
    ("kube/virtualservice.yaml.j2", include_str!("../../templates/kube/virtualservice.yaml.j2")),
    ("kube/ingress.yaml.j2", include_str!("../../templates/kube/ingress.yaml.j2")),
    ("kube/httproute.yaml.j2", include_str!("../../templates/kube/httproute.yaml.j2")),
    ("kube/notification-configmap.yaml.j2", include_str!("../../templates/kube/notification-configmap.yaml.j2")),
    ("kube/notification-template.yaml.j2", include_str!("../../templates/kube/notification-template.yaml.j2")),
];

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        // A misspelt variable must fail loudly, not render as an empty string.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Values are placed with `tojson` explicitly; implicit escaping would quote them twice.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).expect("built-in templates parse (checked by tests)");
        }
        Templates { env }
    }

    pub fn render_text(&self, name: &str, context: impl Serialize) -> Result<String, RenderError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| RenderError::Template { template: name.into(), reason: format!("{e:#}") })?;
        template.render(context).map_err(|e| RenderError::Template { template: name.into(), reason: format!("{e:#}") })
    }

    pub fn render_yaml(&self, name: &str, context: impl Serialize) -> Result<Value, RenderError> {
        let text = self.render_text(name, context)?;
        serde_yaml::from_str(&text).map_err(|e| RenderError::Yaml {
            template: name.into(),
            reason: e.to_string(),
            text,
        })
    }
}

/// An environment for templates that produce text files kept as written (workflows,
/// buildspecs): block tags leave no blank lines behind, and undefined variables are errors.
pub fn text_environment(templates: &[(&'static str, &'static str)]) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    for (name, source) in templates {
        env.add_template(name, source).expect("built-in templates parse (checked by tests)");
    }
    env
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}
