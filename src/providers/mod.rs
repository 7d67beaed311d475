//! Live systems behind one small trait: read what exists, carry out one change. Only this
//! module does network I/O; plans and views never see a client.

pub mod aws;
pub mod kube;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::plan::Change;
use crate::render::{Address, DesiredSet};
use crate::state::State;

/// What a provider found: the live bodies it owns or that the catalog names, and the names the
/// catalog wants that something else already uses.
#[derive(Debug, Default)]
pub struct LiveSet {
    pub bodies: BTreeMap<Address, Value>,
    pub conflicts: Vec<Conflict>,
    /// Remarks for the plan about particular resources.
    pub notes: BTreeMap<Address, String>,
}

/// A desired name taken by a resource glidepath does not own.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub address: Address,
    pub reason: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (to manage it with glidepath, run `glidepath import {}`; otherwise rename it in the catalog)",
            self.address, self.reason, self.address
        )
    }
}

/// A failed call, diagnosed in one line: which resource, which action, why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{target}: {action} failed: {reason}")]
pub struct ProviderError {
    /// The address, or what was being read.
    pub target: String,
    /// The API action, e.g. `iam:CreateRole`.
    pub action: String,
    pub reason: String,
}

/// API calls made, by `service:Operation`.
#[derive(Debug, Clone, Default)]
pub struct CallStats {
    pub calls: BTreeMap<String, u64>,
}

impl CallStats {
    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }
}

impl fmt::Display for CallStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail: Vec<String> = self.calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
        write!(f, "{} ({})", self.total(), detail.join(", "))
    }
}

pub trait Provider {
    /// Whether this provider manages the resource at `address`.
    fn manages(&self, address: &Address) -> bool;
    /// Fills in values only the live system knows (e.g. EKS OIDC issuers) in desired bodies.
    fn resolve(&mut self, desired: &mut DesiredSet) -> Result<(), ProviderError>;
    /// Reads the live state of everything the catalog names and everything glidepath owns for
    /// it (the state file says what it owned last time).
    fn read(&mut self, desired: &DesiredSet, state: &State) -> Result<LiveSet, ProviderError>;
    /// Carries out one change of a plan. Returns the resource as the server now stores it, when
    /// that differs from what was planned (the state records it, so drift compares like with like).
    fn apply(&mut self, change: &Change) -> Result<Option<Value>, ProviderError>;
    /// Adopts an existing resource: marks it as owned by this catalog without changing it otherwise.
    fn import(&mut self, address: &Address) -> Result<(), ProviderError>;
    fn stats(&self) -> CallStats;
}
