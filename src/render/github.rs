//! GitHub Actions workflow commands: one annotation per finding, most
//! severe first, at most ten lines of each kind (GitHub shows no more per
//! step) counting valve's own overflow line: when a kind does not fit,
//! nine findings and one line of that kind saying how many more were not
//! shown and where to see them. The plain log lines after the annotations
//! go through the terminal escape, so the runner never reads them as
//! commands (SPEC §5, §9).

use std::io::{self, Write};

use crate::escape::{github_data, github_property, terminal};
use crate::finding::{Finding, Report};
use crate::severity::Severity;

/// GitHub displays at most this many annotations of each kind per step.
pub(super) const PER_KIND: usize = 10;

fn kind(s: Severity) -> &'static str {
    match s {
        Severity::Info => "notice",
        Severity::Warning => "warning",
        Severity::Error | Severity::Critical => "error",
    }
}

fn annotation(f: &Finding) -> String {
    let mut props = vec![format!("file={}", github_property(&f.file))];
    if let (Some(l), Some(c), Some(el), Some(ec)) = (f.line, f.column, f.end_line, f.end_column) {
        props.push(format!("line={l}"));
        props.push(format!("col={c}"));
        props.push(format!("endLine={el}"));
        props.push(format!("endColumn={ec}"));
    }
    props.push(format!(
        "title={}",
        github_property(&format!("valve {}", f.persona))
    ));
    let mut message = format!("{}: {}", f.severity, f.message_with_notes());
    if let Some(m) = &f.matched {
        message.push_str(&format!(" — `{m}`"));
    }
    if let Some(r) = &f.response {
        message.push_str(&format!(" [{r}]"));
    }
    if f.blocking {
        message.push_str(" (blocking)");
    }
    // The line is the commit's, which the head may no longer have.
    if let Some(c) = f.short_commit() {
        message.push_str(&format!(" in commit {c}"));
    }
    format!(
        "::{} {}::{}",
        kind(f.severity),
        props.join(","),
        github_data(&message)
    )
}

/// The last line of a kind that did not fit: how many more, and where.
fn overflow(kind: &str, hidden: usize, sarif: bool) -> String {
    let text = format!(
        "{hidden} more {kind} finding{} not shown as annotations (GitHub shows {PER_KIND} of each kind per step); the markdown job summary lists every finding{}",
        if hidden == 1 { " was" } else { "s were" },
        if sarif {
            ", and so does the SARIF report (code scanning)"
        } else {
            ""
        }
    );
    format!("::{kind} title=valve::{}", github_data(&text))
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // valve's own notes take a line of their kind from the budget.
    let policy = super::policy_note(report);
    let truncation = super::truncation_note(report);
    if let Some(note) = &policy {
        writeln!(out, "::warning title=valve policy::{}", github_data(note))?;
    }
    if let Some(note) = &truncation {
        writeln!(out, "::notice title=valve::{}", github_data(note))?;
    }
    // Most severe first; within a severity, the report's (path) order.
    let mut order: Vec<&Finding> = report.findings.iter().collect();
    order.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let by = &report.summary.by_severity;
    for k in ["error", "warning", "notice"] {
        let mine: Vec<&Finding> = order
            .iter()
            .copied()
            .filter(|f| kind(f.severity) == k)
            .collect();
        // Counted findings, the ones past `max_findings` included.
        let total = match k {
            "error" => by.error + by.critical,
            "warning" => by.warning,
            _ => by.info,
        }
        .max(mine.len());
        let budget = PER_KIND
            - usize::from(k == "warning" && policy.is_some())
            - usize::from(k == "notice" && truncation.is_some());
        let shown = if total > budget {
            budget - 1
        } else {
            mine.len()
        }
        .min(mine.len());
        for f in &mine[..shown] {
            writeln!(out, "{}", annotation(f))?;
        }
        if shown < total {
            writeln!(out, "{}", overflow(k, total - shown, report.sarif_written))?;
        }
    }
    let skipped = report.skipped.len();
    if skipped > 0 {
        let list: Vec<String> = report
            .skipped
            .iter()
            .map(|s| format!("{} ({})", terminal(&s.file), s.reason.as_str()))
            .collect();
        writeln!(
            out,
            "valve: {skipped} file{} not searched: {}",
            if skipped == 1 { "" } else { "s" },
            list.join(", ")
        )?;
    }
    writeln!(out, "{}", super::summary_line(report))?;
    let s = &report.summary;
    writeln!(
        out,
        "valve: {} ({} blocking; threshold {} from {})",
        s.verdict,
        s.blocking,
        s.fail_on,
        terminal(&s.fail_on_source)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_a_line_of_the_same_kind() {
        let line = overflow("warning", 3, false);
        assert!(!line.contains("SARIF"), "{line}");
        assert!(overflow("error", 2, true).contains("SARIF"));
        assert!(line.starts_with("::warning title=valve::3 more warning findings were not shown"));
        assert!(line.contains("job summary"), "{line}");
        assert!(overflow("error", 1, false).contains("1 more error finding was not shown"));
    }
}
