//! The executor: carries out a plan's changes in the plan's order and makes no decisions of its
//! own. Everything it needs travels in the plan (what to send, which fields are contested, what
//! the person applying allowed), so a saved plan applied by a fresh process does exactly what
//! the plan says.
//!
//! Contract: `execute` always returns what it did, including after a failure; every change a
//! provider carried out is recorded in the ledger as soon as the provider reports it, before
//! anything of a later rank starts, so a failed or killed apply keeps what it did (a kill loses
//! at most the changes in flight) and running it again converges.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::plan::{Action, Change, Permissions, Plan};
use crate::providers::{Answers, ErrorKind, ProviderError, Providers};
use crate::render::Address;
use crate::state::audit::ChangeOutcome;
use crate::state::journal::Journal;
use crate::state::store::Store;
use crate::state::{State, StateError};

/// Where one change is in the apply: `index` of `total` (changes that will be attempted),
/// and the time since the apply started.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub index: usize,
    pub total: usize,
    pub elapsed: Duration,
}

/// What became of one change.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A live provider carried it out.
    Applied,
    /// No live provider manages it (offline): only the state records it.
    Recorded,
    /// A delete or replacement the plan's permissions do not allow.
    Skipped,
    Failed(ApplyError),
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Recorded => "recorded",
            Outcome::Skipped => "skipped",
            Outcome::Failed(_) => "failed",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the change was carried out, but recording it failed: {0}")]
    State(String),
}

/// Follows an apply as it happens: the CLI's progress views.
pub trait ApplyHook {
    /// Before `finished`, for a change that was attempted. (Changes of one batch are in flight
    /// together and reported in plan order once the batch is done.)
    fn started(&mut self, _step: Step, _change: &Change) {}
    /// After every change, attempted or skipped.
    fn finished(&mut self, step: Step, change: &Change, outcome: &Outcome);
}

/// A hook that shows nothing.
pub struct Silent;

impl ApplyHook for Silent {
    fn finished(&mut self, _step: Step, _change: &Change, _outcome: &Outcome) {}
}

/// Where carried-out changes are recorded.
pub trait Ledger {
    /// Records one change; `live` says a provider carried it out (so it must be durable, by
    /// `settle`, before the next change is sent), `stored` is the body as the server stored it,
    /// if it said.
    fn record(&mut self, change: &Change, stored: Option<Value>, live: bool) -> Result<(), StateError>;
    /// Makes every change recorded so far durable against a crash of the machine. The executor
    /// calls it before anything more is sent after answers came in; answers that came in
    /// together share it (a group commit).
    fn settle(&mut self) -> Result<(), StateError>;
    /// Records, durable before it returns, that `address` is about to be created in more than
    /// one call (`Provider::creates_in_steps`): a crash between the calls leaves a resource the
    /// next plan adopts as its own. Recording the change settles the intent.
    fn intend(&mut self, address: &Address) -> Result<(), StateError>;
    /// Drops the intent for `address`: its create was refused (the name is taken), nothing was made.
    fn withdraw(&mut self, address: &Address) -> Result<(), StateError>;
    /// Records a resource a live provider found exactly as planned that the state lacks or was
    /// still creating: made by an apply that crashed before recording it. Nothing was sent.
    fn adopt(&mut self, change: &Change);
    /// Makes everything recorded durable.
    fn flush(&mut self) -> Result<(), StateError>;
}

/// The state as the ledger. Every change a provider carried out is a line of the apply's journal
/// as soon as it is answered, durable (synced with the others answered together) before the next
/// one is sent, so a crash loses at most the changes in flight; the state itself is written once,
/// at the end (see `state::journal`).
pub struct StateLedger<'a> {
    pub store: &'a Store,
    pub state: &'a mut State,
    unsaved: bool,
    /// Started at the first live change.
    journal: Option<Journal>,
}

impl<'a> StateLedger<'a> {
    pub fn new(store: &'a Store, state: &'a mut State) -> Self {
        StateLedger { store, state, unsaved: false, journal: None }
    }

    fn save(&mut self) -> Result<(), StateError> {
        self.state.serial += 1;
        self.store.save(self.state)?;
        self.unsaved = false;
        Ok(())
    }
}

impl Ledger for StateLedger<'_> {
    fn intend(&mut self, address: &Address) -> Result<(), StateError> {
        if self.journal.is_none() {
            self.journal = Some(self.store.start_journal(self.state)?);
        }
        self.state.creating.insert(address.clone());
        self.unsaved = true;
        self.journal.as_mut().expect("just started").append_intent(address)
    }

    fn withdraw(&mut self, address: &Address) -> Result<(), StateError> {
        if self.state.creating.remove(address) {
            self.unsaved = true;
            if let Some(journal) = self.journal.as_mut() {
                journal.append(address, self.state)?;
            }
        }
        Ok(())
    }

    fn adopt(&mut self, change: &Change) {
        let address = &change.address;
        // A no-op without a body is recorded as desired already (`plan::Settled`).
        if change.after.is_some() && (self.state.creating.contains(address) || !self.state.resources.contains_key(address)) {
            self.state.record_change(change, None);
            self.unsaved = true;
        }
    }

    fn record(&mut self, change: &Change, stored: Option<Value>, live: bool) -> Result<(), StateError> {
        if live && self.journal.is_none() {
            self.journal = Some(self.store.start_journal(self.state)?);
        }
        self.state.record_change(change, stored);
        self.unsaved = true;
        if let Some(journal) = self.journal.as_mut().filter(|_| live) {
            journal.append(&change.address, self.state)?;
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<(), StateError> {
        self.journal.as_mut().map_or(Ok(()), Journal::sync)
    }

    fn flush(&mut self) -> Result<(), StateError> {
        if self.unsaved {
            self.save()?;
            // The state file now holds the journal's changes (and a killed apply's, replayed
            // when the state was read).
            self.journal = None;
            self.store.end_journal()?;
        }
        Ok(())
    }
}

/// What an apply did: per change (for the audit trail), the counts, and the failure that
/// stopped it, if one did.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub changes: Vec<ChangeOutcome>,
    pub applied: usize,
    pub recorded: usize,
    pub skipped: usize,
    /// Changes that were to be attempted (not skipped).
    pub total: usize,
    pub failure: Option<ApplyError>,
}

/// Carries out `plan`'s pending changes in order: each through the provider that manages its
/// address (recorded only, when none does), skipping deletes and replacements unless the plan
/// allows them, and stopping at the first failure. The changes of one rank that one provider
/// carries out go to it together (`Provider::apply_many`, which may overlap them): ranks stay
/// strictly in order, and progress, outcomes and the failure reported are in plan order whatever
/// order the answers came in. After a failure nothing more is started; changes already in flight
/// finish and are recorded.
pub fn execute(
    plan: &Plan,
    providers: &mut Providers,
    ledger: &mut dyn Ledger,
    hook: &mut dyn ApplyHook,
) -> ApplyOutcome {
    let started = Instant::now();
    let permissions = plan.permissions;
    let allowed = |change: &Change| permissions.allow_delete || !change.action.destroys();
    let mut outcome = ApplyOutcome { total: plan.pending().filter(|c| allowed(c)).count(), ..Default::default() };
    let pending: Vec<&Change> = plan.pending().collect();
    let mut index = 0;
    let mut next = 0;
    while next < pending.len() && outcome.failure.is_none() {
        // One batch: the following changes of the same rank and direction for the same provider.
        let key = |c: &Change| (c.address.kind.spec().rank, c.action == Action::Delete, providers.id_for(&c.address));
        let first = key(pending[next]);
        let end = pending[next..].iter().position(|c| key(c) != first).map_or(pending.len(), |n| next + n);
        let batch = &pending[next..end];
        next = end;
        let results = carry_out_batch(batch, permissions, providers, ledger, started);
        for (change, result) in batch.iter().zip(results) {
            let Some((result, elapsed)) = result else { break };
            // As one at a time: nothing after the first failure is reported as skipped.
            if outcome.failure.is_some() && matches!(result, Outcome::Skipped) {
                continue;
            }
            let attempted = !matches!(result, Outcome::Skipped);
            if attempted {
                index += 1;
            }
            let step = Step { index, total: outcome.total, elapsed };
            if attempted {
                hook.started(step, change);
            }
            match &result {
                Outcome::Applied => outcome.applied += 1,
                Outcome::Recorded => outcome.recorded += 1,
                Outcome::Skipped => outcome.skipped += 1,
                Outcome::Failed(_) => {}
            }
            let error = match &result {
                Outcome::Failed(e) => Some(e.to_string()),
                _ => None,
            };
            outcome.changes.push(ChangeOutcome::of(change, result.word(), error));
            hook.finished(step, change, &result);
            if let Outcome::Failed(e) = result {
                outcome.failure.get_or_insert(e);
            }
        }
    }
    // What a crashed apply made but never recorded is live and as the catalog wants it: the state
    // takes it now, so it is not missing from offline plans and drift (and an intent to create it
    // is settled).
    for change in plan.changes.iter().filter(|c| c.action == Action::NoOp) {
        if providers.id_for(&change.address).is_some() {
            ledger.adopt(change);
        }
    }
    if let Err(e) = ledger.flush() {
        outcome.failure.get_or_insert(ApplyError::State(e.to_string()));
    }
    outcome
}

/// What became of each change of `batch` (in its order) and when: `None` for one never
/// attempted because an earlier one failed. Each change a provider carried out is recorded as
/// its answer comes, before the batch ends, so a crash loses at most the changes in flight.
fn carry_out_batch(
    batch: &[&Change],
    permissions: Permissions,
    providers: &mut Providers,
    ledger: &mut dyn Ledger,
    started: Instant,
) -> Vec<Option<(Outcome, Duration)>> {
    let mut results: Vec<Option<(Outcome, Duration)>> = (0..batch.len()).map(|_| None).collect();
    // Skipped (not allowed) changes are decided here; a contested change without permission is
    // refused where it stands, so only what comes before it in plan order is sent.
    let mut send: Vec<(usize, &Change)> = Vec::new();
    let mut intended: Vec<usize> = Vec::new();
    let mut refused = None;
    for (i, change) in batch.iter().enumerate() {
        if change.action.destroys() && !permissions.allow_delete {
            results[i] = Some((Outcome::Skipped, started.elapsed()));
            continue;
        }
        if let (Some(reason), false) = (&change.contested, permissions.force_conflicts) {
            refused = Some((
                i,
                Outcome::Failed(ApplyError::Provider(ProviderError::new(
                    ErrorKind::Conflict,
                    &change.address.to_string(),
                    "server-side apply",
                    format!("{reason}; pass --force-conflicts to take these fields back"),
                ))),
            ));
            break;
        }
        // A create in several calls is announced before its first call (see `Ledger::intend`);
        // when that cannot be recorded, nothing of it is sent.
        if providers.creates_in_steps(change) {
            if let Err(e) = ledger.intend(&change.address) {
                refused = Some((i, Outcome::Failed(ApplyError::State(e.to_string()))));
                break;
            }
            intended.push(i);
        }
        send.push((i, change));
    }
    let changes: Vec<&Change> = send.iter().map(|(_, c)| *c).collect();
    let mut failed = false;
    match changes.first().and_then(|c| providers.for_address(&c.address)) {
        Some(provider) => {
            let mut answers = BatchAnswers {
                send: &send,
                intended: &intended,
                ledger,
                results: &mut results,
                unsettled: Vec::new(),
                failed: false,
                started,
            };
            provider.apply_many(&changes, permissions, &mut answers);
            // The last answers, when the provider had nothing more to send after them.
            answers.settle();
            failed = answers.failed;
        }
        None => {
            for (i, change) in &send {
                let outcome = match ledger.record(change, None, false) {
                    Ok(()) => Outcome::Recorded,
                    Err(e) => Outcome::Failed(ApplyError::State(e.to_string())),
                };
                let stop = matches!(outcome, Outcome::Failed(_));
                results[*i] = Some((outcome, started.elapsed()));
                if stop {
                    failed = true;
                    break;
                }
            }
        }
    }
    if let (Some((i, outcome)), false) = (refused, failed) {
        results[i] = Some((outcome, started.elapsed()));
    }
    // Changes after the first failure in plan order that were never attempted end the batch;
    // ones that were (in flight together) keep their outcome.
    results
}

/// The executor's side of one batch sent through `Provider::apply_many`: each answer recorded
/// as it comes, and made durable by `settle` before the provider sends more.
struct BatchAnswers<'b, 'c> {
    /// (index in the batch, change) of what was sent, in the order given to the provider.
    send: &'b [(usize, &'c Change)],
    /// Batch indices whose create was announced (`Ledger::intend`).
    intended: &'b [usize],
    ledger: &'b mut dyn Ledger,
    results: &'b mut Vec<Option<(Outcome, Duration)>>,
    /// Batch indices recorded as applied since the last settle.
    unsettled: Vec<usize>,
    failed: bool,
    started: Instant,
}

impl Answers for BatchAnswers<'_, '_> {
    fn answer(&mut self, n: usize, result: Result<Option<Value>, ProviderError>) -> bool {
        let (i, change) = self.send[n];
        let outcome = match result {
            Ok(stored) => match self.ledger.record(change, stored, true) {
                Ok(()) => {
                    self.unsettled.push(i);
                    Outcome::Applied
                }
                Err(e) => Outcome::Failed(ApplyError::State(e.to_string())),
            },
            // Refused because the name is taken: the resource is not ours to adopt. (Any other
            // failure may have come after the first call, so the intent stays.)
            Err(e) if e.kind == ErrorKind::Conflict && self.intended.contains(&i) => {
                match self.ledger.withdraw(&change.address) {
                    Ok(()) => Outcome::Failed(e.into()),
                    Err(state) => Outcome::Failed(ApplyError::State(format!(
                        "{e}; and withdrawing the intent to create it failed: {state}"
                    ))),
                }
            }
            Err(e) => Outcome::Failed(e.into()),
        };
        self.failed |= matches!(outcome, Outcome::Failed(_));
        self.results[i] = Some((outcome, self.started.elapsed()));
        !self.failed
    }

    /// A sync that fails leaves the changes it was to cover carried out but perhaps not recorded
    /// durably: each of them fails with the reason, and nothing more is sent.
    fn settle(&mut self) -> bool {
        if let Err(e) = self.ledger.settle() {
            for i in self.unsettled.drain(..) {
                self.results[i] = Some((Outcome::Failed(ApplyError::State(e.to_string())), self.started.elapsed()));
            }
            self.failed = true;
        }
        self.unsettled.clear();
        !self.failed
    }
}

#[cfg(test)]
mod tests;
