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
    /// The document's text as written, without the whitespace between its tokens: the text
    /// `new` makes of the value the file holds (glidepath wrote it, from such a value), built
    /// without making the value. A hand-edited file may keep another spelling of the same value
    /// (`1e2`, `\u0041`); `value` reads it the same.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(CompactBody(minified(raw.get()).into_boxed_str()))
    }
}

/// Valid JSON `text` without whitespace outside its strings.
fn minified(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii_whitespace() {
            continue;
        }
        out.push(c);
    }
    out
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

    #[test]
    fn reads_a_written_document_to_the_text_its_value_makes() {
        // Strings keep their whitespace, escaped quotes and backslashes; between tokens it goes.
        let document = json!({
            "say": "a \"quoted\" word\\ and\ttabs\n",
            "ends with backslash": "\\",
            "spaces": "  in  side  ",
            "nested": {"list": [1, -2.5e-3, "x y", {"k": null}, []], "empty": {}},
            "unicode": "zoë ✓ \u{0001}",
        });
        for text in [serde_json::to_string_pretty(&document).unwrap(), serde_json::to_string(&document).unwrap()] {
            let read: CompactBody = serde_json::from_str(&text).unwrap();
            assert_eq!(read, CompactBody::new(&document), "{text}");
            assert_eq!(read.value(), document);
        }
    }
}
