//! Human output (SPEC §5, §14), read like a compiler's: per finding a
//! headline `severity[Persona]: message`, `--> file:line:col`, the source
//! line with the match highlighted and underlined, notes and the fix as
//! `= help:`; then, when findings were held back, a table by persona and
//! severity; the skips, the summary and the verdict.
//!
//! Every datum goes through `escape::terminal` (snippets through
//! `escape::terminal_text`) before it is laid out, colour is added around
//! escaped text, and each composed block passes `escape::terminal_block`
//! (a wrapped line may begin inside a datum). No line of valve's own text
//! is wider than `HumanStyle::width`; echoed source lines are windowed
//! around the match to fit as well.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{self, Write};

use super::layout::{self, SOURCE_TAB, Window};
use crate::escape::{self, terminal};
use crate::finding::{Finding, Report, SkipReason, Stage};
use crate::hint;
use crate::severity::Severity;

/// How human output looks.
#[derive(Debug, Clone)]
pub struct HumanStyle {
    pub color: bool,
    pub width: usize,
    pub verbose: bool,
    pub quiet: bool,
}

/// Findings shown besides the blocking ones, unless `-v` (SPEC §14).
const OTHERS_SHOWN: usize = 20;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[1;32m";
const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
/// The gutter, arrows and `=` of a finding.
const BLUE: &str = "\x1b[1;34m";

/// The colour of a severity: critical and error differ.
fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;35m",
        Severity::Error => RED,
        Severity::Warning => YELLOW,
        Severity::Info => "\x1b[1;36m",
    }
}

struct Painter<'a> {
    style: &'a HumanStyle,
}

impl Painter<'_> {
    fn paint<'t>(&self, code: &str, text: &'t str) -> Cow<'t, str> {
        if self.style.color && !text.is_empty() {
            Cow::Owned(format!("{code}{text}{RESET}"))
        } else {
            Cow::Borrowed(text)
        }
    }

    /// `text` (escaped) split at spaces and wrapped to the width: the first
    /// line starts with `prefix`, shown painted with `code`, the others are
    /// indented to line up after it.
    fn lines(&self, out: &mut String, prefix: &str, code: &str, text: &str) {
        let indent = " ".repeat(layout::width(prefix));
        self.lines_indented(out, prefix, code, &indent, text.split(' '));
    }

    fn lines_indented<'a>(
        &self,
        out: &mut String,
        prefix: &str,
        code: &str,
        indent: &str,
        atoms: impl IntoIterator<Item = &'a str>,
    ) {
        let lines = layout::wrap(atoms, self.style.width, prefix, indent);
        for (i, line) in lines.iter().enumerate() {
            match line.strip_prefix(prefix).filter(|_| i == 0) {
                Some(rest) => {
                    out.push_str(self.paint(code, prefix.trim_end()).as_ref());
                    out.push_str(&prefix[prefix.trim_end().len()..]);
                    out.push_str(rest);
                }
                None => out.push_str(line),
            }
            out.push('\n');
        }
    }

    /// A sentence of valve's, wrapped, continuation lines indented.
    fn prose(&self, out: &mut String, text: &str) {
        self.lines_indented(out, "", "", "  ", text.split(' '));
    }

    /// Phrases wrapped to the width, each line painted whole with `code`.
    fn phrases(&self, out: &mut String, code: &str, atoms: &[String]) {
        for line in layout::wrap(atoms.iter().map(String::as_str), self.style.width, "", "  ") {
            match code {
                "" => out.push_str(&line),
                _ => out.push_str(self.paint(code, &line).as_ref()),
            }
            out.push('\n');
        }
    }
}

pub(super) fn render(report: &Report, style: &HumanStyle, out: &mut dyn Write) -> io::Result<()> {
    let p = Painter { style };
    let mut text = String::new();
    // Config warnings go to stderr in every format (commands.rs).
    if let Some(note) = super::policy_note(report) {
        p.lines(&mut text, "policy: ", YELLOW, &terminal(&note));
    }
    write_block(out, &mut text)?;
    if !style.quiet {
        let (shown, hidden) = select(report, style.verbose);
        for f in &shown {
            finding(&p, report, f, &mut text);
            text.push('\n');
            write_block(out, &mut text)?;
        }
        if hidden > 0 {
            table(&p, report, &mut text);
            p.phrases(
                &mut text,
                "",
                &[
                    format!("{hidden} more not shown:"),
                    "-v shows all,".to_string(),
                    "--format json has them".to_string(),
                ],
            );
        }
        new_suppressions(&p, report, &mut text);
        skips(&p, report, &mut text);
    }
    if let Some(note) = super::truncation_note(report) {
        p.prose(&mut text, &terminal(&note));
    }
    p.phrases(&mut text, "", &summary_parts(report));
    verdict(&p, report, &mut text);
    write_block(out, &mut text)
}

/// The suppressions this change adds, with their reasons, so a reviewer
/// sees what it waives (SPEC §11).
fn new_suppressions(p: &Painter<'_>, report: &Report, out: &mut String) {
    let new: Vec<&crate::finding::SuppressionRecord> =
        report.suppressions.iter().filter(|m| m.new).collect();
    if new.is_empty() {
        return;
    }
    p.prose(
        out,
        &format!(
            "{} this change adds (a reviewer should agree):",
            plural(new.len(), "suppression")
        ),
    );
    for m in new {
        let names = if m.personas.is_empty() {
            "all personas".to_string()
        } else {
            m.personas.join(", ")
        };
        let mut atoms = vec![
            format!("{}:{}", m.file, m.line),
            format!("silences {names};"),
        ];
        atoms.push(match &m.reason {
            Some(r) if !r.trim().is_empty() => format!("reason \"{r}\""),
            _ => "no reason given".to_string(),
        });
        if let Some(until) = m.until {
            atoms.push(format!("until {until}"));
        }
        if !m.applied {
            atoms.push("(not applied: --no-inline-ignore)".to_string());
        }
        let atoms: Vec<String> = atoms.iter().map(|a| terminal(a).into_owned()).collect();
        p.lines_indented(out, "  ", "", "    ", atoms.iter().map(String::as_str));
    }
}

/// Writes composed text, guarded, and empties the buffer.
fn write_block(out: &mut dyn Write, text: &mut String) -> io::Result<()> {
    out.write_all(escape::terminal_block(text).as_bytes())?;
    text.clear();
    Ok(())
}

/// The findings to show and how many are held back: every blocking one,
/// then the others, each part in report order; of the others, unless
/// `-v`, only the `OTHERS_SHOWN` most severe (the first in report order
/// among equals).
fn select(report: &Report, verbose: bool) -> (Vec<&Finding>, usize) {
    let chosen: HashSet<usize> = if verbose {
        (0..report.findings.len()).collect()
    } else {
        let mut others: Vec<(usize, Severity)> = report
            .findings
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.blocking)
            .map(|(i, f)| (i, f.severity))
            .collect();
        others.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        others.iter().take(OTHERS_SHOWN).map(|(i, _)| *i).collect()
    };
    let blocking = report.findings.iter().filter(|f| f.blocking);
    let others = report
        .findings
        .iter()
        .enumerate()
        .filter(|(i, f)| !f.blocking && chosen.contains(i))
        .map(|(_, f)| f);
    let shown: Vec<&Finding> = blocking.chain(others).collect();
    let hidden = report.findings.len() - shown.len();
    (shown, hidden)
}

/// One finding, compiler style.
fn finding(p: &Painter<'_>, report: &Report, f: &Finding, out: &mut String) {
    let sev = severity_color(f.severity);
    let persona = terminal(&f.persona);
    let file = terminal(&f.file);
    // Headline: severity[Persona]: message [response] (blocking)
    let head = format!("{}[{persona}]:", f.severity);
    let mut rest = terminal(&f.message).into_owned();
    if let Some(r) = f.response.as_ref().filter(|r| **r != f.message) {
        rest.push_str(&format!(" [{}]", terminal(r)));
    }
    if f.blocking {
        rest.push_str(" (blocking)");
    }
    let lines = layout::wrap(
        std::iter::once(head.as_str()).chain(rest.split(' ')),
        p.style.width,
        "",
        "  ",
    );
    for (i, line) in lines.iter().enumerate() {
        match line.strip_prefix(head.as_str()).filter(|_| i == 0) {
            Some(tail) => {
                out.push_str(&p.paint(sev, &head));
                out.push_str(&p.paint(BOLD, tail));
            }
            None => out.push_str(&p.paint(BOLD, line)),
        }
        out.push('\n');
    }
    // Gutter: as wide as the line number, as rustc does.
    let gutter = " ".repeat(f.line.map_or(1, |l| l.to_string().len()));
    // Where: each part a phrase that wrapping keeps together.
    let mut at = vec![match (f.line, f.column) {
        (Some(line), Some(col)) => format!("{file}:{line}:{col}"),
        _ => file.to_string(),
    }];
    match (&f.old_file, f.line) {
        (Some(old), _) => at.push(format!("(renamed from {})", terminal(old))),
        (None, None) => at.push(format!("({})", f.change.as_str())),
        _ => {}
    }
    if let Some(c) = f.short_commit() {
        at.push(format!("in commit {}", terminal(c)));
    }
    let arrow = format!("{gutter}--> ");
    let indent = " ".repeat(arrow.len());
    p.lines_indented(out, &arrow, BLUE, &indent, at.iter().map(String::as_str));
    if let (Some(snip), Some(line)) = (&f.snippet, f.line) {
        source(p, report, f, snip, line, &gutter, out);
    }
    let note = format!("{gutter} = note: ");
    if f.line.is_none() && f.reason != crate::finding::Reason::ChangeRule {
        let filters = report
            .personas
            .get(f.persona_index)
            .map(|pi| {
                pi.filters
                    .iter()
                    .map(|g| format!("`{}`", terminal(g)))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let why = match filters.len() {
            0 => format!("a path rule: the path is in {persona}'s filters"),
            1..=3 => format!(
                "a path rule: {persona}'s filters {} take this path",
                filters.join(", ")
            ),
            n => format!(
                "a path rule: {persona}'s filters {} and {} more take this path",
                filters[..3].join(", "),
                n - 3
            ),
        };
        p.lines(out, &note, BLUE, &why);
    }
    match f.stage {
        Some(Stage::Unstaged) => p.lines(
            out,
            &note,
            BLUE,
            "not staged: a commit now would not include this line",
        ),
        Some(Stage::IndexOnly) => p.lines(
            out,
            &note,
            BLUE,
            "fixed in the work tree but still staged: a commit now carries it; `git add` the fix",
        ),
        Some(Stage::Staged) | None => {}
    }
    for n in &f.notes {
        p.lines(out, &note, BLUE, &terminal(n));
    }
    if p.style.verbose && !f.owners.is_empty() {
        let owners: Vec<String> = f.owners.iter().map(|o| terminal(o).into_owned()).collect();
        p.lines(
            out,
            &format!("{gutter} = owners: "),
            BLUE,
            &owners.join(", "),
        );
    }
    let help = match (f.reason, f.persona.as_str()) {
        (crate::finding::Reason::Suppression, crate::scan::EXPIRED_SUPPRESSION) => {
            "fix what it silenced, or renew `until=` with a reason a reviewer accepts".to_string()
        }
        (crate::finding::Reason::Suppression, _) => {
            "remove the marker, or name the persona that fires on this line".to_string()
        }
        (crate::finding::Reason::ChangeRule, _) => format!(
            "change what {persona} requires in the same change, or accept it with --fail-on"
        ),
        _ => hint::help(hint::Subject {
            path: &f.file,
            persona: &persona,
            can_ignore: f.can_ignore,
            on_line: f.line.is_some(),
            whole_files: report.whole_files,
        }),
    };
    p.lines(out, &format!("{gutter} = help: "), BLUE, &help);
}

/// The match's line, windowed to the width, the match highlighted and
/// underlined, labelled with the trigger.
fn source(
    p: &Painter<'_>,
    report: &Report,
    f: &Finding,
    snip: &crate::finding::Snippet,
    line: u32,
    gutter: &str,
    out: &mut String,
) {
    let esc = escape::terminal_text(&snip.text);
    let text = esc.text.as_str();
    let start = esc.offset(snip.start, false).min(text.len());
    let end = esc
        .offset(snip.start + snip.len, true)
        .clamp(start, text.len());
    if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        // Not a span of this text: no snippet rather than a wrong one.
        return;
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let end_here = end.min(line_end);
    // The engine may have cut the line's start: then the snippet holds
    // fewer characters before the match than its column says.
    let raw_before = snip
        .text
        .get(..snip.start)
        .map(|s| &s[s.rfind('\n').map_or(0, |i| i + 1)..])
        .unwrap_or("");
    let cut_left = f
        .column
        .is_some_and(|c| raw_before.chars().count() + 1 < c as usize);
    let expand = |s: &str| s.replace('\t', SOURCE_TAB);
    let bar = format!("{gutter} |");
    let room = p.style.width.saturating_sub(bar.len() + 1);
    let w: Window = layout::window(
        &expand(&text[line_start..start]),
        &expand(&text[start..end_here]),
        &expand(&text[end_here..line_end]),
        room,
        cut_left,
    );
    out.push_str(&p.paint(BLUE, &bar));
    out.push('\n');
    let sev = severity_color(f.severity);
    out.push_str(&p.paint(BLUE, &format!("{line} |")));
    out.push(' ');
    out.push_str(&w.before);
    out.push_str(&p.paint(sev, &w.matched));
    out.push_str(&w.after);
    out.push('\n');
    // The underline, then the label in what room is left.
    let carets = "^".repeat(layout::width(&w.matched).max(1));
    let pad = " ".repeat(layout::width(&w.before));
    let used = bar.len() + 1 + pad.len() + carets.len();
    let more = match (f.end_line, f.end_column) {
        (Some(el), Some(ec)) if el > line => el - line - u32::from(ec == 1),
        _ => 0,
    };
    let more = if more > 0 {
        format!(" (+{more} {})", if more == 1 { "line" } else { "lines" })
    } else {
        String::new()
    };
    // What does not fit is left out: the line count, then the label.
    let more = if used + layout::width(&more) <= p.style.width {
        more
    } else {
        String::new()
    };
    let room = p
        .style
        .width
        .saturating_sub(used + 1 + layout::width(&more));
    let label = label(report, f, room);
    out.push_str(&p.paint(BLUE, &bar));
    out.push(' ');
    out.push_str(&pad);
    out.push_str(&p.paint(sev, &carets));
    if !label.is_empty() {
        out.push(' ');
        out.push_str(&p.paint(sev, &label));
    }
    out.push_str(&more);
    out.push('\n');
}

/// The underline's label, at most `room` columns: the trigger pattern,
/// unless the message already shows it.
fn label(report: &Report, f: &Finding, room: usize) -> String {
    let Some(t) = f.trigger else {
        return String::new();
    };
    let pattern = report
        .personas
        .get(f.persona_index)
        .and_then(|p| p.triggers.get(t));
    match pattern {
        Some(pat) if !f.message.contains(pat.as_str()) => {
            let pat = terminal(pat);
            let fixed = "matched ``".len();
            if room >= fixed + layout::width(&pat) {
                format!("matched `{pat}`")
            } else if room > fixed + 1 {
                format!("matched `{}`", layout::truncate(&pat, room - fixed))
            } else {
                String::new()
            }
        }
        _ => {
            let short = format!("trigger {t}");
            if layout::width(&short) <= room {
                short
            } else {
                String::new()
            }
        }
    }
}

/// Findings by persona and severity, to fit the width: what the held-back
/// findings were.
fn table(p: &Painter<'_>, report: &Report, out: &mut String) {
    let mut rows: Vec<(String, [usize; 5])> = Vec::new();
    let mut index: Vec<Option<usize>> = vec![None; report.personas.len()];
    let mut total = [0usize; 5];
    for f in &report.findings {
        let slot = match index.get(f.persona_index).copied().flatten() {
            Some(s) => s,
            None => {
                rows.push((terminal(&f.persona).into_owned(), [0; 5]));
                if let Some(i) = index.get_mut(f.persona_index) {
                    *i = Some(rows.len() - 1);
                }
                rows.len() - 1
            }
        };
        let col = f.severity as usize;
        rows[slot].1[col] += 1;
        rows[slot].1[4] += 1;
        total[col] += 1;
        total[4] += 1;
    }
    // Config order, as in the markdown table.
    let order: Vec<usize> = index.iter().flatten().copied().collect();
    let rows: Vec<&(String, [usize; 5])> = order.iter().map(|&i| &rows[i]).collect();
    let layouts: [([&str; 5], usize); 3] = [
        (["info", "warning", "error", "critical", "total"], 2),
        (["info", "warning", "error", "critical", "total"], 1),
        (["info", "warn", "err", "crit", "all"], 1),
    ];
    let numbers = |cols: &[&str; 5]| -> [usize; 5] {
        let mut w = [0; 5];
        for (k, slot) in w.iter_mut().enumerate() {
            *slot = std::iter::once(total[k])
                .map(|n| n.to_string().len())
                .chain(std::iter::once(cols[k].len()))
                .max()
                .unwrap_or(0);
        }
        w
    };
    let name_w = rows
        .iter()
        .map(|(n, _)| layout::width(n))
        .chain(std::iter::once("persona".len()))
        .max()
        .unwrap_or(7);
    let mut chosen = None;
    for (cols, gap) in layouts {
        let w = numbers(&cols);
        let fixed: usize = w.iter().map(|c| c + gap).sum();
        let room = p.style.width.saturating_sub(fixed);
        // The first layout that leaves the names 10 columns (or all they
        // need); else the most compact one.
        chosen = Some((cols, gap, w, name_w.min(room.max(4))));
        if room >= name_w.min(10) {
            break;
        }
    }
    let Some((cols, gap, w, name_w)) = chosen else {
        return;
    };
    let sep = " ".repeat(gap);
    let row = |name: &str, cells: [String; 5]| -> String {
        let name = layout::truncate(name, name_w);
        let mut line = format!("{name}{}", " ".repeat(name_w - layout::width(&name)));
        for (k, cell) in cells.iter().enumerate() {
            line.push_str(&sep);
            line.push_str(&format!("{cell:>width$}", width = w[k]));
        }
        line
    };
    let header = row("persona", cols.map(str::to_string));
    out.push_str(&p.paint(BOLD, &header));
    out.push('\n');
    for (name, counts) in rows {
        out.push_str(&row(name, counts.map(|n| n.to_string())));
        out.push('\n');
    }
    out.push_str(&p.paint(BOLD, &row("total", total.map(|n| n.to_string()))));
    out.push('\n');
}

fn skips(p: &Painter<'_>, report: &Report, out: &mut String) {
    for reason in SkipReason::ALL {
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
        if p.style.verbose {
            p.prose(out, &format!("skipped {count} {noun} ({what}):"));
            for f in files {
                p.lines(out, "  ", "", &terminal(f));
            }
        } else {
            p.prose(
                out,
                &format!("skipped {count} {noun} ({what}); -v lists them"),
            );
        }
    }
}

/// One line: what was judged and found. Also the stderr line with
/// `--output`, and the github and markdown summaries.
pub fn summary_line(report: &Report) -> String {
    summary_parts(report).join(" ")
}

/// The summary as phrases that wrapping keeps together.
fn summary_parts(report: &Report) -> Vec<String> {
    let s = &report.summary;
    let noun = if report.whole_files {
        "file"
    } else {
        "changed file"
    };
    if s.files_changed == 0 && s.commits == 0 {
        return vec!["valve:".into(), format!("no {noun}s to judge")];
    }
    let files = plural(s.files_changed, noun);
    if s.files_scanned == 0 && s.commits == 0 {
        return vec![
            "valve:".into(),
            "no persona takes".into(),
            format!("any of the {files}"),
        ];
    }
    // History judging: the commits were judged one by one too.
    let judged = match (s.files_changed, s.commits) {
        (_, 0) => format!("in {} of {files}", s.files_scanned),
        (0, n) => format!("in {} (no net change)", plural(n, "commit")),
        (_, n) => format!(
            "in {} of {files} and {}",
            s.files_scanned,
            plural(n, "commit")
        ),
    };
    let mut counts = Vec::new();
    for sev in Severity::ALL.iter().rev() {
        let n = match sev {
            Severity::Info => s.by_severity.info,
            Severity::Warning => s.by_severity.warning,
            Severity::Error => s.by_severity.error,
            Severity::Critical => s.by_severity.critical,
        };
        if n > 0 {
            counts.push(format!("{n} {sev}"));
        }
    }
    let mut parts = vec!["valve:".to_string()];
    if counts.is_empty() {
        parts.push("no findings".into());
    } else {
        parts.push(format!(
            "{} ({})",
            plural(s.findings, "finding"),
            counts.join(", ")
        ));
    }
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
    if extra.is_empty() {
        parts.push(judged);
    } else {
        parts.push(format!("{judged};"));
        let last = extra.len() - 1;
        for (i, e) in extra.into_iter().enumerate() {
            parts.push(if i < last { format!("{e},") } else { e });
        }
    }
    parts.push(format!("[{} ms]", s.duration_ms));
    parts
}

/// The last line: passed, or what blocked, where first, and the ways out
/// that apply to the blocking personas.
fn verdict(p: &Painter<'_>, report: &Report, out: &mut String) {
    let s = &report.summary;
    let threshold = format!(
        "(threshold {} from {})",
        s.fail_on,
        terminal(&s.fail_on_source)
    );
    if s.blocking == 0 {
        let mut parts: Vec<String> = "passed: nothing at or above the threshold"
            .split(' ')
            .map(str::to_string)
            .collect();
        parts.push(threshold);
        return p.phrases(out, GREEN, &parts);
    }
    let mut names: Vec<String> = Vec::new();
    let mut blockers: Vec<hint::Blocker> = Vec::new();
    for f in report.findings.iter().filter(|f| f.blocking) {
        let persona = terminal(&f.persona).into_owned();
        let name = format!("{persona} ({})", f.severity);
        if !names.contains(&name) {
            names.push(name);
        }
        let ignorable = f.can_ignore && f.line.is_some();
        let baselinable = f.line.is_some() || report.whole_files;
        match blockers.iter_mut().find(|b| b.persona == persona) {
            Some(b) => {
                b.ignorable |= ignorable;
                b.baselinable |= baselinable;
            }
            None => blockers.push(hint::Blocker {
                persona,
                ignorable,
                baselinable,
            }),
        }
    }
    let mut parts = vec![
        "blocked:".to_string(),
        plural(s.blocking, "blocking finding"),
    ];
    if !names.is_empty() {
        let last = names.len() - 1;
        for (i, n) in names.into_iter().enumerate() {
            let by = if i == 0 { "by " } else { "" };
            parts.push(if i < last {
                format!("{by}{n},")
            } else {
                format!("{by}{n}")
            });
        }
    }
    if let Some(f) = report.findings.iter().find(|f| f.blocking) {
        let last = parts.len() - 1;
        parts[last].push(',');
        parts.push(match f.line {
            Some(l) => format!("first at {}:{l}", terminal(&f.file)),
            None => format!("first on {}", terminal(&f.file)),
        });
    }
    parts.push(format!("{threshold}."));
    let ways = hint::waivers(&blockers);
    let last = ways.len() - 1;
    for (i, w) in ways.into_iter().enumerate() {
        parts.push(match i {
            _ if i == last && i > 0 => format!("or {w}."),
            _ if i == last => format!("{w}."),
            _ => format!("{w},"),
        });
    }
    p.phrases(out, RED, &parts);
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{
        BySeverity, ChangeKind, PersonaInfo, PolicyInfo, Reason, Snippet, Summary,
    };
    use crate::severity::Threshold;

    fn persona(name: &str, allow_ignore: bool) -> PersonaInfo {
        PersonaInfo {
            name: name.to_string(),
            description: None,
            message: None,
            severity: Severity::Error,
            response: None,
            filters: vec!["**".to_string()],
            triggers: vec!["AKIA[0-9A-Z]{16}".to_string()],
            redact: false,
            allow_ignore,
            tags: Vec::new(),
            security_severity: None,
            help_uri: None,
        }
    }

    /// A fake key, split so that valve's own Secrets persona passes this file.
    const KEY: &str = concat!("AKIA", "ABCDEFGHIJKLMNOP");

    fn finding(stage: Option<Stage>) -> Finding {
        let text = format!("const k = \"{KEY}\";");
        Finding {
            kind: "finding",
            persona: "Guardian".to_string(),
            severity: Severity::Critical,
            response: None,
            message: "Possible AWS key".to_string(),
            repo: "/r".to_string(),
            file: "src/a.ts".to_string(),
            old_file: None,
            change: ChangeKind::Modified,
            commit: None,
            stage,
            reason: Reason::GlobTrigger,
            line: Some(2),
            column: Some(12),
            end_line: Some(2),
            end_column: Some(32),
            matched: Some(KEY.to_string()),
            trigger: Some(0),
            fingerprint: "f".to_string(),
            blocking: true,
            enforced_from: None,
            owners: Vec::new(),
            notes: Vec::new(),
            timestamp: 0,
            persona_index: 0,
            can_ignore: true,
            snippet: Some(Snippet {
                first_line: 2,
                text,
                start: 11,
                len: 20,
            }),
        }
    }

    fn report(findings: Vec<Finding>, allow_ignore: bool) -> Report {
        let mut by_severity = BySeverity::default();
        for f in &findings {
            by_severity.add(f.severity);
        }
        Report {
            personas: vec![persona("Guardian", allow_ignore)],
            repo: "/r".to_string(),
            summary: Summary {
                kind: "summary",
                files_changed: 1,
                files_scanned: 1,
                files_binary: 0,
                files_too_large: 0,
                commits: 0,
                findings: findings.len(),
                truncated: 0,
                suppressed: 0,
                baselined: 0,
                by_severity,
                blocking: findings.iter().filter(|f| f.blocking).count(),
                fail_on: Threshold::AtLeast(Severity::Error),
                fail_on_source: "the default".to_string(),
                verdict: "fail",
                duration_ms: 1,
                policy: PolicyInfo {
                    mode: "head",
                    changed: false,
                    files: Vec::new(),
                },
                shard: None,
                suppressions_unused: 0,
                suppressions_expired: 0,
                suppressions_new: 0,
            },
            findings,
            skipped: Vec::new(),
            whole_files: false,
            warnings: Vec::new(),
            sarif_written: false,
            context: "default",
            head_commit: None,
            base_commit: None,
            config_digest: String::new(),
            changeset: None,
            suppressions: Vec::new(),
            link_base: None,
        }
    }

    fn text(r: &Report, width: usize) -> String {
        let style = HumanStyle {
            color: false,
            width,
            verbose: false,
            quiet: false,
        };
        let mut out = Vec::new();
        render(r, &style, &mut out).expect("renders");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn an_unstaged_finding_says_a_commit_would_not_include_it() {
        let out = text(&report(vec![finding(Some(Stage::Unstaged))], true), 100);
        assert!(
            out.contains("  = note: not staged: a commit now would not include this line\n"),
            "{out}"
        );
    }

    #[test]
    fn an_index_only_finding_says_the_commit_carries_it() {
        let out = text(&report(vec![finding(Some(Stage::IndexOnly))], true), 100);
        assert!(
            out.contains(
                "  = note: fixed in the work tree but still staged: a commit now carries it; `git add` the fix\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn a_staged_or_unjudged_finding_has_no_stage_note() {
        for stage in [Some(Stage::Staged), None] {
            let out = text(&report(vec![finding(stage)], true), 100);
            assert!(!out.contains("= note:"), "{stage:?}: {out}");
            assert!(!out.contains("staged"), "{stage:?}: {out}");
        }
    }

    #[test]
    fn the_stage_note_wraps_to_the_width() {
        let out = text(&report(vec![finding(Some(Stage::IndexOnly))], true), 50);
        assert!(
            out.contains("  = note: fixed in the work tree but still staged:\n"),
            "{out}"
        );
        for line in out.lines() {
            assert!(layout::width(line) <= 50, "{line:?} in\n{out}");
        }
    }

    #[test]
    fn the_finding_reads_like_a_compiler_diagnostic() {
        let out = text(&report(vec![finding(None)], true), 100);
        let expected = format!(
            "critical[Guardian]: Possible AWS key (blocking)
 --> src/a.ts:2:12
  |
2 | const k = \"{KEY}\";
  |            ^^^^^^^^^^^^^^^^^^^^ matched `AKIA[0-9A-Z]{{16}}`
  = help: fix it, or add `// valve:ignore[Guardian]` to the line
"
        );
        assert!(out.starts_with(&expected), "{out}");
    }

    #[test]
    fn at_the_minimum_width_the_table_and_every_line_fit() {
        let findings: Vec<Finding> = (0..30u32)
            .map(|i| {
                let mut f = finding(None);
                f.persona = "APersonaWithAVeryLongNameIndeed".to_string();
                f.blocking = false;
                f.severity = Severity::Warning;
                f.line = Some(i + 1);
                f.end_line = Some(i + 1 + i % 2);
                f
            })
            .collect();
        let mut r = report(findings, true);
        r.personas[0].name = "APersonaWithAVeryLongNameIndeed".to_string();
        let out = text(&r, 40);
        assert!(out.contains("10 more not shown"), "{out}");
        assert!(out.contains("\ntotal "), "{out}");
        for line in out.lines() {
            assert!(layout::width(line) <= 40, "{line:?} in\n{out}");
        }
    }

    #[test]
    fn a_persona_that_cannot_be_silenced_is_offered_no_valve_ignore_anywhere() {
        let mut f = finding(None);
        f.can_ignore = false;
        let out = text(&report(vec![f], false), 100);
        assert!(!out.contains("valve:ignore"), "{out}");
        assert!(
            out.contains("accept what exists with `valve baseline`"),
            "{out}"
        );
    }
}
