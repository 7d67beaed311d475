//! Content digests of JSON documents, independent of key order: state entries, plan
//! fingerprints and audit records use them to say "the same" without comparing bodies.

use std::borrow::Borrow;
use std::io::Write;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `sha256:` of the document's canonical JSON (object keys sorted).
pub fn digest(body: &Value) -> String {
    digest_of(&Canonical(body))
}

/// `sha256:` of the canonical JSON of an object whose entries are `entries` (a plan's
/// fingerprint: address → body), without building that object: the same digest as
/// `digest(&Value::Object(entries))`.
pub fn digest_entries<V: Borrow<Value>>(entries: impl IntoIterator<Item = (String, V)>) -> String {
    let mut entries: Vec<(String, V)> = entries.into_iter().collect();
    // As a map would keep them: one entry per key, the last one given.
    entries.reverse();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|later, earlier| later.0 == earlier.0);
    digest_of(&CanonicalEntries(&entries))
}

/// The canonical JSON text is streamed into the hash: a digest never copies the document (a
/// plan takes thousands of them, each of a whole object).
fn digest_of(value: &impl Serialize) -> String {
    let mut hasher = HashWriter(Sha256::new());
    serde_json::to_writer(&mut hasher, value).expect("JSON values serialize");
    format!("sha256:{}", hex(&hasher.0.finalize()))
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A document serialized with every object's keys in sorted order (the canonical form).
struct Canonical<'a>(&'a Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serializer.serialize_map(Some(keys.len()))?;
                for key in keys {
                    out.serialize_entry(key, &Canonical(&map[key]))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Canonical(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// Sorted, distinct (key, document) entries serialized as one canonical object.
struct CanonicalEntries<'a, V>(&'a [(String, V)]);

impl<V: Borrow<Value>> Serialize for CanonicalEntries<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            out.serialize_entry(key, &Canonical(value.borrow()))?;
        }
        out.end()
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

    /// The streamed digest is the one of the canonical text as it was built before (a sorted
    /// copy of the document, printed): digests recorded in state files stay valid.
    #[test]
    fn digest_is_of_the_sorted_compact_text() {
        let doc = json!({"z": "é\n\"q\"", "a": [{"d": 1.5, "c": -3}, null, true], "m": {}, "n": []});
        let text = r#"{"a":[{"c":-3,"d":1.5},null,true],"m":{},"n":[],"z":"é\n\"q\""}"#;
        assert_eq!(digest(&doc), format!("sha256:{}", hex(&Sha256::digest(text.as_bytes()))));
    }

    #[test]
    fn entries_digest_as_the_object_they_make() {
        let (one, two) = (json!({"b": [1], "a": "x"}), json!(2));
        let object = json!({"y/2": two.clone(), "x/1": one.clone()});
        assert_eq!(digest_entries([("y/2".to_string(), &two), ("x/1".to_string(), &one)]), digest(&object));
        // A key given twice keeps its last document, as collecting into a map does.
        let repeated = [("k".to_string(), &one), ("k".to_string(), &two)];
        assert_eq!(digest_entries(repeated), digest(&json!({"k": 2})));
    }
}
