//! YAML catalog files (image tags only), edited by splicing the text at the spans the catalog's
//! own YAML reader records: no YAML library writes YAML back with its comments and layout.

use crate::catalog::problem::Problems;
use crate::catalog::source::SourceFile;
use crate::catalog::tree::{Node, Value};

/// Sets `image_tag` of `service` for `env` in a YAML catalog file (`services: NAME: image_tag:`)
/// and returns the new text. Only the value changes: comments, order, indentation and the quoting
/// style of the value replaced are kept. A single tag becomes `{ default: OLD, ENV: "NEW" }`; a
/// new key joins a flow map (`{ … }`) before its `}` and a block map on a line of its own, indented
/// like the keys before it. The result is read back and must give `tag` for `env`.
pub fn set_image_tag_yaml(text: &str, service: &str, env: &str, tag: &str) -> Result<String, String> {
    let edited = splice_image_tag_yaml(text, service, env, tag)?;
    // Read back: the edit must leave YAML that gives the new tag and nothing else new.
    let node = parse_yaml(&edited)?;
    let image_tag = image_tag_node(&node, service)?;
    let found = match &image_tag.value {
        Value::Map(entries) => entries.iter().find(|e| e.key == env).map(|e| e.node.to_json()),
        _ => None,
    };
    if found.as_ref().and_then(|v| v.as_str()) != Some(tag) {
        return Err(format!("the edited image_tag of service \"{service}\" does not read back as {tag}"));
    }
    Ok(edited)
}

fn splice_image_tag_yaml(text: &str, service: &str, env: &str, tag: &str) -> Result<String, String> {
    let root = parse_yaml(text)?;
    let image_tag = image_tag_node(&root, service)?;
    let quoted = double_quoted(tag);
    let splice =
        |range: std::ops::Range<usize>, with: &str| format!("{}{with}{}", &text[..range.start], &text[range.end..]);
    match &image_tag.value {
        Value::Str(_) | Value::Int(_) | Value::Float(_) => {
            let old = &text[image_tag.span.start..image_tag.span.end];
            Ok(splice(
                image_tag.span.start..image_tag.span.end,
                &format!("{{ default: {old}, {}: {quoted} }}", yaml_key(env)),
            ))
        }
        Value::Map(entries) => {
            if let Some(entry) = entries.iter().find(|e| e.key == env) {
                let span = &entry.node.span;
                if !matches!(entry.node.value, Value::Str(_) | Value::Int(_) | Value::Float(_)) {
                    return Err(format!("image_tag.{env} of service \"{service}\" is not a single value"));
                }
                // The quoting style stays: a single-quoted value stays single-quoted.
                let old = &text[span.start..span.end];
                let new = if old.starts_with('\'') && !tag.contains('\'') { format!("'{tag}'") } else { quoted };
                return Ok(splice(span.start..span.end, &new));
            }
            let open = image_tag.span.start;
            let flow = text[open..].starts_with('{');
            let key = yaml_key(env);
            match (flow, entries.last()) {
                (true, None) => Ok(splice(open + 1..open + 1, &format!(" {key}: {quoted} "))),
                (true, Some(last)) => {
                    // After the last value (and its trailing comma, if the map has one).
                    let after = &text[last.node.span.end..];
                    let gap = after.len() - after.trim_start().len();
                    if after[gap..].starts_with(',') {
                        let at = last.node.span.end + gap + 1;
                        Ok(splice(at..at, &format!(" {key}: {quoted},")))
                    } else {
                        let at = last.node.span.end;
                        Ok(splice(at..at, &format!(", {key}: {quoted}")))
                    }
                }
                (false, Some(last)) => {
                    // A line of its own after the last entry's line, indented like the first key.
                    let first = &entries[0].key_span;
                    let line_start = text[..first.start].rfind('\n').map_or(0, |i| i + 1);
                    let indent = &text[line_start..first.start];
                    if !indent.chars().all(|c| c == ' ') {
                        return Err(format!(
                            "image_tag of service \"{service}\" is laid out in a way promote cannot extend"
                        ));
                    }
                    // After the last value's line, its comment included.
                    let end = last.node.span.end;
                    let end_of_line = text[end..].find('\n').map_or(text.len(), |i| end + i);
                    Ok(splice(end_of_line..end_of_line, &format!("\n{indent}{key}: {quoted}")))
                }
                (false, None) => {
                    Err(format!("image_tag of service \"{service}\" is an empty map promote cannot extend"))
                }
            }
        }
        _ => Err(format!("image_tag of service \"{service}\" is neither a string nor a map")),
    }
}

fn parse_yaml(text: &str) -> Result<Node, String> {
    let file = SourceFile::new("catalog.yaml", text);
    let mut problems = Problems::default();
    match crate::catalog::yaml::parse(&file, &mut problems) {
        Some(node) if problems.is_empty() => Ok(node),
        _ => Err(problems.iter().next().map_or_else(|| "not a YAML catalog file".to_string(), |p| p.message.clone())),
    }
}

fn image_tag_node<'a>(root: &'a Node, service: &str) -> Result<&'a Node, String> {
    let find =
        |node: &'a Node, key: &str| node.entries().and_then(|e| e.iter().find(|e| e.key == key)).map(|e| &e.node);
    let declared = find(root, "services").and_then(|s| find(s, service));
    let declared = declared.ok_or_else(|| format!("no service `{service}` under `services:` here"))?;
    find(declared, "image_tag").ok_or_else(|| format!("service \"{service}\" has no image_tag in this file"))
}

/// A YAML double-quoted scalar: tags are letters, digits, `.`, `_`, `-`, `:`, `@` and `+`, but
/// `"` and `\` are escaped whatever comes.
fn double_quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An environment name as a map key: plain when it is a DNS label (what environment names are).
fn yaml_key(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        name.to_string()
    } else {
        double_quoted(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "# yaml-language-server: $schema=catalog.schema.json\n# Identity services.\nservices:\n  user-service:\n    use: standard # the profile\n    image_tag: { default: \"9.1.0\", prod: \"9.0.7\" } # prod lags\n    port: 8443\n  audit:\n    # single tag\n    image_tag: '1.2.3'\n    port: 8080\n  ledger:\n    image_tag:\n      default: 2.0.0 # plain\n      staging: \"2.1.0\"\n    replicas: 2\n";

    /// The lines that differ between two texts of the same number of lines.
    fn changed<'a>(before: &'a str, after: &'a str) -> Vec<(&'a str, &'a str)> {
        assert_eq!(before.lines().count(), after.lines().count(), "{after}");
        before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect()
    }

    #[test]
    fn yaml_flow_map_value_changes_in_place() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let edited = set_image_tag_yaml(YAML, "user-service", "prod", &digest).unwrap();
        assert_eq!(
            changed(YAML, &edited),
            [(
                "    image_tag: { default: \"9.1.0\", prod: \"9.0.7\" } # prod lags",
                &*format!("    image_tag: {{ default: \"9.1.0\", prod: \"{digest}\" }} # prod lags")
            )]
        );
        // A new environment joins the flow map before its `}`; the comment after it stays.
        let edited = set_image_tag_yaml(YAML, "user-service", "dev", "9.2.0").unwrap();
        assert_eq!(
            changed(YAML, &edited),
            [(
                "    image_tag: { default: \"9.1.0\", prod: \"9.0.7\" } # prod lags",
                "    image_tag: { default: \"9.1.0\", prod: \"9.0.7\", dev: \"9.2.0\" } # prod lags"
            )]
        );
    }

    #[test]
    fn yaml_single_tag_becomes_a_map_keeping_its_quotes() {
        let edited = set_image_tag_yaml(YAML, "audit", "prod", "1.3.0").unwrap();
        assert_eq!(
            changed(YAML, &edited),
            [("    image_tag: '1.2.3'", "    image_tag: { default: '1.2.3', prod: \"1.3.0\" }")]
        );
        assert!(edited.starts_with("# yaml-language-server") && edited.contains("    # single tag\n"));
    }

    #[test]
    fn yaml_block_map_gets_a_line_of_its_own() {
        let edited = set_image_tag_yaml(YAML, "ledger", "prod", "2.1.0").unwrap();
        assert!(
            edited.contains(
                "      default: 2.0.0 # plain\n      staging: \"2.1.0\"\n      prod: \"2.1.0\"\n    replicas: 2\n"
            ),
            "{edited}"
        );
        // A plain value replaced is written quoted: `2.1` plain would read as a number.
        let edited = set_image_tag_yaml(YAML, "ledger", "default", "2.1").unwrap();
        assert_eq!(changed(YAML, &edited), [("      default: 2.0.0 # plain", "      default: \"2.1\" # plain")]);
        // The same at the end of a file without a final newline.
        let bare = "services:\n  api:\n    image_tag:\n      default: \"1\"";
        let edited = set_image_tag_yaml(bare, "api", "dev", "2").unwrap();
        assert_eq!(edited, "services:\n  api:\n    image_tag:\n      default: \"1\"\n      dev: \"2\"");
    }

    #[test]
    fn yaml_edits_that_cannot_be_made_are_refused() {
        assert!(set_image_tag_yaml(YAML, "web", "prod", "1").unwrap_err().contains("no service `web`"));
        let none = "services:\n  api:\n    port: 80\n";
        assert!(set_image_tag_yaml(none, "api", "prod", "1").unwrap_err().contains("has no image_tag"));
        let list = "services:\n  api:\n    image_tag: [\"1\"]\n";
        assert!(set_image_tag_yaml(list, "api", "prod", "1").is_err());
        // A value with a quote in it is escaped, and reads back as written.
        let edited = set_image_tag_yaml(YAML, "audit", "dev", "a\"b").unwrap();
        assert!(edited.contains(r#"dev: "a\"b""#), "{edited}");
    }
}
