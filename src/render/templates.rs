//! The minijinja environment over `templates/`, compiled into the binary so output never depends
//! on the working directory. Templates produce YAML that is parsed straight back into JSON
//! values, so a template mistake is a render error, never a malformed file on disk.
//!
//! **Escaping is the default.** Every `{{ value }}` is written as a JSON scalar or document
//! (`"text"`, `3`, `["a"]`), which is also a YAML flow scalar: whatever a string holds (a
//! newline, `: `, `#`, quotes, `{{`), it stays one value and can never add a key, end a block
//! or start a document. `tojson` is the same thing spelt out. The only way to write text
//! unquoted is the `line` filter, for comments and literal block lines, and it refuses any
//! line break or control character. `safe` and `escape` (HTML) are removed.

use minijinja::value::Value as JinjaValue;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior};
use serde::Serialize;
use serde_json::Value;

use super::RenderError;

const TEMPLATES: &[(&str, &str)] = &[
    ("kube/namespace.yaml.j2", include_str!("../../templates/kube/namespace.yaml.j2")),
    ("kube/serviceaccount.yaml.j2", include_str!("../../templates/kube/serviceaccount.yaml.j2")),
    ("kube/service.yaml.j2", include_str!("../../templates/kube/service.yaml.j2")),
    ("kube/poddisruptionbudget.yaml.j2", include_str!("../../templates/kube/poddisruptionbudget.yaml.j2")),
    ("kube/horizontalpodautoscaler.yaml.j2", include_str!("../../templates/kube/horizontalpodautoscaler.yaml.j2")),
    ("kube/analysistemplate-slo.yaml.j2", include_str!("../../templates/kube/analysistemplate-slo.yaml.j2")),
    ("kube/analysistemplate-smoke.yaml.j2", include_str!("../../templates/kube/analysistemplate-smoke.yaml.j2")),
    ("kube/rollout.yaml.j2", include_str!("../../templates/kube/rollout.yaml.j2")),
    ("kube/migration-job.yaml.j2", include_str!("../../templates/kube/migration-job.yaml.j2")),
    ("kube/virtualservice.yaml.j2", include_str!("../../templates/kube/virtualservice.yaml.j2")),
    ("kube/ingress.yaml.j2", include_str!("../../templates/kube/ingress.yaml.j2")),
    ("kube/httproute.yaml.j2", include_str!("../../templates/kube/httproute.yaml.j2")),
    ("kube/notification-configmap.yaml.j2", include_str!("../../templates/kube/notification-configmap.yaml.j2")),
    ("kube/notification-template.yaml.j2", include_str!("../../templates/kube/notification-template.yaml.j2")),
];

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        configure(&mut env);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).expect("built-in templates parse (checked by tests)");
        }
        Templates { env }
    }

    pub fn render_text(&self, name: &str, context: impl Serialize) -> Result<String, RenderError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| RenderError::Template { template: name.into(), reason: format!("{e:#}") })?;
        template.render(context).map_err(|e| RenderError::Template { template: name.into(), reason: format!("{e:#}") })
    }

    pub fn render_yaml(&self, name: &str, context: impl Serialize) -> Result<Value, RenderError> {
        let text = self.render_text(name, context)?;
        // The fast reader for the YAML our templates write, else serde_norway (`yaml_subset`).
        let mut value = super::yaml_subset::from_str(&text).map_err(|e| RenderError::Yaml {
            template: name.into(),
            reason: e.to_string(),
            text,
        })?;
        compact(&mut value);
        Ok(value)
    }
}

/// Gives every map and list of a parsed document exactly the room it needs. The parser grows
/// them by doubling (it cannot know their length), and a rendered catalog holds every object
/// for as long as it runs: up to half of each map's entries and index slots were spare.
fn compact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            // Collecting moves the entries into a map allocated for exactly their number, in order.
            *map = std::mem::take(map).into_iter().collect();
            map.values_mut().for_each(compact);
        }
        Value::Array(items) => {
            items.shrink_to_fit();
            items.iter_mut().for_each(compact);
        }
        _ => {}
    }
}

/// An environment for templates that produce text files kept as written (workflows,
/// buildspecs): block tags leave no blank lines behind, and undefined variables are errors.
pub fn text_environment(templates: &[(&'static str, &'static str)]) -> Environment<'static> {
    let mut env = Environment::new();
    configure(&mut env);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    for (name, source) in templates {
        env.add_template(name, source).expect("built-in templates parse (checked by tests)");
    }
    env
}

/// What every glidepath template environment shares: strict undefined values and YAML-safe
/// output of every interpolated value.
fn configure(env: &mut Environment<'static>) {
    // A misspelt variable must fail loudly, not render as an empty string.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // The formatter below escapes; minijinja's HTML auto-escaping would only get in the way.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(yaml_formatter);
    env.add_filter("tojson", tojson);
    env.add_filter("line", line);
    for raw in ["safe", "escape", "e"] {
        env.remove_filter(raw);
    }
}

/// Writes every value as a YAML-safe scalar or flow document; only values a filter of ours
/// marked as checked (`tojson`, `line`) are written as they are.
fn yaml_formatter(out: &mut Output, _state: &State, value: &JinjaValue) -> Result<(), Error> {
    let text = match value.as_str() {
        Some(checked) if value.is_safe() => checked.to_string(),
        _ => yaml_scalar(value)?,
    };
    out.write_str(&text).map_err(|e| Error::new(ErrorKind::WriteFailure, "cannot write template output").with_source(e))
}

/// `tojson` as minijinja spells it, plus escapes for every character YAML treats as a line
/// break or refuses in a document (C0/C1 controls, NEL, U+2028/U+2029, BOM).
fn tojson(value: &JinjaValue) -> Result<JinjaValue, Error> {
    yaml_scalar(value).map(JinjaValue::from_safe_string)
}

/// Text placed unquoted (a comment, a line of a literal block): refused unless it is one line
/// without control characters, so it cannot end the comment or the block it is written in.
fn line(value: &JinjaValue) -> Result<JinjaValue, Error> {
    let text = match value.as_str() {
        Some(s) => s.to_string(),
        None => value.to_string(),
    };
    match text.chars().find(|c| breaks_yaml(*c)) {
        Some(c) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`line` refuses {text:?}: it holds the control character U+{:04X}", c as u32),
        )),
        None => Ok(JinjaValue::from_safe_string(text)),
    }
}

/// A value as JSON (a YAML flow scalar or document) in which nothing can break a YAML line.
pub fn yaml_scalar(value: &JinjaValue) -> Result<String, Error> {
    let json = serde_json::to_string(value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, "cannot serialize to JSON").with_source(e))?;
    Ok(escape_json_text(json))
}

/// A string as a double-quoted YAML scalar that stays one value whatever it holds.
pub fn yaml_quote(text: &str) -> String {
    escape_json_text(serde_json::Value::from(text).to_string())
}

/// Raw characters of compact JSON text that YAML could read as structure become `\uXXXX`
/// (outside strings JSON text is ASCII, so only string contents change).
fn escape_json_text(json: String) -> String {
    // Most values are printable ASCII that needs nothing: kept as they are (this runs for every
    // value of every rendered object).
    if json.bytes().all(|b| b.is_ascii() && !needs_escape(b as char)) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// `<>&'` as minijinja's `tojson` escapes them, so output keeps its established form; and what
/// breaks a YAML line.
fn needs_escape(c: char) -> bool {
    matches!(c, '<' | '>' | '&' | '\'') || breaks_yaml(c)
}

fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write;
    write!(out, "\\u{:04x}", c as u32).expect("writing to a String");
}

/// Characters that end a YAML line or are not allowed raw in a YAML stream.
pub fn breaks_yaml(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOSTILE: &[&str] = &[
        "https://h/x\ninsecureSkipVerify: true",
        "a: b",
        "value # not a comment",
        "\"quoted\" and 'single'",
        "{{ go.template }}",
        "{% raw %}",
        "line\r\nbreak",
        "next\u{85}line",
        "sep\u{2028}arator",
        "--- \n...\n- list",
        "&anchor *alias !tag |block >folded",
        "\\ back\\slash \\n",
        "tab\there",
        "",
    ];

    fn env_with(source: &'static str) -> Environment<'static> {
        text_environment(&[("t", source)])
    }

    /// Whatever a value holds, the default output and `tojson` keep it one YAML value.
    #[test]
    fn interpolated_values_cannot_break_the_document() {
        let source = "key: {{ value }}\nexplicit: {{ value | tojson }}\nlist: [{{ value }}]\nlast: fixed\n";
        let env = env_with(source);
        for value in HOSTILE {
            let text = env.get_template("t").unwrap().render(json!({ "value": value })).unwrap();
            let parsed: serde_json::Value =
                serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{value:?}: {e}\n{text}"));
            assert_eq!(
                parsed,
                json!({ "key": value, "explicit": value, "list": [value], "last": "fixed" }),
                "{value:?} rendered as\n{text}"
            );
        }
    }

    /// Text with nothing to escape comes back as it is; anything else is escaped exactly as the
    /// char-by-char definition says (every char of 0..=0xFFFF that is not a surrogate).
    #[test]
    fn json_text_is_escaped_only_where_yaml_needs_it() {
        let plain = r#"{"image":"registry/app:1.2.3","weights":[5,20],"note":"a \"quoted\" word"}"#;
        assert_eq!(escape_json_text(plain.to_string()), plain);
        let definition = |c: char| match c {
            '<' | '>' | '&' | '\'' => format!("\\u{:04x}", c as u32),
            c if breaks_yaml(c) => format!("\\u{:04x}", c as u32),
            c => c.to_string(),
        };
        for c in (0..=0xFFFFu32).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            let expected: String = text.chars().map(definition).collect();
            assert_eq!(escape_json_text(text.clone()), expected, "{text:?}");
        }
    }

    /// The fast reader of template output (`yaml_subset`) reads every hostile value exactly as
    /// serde_norway does, in every position a template writes one, and does not refuse them.
    #[test]
    fn the_fast_reader_agrees_on_hostile_values() {
        let source = concat!(
            "# {{ comment | line }}\n",
            "key: {{ value }}\n",
            "explicit: {{ value | tojson }}\n",
            "list: [{{ value }}]\n",
            "map: {{ map }}\n",
            "{{ value }}: keyed\n",
            "items:\n",
            "  - {{ value }}\n",
            "  - {{ value }}: {{ value }}\n",
            "    second: {{ value }}\n",
            "last: fixed\n",
        );
        let env = env_with(source);
        for value in HOSTILE {
            // `line` refuses control characters; a comment gets the value's printable part.
            let comment: String = value.chars().filter(|c| !breaks_yaml(*c)).collect();
            let context = json!({ "value": value, "map": { *value: [value, 1, null] }, "comment": comment });
            let text = env.get_template("t").unwrap().render(context).unwrap();
            let expected: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{value:?}: {e}\n{text}"));
            let fast = super::super::yaml_subset::parse(&text).unwrap_or_else(|| panic!("{value:?} refused:\n{text}"));
            assert_eq!(fast, expected, "{value:?} rendered as\n{text}");
            assert_eq!(fast["items"][1][*value], json!(value));
        }
    }

    #[test]
    fn maps_lists_and_numbers_are_written_as_flow_documents() {
        let env = env_with("a: {{ m }}\nb: {{ n }}\nc: {{ f }}\nd: {{ none }}\n");
        let value = json!({ "m": { "k\nx: y": ["v: w", 1] }, "n": 3, "f": true, "none": null });
        let text = env.get_template("t").unwrap().render(&value).unwrap();
        let parsed: serde_json::Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(parsed, json!({ "a": { "k\nx: y": ["v: w", 1] }, "b": 3, "c": true, "d": null }));
    }

    #[test]
    fn line_refuses_line_breaks_and_controls_but_keeps_plain_text() {
        let env = env_with("# {{ value | line }}\nkey: 1\n");
        let template = env.get_template("t").unwrap();
        assert_eq!(template.render(json!({ "value": "cart -> a: b # c" })).unwrap(), "# cart -> a: b # c\nkey: 1");
        for value in ["a\nkey: 2", "a\rb", "a\u{85}b", "a\u{2028}b", "a\u{7}b", "a\tb"] {
            let error = template.render(json!({ "value": value })).unwrap_err();
            assert!(format!("{error:#}").contains("control character"), "{value:?}: {error:#}");
        }
    }

    #[test]
    fn raw_output_filters_are_gone() {
        let templates: &[(&'static str, &'static str)] =
            &[("safe", "{{ value | safe }}"), ("escape", "{{ value | escape }}"), ("e", "{{ value | e }}")];
        let env = text_environment(templates);
        for (name, _) in templates {
            let outcome = env.get_template(name).unwrap().render(json!({ "value": "a\nb: c" }));
            assert!(outcome.is_err(), "`{name}` still writes raw text: {outcome:?}");
        }
    }
}
