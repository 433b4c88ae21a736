//! GitHub Actions workflow commands: one annotation per finding, at most
//! ten of each kind (GitHub shows no more per step), most severe first, then
//! one notice saying how many were not shown and where to see them.

use std::io::{self, Write};

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

/// Escapes a command's message.
pub(super) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command's property value.
pub(super) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn annotation(f: &Finding) -> String {
    let mut props = vec![format!("file={}", escape_property(&f.file))];
    if let (Some(l), Some(c), Some(el), Some(ec)) = (f.line, f.column, f.end_line, f.end_column) {
        props.push(format!("line={l}"));
        props.push(format!("col={c}"));
        props.push(format!("endLine={el}"));
        props.push(format!("endColumn={ec}"));
    }
    props.push(format!(
        "title={}",
        escape_property(&format!("valve {}", f.persona))
    ));
    let mut message = format!("{}: {}", f.severity, f.message);
    if let Some(m) = &f.matched {
        message.push_str(&format!(" — `{m}`"));
    }
    if let Some(r) = &f.response {
        message.push_str(&format!(" [{r}]"));
    }
    if f.blocking {
        message.push_str(" (blocking)");
    }
    format!(
        "::{} {}::{}",
        kind(f.severity),
        props.join(","),
        escape_data(&message)
    )
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // Most severe first; within a severity, the report's (path) order.
    let mut order: Vec<&Finding> = report.findings.iter().collect();
    order.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut shown = [0usize; 3];
    let mut hidden = 0usize;
    for f in order {
        let slot = match kind(f.severity) {
            "notice" => 0,
            "warning" => 1,
            _ => 2,
        };
        if shown[slot] < PER_KIND {
            shown[slot] += 1;
            writeln!(out, "{}", annotation(f))?;
        } else {
            hidden += 1;
        }
    }
    if hidden > 0 {
        writeln!(
            out,
            "::notice title=valve::{}",
            escape_data(&format!(
                "{hidden} more finding{} not shown as annotations (GitHub shows {PER_KIND} of each kind per step); see the job summary or the SARIF report",
                if hidden == 1 { " was" } else { "s were" }
            ))
        )?;
    }
    let skipped = report.skipped.len();
    if skipped > 0 {
        let list: Vec<String> = report
            .skipped
            .iter()
            .map(|s| format!("{} ({})", s.file, s.reason.as_str()))
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
        s.verdict, s.blocking, s.fail_on, s.fail_on_source
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escapes_percent_and_newlines() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
    }

    #[test]
    fn properties_also_escape_colon_and_comma() {
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
