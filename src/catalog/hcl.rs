//! HCL catalog files → `Node` tree (via hcl-edit, which keeps byte spans).
//!
//! Top-level labelled blocks group under their plural key (`service "a" {}` → `services.a`), the
//! same shape a YAML catalog writes directly; unlabelled blocks are plain nested maps.

use std::sync::Arc;

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span as _;

use super::problem::{Problem, Problems};
use super::source::{SourceFile, Span};
use super::tree::{Entry, Node, Value};
use crate::rules;

/// Block types that carry a name label at the top level, and the key they group under.
pub const LABELLED_BLOCKS: &[(&str, &str)] = &[
    ("service", "services"),
    ("environment", "environments"),
    ("notification", "notifications"),
    ("profile", "profiles"),
    ("cluster", "clusters"),
    ("quarantine", "quarantines"),
];

pub fn parse(file: &Arc<SourceFile>, problems: &mut Problems) -> Option<Node> {
    match parse_body(file) {
        Ok(body) => Some(Converter { file, problems }.top_level(&body)),
        Err(problem) => {
            problems.push(*problem);
            None
        }
    }
}

/// hcl-edit's tree of the file, or its syntax error located as a problem.
pub fn parse_body(file: &Arc<SourceFile>) -> Result<Body, Box<Problem>> {
    hcl_edit::parser::parse_body(&file.text).map_err(|err| {
        let offset = err.location().offset();
        let span = Span::new(file, offset..offset + 1);
        Box::new(
            Problem::new(rules::SYNTAX, &span, format!("HCL syntax error: {}", err.message()))
                .label("cannot parse here")
                .help("check for a missing `=`, `}` or quote just before this position"),
        )
    })
}

struct Converter<'a> {
    file: &'a Arc<SourceFile>,
    problems: &'a mut Problems,
}

impl Converter<'_> {
    fn span(&self, range: Option<std::ops::Range<usize>>) -> Span {
        Span::new(self.file, range.unwrap_or(0..0))
    }

    fn top_level(&mut self, body: &Body) -> Node {
        let mut entries: Vec<Entry> = Vec::new();
        for structure in body.iter() {
            match structure {
                Structure::Block(block) if !block.labels.is_empty() => {
                    let ident = block.ident.as_str();
                    let key = LABELLED_BLOCKS
                        .iter()
                        .find(|(singular, _)| *singular == ident)
                        .map(|(_, plural)| plural.to_string())
                        .unwrap_or_else(|| ident.to_string());
                    let ident_span = self.span(block.ident.span());
                    if block.labels.len() > 1 {
                        self.problems.push(
                            Problem::new(
                                rules::SYNTAX,
                                &ident_span,
                                format!("block `{ident}` has {} labels", block.labels.len()),
                            )
                            .help(format!("give it exactly one name: {ident} \"name\" {{ … }}")),
                        );
                        continue;
                    }
                    let label = &block.labels[0];
                    let label_span = self.span(label.span());
                    let inner = Node { span: self.span(block.span()), value: Value::Map(self.body(&block.body)) };
                    let named = Entry { key: label.as_str().to_string(), key_span: label_span, node: inner };
                    match entries.iter_mut().find(|e| e.key == key) {
                        Some(Entry { node: Node { value: Value::Map(group), .. }, .. }) => group.push(named),
                        _ => entries.push(Entry {
                            key,
                            key_span: ident_span.clone(),
                            node: Node { span: ident_span, value: Value::Map(vec![named]) },
                        }),
                    }
                }
                other => {
                    if let Some(entry) = self.structure(other) {
                        entries.push(entry);
                    }
                }
            }
        }
        Node { span: Span::new(self.file, 0..0), value: Value::Map(entries) }
    }

    fn body(&mut self, body: &Body) -> Vec<Entry> {
        body.iter().filter_map(|s| self.structure(s)).collect()
    }

    fn structure(&mut self, structure: &Structure) -> Option<Entry> {
        match structure {
            Structure::Attribute(attr) => {
                let key_span = self.span(attr.key.span());
                let node = self.expression(&attr.value)?;
                Some(Entry { key: attr.key.as_str().to_string(), key_span, node })
            }
            Structure::Block(block) => {
                let key_span = self.span(block.ident.span());
                if let Some(label) = block.labels.first() {
                    self.problems.push(
                        Problem::new(
                            rules::SYNTAX,
                            &self.span(label.span()),
                            format!("block `{}` takes no label here", block.ident.as_str()),
                        )
                        .help(format!("write `{} {{ … }}` without the name", block.ident.as_str())),
                    );
                }
                let node = Node { span: self.span(block.span()), value: Value::Map(self.body(&block.body)) };
                Some(Entry { key: block.ident.as_str().to_string(), key_span, node })
            }
        }
    }

    fn expression(&mut self, expr: &Expression) -> Option<Node> {
        let span = self.span(expr.span());
        let value = match expr {
            Expression::Null(_) => Value::Null,
            Expression::Bool(b) => Value::Bool(*b.value()),
            Expression::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Expression::String(s) => Value::Str(s.value().clone()),
            Expression::Array(array) => Value::List(array.iter().filter_map(|e| self.expression(e)).collect()),
            Expression::Object(object) => {
                let mut entries = Vec::new();
                for (key, value) in object.iter() {
                    let (name, key_span) = match key {
                        ObjectKey::Ident(ident) => (ident.as_str().to_string(), self.span(ident.span())),
                        ObjectKey::Expression(Expression::String(s)) => (s.value().clone(), self.span(s.span())),
                        ObjectKey::Expression(other) => {
                            self.problems.push(
                                Problem::new(
                                    rules::SYNTAX,
                                    &self.span(other.span()),
                                    "object keys must be names or quoted strings",
                                )
                                .help("write the key as `name = …` or `\"name\" = …`"),
                            );
                            continue;
                        }
                    };
                    if let Some(node) = self.expression(value.expr()) {
                        entries.push(Entry { key: name, key_span, node });
                    }
                }
                Value::Map(entries)
            }
            Expression::Variable(var) => {
                let name = var.as_str();
                self.problems.push(
                    Problem::new(rules::SYNTAX, &span, format!("`{name}` is a bare word, not a value"))
                        .label("unquoted")
                        .help(format!("catalogs are plain data: quote it as \"{name}\"")),
                );
                return None;
            }
            _ => {
                self.problems.push(
                    Problem::new(
                        rules::SYNTAX,
                        &span,
                        "expressions, interpolation and function calls are not supported",
                    )
                    .label("computed value")
                    .help("catalogs are plain data; use a literal value, or a profile for shared settings"),
                );
                return None;
            }
        };
        Some(Node { span, value })
    }
}
