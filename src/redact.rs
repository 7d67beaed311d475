//! What may be a secret, and how it is hidden wherever glidepath shows or stores a value: plan
//! views, saved plans, the state file, the audit trail, resource addresses and file names.
//!
//! The catalog refuses plaintext secrets (`catalog::plaintext-secret`); what remains may still
//! carry one (a webhook URL with a token, an SNS https endpoint with `?token=`), so every value
//! shown or stored goes through [`text`] (or [`body`] for documents) first.

use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "(redacted)";

/// Words that make a name (an env var, a data key, a query parameter) name a secret, matched
/// against the name's `_`/`-`/`.`-separated words, case-insensitively.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "secrets",
    "token",
    "tokens",
    "key",
    "apikey",
    "credential",
    "credentials",
    "passphrase",
    "signature",
    "sig",
    "private",
];

/// Substrings that name a secret wherever they appear in a name (`DBPASSWORD`, `slack-token`).
const SECRET_PARTS: &[&str] =
    &["password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "privatekey", "credential"];

/// Whether a name (an env var, a data key, a query parameter, a field path) says its value is a
/// secret: `DB_PASSWORD`, `STRIPE_KEY`, `api-token`, `access_token`, `X-Signature`.
pub fn names_a_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARTS.iter().any(|s| lower.contains(s))
        || lower.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| SECRET_WORDS.contains(&word))
}

/// Why a value is a secret whatever it is called, if it looks like one.
pub fn secret_value_reason(value: &str) -> Option<&'static str> {
    let aws_key = value.as_bytes().windows(20).any(|w| {
        (w.starts_with(b"AKIA") || w.starts_with(b"ASIA"))
            && w[4..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    });
    if aws_key {
        return Some("an AWS access key id");
    }
    if value.contains("-----BEGIN") && value.contains("PRIVATE KEY") {
        return Some("a private key");
    }
    if ["xoxb-", "xoxp-", "xoxa-", "xoxs-", "xapp-"].iter().any(|p| value.contains(p)) {
        return Some("a Slack token");
    }
    if value.contains("hooks.slack.com/services/") {
        return Some("a Slack webhook URL");
    }
    if ["ghp_", "gho_", "ghs_", "ghu_", "github_pat_"].iter().any(|p| value.contains(p)) {
        return Some("a GitHub token");
    }
    if ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"].iter().any(|p| value.contains(p)) {
        return Some("an API secret key");
    }
    if value.contains("eyJ") && value.matches('.').count() >= 2 && value.split('.').all(|p| p.len() >= 10) {
        return Some("a JSON web token");
    }
    for url in urls_in(value) {
        if has_credentials(url) {
            return Some("a URL with credentials");
        }
        if secret_query(url) {
            return Some("a URL with a secret query parameter");
        }
    }
    None
}

/// `text` with every secret-looking part replaced by [`REDACTED`]: a URL keeps its scheme, host
/// and path but loses its password and the values of secret query parameters; a token loses all.
pub fn text(value: &str) -> String {
    if secret_value_reason(value).is_none() {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = find_url(rest) {
        out.push_str(&rest[..start]);
        let end = start + url_len(&rest[start..]);
        out.push_str(&url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    // What is still secret after its URLs were cleaned (a token on its own) goes whole.
    if secret_value_reason(&out).is_some() {
        return REDACTED.to_string();
    }
    out
}

/// A URL without its password (`user:(redacted)@`) and with secret query values redacted.
/// A URL whose path itself is a secret (a Slack webhook) keeps only scheme and host.
pub fn url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{REDACTED}@{host}"),
        },
        None => authority.to_string(),
    };
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    if secret_value_reason(path).is_some() || url.contains("hooks.slack.com/services/") {
        return format!("{scheme}{authority}/{REDACTED}");
    }
    let mut out = format!("{scheme}{authority}{path}");
    if let Some(query) = query {
        let (query, fragment) = match query.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (query, None),
        };
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) if names_a_secret(name) || secret_value_reason(value).is_some() => {
                    format!("{name}={REDACTED}")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
        if fragment.is_some() {
            out.push('#');
            out.push_str(REDACTED);
        }
    }
    out
}

/// A stand-in for a value that may hold a secret where it becomes part of a name (a resource
/// address, a file name): the value itself when nothing in it looks secret, otherwise its
/// scheme and host with a short digest of the whole, `https://h.example.com/redacted-1a2b3c4d5e6f`,
/// so two endpoints stay two addresses and none shows its token.
pub fn stand_in(value: &str) -> String {
    if secret_value_reason(value).is_none() {
        return value.to_string();
    }
    let digest = crate::digest::digest(&Value::String(value.to_string()));
    let short = &digest["sha256:".len()..][..12];
    let host = value
        .split_once("://")
        .map(|(scheme, rest)| {
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}/")
        })
        .unwrap_or_default();
    format!("{host}redacted-{short}")
}

/// Opens a file glidepath keeps (state, audit trail, lock, saved plan) readable by its owner
/// only: created 0600, and an existing one narrowed to 0600.
pub fn private_file(options: &mut std::fs::OpenOptions, path: &std::path::Path) -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

/// A JSON document with every secret redacted: strings that look secret, values under keys
/// that name a secret, and the `value` of `{"name": "DB_PASSWORD", "value": …}` entries.
pub fn body(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(text(s)),
        Value::Array(items) => Value::Array(items.iter().map(body).collect()),
        Value::Object(map) => {
            let named_secret = map.get("name").and_then(Value::as_str).is_some_and(names_a_secret);
            // Keys such as `api-token` name a secret; `token.actions.githubusercontent.com:sub`
            // (an IAM condition) or `key` (of a secretKeyRef) do not.
            let key_names_secret = |k: &str| {
                k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                    && SECRET_PARTS.iter().any(|s| k.to_ascii_lowercase().contains(s))
            };
            Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let hide = (key_names_secret(k) || (named_secret && k == "value")) && is_plain_secret(v);
                        (k.clone(), if hide { Value::String(REDACTED.into()) } else { body(v) })
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// Whether [`body`] changes anything: a document that holds something secret-looking.
pub fn holds_secret(value: &Value) -> bool {
    body(value) != *value
}

/// A value under a secret's name that is itself the secret: a non-empty string that is not a
/// reference (`$key`, `secretKeyRef`) and not already redacted. Objects are walked instead.
fn is_plain_secret(value: &Value) -> bool {
    matches!(value, Value::String(s) if !s.is_empty() && !s.starts_with('$') && s != REDACTED)
}

fn has_credentials(url: &str) -> bool {
    let Some(scheme_end) = url.find("://") else { return false };
    let rest = &url[scheme_end + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    authority.rsplit_once('@').is_some_and(|(userinfo, _)| !userinfo.is_empty() && !userinfo.ends_with(REDACTED))
}

fn secret_query(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else { return false };
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').any(|pair| match pair.split_once('=') {
        Some((name, value)) => !value.is_empty() && value != REDACTED && names_a_secret(name),
        None => false,
    })
}

fn find_url(text: &str) -> Option<usize> {
    let at = text.find("://")?;
    let start =
        text[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))).map_or(0, |i| i + 1);
    Some(start)
}

fn url_len(text: &str) -> usize {
    text.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`')).unwrap_or(text.len())
}

fn urls_in(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = find_url(rest)?;
        let end = start + url_len(&rest[start..]);
        let found = &rest[start..end];
        rest = &rest[end.max(start + 3)..];
        Some(found)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        for secret in ["DB_PASSWORD", "STRIPE_KEY", "api-token", "access_token", "GITHUB_TOKEN", "dbpassword", "SECRET"]
        {
            assert!(names_a_secret(secret), "{secret}");
        }
        for plain in ["LOG_LEVEL", "MONKEY_MODE", "KEYCLOAK_URL", "PORT", "spec.replicas"] {
            assert!(!names_a_secret(plain), "{plain}");
        }
    }

    #[test]
    fn values() {
        for secret in [
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "postgres://app:hunter2@db:5432/app",
            "https://hooks.example.com/x?token=abc123",
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnop",
        ] {
            assert!(secret_value_reason(secret).is_some(), "{secret}");
            assert!(
                !text(secret).contains("hunter2")
                    && !text(secret).contains("abc123")
                    && !text(secret).contains("sk_live")
            );
        }
        for plain in ["https://hooks.example.com/x?env=prod", "info", "arn:aws:iam::123456789012:role/x", "https://h/x"]
        {
            assert!(secret_value_reason(plain).is_none(), "{plain}");
            assert_eq!(text(plain), plain);
        }
    }

    #[test]
    fn urls_keep_what_is_not_secret() {
        assert_eq!(
            text("https://h.example.com/x?token=abc&env=prod"),
            "https://h.example.com/x?token=(redacted)&env=prod"
        );
        assert_eq!(text("postgres://app:hunter2@db:5432/app"), "postgres://app:(redacted)@db:5432/app");
        assert_eq!(text("url: https://h/x?sig=1\nheaders: []"), "url: https://h/x?sig=(redacted)\nheaders: []");
        assert_eq!(text("https://hooks.slack.com/services/T000/B000/XXXX"), "https://hooks.slack.com/(redacted)");
    }

    #[test]
    fn stand_ins_keep_the_host_and_tell_endpoints_apart() {
        let a = stand_in("https://alerts.example.com/in?token=one");
        let b = stand_in("https://alerts.example.com/in?token=two");
        assert!(a.starts_with("https://alerts.example.com/redacted-") && a != b, "{a} {b}");
        assert!(!a.contains("one") && !a.contains('?'));
        assert_eq!(stand_in("https://alerts.example.com/in"), "https://alerts.example.com/in");
    }

    #[test]
    fn documents() {
        let doc = json!({
            "env": [{ "name": "DB_PASSWORD", "value": "hunter2" }, { "name": "LOG_LEVEL", "value": "info" }],
            "data": { "api-token": "abc", "url": "https://h/x?token=abc" },
            "ref": { "name": "API_TOKEN", "valueFrom": { "secretKeyRef": { "name": "s", "key": "token" } } },
        });
        let redacted = body(&doc);
        let text = redacted.to_string();
        assert!(!text.contains("hunter2") && !text.contains("abc"), "{text}");
        assert!(text.contains("info") && text.contains("secretKeyRef"), "{text}");
        assert!(holds_secret(&doc));
        assert!(!holds_secret(&redacted));
    }
}
