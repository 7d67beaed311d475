//! Live systems behind one small trait: read what exists, carry out one change. Only this
//! module does network I/O; plans and views never see a client.

pub mod aws;
pub mod fault;
pub mod kube;
pub mod timeout;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::kinds::ProviderId;
use crate::plan::{Change, Permissions};
use crate::render::{Address, DesiredSet};
use crate::state::State;

/// What a provider found: the live bodies it owns or that the catalog names, and the names the
/// catalog wants that something else already uses.
#[derive(Debug, Default)]
pub struct LiveSet {
    pub bodies: BTreeMap<Address, Value>,
    /// Resources whose live body is the one the provider put in the desired set (moved there,
    /// not copied): the plan takes that for their live side (a cluster's unchanged objects).
    pub as_desired: BTreeSet<Address>,
    pub conflicts: Vec<Conflict>,
    /// Remarks for the plan about particular resources.
    pub notes: BTreeMap<Address, String>,
    /// Resources with fields another manager owns, and the server's account of them: the plan
    /// carries it, and applying them needs `--force-conflicts`.
    pub contested: BTreeMap<Address, String>,
    /// Resources as the catalog wants them that apply must still wait for (a migration Job an
    /// interrupted apply sent and never saw finish), and why: planned as updates, so apply waits
    /// for them before what depends on them changes.
    pub unfinished: BTreeMap<Address, String>,
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

/// What went wrong, as callers need to tell it apart (never by the message's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The resource (or the API) does not exist.
    NotFound,
    /// The request clashes with what exists: a name taken, fields another manager owns, a
    /// resource that still holds data.
    Conflict,
    /// The credentials may not do this.
    Denied,
    /// Still throttled after retrying with backoff.
    Throttled,
    /// The endpoint could not be reached, or did not answer in time.
    Unreachable,
    /// The server refused the request as invalid.
    Rejected,
    /// The server (an emulator) does not implement the call.
    Unimplemented,
    /// Anything else: configuration, credentials, unexpected answers.
    Failed,
}

/// A failed call, diagnosed in one line: which resource, which action, why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{target}: {action} failed: {reason}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    /// The address, or what was being read.
    pub target: String,
    /// The API action, e.g. `iam:CreateRole`.
    pub action: String,
    pub reason: String,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, target: &str, action: &str, reason: impl Into<String>) -> Self {
        ProviderError { kind, target: target.to_string(), action: action.to_string(), reason: reason.into() }
    }
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

/// Where `Provider::apply_many` reports what became of each change.
pub trait Answers {
    /// What became of `changes[index]`, as soon as it is known; answers whether to go on.
    fn answer(&mut self, index: usize, result: Result<Option<Value>, ProviderError>) -> bool;
    /// Makes every answer so far durable (the executor's record of it): a provider calls it
    /// after one or more answers and before it sends any further change, so that answers that
    /// came in together share one sync. Answers whether to go on.
    fn settle(&mut self) -> bool;
}

/// One live system. Planning calls `read`; apply calls `apply` once per change, with nothing but
/// the change and the plan's permissions: a provider keeps no state between the two, so a saved
/// plan is carried out by a fresh process exactly as planned.
pub trait Provider {
    fn id(&self) -> ProviderId;
    /// Whether this provider manages the resource at `address` (its kind, in a connected environment).
    fn manages(&self, address: &Address) -> bool;
    /// Reads the live state of everything the catalog names and everything glidepath owns for
    /// it (the state file says what it owned last time), and fills in the desired side what
    /// only the live system knows (EKS OIDC issuers, the server's dry-run of a manifest).
    fn read(&mut self, desired: &mut DesiredSet, state: &State) -> Result<LiveSet, ProviderError>;
    /// Carries out one change of a plan. Returns the resource as the server now stores it, when
    /// that differs from what was planned (the state records it, so drift compares like with like).
    fn apply(&mut self, change: &Change, permissions: Permissions) -> Result<Option<Value>, ProviderError>;
    /// Carries out changes of one rank (none depends on another), reporting each result to
    /// `answers` with its index in `changes` as it comes, and calling `Answers::settle` after
    /// answers and before sending anything more. A provider may overlap them; once `answers`
    /// says stop or a change failed it starts no more (those are not reported: never
    /// attempted). The default: one after another, each answer settled before the next is sent.
    fn apply_many(&mut self, changes: &[&Change], permissions: Permissions, answers: &mut dyn Answers) {
        for (i, change) in changes.iter().enumerate() {
            let result = self.apply(change, permissions);
            let failed = result.is_err();
            let go_on = answers.answer(i, result);
            if !answers.settle() || !go_on || failed {
                break;
            }
        }
    }
    /// Whether carrying out `change` creates a resource in more than one call, so that a crash
    /// between them would leave it half made (without the tags that say whose it is). The
    /// executor then records the intent before the first call, and the next plan adopts what it
    /// finds there. Default: every create is one call that also marks the resource as owned.
    fn creates_in_steps(&self, _change: &Change) -> bool {
        false
    }
    /// Adopts an existing resource: marks it as owned by this catalog without changing it otherwise.
    fn import(&mut self, address: &Address) -> Result<(), ProviderError>;
    fn stats(&self) -> CallStats;
}

/// The live providers of one command, looked up by address.
#[derive(Default)]
pub struct Providers<'a> {
    live: Vec<&'a mut dyn Provider>,
}

impl<'a> Providers<'a> {
    pub fn new(live: Vec<&'a mut dyn Provider>) -> Self {
        Providers { live }
    }

    /// Which provider manages `address` (None: offline).
    pub fn id_for(&self, address: &Address) -> Option<ProviderId> {
        self.live.iter().find(|p| p.manages(address)).map(|p| p.id())
    }

    /// Whether the provider of `change` creates it in more than one call (`Provider::creates_in_steps`).
    pub fn creates_in_steps(&self, change: &Change) -> bool {
        self.live.iter().find(|p| p.manages(&change.address)).is_some_and(|p| p.creates_in_steps(change))
    }

    /// The provider that manages `address`; None when its system is not connected (offline).
    pub fn for_address(&mut self, address: &Address) -> Option<&mut dyn Provider> {
        self.live.iter_mut().find(|p| p.manages(address)).map(|p| &mut **p as &mut dyn Provider)
    }
}
