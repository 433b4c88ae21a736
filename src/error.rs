//! valve's errors: one enum for the run, one diagnostic type for config
//! problems. Every variant says how to fix it; main maps them all to exit 2.

use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};
use thiserror::Error;

/// Most characters of one config line a diagnostic prints (SPEC §1).
pub const MAX_LINE_SHOWN: usize = 200;
/// Most config errors listed; the rest are counted (SPEC §1).
pub const MAX_ISSUES_LISTED: usize = 100;

/// A config file's text as diagnostics see it: shared, and windowed so that
/// a long line is never printed whole (nor handed whole to miette, which
/// cannot place labels past column 65,535).
#[derive(Debug, Clone)]
pub struct ConfigText {
    pub name: String,
    pub text: Arc<str>,
}

impl ConfigText {
    /// A span that stays on its line when the line is too long to print.
    pub fn clamp(&self, span: SourceSpan) -> SourceSpan {
        Window(&self.text).clamp(span)
    }
}

/// Long-line windowing over a text, for every source a diagnostic shows.
struct Window<'t>(&'t str);

impl<'t> Window<'t> {
    /// Byte range of the line holding `offset`, without its newline.
    fn line_at(&self, offset: usize) -> (usize, usize) {
        let text = self.0;
        let offset = floor_char(text, offset.min(text.len()));
        let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        (start, end)
    }

    fn is_long(&self, (start, end): (usize, usize)) -> bool {
        end - start > MAX_LINE_SHOWN && self.0[start..end].chars().count() > MAX_LINE_SHOWN
    }

    /// Whether a diagnostic at `offset` must be windowed: its line, or a
    /// neighbour shown as context, is too long to print.
    fn needs_window(&self, offset: usize) -> bool {
        let line = self.line_at(offset);
        let before = (line.0 > 0).then(|| self.line_at(line.0 - 1));
        let after = (line.1 < self.0.len()).then(|| self.line_at(line.1 + 1));
        self.is_long(line)
            || before.is_some_and(|l| self.is_long(l))
            || after.is_some_and(|l| self.is_long(l))
    }

    fn clamp(&self, span: SourceSpan) -> SourceSpan {
        if !self.needs_window(span.offset()) {
            return span;
        }
        let (_, end) = self.line_at(span.offset());
        let start = floor_char(self.0, span.offset().min(self.0.len()));
        let len = span.len().min(end - start).min(MAX_LINE_SHOWN / 2);
        let len = floor_char(self.0, start + len) - start;
        SourceSpan::new(start.into(), len)
    }

    fn read_span(
        &self,
        name: Option<&str>,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'t> + 't>, MietteError> {
        let text: &'t str = self.0;
        if !self.needs_window(span.offset()) {
            let inner = text.read_span(span, before, after)?;
            return Ok(contents(
                name,
                inner.data(),
                *inner.span(),
                inner.line(),
                inner.column(),
                inner.line_count(),
            ));
        }
        // The line alone, cut to a window that starts a little before the span.
        let (line_start, line_end) = self.line_at(span.offset());
        let at = floor_char(text, span.offset().min(line_end));
        let lead = text[line_start..at]
            .char_indices()
            .rev()
            .nth(MAX_LINE_SHOWN / 4)
            .map_or(line_start, |(i, _)| line_start + i);
        let tail = text[lead..line_end]
            .char_indices()
            .nth(MAX_LINE_SHOWN)
            .map_or(line_end, |(i, _)| lead + i);
        let line = text[..line_start].matches('\n').count();
        // Without context miette asks for the span's own position (the
        // `file:line:col` header); with context, for the window's start.
        let column = if before == 0 && after == 0 {
            text[line_start..at].chars().count()
        } else {
            text[line_start..lead].chars().count()
        };
        Ok(contents(
            name,
            &text.as_bytes()[lead..tail],
            SourceSpan::new(lead.into(), tail - lead),
            line,
            column,
            1,
        ))
    }
}

fn contents<'a>(
    name: Option<&str>,
    data: &'a [u8],
    span: SourceSpan,
    line: usize,
    column: usize,
    lines: usize,
) -> Box<dyn SpanContents<'a> + 'a> {
    Box::new(match name {
        Some(n) => MietteSpanContents::new_named(n.to_string(), data, span, line, column, lines),
        None => MietteSpanContents::new(data, span, line, column, lines),
    })
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Reads a span of `text` for a diagnostic, a long line windowed so that
/// at most `MAX_LINE_SHOWN` characters of it are printed. Asking for every
/// line around an empty span at 0 (`usize::MAX` context) gets the whole
/// text, so that a wrapper (escape.rs) can re-read and escape it.
pub fn read_windowed<'a>(
    text: &'a str,
    name: Option<&str>,
    span: &SourceSpan,
    before: usize,
    after: usize,
) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
    if before == usize::MAX && after == usize::MAX {
        let inner = text.read_span(span, before, after)?;
        return Ok(contents(
            name,
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        ));
    }
    Window(text).read_span(name, span, before, after)
}

impl SourceCode for ConfigText {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        read_windowed(&self.text, Some(&self.name), span, before, after)
    }
}

/// One problem in valve.yml, pointing at the offending key or value.
#[derive(Debug, Error, Diagnostic, Clone)]
#[error("{title}")]
#[diagnostic(code(valve::config))]
pub struct ConfigIssue {
    pub title: String,
    #[source_code]
    pub src: ConfigText,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
    #[help]
    pub help: Option<String>,
}

/// Every problem found in one config file, reported together: the first
/// `MAX_ISSUES_LISTED` in file order, the rest counted.
#[derive(Debug, Error, Diagnostic)]
#[error("{path} has {} error{}", issues.len() + more, if issues.len() + more == 1 { "" } else { "s" })]
#[diagnostic(code(valve::config::invalid))]
pub struct ConfigErrors {
    pub path: String,
    #[related]
    pub issues: Vec<ConfigIssue>,
    /// Issues found but not listed.
    pub more: usize,
    #[help]
    pub help: String,
}

impl ConfigErrors {
    /// Issues in file order, at most `MAX_ISSUES_LISTED` of them.
    /// Issues of files the config extends (SPEC §12) follow its own, by
    /// file name.
    pub fn new(path: &str, mut issues: Vec<ConfigIssue>) -> Self {
        issues.sort_by(|a, b| {
            (a.src.name != path, &a.src.name, a.span.offset()).cmp(&(
                b.src.name != path,
                &b.src.name,
                b.span.offset(),
            ))
        });
        let more = issues.len().saturating_sub(MAX_ISSUES_LISTED);
        issues.truncate(MAX_ISSUES_LISTED);
        let mut help =
            "fix the marked places; the README's config reference lists every key".to_string();
        if more > 0 {
            help = format!("and {more} more not listed; {help}");
        }
        ConfigErrors {
            path: path.to_string(),
            issues,
            more,
            help,
        }
    }

    /// Every issue, the unlisted ones counted too (to merge two reports).
    pub fn total(&self) -> usize {
        self.issues.len() + self.more
    }
}

/// Everything that ends a run with exit 2.
#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigErrors),

    #[error("no valve config found at {}", looked_for.display())]
    #[diagnostic(
        code(valve::config::missing),
        help("run `valve init` to write a starter .sage/valve.yml, or pass --config PATH")
    )]
    ConfigMissing { looked_for: PathBuf },

    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(valve::io))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write {}: {source}", path.display())]
    #[diagnostic(
        code(valve::write),
        help("check that the folder exists and is writable")
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{message}")]
    #[diagnostic(code(valve::git))]
    Git {
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("{message}")]
    #[diagnostic(code(valve::usage))]
    Usage {
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("{message}")]
    #[diagnostic(code(valve::refused))]
    Refused {
        message: String,
        #[help]
        help: Option<String>,
    },
}

impl Error {
    pub fn git(message: impl Into<String>, help: impl Into<Option<String>>) -> Self {
        Error::Git {
            message: message.into(),
            help: help.into(),
        }
    }

    pub fn usage(message: impl Into<String>, help: impl Into<Option<String>>) -> Self {
        Error::Usage {
            message: message.into(),
            help: help.into(),
        }
    }

    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Write {
            path: path.into(),
            source,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
