//! The catalog's JSON Schema, generated from the field table the decoder reads by
//! (`table`). Editors use it to complete and check YAML catalogs
//! (`# yaml-language-server: $schema=…`); it says what a file may contain on its own, while
//! references between files (environments, profiles, routes) stay `validate`'s job.

pub mod table;

use serde_json::{json, Map, Value};

use super::model::MIN_REASON_CHARS;

use table::{Block, Shape, CATALOG, SECRET_REF};

/// Where the published schema lives, for `$id` and the YAML modeline.
pub const SCHEMA_ID: &str = "https://glidepath.dev/schema/catalog.json";

/// The JSON Schema (draft 2020-12) of one catalog file.
pub fn catalog_schema() -> Value {
    let mut defs = Map::new();
    collect(&CATALOG, &mut defs);
    collect(&SECRET_REF, &mut defs);
    let mut root = block_schema(&CATALOG);
    let root = root.as_object_mut().expect("a block's schema is an object");
    let mut schema = Map::new();
    schema.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    schema.insert("$id".into(), json!(SCHEMA_ID));
    schema.insert("title".into(), json!("glidepath catalog file"));
    schema.append(root);
    schema.insert("$defs".into(), Value::Object(defs));
    Value::Object(schema)
}

/// Every block reachable from `block`, each defined once under its id.
fn collect(block: &'static Block, defs: &mut Map<String, Value>) {
    if block.id != CATALOG.id {
        if defs.contains_key(block.id) {
            return;
        }
        defs.insert(block.id.into(), block_schema(block));
    }
    for field in block.fields {
        if let Some(inner) = nested(&field.shape) {
            collect(inner, defs);
        }
    }
}

fn nested(shape: &Shape) -> Option<&'static Block> {
    match shape {
        Shape::Block(b) | Shape::Named(b) | Shape::Images(b) => Some(b),
        _ => None,
    }
}

fn block_schema(block: &Block) -> Value {
    let properties: Map<String, Value> = block
        .fields
        .iter()
        .map(|f| {
            let mut schema = shape_schema(&f.shape);
            schema.as_object_mut().expect("shapes are objects").insert("description".into(), json!(f.doc));
            (f.name.to_string(), schema)
        })
        .collect();
    let required: Vec<&str> = block.fields.iter().filter(|f| f.required).map(|f| f.name).collect();
    let mut schema = json!({
        "type": "object",
        "description": block.doc,
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty() && block.id != table::PROFILE.id {
        let required = json!({ "required": required });
        // A service that names a profile may take any required field from it.
        let rule = if block.field("use").is_some() {
            json!({ "if": { "not": { "required": ["use"] } }, "then": required })
        } else {
            required
        };
        schema.as_object_mut().expect("object").extend(rule.as_object().expect("object").clone());
    }
    schema
}

fn shape_schema(shape: &Shape) -> Value {
    match shape {
        Shape::Text => json!({ "type": "string" }),
        Shape::Choice(names) => json!({ "type": "string", "enum": names() }),
        Shape::Int { min, max } => json!({ "type": "integer", "minimum": min, "maximum": max }),
        Shape::Number { min } => json!({ "type": "number", "minimum": min }),
        Shape::Bool => json!({ "type": "boolean" }),
        // `Duration::parse`: whole numbers with units, e.g. "1m30s".
        Shape::Duration => json!({ "type": "string", "pattern": r"^\s*([0-9]+(ms|s|m|h))+\s*$" }),
        // `Percent::parse`: a number and `%`, range-checked by `validate`.
        Shape::Percent => json!({ "type": "string", "pattern": r"%\s*$" }),
        Shape::IntOrPercent => json!({
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": r"^[0-9.]+%?$" }
            ]
        }),
        // `parse_quantity` decides the units; the schema only rules out what is not a quantity.
        Shape::Quantity => json!({ "type": "string", "pattern": r"^[0-9.]+[A-Za-z]*$" }),
        Shape::Texts => json!({ "type": "array", "items": { "type": "string" } }),
        Shape::Choices(names) => json!({ "type": "array", "items": { "type": "string", "enum": names() } }),
        Shape::Ints => json!({ "type": "array", "items": { "type": "integer" } }),
        Shape::PerEnvironment(inner) => {
            let inner = shape_schema(inner);
            json!({
                "anyOf": [
                    inner,
                    {
                        "type": "object",
                        "description": "per environment: ENV = value, and `default` for the others",
                        "additionalProperties": inner
                    }
                ]
            })
        }
        Shape::Block(block) => reference(block),
        Shape::Named(block) => json!({
            "type": "object",
            "propertyNames": { "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" },
            "additionalProperties": reference(block)
        }),
        Shape::Images(block) => json!({
            "type": "object",
            // What the decoder accepts as an image_tag: a tag, or a sha256 digest.
            "propertyNames": { "pattern": "^(sha256:[0-9a-f]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$" },
            "additionalProperties": reference(block)
        }),
        Shape::Reasons(keys) => json!({
            "type": "object",
            "propertyNames": { "enum": keys() },
            // At least MIN_REASON_CHARS once trimmed, as the decoder counts.
            "additionalProperties": {
                "type": "string",
                "pattern": format!(r"^\s*\S.{{{},}}\S\s*$", MIN_REASON_CHARS - 2)
            }
        }),
        Shape::EnvVars => json!({
            "type": "object",
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": { "anyOf": [{ "type": "string" }, reference(&SECRET_REF)] }
        }),
    }
}

fn reference(block: &Block) -> Value {
    json!({ "$ref": format!("#/$defs/{}", block.id) })
}

#[cfg(test)]
mod tests;
