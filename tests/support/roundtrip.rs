//! Round-trip checks against the typed Kubernetes API (k8s-openapi).
//!
//! k8s-openapi's deserializers ignore fields they do not know, and reject wrongly typed values.
//! So deserializing a rendered manifest into the matching type and serializing it back yields
//! exactly the original document if and only if every field is known and well typed — any
//! difference is a field the real API server would drop (or coerce).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::crd_schema::{describe, join_key};

/// Deserializes `value` as `T`, serializes it back and compares. `Err` holds a readable report.
pub fn roundtrip<T: DeserializeOwned + Serialize>(value: &Value) -> Result<(), String> {
    roundtrip_at::<T>(value, "")
}

/// Like [`roundtrip`] for a value found at `path` inside a larger document; differences are
/// reported with full paths (`spec.template.spec.containers[0]...`).
pub fn roundtrip_at<T: DeserializeOwned + Serialize>(value: &Value, path: &str) -> Result<(), String> {
    let type_name = std::any::type_name::<T>();
    let typed: T = serde_json::from_value(value.clone())
        .map_err(|error| format!("{}: does not deserialize as {type_name}: {error}", shown(path)))?;
    let back = serde_json::to_value(&typed).map_err(|error| format!("{type_name} does not serialize: {error}"))?;
    if &back == value {
        return Ok(());
    }
    let mut differences = Vec::new();
    diff(value, &back, path, &mut differences);
    Err(format!("round trip through {type_name} changes the document:\n  {}", differences.join("\n  ")))
}

/// Differences between the original document and its round-tripped form, one line per path.
pub fn diff(original: &Value, back: &Value, path: &str, out: &mut Vec<String>) {
    match (original, back) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let child = join_key(path, key);
                match b.get(key) {
                    Some(other) => diff(value, other, &child, out),
                    None => out.push(format!("{}: dropped (unknown to the type): {}", shown(&child), describe(value))),
                }
            }
            for (key, value) in b {
                if !a.contains_key(key) {
                    out.push(format!("{}: added by the type: {}", shown(&join_key(path, key)), describe(value)));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, &format!("{path}[{index}]"), out);
            }
        }
        (a, b) if a != b => out.push(format!("{}: {} became {}", shown(path), describe(a), describe(b))),
        _ => {}
    }
}

fn shown(path: &str) -> String {
    if path.is_empty() {
        "<root>".to_string()
    } else {
        path.to_string()
    }
}
