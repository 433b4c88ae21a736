//! Markdown for `$GITHUB_STEP_SUMMARY` or a PR comment: the verdict, a
//! table by persona and severity, then every finding, then the skips.

use std::io::{self, Write};

use crate::finding::Report;

/// Makes text safe inside a table cell.
pub(super) fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace(['\r', '\n'], " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An inline code span that survives backticks inside `s`.
fn code(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    // Entities are literal inside code spans: escape only what breaks a row.
    let body = s.replace('|', "\\|").replace(['\r', '\n'], " ");
    format!("{fence}{pad}{body}{pad}{fence}")
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
    writeln!(out, "{}\n", cell(&super::summary_line(report)))?;

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
                cell(&p.name),
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
            let file = match &f.old_file {
                Some(old) => format!("{} (from {})", code(&f.file), code(old)),
                None => code(&f.file),
            };
            writeln!(
                out,
                "| {mark} | {file} | {line} | {} ({}) | {} | {} |",
                cell(&f.persona),
                f.severity,
                cell(&f.message),
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
            writeln!(out, "- {} — {}", code(&skip.file), skip.reason.as_str())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_and_newlines() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("x"), "`x`");
    }
}
