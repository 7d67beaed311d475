//! `glidepath history`: the audit trail, newest first.

use std::fmt::Write;

use crate::state::audit::AuditRecord;

/// A revision as people read it: the commit's first 12 hex digits, and `+dirty` when the catalog
/// had uncommitted changes (the marker is the point: what was applied is not in any commit).
pub fn revision(record: &AuditRecord) -> String {
    match record.revision.as_deref() {
        None => "-".to_string(),
        Some(revision) => {
            let (commit, dirty) = match revision.strip_suffix("+dirty") {
                Some(commit) => (commit, "+dirty"),
                None => (revision, ""),
            };
            format!("{}{dirty}", &commit[..commit.len().min(12)])
        }
    }
}

fn count(record: &AuditRecord, outcome: &str) -> usize {
    record.changes.iter().filter(|c| c.outcome == outcome).count()
}

pub fn human(records: &[&AuditRecord]) -> String {
    let mut out = String::new();
    if records.is_empty() {
        writeln!(out, "No applies recorded yet.").ok();
        return out;
    }
    for record in records {
        writeln!(
            out,
            "{}  {}  rev {}  {}  applied {}, recorded {}, failed {}, skipped {}",
            record.time,
            record.who,
            revision(record),
            record.result,
            count(record, "applied"),
            count(record, "recorded"),
            count(record, "failed"),
            count(record, "skipped")
        )
        .ok();
        for change in record.changes.iter().filter(|c| c.outcome == "failed") {
            writeln!(out, "    failed {}: {}", change.address, change.error.as_deref().unwrap_or("")).ok();
        }
    }
    out
}

/// A Markdown table (for a PR comment or a wiki page), the failures listed under it.
pub fn markdown(records: &[&AuditRecord]) -> String {
    let mut out = String::new();
    writeln!(out, "### glidepath history\n").ok();
    if records.is_empty() {
        writeln!(out, "No applies recorded yet.").ok();
        return out;
    }
    writeln!(out, "| When (UTC) | Who | Host | Revision | Result | Applied | Recorded | Failed | Skipped |").ok();
    writeln!(out, "|---|---|---|---|---|---:|---:|---:|---:|").ok();
    for record in records {
        writeln!(
            out,
            "| {} | {} | {} | `{}` | {} | {} | {} | {} | {} |",
            cell(&record.time),
            cell(&record.who),
            cell(&record.host),
            revision(record),
            cell(&record.result),
            count(record, "applied"),
            count(record, "recorded"),
            count(record, "failed"),
            count(record, "skipped")
        )
        .ok();
    }
    let failures: Vec<_> =
        records.iter().flat_map(|r| r.changes.iter().filter(|c| c.outcome == "failed").map(move |c| (r, c))).collect();
    if !failures.is_empty() {
        writeln!(out, "\n**Failed changes:**\n").ok();
        for (record, change) in failures {
            writeln!(
                out,
                "- {}: `{}`: {}",
                cell(&record.time),
                change.address,
                cell(change.error.as_deref().unwrap_or(""))
            )
            .ok();
        }
    }
    out
}

/// Text for a table cell: pipes escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(revision: Option<&str>) -> AuditRecord {
        AuditRecord {
            time: "2026-01-02T03:04:05Z".into(),
            who: "dev@example.com".into(),
            host: "laptop".into(),
            aws: None,
            revision: revision.map(String::from),
            plan_digest: "sha256:00".into(),
            result: "applied".into(),
            changes: Vec::new(),
        }
    }

    #[test]
    fn revisions_keep_the_dirty_marker() {
        let commit = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(revision(&record(Some(commit))), "0123456789ab");
        assert_eq!(revision(&record(Some(&format!("{commit}+dirty")))), "0123456789ab+dirty");
        assert_eq!(revision(&record(None)), "-");
    }

    #[test]
    fn markdown_is_a_table() {
        let shown = markdown(&[&record(Some("0123456789abcdef+dirty"))]);
        assert!(shown.contains("| When (UTC) | Who |"), "{shown}");
        assert!(
            shown.contains(
                "| 2026-01-02T03:04:05Z | dev@example.com | laptop | `0123456789ab+dirty` | applied | 0 | 0 | 0 | 0 |"
            ),
            "{shown}"
        );
    }
}
