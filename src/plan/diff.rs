//! Structural JSON diff: the changed leaves of two documents, each with its path, so a plan
//! shows "spec.strategy.canary.steps[0].setWeight: 5 → 10" instead of two blobs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One changed leaf. `None` on a side means the field is absent there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub fn diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    // Most bodies of a plan are unchanged: one comparison (maps compare regardless of key
    // order, as `walk` does) instead of a walk that names every field it passes.
    if before == after {
        return out;
    }
    walk("", Some(before), Some(after), &mut out);
    out
}

/// The changes of `fields` (the diff of `before` and `after`) as they may be shown and stored:
/// each value as it is in the redacted documents (`crate::redact::body`), and a change only a
/// secret made as `(redacted)` on both sides, so a plan says that it changed, never what to.
pub fn redacted(before: &Value, after: &Value, fields: &[FieldChange]) -> Vec<FieldChange> {
    let (before_shown, after_shown) = (crate::redact::body(before), crate::redact::body(after));
    if before_shown == *before && after_shown == *after {
        return fields.to_vec();
    }
    let shown = diff(&before_shown, &after_shown);
    let hidden = |v: &Option<Value>| v.as_ref().map(|_| Value::String(crate::redact::REDACTED.into()));
    fields
        .iter()
        .map(|field| match shown.iter().find(|s| s.path == field.path) {
            Some(visible) => visible.clone(),
            None => {
                FieldChange { path: field.path.clone(), before: hidden(&field.before), after: hidden(&field.after) }
            }
        })
        .collect()
}

fn join(path: &str, key: &str) -> String {
    let simple = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", serde_json::to_string(key).unwrap_or_default()),
    }
}

fn walk(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (key, value) in a {
                if b.get(key) == Some(value) {
                    continue;
                }
                walk(&join(path, key), Some(value), b.get(key), out);
            }
            for (key, value) in b {
                if !a.contains_key(key) {
                    walk(&join(path, key), None, Some(value), out);
                }
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                if a.get(i) == b.get(i) {
                    continue;
                }
                walk(&format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(FieldChange { path: path.to_string(), before: a.cloned(), after: b.cloned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_changed_added_and_removed_leaves_with_paths() {
        let before = json!({"spec": {"steps": [{"setWeight": 5}, {"pause": {}}], "old": 1}, "metadata": {"labels": {"a/b": "x"}}});
        let after = json!({"spec": {"steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 100}]}, "metadata": {"labels": {"a/b": "x"}}});
        let changes = diff(&before, &after);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["spec.steps[0].setWeight", "spec.steps[2]", "spec.old"]);
        assert_eq!(changes[0].before, Some(json!(5)));
        assert_eq!(changes[0].after, Some(json!(10)));
        assert_eq!(changes[2].after, None);
    }

    #[test]
    fn equal_documents_have_no_changes() {
        let doc = json!({"a": [1, {"b": null}]});
        assert!(diff(&doc, &doc).is_empty());
    }

    #[test]
    fn secrets_are_redacted_in_field_changes() {
        let before =
            json!({"env": [{"name": "API_TOKEN", "value": "old-secret"}], "url": "https://h/x?token=t1", "n": 1});
        let after =
            json!({"env": [{"name": "API_TOKEN", "value": "new-secret"}], "url": "https://h/x?token=t2", "n": 2});
        let fields = redacted(&before, &after, &diff(&before, &after));
        assert_eq!(fields.len(), 3, "{fields:?}");
        let text = serde_json::to_string(&fields).unwrap();
        for secret in ["old-secret", "new-secret", "t1", "t2"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("(redacted)") && text.contains("\"n\""), "{text}");
    }

    #[test]
    fn keys_with_dots_are_quoted() {
        let changes = diff(&json!({"data": {}}), &json!({"data": {"service.slack": "x"}}));
        assert_eq!(changes[0].path, "data[\"service.slack\"]");
    }
}
