//! HCL catalog files, edited through hcl-edit's syntax tree so comments and layout stay.

use hcl_edit::expr::{Expression, Object, ObjectKey, ObjectValue, ObjectValueTerminator};
use hcl_edit::structure::{Attribute, Block, Body};
use hcl_edit::{Decorate, Ident};

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
