//! `json` (one object) and `ndjson` (a finding a line, then the summary),
//! written by escape.rs's JSON writer (inert in a CI log).

use std::io::{self, Write};

use serde::Serialize;

use crate::escape::json_to_writer;
use crate::finding::{Changeset, Finding, PersonaInfo, Report, Skip, Summary};

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    findings: &'a [Finding],
    skipped: &'a [Skip],
    summary: &'a Summary,
    /// Config warnings (they also go to stderr in every format).
    warnings: &'a [String],
    /// What was judged: `valve merge` joins reports of one change set.
    changeset: Option<&'a Changeset>,
    /// The personas that judged, in config order: what `valve merge` needs
    /// to sort findings and describe rules as the run did.
    personas: Vec<JsonPersona<'a>>,
    /// The threshold context (`hook`, `ci`, `watch`, `default`).
    context: &'a str,
    /// Every `valve:ignore` marker of the judged lines (SPEC §11).
    suppressions: &'a [crate::finding::SuppressionRecord],
}

#[derive(Serialize)]
struct JsonPersona<'a> {
    name: &'a str,
    severity: crate::severity::Severity,
    description: Option<&'a str>,
    message: Option<&'a str>,
    response: Option<&'a str>,
    filters: &'a [String],
    triggers: &'a [String],
    redact: bool,
    allow_ignore: bool,
    tags: &'a [String],
    security_severity: Option<f64>,
    help_uri: Option<&'a str>,
}

impl<'a> JsonPersona<'a> {
    fn of(p: &'a PersonaInfo) -> Self {
        JsonPersona {
            name: &p.name,
            severity: p.severity,
            description: p.description.as_deref(),
            message: p.message.as_deref(),
            response: p.response.as_deref(),
            filters: &p.filters,
            triggers: &p.triggers,
            redact: p.redact,
            allow_ignore: p.allow_ignore,
            tags: &p.tags,
            security_severity: p.security_severity,
            help_uri: p.help_uri.as_deref(),
        }
    }
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let doc = JsonReport {
        version: 1,
        findings: &report.findings,
        skipped: &report.skipped,
        summary: &report.summary,
        warnings: &report.warnings,
        changeset: report.changeset.as_ref(),
        personas: report.personas.iter().map(JsonPersona::of).collect(),
        context: report.context,
        suppressions: &report.suppressions,
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
