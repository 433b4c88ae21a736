//! `json` (one object) and `ndjson` (a finding a line, then the summary).

use std::io::{self, Write};

use serde::Serialize;

use crate::finding::{Finding, Report, Skip, Summary};

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    findings: &'a [Finding],
    skipped: &'a [Skip],
    summary: &'a Summary,
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let doc = JsonReport {
        version: 1,
        findings: &report.findings,
        skipped: &report.skipped,
        summary: &report.summary,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

pub(super) fn render_ndjson(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        serde_json::to_writer(&mut *out, f)?;
        writeln!(out)?;
    }
    for s in &report.skipped {
        let line = serde_json::json!({"type": "skipped", "file": s.file, "reason": s.reason});
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    }
    serde_json::to_writer(&mut *out, &report.summary)?;
    writeln!(out)
}
