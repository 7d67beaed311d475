use std::collections::BTreeSet;

use super::table::{Block, Shape, CATALOG, SECRET_REF};
use super::*;

fn blocks() -> Vec<&'static Block> {
    fn walk(block: &'static Block, out: &mut Vec<&'static Block>) {
        if out.iter().any(|b| std::ptr::eq(*b, block)) {
            return;
        }
        out.push(block);
        for field in block.fields {
            if let Shape::Block(b) | Shape::Named(b) | Shape::Images(b) = field.shape {
                walk(b, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&CATALOG, &mut out);
    walk(&SECRET_REF, &mut out);
    out
}

#[test]
fn every_block_has_its_own_id_and_each_field_once() {
    let mut ids = BTreeSet::new();
    for block in blocks() {
        assert!(ids.insert(block.id), "two blocks are called {}", block.id);
        let mut names = BTreeSet::new();
        for field in block.fields {
            assert!(names.insert(field.name), "{} declares `{}` twice", block.id, field.name);
            assert!(!field.doc.is_empty(), "{}.{} has no description", block.id, field.name);
        }
    }
}

#[test]
fn every_block_is_defined_and_every_reference_resolves() {
    let schema = catalog_schema();
    let defs = schema["$defs"].as_object().expect("$defs");
    for block in blocks().into_iter().filter(|b| b.id != CATALOG.id) {
        assert!(defs.contains_key(block.id), "{} is not in $defs", block.id);
    }
    let text = schema.to_string();
    for reference in text.split("\"#/$defs/").skip(1) {
        let id = &reference[..reference.find('"').expect("closing quote")];
        assert!(defs.contains_key(id), "$ref to {id}, which is not defined");
    }
}

#[test]
fn a_service_requires_its_fields_unless_it_uses_a_profile_and_a_profile_requires_none() {
    let schema = catalog_schema();
    let service = &schema["$defs"]["service"];
    assert_eq!(service["if"], json!({ "not": { "required": ["use"] } }));
    let required = service["then"]["required"].as_array().expect("required list");
    for name in ["repo", "team", "port", "image_tag"] {
        assert!(required.contains(&json!(name)), "{name} is not required: {required:?}");
    }
    assert!(schema["$defs"]["profile"].get("then").is_none());
    assert!(schema["$defs"]["profile"].get("required").is_none());
}
