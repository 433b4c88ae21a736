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

/// GitHub refuses a job summary over 1 MiB: valve stays under this,
/// counting what does not fit (SPEC §13).
const MAX_BYTES: usize = 1_000_000;
/// Kept free for what follows the findings (skips, the closing line).
const TAIL_RESERVE: usize = 16 * 1024;

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    write_report(report, &mut buf)?;
    out.write_all(&buf)
}

/// The summary line without its timing, so the report is stable.
fn stable_summary(report: &Report) -> String {
    let line = super::summary_line(report);
    match line.rsplit_once(" [") {
        Some((head, tail)) if tail.ends_with(" ms]") => head.to_string(),
        _ => line,
    }
}

/// A link to a finding's line at the judged commit, when known.
fn link(report: &Report, file: &str, line: Option<u32>) -> Option<String> {
    let base = report.link_base.as_deref()?;
    let mut url = format!("{base}{}", super::sarif::uri(file));
    if let Some(l) = line {
        url.push_str(&format!("#L{l}"));
    }
    Some(url)
}

fn write_report(report: &Report, out: &mut Vec<u8>) -> io::Result<()> {
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
    writeln!(out, "{}\n", stable_summary(report))?;
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
        // Blocking findings first, each group in report order.
        let mut order: Vec<&crate::finding::Finding> = report.findings.iter().collect();
        order.sort_by_key(|f| !f.blocking);
        let budget = MAX_BYTES - TAIL_RESERVE;
        let mut left_out = 0usize;
        for f in order {
            if out.len() >= budget {
                left_out += 1;
                continue;
            }
            let mark = match (f.blocking, f.severity) {
                (true, _) => "❌",
                (false, crate::severity::Severity::Critical) => "🟥",
                (false, crate::severity::Severity::Error) => "🟧",
                (false, crate::severity::Severity::Warning) => "⚠️",
                (false, crate::severity::Severity::Info) => "ℹ️",
            };
            let line = match (f.line, f.column) {
                (Some(l), Some(c)) => format!("{l}:{c}"),
                _ => String::new(),
            };
            let shown = match link(report, &f.file, f.line) {
                Some(url) => format!("[{}]({url})", code(&f.file)),
                None => code(&f.file),
            };
            let mut file = match &f.old_file {
                Some(old) => format!("{shown} (from {})", code(old)),
                None => shown,
            };
            if let Some(commit) = f.short_commit() {
                file.push_str(&format!(" in commit {}", code(commit)));
            }
            writeln!(
                out,
                "| {mark} | {file} | {line} | {} ({}) | {} | {} |",
                markdown_text(&f.persona),
                f.severity,
                markdown_text(&f.message_with_notes()),
                f.matched.as_deref().map(code).unwrap_or_default()
            )?;
        }
        writeln!(out)?;
        owners(report, out)?;
        let not_shown = left_out + s.truncated;
        if not_shown > 0 {
            writeln!(
                out,
                "{not_shown} more finding{} not shown here (a job summary must stay under 1 MiB); `valve check --format json` and the SARIF report list them.\n",
                if not_shown == 1 { " is" } else { "s are" }
            )?;
        }
    }
    new_suppressions(report, out)?;
    if !report.skipped.is_empty() {
        writeln!(
            out,
            "<details><summary>{} file{} not searched</summary>\n",
            report.skipped.len(),
            if report.skipped.len() == 1 { "" } else { "s" }
        )?;
        for (i, skip) in report.skipped.iter().enumerate() {
            if out.len() >= MAX_BYTES - 1024 {
                writeln!(
                    out,
                    "- … and {} more (`valve check -v` lists them)",
                    report.skipped.len() - i
                )?;
                break;
            }
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

/// Blocking findings grouped by owner (SPEC §11), each owner in a code
/// span so that a summary or PR comment never notifies anyone.
fn owners(report: &Report, out: &mut Vec<u8>) -> io::Result<()> {
    let mut groups: Vec<(String, Vec<&crate::finding::Finding>)> = Vec::new();
    for f in report.findings.iter().filter(|f| f.blocking) {
        let keys: Vec<String> = if f.owners.is_empty() {
            vec![String::new()]
        } else {
            f.owners.clone()
        };
        for k in keys {
            match groups.iter_mut().find(|(o, _)| *o == k) {
                Some((_, list)) => list.push(f),
                None => groups.push((k, vec![f])),
            }
        }
    }
    if groups.iter().all(|(o, _)| o.is_empty()) {
        return Ok(());
    }
    groups.sort_by(|a, b| (a.0.is_empty(), &a.0).cmp(&(b.0.is_empty(), &b.0)));
    writeln!(out, "### Blocking findings by owner\n")?;
    for (owner, list) in groups {
        let who = if owner.is_empty() {
            "no owner".to_string()
        } else {
            code(&owner)
        };
        let mut files: Vec<String> = list.iter().map(|f| code(&f.file)).collect();
        files.dedup();
        writeln!(
            out,
            "- {who}: {} blocking in {}",
            list.len(),
            files.join(", ")
        )?;
    }
    writeln!(out)
}

/// What the change waives: its new suppressions with their reasons, for
/// the reviewer (SPEC §11).
fn new_suppressions(report: &Report, out: &mut Vec<u8>) -> io::Result<()> {
    let new: Vec<&crate::finding::SuppressionRecord> =
        report.suppressions.iter().filter(|m| m.new).collect();
    if new.is_empty() {
        return Ok(());
    }
    writeln!(out, "### New suppressions ({})\n", new.len())?;
    writeln!(out, "| File | Line | Silences | Reason | Until |")?;
    writeln!(out, "|---|---:|---|---|---|")?;
    for m in new {
        let names = if m.personas.is_empty() {
            "all personas".to_string()
        } else {
            m.personas
                .iter()
                .map(|p| markdown_text(p))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let reason = match &m.reason {
            Some(r) if !r.trim().is_empty() => markdown_text(r),
            _ => "**no reason given**".to_string(),
        };
        let until = m.until.map(|d| d.to_string()).unwrap_or_default();
        writeln!(
            out,
            "| {} | {} | {names} | {reason} | {until} |",
            code(&m.file),
            m.line
        )?;
    }
    writeln!(out)
}
