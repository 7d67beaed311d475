//! What glidepath last applied to an object, read back from the live object itself: the fields
//! field manager `glidepath` owns through `Apply` (its `managedFields` entry, a FieldsV1 set),
//! with their live values — what client-go's `Extract…` helpers compute. A plan compares it with
//! the manifest it would send and asks the server for a dry-run only when they differ.
//!
//! Why equal means unchanged: while glidepath owns a field, nobody has changed it since
//! glidepath applied it (an update by another manager takes the field over, a forced apply
//! takes it over, an unforced one is refused), so its live value is the value glidepath sent.
//! If the manifest sets exactly the fields glidepath owns, to exactly those values, applying it
//! again merges nothing new and removes nothing: the server would store the object as it is.
//! Every doubt goes the other way, to the dry-run: a field another manager took (it leaves
//! glidepath's set, so the manifest has a field the extraction lacks), a field removed from the
//! catalog, a value the server stored in another spelling (a quantity "0.5" stored as "500m"),
//! an entry for another API version, or an object glidepath never applied under this manager
//! name. Equality is exact JSON equality, never a normalisation that could guess wrong.
//!
//! FieldsV1, as structured-merge-diff writes it: an object whose keys are path elements —
//! `f:NAME` a field of a map or struct, `k:{JSON}` a list item by its merge keys (containers by
//! name, ports by containerPort and protocol), `v:JSON` an item of a set-like list by value,
//! `i:N` a list item by index — and `.` marking that the node itself is owned. A node with no
//! children but `.` is a leaf: the whole value belongs to the manager (a scalar, an atomic list
//! or map such as a Service's selector, an empty struct).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
use serde_json::{Map, Value};

/// The parts of a manifest the server never records in managed fields: the object's type and
/// identity, which the plan matches by address and API version instead.
const IDENTITY: [&str; 2] = ["apiVersion", "kind"];
const IDENTITY_METADATA: [&str; 2] = ["name", "namespace"];

/// Why a manifest could not be shown unchanged without the server's dry-run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// No `Apply` entry of the manager for the main resource (never applied by it, or applied
    /// under another manager name).
    NotApplied,
    /// The manager's entry is for another API version than the manifest's.
    OtherVersion(String),
    /// The entry is not a FieldsV1 set this module understands.
    Unreadable(String),
    /// The manifest differs from what the manager last applied; the first differing path.
    Differs(String),
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fallback::NotApplied => write!(f, "never applied by this field manager"),
            Fallback::OtherVersion(v) => write!(f, "last applied as {v}"),
            Fallback::Unreadable(why) => write!(f, "managed fields not understood: {why}"),
            Fallback::Differs(path) => write!(f, "differs from the applied configuration at {path}"),
        }
    }
}

/// The configuration `manager` last applied to `live` (a whole object with `metadata.managedFields`),
/// at `api_version`: the owned fields with their live values, without type and identity.
#[cfg(test)]
pub fn extract(live: &Value, manager: &str, api_version: &str) -> Result<Value, Fallback> {
    let entries = live.pointer("/metadata/managedFields").filter(|e| e.is_array()).ok_or(Fallback::NotApplied)?;
    let entries: Vec<ManagedFieldsEntry> =
        serde_json::from_value(entries.clone()).map_err(|e| Fallback::Unreadable(e.to_string()))?;
    extract_from(entries, live, manager, api_version)
}

/// [`extract`] from the object's managed fields taken out of it (`entries`), as a listed object
/// comes: its managed fields are several times the rest of it, and are never made a `Value`.
pub fn extract_from(
    entries: Vec<ManagedFieldsEntry>,
    live: &Value,
    manager: &str,
    api_version: &str,
) -> Result<Value, Fallback> {
    let mut ours = entries.into_iter().filter(|e| {
        e.manager.as_deref() == Some(manager)
            && e.operation.as_deref() == Some("Apply")
            && e.subresource.as_deref().is_none_or(str::is_empty)
    });
    let entry = ours.next().ok_or(Fallback::NotApplied)?;
    if ours.next().is_some() {
        return Err(Fallback::Unreadable("two Apply entries for the main resource".into()));
    }
    if entry.api_version.as_deref() != Some(api_version) {
        return Err(Fallback::OtherVersion(entry.api_version.unwrap_or_else(|| "?".into())));
    }
    if entry.fields_type.as_deref() != Some("FieldsV1") {
        return Err(Fallback::Unreadable(format!("fieldsType {}", Value::from(entry.fields_type))));
    }
    let set = match entry.fields_v1 {
        Some(FieldsV1(Value::Object(set))) => set,
        _ => return Err(Fallback::Unreadable("fieldsV1 is not an object".into())),
    };
    let mut extracted = node(&set, live).map_err(Fallback::Unreadable)?.unwrap_or(Value::Object(Map::new()));
    // Server-maintained metadata is never in an applier's set; drop it in case, so the result is
    // comparable with a manifest.
    if let Some(metadata) = extracted.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in IDENTITY_METADATA {
            metadata.remove(key);
        }
    }
    Ok(extracted)
}

/// The part of `live` that `set` names; `None` when `live` holds none of it.
fn node(set: &Map<String, Value>, live: &Value) -> Result<Option<Value>, String> {
    let children: Vec<(&String, &Value)> = set.iter().filter(|(k, _)| k.as_str() != ".").collect();
    if children.is_empty() {
        return Ok(Some(live.clone()));
    }
    match live {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, child) in children {
                let name = key.strip_prefix("f:").ok_or_else(|| format!("{key} under a map"))?;
                let child = child.as_object().ok_or_else(|| format!("{key} is not an object"))?;
                if let Some(value) = fields.get(name) {
                    if let Some(extracted) = node(child, value)? {
                        out.insert(name.to_string(), extracted);
                    }
                }
            }
            Ok(Some(Value::Object(out)))
        }
        Value::Array(items) => {
            let mut selectors = Vec::with_capacity(children.len());
            for (key, child) in children {
                let child = child.as_object().ok_or_else(|| format!("{key} is not an object"))?;
                selectors.push((item_selector(key)?, child));
            }
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                if let Some((_, child)) = selectors.iter().find(|(s, _)| s.matches(index, item)) {
                    if let Some(extracted) = node(child, item)? {
                        out.push(extracted);
                    }
                }
            }
            Ok(Some(Value::Array(out)))
        }
        // Children under a scalar: the set describes another shape than the object has.
        Value::Null => Ok(None),
        other => Err(format!("fields named under the scalar {other}")),
    }
}

/// Which list item a FieldsV1 key names.
enum ItemSelector {
    /// `k:{"name":"app"}`: the item whose merge-key fields have these values.
    Keys(Map<String, Value>),
    /// `v:"x"`: the item equal to this value.
    Value(Value),
    /// `i:3`: the item at this index.
    Index(usize),
}

fn item_selector(key: &str) -> Result<ItemSelector, String> {
    let parse = |json: &str| serde_json::from_str::<Value>(json).map_err(|e| format!("{key}: {e}"));
    if let Some(json) = key.strip_prefix("k:") {
        match parse(json)? {
            Value::Object(keys) => Ok(ItemSelector::Keys(keys)),
            _ => Err(format!("{key}: merge keys are not an object")),
        }
    } else if let Some(json) = key.strip_prefix("v:") {
        Ok(ItemSelector::Value(parse(json)?))
    } else if let Some(index) = key.strip_prefix("i:") {
        index.parse().map(ItemSelector::Index).map_err(|e| format!("{key}: {e}"))
    } else {
        Err(format!("{key} under a list"))
    }
}

impl ItemSelector {
    fn matches(&self, index: usize, item: &Value) -> bool {
        match self {
            ItemSelector::Keys(keys) => keys.iter().all(|(k, v)| item.get(k) == Some(v)),
            ItemSelector::Value(value) => item == value,
            ItemSelector::Index(i) => *i == index,
        }
    }
}

/// The manifest as it compares with an extraction: without type and identity.
pub fn comparable(manifest: &Value) -> Value {
    let mut out = manifest.clone();
    if let Some(map) = out.as_object_mut() {
        for key in IDENTITY {
            map.remove(key);
        }
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in IDENTITY_METADATA {
                metadata.remove(key);
            }
            if metadata.is_empty() {
                map.remove("metadata");
            }
        }
    }
    out
}

/// Whether sending `manifest` would leave `live` as it is, judged from what `manager` last
/// applied; otherwise why the server's dry-run must decide.
#[cfg(test)]
pub fn unchanged(manifest: &Value, live: &Value, manager: &str) -> Result<(), Fallback> {
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
    compare(manifest, &extract(live, manager, api_version)?)
}

/// Whether `manifest` is exactly the configuration `applied` (an extraction at the manifest's
/// API version); otherwise where it differs first.
pub fn compare(manifest: &Value, applied: &Value) -> Result<(), Fallback> {
    match first_difference("", &comparable(manifest), applied) {
        None => Ok(()),
        Some(path) => Err(Fallback::Differs(if path.is_empty() { ".".into() } else { path })),
    }
}

/// The first path where `a` and `b` differ (for messages), or `None` when they are equal.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(va), Some(vb)) => first_difference(&format!("{path}.{k}"), va, vb),
                _ => Some(format!("{path}.{k}")),
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}[] (length {} vs {})", x.len(), y.len()));
            }
            x.iter().zip(y).enumerate().find_map(|(i, (va, vb))| first_difference(&format!("{path}[{i}]"), va, vb))
        }
        (a, b) if a == b => None,
        _ => Some(path.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Rollout as the server returns it after glidepath applied `manifest()`: server defaults
    /// (protocol, imagePullPolicy), another manager's annotation and the controller's status.
    fn live() -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {
                "name": "api", "namespace": "shop-dev", "uid": "u", "resourceVersion": "7",
                "labels": {"app.kubernetes.io/name": "api", "team": "core"},
                "annotations": {"rollout.argoproj.io/revision": "3"},
                "managedFields": [
                    {"manager": "glidepath", "operation": "Apply", "apiVersion": "argoproj.io/v1alpha1",
                     "fieldsType": "FieldsV1", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:app.kubernetes.io/name": {}}},
                        "f:spec": {
                            "f:selector": {},
                            "f:template": {"f:spec": {"f:containers": {
                                "k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {},
                                    "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                                    "f:resources": {"f:requests": {"f:cpu": {}}}},
                            }}},
                            "f:finalizers": {"v:\"a\"": {}},
                        }}},
                    {"manager": "kubectl-label", "operation": "Update", "apiVersion": "argoproj.io/v1alpha1",
                     "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}},
                    {"manager": "rollouts-controller", "operation": "Update", "apiVersion": "argoproj.io/v1alpha1",
                     "subresource": "status", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}},
                ],
            },
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "api"}},
                "replicas": 4,
                "finalizers": ["b", "a"],
                "template": {"spec": {"containers": [
                    {"name": "sidecar", "image": "envoy"},
                    {"name": "app", "image": "api:1", "imagePullPolicy": "IfNotPresent",
                     "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                     "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                ]}},
            },
            "status": {"phase": "Healthy"},
        })
    }

    fn manifest() -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "api", "namespace": "shop-dev", "labels": {"app.kubernetes.io/name": "api"}},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "api"}},
                "finalizers": ["a"],
                "template": {"spec": {"containers": [
                    {"name": "app", "image": "api:1", "ports": [{"containerPort": 8080}],
                     "resources": {"requests": {"cpu": "500m"}}},
                ]}},
            },
        })
    }

    #[test]
    fn extraction_keeps_only_the_managers_fields_with_their_live_values() {
        let applied = extract(&live(), "glidepath", "argoproj.io/v1alpha1").unwrap();
        assert_eq!(applied, comparable(&manifest()));
        // Defaults (imagePullPolicy, protocol), other managers' fields (team, replicas, the
        // sidecar) and status stay out.
        let text = applied.to_string();
        for absent in ["imagePullPolicy", "TCP", "team", "replicas", "sidecar", "Healthy", "memory"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
    }

    #[test]
    fn the_same_manifest_is_unchanged() {
        assert_eq!(unchanged(&manifest(), &live(), "glidepath"), Ok(()));
    }

    #[test]
    fn a_changed_value_falls_back_to_the_dry_run() {
        let mut changed = manifest();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("api:2");
        assert_eq!(
            unchanged(&changed, &live(), "glidepath"),
            Err(Fallback::Differs(".spec.template.spec.containers[0].image".into()))
        );
    }

    #[test]
    fn a_field_added_or_removed_in_the_catalog_falls_back() {
        let mut added = manifest();
        added["metadata"]["labels"]["tier"] = json!("web");
        assert!(
            matches!(unchanged(&added, &live(), "glidepath"), Err(Fallback::Differs(p)) if p == ".metadata.labels.tier")
        );
        let mut removed = manifest();
        removed["spec"].as_object_mut().unwrap().remove("finalizers");
        assert!(
            matches!(unchanged(&removed, &live(), "glidepath"), Err(Fallback::Differs(p)) if p == ".spec.finalizers")
        );
    }

    #[test]
    fn another_spelling_of_a_quantity_falls_back_instead_of_guessing() {
        let mut spelled = manifest();
        spelled["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("0.5");
        assert!(unchanged(&spelled, &live(), "glidepath").is_err());
        let mut number = manifest();
        number["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!(0.5);
        assert!(unchanged(&number, &live(), "glidepath").is_err());
    }

    #[test]
    fn a_field_another_manager_took_falls_back() {
        // `kubectl edit` of the image: the field leaves glidepath's set, the value changes.
        let mut edited = live();
        edited["spec"]["template"]["spec"]["containers"][1]["image"] = json!("hotfix:1");
        let set =
            edited.pointer_mut("/metadata/managedFields/0/fieldsV1/f:spec/f:template/f:spec/f:containers").unwrap();
        set["k:{\"name\":\"app\"}"].as_object_mut().unwrap().remove("f:image");
        assert_eq!(
            unchanged(&manifest(), &edited, "glidepath"),
            Err(Fallback::Differs(".spec.template.spec.containers[0].image".into()))
        );
    }

    #[test]
    fn a_list_item_gone_from_the_live_object_falls_back() {
        let mut gone = live();
        gone["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap().remove(1);
        assert!(matches!(unchanged(&manifest(), &gone, "glidepath"), Err(Fallback::Differs(_))));
    }

    #[test]
    fn another_manager_name_or_api_version_falls_back() {
        assert_eq!(unchanged(&manifest(), &live(), "glidepath-old"), Err(Fallback::NotApplied));
        let mut old = live();
        old["metadata"]["managedFields"][0]["apiVersion"] = json!("argoproj.io/v1beta1");
        assert_eq!(
            unchanged(&manifest(), &old, "glidepath"),
            Err(Fallback::OtherVersion("argoproj.io/v1beta1".into()))
        );
        let mut updated = live();
        updated["metadata"]["managedFields"][0]["operation"] = json!("Update");
        assert_eq!(unchanged(&manifest(), &updated, "glidepath"), Err(Fallback::NotApplied));
        let mut bare = live();
        bare["metadata"].as_object_mut().unwrap().remove("managedFields");
        assert_eq!(unchanged(&manifest(), &bare, "glidepath"), Err(Fallback::NotApplied));
    }

    #[test]
    fn an_atomic_leaf_takes_the_whole_live_value() {
        // A Service's selector is atomic: the controller's hash is part of what was applied when
        // glidepath sent it back (controller_fields::carry_over).
        let live = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "managedFields": [
            {"manager": "glidepath", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:spec": {"f:selector": {}, "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:targetPort": {}}}}}}]},
            "spec": {"selector": {"app": "api", "rollouts-pod-template-hash": "abc"}, "clusterIP": "10.96.0.9",
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}});
        let carried = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
            "spec": {"selector": {"app": "api", "rollouts-pod-template-hash": "abc"}, "ports": [{"port": 80, "targetPort": 8080}]}});
        assert_eq!(unchanged(&carried, &live, "glidepath"), Ok(()));
        let rendered = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
            "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}});
        assert!(unchanged(&rendered, &live, "glidepath").is_err());
        // int-or-string: "8080" is not 8080.
        let mut spelled = carried.clone();
        spelled["spec"]["ports"][0]["targetPort"] = json!("8080");
        assert!(unchanged(&spelled, &live, "glidepath").is_err());
    }

    #[test]
    fn an_unknown_key_is_unreadable_not_unchanged() {
        let mut odd = live();
        odd["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["x:odd"] = json!({});
        assert!(matches!(unchanged(&manifest(), &odd, "glidepath"), Err(Fallback::Unreadable(_))));
    }
}
