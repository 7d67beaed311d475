//! Desired vs live (or recorded) state → a complete, ordered plan. Knows nothing of HTTP or
//! files: providers supply the live side, views print the result.

pub mod diff;
pub mod drift;
pub mod file;
mod gather;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kinds::ProviderId;
use crate::render::{Address, DesiredSet};

pub use diff::FieldChange;
pub use gather::{Gathered, Settled};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    /// Delete and create again: a field changed that cannot be updated in place.
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }

    /// Whether carrying it out destroys something (and so needs `--allow-delete`).
    pub fn destroys(self) -> bool {
        matches!(self, Action::Delete | Action::Replace)
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoOp => "no-op",
        }
    }
}

/// One planned change, complete: it is also what a saved plan stores (`plan/file.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    /// The field-level differences of an update.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// What the provider wants the reader to know (e.g. fields another manager owns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// What the provider sends to carry the change out, when it is not `after` (a cluster
    /// object's manifest: `after` is the server's dry-run of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<Value>,
    /// Fields another manager owns that this change takes back, as the server described them:
    /// carried out only when the plan allows taking over conflicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contested: Option<String>,
}

impl Change {
    pub fn new(address: &Address, action: Action, before: Option<Value>, after: Option<Value>) -> Self {
        Change {
            address: address.clone(),
            action,
            fields: Vec::new(),
            note: None,
            before,
            after,
            send: None,
            contested: None,
        }
    }
}

/// Which part of the catalog a command looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Environments whose resources are included; empty means all.
    pub envs: Vec<String>,
    /// Providers whose resources are included; empty means all.
    pub providers: Vec<ProviderId>,
    /// Address prefixes (`--target`, like terraform's `-target`): only resources whose address
    /// starts with one of them are included; empty means all. Unlike terraform, what a target
    /// depends on is not added: apply in dependency order needs it to exist already.
    pub targets: Vec<String>,
}

impl Selection {
    pub fn all() -> Self {
        Selection::default()
    }

    /// One provider's resources in some environments (all when `envs` is empty).
    pub fn only(provider: ProviderId, envs: Vec<String>) -> Self {
        Selection { envs, providers: vec![provider], targets: Vec::new() }
    }

    pub fn includes_provider(&self, provider: ProviderId) -> bool {
        self.providers.is_empty() || self.providers.contains(&provider)
    }

    /// Resources that serve every environment are in every environment's selection, so
    /// `--env` narrows only environment-scoped ones.
    pub fn includes(&self, address: &Address) -> bool {
        self.includes_in(address, address.env())
    }

    /// As `includes`, for a resource serving `env` (see `render::environment_of`).
    pub fn includes_in(&self, address: &Address, env: Option<&str>) -> bool {
        self.includes_provider(address.provider())
            && env.is_none_or(|env| self.envs.is_empty() || self.envs.iter().any(|e| e == env))
            && (self.targets.is_empty() || self.targets.iter().any(|t| targets(t, address)))
    }

    fn includes_body(&self, address: &Address, body: &Value) -> bool {
        self.includes_in(address, crate::render::environment_of(address, body))
    }
}

/// `apply` was asked to write the cluster objects of environments Argo CD owns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} delivered by Argo CD (`delivery = \"gitops\"`): apply would write cluster objects that Argo CD owns, and its self-heal would put back what git says. Instead, commit the change: `glidepath promote` or edit the catalog, then `glidepath render --out DIR` and commit DIR/gitops to the catalog repository (Argo CD syncs it). To apply only the AWS half, or only push environments, narrow the selection with `--only aws` or `--env ENV`. In an emergency, `apply --force-gitops` writes them anyway (pause the Application's automated sync first, or Argo CD reverts it)",
    describe(.envs)
)]
pub struct GitopsOwned {
    /// The GitOps environments the selection takes, in the catalog's order.
    pub envs: Vec<String>,
}

fn describe(envs: &[String]) -> String {
    let quoted: Vec<String> = envs.iter().map(|e| format!("`{e}`")).collect();
    match quoted.as_slice() {
        [one] => format!("environment {one} is"),
        many => format!("environments {} are", many.join(", ")),
    }
}

impl Selection {
    /// Whether this selection takes any cluster object of environment `env`: the cluster
    /// provider, `env` among `--env` (or none given), and a `--target` in it (or none given).
    pub fn touches_cluster_of(&self, env: &str) -> bool {
        self.includes_provider(ProviderId::KUBE)
            && (self.envs.is_empty() || self.envs.iter().any(|e| e == env))
            && (self.targets.is_empty() || self.targets.iter().any(|t| within(t, env)))
    }

    /// What `apply` may write: never the cluster objects of a GitOps environment (Argo CD owns
    /// them; a push would be reverted by self-heal, or linger as drift where sync is manual),
    /// unless `force` (an emergency, with the Application's sync paused). Decided here, from the
    /// selection and the catalog, so a saved plan's selection is held to it as well.
    pub fn writable(&self, model: &crate::catalog::Model, force: bool) -> Result<(), GitopsOwned> {
        let envs: Vec<String> = model
            .environments
            .iter()
            .filter(|e| e.delivery == crate::catalog::Delivery::Gitops && self.touches_cluster_of(&e.name))
            .map(|e| e.name.clone())
            .collect();
        if envs.is_empty() || force {
            Ok(())
        } else {
            Err(GitopsOwned { envs })
        }
    }
}

/// Whether `target` names `address` or a group it is in: a whole address, or a prefix ending at
/// a `/` boundary (`prod/payment-service` takes `prod/payment-service/k8s/…`, not
/// `prod/payment-service-v2/…`).
fn targets(target: &str, address: &Address) -> bool {
    within(&address.to_string(), target)
}

/// Whether the address path `path` is `group` or lies below it, at a `/` boundary.
fn within(path: &str, group: &str) -> bool {
    let (path, group) = (path.trim_end_matches('/'), group.trim_end_matches('/'));
    path == group || path.strip_prefix(group).is_some_and(|rest| rest.starts_with('/'))
}

/// What the person applying a plan allowed beyond creates and updates. Part of the plan, so
/// the executor decides nothing itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// Carry out deletes and replacements (`--allow-delete`).
    pub allow_delete: bool,
    /// Take back fields another field manager owns (`--force-conflicts`).
    pub force_conflicts: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl Summary {
    /// Counts changes by action.
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Self {
        let mut summary = Summary::default();
        for change in changes {
            match change.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
                Action::NoOp => summary.unchanged += 1,
            }
        }
        summary
    }
}

/// The complete set of changes, in the order apply must perform them.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub summary: Summary,
    /// Digest of the live (or recorded) state the plan was made from; a saved plan is stale
    /// when it no longer matches.
    pub live_fingerprint: String,
    /// Digest of the desired state; a saved plan is stale when the catalog changed.
    pub desired_fingerprint: String,
    #[serde(skip)]
    pub permissions: Permissions,
}

impl Plan {
    /// Attaches providers' notes, and their account of fields other managers own, to the
    /// changes they concern.
    pub fn annotate(&mut self, notes: &BTreeMap<Address, String>, contested: &BTreeMap<Address, String>) {
        for change in &mut self.changes {
            if let Some(note) = notes.get(&change.address) {
                change.note = Some(note.clone());
            }
            if change.action != Action::NoOp {
                change.contested = contested.get(&change.address).cloned();
            }
        }
    }

    /// Plans `unfinished` resources that are otherwise unchanged as updates with their note: apply
    /// sends them again (a no-op on the server) and waits for them as it does after a change.
    pub fn wait_for(&mut self, unfinished: &BTreeMap<Address, String>) {
        for change in &mut self.changes {
            if let (Action::NoOp, Some(why)) = (change.action, unfinished.get(&change.address)) {
                change.action = Action::Update;
                change.note = Some(why.clone());
            }
        }
        self.summary = Summary::of(&self.changes);
    }

    pub fn has_changes(&self) -> bool {
        self.summary.create + self.summary.update + self.summary.replace + self.summary.delete > 0
    }

    pub fn pending(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action != Action::NoOp)
    }
}

/// One address's live (or recorded) side, as a plan reads it.
pub trait LiveBody {
    /// The body; `None` when it is known to be the desired body itself.
    fn body(&self) -> Option<&Value>;
}

impl LiveBody for Value {
    fn body(&self) -> Option<&Value> {
        Some(self)
    }
}

/// What the state file recorded of an address, or a live provider read: lent where it can be.
#[derive(Debug, Clone)]
pub enum Recorded<'a> {
    Body(Cow<'a, Value>),
    /// The recorded digest is the desired body's: the desired body stands for it, unparsed and
    /// uncopied (`State::bodies_against`).
    AsDesired,
}

impl LiveBody for Recorded<'_> {
    fn body(&self) -> Option<&Value> {
        match self {
            Recorded::Body(body) => Some(body),
            Recorded::AsDesired => None,
        }
    }
}

/// Diffs `desired` against `live` within `selection`. Live entries that are no longer desired
/// become deletes; creates and updates come in apply order, deletes after them in reverse.
pub fn plan(desired: &DesiredSet, live: &BTreeMap<Address, Value>, selection: &Selection) -> Plan {
    plan_gathered(Gathered::whole(desired.clone()), live, selection, &BTreeMap::new())
}

/// [`plan`] of a desired side the caller has no more use for: its held bodies move into the
/// changes instead of being copied (a plan of thousands of objects held each of them twice).
/// The live side need not hold bodies it shares with the desired set ([`Recorded::AsDesired`]);
/// settled resources (gathered against the state, `gather`) are no-ops without bodies, each
/// standing in the fingerprints as its digest.
///
/// A no-op change carries its `after` body (apply's `adopt` records it) but neither `before`
/// nor `send`: nothing reads them, and at fleet scale they were two more copies of every
/// object. The exception is an address in `waiting`: [`Plan::wait_for`] turns those no-ops into
/// updates that apply carries out, so they keep everything an update has.
pub fn plan_gathered<L: LiveBody>(
    desired: Gathered,
    live: &BTreeMap<Address, L>,
    selection: &Selection,
    waiting: &BTreeMap<Address, String>,
) -> Plan {
    let Gathered { held: desired, settled } = desired;
    let (live_fingerprint, desired_fingerprint) = fingerprints(&desired, &settled, live, selection);
    // A live entry standing for its desired body is desired: never a delete.
    let mut deletes: Vec<Change> = live
        .iter()
        .filter(|(address, _)| !desired.resources.contains_key(*address) && !settled.contains_key(*address))
        .filter_map(|(address, entry)| Some((address, entry.body()?)))
        .filter(|(address, before)| selection.includes_body(address, before))
        .map(|(address, before)| Change::new(address, Action::Delete, Some(before.clone()), None))
        .collect();
    // Dependants go first when deleting: the reverse of apply order.
    deletes.sort_by_key(|c| std::cmp::Reverse((c.address.kind.spec().rank, c.address.clone())));

    let mut forward: Vec<(u8, Change)> = Vec::new();
    for (address, resource) in desired.resources {
        // Skipped before its body is taken where the address decides; an AWS resource's
        // environment is in its body (its environment tag).
        if address.env().is_some() && !selection.includes(&address) {
            continue;
        }
        let (after, sends) = resource.into_body_and_sends();
        if !selection.includes_body(&address, &after) {
            continue;
        }
        let change = match live.get(&address).map(|entry| entry.body()) {
            None => Change::new(&address, Action::Create, None, Some(after)),
            Some(before) => {
                let fields = before.map(|before| diff::diff(before, &after)).unwrap_or_default();
                let replace_fields = address.kind.spec().replace_fields;
                let action = if fields.is_empty() {
                    Action::NoOp
                } else if fields.iter().any(|f| replace_fields.contains(&top_level(&f.path))) {
                    Action::Replace
                } else {
                    Action::Update
                };
                if action == Action::NoOp && !waiting.contains_key(&address) {
                    // Neither copied nor kept: see above.
                    forward.push((address.kind.spec().rank, Change::new(&address, action, None, Some(after))));
                    continue;
                }
                let before = before.cloned().unwrap_or_else(|| after.clone());
                // What a plan shows and saves never holds a secret (`crate::redact`).
                let fields = if fields.is_empty() { fields } else { diff::redacted(&before, &after, &fields) };
                Change { fields, ..Change::new(&address, action, Some(before), Some(after)) }
            }
        };
        let send = sends.resolve(change.after.as_ref());
        forward.push((address.kind.spec().rank, Change { send, ..change }));
    }
    // Settled resources are recorded as desired and need nothing, not even their body: apply
    // adopts only what the state lacks or was still creating, and those are never settled.
    for (address, _) in settled.iter().filter(|(_, s)| s.selected) {
        forward.push((address.kind.spec().rank, Change::new(address, Action::NoOp, None, None)));
    }
    forward.sort_by(|(ra, a), (rb, b)| (ra, &a.address).cmp(&(rb, &b.address)));
    let mut changes: Vec<Change> = forward.into_iter().map(|(_, c)| c).collect();
    changes.extend(deletes);
    let summary = Summary::of(&changes);
    Plan { changes, summary, live_fingerprint, desired_fingerprint, permissions: Permissions::default() }
}

/// The plan's (live, desired) fingerprints: digests of address → body-digest maps of the
/// selected entries of each side. Each desired body is digested once and stands for a live entry
/// that is the desired body itself; a settled resource stands as its digest.
fn fingerprints<L: LiveBody>(
    desired: &DesiredSet,
    settled: &BTreeMap<Address, Settled>,
    live: &BTreeMap<Address, L>,
    selection: &Selection,
) -> (String, String) {
    let mut digests: BTreeMap<&Address, String> = desired
        .resources
        .iter()
        .filter_map(|(address, resource)| {
            let body = resource.body_ref();
            selection.includes_body(address, &body).then(|| (address, crate::digest::digest(&body)))
        })
        .collect();
    digests.extend(settled.iter().filter(|(_, s)| s.selected).map(|(address, s)| (address, s.digest.clone())));
    let mut live_digests = live.iter().filter_map(|(address, entry)| match entry.body() {
        Some(body) => selection.includes_body(address, body).then(|| (address, crate::digest::digest(body))),
        None => digests.get(address).map(|digest| (address, digest.clone())),
    });
    let fingerprint = |entries: &mut dyn Iterator<Item = (&Address, String)>| {
        crate::digest::digest_entries(entries.map(|(address, digest)| (address.to_string(), Value::String(digest))))
    };
    let live_fingerprint = fingerprint(&mut live_digests);
    let desired_fingerprint = fingerprint(&mut digests.into_iter());
    (live_fingerprint, desired_fingerprint)
}

/// The first segment of a field path: `trust_policy` of `trust_policy.Statement[0]`.
fn top_level(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

#[cfg(test)]
mod gitops_selection_tests {
    use super::*;
    use crate::catalog::Delivery;

    /// examples/shop with `staging` delivered by Argo CD (as `delivery = "gitops"` in its block).
    fn shop_with_gitops_staging() -> crate::catalog::Model {
        let mut model =
            crate::catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop")).unwrap();
        model.environments.iter_mut().find(|e| e.name == "staging").unwrap().delivery = Delivery::Gitops;
        model
    }

    fn selection(envs: &[&str], providers: &[ProviderId], targets: &[&str]) -> Selection {
        Selection {
            envs: envs.iter().map(|e| e.to_string()).collect(),
            providers: providers.to_vec(),
            targets: targets.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn apply_may_not_write_a_gitops_environments_cluster_objects() {
        let model = shop_with_gitops_staging();
        let refused = |s: Selection| s.writable(&model, false).err().map(|e| e.envs);
        let staging = Some(vec!["staging".to_string()]);
        // Everything, the cluster half, the environment, a service in it: refused, naming it.
        assert_eq!(refused(Selection::all()), staging);
        assert_eq!(refused(selection(&[], &[ProviderId::KUBE], &[])), staging);
        assert_eq!(refused(selection(&["staging"], &[], &[])), staging);
        assert_eq!(refused(selection(&[], &[], &["staging/cart"])), staging);
        // What Argo CD does not own: the AWS half, push environments, their services.
        assert_eq!(refused(selection(&[], &[ProviderId::AWS], &[])), None);
        assert_eq!(refused(selection(&["dev", "prod"], &[], &[])), None);
        assert_eq!(refused(selection(&[], &[], &["dev/cart", "aws/iam_role/shop-cart-ci"])), None);
        // `staging-x/…` is not in staging.
        assert_eq!(refused(selection(&[], &[], &["staging-x/cart"])), None);
        // The emergency override.
        assert!(Selection::all().writable(&model, true).is_ok());
        let message = Selection::all().writable(&model, false).unwrap_err().to_string();
        for part in ["environment `staging` is delivered by Argo CD", "glidepath render --out DIR", "--force-gitops"] {
            assert!(message.contains(part), "{part:?} not in {message}");
        }
    }
}

#[cfg(test)]
mod lean_tests {
    use super::*;
    use crate::kinds::KubeKind;
    use crate::render::{KubeObject, Resource};
    use serde_json::json;

    fn config_map(name: &str, data: Value) -> (Address, Resource) {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data});
        let object = KubeObject {
            env: "dev".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("shop".into()),
            name: name.into(),
            body,
            manifest: None,
        };
        (Address::scoped("dev", "cart", KubeKind::ConfigMap, name), Resource::Kube(object))
    }

    fn desired(objects: &[(&str, Value)]) -> DesiredSet {
        let mut set = DesiredSet::default();
        for (name, data) in objects {
            let (address, resource) = config_map(name, data.clone());
            set.resources.insert(address, resource);
        }
        set
    }

    #[test]
    fn a_no_op_carries_no_before_or_send_unless_apply_must_wait_for_it() {
        let set = desired(&[("same", json!({"a": "1"})), ("waits", json!({"a": "1"})), ("new", json!({"a": "1"}))]);
        let live: BTreeMap<Address, Value> =
            set.resources.iter().filter(|(a, _)| a.name() != "new").map(|(a, r)| (a.clone(), r.body())).collect();
        let waiting = BTreeMap::from([(config_map("waits", json!({})).0, "a Job".to_string())]);
        let mut plan = plan_gathered(Gathered::whole(set.clone()), &live, &Selection::all(), &waiting);
        plan.wait_for(&waiting);
        let change = |name: &str| plan.changes.iter().find(|c| c.address.name() == name).unwrap();
        let same = change("same");
        assert_eq!((same.action, same.before.is_none(), same.send.is_none()), (Action::NoOp, true, true));
        assert_eq!(same.after, Some(set.resources[&same.address].body()));
        // What apply carries out keeps everything it sends.
        let waits = change("waits");
        assert_eq!(waits.action, Action::Update);
        assert_eq!((waits.before.as_ref(), waits.send.as_ref()), (waits.after.as_ref(), waits.after.as_ref()));
        let new = change("new");
        assert_eq!((new.action, new.send.as_ref()), (Action::Create, new.after.as_ref()));
    }

    #[test]
    fn a_record_standing_for_its_desired_body_is_unchanged_and_fingerprinted_as_that_body() {
        let set = desired(&[("same", json!({"a": "1"})), ("changed", json!({"a": "2"}))]);
        let bodies: BTreeMap<Address, Value> = set.resources.iter().map(|(a, r)| (a.clone(), r.body())).collect();
        let (changed, gone) = (config_map("changed", json!({})).0, config_map("gone", json!({})).0);
        let mut recorded: BTreeMap<Address, Value> = bodies.clone();
        recorded.insert(
            changed.clone(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "changed"}, "data": {"a": "1"}}),
        );
        recorded.insert(gone.clone(), json!({"kind": "ConfigMap", "metadata": {"name": "gone"}}));
        let full = plan(&set, &recorded, &Selection::all());
        // The same records, the unchanged one standing for the desired body instead of holding it.
        let lean: BTreeMap<Address, Recorded> = recorded
            .iter()
            .map(|(a, b)| match a.name() {
                "same" => (a.clone(), Recorded::AsDesired),
                _ => (a.clone(), Recorded::Body(Cow::Borrowed(b))),
            })
            .collect();
        let lean = plan_gathered(Gathered::whole(set), &lean, &Selection::all(), &BTreeMap::new());
        let actions = |p: &Plan| p.changes.iter().map(|c| (c.address.name().to_string(), c.action)).collect::<Vec<_>>();
        assert_eq!(actions(&lean), actions(&full));
        assert_eq!(
            actions(&lean),
            [
                ("changed".to_string(), Action::Update),
                ("same".to_string(), Action::NoOp),
                ("gone".to_string(), Action::Delete)
            ]
        );
        assert_eq!(lean.live_fingerprint, full.live_fingerprint);
        assert_eq!(lean.desired_fingerprint, full.desired_fingerprint);
    }
}
