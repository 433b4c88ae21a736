//! The inline suppression grammar (SPEC §3, §11): what a `valve:ignore`
//! marker on a line says. Pure: bytes in, [`Suppression`]s out; which
//! lines are judged, and what a suppression silenced, is the engine's.
//!
//! ```text
//! marker     = "valve:ignore" [ "[" names "]" ] { blanks attribute }
//! names      = name { "," name }        ; trimmed; empty entries skipped
//! attribute  = "reason=" quoted | "until=" YYYY-MM-DD
//! quoted     = '"' { char | '\"' | '\\' } '"'
//! ```
//!
//! API: [`parse_line`] returns one `Suppression` per marker, left to right;
//! [`Suppression::judge`] applies SPEC §11 for one persona on one day;
//! [`Suppression::unknown_personas`] gives bracket names that are no
//! persona, with a did-you-mean.
//!
//! Decisions, where the SPEC is silent:
//! - Drop-in for the marker as valve read it before (`scan::suppressed_by`):
//!   case-sensitive marker and names; `[` must follow the marker directly,
//!   else the marker is bare and silences every persona (so
//!   `valve:ignore [Docs]` and `valve:ignored` are bare markers); names are
//!   split on `,` and trimmed, and compare exactly.
//! - Several markers on a line are several suppressions; a persona is
//!   silenced if any of them silences it, and each is reported on its own.
//! - Attributes follow the marker (or its `]`), each after blanks. The first
//!   word that is no attribute ends the marker (`valve:ignore */` is fine),
//!   except that a near miss of a key (`reson="x"`, `Until=...`) is an error
//!   with a did-you-mean rather than silently ignored text.
//! - A broken suppression (unterminated `[` or string, bad or missing date,
//!   unquoted reason, a key given twice, an empty `[]`) is kept with its
//!   `errors` and silences nothing: a waiver must say exactly what it waives.
//! - A `valve:ignore` inside a reason string is part of the reason, not a
//!   new marker. After an unterminated `[` or string the rest of the line is
//!   searched again for markers, so one typo does not hide the next marker.
//! - In a reason, `\"` is a quote and `\\` a backslash; any other backslash
//!   is kept as written (`C:\temp`). Bytes that are not UTF-8 are replaced.
//!
//! Work is linear in the line length whatever it holds (lines can be
//! megabytes): the marker search never goes back before where the previous
//! marker's parse ended, except to re-read an unterminated `[…` or `"…`
//! once, which stops at the next `[` or is shown to have no later quote.
//!
//! Names, reasons and error texts come from repository files: a renderer
//! must escape them for its sink (`escape.rs`).

use std::fmt;
use std::ops::Range;

use crate::config::did_you_mean;
use crate::date::{Date, DateError};

/// The marker text, matched case-sensitively anywhere in a line.
pub const MARKER: &str = "valve:ignore";

/// The attribute keys a marker takes.
pub const KEYS: &[&str] = &["reason", "until"];

/// Most characters of a malformed value an error repeats.
const MAX_SHOWN: usize = 40;
/// Most errors kept for one marker.
const MAX_ERRORS: usize = 8;

/// One `valve:ignore` marker and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// `None`: every persona (bare marker). `Some`: only these, as written.
    /// `Some([])` only on a broken marker (`[]`, or a `[` left open).
    pub personas: Option<Vec<String>>,
    pub reason: Option<String>,
    /// Silences through this date, inclusive.
    pub until: Option<Date>,
    /// Byte range in the line from the marker through its last attribute;
    /// when a `[` or `"` is left open, through that `[` or `"`.
    pub span: Range<usize>,
    /// Why the suppression is invalid; empty when it is valid.
    pub errors: Vec<SuppressError>,
}

/// What is wrong with a marker. Displays as a sentence with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuppressError {
    /// `valve:ignore[` without a `]` before the next `[` or the line end.
    UnterminatedList,
    /// `valve:ignore[]` or `[ , ]`: no name at all.
    EmptyList,
    /// `reason="…` with no closing quote.
    UnterminatedReason,
    /// `reason=` not followed by a double quote; `found` is what followed.
    UnquotedReason { found: String },
    /// `until=` with no date after it; `found` is what followed.
    MissingDate { found: String },
    /// `until=` with a date that does not exist or is misshapen.
    BadDate(DateError),
    /// The same key twice on one marker.
    Duplicate { key: &'static str },
    /// A key that is a near miss of a known one.
    UnknownKey {
        key: String,
        suggestion: &'static str,
    },
}

impl fmt::Display for SuppressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuppressError::UnterminatedList => write!(
                f,
                "unterminated persona list: close it with `]`, e.g. `valve:ignore[Guardian,Docs]`"
            ),
            SuppressError::EmptyList => write!(
                f,
                "empty persona list: name personas in `[…]`, or write a bare `valve:ignore` for all"
            ),
            SuppressError::UnterminatedReason => write!(
                f,
                "unterminated reason: close it with `\"` (write `\\\"` for a quote inside)"
            ),
            SuppressError::UnquotedReason { found } => write!(
                f,
                "reason must be double-quoted: write `reason=\"…\"`, found `reason={found}`"
            ),
            SuppressError::MissingDate { found } => write!(
                f,
                "until needs a date as YYYY-MM-DD, e.g. `until=2027-03-31`, found `until={found}`"
            ),
            SuppressError::BadDate(e) => write!(f, "until={e}"),
            SuppressError::Duplicate { key } => {
                write!(f, "`{key}` is given twice: keep one")
            }
            SuppressError::UnknownKey { key, suggestion } => write!(
                f,
                "unknown suppression key `{key}`: did you mean `{suggestion}`?"
            ),
        }
    }
}

impl std::error::Error for SuppressError {}

/// What one suppression does to one persona's finding on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// The marker does not name the persona (or the line has another
    /// marker's business): the finding stands, the marker is not involved.
    NotNamed,
    /// The marker is broken (see `errors`): it silences nothing.
    Invalid,
    /// Past its `until`: the finding stands and says
    /// `suppression expired on DATE`; the marker counts as expired.
    Expired(Date),
    /// The persona requires a reason and the marker has none (or a blank
    /// one): the finding stands and says the suppression needs a reason.
    NeedsReason,
    /// The finding is silenced.
    Silences,
}

impl Suppression {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Whether the marker names `persona` (a bare marker names every one).
    pub fn names(&self, persona: &str) -> bool {
        match &self.personas {
            None => true,
            Some(names) => names.iter().any(|n| n == persona),
        }
    }

    /// Whether the reason says something (not absent, not blank).
    pub fn has_reason(&self) -> bool {
        self.reason.as_deref().is_some_and(|r| !r.trim().is_empty())
    }

    /// Whether `today` is after the `until` date.
    pub fn is_expired(&self, today: Date) -> bool {
        self.until.is_some_and(|until| today > until)
    }

    /// SPEC §11 for a finding of `persona`: the persona's `require_reason`
    /// and the run's date decide. (`allow_ignore: false` and
    /// `--no-inline-ignore` are the caller's: they void every marker.)
    /// A broken marker that names nobody concerns every persona: its
    /// writer meant to silence something here.
    pub fn judge(&self, persona: &str, require_reason: bool, today: Date) -> Judgement {
        let broken_for_all = !self.is_valid() && self.personas.as_ref().is_some_and(Vec::is_empty);
        if !(self.names(persona) || broken_for_all) {
            Judgement::NotNamed
        } else if !self.is_valid() {
            Judgement::Invalid
        } else if let Some(until) = self.until.filter(|_| self.is_expired(today)) {
            Judgement::Expired(until)
        } else if require_reason && !self.has_reason() {
            Judgement::NeedsReason
        } else {
            Judgement::Silences
        }
    }

    /// Bracket names that are no persona in `known`, each with the closest
    /// known name when one is close (SPEC §11: a warning with did-you-mean).
    pub fn unknown_personas<'k>(&self, known: &[&'k str]) -> Vec<(&str, Option<&'k str>)> {
        self.personas
            .iter()
            .flatten()
            .filter(|n| !known.contains(&n.as_str()))
            .map(|n| (n.as_str(), did_you_mean(n, known)))
            .collect()
    }
}

/// Whether the line holds a marker at all: the cheap test before parsing.
pub fn has_marker(line: &[u8]) -> bool {
    memchr::memmem::find(line, MARKER.as_bytes()).is_some()
}

/// Every marker on `line` (one line, without its newline), left to right.
pub fn parse_line(line: &[u8]) -> Vec<Suppression> {
    let finder = memchr::memmem::Finder::new(MARKER.as_bytes());
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = line.get(from..).and_then(|rest| finder.find(rest)) {
        let start = from + found;
        let (suppression, resume) = parse_marker(line, start);
        out.push(suppression);
        // `resume` is past the marker text, so the loop always advances.
        from = resume.max(start + MARKER.len());
    }
    out
}

/// Parses the marker at `start`; returns it and where to search on.
fn parse_marker(line: &[u8], start: usize) -> (Suppression, usize) {
    let mut p = Parser {
        line,
        pos: start + MARKER.len(),
        resume: None,
        out: Suppression {
            personas: None,
            reason: None,
            until: None,
            span: start..start + MARKER.len(),
            errors: Vec::new(),
        },
    };
    if line.get(p.pos) == Some(&b'[') {
        p.list();
    }
    p.attributes();
    let end = p.pos;
    if p.resume.is_none() {
        p.out.span.end = end;
    }
    (p.out, p.resume.unwrap_or(end))
}

struct Parser<'l> {
    line: &'l [u8],
    pos: usize,
    /// Where to search for the next marker when it is not `pos`.
    resume: Option<usize>,
    out: Suppression,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.line.get(self.pos).copied()
    }

    fn rest(&self) -> &[u8] {
        self.line.get(self.pos..).unwrap_or_default()
    }

    /// At `[`: the persona list through `]`.
    fn list(&mut self) {
        let open = self.pos;
        let body = &self.line[open + 1..];
        match memchr::memchr2(b']', b'[', body) {
            Some(i) if body[i] == b']' => {
                let names: Vec<String> = String::from_utf8_lossy(&body[..i])
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect();
                if names.is_empty() {
                    self.error(SuppressError::EmptyList);
                }
                self.out.personas = Some(names);
                self.pos = open + 1 + i + 1;
            }
            _ => {
                // Nothing after this is the list's: attributes cannot follow
                // and later markers are searched for from just after `[`.
                self.error(SuppressError::UnterminatedList);
                self.out.personas = Some(Vec::new());
                self.resume = Some(open + 1);
                self.out.span.end = open + 1;
            }
        }
    }

    fn duplicate(&mut self, key: &'static str) {
        let e = SuppressError::Duplicate { key };
        if !self.out.errors.contains(&e) {
            self.error(e);
        }
    }

    /// Records an error; a few say all there is to fix.
    fn error(&mut self, e: SuppressError) {
        if self.out.errors.len() < MAX_ERRORS {
            self.out.errors.push(e);
        }
    }

    fn attributes(&mut self) {
        if self.resume.is_some() {
            return;
        }
        let mut seen_reason = false;
        let mut seen_until = false;
        loop {
            let blanks = self
                .rest()
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            if blanks == 0 {
                return;
            }
            let at = self.pos + blanks;
            let key_len = self.line[at..]
                .iter()
                .take_while(|b| b.is_ascii_alphabetic() || **b == b'_')
                .count();
            if key_len == 0 || self.line.get(at + key_len) != Some(&b'=') {
                return;
            }
            let key = String::from_utf8_lossy(&self.line[at..at + key_len]);
            let value_at = at + key_len + 1;
            match key.as_ref() {
                "reason" => {
                    self.pos = value_at;
                    let reason = self.reason();
                    if seen_reason {
                        self.duplicate("reason");
                    } else if reason.is_some() {
                        self.out.reason = reason;
                    }
                    seen_reason = true;
                    if self.resume.is_some() {
                        return;
                    }
                }
                "until" => {
                    self.pos = value_at;
                    let until = self.until();
                    if seen_until {
                        self.duplicate("until");
                    } else {
                        self.out.until = until;
                    }
                    seen_until = true;
                }
                other => {
                    let Some(suggestion) = did_you_mean(other, KEYS) else {
                        // Ordinary text after the marker: it ends here.
                        return;
                    };
                    self.error(SuppressError::UnknownKey {
                        key: other.to_string(),
                        suggestion,
                    });
                    self.pos = value_at + self.word_len(value_at);
                }
            }
        }
    }

    /// Bytes from `at` to the next blank or the line end.
    fn word_len(&self, at: usize) -> usize {
        self.line[at..]
            .iter()
            .take_while(|b| !b.is_ascii_whitespace())
            .count()
    }

    fn shown(&self, at: usize, len: usize) -> String {
        String::from_utf8_lossy(&self.line[at..at + len])
            .chars()
            .take(MAX_SHOWN)
            .collect()
    }

    /// After `reason=`: a quoted string, unescaped.
    fn reason(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            let len = self.word_len(self.pos);
            self.error(SuppressError::UnquotedReason {
                found: self.shown(self.pos, len),
            });
            self.pos += len;
            return None;
        }
        let open = self.pos;
        let mut text = Vec::new();
        let mut i = open + 1;
        while i < self.line.len() {
            match self.line[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Some(String::from_utf8_lossy(&text).into_owned());
                }
                b'\\' if matches!(self.line.get(i + 1), Some(b'"' | b'\\')) => {
                    text.push(self.line[i + 1]);
                    i += 2;
                }
                byte => {
                    text.push(byte);
                    i += 1;
                }
            }
        }
        // No closing quote: every quote after `open` was escaped, so no
        // later marker's reason can start a string; re-reading is bounded.
        self.error(SuppressError::UnterminatedReason);
        self.pos = self.line.len();
        self.resume = Some(open + 1);
        self.out.span.end = open + 1;
        None
    }

    /// After `until=`: a strict date.
    fn until(&mut self) -> Option<Date> {
        let len = self.line[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'-')
            .count();
        if len == 0 {
            let word = self.word_len(self.pos);
            self.error(SuppressError::MissingDate {
                found: self.shown(self.pos, word),
            });
            self.pos += word;
            return None;
        }
        // Digits and dashes are ASCII, so this is valid UTF-8.
        let text = String::from_utf8_lossy(&self.line[self.pos..self.pos + len]);
        self.pos += len;
        match Date::parse(&text) {
            Ok(date) => Some(date),
            Err(e) => {
                self.error(SuppressError::BadDate(e));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Suppression {
        let mut all = parse_line(line.as_bytes());
        assert_eq!(all.len(), 1, "{line:?}: {all:?}");
        all.remove(0)
    }

    fn date(text: &str) -> Date {
        match Date::parse(text) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    fn names(s: &Suppression) -> Option<Vec<&str>> {
        s.personas
            .as_ref()
            .map(|v| v.iter().map(String::as_str).collect())
    }

    /// Whether any marker on the line would silence `persona` today,
    /// the question `scan::suppressed_by` answered before.
    fn silenced(line: &str, persona: &str) -> bool {
        parse_line(line.as_bytes())
            .iter()
            .any(|s| s.judge(persona, false, date("2027-01-01")) == Judgement::Silences)
    }

    #[test]
    fn no_marker_no_suppression() {
        assert!(parse_line(b"let x = 1; // nothing to see").is_empty());
        assert!(parse_line(b"").is_empty());
        assert!(parse_line(b"valve:ignor").is_empty());
        assert!(
            parse_line(b"VALVE:IGNORE").is_empty(),
            "the marker is case-sensitive"
        );
        assert!(!has_marker(b"valve: ignore"));
        assert!(has_marker(b"x // valve:ignore"));
    }

    #[test]
    fn bare_marker_silences_every_persona() {
        let s = one("let k = 1; // valve:ignore");
        assert_eq!(s.personas, None);
        assert_eq!((s.reason.clone(), s.until), (None, None));
        assert!(s.is_valid());
        assert_eq!(s.span, 14..26);
        assert!(silenced("let k = 1; // valve:ignore", "Guardian"));
        assert!(silenced("let k = 1; // valve:ignore", "Docs"));
    }

    #[test]
    fn named_marker_silences_only_those_named() {
        let line = "x // valve:ignore[Guardian, Docs]";
        let s = one(line);
        assert_eq!(names(&s), Some(vec!["Guardian", "Docs"]));
        assert_eq!(s.span, 5..line.len());
        assert!(silenced(line, "Guardian"));
        assert!(silenced(line, "Docs"));
        assert!(!silenced(line, "TypeNazi"));
        assert!(!silenced(line, "guardian"), "names are case-sensitive");
        assert!(silenced("valve:ignore[Guardian,Docs]", "Docs"));
    }

    #[test]
    fn names_are_trimmed_and_may_hold_spaces() {
        let s = one("valve:ignore[  Type Nazi ,Guardian,, ]");
        assert_eq!(names(&s), Some(vec!["Type Nazi", "Guardian"]));
        assert!(s.is_valid());
    }

    #[test]
    fn text_right_after_the_marker_keeps_it_bare_as_before() {
        // Drop-in with the old reading: only `[` directly after the marker
        // starts a list.
        for line in [
            "valve:ignore [Docs]",
            "valve:ignored",
            "valve:ignore*/",
            "valve:ignore-->",
        ] {
            let s = one(line);
            assert_eq!(s.personas, None, "{line}");
            assert!(s.is_valid(), "{line}");
            assert!(silenced(line, "Guardian"), "{line}");
        }
        assert_eq!(one("valve:ignore */").span, 0..12);
    }

    #[test]
    fn reason_and_until_in_either_order() {
        let a = one(r#"valve:ignore[Persona,Other] reason="why" until=2027-03-31"#);
        let b = one(r#"valve:ignore[Persona,Other] until=2027-03-31 reason="why""#);
        for s in [&a, &b] {
            assert_eq!(names(s), Some(vec!["Persona", "Other"]));
            assert_eq!(s.reason.as_deref(), Some("why"));
            assert_eq!(s.until, Some(date("2027-03-31")));
            assert!(s.is_valid());
        }
        assert_eq!(a.span.end, 57);
        let bare = one(r#"// valve:ignore   until=2027-03-31	reason="tab-separated" */"#);
        assert_eq!(bare.personas, None);
        assert_eq!(bare.reason.as_deref(), Some("tab-separated"));
        assert_eq!(bare.until, Some(date("2027-03-31")));
    }

    #[test]
    fn each_attribute_is_optional() {
        let r = one(r#"valve:ignore reason="legacy fixture""#);
        assert_eq!(
            (r.reason.as_deref(), r.until),
            (Some("legacy fixture"), None)
        );
        let u = one("valve:ignore[Docs] until=2027-03-31");
        assert_eq!(
            (u.reason.as_deref(), u.until),
            (None, Some(date("2027-03-31")))
        );
    }

    #[test]
    fn reason_unescapes_quotes_and_backslashes_only() {
        let s = one(r#"valve:ignore reason="say \"hi\" in C:\temp\\x" until=2027-01-01"#);
        assert_eq!(s.reason.as_deref(), Some(r#"say "hi" in C:\temp\x"#));
        assert_eq!(s.until, Some(date("2027-01-01")));
        assert_eq!(one(r#"valve:ignore reason="""#).reason.as_deref(), Some(""));
        assert_eq!(
            one(r#"valve:ignore reason="ends in \\""#).reason.as_deref(),
            Some(r"ends in \")
        );
    }

    #[test]
    fn trailing_text_ends_the_marker() {
        let line = r#"<!-- valve:ignore[Docs] reason="old page" --> more text until=2027-01-01"#;
        let s = one(line);
        assert_eq!(s.reason.as_deref(), Some("old page"));
        assert_eq!(
            s.until, None,
            "an attribute after other text is not the marker's"
        );
        assert_eq!(
            &line[s.span.clone()],
            r#"valve:ignore[Docs] reason="old page""#
        );
        let closer = one("/* valve:ignore until=2027-03-31*/");
        assert_eq!(closer.until, Some(date("2027-03-31")));
        assert!(closer.is_valid());
        let glued = one(r#"valve:ignore reason="x"until=2027-01-01"#);
        assert_eq!((glued.reason.as_deref(), glued.until), (Some("x"), None));
        let other = one("valve:ignore x=1 until=2027-01-01");
        assert!(other.is_valid());
        assert_eq!(other.until, None);
    }

    #[test]
    fn unterminated_list_is_invalid() {
        let s = one("x = 1 // valve:ignore[Guardian");
        assert_eq!(s.errors, [SuppressError::UnterminatedList]);
        assert!(!silenced("x = 1 // valve:ignore[Guardian", "Guardian"));
        let empty = one("valve:ignore[");
        assert_eq!(empty.errors, [SuppressError::UnterminatedList]);
        assert_eq!(empty.span, 0..13);
        assert_eq!(
            one("valve:ignore[Docs reason=\"x\"").errors,
            [SuppressError::UnterminatedList]
        );
    }

    #[test]
    fn empty_list_is_invalid() {
        for line in ["valve:ignore[]", "valve:ignore[ , ]"] {
            let s = one(line);
            assert_eq!(s.errors, [SuppressError::EmptyList], "{line}");
            assert_eq!(names(&s), Some(vec![]));
            assert!(!silenced(line, "Guardian"));
        }
    }

    #[test]
    fn unterminated_reason_is_invalid() {
        let s = one(r#"valve:ignore reason="unterminated"#);
        assert_eq!(s.errors, [SuppressError::UnterminatedReason]);
        assert_eq!(s.reason, None);
        let escaped = one(r#"valve:ignore reason="ends in an escaped quote\""#);
        assert_eq!(escaped.errors, [SuppressError::UnterminatedReason]);
    }

    #[test]
    fn unquoted_reason_is_invalid() {
        let s = one("valve:ignore reason=legacy until=2027-01-01");
        assert_eq!(
            s.errors,
            [SuppressError::UnquotedReason {
                found: "legacy".into()
            }]
        );
        assert_eq!(s.until, Some(date("2027-01-01")), "parsing goes on");
        assert!(matches!(
            one("valve:ignore reason='x'").errors[..],
            [SuppressError::UnquotedReason { .. }]
        ));
    }

    #[test]
    fn bad_dates_are_invalid_and_say_why() {
        let s = one("valve:ignore until=2027-13-01");
        assert_eq!(s.until, None);
        assert_eq!(
            s.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["until=`2027-13-01` is not a date: there is no month 13; months are 01 to 12"]
        );
        let feb = one("valve:ignore until=2027-02-30");
        assert!(
            feb.errors[0]
                .to_string()
                .ends_with("February 2027 has 28 days")
        );
        for line in [
            "valve:ignore until=27-1-1",
            "valve:ignore until=2027-03-31-->",
        ] {
            assert!(
                matches!(one(line).errors[..], [SuppressError::BadDate(_)]),
                "{line}"
            );
        }
        for (line, found) in [
            ("valve:ignore until=", ""),
            ("valve:ignore until=tomorrow", "tomorrow"),
        ] {
            assert_eq!(
                one(line).errors,
                [SuppressError::MissingDate {
                    found: found.into()
                }],
                "{line}"
            );
        }
        assert!(!silenced("valve:ignore until=2027-13-01", "Guardian"));
    }

    #[test]
    fn a_key_twice_is_invalid_and_the_first_counts() {
        let s = one(r#"valve:ignore reason="a" reason="b" until=2027-01-01 until=2028-01-01"#);
        assert_eq!(
            s.errors,
            [
                SuppressError::Duplicate { key: "reason" },
                SuppressError::Duplicate { key: "until" }
            ]
        );
        assert_eq!(s.reason.as_deref(), Some("a"));
        assert_eq!(s.until, Some(date("2027-01-01")));
    }

    #[test]
    fn near_miss_keys_are_invalid_with_a_suggestion() {
        let s = one(r#"valve:ignore reson="typo" until=2027-01-01"#);
        assert_eq!(
            s.errors,
            [SuppressError::UnknownKey {
                key: "reson".into(),
                suggestion: "reason"
            }]
        );
        assert_eq!(s.until, Some(date("2027-01-01")));
        assert!(s.errors[0].to_string().contains("did you mean `reason`?"));
        assert!(matches!(
            one("valve:ignore Until=2027-01-01").errors[..],
            [SuppressError::UnknownKey {
                suggestion: "until",
                ..
            }]
        ));
    }

    #[test]
    fn several_markers_are_several_suppressions() {
        let line =
            r#"a // valve:ignore[Docs] reason="one" ; valve:ignore[Guardian] until=2027-01-01"#;
        let all = parse_line(line.as_bytes());
        assert_eq!(all.len(), 2);
        assert_eq!(names(&all[0]), Some(vec!["Docs"]));
        assert_eq!(all[0].reason.as_deref(), Some("one"));
        assert_eq!(names(&all[1]), Some(vec!["Guardian"]));
        assert_eq!(all[1].until, Some(date("2027-01-01")));
        assert!(all[0].span.end <= all[1].span.start);
        assert!(silenced(line, "Docs") && silenced(line, "Guardian"));
        assert!(!silenced(line, "Other"));
        assert_eq!(parse_line(b"valve:ignorevalve:ignore").len(), 2);
    }

    #[test]
    fn a_typo_does_not_hide_the_next_marker() {
        let all = parse_line(b"valve:ignore[Docs valve:ignore[Guardian]");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].errors, [SuppressError::UnterminatedList]);
        assert_eq!(names(&all[1]), Some(vec!["Guardian"]));
        assert!(all[1].is_valid());
        assert_eq!(
            all[0].span,
            0..13,
            "a broken marker's span ends at its open `[`"
        );
        let all = parse_line(br#"valve:ignore reason="oops valve:ignore[Docs]"#);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].errors, [SuppressError::UnterminatedReason]);
        assert_eq!(all[0].span, 0..21);
        assert!(all[1].is_valid());
        assert!(silenced(r#"valve:ignore[A valve:ignore"#, "Guardian"));
    }

    #[test]
    fn a_marker_inside_a_reason_is_text() {
        let all = parse_line(br#"valve:ignore[Docs] reason="see valve:ignore in the README""#);
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].reason.as_deref(),
            Some("see valve:ignore in the README")
        );
        assert!(!silenced(
            r#"valve:ignore[Docs] reason="see valve:ignore docs""#,
            "Guardian"
        ));
    }

    #[test]
    fn judge_applies_expiry_inclusively() {
        let s = one("valve:ignore until=2027-03-31");
        assert_eq!(s.judge("G", false, date("2027-03-30")), Judgement::Silences);
        assert_eq!(s.judge("G", false, date("2027-03-31")), Judgement::Silences);
        assert_eq!(
            s.judge("G", false, date("2027-04-01")),
            Judgement::Expired(date("2027-03-31"))
        );
        assert!(s.is_expired(date("2027-04-01")));
        assert!(!one("valve:ignore").is_expired(Date::MAX));
    }

    #[test]
    fn judge_requires_a_non_blank_reason_when_asked() {
        let today = date("2027-01-01");
        for line in [
            "valve:ignore",
            r#"valve:ignore reason="""#,
            r#"valve:ignore reason="  ""#,
        ] {
            assert_eq!(
                one(line).judge("G", true, today),
                Judgement::NeedsReason,
                "{line}"
            );
            assert_eq!(
                one(line).judge("G", false, today),
                Judgement::Silences,
                "{line}"
            );
        }
        let good = one(r#"valve:ignore reason="vendored""#);
        assert!(good.has_reason());
        assert_eq!(good.judge("G", true, today), Judgement::Silences);
        let expired = one("valve:ignore until=2026-12-31");
        assert_eq!(
            expired.judge("G", true, today),
            Judgement::Expired(date("2026-12-31")),
            "expiry is reported before a missing reason"
        );
    }

    #[test]
    fn judge_ignores_markers_that_do_not_name_the_persona() {
        let today = date("2027-01-01");
        let s = one("valve:ignore[Docs] until=2020-01-01");
        assert_eq!(s.judge("Guardian", false, today), Judgement::NotNamed);
        let broken = one("valve:ignore[Docs] until=2020-13-01");
        assert_eq!(broken.judge("Docs", false, today), Judgement::Invalid);
        assert_eq!(broken.judge("Guardian", false, today), Judgement::NotNamed);
        assert_eq!(
            one("valve:ignore[").judge("Docs", false, today),
            Judgement::Invalid
        );
    }

    #[test]
    fn unknown_bracket_names_get_a_did_you_mean() {
        let s = one("valve:ignore[Guardain,Docs,Zzz]");
        assert_eq!(
            s.unknown_personas(&["Guardian", "Docs"]),
            [("Guardain", Some("Guardian")), ("Zzz", None)]
        );
        assert!(one("valve:ignore").unknown_personas(&["Docs"]).is_empty());
    }

    #[test]
    fn non_utf8_bytes_are_replaced_not_fatal() {
        let all = parse_line(b"\xff valve:ignore[Do\xffcs] reason=\"r\xfe\"");
        assert_eq!(all.len(), 1);
        assert_eq!(names(&all[0]), Some(vec!["Do\u{fffd}cs"]));
        assert_eq!(all[0].reason.as_deref(), Some("r\u{fffd}"));
    }

    #[test]
    fn huge_hostile_lines_parse_in_linear_time() {
        // Quadratic work on any of these (each ~2 MB) would not finish.
        let n = 100_000;
        let cases: [(Vec<u8>, usize); 5] = [
            (b"valve:ignore[".repeat(n), n),
            (b"valve:ignore reason=\"".repeat(n), n / 2),
            (
                [
                    b"valve:ignore reason=\"".as_slice(),
                    &b"\\\"valve:ignore ".repeat(n),
                ]
                .concat(),
                n + 1,
            ),
            (
                [b"valve:ignore[".as_slice(), &b"valve:ignore ".repeat(n)].concat(),
                n + 1,
            ),
            (
                [b"valve:ignore".as_slice(), &b" until=2027-01-01".repeat(n)].concat(),
                1,
            ),
        ];
        for (line, markers) in cases {
            assert_eq!(parse_line(&line).len(), markers);
        }
        let long_reason = [
            b"valve:ignore reason=\"".as_slice(),
            &b"x".repeat(4 << 20),
            b"\"",
        ]
        .concat();
        assert_eq!(
            parse_line(&long_reason)[0].reason.as_ref().map(String::len),
            Some(4 << 20)
        );
    }
}
