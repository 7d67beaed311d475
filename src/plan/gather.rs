//! The desired side of a plan against recorded state, gathered as the catalog renders one
//! environment at a time (`render::render_by_environment`). At fleet scale nearly every resource
//! is recorded exactly as the catalog wants it: those are kept as their digest alone, so an
//! offline plan of 3,000 services never holds the fleet's rendered objects together.

use std::collections::BTreeMap;

use super::Selection;
use crate::render::{Address, DesiredSet, Resource, Stage};

/// A desired resource recorded exactly as rendered (the same digest) and finished: the plan
/// needs nothing of it but that it is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The rendered body's digest, which stands for it in the plan's fingerprints.
    pub digest: String,
    /// Whether the plan's selection takes it (decided from its body while it was at hand).
    pub selected: bool,
}

/// Every desired resource, either held (its body is needed: it is new, changed, or was still
/// being created) or settled.
#[derive(Debug, Default)]
pub struct Gathered {
    pub held: DesiredSet,
    pub settled: BTreeMap<Address, Settled>,
}

impl Gathered {
    /// A whole rendered set, every resource held (a live plan's: providers replace its bodies).
    pub fn whole(desired: DesiredSet) -> Self {
        Gathered { held: desired, settled: BTreeMap::new() }
    }

    /// Takes `resources`, each settled where `recorded(address, digest)` says the state holds it
    /// finished with that digest, copied otherwise.
    pub fn take<'a>(
        &mut self,
        resources: impl IntoIterator<Item = (&'a Address, &'a Resource)>,
        selection: &Selection,
        recorded: impl Fn(&Address, &str) -> bool + Sync,
    ) {
        let resources: Vec<(&Address, &Resource)> = resources.into_iter().collect();
        // Digesting every body is most of the work: over the cores, taken back in order.
        let looked = crate::parallel::runs(&resources, |run| {
            run.iter()
                .map(|(address, resource)| {
                    let body = resource.body_ref();
                    let digest = crate::digest::digest(&body);
                    recorded(address, &digest)
                        .then(|| Settled { selected: selection.includes_body(address, &body), digest })
                })
                .collect::<Vec<_>>()
        });
        for ((address, resource), settled) in resources.into_iter().zip(looked.into_iter().flatten()) {
            match settled {
                Some(settled) => {
                    self.settled.insert(address.clone(), settled);
                }
                None => {
                    self.held.resources.insert(address.clone(), resource.clone());
                }
            }
        }
    }

    /// Takes what a stage of `render::render_by_environment` adds: the AWS resources with the
    /// first, each environment's objects with its own (the AWS resources are in every stage).
    pub fn take_stage(
        &mut self,
        stage: &Stage<'_>,
        selection: &Selection,
        recorded: impl Fn(&Address, &str) -> bool + Sync,
    ) {
        match stage {
            Stage::Global(set) => self.take(&set.resources, selection, recorded),
            Stage::Environment(_, set) => {
                self.take(set.resources.iter().filter(|(a, _)| a.scope.is_some()), selection, recorded)
            }
        }
    }

    /// Every desired address, held or settled.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> + Clone {
        self.held.resources.keys().chain(self.settled.keys())
    }
}
