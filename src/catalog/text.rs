//! Character sets of catalog strings. Every string of a catalog ends up somewhere that gives
//! some characters a meaning (YAML, a label, a CODEOWNERS line, a shell variable, a URL), so
//! each field is held to the grammar of where it goes, here, before anything is rendered.

/// The first character that must never appear in a catalog string: C0/C1 controls (newline,
/// tab, escape, DEL, NEL …), the Unicode line and paragraph separators, and the byte order mark.
pub fn control_character(text: &str) -> Option<char> {
    text.chars().find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'))
}

/// How a character is named in a message: `\n` rather than a line break in the terminal.
pub fn describe(c: char) -> String {
    match c {
        '\n' => "a newline (\\n)".into(),
        '\r' => "a carriage return (\\r)".into(),
        '\t' => "a tab (\\t)".into(),
        c => format!("the control character U+{:04X}", c as u32),
    }
}

/// A Kubernetes label value: at most 63 characters, alphanumerics, `-`, `_` and `.`, beginning
/// and ending with an alphanumeric (or empty).
pub fn label_value(text: &str) -> Result<(), String> {
    if text.len() > 63 {
        return Err(format!("`{text}` is {} characters long; a label value has at most 63", text.len()));
    }
    if let Some(c) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(format!("`{}` holds {}, which a Kubernetes label value cannot", text.escape_default(), shown(c)));
    }
    let edge_ok = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    if !edge_ok(text.chars().next()) || !edge_ok(text.chars().last()) {
        return Err(format!("`{text}` must begin and end with a letter or digit to be a Kubernetes label value"));
    }
    Ok(())
}

/// An absolute http(s) URL (`https` only when `https_only`), parsed, with a host, without
/// spaces or user credentials.
pub fn url(text: &str, https_only: bool) -> Result<(), String> {
    let shown_text = text.escape_default().to_string();
    if let Some(c) = text.chars().find(|c| c.is_whitespace() || control_character(&c.to_string()).is_some()) {
        return Err(format!("`{shown_text}` holds {}: a URL has none (percent-encode a space as %20)", shown(c)));
    }
    let parsed = url::Url::parse(text).map_err(|e| format!("`{shown_text}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if !https_only => {}
        other => {
            let expected = if https_only { "https" } else { "http or https" };
            return Err(format!("`{shown_text}` uses the scheme `{other}`; expected {expected}"));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{shown_text}` has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("`{}` carries credentials (user:password@)", redact_url(text)));
    }
    Ok(())
}

/// A plain email address: one `@`, a local part and a dotted domain, no spaces, quotes or brackets.
pub fn email(text: &str) -> Result<(), String> {
    let shown_text = text.escape_default().to_string();
    let Some((local, domain)) = text.split_once('@') else {
        return Err(format!("`{shown_text}` is not an email address"));
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&*+-/=?^_`{|}~.".contains(c));
    let domain_ok = domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(format!("`{shown_text}` is not an email address"))
    }
}

/// A Slack channel as Argo Rollouts subscribes it: an optional `#`, then lower-case letters,
/// digits, `-`, `_` and `.` (a `;` would subscribe another channel).
pub fn slack_channel(text: &str) -> Result<(), String> {
    let name = text.strip_prefix('#').unwrap_or(text);
    let ok = !name.is_empty()
        && name.len() <= 80
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!("`{}` is not a Slack channel name", text.escape_default()))
    }
}

/// An HTTP path for a probe: starts with `/`, and only URL path characters follow.
pub fn http_path(text: &str) -> Result<(), String> {
    if !text.starts_with('/') {
        return Err(format!("probe path `{}` must start with `/`", text.escape_default()));
    }
    if let Some(c) = text.chars().find(|c| !(c.is_ascii_graphic()) || matches!(c, '"' | '\'' | '`' | '\\' | '#')) {
        return Err(format!(
            "probe path `{}` holds {}, which an HTTP path cannot (percent-encode it)",
            text.escape_default(),
            shown(c)
        ));
    }
    Ok(())
}

/// A URL with its password and secret-looking query values replaced by `(redacted)`, for messages.
pub fn redact_url(text: &str) -> String {
    crate::redact::url(text)
}

fn shown(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        c if control_character(&c.to_string()).is_some() || c.is_whitespace() => describe(c),
        c => format!("`{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_follow_the_kubernetes_grammar() {
        assert!(label_value("payments").is_ok());
        assert!(label_value("team_a.b-c").is_ok());
        assert!(label_value("").is_ok());
        assert!(label_value("payments\nx: y").is_err());
        assert!(label_value("-payments").is_err());
        assert!(label_value("pay ments").is_err());
        assert!(label_value(&"a".repeat(64)).is_err());
    }

    #[test]
    fn urls_are_parsed() {
        assert!(url("https://hooks.example.com/x", true).is_ok());
        assert!(url("http://hooks.example.com/x", false).is_ok());
        assert!(url("http://hooks.example.com/x", true).is_err());
        assert!(url("https://h/x\ninsecureSkipVerify: true", false).is_err());
        assert!(url("https://h/x: y", false).unwrap_err().contains("a space"));
        assert!(url("https://user:pw@h/x", false).unwrap_err().contains("credentials"));
        assert!(!url("https://user:pw@h/x", false).unwrap_err().contains("pw"));
        assert!(url("ftp://h/x", false).is_err());
        assert!(url("hooks.example.com", false).is_err());
    }

    #[test]
    fn emails_slack_channels_and_paths() {
        assert!(email("oncall@example.com").is_ok());
        assert!(email("on\ncall@example.com").is_err());
        assert!(email("oncall@example.com\nx").is_err());
        assert!(email("oncall").is_err());
        assert!(slack_channel("#payments-oncall").is_ok());
        assert!(slack_channel("#a;#b").is_err());
        assert!(http_path("/health/ready").is_ok());
        assert!(http_path("/health ready").is_err());
        assert!(http_path("health").is_err());
    }

    #[test]
    fn control_characters_are_found() {
        assert_eq!(control_character("a\nb"), Some('\n'));
        assert_eq!(control_character("a\u{85}b"), Some('\u{85}'));
        assert_eq!(control_character("a\u{2028}b"), Some('\u{2028}'));
        assert_eq!(control_character("plain text: with # and \"quotes\""), None);
    }
}
