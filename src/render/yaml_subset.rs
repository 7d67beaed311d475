//! A fast reader for the narrow YAML our own templates write, straight into JSON values.
//!
//! Why: parsing template output with libyaml (serde_norway) was ~43% of the CPU time of `check`
//! on a 3,000-service catalog, and most of those bytes are the compact JSON documents the
//! templates' escaping formatter writes for every `{{ value }}` (`templates.rs`), which
//! serde_json reads many times faster than libyaml's scanner.
//!
//! What it reads: block mappings whose keys are simple plain words or JSON strings, block
//! sequences (`- `, indented under their key), comment and blank lines, literal blocks (`|`,
//! `|-`), and values that are JSON documents or strings, or one-line plain scalars whose meaning
//! is obvious (`TCP`, `5`, `true`, `/tmp`). It **refuses** (returns `None`) everything else:
//! anchors, aliases, tags, flow collections that are not JSON, several documents, tabs, folded
//! blocks, indentation indicators, plain scalars YAML could read as anything but an obvious
//! string, integer, boolean or null (`0755`, `1e3`, `.inf`, `yes`, `-1`), duplicate keys,
//! multi-line plain scalars, floats (serde_json's float parsing may round differently from
//! Rust's, which serde_norway uses) and so on. Every caller falls back to serde_norway on a
//! refusal, so correctness never depends on this reader being complete, only on what it
//! accepts reading exactly as serde_norway does (`tests/yaml_subset.rs` holds it to that for
//! every template output of the examples and fixtures, plus random documents).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde_json::{Map, Value};

/// Nesting (block and JSON levels together) above which the reader refuses: serde_norway and
/// serde_json each stop at 128 levels, counted differently, so stay well below both.
const MAX_DEPTH: usize = 64;

/// libyaml refuses implicit keys longer than 1024 characters; a key's escaped text is at most
/// six times its length plus quotes, so keys up to this many bytes are safely below that.
const MAX_KEY_BYTES: usize = 128;

/// The document `text` holds, or `None` when it is not in the subset this reader is sure of.
pub fn parse(text: &str) -> Option<Value> {
    record(text);
    if !text.chars().all(plain_character) {
        return None;
    }
    let mut parser = Parser { lines: text.split('\n').collect(), pos: 0, depth: 0 };
    // The templates write one block mapping starting at column 0.
    let first = parser.peek().ok()??;
    if first.indent != 0 {
        return None;
    }
    let value = parser.mapping(0).ok()?;
    match parser.peek() {
        Ok(None) => Some(value),
        _ => None,
    }
}

/// `text` as a JSON value: by [`parse`] when it can, else by serde_norway (whose error, if the
/// text is not YAML, is the one reported).
pub fn from_str(text: &str) -> Result<Value, serde_norway::Error> {
    match parse(text) {
        Some(value) => Ok(value),
        None => serde_norway::from_str(text),
    }
}

/// Whether `text` is a YAML document, as serde_norway decides: accepted by [`parse`] or, if not,
/// parsed by serde_norway (its error returned as before this reader existed).
pub fn validate(text: &str) -> Result<(), serde_norway::Error> {
    match parse(text) {
        Some(_) => Ok(()),
        None => serde_norway::from_str::<serde_norway::Value>(text).map(drop),
    }
}

/// Characters the reader lets through anywhere: printable YAML characters that are not line
/// breaks other than `\n` (a raw NEL or U+2028 inside a JSON string would be folded by YAML)
/// and not tabs (which YAML refuses in indentation and treats as blanks elsewhere).
fn plain_character(c: char) -> bool {
    match c {
        '\n' => true,
        c if c.is_control() => false,
        '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    }
}

/// Refusal: the text is not in the subset (it may well be YAML; serde_norway decides).
struct Refused;

type Read<T> = Result<T, Refused>;

#[derive(Clone, Copy)]
struct Line<'t> {
    indent: usize,
    /// The line after its indentation.
    text: &'t str,
}

struct Parser<'t> {
    lines: Vec<&'t str>,
    /// The next line not yet read.
    pos: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    /// The next line that holds content, skipping blank and comment lines; `None` at the end.
    fn peek(&mut self) -> Read<Option<Line<'t>>> {
        while let Some(line) = self.lines.get(self.pos) {
            let text = line.trim_start_matches(' ');
            if text.is_empty() || text.starts_with('#') {
                self.pos += 1;
                continue;
            }
            return Ok(Some(Line { indent: line.len() - text.len(), text }));
        }
        Ok(None)
    }

    fn enter(&mut self) -> Read<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Refused);
        }
        Ok(())
    }

    /// The block mapping whose keys start at column `indent`, from the next content line.
    fn mapping(&mut self, indent: usize) -> Read<Value> {
        let Some(first) = self.peek()? else { return Err(Refused) };
        self.pos += 1;
        self.mapping_from(indent, first.text)
    }

    /// The block mapping at column `indent` whose first key line (`first`, already consumed) may
    /// sit after a sequence's `- `.
    fn mapping_from(&mut self, indent: usize, first: &'t str) -> Read<Value> {
        self.enter()?;
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut line = first;
        loop {
            let (key, rest) = split_key(line)?.ok_or(Refused)?;
            let value = self.value_after_key(indent, rest)?;
            entries.push((key, value));
            match self.peek()? {
                Some(next) if next.indent == indent => {
                    self.pos += 1;
                    line = next.text;
                }
                // Deeper than the keys but not a value of one: a continuation line or bad
                // indentation, either way not ours.
                Some(next) if next.indent > indent => return Err(Refused),
                _ => break,
            }
        }
        self.depth -= 1;
        let count = entries.len();
        // Collected into a map of exactly their number (the parsed catalog is held whole).
        let map: Map<String, Value> = entries.into_iter().collect();
        if map.len() != count {
            // Duplicate keys: serde_norway decides what they mean.
            return Err(Refused);
        }
        Ok(Value::Object(map))
    }

    /// The block sequence whose `- ` starts at column `indent`.
    fn sequence(&mut self, indent: usize) -> Read<Value> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(line) = self.peek()? {
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return Err(Refused);
            }
            // Exactly one space after the dash, so a compact mapping's keys sit at `indent + 2`.
            let item = line.text.strip_prefix("- ").ok_or(Refused)?;
            if item.starts_with(' ') {
                return Err(Refused);
            }
            self.pos += 1;
            let value = match item {
                // A literal item (buildspec commands): its lines sit deeper than the dash.
                "|" => self.literal(indent, true)?,
                "|-" => self.literal(indent, false)?,
                _ if split_key(item)?.is_some() => self.mapping_from(indent + 2, item)?,
                _ => self.inline(item)?,
            };
            items.push(value);
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    /// The value of a key at column `key_column`, `rest` being what follows its `:` on the line.
    fn value_after_key(&mut self, key_column: usize, rest: &'t str) -> Read<Value> {
        if is_blank_or_comment(rest) {
            // The value is on the lines below, or the key has none.
            return match self.peek()? {
                Some(next) if next.indent > key_column => {
                    if next.text.starts_with("- ") || next.text == "-" {
                        self.sequence(next.indent)
                    } else {
                        self.mapping(next.indent)
                    }
                }
                // A sequence at the key's own column (YAML allows it; the templates indent).
                Some(next) if next.indent == key_column && next.text.starts_with('-') => Err(Refused),
                // serde_norway reads an empty value as null.
                _ => Ok(Value::Null),
            };
        }
        let value = rest.strip_prefix(' ').ok_or(Refused)?.trim_start_matches(' ');
        match value {
            "|" => self.literal(key_column, true),
            "|-" => self.literal(key_column, false),
            _ => self.inline(value),
        }
    }

    /// A value written on its line: a JSON document or string, or a plain scalar.
    fn inline(&mut self, text: &str) -> Read<Value> {
        match text.as_bytes().first() {
            Some(b'"' | b'{' | b'[') => json(text, self.depth),
            Some(b'\'') => single_quoted(text),
            _ => plain(text),
        }
    }

    /// A literal block scalar (`|` when `clip`, else `|-`) of a key at `key_column` or of a
    /// sequence item whose dash is there: its lines must sit deeper.
    fn literal(&mut self, key_column: usize, clip: bool) -> Read<Value> {
        let mut out = String::new();
        let mut indent: Option<usize> = None;
        let mut pending_empty = 0;
        let mut terminated = true;
        while let Some(line) = self.lines.get(self.pos) {
            if line.is_empty() {
                pending_empty += 1;
                self.pos += 1;
                continue;
            }
            let text = line.trim_start_matches(' ');
            if text.is_empty() {
                // Spaces only: an empty line or content, by how many; not worth the doubt.
                return Err(Refused);
            }
            let column = line.len() - text.len();
            match indent {
                None if column <= key_column => break,
                None => indent = Some(column),
                Some(indent) if column < indent => break,
                Some(_) => {}
            }
            let indent = indent.expect("set above");
            if !out.is_empty() || pending_empty > 0 {
                // The break that ended the previous content line, then the empty lines between.
                if !out.is_empty() {
                    out.push('\n');
                }
                out.extend(std::iter::repeat_n('\n', pending_empty));
            }
            pending_empty = 0;
            out.push_str(&line[indent..]);
            self.pos += 1;
            terminated = self.pos < self.lines.len();
        }
        if indent.is_none() {
            // An empty block: rare enough to leave to serde_norway.
            return Err(Refused);
        }
        // Clip keeps the last content line's break, if the text has one; trailing empty lines go.
        if clip && terminated {
            out.push('\n');
        }
        Ok(Value::String(out))
    }
}

/// Whether what follows a key's `:` or a value is nothing but spaces and a comment.
fn is_blank_or_comment(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

/// A key line's key and what follows its `:`, or `None` when `text` does not start with a key.
fn split_key(text: &str) -> Read<Option<(String, &str)>> {
    let (key, after) = if text.starts_with('"') {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<String>();
        match stream.next() {
            Some(Ok(key)) => {
                let end = stream.byte_offset();
                if has_surrogate_escape(&text[..end]) {
                    return Err(Refused);
                }
                (key, &text[end..])
            }
            _ => return Ok(None),
        }
    } else {
        let end = text.bytes().position(|b| !is_key_byte(b)).unwrap_or(text.len());
        let key = &text[..end];
        match key.bytes().next() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
            _ => return Ok(None),
        }
        (key.to_string(), &text[end..])
    };
    let Some(rest) = after.strip_prefix(':') else { return Ok(None) };
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Ok(None);
    }
    // A plain key must be read as a string (not `true`, `null`, `yes`, …), and not be long.
    if key.len() > MAX_KEY_BYTES || (!text.starts_with('"') && !matches!(plain(&key)?, Value::String(_))) {
        return Err(Refused);
    }
    Ok(Some((key, rest)))
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/')
}

/// A JSON document or string on one line, followed by nothing but spaces and a comment.
fn json(text: &str, depth: usize) -> Read<Value> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let Some(Ok(value)) = stream.next() else { return Err(Refused) };
    let end = stream.byte_offset();
    // libyaml refuses escaped UTF-16 surrogates, which serde_json pairs up; our formatter never
    // writes them (it escapes only characters in the Basic Multilingual Plane).
    if has_surrogate_escape(&text[..end]) || !is_blank_or_comment(&text[end..]) {
        return Err(Refused);
    }
    json_in_subset(&value, depth)?;
    Ok(value)
}

fn has_surrogate_escape(json: &str) -> bool {
    json.contains("\\ud") || json.contains("\\uD")
}

/// Refuses what serde_norway could read otherwise: floats (rounding), keys long enough for
/// libyaml's implicit-key limit, and nesting near either parser's recursion limit.
fn json_in_subset(value: &Value, depth: usize) -> Read<()> {
    match value {
        Value::Number(n) if n.is_f64() => Err(Refused),
        Value::Array(items) => {
            if depth + 1 > MAX_DEPTH {
                return Err(Refused);
            }
            items.iter().try_for_each(|item| json_in_subset(item, depth + 1))
        }
        Value::Object(map) => {
            if depth + 1 > MAX_DEPTH {
                return Err(Refused);
            }
            map.iter().try_for_each(|(key, item)| {
                if key.len() > MAX_KEY_BYTES {
                    return Err(Refused);
                }
                json_in_subset(item, depth + 1)
            })
        }
        _ => Ok(()),
    }
}

/// A single-quoted scalar closed on its line (the Ingress template's JSON annotations): `''` is
/// a quote and nothing else is an escape.
fn single_quoted(text: &str) -> Read<Value> {
    let mut out = String::new();
    let mut chars = text[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            out.push(c);
            continue;
        }
        let after = &text[1 + i + 1..];
        if after.starts_with('\'') {
            out.push('\'');
            chars.next();
            continue;
        }
        return if is_blank_or_comment(after) { Ok(Value::String(out)) } else { Err(Refused) };
    }
    // Not closed on this line: a multi-line scalar, folded by rules not worth repeating here.
    Err(Refused)
}

/// A one-line plain scalar, resolved as serde_norway resolves it, or refused if it could mean
/// anything but an obvious string, canonical decimal integer, boolean or null.
fn plain(text: &str) -> Read<Value> {
    let text = text.trim_end_matches(' ');
    let Some(first) = text.chars().next() else { return Err(Refused) };
    // YAML indicators (and `<<`/`=` keys of YAML 1.1, `+`/`.` numbers) cannot start a string here.
    if "-?:,[]{}#&*!|>'\"%@`<=+.~".contains(first) && text != "~" {
        return Err(Refused);
    }
    // A comment or a mapping would start inside the text.
    let spaced = text.as_bytes().windows(2).any(|pair| matches!(pair, [b':', b' '] | [b' ', b'#']));
    if spaced || text.ends_with(':') {
        return Err(Refused);
    }
    match text {
        // serde_norway's null and booleans (YAML 1.2 core schema), exactly.
        "null" | "Null" | "NULL" | "~" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        // YAML 1.1 booleans: strings to serde_norway, booleans to other readers; not ours to judge.
        "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off"
        | "OFF" => return Err(Refused),
        _ => {}
    }
    if first.is_ascii_digit() {
        // Only canonical decimals: integers that fit a u64 and fractions like `0.2` (buildspec
        // `version`), no `0755`, `0x1F`, `1_000`, `1e3`, `1.`, dates or versions.
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || (whole.len() > 1 && whole.starts_with('0')) {
            return Err(Refused);
        }
        return match fraction {
            // serde_norway reads larger integers as u128 or floats.
            None => text.parse::<u64>().map(Value::from).map_err(|_| Refused),
            // serde_norway parses floats with Rust's `str::parse` too, so the same double.
            Some(fraction) if digits(fraction) => {
                text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).ok_or(Refused)
            }
            Some(_) => Err(Refused),
        };
    }
    // Anything Rust reads as a float (`inf`, `NaN`, `infinity`) serde_norway may read as one too.
    if text.parse::<f64>().is_ok() {
        return Err(Refused);
    }
    Ok(Value::String(text.to_string()))
}

/// Test support: every text offered to [`parse`] while recording is on, so a test can compare
/// the reader with serde_norway on each template output glidepath renders. Off otherwise (one
/// relaxed atomic load per document).
static RECORDING: AtomicBool = AtomicBool::new(false);
static RECORDED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(text: &str) {
    if RECORDING.load(Ordering::Relaxed) {
        RECORDED.lock().unwrap_or_else(|e| e.into_inner()).push(text.to_string());
    }
}

/// Starts recording every text offered to [`parse`] (process-wide; for tests).
#[doc(hidden)]
pub fn start_recording() {
    RECORDED.lock().unwrap_or_else(|e| e.into_inner()).clear();
    RECORDING.store(true, Ordering::Relaxed);
}

/// Stops recording and returns what was recorded since [`start_recording`].
#[doc(hidden)]
pub fn stop_recording() -> Vec<String> {
    RECORDING.store(false, Ordering::Relaxed);
    std::mem::take(&mut *RECORDED.lock().unwrap_or_else(|e| e.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_norway reads `text` as, into the same JSON value type.
    fn norway(text: &str) -> Result<Value, String> {
        serde_norway::from_str::<Value>(text).map_err(|e| e.to_string())
    }

    /// The fast reader accepts `text` and reads what serde_norway reads.
    fn agrees(text: &str) -> Value {
        let fast = parse(text).unwrap_or_else(|| panic!("refused:\n{text}"));
        assert_eq!(Ok(fast.clone()), norway(text), "readers disagree on\n{text}");
        fast
    }

    #[test]
    fn reads_what_the_templates_write_as_serde_norway_does() {
        let text = concat!(
            "# A comment\n",
            "apiVersion: argoproj.io/v1alpha1\n",
            "kind: Rollout\n",
            "\n",
            "metadata:\n",
            "  name: \"cart\"\n",
            "  labels: {\"app.kubernetes.io/name\":\"cart\",\"n\":[1,-2,true,null,{}]}\n",
            "  # an indented comment\n",
            "spec:\n",
            "  replicas: 5\n",
            "  zero: 0\n",
            "  big: 18446744073709551615\n",
            "  flags: [true, false]\n",
            "  empty:\n",
            "  commented: # nothing here\n",
            "  strategy:\n",
            "    steps:\n",
            "      - setWeight: 20\n",
            "      - pause: {}\n",
            "      - name: canary-hash\n",
            "        valueFrom:\n",
            "          podTemplateHashValue: Latest\n",
            "      - primary\n",
            "      - \"quoted\"\n",
            "      - \"key\": 1\n",
            "        plain: /tmp\n",
            "  image: ${{ env.IMAGE_REPOSITORY }}:${{ github.sha }}\n",
            "  words: Assume the CI role (OIDC)\n",
            "  severity: HIGH,CRITICAL\n",
            "\"on\":\n",
            "  push:\n",
            "    branches: [\"main\"]\n",
            "run: |\n",
            "  echo \"$X\" # not a comment\n",
            "\n",
            "    indented: more\n",
            "  last\n",
            "\n",
            "\n",
            "strip: |-\n",
            "    a\n",
            "    b\n",
            "after: {\"x\":\"y\"} # a comment after a value\n",
            "version: 0.2\n",
            "listen-ports: '[{\"HTTPS\": 443}]'\n",
            "quote: 'it''s'\n",
        );
        let value = agrees(text);
        assert_eq!(value["run"], "echo \"$X\" # not a comment\n\n  indented: more\nlast\n");
        assert_eq!(value["strip"], "a\nb");
        assert_eq!(value["spec"]["empty"], Value::Null);
    }

    #[test]
    fn literal_blocks_at_the_end_and_leading_empty_lines() {
        agrees("message: |\n  one\n  two");
        agrees("message: |-\n  one\n  two");
        agrees("message: |\n  one\n  two\n");
        agrees("message: |\n\n\n  one\n\n  two\n\n");
        agrees("message: |\n  # a line of the block\n  two\n# a comment after it\nnext: 1\n");
        agrees("webhook:\n  \"team\":\n    method: POST\n    body: |\n      {\"event\": \"x\"}\nz: 1");
    }

    /// Everything the reader is not sure of is left to serde_norway.
    #[test]
    fn refuses_what_it_is_not_sure_of() {
        let refused = [
            ("anchor", "a: &x 1\nb: 2\n"),
            ("alias", "a: 1\nb: *x\n"),
            ("tag", "a: !t 1\n"),
            ("tagged key", "!t a: 1\n"),
            ("flow that is not JSON", "a: {b: 1}\n"),
            ("flow sequence that is not JSON", "a: [b, c]\n"),
            ("trailing text after JSON", "a: {\"b\":1}}\n"),
            ("quoted then text", "a: \"x\" y\n"),
            ("single quotes left open", "a: 'x\n  y'\n"),
            ("single quotes then text", "a: 'x' y\n"),
            ("document start", "---\na: 1\n"),
            ("two documents", "a: 1\n---\nb: 2\n"),
            ("document end", "a: 1\n...\n"),
            ("directive", "%YAML 1.2\n---\na: 1\n"),
            ("tab indentation", "a:\n\tb: 1\n"),
            ("tab in a value", "a: b\tc\n"),
            ("carriage return", "a: 1\r\nb: 2\r\n"),
            ("NEL", "a: b\u{85}c\n"),
            ("line separator", "a: \"b\u{2028}c\"\n"),
            ("BOM", "\u{feff}a: 1\n"),
            ("octal-looking", "a: 0755\n"),
            ("exponent", "a: 1e3\n"),
            ("float with an exponent", "a: 1.5e3\n"),
            ("float without a fraction", "a: 1.\n"),
            ("float with a leading zero", "a: 01.5\n"),
            ("version", "a: 1.2.3\n"),
            ("float in JSON", "a: [1.5]\n"),
            ("negative zero in JSON", "a: [-0]\n"),
            ("huge integer in JSON", "a: [100000000000000000000]\n"),
            ("infinity", "a: .inf\n"),
            ("inf", "a: inf\n"),
            ("nan", "a: NaN\n"),
            ("hex", "a: 0x1F\n"),
            ("octal", "a: 0o17\n"),
            ("underscores", "a: 1_000\n"),
            ("signed", "a: +1\n"),
            ("negative", "a: -1\n"),
            ("date", "a: 2001-12-14\n"),
            ("integer above u64", "a: 18446744073709551616\n"),
            ("YAML 1.1 yes", "a: yes\n"),
            ("YAML 1.1 off", "a: Off\n"),
            ("YAML 1.1 key", "on: 1\n"),
            ("colon space in a plain scalar", "a: b: c\n"),
            ("comment in a plain scalar", "a: b #c\n"),
            ("plain scalar ending in a colon", "a: b:\n"),
            ("leading indicator", "a: @x\n"),
            ("leading percent", "a: %x\n"),
            ("leading backtick", "a: `x`\n"),
            ("leading question mark", "a: ?x\n"),
            ("merge key", "<<: {\"a\":1}\n"),
            ("folded block", "a: >\n  x\n"),
            ("indentation indicator", "a: |2\n  x\n"),
            ("keep chomping", "a: |+\n  x\n"),
            ("comment after the block indicator", "a: | # c\n  x\n"),
            ("empty literal", "a: |\nb: 1\n"),
            ("spaces-only line in a literal", "a: |\n  x\n   \n  y\n"),
            ("numeric key", "5: x\n"),
            ("boolean key", "true: x\n"),
            ("null key", "null: x\n"),
            ("quoted long key", &format!("\"{}\": 1\n", "k".repeat(200))),
            ("long key in JSON", &format!("a: {{\"{}\": 1}}\n", "k".repeat(200))),
            ("complex key", "? a\n: b\n"),
            ("duplicate keys", "a: 1\na: 2\n"),
            ("multi-line plain scalar", "a: b\n  c\n"),
            ("plain scalar below its key", "a:\n  b\n"),
            ("indentless sequence", "a:\n- 1\n"),
            ("nested sequence", "a:\n  - - 1\n"),
            ("two spaces after the dash", "a:\n  -  1\n"),
            ("bad indentation", "a:\n    b: 1\n  c: 2\n"),
            ("root sequence", "- 1\n"),
            ("root scalar", "x\n"),
            ("indented root", "  a: 1\n"),
            ("empty document", ""),
            ("surrogate escape", "a: \"\\ud83d\\ude00\"\n"),
            ("key without a space after the colon", "a:1\n"),
            ("deep nesting", &format!("a: {}{}\n", "[".repeat(70), "]".repeat(70))),
        ];
        for (what, text) in refused {
            assert_eq!(parse(text), None, "{what}: accepted\n{text}");
        }
    }

    #[test]
    fn recognises_exactly_serde_norways_nulls_and_booleans() {
        for word in ["true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~"] {
            agrees(&format!("a: {word}\nb:\n  - {word}\n"));
        }
        // Other spellings are strings to serde_norway and to the reader.
        for word in ["tRUE", "nULL", "None", "nil", "t", "f"] {
            assert_eq!(agrees(&format!("a: {word}\n"))["a"], word);
        }
    }

    /// A tiny deterministic generator (xorshift64*), so the property test needs no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const KEYS: &[&str] = &["a", "name", "x-y", "a.b/c", "_k", "\"on\"", "\"a: b\"", "\"\"", "on", "y", "true", "k1"];
    /// Values the reader takes; the generator picks these most of the time.
    const SAFE: &[&str] = &[
        "TCP",
        "5",
        "0",
        "true",
        "False",
        "null",
        "~",
        "/tmp",
        "argoproj.io/v1alpha1",
        "a b  c",
        "x ",
        "a#b",
        "${{ x }}:y",
        "http://x",
        "\"s\"",
        "\"a\\nb: c\\u2028\"",
        "{\"k\":[1,-2,{\"n\":null}]}",
        "[]",
        "{}",
        "caf\u{e9}",
        "18446744073709551615",
        "{\"a\":\"b\"} # c",
        "0.2",
        "10.25",
        "'[{\"HTTPS\": 443}]'",
        "'it''s # not: a comment'",
        "''",
        "'x' # c",
    ];
    /// Values the reader must refuse, or take only where serde_norway agrees (mixed in now and then).
    const TRICKY: &[&str] = &[
        "0755",
        "1e3",
        ".inf",
        "-1",
        "+1",
        "0x1F",
        "1_000",
        "yes",
        "a: b",
        "a #b",
        "inf",
        "nan",
        "2001-12-14",
        "=",
        "- x",
        "a:",
        "'q'",
        "!t x",
        "&a x",
        "*a",
        "%x",
        "@x",
        "18446744073709551616",
        "[1.5]",
        "\"\\ud83d\\ude00\"",
        "{a: 1}",
        "[a, b]",
        "\"x\" y",
        "|",
        "|-",
        ">",
        "\u{a0}x",
        "'open",
        "'a' b",
        "'a''",
        "00.5",
        "1.",
        "1.2.3",
        "0.1e5",
        "1.5_0",
    ];

    fn scalar(rng: &mut Rng) -> &'static str {
        // About one value in six is tricky, as when a quarter were drawn from both lists.
        if rng.below(6) == 0 {
            rng.pick(TRICKY)
        } else {
            rng.pick(SAFE)
        }
    }

    fn document(rng: &mut Rng, out: &mut String, indent: usize, depth: usize) {
        for _ in 0..1 + rng.below(4) {
            let pad = " ".repeat(indent);
            match rng.below(10) {
                0 => out.push_str(&format!("{pad}# {}\n", scalar(rng))),
                1 => out.push('\n'),
                _ => {}
            }
            // Mostly distinct keys (a duplicate is refused) and mostly values in the subset.
            let numbered = format!("k{}", rng.below(10_000));
            let key = if rng.below(3) == 0 { rng.pick(KEYS) } else { numbered.as_str() };
            match rng.below(if depth > 3 { 2 } else { 5 }) {
                0 | 1 => out.push_str(&format!("{pad}{key}: {}\n", scalar(rng))),
                2 => {
                    out.push_str(&format!("{pad}{key}:\n"));
                    let deeper = indent + 1 + rng.below(3);
                    document(rng, out, deeper, depth + 1);
                }
                3 => {
                    out.push_str(&format!("{pad}{key}:\n"));
                    let item_indent = indent + 2;
                    for _ in 0..1 + rng.below(3) {
                        let item_pad = " ".repeat(item_indent);
                        if rng.below(2) == 0 {
                            out.push_str(&format!("{item_pad}- {}\n", scalar(rng)));
                        } else {
                            out.push_str(&format!("{item_pad}- {}: {}\n", rng.pick(KEYS), scalar(rng)));
                            out.push_str(&format!("{item_pad}  {}: {}\n", rng.pick(KEYS), scalar(rng)));
                        }
                    }
                }
                _ => {
                    out.push_str(&format!("{pad}{key}: {}\n", rng.pick(&["|", "|-"])));
                    let block = indent + 1 + rng.below(3);
                    for _ in 0..1 + rng.below(4) {
                        let line = rng.pick(&["", "text", "# hash", "a: b", "  deeper", "- item", "\"q\""]);
                        let pad = if line.is_empty() { String::new() } else { " ".repeat(block) };
                        out.push_str(&format!("{pad}{line}\n"));
                    }
                }
            }
        }
    }

    /// Random documents in and around the subset, and random mutations of them: whatever the
    /// fast reader accepts, serde_norway reads the same way.
    #[test]
    fn random_documents_and_mutations_agree_or_are_refused() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut accepted, mut total) = (0, 0);
        const NOISE: &[&str] = &[
            " ", "  ", "\n", "-", "- ", ":", ": ", "#", " #", "\"", "|", "{", "}", "[", "\t", "&", "*", "!", ">", "?",
            "0", ".", "'", "\\",
        ];
        for _ in 0..4000 {
            let mut text = String::new();
            document(&mut rng, &mut text, 0, 0);
            if rng.below(3) == 0 {
                text.pop();
            }
            let mut candidates = vec![text.clone()];
            for _ in 0..3 {
                let mut mutated = text.clone();
                let boundaries: Vec<usize> = (0..=mutated.len()).filter(|i| mutated.is_char_boundary(*i)).collect();
                let at = boundaries[rng.below(boundaries.len())];
                match rng.below(3) {
                    0 => mutated.insert_str(at, rng.pick(NOISE)),
                    1 if at < mutated.len() => {
                        let end = boundaries[boundaries.iter().position(|b| *b == at).unwrap() + 1];
                        mutated.replace_range(at..end, "");
                    }
                    _ => {
                        // A line duplicated or re-indented.
                        let lines: Vec<&str> = mutated.split('\n').collect();
                        let i = rng.below(lines.len());
                        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                        if rng.below(2) == 0 {
                            edited.insert(i, lines[i].to_string());
                        } else {
                            edited[i] = format!(" {}", lines[i]);
                        }
                        mutated = edited.join("\n");
                    }
                }
                candidates.push(mutated);
            }
            for candidate in candidates {
                total += 1;
                if let Some(fast) = parse(&candidate) {
                    accepted += 1;
                    assert_eq!(Ok(fast), norway(&candidate), "readers disagree on\n{candidate}");
                }
            }
        }
        // The generator must land in the subset often enough for the comparison to mean something.
        assert!(accepted * 10 > total, "only {accepted} of {total} random documents accepted");
    }
}
