//! A recorded body as the state holds it in memory: its compact JSON text, parsed again where it
//! is read. A state records every resource of the catalog and a process reads few of the bodies
//! (an offline plan only those whose digest is not the desired one's; a live plan none of what
//! it reads live), while as a `serde_json::Value` each took several times its text (at 300
//! services, 60 MiB of values for a 16 MB state file).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JSON document kept as compact text. On disk it is the document itself: it serializes and
/// deserializes exactly as the `Value` it holds would, so state files are unchanged.
#[derive(Clone, PartialEq, Eq)]
pub struct CompactBody(Box<str>);

impl CompactBody {
    pub fn new(value: &Value) -> Self {
        CompactBody(serde_json::to_string(value).expect("JSON values serialize").into_boxed_str())
    }

    /// The document, parsed from its text.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).expect("a compact body is the JSON text of a value")
    }
}

impl From<Value> for CompactBody {
    fn from(value: Value) -> Self {
        CompactBody::new(&value)
    }
}

impl fmt::Debug for CompactBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CompactBody {
    /// As the value: a pretty-printed state indents it as it always did.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CompactBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(CompactBody::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes_as_the_document_it_holds() {
        let document = json!({"kind": "ConfigMap", "data": {"b": "2", "a": 1.5}, "list": [true, null]});
        let body = CompactBody::new(&document);
        assert_eq!(body.value(), document);
        // Key order and pretty printing are the value's own.
        assert_eq!(serde_json::to_string_pretty(&body).unwrap(), serde_json::to_string_pretty(&document).unwrap());
        let text = serde_json::to_string_pretty(&document).unwrap();
        let read: CompactBody = serde_json::from_str(&text).unwrap();
        assert_eq!(read, body);
        assert_eq!(format!("{read:?}"), r#"{"kind":"ConfigMap","data":{"b":"2","a":1.5},"list":[true,null]}"#);
    }
}
