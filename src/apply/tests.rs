//! The executor with a stub third provider: the core (addresses, selections, plans, state and
//! the executor) handles a provider it has never heard of without a change.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::kinds::{Kind, ProviderId, StubKind};
use crate::plan::{self, Action, Permissions, Selection};
use crate::providers::{Answers, CallStats, LiveSet, Provider};
use crate::render::{Address, DesiredSet};

/// A provider whose "cloud" is a map, failing on the names it is told to.
#[derive(Default)]
struct StubCloud {
    stored: BTreeMap<Address, Value>,
    fail_on: Option<String>,
    calls: Vec<String>,
    /// Answer each batch in reverse, as a server answering concurrent requests may.
    reverse: bool,
    /// The addresses of each `apply_many` call.
    batches: Vec<Vec<String>>,
    /// Buckets are created in two calls (as S3 buckets and their tags are).
    buckets_in_steps: bool,
    /// How `fail_on` fails.
    fail_kind: Option<ErrorKind>,
    /// Shared with the ledger: what happened, in order.
    log: Option<Log>,
    /// Send a whole batch, then answer all of it and settle once, as a provider with every
    /// change of the batch in flight does when the answers come in together.
    together: bool,
}

type Log = std::rc::Rc<std::cell::RefCell<Vec<String>>>;

impl Provider for StubCloud {
    fn id(&self) -> ProviderId {
        StubKind::PROVIDER
    }

    fn manages(&self, address: &Address) -> bool {
        address.provider() == StubKind::PROVIDER
    }

    fn read(&mut self, _desired: &mut DesiredSet, _state: &State) -> Result<LiveSet, ProviderError> {
        Ok(LiveSet { bodies: self.stored.clone(), ..Default::default() })
    }

    fn apply(&mut self, change: &Change, _permissions: Permissions) -> Result<Option<Value>, ProviderError> {
        self.calls.push(format!("{} {}", change.action.verb(), change.address));
        if let Some(log) = &self.log {
            log.borrow_mut().push(format!("send {}", change.address.name()));
        }
        if self.fail_on.as_deref() == Some(change.address.name()) {
            let kind = self.fail_kind.unwrap_or(ErrorKind::Denied);
            return Err(ProviderError::new(kind, &change.address.to_string(), "stub:Put", "refused"));
        }
        match change.action {
            Action::Delete => {
                self.stored.remove(&change.address);
            }
            _ => {
                self.stored.insert(change.address.clone(), change.after.clone().unwrap_or(Value::Null));
            }
        }
        // The server adds a field, as real ones do; the state must record what it stored.
        Ok(change.after.clone().map(|mut body| {
            body["stored"] = json!(true);
            body
        }))
    }

    fn apply_many(&mut self, changes: &[&Change], permissions: Permissions, answers: &mut dyn Answers) {
        self.batches.push(changes.iter().map(|c| c.address.to_string()).collect());
        let mut order: Vec<usize> = (0..changes.len()).collect();
        if self.reverse {
            order.reverse();
        }
        if self.together {
            let results: Vec<_> = order.iter().map(|&i| (i, self.apply(changes[i], permissions))).collect();
            for (i, result) in results {
                answers.answer(i, result);
            }
            answers.settle();
            return;
        }
        for i in order {
            let result = self.apply(changes[i], permissions);
            let go_on = answers.answer(i, result) && answers.settle();
            if !go_on && !self.reverse {
                break;
            }
        }
    }

    fn creates_in_steps(&self, change: &Change) -> bool {
        self.buckets_in_steps && change.action == Action::Create && change.address.kind == Kind::Stub(StubKind::Bucket)
    }

    fn import(&mut self, _address: &Address) -> Result<(), ProviderError> {
        Ok(())
    }

    fn stats(&self) -> CallStats {
        CallStats::default()
    }
}

fn bucket(name: &str) -> Address {
    Address::global(Kind::Stub(StubKind::Bucket), name)
}

fn queue(env: &str, name: &str) -> Address {
    Address::scoped(env, "svc", Kind::Stub(StubKind::Queue), name)
}

fn create(address: Address) -> Change {
    Change { after: Some(json!({"name": address.name()})), ..Change::new(&address, Action::Create, None, None) }
}

/// Records in memory, counting how often it was made durable.
#[derive(Default)]
struct MemoryLedger {
    state: BTreeMap<Address, Option<Value>>,
    flushes: usize,
    creating: std::collections::BTreeSet<Address>,
    log: Option<Log>,
    /// Syncs (`settle`) that found something recorded to make durable.
    settles: usize,
    /// Recorded but not yet settled.
    unsettled: usize,
    /// Every settle fails (a full disk).
    settle_fails: bool,
}

impl Ledger for MemoryLedger {
    fn intend(&mut self, address: &Address) -> Result<(), StateError> {
        if let Some(log) = &self.log {
            log.borrow_mut().push(format!("intend {}", address.name()));
        }
        self.creating.insert(address.clone());
        Ok(())
    }

    fn withdraw(&mut self, address: &Address) -> Result<(), StateError> {
        self.creating.remove(address);
        Ok(())
    }

    fn record(&mut self, change: &Change, stored: Option<Value>, live: bool) -> Result<(), StateError> {
        self.creating.remove(&change.address);
        let body = stored.or_else(|| change.after.clone());
        self.state.insert(change.address.clone(), body.filter(|_| change.action != Action::Delete));
        if live {
            self.flushes += 1;
            self.unsettled += 1;
            if let Some(log) = &self.log {
                log.borrow_mut().push(format!("record {}", change.address.name()));
            }
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<(), StateError> {
        if self.unsettled == 0 {
            return Ok(());
        }
        if self.settle_fails {
            return Err(StateError::Write { path: "journal".into(), reason: "no space left on device".into() });
        }
        self.unsettled = 0;
        self.settles += 1;
        if let Some(log) = &self.log {
            log.borrow_mut().push("settle".into());
        }
        Ok(())
    }

    fn adopt(&mut self, change: &Change) {
        self.creating.remove(&change.address);
        self.state.entry(change.address.clone()).or_insert_with(|| change.after.clone());
    }

    fn flush(&mut self) -> Result<(), StateError> {
        Ok(())
    }
}

#[derive(Default)]
struct Recorder(Vec<String>);

impl ApplyHook for Recorder {
    fn finished(&mut self, step: Step, change: &Change, outcome: &Outcome) {
        self.0.push(format!("{}/{} {} {}", step.index, step.total, change.address, outcome.word()));
    }
}

fn plan_of(changes: Vec<Change>, permissions: Permissions) -> Plan {
    Plan {
        changes,
        summary: Default::default(),
        live_fingerprint: String::new(),
        desired_fingerprint: String::new(),
        permissions,
    }
}

#[test]
fn a_third_providers_addresses_read_back_and_select_like_any_other() {
    let address = queue("dev", "jobs");
    assert_eq!(address.to_string(), "dev/svc/stub/stub_queue/jobs");
    assert_eq!(address.to_string().parse::<Address>().unwrap(), address);
    assert_eq!(bucket("b").to_string().parse::<Address>().unwrap(), bucket("b"));
    assert!(Selection::all().includes(&address));
    assert!(Selection::only(StubKind::PROVIDER, vec!["dev".into()]).includes(&address));
    assert!(!Selection::only(StubKind::PROVIDER, vec!["prod".into()]).includes(&address));
    assert!(!Selection::only(ProviderId::AWS, Vec::new()).includes(&address));
    // Environment-wide resources are in every environment's selection.
    assert!(Selection::only(StubKind::PROVIDER, vec!["prod".into()]).includes(&bucket("b")));
}

#[test]
fn the_executor_carries_out_a_third_providers_plan_in_order_and_records_what_was_stored() {
    let mut cloud = StubCloud::default();
    let plan = plan_of(vec![create(bucket("a")), create(queue("dev", "q"))], Permissions::default());
    let mut ledger = MemoryLedger::default();
    let mut hook = Recorder::default();
    let outcome = execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut hook);
    assert!(outcome.failure.is_none());
    assert_eq!((outcome.applied, outcome.recorded, outcome.skipped, outcome.total), (2, 0, 0, 2));
    assert_eq!(cloud.calls, ["create stub/stub_bucket/a", "create dev/svc/stub/stub_queue/q"]);
    assert_eq!(hook.0, ["1/2 stub/stub_bucket/a applied", "2/2 dev/svc/stub/stub_queue/q applied"]);
    assert_eq!(ledger.flushes, 2, "each live change is durable before the next starts");
    assert_eq!(ledger.state[&bucket("a")], Some(json!({"name": "a", "stored": true})));
    let words: Vec<&str> = outcome.changes.iter().map(|c| c.outcome.as_str()).collect();
    assert_eq!(words, ["applied", "applied"]);
}

#[test]
fn deletes_follow_the_registry_rank_in_reverse_and_run_only_when_the_plan_allows_them() {
    // Live has a bucket (rank 1) and a queue (rank 2) the catalog no longer wants.
    let live: BTreeMap<Address, Value> =
        [(bucket("old"), json!({"name": "old"})), (queue("dev", "old"), json!({"name": "old"}))].into();
    let planned = plan::plan(&DesiredSet::default(), &live, &Selection::all());
    let order: Vec<String> = planned.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(order, ["dev/svc/stub/stub_queue/old", "stub/stub_bucket/old"], "dependants first");

    let mut cloud = StubCloud { stored: live.clone(), ..Default::default() };
    let outcome = execute(&planned, &mut Providers::new(vec![&mut cloud]), &mut MemoryLedger::default(), &mut Silent);
    assert_eq!((outcome.applied, outcome.skipped, outcome.total), (0, 2, 0));
    assert!(cloud.calls.is_empty(), "nothing destroyed without permission");

    let allowed = Plan { permissions: Permissions { allow_delete: true, force_conflicts: false }, ..planned };
    let outcome = execute(&allowed, &mut Providers::new(vec![&mut cloud]), &mut MemoryLedger::default(), &mut Silent);
    assert_eq!((outcome.applied, outcome.skipped), (2, 0));
    assert!(cloud.stored.is_empty());
}

#[test]
fn the_first_failure_stops_the_apply_and_what_was_done_stays_recorded() {
    let mut cloud = StubCloud { fail_on: Some("b".into()), ..Default::default() };
    let plan = plan_of(vec![create(bucket("a")), create(bucket("b")), create(bucket("c"))], Permissions::default());
    let mut ledger = MemoryLedger::default();
    let outcome = execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut Silent);
    let failure = outcome.failure.expect("b fails");
    assert!(matches!(&failure, ApplyError::Provider(e) if e.kind == ErrorKind::Denied), "{failure}");
    assert_eq!(outcome.applied, 1);
    assert_eq!(ledger.state.keys().cloned().collect::<Vec<_>>(), [bucket("a")]);
    let words: Vec<&str> = outcome.changes.iter().map(|c| c.outcome.as_str()).collect();
    assert_eq!(words, ["applied", "failed"], "c was never attempted");
}

#[test]
fn contested_changes_need_the_plans_permission_and_unmanaged_ones_are_only_recorded() {
    let mut contested = create(bucket("taken"));
    contested.contested = Some("conflict: field owned by kubectl".into());
    let plan = plan_of(vec![create(queue("dev", "offline")), contested.clone()], Permissions::default());
    // No provider for the stub: the queue is recorded only; the contested change is refused.
    let outcome = execute(&plan, &mut Providers::default(), &mut MemoryLedger::default(), &mut Silent);
    assert_eq!(outcome.recorded, 1);
    let failure = outcome.failure.expect("contested without permission").to_string();
    assert!(failure.contains("pass --force-conflicts"), "{failure}");

    let forced = plan_of(vec![contested], Permissions { allow_delete: false, force_conflicts: true });
    let mut cloud = StubCloud::default();
    let outcome = execute(&forced, &mut Providers::new(vec![&mut cloud]), &mut MemoryLedger::default(), &mut Silent);
    assert!(outcome.failure.is_none());
    assert_eq!(outcome.applied, 1);
}

#[test]
fn a_rank_goes_out_as_one_batch_and_is_reported_in_plan_order_whatever_answers_first() {
    let mut cloud = StubCloud { reverse: true, ..Default::default() };
    let changes = vec![create(bucket("a")), create(bucket("b")), create(queue("dev", "q")), create(queue("dev", "r"))];
    let plan = plan_of(changes, Permissions::default());
    let mut ledger = MemoryLedger::default();
    let mut hook = Recorder::default();
    let outcome = execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut hook);
    assert!(outcome.failure.is_none());
    assert_eq!(
        cloud.batches,
        [
            vec!["stub/stub_bucket/a", "stub/stub_bucket/b"],
            vec!["dev/svc/stub/stub_queue/q", "dev/svc/stub/stub_queue/r"]
        ],
        "one batch per rank, ranks in order"
    );
    assert_eq!(cloud.calls[..2], ["create stub/stub_bucket/b", "create stub/stub_bucket/a"], "answered in reverse");
    assert_eq!(
        hook.0,
        [
            "1/4 stub/stub_bucket/a applied",
            "2/4 stub/stub_bucket/b applied",
            "3/4 dev/svc/stub/stub_queue/q applied",
            "4/4 dev/svc/stub/stub_queue/r applied"
        ]
    );
    assert_eq!(ledger.flushes, 4, "each change recorded as it was answered");
}

#[test]
fn after_a_failure_in_a_batch_what_was_in_flight_is_recorded_and_no_later_rank_starts() {
    // b fails; a and c were in flight with it and succeeded; the queue (next rank) never starts.
    let mut cloud = StubCloud { reverse: true, fail_on: Some("b".into()), ..Default::default() };
    let changes = vec![create(bucket("a")), create(bucket("b")), create(bucket("c")), create(queue("dev", "q"))];
    let plan = plan_of(changes, Permissions::default());
    let mut ledger = MemoryLedger::default();
    let outcome = execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut Silent);
    let failure = outcome.failure.expect("b fails").to_string();
    assert!(failure.contains("stub_bucket/b"), "{failure}");
    let words: Vec<String> = outcome.changes.iter().map(|c| format!("{} {}", c.address, c.outcome)).collect();
    assert_eq!(words, ["stub/stub_bucket/a applied", "stub/stub_bucket/b failed", "stub/stub_bucket/c applied"]);
    assert_eq!(ledger.state.keys().cloned().collect::<Vec<_>>(), [bucket("a"), bucket("c")]);
    assert_eq!(cloud.batches.len(), 1);
}

/// Issue 17 (item 7): a create in several calls is announced, durably, before its first call;
/// recording it settles the announcement; one refused because the name is taken withdraws it,
/// and any other failure (it may have come after the first call) keeps it for the next plan.
#[test]
fn a_create_in_several_calls_is_announced_before_it_is_sent() {
    let log: Log = Default::default();
    let mut cloud = StubCloud { buckets_in_steps: true, log: Some(log.clone()), ..Default::default() };
    let plan = plan_of(vec![create(bucket("a")), create(queue("dev", "q"))], Permissions::default());
    let mut ledger = MemoryLedger { log: Some(log.clone()), ..Default::default() };
    let outcome = execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut Silent);
    assert!(outcome.failure.is_none());
    assert_eq!(
        *log.borrow(),
        ["intend a", "send a", "record a", "settle", "send q", "record q", "settle"],
        "only the bucket is announced, before it is sent"
    );
    assert!(ledger.creating.is_empty(), "recorded: settled");

    for (kind, kept) in [(ErrorKind::Conflict, false), (ErrorKind::Unreachable, true), (ErrorKind::Failed, true)] {
        let mut cloud = StubCloud {
            buckets_in_steps: true,
            fail_on: Some("b".into()),
            fail_kind: Some(kind),
            ..Default::default()
        };
        let plan = plan_of(vec![create(bucket("b"))], Permissions::default());
        let mut ledger = MemoryLedger::default();
        let outcome = execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut Silent);
        assert!(outcome.failure.is_some());
        assert_eq!(ledger.creating.contains(&bucket("b")), kept, "{kind:?}");
    }

    // The next plan finds it made and as wanted (nothing to do): the apply records it, unsent.
    let made = Change { after: Some(json!({"name": "b"})), ..Change::new(&bucket("b"), Action::NoOp, None, None) };
    let mut cloud = StubCloud { buckets_in_steps: true, ..Default::default() };
    let mut ledger = MemoryLedger { creating: [bucket("b")].into(), ..Default::default() };
    let plan = plan_of(vec![made, create(queue("dev", "q"))], Permissions::default());
    execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut Silent);
    assert_eq!(cloud.calls, ["create dev/svc/stub/stub_queue/q"]);
    assert!(ledger.creating.is_empty());
    assert_eq!(ledger.state[&bucket("b")], Some(json!({"name": "b"})));
}

/// Answers that come in together are made durable by one sync, and no change is sent before every
/// change answered earlier is durable (so a crash still loses at most the changes in flight).
#[test]
fn answers_that_come_in_together_share_one_sync_before_anything_more_is_sent() {
    let log: Log = Default::default();
    let mut cloud = StubCloud { together: true, log: Some(log.clone()), ..Default::default() };
    let changes = vec![create(bucket("a")), create(bucket("b")), create(queue("dev", "q"))];
    let plan = plan_of(changes, Permissions::default());
    let mut ledger = MemoryLedger { log: Some(log.clone()), ..Default::default() };
    let outcome = execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut Silent);
    assert!(outcome.failure.is_none());
    assert_eq!(
        *log.borrow(),
        ["send a", "send b", "record a", "record b", "settle", "send q", "record q", "settle"],
        "one sync per group of answers, before the next rank is sent"
    );
    assert_eq!((ledger.flushes, ledger.settles), (3, 2));

    // One at a time (the default), each answer is settled before the next change is sent.
    let log: Log = Default::default();
    let mut cloud = StubCloud { log: Some(log.clone()), ..Default::default() };
    let plan = plan_of(vec![create(bucket("a")), create(bucket("b"))], Permissions::default());
    let mut ledger = MemoryLedger { log: Some(log.clone()), ..Default::default() };
    execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut Silent);
    assert_eq!(*log.borrow(), ["send a", "record a", "settle", "send b", "record b", "settle"]);
}

/// A sync that fails leaves the changes it covered carried out but not durably recorded: they are
/// reported failed, with the reason, and nothing more is sent.
#[test]
fn a_failed_sync_fails_the_changes_it_covered_and_stops_the_apply() {
    let mut cloud = StubCloud { together: true, ..Default::default() };
    let changes = vec![create(bucket("a")), create(bucket("b")), create(queue("dev", "q"))];
    let plan = plan_of(changes, Permissions::default());
    let mut ledger = MemoryLedger { settle_fails: true, ..Default::default() };
    let outcome = execute(&plan, &mut Providers::new(vec![&mut cloud]), &mut ledger, &mut Silent);
    let failure = outcome.failure.expect("the sync failed").to_string();
    assert!(failure.contains("no space left on device"), "{failure}");
    let words: Vec<String> = outcome.changes.iter().map(|c| format!("{} {}", c.address, c.outcome)).collect();
    assert_eq!(
        words,
        ["stub/stub_bucket/a failed", "stub/stub_bucket/b failed"],
        "the queue (next rank) was never sent"
    );
    assert_eq!(cloud.batches.len(), 1);
}
