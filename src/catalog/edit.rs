//! Editing a catalog file in place (for `promote`, a GitOps `rollback` and `quarantine clear`),
//! keeping its formatting and comments: only the values concerned change, so the pull request
//! shows those lines. HCL through hcl-edit's syntax tree; YAML (image tags only) by splicing the
//! text at the spans the catalog's own YAML reader records (no YAML library writes YAML back with
//! its comments and layout).

use hcl_edit::expr::{Expression, Object, ObjectKey, ObjectValue, ObjectValueTerminator};
use hcl_edit::structure::{Attribute, Block, Body};
use hcl_edit::{Decorate, Ident};

use super::problem::Problems;
use super::source::SourceFile;
use super::tree::{Node, Value};

/// Sets `image_tag` of `service` for `env` in an HCL catalog file and returns the new text.
/// A single tag for all environments becomes `{ default = OLD, ENV = NEW }`.
pub fn set_image_tag(text: &str, service: &str, env: &str, tag: &str) -> Result<String, String> {
    let mut body: Body = hcl_edit::parser::parse_body(text).map_err(|e| e.to_string())?;
    let block = body
        .get_blocks_mut("service")
        .find(|b| b.labels.first().is_some_and(|l| l.as_str() == service))
        .ok_or_else(|| format!("no `service \"{service}\"` block here"))?;
    let mut attribute = block
        .body
        .get_attribute_mut("image_tag")
        .ok_or_else(|| format!("service \"{service}\" has no image_tag in this file"))?;
    let value = attribute.value_mut();
    let replaced = match value {
        Expression::String(_) => {
            let old = value.clone();
            let mut object = Object::new();
            object.insert(ObjectKey::Ident(Ident::new("default").into()), ObjectValue::new(old));
            object.insert(ObjectKey::Ident(Ident::new(env).into()), ObjectValue::new(Expression::from(tag)));
            Expression::Object(object)
        }
        Expression::Object(existing) => {
            let key_of = |key: &ObjectKey| match key {
                ObjectKey::Ident(ident) => ident.as_str().to_string(),
                ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                ObjectKey::Expression(_) => String::new(),
            };
            let found = existing.iter().map(|(k, _)| k.clone()).find(|k| key_of(k) == env);
            match found.and_then(|key| existing.get_mut(&key)) {
                // Only the value changes; its surrounding spaces stay as written.
                Some(entry) => {
                    let decor = entry.expr().decor().clone();
                    let mut new = Expression::from(tag);
                    *new.decor_mut() = decor;
                    *entry.expr_mut() = new;
                }
                None => {
                    // Appended after the last entry, with the same terminator it had (a comma on
                    // one line, a newline in a block), which the last entry then needs too.
                    let last =
                        existing.iter().last().map(|(_, v)| v.terminator()).unwrap_or(ObjectValueTerminator::None);
                    let separator = match last {
                        ObjectValueTerminator::Newline => ObjectValueTerminator::Newline,
                        _ => ObjectValueTerminator::Comma,
                    };
                    // The space before `}` moves to the new last value: `{ a = "1", b = "2" }`.
                    let mut trailing = None;
                    if let Some((_, value)) = existing.iter_mut().last() {
                        value.set_terminator(separator);
                        if separator == ObjectValueTerminator::Comma {
                            trailing = value.expr().decor().suffix().cloned();
                            value.expr_mut().decor_mut().set_suffix("");
                        }
                    }
                    let mut expr = Expression::from(tag);
                    if let Some(suffix) = trailing {
                        expr.decor_mut().set_suffix(suffix);
                    }
                    let mut value = ObjectValue::new(expr);
                    value.set_terminator(last);
                    let mut key = hcl_edit::Decorated::new(Ident::new(env));
                    if separator == ObjectValueTerminator::Comma {
                        key.decor_mut().set_prefix(" ");
                    }
                    existing.insert(ObjectKey::Ident(key), value);
                }
            }
            return Ok(body.to_string());
        }
        _ => return Err(format!("image_tag of service \"{service}\" is neither a string nor a map")),
    };
    *value = replaced;
    Ok(body.to_string())
}

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
    match super::yaml::parse(&file, &mut problems) {
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

/// An HCL string literal of `text`, escaped.
fn literal(text: &str) -> String {
    Expression::from(text).to_string()
}

fn attribute_string(block: &Block, name: &str) -> Option<String> {
    match &block.body.get_attribute(name)?.value {
        Expression::String(s) => Some(s.value().clone()),
        _ => None,
    }
}

fn is_entry(block: &Block, image: &str, service: &str) -> bool {
    block.labels.first().is_some_and(|l| l.as_str() == image)
        && attribute_string(block, "service").as_deref() == Some(service)
}

/// Quarantines `image` of `service` in `environments`: appends a `quarantine` block, or puts an
/// existing entry for the same image and service back in force (new reason, `cleared` removed).
pub fn add_quarantine(
    text: &str,
    image: &str,
    service: &str,
    environments: &[String],
    reason: &str,
) -> Result<String, String> {
    let mut body: Body = hcl_edit::parser::parse_body(text).map_err(|e| e.to_string())?;
    let mut found = false;
    if let Some(block) = body.get_blocks_mut("quarantine").find(|b| is_entry(b, image, service)) {
        block.body.remove_attribute("cleared");
        let mut attribute = block.body.get_attribute_mut("reason").ok_or("a quarantine entry without a reason")?;
        let decor = attribute.value_mut().decor().clone();
        let mut new = Expression::from(reason);
        *new.decor_mut() = decor;
        *attribute.value_mut() = new;
        found = true;
    }
    if found {
        return Ok(body.to_string());
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let environments: Vec<String> = environments.iter().map(|e| literal(e)).collect();
    out.push_str(&format!(
        "\nquarantine {} {{\n  service      = {}\n  environments = [{}]\n  reason       = {}\n}}\n",
        literal(image),
        literal(service),
        environments.join(", "),
        literal(reason)
    ));
    Ok(out)
}

/// Clears the quarantine of `image` of `service`: sets `cleared = REASON` in its entry, which
/// stays as the record.
pub fn clear_quarantine(text: &str, image: &str, service: &str, reason: &str) -> Result<String, String> {
    let mut body: Body = hcl_edit::parser::parse_body(text).map_err(|e| e.to_string())?;
    let block = body
        .get_blocks_mut("quarantine")
        .find(|b| is_entry(b, image, service))
        .ok_or_else(|| format!("no `quarantine \"{image}\"` entry of service \"{service}\" here"))?;
    match block.body.get_attribute_mut("cleared") {
        Some(mut attribute) => {
            let decor = attribute.value_mut().decor().clone();
            let mut new = Expression::from(reason);
            *new.decor_mut() = decor;
            *attribute.value_mut() = new;
        }
        None => {
            // Written like the entry's other lines: two spaces in, on a line of its own.
            let mut attribute = Attribute::new(Ident::new("cleared"), Expression::from(reason));
            attribute.decor_mut().set_prefix("  ");
            attribute.value.decor_mut().set_prefix(" ");
            attribute.key.decor_mut().set_suffix(" ");
            block.body.push(attribute);
        }
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_the_rest_of_the_file() {
        let text = "# shop\nservice \"api\" {\n  port      = 8080 # the port\n  image_tag = { default = \"1.0\", prod = \"0.9\" }\n}\n";
        let edited = set_image_tag(text, "api", "prod", "1.0").unwrap();
        assert!(edited.contains("# the port") && edited.starts_with("# shop\n"), "{edited}");
        assert!(edited.contains("prod = \"1.0\""), "{edited}");
        let single = "service \"api\" {\n  image_tag = \"1.0\"\n}\n";
        let edited = set_image_tag(single, "api", "prod", "2.0").unwrap();
        let reparsed = hcl_edit::parser::parse_body(&edited).unwrap().to_string();
        assert!(
            reparsed.contains("default") && reparsed.contains("\"1.0\"") && reparsed.contains("\"2.0\""),
            "{edited}"
        );
        assert!(set_image_tag(single, "web", "prod", "2.0").is_err());
    }

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

    #[test]
    fn quarantine_entries_are_added_and_cleared_in_place() {
        let text = "# shop\nservice \"api\" {\n  image_tag = \"1.0\"\n}\n";
        let added =
            add_quarantine(text, "1.1-bad", "api", &["prod".into()], "aborted by \"analysis\" (INC-1)").unwrap();
        assert!(added.starts_with(text), "{added}");
        assert!(
            added.contains("quarantine \"1.1-bad\" {\n  service      = \"api\"\n  environments = [\"prod\"]\n"),
            "{added}"
        );
        assert!(added.contains(r#"reason       = "aborted by \"analysis\" (INC-1)""#), "{added}");
        let cleared = clear_quarantine(&added, "1.1-bad", "api", "the leak was the cache, fixed (INC-1)").unwrap();
        assert!(cleared.starts_with(&added[..added.len() - 2]), "{cleared}");
        assert!(cleared.ends_with("  cleared = \"the leak was the cache, fixed (INC-1)\"\n}\n"), "{cleared}");
        // Quarantined again: the same entry, in force, with the new reason.
        let again = add_quarantine(&cleared, "1.1-bad", "api", &["prod".into()], "aborted again by analysis").unwrap();
        assert!(
            !again.contains("cleared") && again.contains("aborted again") && again.matches("quarantine").count() == 1,
            "{again}"
        );
        assert!(clear_quarantine(text, "1.1-bad", "api", "no such entry here at all").is_err());
        assert!(clear_quarantine(&added, "1.1-bad", "web", "another service's entry").is_err());
    }
}
