//! An offline plan gathers the catalog one environment at a time, holding only what the state
//! does not record as rendered (`plan::gather`). It must be the plan made from the whole
//! rendered set: the same changes, the same pending bodies, the same fingerprints (a saved plan
//! made one way is applied by a plan made the other), for every kind of selection.

use std::collections::BTreeMap;
use std::path::Path;

use glidepath::kinds::{KubeKind, ProviderId};
use glidepath::plan::{self, Action, Change, Gathered, Plan, Selection};
use glidepath::render::{self, Address, DesiredSet};
use glidepath::state::State;
use serde_json::json;

fn shop() -> glidepath::catalog::Model {
    glidepath::catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop")).unwrap()
}

fn record(state: &mut State, address: &Address, body: serde_json::Value) {
    state.record_change(&Change::new(address, Action::Create, None, Some(body)), None);
}

/// The shop as applied before a few edits: every resource recorded but one AWS resource (a
/// create), one Rollout recorded with another image (an update), one object nobody renders any
/// more (a delete), and one ConfigMap recorded as rendered but still being created (a no-op
/// apply must adopt, so it keeps its body).
fn recorded_state(desired: &DesiredSet) -> (State, Vec<Address>) {
    let mut state = State::new("shop");
    let mut aws = desired.resources.keys().filter(|a| a.provider() == ProviderId::AWS);
    let missing = aws.nth(3).unwrap().clone();
    let rollout = desired.resources.keys().find(|a| a.kind == KubeKind::Rollout.into()).unwrap().clone();
    let creating = desired
        .resources
        .keys()
        .find(|a| a.kind == KubeKind::ConfigMap.into() && a.env() == Some("prod"))
        .unwrap()
        .clone();
    for (address, resource) in &desired.resources {
        let mut body = resource.body();
        if *address == missing {
            continue;
        }
        if *address == rollout {
            body["spec"]["template"]["spec"]["containers"][0]["image"] = json!("registry.example/old@sha256:0");
        }
        record(&mut state, address, body);
    }
    state.creating.insert(creating.clone());
    let gone = Address::scoped("staging", "retired", KubeKind::ConfigMap, "retired-config");
    record(&mut state, &gone, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "retired-config"}}));
    (state, vec![missing, rollout, creating, gone])
}

/// The plan of the whole rendered set, as `apply` makes it.
fn whole(model: &glidepath::catalog::Model, state: &State, selection: &Selection) -> Plan {
    let desired = Gathered::whole(render::render(model).unwrap());
    let live = state.bodies_against(&desired, |_| false);
    plan::plan_gathered(desired, &live, selection, &BTreeMap::new())
}

/// The plan gathered one environment at a time, as an offline `plan` makes it.
fn gathered(model: &glidepath::catalog::Model, state: &State, selection: &Selection) -> (Plan, usize) {
    let mut gathered = Gathered::default();
    let recorded = |address: &Address, digest: &str| state.records(address, digest);
    glidepath::check::check_catalog_and(model, |stage| gathered.take_stage(stage, selection, recorded)).unwrap();
    let held = gathered.held.len();
    let live = state.bodies_against(&gathered, |_| false);
    (plan::plan_gathered(gathered, &live, selection, &BTreeMap::new()), held)
}

fn selection(envs: &[&str], providers: &[ProviderId], targets: &[String]) -> Selection {
    Selection {
        envs: envs.iter().map(|e| e.to_string()).collect(),
        providers: providers.to_vec(),
        targets: targets.to_vec(),
    }
}

#[test]
fn a_plan_gathered_one_environment_at_a_time_is_the_whole_sets_plan() {
    let model = shop();
    let desired = render::render(&model).unwrap();
    let (state, edited) = recorded_state(&desired);
    let [missing, rollout, creating, gone] = &edited[..] else { unreachable!() };
    let service_target = format!("{}/{}", rollout.env().unwrap(), rollout.scope.as_ref().unwrap().owner);
    let selections = [
        Selection::all(),
        selection(&["dev"], &[], &[]),
        selection(&["prod", "staging"], &[], &[]),
        selection(&[], &[ProviderId::AWS], &[]),
        selection(&[], &[ProviderId::KUBE], &[]),
        selection(&[], &[], &[service_target]),
        selection(&[], &[], &[missing.to_string(), gone.to_string()]),
    ];
    for selection in &selections {
        let whole = whole(&model, &state, selection);
        let (lean, held) = gathered(&model, &state, selection);
        let context = format!("selection {selection:?}");
        assert_eq!(lean.live_fingerprint, whole.live_fingerprint, "{context}");
        assert_eq!(lean.desired_fingerprint, whole.desired_fingerprint, "{context}");
        assert_eq!(serde_json::to_value(&lean.summary).unwrap(), serde_json::to_value(&whole.summary).unwrap());
        // Only the three edited resources are held, of the hundreds rendered.
        assert_eq!(held, 3, "{context}");
        assert_eq!(lean.changes.len(), whole.changes.len(), "{context}");
        for (lean, whole) in lean.changes.iter().zip(&whole.changes) {
            assert_eq!((&lean.address, lean.action), (&whole.address, whole.action), "{context}");
            if lean.action == Action::NoOp && lean.address != *creating {
                // Settled: recorded as desired, so nothing needs its body.
                assert_eq!((lean.after.as_ref(), lean.before.as_ref()), (None, None));
            } else {
                let json = |c: &Change| serde_json::to_value(c).unwrap();
                assert_eq!(json(lean), json(whole), "{context}: {}", lean.address);
            }
        }
    }
    // The edits are what the plan of everything says they are.
    let plan = gathered(&model, &state, &Selection::all()).0;
    let action = |address: &Address| plan.changes.iter().find(|c| c.address == *address).map(|c| c.action);
    assert_eq!(
        [missing, rollout, creating, gone].map(action),
        [Some(Action::Create), Some(Action::Update), Some(Action::NoOp), Some(Action::Delete)]
    );
    assert!(plan.changes.iter().find(|c| c.address == *creating).unwrap().after.is_some());
    assert_eq!(plan.summary.create + plan.summary.update + plan.summary.delete, 3);
}

#[test]
fn settled_resources_change_the_fingerprints_as_their_bodies_do() {
    // A saved plan is stale when a resource the plan settled changes: the fingerprint stands
    // for every body, held or not.
    let model = shop();
    let desired = render::render(&model).unwrap();
    let (state, _) = recorded_state(&desired);
    let before = gathered(&model, &state, &Selection::all()).0;
    let mut edited = model.clone();
    let service = &mut edited.services[0];
    service.per_env.values_mut().for_each(|e| e.replicas += 1);
    let after = gathered(&edited, &state, &Selection::all()).0;
    assert_ne!(after.desired_fingerprint, before.desired_fingerprint);
}
