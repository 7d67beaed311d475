//! Editing a catalog file in place (for `promote`), keeping its formatting and comments: only
//! the one value changes, so the pull request shows one line.

use hcl_edit::expr::{Expression, Object, ObjectKey, ObjectValue, ObjectValueTerminator};
use hcl_edit::structure::Body;
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
}
