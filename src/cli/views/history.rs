//! `glidepath history`: the audit trail, newest first.

use std::fmt::Write;

use crate::state::audit::AuditRecord;

pub fn human(records: &[&AuditRecord]) -> String {
    let mut out = String::new();
    if records.is_empty() {
        writeln!(out, "No applies recorded yet.").ok();
        return out;
    }
    for record in records {
        let count = |outcome: &str| record.changes.iter().filter(|c| c.outcome == outcome).count();
        writeln!(
            out,
            "{}  {}  rev {}  {}  applied {}, recorded {}, failed {}, skipped {}",
            record.time,
            record.who,
            record.revision.as_deref().map(|r| &r[..r.len().min(12)]).unwrap_or("-"),
            record.result,
            count("applied"),
            count("recorded"),
            count("failed"),
            count("skipped")
        )
        .ok();
        for change in record.changes.iter().filter(|c| c.outcome == "failed") {
            writeln!(out, "    failed {}: {}", change.address, change.error.as_deref().unwrap_or("")).ok();
        }
    }
    out
}
