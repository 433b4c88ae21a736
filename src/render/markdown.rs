//! Markdown for `$GITHUB_STEP_SUMMARY` or a PR comment: the verdict, a
//! table by persona and severity, then every finding, then the skips.
//! Prose data (persona names, messages) goes through `markdown_text`, exact
//! data (paths, matches) into code spans (`markdown_code`): see escape.rs.

use std::io::{self, Write};

use crate::escape::{markdown_code, markdown_text};
use crate::finding::Report;

/// Exact text in a table cell.
fn code(s: &str) -> String {
    markdown_code(s, true)
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let s = &report.summary;
    let verdict = if s.blocking > 0 {
        format!(
            "❌ **blocked**: {} blocking finding{} (threshold `{}` from {})",
            s.blocking,
            if s.blocking == 1 { "" } else { "s" },
            s.fail_on,
            s.fail_on_source
        )
    } else {
        format!(
            "✅ **passed** (threshold `{}` from {})",
            s.fail_on, s.fail_on_source
        )
    };
    writeln!(out, "## valve\n\n{verdict}\n")?;
    // valve's own words and counts only: no data to escape.
    writeln!(out, "{}\n", super::summary_line(report))?;
    let policy = &report.summary.policy;
    if policy.changed {
        let files: Vec<String> = policy
            .files
            .iter()
            .map(|f| markdown_code(f, false))
            .collect();
        let how = match policy.mode {
            "both" => {
                "both the base's and the head's policies judged it: a change can tighten the gate, never loosen it"
            }
            "base" => "the merge base's policy judged it",
            _ => "the changed policy itself judged it",
        };
        writeln!(
            out,
            "> ⚠️ **Policy changed**: this change edits valve's policy ({}); {how}.\n",
            files.join(", ")
        )?;
    }
    if let Some(note) = super::truncation_note(report) {
        writeln!(out, "> ℹ️ {note}.\n")?;
    }

    if !report.findings.is_empty() {
        writeln!(out, "| Persona | Severity | Findings | Blocking |")?;
        writeln!(out, "|---|---|---:|---:|")?;
        for p in &report.personas {
            let mine: Vec<_> = report
                .findings
                .iter()
                .filter(|f| f.persona == p.name)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let blocking = mine.iter().filter(|f| f.blocking).count();
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                markdown_text(&p.name),
                p.severity,
                mine.len(),
                blocking
            )?;
        }
        writeln!(out)?;
        writeln!(out, "### Findings\n")?;
        writeln!(out, "| | File | Line | Persona | Message | Match |")?;
        writeln!(out, "|---|---|---:|---|---|---|")?;
        for f in &report.findings {
            let mark = if f.blocking { "❌" } else { "⚠️" };
            let line = match (f.line, f.column) {
                (Some(l), Some(c)) => format!("{l}:{c}"),
                _ => String::new(),
            };
            let mut file = match &f.old_file {
                Some(old) => format!("{} (from {})", code(&f.file), code(old)),
                None => code(&f.file),
            };
            if let Some(commit) = f.short_commit() {
                file.push_str(&format!(" in commit {}", code(commit)));
            }
            writeln!(
                out,
                "| {mark} | {file} | {line} | {} ({}) | {} | {} |",
                markdown_text(&f.persona),
                f.severity,
                markdown_text(&f.message),
                f.matched.as_deref().map(code).unwrap_or_default()
            )?;
        }
        writeln!(out)?;
    }
    if !report.skipped.is_empty() {
        writeln!(
            out,
            "<details><summary>{} file{} not searched</summary>\n",
            report.skipped.len(),
            if report.skipped.len() == 1 { "" } else { "s" }
        )?;
        for skip in &report.skipped {
            writeln!(
                out,
                "- {} — {}",
                markdown_code(&skip.file, false),
                skip.reason.as_str()
            )?;
        }
        writeln!(out, "\n</details>\n")?;
    }
    if s.blocking > 0 {
        writeln!(
            out,
            "Fix the findings, silence a line with `valve:ignore[Persona]`, or accept existing ones with `valve baseline`."
        )?;
    }
    Ok(())
}
