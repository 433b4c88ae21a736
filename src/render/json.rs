//! `json` (one object) and `ndjson` (a finding a line, then the summary),
//! written by escape.rs's JSON writer (inert in a CI log).

use std::io::{self, Write};

use serde::Serialize;

use crate::escape::json_to_writer;
use crate::finding::{Finding, Report, Skip, Summary};

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    findings: &'a [Finding],
    skipped: &'a [Skip],
    summary: &'a Summary,
    /// Config warnings (they also go to stderr in every format).
    warnings: &'a [String],
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let doc = JsonReport {
        version: 1,
        findings: &report.findings,
        skipped: &report.skipped,
        summary: &report.summary,
        warnings: &report.warnings,
    };
    json_to_writer(out, &doc, true)?;
    writeln!(out)
}

pub(super) fn render_ndjson(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        json_to_writer(out, f, false)?;
        writeln!(out)?;
    }
    for w in &report.warnings {
        let line = serde_json::json!({"type": "warning", "message": w});
        json_to_writer(out, &line, false)?;
        writeln!(out)?;
    }
    for s in &report.skipped {
        let line = serde_json::json!({"type": "skipped", "file": s.file, "reason": s.reason});
        json_to_writer(out, &line, false)?;
        writeln!(out)?;
    }
    json_to_writer(out, &report.summary, false)?;
    writeln!(out)
}
