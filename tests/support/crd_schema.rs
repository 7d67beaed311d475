//! A small validator for Kubernetes *structural* OpenAPI v3 schemas, as found in a
//! CustomResourceDefinition's `spec.versions[].schema.openAPIV3Schema`.
//!
//! It checks what the API server checks (types, required fields, enums, int-or-string, list-map
//! key uniqueness, int32/int64 ranges, the quantity pattern) and, deliberately stricter than the
//! server, reports fields that the server would silently *prune*: an object schema is closed
//! unless it says `x-kubernetes-preserve-unknown-fields: true` or has `additionalProperties`.
//! A pruned field is almost always a rendering bug (a misspelt or misplaced key) that would
//! otherwise go unnoticed until the behaviour it was meant to configure is missing in production.
//!
//! Schema keywords the validator does not understand are reported as errors at the path where
//! they apply, so a newer CRD using e.g. `maxLength` cannot be half-checked in silence.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// The parts of a CRD that object validation needs.
#[derive(Debug, Clone)]
pub struct Crd {
    /// `spec.names.kind`, e.g. `Rollout`.
    pub kind: String,
    /// `spec.group`, e.g. `argoproj.io`.
    pub group: String,
    /// `spec.versions[0].name`, e.g. `v1alpha1`.
    pub version: String,
    /// `spec.versions[0].served`.
    pub served: bool,
    /// `spec.scope`: `Namespaced` or `Cluster`.
    pub scope: String,
    /// `spec.versions[0].schema.openAPIV3Schema`.
    pub schema: Value,
}

impl Crd {
    /// Reads a CRD manifest (YAML).
    pub fn load(path: &Path) -> Crd {
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        let doc: Value =
            serde_norway::from_str(&text).unwrap_or_else(|error| panic!("parsing {} as YAML: {error}", path.display()));
        assert_eq!(doc["kind"], "CustomResourceDefinition", "{} is not a CRD", path.display());
        let spec = &doc["spec"];
        // The stored version: the one a CRD with several (Istio, Gateway API) keeps objects in.
        let versions = spec["versions"].as_array().cloned().unwrap_or_default();
        let version = versions.iter().find(|v| v["storage"] == true).unwrap_or(&spec["versions"][0]);
        let text_at = |value: &Value, what: &str| -> String {
            value
                .as_str()
                .unwrap_or_else(|| panic!("{}: {what} is missing or not a string", path.display()))
                .to_string()
        };
        let schema = version["schema"]["openAPIV3Schema"].clone();
        assert!(schema.is_object(), "{}: the stored version's schema.openAPIV3Schema is missing", path.display());
        Crd {
            kind: text_at(&spec["names"]["kind"], "spec.names.kind"),
            group: text_at(&spec["group"], "spec.group"),
            version: text_at(&version["name"], "spec.versions[0].name"),
            served: version["served"].as_bool().unwrap_or(false),
            scope: text_at(&spec["scope"], "spec.scope"),
            schema,
        }
    }

    /// `group/version`, what an object's `apiVersion` must be.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// Validates a whole object (apiVersion, kind, metadata, spec, ...) against the schema.
    pub fn validate(&self, object: &Value) -> Vec<String> {
        validate(&self.schema, object)
    }
}

/// Validates a whole custom object against its CRD's `openAPIV3Schema`. Returns one message per
/// problem, each starting with the JSON path of the offending value.
///
/// The top-level `metadata` is accepted as any object: the CRD schema only says `type: object`
/// there, and the API server validates metadata as `ObjectMeta` itself (check that separately).
/// `apiVersion` and `kind` are strings every object has, whether its schema lists them or not
/// (Istio's do not).
pub fn validate(schema: &Value, object: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut validator = Validator { errors: &mut errors };
    match object {
        Value::Object(fields) => {
            let mut root = schema.clone();
            if let Some(properties) = root.get_mut("properties").and_then(Value::as_object_mut) {
                properties.insert(
                    "metadata".to_string(),
                    serde_json::json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true }),
                );
                for implicit in ["apiVersion", "kind"] {
                    properties.entry(implicit).or_insert_with(|| serde_json::json!({ "type": "string" }));
                }
            }
            if fields.get("metadata").is_some_and(|metadata| !metadata.is_object()) {
                validator.error("metadata", format!("expected object, found {}", describe(&fields["metadata"])));
            }
            validator.check(&root, object, "");
        }
        other => validator.error("", format!("expected an object at the top level, found {}", describe(other))),
    }
    errors
}

/// Keywords that carry no constraint a single object can violate, or none we can check:
/// - `description`, `default` (the server fills defaults in, it never rejects for them),
/// - `x-kubernetes-map-type` (merge strategy only),
/// - `x-kubernetes-validations`: CEL rules (Argo Rollouts' `self == oldSelf` on `spec.selector`,
///   Gateway API's cross-field rules). Not evaluated here: the cluster tests apply the same
///   objects to a real kube-apiserver with these CRDs installed, which runs them.
const IGNORED_KEYWORDS: &[&str] = &["description", "default", "x-kubernetes-map-type", "x-kubernetes-validations"];

const HANDLED_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "enum",
    "additionalProperties",
    "nullable",
    "anyOf",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
];

/// The resource quantity pattern the CRDs use (apimachinery `resource.Quantity`).
const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

struct Validator<'a> {
    errors: &'a mut Vec<String>,
}

impl Validator<'_> {
    fn error(&mut self, path: &str, message: impl AsRef<str>) {
        let path = if path.is_empty() { "<root>" } else { path };
        self.errors.push(format!("{path}: {}", message.as_ref()));
    }

    fn check(&mut self, schema: &Value, value: &Value, path: &str) {
        let Some(schema) = schema.as_object() else {
            self.error(path, format!("schema is not an object: {schema}"));
            return;
        };
        for keyword in schema.keys() {
            if !HANDLED_KEYWORDS.contains(&keyword.as_str()) && !IGNORED_KEYWORDS.contains(&keyword.as_str()) {
                self.error(path, format!("schema keyword {keyword:?} is not supported by this validator"));
            }
        }
        let flag = |name: &str| schema.get(name).and_then(Value::as_bool).unwrap_or(false);
        let preserve_unknown = flag("x-kubernetes-preserve-unknown-fields");

        if value.is_null() {
            if !flag("nullable") {
                self.error(path, "null is not allowed here (the field is not nullable)");
            }
            return;
        }

        if flag("x-kubernetes-int-or-string") {
            match value {
                Value::Number(number) if number.is_i64() || number.is_u64() => {}
                Value::String(text) => self.check_pattern(schema, text, path),
                other => self.error(path, format!("expected integer or string, found {}", describe(other))),
            }
            self.check_enum(schema, value, path);
            return;
        }

        match schema.get("type").and_then(Value::as_str) {
            Some("object") => self.check_object(schema, value, path, preserve_unknown),
            Some("array") => self.check_array(schema, value, path),
            Some("string") => match value {
                Value::String(text) => {
                    self.check_pattern(schema, text, path);
                    self.check_format(schema, value, path);
                }
                other => self.error(path, format!("expected string, found {}", describe(other))),
            },
            Some("integer") => match value {
                Value::Number(number) if number.is_i64() || number.is_u64() => {
                    self.check_format(schema, value, path);
                    self.check_range(schema, number.as_f64().unwrap_or_default(), path);
                }
                other => self.error(path, format!("expected integer, found {}", describe(other))),
            },
            Some("number") => match value.as_f64() {
                Some(number) => self.check_range(schema, number, path),
                None => self.error(path, format!("expected number, found {}", describe(value))),
            },
            Some("boolean") => {
                if !value.is_boolean() {
                    self.error(path, format!("expected boolean, found {}", describe(value)));
                }
            }
            Some(other) => self.error(path, format!("schema type {other:?} is not supported by this validator")),
            None => {
                // Untyped: only legal in a structural schema under preserve-unknown-fields (any
                // value) or inside anyOf branches handled below.
                if !preserve_unknown && !schema.contains_key("anyOf") {
                    self.error(path, "schema has no type and does not preserve unknown fields");
                }
            }
        }
        self.check_enum(schema, value, path);
        self.check_any_of(schema, value, path);
    }

    fn check_object(
        &mut self,
        schema: &serde_json::Map<String, Value>,
        value: &Value,
        path: &str,
        preserve_unknown: bool,
    ) {
        let Value::Object(fields) = value else {
            self.error(path, format!("expected object, found {}", describe(value)));
            return;
        };
        let empty = serde_json::Map::new();
        let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let additional = schema.get("additionalProperties");

        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    self.error(path, format!("missing required field {name:?}"));
                }
            }
        }

        for (key, child) in fields {
            let child_path = join_key(path, key);
            if let Some(child_schema) = properties.get(key) {
                self.check(child_schema, child, &child_path);
                continue;
            }
            match additional {
                Some(Value::Object(map_values)) => self.check(&Value::Object(map_values.clone()), child, &child_path),
                Some(Value::Bool(true)) => {}
                _ if preserve_unknown => {}
                _ => {
                    let known: Vec<&str> = properties.keys().map(String::as_str).collect();
                    let hint = if known.is_empty() {
                        "the schema allows no fields here".to_string()
                    } else {
                        format!("known fields: {}", known.join(", "))
                    };
                    self.error(&child_path, format!("unknown field (the API server would prune it; {hint})"));
                }
            }
        }
    }

    fn check_array(&mut self, schema: &serde_json::Map<String, Value>, value: &Value, path: &str) {
        let Value::Array(items) = value else {
            self.error(path, format!("expected array, found {}", describe(value)));
            return;
        };
        let bound = |name: &str| schema.get(name).and_then(Value::as_u64).map(|n| n as usize);
        if let Some(min) = bound("minItems").filter(|min| items.len() < *min) {
            self.error(path, format!("{} items, fewer than minItems {min}", items.len()));
        }
        if let Some(max) = bound("maxItems").filter(|max| items.len() > *max) {
            self.error(path, format!("{} items, more than maxItems {max}", items.len()));
        }
        if let Some(item_schema) = schema.get("items") {
            for (index, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{path}[{index}]"));
            }
        }
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                let mut seen = BTreeSet::new();
                for (index, item) in items.iter().enumerate() {
                    if !seen.insert(item.to_string()) {
                        self.error(
                            &format!("{path}[{index}]"),
                            format!("duplicate entry {item} in a list of type set"),
                        );
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut seen = BTreeSet::new();
                for (index, item) in items.iter().enumerate() {
                    let key: Vec<String> =
                        keys.iter().map(|name| item.get(*name).map(Value::to_string).unwrap_or_default()).collect();
                    if !seen.insert(key.clone()) {
                        self.error(
                            &format!("{path}[{index}]"),
                            format!("duplicate entry for list-map keys {keys:?} = [{}]", key.join(", ")),
                        );
                    }
                }
            }
            Some("atomic") | None => {}
            Some(other) => {
                self.error(path, format!("x-kubernetes-list-type {other:?} is not supported by this validator"))
            }
        }
    }

    fn check_enum(&mut self, schema: &serde_json::Map<String, Value>, value: &Value, path: &str) {
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                let allowed: Vec<String> = allowed.iter().map(Value::to_string).collect();
                self.error(path, format!("{value} is not one of [{}]", allowed.join(", ")));
            }
        }
    }

    /// `anyOf` in a structural schema may only carry value validations; the branches of the
    /// int-or-string case are handled by `x-kubernetes-int-or-string` above.
    fn check_any_of(&mut self, schema: &serde_json::Map<String, Value>, value: &Value, path: &str) {
        let Some(branches) = schema.get("anyOf").and_then(Value::as_array) else { return };
        let matched = branches.iter().any(|branch| validate_fragment(branch, value).is_empty());
        if !matched {
            self.error(path, format!("{} matches none of the anyOf branches", describe(value)));
        }
    }

    fn check_pattern(&mut self, schema: &serde_json::Map<String, Value>, text: &str, path: &str) {
        match schema.get("pattern").and_then(Value::as_str) {
            None => {}
            Some(QUANTITY_PATTERN) if is_quantity(text) => {}
            Some(QUANTITY_PATTERN) => self.error(path, format!("{text:?} is not a resource quantity")),
            // The API server's patterns are RE2 (Go regexp), which the regex crate implements.
            Some(other) => match regex::Regex::new(other) {
                Ok(re) if re.is_match(text) => {}
                Ok(_) => self.error(path, format!("{text:?} does not match pattern {other:?}")),
                Err(e) => self.error(path, format!("pattern {other:?} does not compile: {e}")),
            },
        }
        let length = text.chars().count();
        let bound = |name: &str| schema.get(name).and_then(Value::as_u64).map(|n| n as usize);
        if let Some(min) = bound("minLength").filter(|min| length < *min) {
            self.error(path, format!("{text:?} is shorter than minLength {min}"));
        }
        if let Some(max) = bound("maxLength").filter(|max| length > *max) {
            self.error(path, format!("{text:?} is longer than maxLength {max}"));
        }
    }

    fn check_range(&mut self, schema: &serde_json::Map<String, Value>, number: f64, path: &str) {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64).filter(|min| number < *min) {
            self.error(path, format!("{number} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64).filter(|max| number > *max) {
            self.error(path, format!("{number} is above the maximum {max}"));
        }
    }

    fn check_format(&mut self, schema: &serde_json::Map<String, Value>, value: &Value, path: &str) {
        let Some(format) = schema.get("format").and_then(Value::as_str) else { return };
        match (format, value) {
            ("int32", Value::Number(number)) if number.as_i64().is_none_or(|n| i32::try_from(n).is_err()) => {
                self.error(path, format!("{number} does not fit in int32"));
            }
            ("int64", Value::Number(number)) if number.as_i64().is_none() => {
                self.error(path, format!("{number} does not fit in int64"));
            }
            // Other formats (date-time, ...) are informational for the fields glidepath renders.
            _ => {}
        }
    }
}

/// Validates a value against a schema fragment (no top-level `metadata` special case).
pub fn validate_fragment(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    Validator { errors: &mut errors }.check(schema, value, "");
    errors
}

/// Hand-written matcher for `QUANTITY_PATTERN` (no regex dependency):
/// `sign? (digits ('.' digits?)? | '.' digits) suffix?` where suffix is a binary SI suffix
/// (Ki..Ei), a decimal SI suffix (n u m k M G T P E) or a decimal exponent (e/E sign? number).
pub fn is_quantity(text: &str) -> bool {
    fn number(s: &str) -> Option<&str> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let rest = &s[digits..];
        if digits > 0 {
            match rest.strip_prefix('.') {
                Some(after) => Some(&after[after.bytes().take_while(u8::is_ascii_digit).count()..]),
                None => Some(rest),
            }
        } else {
            let after = rest.strip_prefix('.')?;
            let fraction = after.bytes().take_while(u8::is_ascii_digit).count();
            (fraction > 0).then(|| &after[fraction..])
        }
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let Some(suffix) = number(unsigned) else { return false };
    match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        _ => match suffix.strip_prefix(['e', 'E']) {
            Some(exponent) => {
                let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
                number(exponent) == Some("")
            }
            None => false,
        },
    }
}

/// `a.b`, or `a["x.y/z"]` for keys that are not plain identifiers (label keys, annotations).
pub fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

/// Short description of a JSON value for messages: its type and (abbreviated) content.
pub fn describe(value: &Value) -> String {
    let text = value.to_string();
    let text =
        if text.chars().count() > 60 { format!("{}…", text.chars().take(60).collect::<String>()) } else { text };
    let kind = match value {
        Value::Null => return "null".to_string(),
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    format!("{kind} {text}")
}
