//! Reading typed fields out of `Node` maps while collecting problems: wrong types, missing and
//! unknown fields (with a did-you-mean), duplicate keys. Nothing here stops at the first problem.

use super::problem::{Problem, Problems};
use super::schema::table::Block;
use super::source::Span;
use super::tree::{Entry, Node, Value};
use super::values::Duration;
use crate::rules;

/// A value together with where it was written.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// Reads the fields of one block; `finish` reports whatever was written but never asked for.
pub struct Fields<'a> {
    entries: &'a [Entry],
    /// The table entry of this block: every field the decoder asks for must be declared there,
    /// so the JSON Schema generated from the table never falls behind the decoder.
    block: &'static Block,
    /// Where the block starts, for "missing field" problems.
    pub span: Span,
    /// "service \"payment-service\"": how problems name the block.
    pub context: String,
    asked: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    pub fn of(
        node: &'a Node,
        block: &'static Block,
        context: impl Into<String>,
        problems: &mut Problems,
    ) -> Option<Self> {
        let context = context.into();
        match &node.value {
            Value::Map(entries) => Some(Fields { entries, block, span: node.span.clone(), context, asked: Vec::new() }),
            other => {
                problems.push(
                    Problem::new(
                        rules::WRONG_TYPE,
                        &node.span,
                        format!("{context} must be a block, found {}", other.type_name()),
                    )
                    .label("expected a block")
                    .help("write it as `name { field = value }` in HCL or a mapping in YAML"),
                );
                None
            }
        }
    }

    /// The node written for `name`, if any. The last occurrence wins; duplicates are reported.
    pub fn node(&mut self, name: &'static str) -> Option<&'a Node> {
        debug_assert!(
            self.block.field(name).is_some(),
            "the decoder reads `{name}` in the `{}` block, which catalog::schema::table does not declare",
            self.block.id
        );
        if !self.asked.contains(&name) {
            self.asked.push(name);
        }
        self.entries.iter().rev().find(|e| e.key == name).map(|e| &e.node)
    }

    pub fn string(&mut self, name: &'static str, problems: &mut Problems) -> Option<Spanned<String>> {
        let context = format!("`{name}` in {}", self.context);
        self.node(name).and_then(|n| expect_string(n, &context, problems))
    }

    pub fn required_string(
        &mut self,
        name: &'static str,
        example: &str,
        problems: &mut Problems,
    ) -> Option<Spanned<String>> {
        let present = self.entries.iter().any(|e| e.key == name);
        if !present {
            self.missing(name, example, problems);
            let _ = self.node(name);
            return None;
        }
        self.string(name, problems)
    }

    pub fn int(&mut self, name: &'static str, problems: &mut Problems) -> Option<Spanned<i64>> {
        let context = format!("`{name}` in {}", self.context);
        self.node(name).and_then(|n| expect_int(n, &context, problems))
    }

    pub fn boolean(&mut self, name: &'static str, problems: &mut Problems) -> Option<Spanned<bool>> {
        let context = format!("`{name}` in {}", self.context);
        let node = self.node(name)?;
        match node.value {
            Value::Bool(b) => Some(Spanned::new(b, node.span.clone())),
            _ => {
                problems.push(
                    wrong_type(node, &context, "true or false")
                        .help(format!("write `{name} = true` or `{name} = false`, without quotes")),
                );
                None
            }
        }
    }

    pub fn strings(&mut self, name: &'static str, problems: &mut Problems) -> Option<Vec<Spanned<String>>> {
        let context = format!("`{name}` in {}", self.context);
        self.node(name).and_then(|n| expect_strings(n, &context, problems))
    }

    /// A string field checked by `parse`; a malformed value is reported at its span with `help`.
    pub fn parsed<T>(
        &mut self,
        name: &'static str,
        problems: &mut Problems,
        parse: impl Fn(&str) -> Result<T, String>,
        help: &str,
    ) -> Option<Spanned<T>> {
        let text = self.string(name, problems)?;
        match parse(&text.value) {
            Ok(value) => Some(Spanned::new(value, text.span)),
            Err(reason) => {
                problems.push(
                    Problem::new(rules::MALFORMED_VALUE, &text.span, format!("`{name}` in {}: {reason}", self.context))
                        .label("malformed")
                        .help(help.to_string()),
                );
                None
            }
        }
    }

    /// A duration field that must lie within `min..=max` (`catalog::out-of-range` otherwise):
    /// rendered as int32 seconds or used as a divisor, an unbounded one would overflow or mislead.
    pub fn duration_within(
        &mut self,
        name: &'static str,
        (min, max): (Duration, Duration),
        problems: &mut Problems,
        help: &str,
    ) -> Option<Spanned<Duration>> {
        let d = self.parsed(name, problems, Duration::parse, help)?;
        if d.value < min || d.value > max {
            problems.push(
                Problem::new(rules::OUT_OF_RANGE, &d.span, format!("`{name}` in {} is {}", self.context, d.value))
                    .label("out of range")
                    .help(format!("use a duration from {min} to {max}")),
            );
            return None;
        }
        Some(d)
    }

    pub fn missing(&self, name: &str, example: &str, problems: &mut Problems) {
        problems.push(
            Problem::new(
                rules::MISSING_FIELD,
                &self.span,
                format!("{} is missing required field `{name}`", self.context),
            )
            .label("in this block")
            .help(format!("add `{example}`")),
        );
    }

    /// Reports duplicate keys and fields nobody asked for (with the closest known name).
    pub fn finish(self, problems: &mut Problems) {
        for (i, entry) in self.entries.iter().enumerate() {
            if let Some(first) = self.entries[..i].iter().find(|e| e.key == entry.key) {
                problems.push(
                    Problem::new(
                        rules::DUPLICATE,
                        &entry.key_span,
                        format!("`{}` is set twice in {}", entry.key, self.context),
                    )
                    .label("second definition")
                    .help(format!("remove one of them; the first is at {}", first.key_span.location())),
                );
            }
            if !self.asked.contains(&entry.key.as_str()) {
                // Suggestions come from the table: every field the block takes, even those this
                // decoder skipped because of an earlier problem.
                let known: Vec<&str> = self.block.fields.iter().map(|f| f.name).collect();
                let help = match closest(&entry.key, &known) {
                    Some(known) => format!("did you mean `{known}`?"),
                    None => format!("known fields here: {}", known.join(", ")),
                };
                problems.push(
                    Problem::new(
                        rules::UNKNOWN_FIELD,
                        &entry.key_span,
                        format!("unknown field `{}` in {}", entry.key, self.context),
                    )
                    .label("not a known field")
                    .help(help),
                );
            }
        }
    }
}

pub fn wrong_type(node: &Node, context: &str, expected: &str) -> Problem {
    Problem::new(
        rules::WRONG_TYPE,
        &node.span,
        format!("{context} must be {expected}, found {}", node.value.type_name()),
    )
    .label(format!("expected {expected}"))
}

pub fn expect_string(node: &Node, context: &str, problems: &mut Problems) -> Option<Spanned<String>> {
    match &node.value {
        Value::Str(s) => match super::text::control_character(s) {
            // Every catalog string lands in YAML, labels, shell variables or files kept by line.
            Some(c) => {
                problems.push(
                    Problem::new(
                        rules::CONTROL_CHARACTER,
                        &node.span,
                        format!(
                            "{context} holds {}: {}",
                            super::text::describe(c),
                            crate::redact::text(s).escape_default()
                        ),
                    )
                    .label("control character")
                    .help("write the value on one line, without control characters"),
                );
                None
            }
            None => Some(Spanned::new(s.clone(), node.span.clone())),
        },
        _ => {
            let quoted = match &node.value {
                Value::Int(i) => format!("quote it: \"{i}\""),
                Value::Bool(b) => format!("quote it: \"{b}\""),
                _ => "write a quoted string".to_string(),
            };
            problems.push(wrong_type(node, context, "a string").help(quoted));
            None
        }
    }
}

pub fn expect_int(node: &Node, context: &str, problems: &mut Problems) -> Option<Spanned<i64>> {
    match &node.value {
        Value::Int(i) => Some(Spanned::new(*i, node.span.clone())),
        Value::Str(s) if s.trim().parse::<i64>().is_ok() => {
            problems.push(wrong_type(node, context, "a whole number").help(format!("remove the quotes: {s}")));
            None
        }
        _ => {
            problems.push(wrong_type(node, context, "a whole number").help("write a number without quotes, e.g. 3"));
            None
        }
    }
}

pub fn expect_strings(node: &Node, context: &str, problems: &mut Problems) -> Option<Vec<Spanned<String>>> {
    match &node.value {
        Value::List(items) => {
            let mut out = Vec::new();
            for item in items {
                out.push(expect_string(item, &format!("each item of {context}"), problems)?);
            }
            Some(out)
        }
        _ => {
            problems.push(wrong_type(node, context, "a list of strings").help("write a list: [\"a\", \"b\"]"));
            None
        }
    }
}

/// The known name closest to a misspelt one, if it is close enough to be a plausible typo.
pub fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_plausible_typos() {
        assert_eq!(closest("replica", &["replicas", "repo", "port"]), Some("replicas"));
        assert_eq!(closest("canry", &["canary", "blue_green"]), Some("canary"));
        assert_eq!(closest("colour", &["port", "team"]), None);
    }
}
