//! Human output: a miette diagnostic per finding (source line, match
//! underlined), grouped by file, then skips, the summary and the verdict.
//! Every datum goes through `escape::terminal` (snippets through
//! `escape::terminal_text`), and the rendered diagnostics through
//! `escape::terminal_block`; colour is added around escaped text.

use std::fmt;
use std::io::{self, Write};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

use crate::escape::{self, terminal};
use crate::finding::{Finding, Report, SkipReason};
use crate::severity::Severity;

/// How human output looks.
#[derive(Debug, Clone)]
pub struct HumanStyle {
    pub color: bool,
    pub width: usize,
    pub verbose: bool,
    pub quiet: bool,
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

fn paint(style: &HumanStyle, code: &str, text: &str) -> String {
    if style.color {
        format!("{code}{text}{RESET}")
    } else {
        text.to_string()
    }
}

pub(super) fn render(report: &Report, style: &HumanStyle, out: &mut dyn Write) -> io::Result<()> {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_context_lines(1)
        .with_links(false);
    // Config warnings go to stderr in every format (commands.rs).
    if let Some(note) = super::policy_note(report) {
        writeln!(
            out,
            "{} {}",
            paint(style, YELLOW, "policy:"),
            terminal(&note)
        )?;
    }
    if !style.quiet {
        let mut current: Option<&str> = None;
        for f in &report.findings {
            if current != Some(f.file.as_str()) {
                if current.is_some() {
                    writeln!(out)?;
                }
                let header = match &f.old_file {
                    Some(old) => {
                        format!("{} (renamed from {})", terminal(&f.file), terminal(old))
                    }
                    None => format!("{} ({})", terminal(&f.file), f.change.as_str()),
                };
                writeln!(out, "{}", paint(style, BOLD, &header))?;
                current = Some(&f.file);
            }
            let mut text = String::new();
            let diag = FindingDiagnostic::new(f);
            if handler.render_report(&mut text, &diag).is_err() {
                text = format!("  {}\n", diag.title);
            }
            write!(out, "{}", escape::terminal_block(&text))?;
        }
        if !report.findings.is_empty() {
            writeln!(out)?;
        }
        write_skips(report, style, out)?;
    }
    if let Some(note) = super::truncation_note(report) {
        writeln!(out, "{}", terminal(&note))?;
    }
    writeln!(out, "{}", summary_line(report))?;
    writeln!(out, "{}", verdict_line(report, style))
}

fn write_skips(report: &Report, style: &HumanStyle, out: &mut dyn Write) -> io::Result<()> {
    for reason in [
        SkipReason::Binary,
        SkipReason::TooLarge,
        SkipReason::Submodule,
        SkipReason::Symlink,
        SkipReason::Special,
        SkipReason::OwnFile,
        SkipReason::Vanished,
    ] {
        let files: Vec<&str> = report
            .skipped
            .iter()
            .filter(|s| s.reason == reason)
            .map(|s| s.file.as_str())
            .collect();
        if files.is_empty() {
            continue;
        }
        let what = match reason {
            SkipReason::Binary => "binary: triggers skipped",
            SkipReason::TooLarge => "over max_file_size: triggers skipped",
            SkipReason::Submodule => "submodule: not evaluated",
            SkipReason::Symlink => "symlink: path only, target not read",
            SkipReason::Special => "FIFO, socket or device: never opened",
            SkipReason::OwnFile => "valve's own policy file: never judged by triggers",
            SkipReason::Vanished => "deleted or replaced while valve read it",
        };
        let count = files.len();
        let noun = if count == 1 { "file" } else { "files" };
        if style.verbose {
            writeln!(out, "skipped {count} {noun} ({what}):")?;
            for f in files {
                writeln!(out, "  {}", terminal(f))?;
            }
        } else {
            writeln!(out, "skipped {count} {noun} ({what}); -v lists them")?;
        }
    }
    Ok(())
}

/// One line: what was judged and found. Also the stderr line with `--output`.
pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let noun = if report.whole_files {
        "file"
    } else {
        "changed file"
    };
    if s.files_changed == 0 && s.commits == 0 {
        return format!("valve: no {noun}s to judge");
    }
    let files = plural(s.files_changed, noun);
    if s.files_scanned == 0 && s.commits == 0 {
        return format!("valve: no persona takes any of the {files}");
    }
    // History judging: the commits were judged one by one too.
    let judged = match (s.files_changed, s.commits) {
        (_, 0) => format!("{} of {files}", s.files_scanned),
        (0, n) => format!("{} (no net change)", plural(n, "commit")),
        (_, n) => format!("{} of {files} and {}", s.files_scanned, plural(n, "commit")),
    };
    let mut parts = Vec::new();
    for sev in Severity::ALL.iter().rev() {
        let n = match sev {
            Severity::Info => s.by_severity.info,
            Severity::Warning => s.by_severity.warning,
            Severity::Error => s.by_severity.error,
            Severity::Critical => s.by_severity.critical,
        };
        if n > 0 {
            parts.push(format!("{n} {sev}"));
        }
    }
    let found = if parts.is_empty() {
        "no findings".to_string()
    } else {
        format!("{} ({})", plural(s.findings, "finding"), parts.join(", "))
    };
    let mut extra = Vec::new();
    if s.suppressed > 0 {
        extra.push(format!("{} suppressed inline", s.suppressed));
    }
    if s.baselined > 0 {
        extra.push(format!("{} in the baseline", s.baselined));
    }
    let skipped = s.files_binary + s.files_too_large;
    if skipped > 0 {
        extra.push(format!("{} not searched", plural(skipped, "file")));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("; {}", extra.join(", "))
    };
    format!("valve: {found} in {judged}{extra} [{} ms]", s.duration_ms)
}

fn verdict_line(report: &Report, style: &HumanStyle) -> String {
    let s = &report.summary;
    let threshold = format!(
        "threshold {} from {}",
        s.fail_on,
        terminal(&s.fail_on_source)
    );
    if s.blocking == 0 {
        return paint(
            style,
            GREEN,
            &format!("passed: nothing at or above the threshold ({threshold})"),
        );
    }
    let mut names: Vec<String> = Vec::new();
    for f in report.findings.iter().filter(|f| f.blocking) {
        let name = format!("{} ({})", terminal(&f.persona), f.severity);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let first = report.findings.iter().find(|f| f.blocking);
    let at = first
        .map(|f| match f.line {
            Some(l) => format!(", first at {}:{l}", terminal(&f.file)),
            None => format!(", first on {}", terminal(&f.file)),
        })
        .unwrap_or_default();
    let text = format!(
        "blocked: {} by {}{at} ({threshold}). Fix it, or silence a line with `valve:ignore[Persona]`, accept what exists with `valve baseline`, or raise the bar with --fail-on.",
        plural(s.blocking, "blocking finding"),
        names.join(", ")
    );
    paint(style, RED, &text)
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A finding dressed as a miette diagnostic.
struct FindingDiagnostic {
    title: String,
    severity: miette::Severity,
    help: Option<String>,
    label: Option<(SourceSpan, String)>,
    source: Option<SnippetSource>,
}

impl FindingDiagnostic {
    fn new(f: &Finding) -> Self {
        let severity = match f.severity {
            Severity::Info => miette::Severity::Advice,
            Severity::Warning => miette::Severity::Warning,
            Severity::Error | Severity::Critical => miette::Severity::Error,
        };
        let (persona, file) = (terminal(&f.persona), terminal(&f.file));
        let response = match &f.response {
            Some(r) if *r != f.message => format!(" [{}]", terminal(r)),
            _ => String::new(),
        };
        let blocking = if f.blocking { " (blocking)" } else { "" };
        // A finding of history judging names the commit that introduced it.
        let commit = f
            .short_commit()
            .map(|c| format!(" in commit {}", terminal(c)))
            .unwrap_or_default();
        let title = format!(
            "{} {persona}: {}{response}{blocking}{commit}",
            f.severity,
            terminal(&f.message)
        );
        let (label, source, help) = match (&f.snippet, f.line, f.column) {
            (Some(snip), Some(line), Some(column)) => {
                // The snippet is shown escaped; the span follows the escaping.
                let text = escape::terminal_text(&snip.text);
                let span = text.span(SourceSpan::new(snip.start.into(), snip.len));
                let label = match f.trigger {
                    Some(t) => format!("trigger {t} matched here"),
                    None => "matched here".to_string(),
                };
                let source = SnippetSource {
                    name: file.to_string(),
                    text: text.text,
                    first_line: snip.first_line as usize,
                    primary: span,
                    line: line as usize - 1,
                    column: column as usize - 1,
                };
                let help = if f.can_ignore {
                    format!(
                        "fix it, or silence this line with `valve:ignore[{persona}]` in a comment"
                    )
                } else {
                    format!(
                        "fix it; {persona} cannot be silenced inline (allow_ignore: false), only by `valve baseline`"
                    )
                };
                (Some((span, label)), Some(source), Some(help))
            }
            _ => (
                None,
                None,
                Some(format!(
                    "{file} matched the persona's path globs ({})",
                    f.change.as_str()
                )),
            ),
        };
        FindingDiagnostic {
            title,
            severity,
            help,
            label,
            source,
        }
    }
}

impl fmt::Debug for FindingDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl fmt::Display for FindingDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for FindingDiagnostic {}

impl Diagnostic for FindingDiagnostic {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.label.as_ref().map(|(span, text)| {
            Box::new(std::iter::once(LabeledSpan::new_primary_with_span(
                Some(text.clone()),
                *span,
            ))) as Box<dyn Iterator<Item = LabeledSpan>>
        })
    }
}

/// A few lines of a file that report their true line numbers, and the true
/// column of the match even when a long line was windowed.
#[derive(Debug)]
struct SnippetSource {
    name: String,
    text: String,
    first_line: usize,
    primary: SourceSpan,
    line: usize,
    column: usize,
}

impl SourceCode for SnippetSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        let (line, column) = if *span == self.primary && before == 0 && after == 0 {
            (self.line, self.column)
        } else {
            (inner.line() + self.first_line - 1, inner.column())
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            line,
            column,
            inner.line_count(),
        )))
    }
}
