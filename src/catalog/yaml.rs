//! YAML catalog files → `Node` tree, built from yaml-rust2's marked events so spans survive.

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::problem::{Problem, Problems};
use super::source::{SourceFile, Span};
use super::tree::{Entry, Node, Value};
use crate::rules;

pub fn parse(file: &Arc<SourceFile>, problems: &mut Problems) -> Option<Node> {
    let mut builder = Builder::new(file);
    let mut parser = Parser::new_from_str(&file.text);
    // Every document is read, so that a second one is reported rather than silently dropped.
    if let Err(err) = parser.load(&mut builder, true) {
        let offset = builder.byte_offset(err.marker().index());
        problems.push(
            Problem::new(
                rules::SYNTAX,
                &Span::new(file, offset..offset + 1),
                format!("YAML syntax error: {}", err.info()),
            )
            .label("cannot parse here")
            .help("check indentation and quoting just before this position"),
        );
        return None;
    }
    let failed = builder.stopped;
    for problem in builder.problems {
        problems.push(problem);
    }
    match builder.root {
        // An empty file is an empty catalog fragment, not an error.
        None | Some(Node { value: Value::Null, .. }) => {
            (!failed).then(|| Node { span: Span::new(file, 0..0), value: Value::Map(Vec::new()) })
        }
        Some(root @ Node { value: Value::Map(_), .. }) => (!failed).then_some(root),
        Some(root) => {
            problems.push(
                Problem::new(
                    rules::WRONG_TYPE,
                    &root.span,
                    format!(
                        "a catalog file must be a mapping of `platform`, `services`, …; this one is {}",
                        root.value.type_name()
                    ),
                )
                .label("expected a mapping")
                .help("write `platform:`, `services:` … at the top level, without a leading `-`"),
            );
            None
        }
    }
}

enum Frame {
    List(Span, Vec<Node>),
    /// Entries so far, plus a key waiting for its value.
    Map(Span, Vec<Entry>, Option<(String, Span)>),
}

/// Alias expansion is bounded: a few hundred bytes of nested aliases (a "billion laughs") would
/// otherwise expand to gigabytes. No real catalog comes near these.
const MAX_ALIASES: usize = 1_000;
const MAX_EXPANDED_NODES: usize = 100_000;

struct Builder<'a> {
    file: &'a Arc<SourceFile>,
    /// Byte offset of every char, since the parser counts chars and spans count bytes.
    char_to_byte: Vec<usize>,
    stack: Vec<(Frame, usize)>,
    /// Each anchored node with its size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    problems: Vec<Problem>,
    documents: usize,
    aliases: usize,
    expanded: usize,
    /// Set once a limit is hit: the rest of the file is not built.
    stopped: bool,
}

impl<'a> Builder<'a> {
    fn new(file: &'a Arc<SourceFile>) -> Self {
        let mut char_to_byte: Vec<usize> = file.text.char_indices().map(|(i, _)| i).collect();
        char_to_byte.push(file.text.len());
        Builder {
            file,
            char_to_byte,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            problems: Vec::new(),
            documents: 0,
            aliases: 0,
            expanded: 0,
            stopped: false,
        }
    }

    fn byte_offset(&self, char_index: usize) -> usize {
        self.char_to_byte.get(char_index).copied().unwrap_or(self.file.text.len())
    }

    fn span_at(&self, mark: Marker, chars: usize) -> Span {
        let start = self.byte_offset(mark.index());
        let end = self.byte_offset(mark.index() + chars);
        Span::new(self.file, start..end)
    }

    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let size = node_size(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some((Frame::List(_, items), _)) => items.push(node),
            Some((Frame::Map(_, entries, pending), _)) => match pending.take() {
                // A key written twice is reported, and the first one kept: never last-wins.
                Some((key, key_span)) => match entries.iter().find(|e| e.key == key) {
                    Some(first) => {
                        let first_at = first.key_span.location();
                        self.problems.push(
                            Problem::new(
                                rules::DUPLICATE,
                                &key_span,
                                format!("`{key}` is written twice in one mapping"),
                            )
                            .label("second definition")
                            .help(format!("remove one of them; the first is at {first_at}")),
                        );
                    }
                    None => entries.push(Entry { key, key_span, node }),
                },
                None => match node.value {
                    Value::Str(key) => *pending = Some((key, node.span)),
                    Value::Int(i) => *pending = Some((i.to_string(), node.span)),
                    Value::Bool(b) => *pending = Some((b.to_string(), node.span)),
                    _ => self.problems.push(
                        Problem::new(rules::SYNTAX, &node.span, "map keys must be plain names")
                            .help("use a string key"),
                    ),
                },
            },
        }
    }
}

fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            if let Ok(i) = text.parse::<i64>() {
                Value::Int(i)
            } else if text.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '.')
                && text.parse::<f64>().is_ok()
            {
                Value::Float(text.parse().unwrap_or(f64::NAN))
            } else {
                Value::Str(text.to_string())
            }
        }
    }
}

/// The number of nodes in a tree.
fn node_size(node: &Node) -> usize {
    1 + match &node.value {
        Value::List(items) => items.iter().map(node_size).sum(),
        Value::Map(entries) => entries.iter().map(|e| node_size(&e.node)).sum(),
        _ => 0,
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.stopped {
            return;
        }
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let width = text.chars().count() + if quoted { 2 } else { 0 };
                let span = self.span_at(mark, width.max(1));
                let value = if quoted { Value::Str(text) } else { plain_scalar(&text) };
                self.complete(Node { span, value }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                let span = self.span_at(mark, 1);
                self.stack.push((Frame::List(span, Vec::new()), anchor));
            }
            Event::MappingStart(anchor, _) => {
                let span = self.span_at(mark, 1);
                self.stack.push((Frame::Map(span, Vec::new(), None), anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((frame, anchor)) = self.stack.pop() {
                    let node = match frame {
                        Frame::List(span, items) => Node { span, value: Value::List(items) },
                        Frame::Map(span, entries, _) => Node { span, value: Value::Map(entries) },
                    };
                    self.complete(node, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((node, size)) => {
                    self.aliases += 1;
                    self.expanded = self.expanded.saturating_add(*size);
                    if self.aliases > MAX_ALIASES || self.expanded > MAX_EXPANDED_NODES {
                        let span = self.span_at(mark, 1);
                        self.problems.push(
                            Problem::new(
                                rules::SYNTAX,
                                &span,
                                format!(
                                    "YAML aliases expand too far (more than {MAX_ALIASES} aliases or {MAX_EXPANDED_NODES} nodes)"
                                ),
                            )
                            .label("expansion stopped here")
                            .help("write the values out, or use a profile for what services share"),
                        );
                        self.stopped = true;
                        return;
                    }
                    let node = node.clone();
                    self.complete(node, 0)
                }
                None => {
                    let span = self.span_at(mark, 1);
                    self.problems.push(
                        Problem::new(rules::SYNTAX, &span, "alias refers to an unknown anchor")
                            .help("define the anchor (&name) before using it (*name)"),
                    );
                }
            },
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    let span = self.span_at(mark, 3);
                    self.problems.push(
                        Problem::new(rules::SYNTAX, &span, "a second YAML document in one catalog file")
                            .label("second document starts here")
                            .help("put each document in a file of its own, or remove the `---` line"),
                    );
                    self.stopped = true;
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}
