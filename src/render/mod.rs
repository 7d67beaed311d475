//! Model → desired resources. Pure and deterministic: the same catalog always renders the same
//! `DesiredSet`, byte for byte once written out.

pub mod address;
pub mod aws;
pub mod gitops;
pub mod kube;
pub mod output;
pub mod pipeline;
pub mod resource;
mod templates;
pub mod tools;
pub mod traffic;
pub mod workflow;
pub mod yaml_subset;

use std::collections::BTreeMap;

use crate::catalog::{Environment, Model};
use crate::kinds::KubeKind;

pub use address::Address;
pub use resource::{AwsResource, KubeObject, Resource};
pub use templates::Templates;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {template} failed: {reason}")]
    Template { template: String, reason: String },
    #[error("template {template} produced invalid YAML: {reason}\n{text}")]
    Yaml { template: String, reason: String, text: String },
    #[error("a template rendered kind `{kind}`, which the kind registry (src/kinds) does not list")]
    UnregisteredKind { kind: String },
    #[error("two resources render to the address {0}")]
    DuplicateAddress(String),
}

/// Every resource the catalog asks for, keyed by address.
#[derive(Debug, Clone, Default)]
pub struct DesiredSet {
    pub resources: BTreeMap<Address, Resource>,
}

impl DesiredSet {
    fn insert(&mut self, address: Address, resource: Resource) -> Result<(), RenderError> {
        if self.resources.insert(address.clone(), resource).is_some() {
            return Err(RenderError::DuplicateAddress(address.to_string()));
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
}

/// The environment a resource serves, from its address (cluster objects) or, for AWS resources
/// made for one environment, from their environment tag; `None` for what serves them all. Works
/// on rendered and live bodies alike, so `--env` narrows creates, updates and deletes the same way.
pub fn environment_of<'a>(address: &'a Address, body: &'a serde_json::Value) -> Option<&'a str> {
    address.env().or_else(|| body["tags"][aws::ENVIRONMENT_TAG].as_str())
}

pub fn render(model: &Model) -> Result<DesiredSet, RenderError> {
    let templates = Templates::new();
    let mut desired = DesiredSet::default();
    // The AWS resources and each environment's objects render independently, each on a thread
    // of its own (rendering is most of what validate, check and plan spend); they are taken in
    // the order they were always rendered in, so the set and the first error reported are those
    // of rendering them one after another.
    let (aws, environments) = std::thread::scope(|scope| {
        let aws = scope.spawn(|| render_aws(model));
        let environments: Vec<_> = model
            .environments
            .iter()
            .map(|env| scope.spawn(|| kube::render_environment(model, env, &templates)))
            .collect();
        let environments: Vec<_> = environments.into_iter().map(crate::parallel::joined).collect();
        (crate::parallel::joined(aws), environments)
    });
    desired.insert_aws(aws?)?;
    for (env, objects) in model.environments.iter().zip(environments) {
        desired.insert_environment(env, objects?)?;
    }
    Ok(desired)
}

/// What [`render_by_environment`] shows its caller, in turn.
pub enum Stage<'a> {
    /// The AWS resources, alone.
    Global(&'a DesiredSet),
    /// The AWS resources and this environment's objects.
    Environment(&'a Environment, &'a DesiredSet),
}

/// Renders the catalog one environment at a time, for a caller that reads each environment once
/// (`check`): `visit` sees the AWS resources, then them with each environment's objects in model
/// order, each environment's objects dropped before the next renders. Returns the AWS resources.
/// The first error is that of [`render`].
pub fn render_by_environment(model: &Model, mut visit: impl FnMut(Stage<'_>)) -> Result<DesiredSet, RenderError> {
    let templates = Templates::new();
    let mut environments = model.environments.iter();
    let first = environments.next();
    // The AWS resources render beside the first environment (each environment's services are
    // spread over the cores by `kube::render_environment`).
    let (aws, first_objects) = std::thread::scope(|scope| {
        let aws = scope.spawn(|| render_aws(model));
        let objects = first.map(|env| kube::render_environment(model, env, &templates));
        (crate::parallel::joined(aws), objects)
    });
    let mut desired = DesiredSet::default();
    desired.insert_aws(aws?)?;
    visit(Stage::Global(&desired));
    let mut objects = first_objects;
    for env in first.into_iter().chain(environments) {
        let rendered = match objects.take() {
            Some(rendered) => rendered,
            None => kube::render_environment(model, env, &templates),
        };
        desired.insert_environment(env, rendered?)?;
        visit(Stage::Environment(env, &desired));
        desired.resources.retain(|address, _| address.scope.is_none());
    }
    Ok(desired)
}

/// The AWS resources: the account's and services' (`aws`), then the pipelines'.
fn render_aws(model: &Model) -> Result<Vec<AwsResource>, RenderError> {
    let pipelines = pipeline::render(model)?;
    Ok(aws::render(model).into_iter().chain(pipelines).collect())
}

impl DesiredSet {
    fn insert_aws(&mut self, resources: Vec<AwsResource>) -> Result<(), RenderError> {
        for resource in resources {
            self.insert(resource.address(), Resource::Aws(resource))?;
        }
        Ok(())
    }

    /// One environment's objects ((owner, object) as `kube::render_environment` gives them).
    fn insert_environment(&mut self, env: &Environment, objects: Vec<(String, KubeObject)>) -> Result<(), RenderError> {
        for (owner, object) in objects {
            let kind = KubeKind::parse(&object.kind)
                .ok_or_else(|| RenderError::UnregisteredKind { kind: object.kind.clone() })?;
            let address = Address::scoped(&env.name, &owner, kind, object.name.clone());
            self.insert(address, Resource::Kube(object))?;
        }
        Ok(())
    }
}

