//! Output formats: a closed enum, one plain function per format, each from
//! a `Report` to a writer. Only this module writes reports.

use std::io::{self, Write};

use crate::finding::Report;

mod github;
mod human;
mod json;
mod markdown;
mod sarif;

pub use human::{HumanStyle, summary_line};

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
