//! Inert output (SPEC §9): the only place that decides how repository data
//! (paths, matched text, snippets, messages, persona names, responses,
//! warnings, error text) is written to each sink. Renderers and stderr
//! writers never print such data without passing it through here.
//!
//! One function per sink:
//!
//! - **terminal** (human output, stderr, `personas`/`explain`/`test`,
//!   `watch`): [`terminal`] for one datum, [`terminal_text`] for source text
//!   shown in a miette snippet, [`diagnostic`] for an error, and
//!   [`terminal_block`] over text that valve composed and wrapped.
//! - **github** workflow commands: [`github_data`], [`github_property`];
//!   the format's plain log lines use [`terminal`].
//! - **markdown**: [`markdown_text`] for prose, [`markdown_code`] for exact
//!   text (paths, matches) in a code span.
//! - **json, ndjson, sarif**: [`json_to_writer`], [`json_string`].
//!
//! The rules, and why:
//!
//! - C0 and C1 control characters (U+0000–U+001F except tab, U+007F,
//!   U+0080–U+009F) are shown as `\xNN` (lowercase hex of the code point):
//!   an ESC is `\x1b`, a newline `\x0a`, a carriage return `\x0d`. So one
//!   datum is one line, and no data reaches a terminal as a control
//!   sequence. A backslash in data is left as it is: `\x1b` in output may be
//!   either an escaped ESC or those four characters; display, not a codec.
//! - The GitHub runner reads a line as a workflow command when, after
//!   leading whitespace, it starts with `::` (v2), or when it holds `##[`
//!   anywhere (the legacy form, still parsed). Data that would begin with
//!   `::` (after whitespace) has its first colon shown as `\x3a`, and `##[`
//!   in data is shown as `##\x5b` (in JSON strings `##\u005b`, which parses
//!   back to the same text). [`terminal_block`] guards lines that wrapping
//!   may have started in the middle of a datum.
//! - valve's own colour codes are added around escaped data, never taken
//!   from it.
//! - Markdown prose escapes every character with inline meaning (so no
//!   emphasis, link, image, autolink, raw HTML or table cell break can come
//!   from data), writes `<`, `>` and `&` as entities, and puts a zero-width
//!   joiner after `@` so no `@mention` (nor an e-mail autolink) forms.
//!   Exact text goes in a code span instead: inside one, markdown, HTML,
//!   entities and mentions are all inert, so the text is shown as it is
//!   (after the control escaping above); only `|` is escaped in a table,
//!   and the fence is longer than any backtick run of the data.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io;

use miette::{Diagnostic, LabeledSpan, MietteError, SourceCode, SourceSpan, SpanContents};
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// A control character that data may never send to a terminal.
fn is_control(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0a'..='\x1f' | '\x7f'..='\u{9f}')
}

/// Whitespace that the runner trims before looking for `::` and that
/// reaches the output as it is (control characters are escaped).
fn is_blank(c: char) -> bool {
    c.is_whitespace() && !is_control(c)
}

fn push_hex(out: &mut String, c: char) {
    let _ = write!(out, "\\x{:02x}", c as u32);
}

/// Pushes `c`, the character at byte `i` of `s`, escaped for a terminal.
fn push_terminal(out: &mut String, s: &str, i: usize, c: char) {
    if is_control(c) {
        push_hex(out, c);
    } else if c == '[' && s[..i].ends_with("##") {
        out.push_str("\\x5b");
    } else {
        out.push(c);
    }
}

/// Byte offset of the `::` that would make `s`, at the start of a line, a
/// workflow command, if any.
fn leading_command(s: &str) -> Option<usize> {
    let lead = s.len() - s.trim_start_matches(is_blank).len();
    s[lead..].starts_with("::").then_some(lead)
}

/// One datum for a terminal (human output, stderr, the github format's log
/// lines): control characters as `\xNN`, a leading `::` and any `##[`
/// defused. Never contains a line break.
pub fn terminal(s: &str) -> Cow<'_, str> {
    let guard = leading_command(s);
    if guard.is_none() && !s.chars().any(is_control) && !s.contains("##[") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        if Some(i) == guard {
            out.push_str("\\x3a");
        } else {
            push_terminal(&mut out, s, i, c);
        }
    }
    Cow::Owned(out)
}

/// Guards text that valve composed from escaped data (a rendered miette
/// diagnostic, a watch line): a line that wrapping made start with `::`
/// (after whitespace and valve's colour codes) gets its colon escaped.
pub fn terminal_block(text: &str) -> Cow<'_, str> {
    if !text.contains("::") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        match command_in_line(line) {
            Some(at) => {
                out.push_str(&line[..at]);
                out.push_str("\\x3a");
                out.push_str(&line[at + 1..]);
                changed = true;
            }
            None => out.push_str(line),
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Where a line starts with `::`, skipping whitespace and SGR sequences.
fn command_in_line(line: &str) -> Option<usize> {
    let mut i = 0;
    loop {
        let rest = &line[i..];
        if let Some(c) = rest
            .chars()
            .next()
            .filter(|c| c.is_whitespace() && *c != '\n')
        {
            i += c.len_utf8();
        } else if let Some(csi) = rest.strip_prefix("\x1b[") {
            match csi.find(|c: char| ('\x40'..='\x7e').contains(&c)) {
                Some(k) => i += 2 + k + 1,
                None => break,
            }
        } else {
            break;
        }
    }
    line[i..].starts_with("::").then_some(i)
}

/// One replaced piece of an [`EscapedText`]: bytes `from..from_end` of the
/// original became `to..to_end` of the escaped text.
#[derive(Debug, Clone, Copy)]
struct Edit {
    from: usize,
    from_end: usize,
    to: usize,
    to_end: usize,
}

/// Source text escaped for a terminal, line breaks kept, with the map from
/// original byte offsets to escaped ones (for miette spans).
#[derive(Debug, Clone)]
pub struct EscapedText {
    pub text: String,
    edits: Vec<Edit>,
}

impl EscapedText {
    /// Where original byte `offset` is in the escaped text. An offset inside
    /// a replaced character maps to its start, or its end with `end`.
    pub fn offset(&self, offset: usize, end: bool) -> usize {
        let i = self.edits.partition_point(|e| e.from < offset);
        match i.checked_sub(1).map(|j| self.edits[j]) {
            None => offset,
            Some(e) if offset < e.from_end => {
                if end {
                    e.to_end
                } else {
                    e.to
                }
            }
            Some(e) => e.to_end + (offset - e.from_end),
        }
    }

    /// A span of the original text, in the escaped text.
    pub fn span(&self, span: SourceSpan) -> SourceSpan {
        let start = self.offset(span.offset(), false);
        let end = self.offset(span.offset() + span.len(), true);
        SourceSpan::new(start.into(), end.saturating_sub(start))
    }
}

/// Multi-line source text (a snippet, a config file) for a terminal: line
/// feeds stay line breaks and a CRLF becomes one, every other control
/// character (a lone CR included) is `\xNN` and `##[` is defused.
pub fn terminal_text(s: &str) -> EscapedText {
    let mut text = String::with_capacity(s.len());
    let mut edits = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let to = text.len();
        if c == '\n' {
            text.push('\n');
            continue;
        }
        if c == '\r' && chars.peek().is_some_and(|(_, n)| *n == '\n') {
            // The CR of a CRLF is part of the line break: dropped.
        } else {
            push_terminal(&mut text, s, i, c);
            if text.len() - to == c.len_utf8() {
                continue;
            }
        }
        edits.push(Edit {
            from: i,
            from_end: i + c.len_utf8(),
            to,
            to_end: text.len(),
        });
    }
    EscapedText { text, edits }
}

/// An error or diagnostic with every text it carries escaped for a
/// terminal (title, help, labels, source code, related diagnostics, the
/// cause chain). Render it with miette, then pass it through
/// [`terminal_block`].
pub fn diagnostic(d: &dyn Diagnostic) -> TerminalDiagnostic {
    TerminalDiagnostic::new(d, None)
}

/// See [`diagnostic`].
#[derive(Debug)]
pub struct TerminalDiagnostic {
    title: String,
    code: Option<String>,
    severity: Option<miette::Severity>,
    help: Option<String>,
    source: Option<EscapedSource>,
    labels: Vec<LabeledSpan>,
    related: Vec<TerminalDiagnostic>,
    cause: Option<Box<Cause>>,
}

impl TerminalDiagnostic {
    fn new(d: &dyn Diagnostic, parent: Option<&EscapedText>) -> Self {
        let source = d.source_code().and_then(EscapedSource::read);
        let map = source.as_ref().map(|s| &s.text).or(parent);
        let labels = d
            .labels()
            .map(|labels| {
                labels
                    .map(|l| {
                        let text = l.label().map(|t| terminal(t).into_owned());
                        let span = map.map_or(*l.inner(), |m| m.span(*l.inner()));
                        if l.primary() {
                            LabeledSpan::new_primary_with_span(text, span)
                        } else {
                            LabeledSpan::new_with_span(text, span)
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let related = d
            .related()
            .map(|r| r.map(|r| TerminalDiagnostic::new(r, map)).collect())
            .unwrap_or_default();
        let mut causes = Vec::new();
        let mut next = d
            .diagnostic_source()
            .map(|s| s as &dyn std::error::Error)
            .or_else(|| d.source());
        while let Some(e) = next {
            causes.push(terminal(&e.to_string()).into_owned());
            next = e.source();
        }
        let cause = causes.into_iter().rev().fold(None, |inner, text| {
            Some(Box::new(Cause {
                text,
                source: inner,
            }))
        });
        TerminalDiagnostic {
            title: terminal(&d.to_string()).into_owned(),
            code: d.code().map(|c| terminal(&c.to_string()).into_owned()),
            severity: d.severity(),
            help: d.help().map(|h| terminal(&h.to_string()).into_owned()),
            source,
            labels,
            related,
            cause,
        }
    }
}

impl fmt::Display for TerminalDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for TerminalDiagnostic {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

impl Diagnostic for TerminalDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.severity
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
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn Diagnostic)))
    }
}

/// One escaped link of a cause chain.
#[derive(Debug)]
struct Cause {
    text: String,
    source: Option<Box<Cause>>,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// A diagnostic's whole source, escaped, under its escaped name.
#[derive(Debug)]
struct EscapedSource {
    name: Option<String>,
    text: EscapedText,
}

impl EscapedSource {
    fn read(source: &dyn SourceCode) -> Option<Self> {
        // Every line around an empty span at the start: the whole text.
        let all = source
            .read_span(&SourceSpan::from(0..0), usize::MAX, usize::MAX)
            .ok()?;
        let raw = String::from_utf8_lossy(all.data());
        Some(EscapedSource {
            name: all.name().map(|n| terminal(n).into_owned()),
            text: terminal_text(&raw),
        })
    }
}

impl SourceCode for EscapedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        // Long lines stay windowed, as in the source it escaped.
        crate::error::read_windowed(&self.text.text, self.name.as_deref(), span, before, after)
    }
}

/// A workflow command's message (`::error ...::MESSAGE`): `%`, CR and LF
/// percent-encoded as the runner decodes them, other control characters
/// as `\xNN`, `##[` as `##\x5b`.
pub fn github_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            // The runner parses valve's `::` first, but no output line
            // holds `##[` at all: one rule, no exceptions to audit.
            c => push_terminal(&mut out, s, i, c),
        }
    }
    out
}

/// A workflow command's property value: as [`github_data`], and `:` and `,`
/// (which end a property) percent-encoded too.
pub fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Prose data (a persona name, a message) in markdown text or a table
/// cell: shown as written, never markup.
pub fn markdown_text(s: &str) -> String {
    let t = terminal(s);
    let mut out = String::with_capacity(t.len() + 8);
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Breaks `@name` mentions and e-mail autolinks; invisible.
            '@' => out.push_str("@\u{200d}"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '#' | '|' | '~' | '$' | ':'
            | '.' | '+' | '-' | '=' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Exact data (a path, a match) as an inline code span. `in_table`: the
/// span sits in a table cell, where `|` must be escaped (GitHub removes the
/// backslash again inside the span).
pub fn markdown_code(s: &str, in_table: bool) -> String {
    let t = terminal(s);
    let body = if in_table {
        t.replace('|', "\\|")
    } else {
        t.into_owned()
    };
    if body.is_empty() {
        return "` `".to_string();
    }
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A span strips one space from each end when both ends have one.
    let edge = |c: Option<char>| matches!(c, Some('`' | ' '));
    let pad = if (edge(body.chars().next()) || edge(body.chars().last()))
        && !body.chars().all(|c| c == ' ')
    {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// serde_json's formatters, with `##[` in strings written as `##\u005b`.
struct Inert<F>(F);

impl<F: Formatter> Formatter for Inert<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Fragments end only at characters JSON escapes, so a `##[` is
        // never split between two of them.
        let mut rest = fragment;
        while let Some(i) = rest.find("##[") {
            w.write_all(&rest.as_bytes()[..i + 2])?;
            w.write_all(b"\\u005b")?;
            rest = &rest[i + 3..];
        }
        w.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes `value` as JSON (indented when `pretty`), inert in a CI log.
pub fn json_to_writer<T: Serialize + ?Sized>(
    out: &mut dyn io::Write,
    value: &T,
    pretty: bool,
) -> io::Result<()> {
    if pretty {
        let mut ser = serde_json::Serializer::with_formatter(out, Inert(PrettyFormatter::new()));
        value.serialize(&mut ser).map_err(io::Error::from)
    } else {
        let mut ser = serde_json::Serializer::with_formatter(out, Inert(CompactFormatter));
        value.serialize(&mut ser).map_err(io::Error::from)
    }
}

/// `value` as one line of JSON, inert in a CI log.
pub fn json_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut buf = Vec::new();
    if json_to_writer(&mut buf, value, false).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_shows_control_characters_as_hex() {
        assert_eq!(terminal("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(terminal("a\nb\rc"), "a\\x0ab\\x0dc");
        assert_eq!(
            terminal("\0\x07\x7f\u{85}\u{9b}"),
            "\\x00\\x07\\x7f\\x85\\x9b"
        );
    }

    #[test]
    fn terminal_keeps_tabs_and_plain_text_borrowed() {
        assert!(matches!(terminal("src/a\tb.rs"), Cow::Borrowed(_)));
        assert!(matches!(terminal("std::io::Error"), Cow::Borrowed(_)));
        assert_eq!(terminal("é ✓ \u{a0}"), "é ✓ \u{a0}");
    }

    #[test]
    fn terminal_defuses_a_leading_workflow_command() {
        assert_eq!(terminal("::error::x"), "\\x3a:error::x");
        assert_eq!(terminal("  \u{a0}::set-output"), "  \u{a0}\\x3a:set-output");
        assert_eq!(terminal("x\n::error::y"), "x\\x0a::error::y");
        assert_eq!(terminal(":a"), ":a");
    }

    #[test]
    fn terminal_defuses_legacy_commands_anywhere() {
        assert_eq!(terminal("a ##[error]b"), "a ##\\x5berror]b");
        assert_eq!(terminal("#[x] ##"), "#[x] ##");
    }

    #[test]
    fn terminal_block_guards_wrapped_lines_only() {
        assert_eq!(terminal_block("a ::b\n    ::c\n"), "a ::b\n    \\x3a:c\n");
        assert_eq!(
            terminal_block("\x1b[31m  ::c\x1b[0m"),
            "\x1b[31m  \\x3a:c\x1b[0m"
        );
        assert!(matches!(terminal_block("x::y\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_text_keeps_lines_and_maps_offsets() {
        let t = terminal_text("a\x1bb\r\nc\rd");
        assert_eq!(t.text, "a\\x1bb\nc\\x0dd");
        // "b" moved 3 bytes right; the CR of the CRLF is gone.
        assert_eq!(t.offset(2, false), 5);
        assert_eq!(t.offset(5, false), 7);
        // The ESC itself spans the whole `\x1b`.
        assert_eq!(
            t.span(SourceSpan::new(1.into(), 1)),
            SourceSpan::new(1.into(), 4)
        );
        assert_eq!(
            t.span(SourceSpan::new(0.into(), 3)),
            SourceSpan::new(0.into(), 6)
        );
    }

    #[test]
    fn github_data_percent_encodes_line_breaks() {
        assert_eq!(github_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(github_data("a\x1b]0;t\x07"), "a\\x1b]0;t\\x07");
        assert_eq!(github_data("##[error]x"), "##\\x5berror]x");
    }

    #[test]
    fn github_properties_also_escape_colon_and_comma() {
        assert_eq!(github_property("a:b,c%"), "a%3Ab%2Cc%25");
    }

    #[test]
    fn markdown_text_is_never_markup() {
        assert_eq!(markdown_text("<img src=x>"), "&lt;img src\\=x&gt;");
        assert_eq!(markdown_text("[a](http://e)"), "\\[a\\]\\(http\\://e\\)");
        assert_eq!(markdown_text("![i](x)"), "\\!\\[i\\]\\(x\\)");
        assert_eq!(markdown_text("@everyone"), "@\u{200d}everyone");
        assert_eq!(markdown_text("a|b\nc"), "a\\|b\\\\x0ac");
        assert_eq!(markdown_text("&#64;"), "&amp;\\#64;");
        assert_eq!(markdown_text("Plain words"), "Plain words");
    }

    #[test]
    fn markdown_code_spans_survive_backticks_pipes_and_spaces() {
        assert_eq!(markdown_code("a`b", false), "``a`b``");
        assert_eq!(markdown_code("x", true), "`x`");
        assert_eq!(markdown_code("a|b", true), "`a\\|b`");
        assert_eq!(markdown_code("a|b", false), "`a|b`");
        assert_eq!(markdown_code("`x", false), "`` `x ``");
        assert_eq!(markdown_code(" x ", false), "`  x  `");
        assert_eq!(markdown_code("", false), "` `");
        assert_eq!(markdown_code("</details>\n", false), "`</details>\\x0a`");
    }

    #[test]
    fn json_defuses_legacy_commands_and_parses_back() {
        let v = serde_json::json!({"file": "x ##[error]y\n", "n": [1, 2]});
        let line = json_string(&v);
        assert!(!line.contains("##["), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).expect("valid json");
        assert_eq!(back, v);
        let mut pretty = Vec::new();
        json_to_writer(&mut pretty, &v, true).expect("write");
        let text = String::from_utf8(pretty).expect("utf8");
        assert!(text.contains("\n  \"n\": [\n"), "{text}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).expect("valid"),
            v
        );
    }

    #[derive(Debug, thiserror::Error, Diagnostic)]
    #[error("bad {name}")]
    #[diagnostic(code(test::bad), help("rename {name}"))]
    struct Bad {
        name: String,
        #[source_code]
        src: miette::NamedSource<String>,
        #[label("here {name}")]
        at: SourceSpan,
    }

    #[test]
    fn diagnostics_are_escaped_everywhere() {
        let text = "ok: 1\n\x1b]0;t\x07: 2\r\n";
        let bad = Bad {
            name: "x\n::error::y".into(),
            src: miette::NamedSource::new("cfg\x1b.yml", text.to_string()),
            at: SourceSpan::new(6.into(), 5),
        };
        let d = diagnostic(&bad);
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(80);
        let mut out = String::new();
        handler.render_report(&mut out, &d).expect("renders");
        assert!(!out.contains('\x1b') && !out.contains('\r'), "{out}");
        assert!(out.contains("bad x\\x0a::error::y"), "{out}");
        assert!(out.contains("[cfg\\x1b.yml:2:1]"), "{out}");
        assert!(out.contains("\\x1b]0;t\\x07: 2"), "{out}");
        assert!(out.contains("here x\\x0a::error::y"), "{out}");
        assert!(out.lines().all(|l| !l.trim_start().starts_with("::")));
    }
}
