//! Content digests of JSON documents, independent of key order: state entries, plan
//! fingerprints and audit records use them to say "the same" without comparing bodies.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `sha256:` of the document's canonical JSON (object keys sorted).
pub fn digest(body: &Value) -> String {
    format!("sha256:{}", hex(&Sha256::digest(canonical(body).to_string().as_bytes())))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), canonical(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digest_ignores_key_order_but_not_values() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": null}});
        let b = json!({"a": {"x": null, "y": [1, 2]}, "b": 1});
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&json!({"b": 2, "a": {"y": [1, 2], "x": null}})));
        assert_ne!(digest(&a), digest(&json!({"b": 1, "a": {"y": [2, 1], "x": null}})));
    }
}
