//! The YAML "formatter": whitespace only, and only when the document provably means the same.
//!
//! Re-indenting YAML or reordering keys would lose comments or change meaning, so it is never
//! done. What is normalized: trailing whitespace, more than one blank line in a row, blank lines
//! at the start or end, the final newline. In a block scalar (`|`, `>`) those can be content, so
//! the result is kept only when it loads to exactly the same documents as the original;
//! otherwise the file is left byte for byte (`Outcome::Kept`).

use yaml_rust2::YamlLoader;

/// What formatting a YAML file gives.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The normalized text (equal to the input when it was already formatted).
    Formatted(String),
    /// Normalizing would change a value (whitespace inside a block scalar): left as it is.
    Kept,
}

/// Formats YAML text that parses (the caller reports syntax errors first, located).
pub fn format(text: &str) -> Outcome {
    let result = super::join_lines(text.lines().map(|line| (line.trim_end(), true)), text.len());
    if result == text {
        return Outcome::Formatted(result);
    }
    match (YamlLoader::load_from_str(text), YamlLoader::load_from_str(&result)) {
        (Ok(before), Ok(after)) if before == after => Outcome::Formatted(result),
        _ => Outcome::Kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_normalized_and_comments_stay() {
        let text = "\n\n# top   \nplatform:   \n  name: shop # the name\t\n\n\n\nservices: {}";
        let Outcome::Formatted(out) = format(text) else { panic!("kept") };
        assert_eq!(out, "# top\nplatform:\n  name: shop # the name\n\nservices: {}\n");
        assert_eq!(format(&out), Outcome::Formatted(out.clone()), "idempotent");
    }

    #[test]
    fn block_scalar_content_is_never_touched() {
        // Trailing spaces and blank lines inside `|` are part of the value.
        let text = "script: |\n  echo a  \n\n\n  echo b\nnext: 1\n";
        assert_eq!(format(text), Outcome::Kept);
        // Keep chomping: trailing blank lines at the end of the file are content too.
        assert_eq!(format("a: |+\n  x\n\n\n"), Outcome::Kept);
    }

    #[test]
    fn folded_plain_scalars_may_lose_trailing_spaces() {
        // Line folding discards trailing spaces of a multi-line plain scalar: same value.
        let text = "a: one   \n  two\n";
        assert_eq!(format(text), Outcome::Formatted("a: one\n  two\n".into()));
    }
}
