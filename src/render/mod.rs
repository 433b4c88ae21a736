//! Output formats: a closed enum, one plain function per format, each from
//! a `Report` to a writer. Only this module writes reports.

use std::io::{self, Write};

use crate::finding::Report;

mod github;
mod human;
mod json;
mod layout;
mod markdown;
mod sarif;

pub use human::{HumanStyle, summary_line};

/// Said in every format when the judged change edits a policy file (§9).
pub fn policy_note(report: &Report) -> Option<String> {
    let p = &report.summary.policy;
    if !p.changed {
        return None;
    }
    let how = match p.mode {
        "both" => {
            "both the base's and the head's policies judged it: a change can tighten the gate, never loosen it"
        }
        "base" => "the merge base's policy judged it: the change cannot alter how it is judged",
        _ => "the changed policy itself judged it",
    };
    Some(format!(
        "this change edits valve's policy ({}); {how}",
        p.files.join(", ")
    ))
}

/// Said in every format when findings were counted but not kept (§9).
pub fn truncation_note(report: &Report) -> Option<String> {
    let s = &report.summary;
    (s.truncated > 0).then(|| {
        format!(
            "findings truncated: {} of {} not kept in this report (max_findings); counts and the verdict include them",
            s.truncated, s.findings
        )
    })
}

/// The report formats of SPEC §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Ndjson,
    Sarif,
    Github,
    Markdown,
}

/// Writes `report` in `format`.
pub fn render(
    format: Format,
    report: &Report,
    style: &HumanStyle,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human => human::render(report, style, out),
        Format::Json => json::render(report, out),
        Format::Ndjson => json::render_ndjson(report, out),
        Format::Sarif => sarif::render(report, out),
        Format::Github => github::render(report, out),
        Format::Markdown => markdown::render(report, out),
    }
}
