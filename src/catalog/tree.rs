//! A format-neutral syntax tree: HCL and YAML both become `Node`s that keep their source spans,
//! so decoding, profile merging and validation are written once for both formats.

use super::source::Span;

/// When a service sets the key on the left, the profile's keys on the right are dropped: a new
/// list of canary steps needs its own pauses, and a PDB takes one limit or the other.
const LINKED_KEYS: &[(&str, &[&str])] = &[
    ("steps", &["pauses", "analysis_from_step"]),
    ("min_available", &["max_unavailable"]),
    ("max_unavailable", &["min_available"]),
];

#[derive(Debug, Clone)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    /// Entries in source order; duplicate keys are kept so the decoder can report them.
    Map(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub node: Node,
}

impl Value {
    /// How the value is described in "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a whole number",
            Value::Float(_) => "a decimal number",
            Value::Str(_) => "a string",
            Value::List(_) => "a list",
            Value::Map(_) => "a block/map",
        }
    }
}

impl Node {
    /// The value as JSON; of duplicate keys the last wins, as in the decoder.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match &self.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Str(s) => Json::String(s.clone()),
            Value::List(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                let mut map = serde_json::Map::new();
                for entry in entries {
                    map.insert(entry.key.clone(), entry.node.to_json());
                }
                Json::Object(map)
            }
        }
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Deep-merges `over` onto `self` (a profile under a service): maps merge key by key,
    /// anything else in `over` replaces what was there. Spans stay with whichever file set a value.
    /// Keys that only make sense together (`LINKED_KEYS`) are replaced together.
    pub fn merged_with(&self, over: &Node) -> Node {
        match (&self.value, &over.value) {
            (Value::Map(base), Value::Map(top)) => {
                let mut entries: Vec<Entry> = base.clone();
                for (key, dropped) in LINKED_KEYS {
                    if top.iter().any(|e| e.key == *key) {
                        entries.retain(|e| !dropped.contains(&e.key.as_str()));
                    }
                }
                for entry in top {
                    match entries.iter_mut().find(|e| e.key == entry.key) {
                        Some(existing) => {
                            existing.node = existing.node.merged_with(&entry.node);
                            existing.key_span = entry.key_span.clone();
                        }
                        None => entries.push(entry.clone()),
                    }
                }
                Node { span: over.span.clone(), value: Value::Map(entries) }
            }
            _ => over.clone(),
        }
    }
}
