//! The pure engine: compiled personas × one document → findings.
//!
//! No I/O and no printing: content arrives as bytes, the line diff arrives
//! through a callback that is only called when a `scope: changed` match
//! needs it. Positions are 1-based lines and character columns; ends are
//! exclusive (SPEC §5).

use crate::config::Scope;
use crate::finding::{ChangeKind, Finding, Reason, Snippet};
use crate::ruleset::{Matchers, Ruleset};

/// What the engine knows of one changed file.
pub struct Document<'a> {
    pub path: &'a str,
    pub old_path: Option<&'a str>,
    pub kind: ChangeKind,
    /// The searchable text (a symlink's link text); `None` when deleted,
    /// too large, or binary with no persona that scans binaries.
    pub content: Option<&'a [u8]>,
    /// The content holds a NUL in its first 8000 bytes: only personas with
    /// `binary: scan` search it, and their columns count bytes.
    pub binary: bool,
    /// In `--all`/`PATH` modes and for added files every line counts.
    pub every_line_counts: bool,
    /// The raw matches of `content`, known already (SPEC §12: a clean
    /// blob's `Found`): no trigger is run.
    pub known: Option<&'a [Option<Vec<crate::cache::Ranges>>]>,
    /// Hand the raw matches back in `Scanned::ranges`.
    pub collect: bool,
}

/// Run-wide facts every finding carries, and the compiled triggers.
pub struct RunFacts<'a> {
    pub matchers: &'a Matchers,
    pub repo: &'a str,
    pub timestamp: u64,
    pub redact_all: bool,
    /// Whether findings carry source snippets (only human output shows them).
    pub snippets: bool,
    /// The commit being judged in history judging (SPEC §2.2), full id.
    pub commit: Option<&'a str>,
    /// How inline suppressions are judged in this run (SPEC §11).
    pub waivers: Waivers,
    /// The result cache of this ruleset (SPEC §12), if one was asked for.
    pub cache: Option<crate::cache::Cache>,
}

/// The run's rules for `valve:ignore` markers (SPEC §11).
#[derive(Debug, Clone, Copy)]
pub struct Waivers {
    /// The date expiries and `enforce_after` are judged on.
    pub today: crate::date::Date,
    /// False under `--no-inline-ignore`: no marker silences anything.
    pub inline: bool,
    /// `--all`/`PATH`: no marker is new.
    pub whole_files: bool,
    /// Severities of valve's own findings about markers; `None`: off.
    pub unused: Option<crate::severity::Severity>,
    pub expired: Option<crate::severity::Severity>,
}

/// The names of valve's own personas (SPEC §11), judged after the config's.
pub const UNUSED_SUPPRESSION: &str = "valve:unused-suppression";
pub const EXPIRED_SUPPRESSION: &str = "valve:expired-suppression";

/// What a finding is before it is built: enough to count it and to decide
/// whether the report keeps it, so that millions of matches past
/// `max_findings` cost a comparison each, not a `Finding` each.
pub struct Hit<'a> {
    pub path: &'a str,
    pub persona_index: usize,
    pub severity: crate::severity::Severity,
    /// Empty unless the sink wants fingerprints.
    pub fingerprint: &'a str,
    /// Whether a baseline may drop it (trigger findings; path-only ones
    /// only when whole files are judged).
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub trigger: Option<usize>,
    pub end_line: Option<u32>,
    pub end_column: Option<u32>,
    pub commit: Option<&'a str>,
    /// SPEC §11 `enforce_after`: it blocks only from this date.
    pub enforced_from: Option<crate::date::Date>,
}

impl Hit<'_> {
    /// The key `Finding::full_key` gives the built finding.
    pub fn full_key(&self) -> crate::finding::FullKey<'_> {
        (
            (
                self.path.as_bytes(),
                self.line,
                self.column,
                self.persona_index,
            ),
            self.trigger,
            self.end_line,
            self.end_column,
            self.commit,
        )
    }
}

/// Where findings go as they are found.
pub trait Sink {
    /// Whether `count` looks at fingerprints (a baseline is in use); when
    /// not, a hit past the cap never computes one.
    fn wants_fingerprints(&self) -> bool;
    /// Counts a hit; true when the finding should be built and kept.
    fn count(&mut self, hit: &Hit<'_>) -> bool;
    /// Takes a built finding that `count` asked for.
    fn keep(&mut self, finding: Finding);
}

/// What one document gave, beyond the findings handed to the sink.
#[derive(Debug, Default)]
pub struct Scanned {
    pub suppressed: usize,
    /// The markers in the judged lines (SPEC §11).
    pub markers: Vec<crate::finding::SuppressionRecord>,
    /// Marker problems worth a config-style warning (unknown names).
    pub warnings: Vec<MarkerWarning>,
    /// Bit `i`: persona `i` (of the first 64) searched the content and
    /// none of its triggers matched (before scope and suppression), for
    /// the result cache's records (SPEC §12).
    pub silent: u64,
    /// With `Document::collect`: every persona's raw matches (`None` for one
    /// that did not search), unless there were too many to keep.
    pub ranges: Option<crate::cache::Matches>,
}

/// A problem with a `valve:ignore` marker, where it stands; ordered by
/// path (bytewise), then line, as a report lists them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MarkerWarning {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for MarkerWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Longest `match` text kept in a finding, in characters.
const MATCH_TEXT_LIMIT: usize = 256;
/// Bytes of context kept either side of a match on a long line.
const SNIPPET_WINDOW: usize = 160;

/// Evaluates the personas in `takers` on one document, handing every
/// finding to `sink` as it is found (so a file with millions of matches is
/// never held as a list).
///
/// `changed` returns, for each line of the content, whether the change
/// added or modified it; it is called at most once.
pub fn scan(
    rules: &Ruleset,
    takers: &[usize],
    doc: &Document<'_>,
    facts: &RunFacts<'_>,
    changed: &mut dyn FnMut() -> Option<Vec<bool>>,
    sink: &mut dyn Sink,
) -> Scanned {
    let mut out = Scanned::default();
    let mut changed_lines: Option<Option<Vec<bool>>> = None;
    let mut lines: Option<LineIndex> = None;
    let mut candidates = None;
    let mut prefiltered = false;
    let mut markers: Option<Markers> = None;
    let mut searched = false;
    // SPEC §12: the raw matches of this content, when cached; opened at
    // the first persona that searches it.
    let mut memo: Option<crate::cache::Memo<'_>> = None;
    for &pi in takers {
        let persona = &rules.personas[pi];
        if !persona.wants(doc.kind) {
            continue;
        }
        if persona.is_path_only() {
            let f = path_finding(rules, pi, doc, facts);
            let hit = Hit {
                path: doc.path,
                persona_index: pi,
                severity: f.severity,
                fingerprint: &f.fingerprint,
                line: None,
                column: None,
                trigger: None,
                end_line: None,
                end_column: None,
                commit: facts.commit,
                enforced_from: persona.enforce_after,
            };
            if sink.count(&hit) {
                sink.keep(f);
            }
            continue;
        }
        let Some(content) = doc.content else {
            continue;
        };
        if doc.binary && !persona.scan_binary {
            continue;
        }
        if memo.is_none() {
            memo = match (doc.known, facts.cache.as_ref().filter(|c| c.takes(content))) {
                (Some(known), _) => Some(crate::cache::Memo::known(known.to_vec())),
                (None, Some(cache)) => Some(crate::cache::Memo::open(cache, rules, content)),
                (None, None) if doc.collect => {
                    Some(crate::cache::Memo::collecting(rules.personas.len()))
                }
                (None, None) => None,
            };
        }
        let cached = memo.as_mut().and_then(|m| m.take(pi));
        // With a cache and no entry for this persona yet, what matching
        // finds is recorded, before scope and suppression.
        let recording = memo.is_some() && cached.is_none();
        let mut fresh: Vec<crate::cache::Ranges> = Vec::new();
        if cached.is_none() && !prefiltered {
            candidates = facts.matchers.candidates(content);
            prefiltered = true;
        }
        searched = true;
        let mut any_match = false;
        for ti in 0..persona.triggers.len() {
            let listed = cached
                .as_ref()
                .map(|c| c.get(ti).map_or(&[][..], Vec::as_slice));
            let regex = match listed {
                Some(_) => None,
                None => {
                    let regex = facts
                        .matchers
                        .regex(pi, ti)
                        .filter(|_| facts.matchers.may_match(candidates.as_ref(), pi, ti));
                    if regex.is_none() {
                        if recording {
                            fresh.push(Vec::new());
                        }
                        continue;
                    }
                    regex
                }
            };
            if listed.is_some_and(<[_]>::is_empty) {
                continue;
            }
            let index = lines.get_or_insert_with(|| LineIndex::new(content, doc.binary));
            // Matches come in order: positions and line facts are computed
            // incrementally, so many matches on one line stay linear.
            let mut starts = Cursor::default();
            let mut ends = Cursor::default();
            let mut line_facts: Option<LineFacts> = None;
            let found: Box<dyn Iterator<Item = (usize, usize)>> = match (listed, regex) {
                (Some(l), _) => Box::new(l.iter().copied()),
                (None, Some(r)) => Box::new(r.find_iter(content).map(|m| (m.start(), m.end()))),
                (None, None) => Box::new(std::iter::empty()),
            };
            let mut record = recording.then(Vec::new);
            for (m_start, m_end) in found {
                any_match = true;
                if let Some(list) = record.as_mut() {
                    if memo.as_mut().is_some_and(|m| m.room_for_one()) {
                        list.push((m_start, m_end));
                    } else {
                        record = None;
                    }
                }
                let start_line = index.line_of(m_start);
                // An empty match at a line end still belongs to that line.
                let last_byte = if m_end > m_start { m_end - 1 } else { m_start };
                let end_line_incl = index.line_of(last_byte);
                let counts = persona.scope == Scope::File
                    || doc.every_line_counts
                    || match changed_lines.get_or_insert_with(&mut *changed) {
                        None => true,
                        Some(flags) => (start_line..=end_line_incl)
                            .any(|l| flags.get(l - 1).copied().unwrap_or(false)),
                    };
                if !counts {
                    continue;
                }
                if line_facts.as_ref().is_none_or(|f| f.line != start_line) {
                    line_facts = Some(LineFacts::new(index, content, start_line));
                }
                let Some(facts_of_line) = line_facts.as_mut() else {
                    continue;
                };
                let mut notes = Vec::new();
                if facts_of_line.has_marker {
                    let marks = markers.get_or_insert_with(|| Markers::find(index, content));
                    if marks.silences(start_line, persona, &facts.waivers, &mut notes) {
                        out.suppressed += 1;
                        continue;
                    }
                }
                notes.extend(crate::finding::rollout_note(
                    facts.waivers.today,
                    persona.enforce_after,
                ));
                let redact = persona.redact || facts.redact_all;
                let column = starts.column(index, content, m_start);
                let (end_line, end_col) =
                    (index.line_of(m_end), ends.column(index, content, m_end));
                if sink.wants_fingerprints() {
                    facts_of_line.fingerprint(index, content, &persona.name, doc.path);
                }
                let hit = Hit {
                    path: doc.path,
                    persona_index: pi,
                    severity: persona.severity,
                    fingerprint: facts_of_line.fingerprint.as_deref().unwrap_or(""),
                    line: Some(start_line as u32),
                    column: Some(column as u32),
                    trigger: Some(ti),
                    end_line: Some(end_line as u32),
                    end_column: Some(end_col as u32),
                    commit: facts.commit,
                    enforced_from: persona.enforce_after,
                };
                if !sink.count(&hit) {
                    continue;
                }
                let matched = if redact {
                    "REDACTED".to_string()
                } else {
                    let text = &content[m_start..m_end];
                    truncate_chars(
                        &String::from_utf8_lossy(&text[..text.len().min(4 * MATCH_TEXT_LIMIT)]),
                        MATCH_TEXT_LIMIT,
                    )
                };
                sink.keep(Finding {
                    kind: "finding",
                    persona: persona.name.clone(),
                    severity: persona.severity,
                    response: persona.response.clone(),
                    message: persona.message_text(Some(ti)),
                    repo: facts.repo.to_string(),
                    file: doc.path.to_string(),
                    old_file: doc.old_path.map(str::to_string),
                    change: doc.kind,
                    commit: facts.commit.map(str::to_string),
                    stage: None,
                    reason: Reason::GlobTrigger,
                    line: Some(start_line as u32),
                    column: Some(column as u32),
                    end_line: Some(end_line as u32),
                    end_column: Some(end_col as u32),
                    matched: Some(matched),
                    trigger: Some(ti),
                    fingerprint: facts_of_line
                        .fingerprint(index, content, &persona.name, doc.path)
                        .to_string(),
                    blocking: false,
                    enforced_from: persona.enforce_after,
                    owners: Vec::new(),
                    notes,
                    timestamp: facts.timestamp,
                    persona_index: pi,
                    can_ignore: persona.allow_ignore,
                    snippet: facts
                        .snippets
                        .then(|| snippet(content, index, m_start, m_end, redact)),
                });
            }
            if recording {
                fresh.push(record.unwrap_or_default());
            }
        }
        if !any_match && pi < 64 {
            out.silent |= 1 << pi;
        }
        if let Some(m) = memo.as_mut() {
            match cached {
                Some(c) => m.put(pi, c),
                None => m.record(pi, fresh),
            }
        }
    }
    if let Some(m) = memo {
        if doc.collect {
            out.ranges = m.ranges();
        }
        m.finish();
    }
    // Only a content with a marker's text needs its lines for markers.
    let marked = |content: &[u8]| {
        markers.is_some()
            || memchr::memmem::find(content, crate::suppress::MARKER.as_bytes()).is_some()
    };
    if searched {
        if let Some(content) = doc.content.filter(|c| marked(c)) {
            let index = lines.get_or_insert_with(|| LineIndex::new(content, doc.binary));
            let marks = markers.get_or_insert_with(|| Markers::find(index, content));
            if !marks.lines.is_empty() {
                let flags = if doc.every_line_counts {
                    None
                } else {
                    changed_lines.get_or_insert_with(&mut *changed).clone()
                };
                report_markers(
                    rules,
                    doc,
                    facts,
                    index,
                    content,
                    marks,
                    flags.as_deref(),
                    sink,
                    &mut out,
                );
            }
        }
    }
    out
}

/// The most marker lines of one file that are read (SPEC §9: bounded).
const MAX_MARKER_LINES: usize = 1_000;

/// The `valve:ignore` markers of one document, by line, parsed once, with
/// the personas each silenced.
struct Markers {
    lines: Vec<LineMarks>,
}

struct LineMarks {
    line: usize,
    marks: Vec<(crate::suppress::Suppression, Vec<String>)>,
}

impl Markers {
    fn find(index: &LineIndex, content: &[u8]) -> Markers {
        let mut lines: Vec<LineMarks> = Vec::new();
        for at in memchr::memmem::find_iter(content, crate::suppress::MARKER.as_bytes()) {
            // Bounded: a file of nothing but markers costs no more than this.
            if lines.len() >= MAX_MARKER_LINES {
                break;
            }
            let line = index.line_of(at);
            if lines.last().is_some_and(|l| l.line == line) {
                continue;
            }
            let marks = crate::suppress::parse_line(index.line_text(content, line))
                .into_iter()
                .map(|s| (s, Vec::new()))
                .collect();
            lines.push(LineMarks { line, marks });
        }
        Markers { lines }
    }

    /// Whether a marker on `line` silences `persona`'s match there; when
    /// one does not, why, in `notes`.
    fn silences(
        &mut self,
        line: usize,
        persona: &crate::persona::Persona,
        waivers: &Waivers,
        notes: &mut Vec<String>,
    ) -> bool {
        let Ok(at) = self.lines.binary_search_by_key(&line, |l| l.line) else {
            return false;
        };
        if !waivers.inline {
            return false;
        }
        let name = persona.name.as_str();
        for (mark, used) in &mut self.lines[at].marks {
            use crate::suppress::Judgement;
            let judgement = mark.judge(name, persona.require_reason, waivers.today);
            if judgement == Judgement::NotNamed {
                continue;
            }
            if !persona.allow_ignore {
                notes.push(format!(
                    "{name} cannot be silenced inline (allow_ignore: false)"
                ));
                return false;
            }
            match judgement {
                Judgement::Silences => {
                    if !used.iter().any(|u| u == name) {
                        used.push(name.to_string());
                    }
                    return true;
                }
                Judgement::Expired(date) => notes.push(format!("suppression expired on {date}")),
                Judgement::NeedsReason => notes.push(format!(
                    "the suppression needs a reason: {name} has require_reason (write reason=\"...\")"
                )),
                Judgement::Invalid => {
                    let why = mark
                        .errors
                        .first()
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    notes.push(format!("the valve:ignore here is broken: {why}"));
                }
                Judgement::NotNamed => {}
            }
        }
        false
    }
}

/// Lists the markers of the judged lines and turns unused and expired ones
/// into findings of valve's own personas (SPEC §11).
#[allow(clippy::too_many_arguments)]
fn report_markers(
    rules: &Ruleset,
    doc: &Document<'_>,
    facts: &RunFacts<'_>,
    index: &LineIndex,
    content: &[u8],
    markers: &Markers,
    changed: Option<&[bool]>,
    sink: &mut dyn Sink,
    out: &mut Scanned,
) {
    let w = &facts.waivers;
    let known: Vec<&str> = rules.personas.iter().map(|p| p.name.as_str()).collect();
    for lm in &markers.lines {
        let on_changed =
            changed.is_none_or(|flags| flags.get(lm.line - 1).copied().unwrap_or(false));
        for (mark, used) in &lm.marks {
            // Only markers on judged lines count, as with `scope: changed`;
            // one that silenced a `scope: file` match is listed too.
            if !on_changed && used.is_empty() {
                continue;
            }
            // A name that is no persona makes a marker that does nothing:
            // said unless unused markers are turned off (`unused: never`).
            let names = if w.unused.is_some() {
                mark.unknown_personas(&known)
            } else {
                Vec::new()
            };
            for (name, near) in names {
                // A nested persona's short name: its full `D/:Name`.
                let nested = || {
                    let tail = format!(":{name}");
                    known
                        .iter()
                        .find(|k| k.ends_with(&tail))
                        .map(|k| k.to_string())
                };
                let hint = near
                    .map(|n| n.to_string())
                    .or_else(nested)
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default();
                out.warnings.push(MarkerWarning {
                    file: doc.path.to_string(),
                    line: lm.line,
                    message: format!("valve:ignore[{name}] names no persona of the config{hint}"),
                });
            }
            let expired = mark.is_valid() && mark.is_expired(w.today);
            let record = crate::finding::SuppressionRecord {
                file: doc.path.to_string(),
                line: lm.line as u32,
                personas: mark.personas.clone().unwrap_or_default(),
                reason: mark.reason.clone(),
                until: mark.until,
                used: used.clone(),
                expired,
                new: !w.whole_files && on_changed,
                applied: w.inline,
                error: mark.errors.first().map(|e| e.to_string()),
            };
            if w.inline {
                let own = if expired {
                    w.expired.map(|s| {
                        (
                            1,
                            s,
                            EXPIRED_SUPPRESSION,
                            format!(
                                "suppression expired on {}: it silences nothing now",
                                mark.until.map(|d| d.to_string()).unwrap_or_default()
                            ),
                        )
                    })
                } else if used.is_empty() {
                    let why = match (&record.error, &mark.personas) {
                        (Some(e), _) => {
                            format!("this valve:ignore is broken and silences nothing: {e}")
                        }
                        (None, Some(names)) => format!(
                            "valve:ignore[{}] silenced nothing on this line",
                            names.join(",")
                        ),
                        (None, None) => {
                            "this valve:ignore silenced nothing on this line".to_string()
                        }
                    };
                    w.unused.map(|s| (0, s, UNUSED_SUPPRESSION, why))
                } else {
                    None
                };
                if let Some((offset, severity, name, message)) = own {
                    own_finding(
                        rules.personas.len() + offset,
                        severity,
                        name,
                        message,
                        doc,
                        facts,
                        index,
                        content,
                        lm.line,
                        mark,
                        sink,
                    );
                }
            }
            out.markers.push(record);
        }
    }
}

/// A finding of one of valve's own personas at a marker.
#[allow(clippy::too_many_arguments)]
fn own_finding(
    persona_index: usize,
    severity: crate::severity::Severity,
    name: &str,
    message: String,
    doc: &Document<'_>,
    facts: &RunFacts<'_>,
    index: &LineIndex,
    content: &[u8],
    line: usize,
    mark: &crate::suppress::Suppression,
    sink: &mut dyn Sink,
) {
    let text = index.line_text(content, line);
    let line_start = index.line_bounds(content, line).0;
    let start = line_start + mark.span.start.min(text.len());
    let end = line_start + mark.span.end.min(text.len());
    let column = index.column(content, start);
    let (end_line, end_column) = index.position(content, end);
    let fp = fingerprint(name, doc.path, String::from_utf8_lossy(text).trim());
    let hit = Hit {
        path: doc.path,
        persona_index,
        severity,
        fingerprint: &fp,
        line: Some(line as u32),
        column: Some(column as u32),
        trigger: None,
        end_line: Some(end_line as u32),
        end_column: Some(end_column as u32),
        commit: facts.commit,
        enforced_from: None,
    };
    if !sink.count(&hit) {
        return;
    }
    sink.keep(Finding {
        kind: "finding",
        persona: name.to_string(),
        severity,
        response: None,
        message,
        repo: facts.repo.to_string(),
        file: doc.path.to_string(),
        old_file: doc.old_path.map(str::to_string),
        change: doc.kind,
        commit: facts.commit.map(str::to_string),
        stage: None,
        reason: Reason::Suppression,
        line: Some(line as u32),
        column: Some(column as u32),
        end_line: Some(end_line as u32),
        end_column: Some(end_column as u32),
        matched: Some(truncate_chars(
            &String::from_utf8_lossy(&content[start..end]),
            MATCH_TEXT_LIMIT,
        )),
        trigger: None,
        fingerprint: fp,
        blocking: false,
        enforced_from: None,
        owners: Vec::new(),
        notes: Vec::new(),
        timestamp: facts.timestamp,
        persona_index,
        can_ignore: false,
        snippet: facts
            .snippets
            .then(|| snippet(content, index, start, end.max(start), false)),
    });
}

/// What every match of one persona on one line shares, computed at most
/// once per line so that many matches on a long line stay linear: whether
/// a suppression marker is there at all, and the fingerprint (of the
/// trimmed line) once something needs it.
struct LineFacts {
    line: usize,
    has_marker: bool,
    fingerprint: Option<String>,
}

impl LineFacts {
    fn new(index: &LineIndex, content: &[u8], line: usize) -> Self {
        let text = index.line_text(content, line);
        LineFacts {
            line,
            has_marker: memchr::memmem::find(text, b"valve:ignore").is_some(),
            fingerprint: None,
        }
    }

    fn fingerprint(
        &mut self,
        index: &LineIndex,
        content: &[u8],
        persona: &str,
        path: &str,
    ) -> &str {
        let line = self.line;
        self.fingerprint.get_or_insert_with(|| {
            let text = String::from_utf8_lossy(index.line_text(content, line));
            fingerprint(persona, path, text.trim())
        })
    }
}

/// Remembers the last (offset, column) so that the next column on the same
/// line is counted from there: matches arrive in increasing order.
#[derive(Default)]
struct Cursor {
    at: Option<(usize, usize, usize)>,
}

impl Cursor {
    /// 1-based column of `offset`, as `LineIndex::column`.
    fn column(&mut self, index: &LineIndex, content: &[u8], offset: usize) -> usize {
        let offset = offset.min(content.len());
        let line = index.line_of(offset);
        let col = match self.at {
            Some((l, o, c)) if l == line && o <= offset => c + index.count(&content[o..offset]),
            _ => index.column(content, offset),
        };
        self.at = Some((line, offset, col));
        col
    }
}

fn path_finding(rules: &Ruleset, pi: usize, doc: &Document<'_>, facts: &RunFacts<'_>) -> Finding {
    let persona = &rules.personas[pi];
    Finding {
        kind: "finding",
        persona: persona.name.clone(),
        severity: persona.severity,
        response: persona.response.clone(),
        message: persona.message_text(None),
        repo: facts.repo.to_string(),
        file: doc.path.to_string(),
        old_file: doc.old_path.map(str::to_string),
        change: doc.kind,
        commit: facts.commit.map(str::to_string),
        stage: None,
        reason: Reason::Glob,
        line: None,
        column: None,
        end_line: None,
        end_column: None,
        matched: None,
        trigger: None,
        fingerprint: fingerprint(&persona.name, doc.path, ""),
        blocking: false,
        enforced_from: persona.enforce_after,
        owners: Vec::new(),
        notes: crate::finding::rollout_note(facts.waivers.today, persona.enforce_after)
            .into_iter()
            .collect(),
        timestamp: facts.timestamp,
        persona_index: pi,
        can_ignore: persona.allow_ignore,
        snippet: None,
    }
}

/// Start offsets of every line, for offset → (line, column).
pub struct LineIndex {
    starts: Vec<usize>,
    /// Columns count bytes (binary content), not characters.
    bytes: bool,
}

impl LineIndex {
    pub fn new(content: &[u8], bytes: bool) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', content).map(|i| i + 1));
        LineIndex { starts, bytes }
    }

    /// Columns taken by `bytes`: characters, or bytes for binary content.
    fn count(&self, bytes: &[u8]) -> usize {
        if self.bytes {
            bytes.len()
        } else {
            char_count(bytes)
        }
    }

    /// 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }

    /// 1-based column in characters of byte `offset`.
    pub fn column(&self, content: &[u8], offset: usize) -> usize {
        let start = self.starts[self.line_of(offset) - 1];
        self.count(&content[start..offset.min(content.len())]) + 1
    }

    /// (line, column) of an exclusive end offset.
    pub fn position(&self, content: &[u8], offset: usize) -> (usize, usize) {
        (self.line_of(offset), self.column(content, offset))
    }

    fn line_bounds(&self, content: &[u8], line: usize) -> (usize, usize) {
        let start = self.starts[line - 1];
        let mut end = self.starts.get(line).map_or(content.len(), |&s| s - 1);
        if end > start && content.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        (start, end.max(start))
    }

    /// The text of a 1-based line without its line ending.
    pub fn line_text<'c>(&self, content: &'c [u8], line: usize) -> &'c [u8] {
        let (s, e) = self.line_bounds(content, line);
        &content[s..e]
    }
}

/// UTF-8 characters in `bytes` (each invalid byte counts as one).
fn char_count(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.chars().count(),
        Err(_) => String::from_utf8_lossy(bytes).chars().count(),
    }
}

fn truncate_chars(s: &str, limit: usize) -> String {
    match s.char_indices().nth(limit) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The match's lines (and one before), long lines windowed around the
/// match, the match itself replaced when redacted.
fn snippet(content: &[u8], index: &LineIndex, start: usize, end: usize, redact: bool) -> Snippet {
    let first = index.line_of(start);
    let last = index.line_of(if end > start { end - 1 } else { start });
    let (line_start, _) = index.line_bounds(content, first);
    let (_, line_end) = index.line_bounds(content, last);
    let mut from = line_start.max(start.saturating_sub(SNIPPET_WINDOW));
    while from > line_start && from < content.len() && (content[from] & 0xC0) == 0x80 {
        from -= 1;
    }
    let mut to = line_end.min(end + SNIPPET_WINDOW).max(end.min(line_end));
    while to < line_end && (content[to] & 0xC0) == 0x80 {
        to += 1;
    }
    let end = end.min(to.max(start));
    let mut text = String::new();
    let mut first_line = first;
    if first > 1 && from == line_start {
        let before = index.line_text(content, first - 1);
        if before.len() <= 2 * SNIPPET_WINDOW {
            text.push_str(&String::from_utf8_lossy(before));
            text.push('\n');
            first_line = first - 1;
        }
    }
    text.push_str(&String::from_utf8_lossy(&content[from..start]));
    let at = text.len();
    if redact {
        text.push_str("REDACTED");
    } else {
        text.push_str(&String::from_utf8_lossy(&content[start..end]).replace('\r', ""));
    }
    let len = text.len() - at;
    if end < to {
        text.push_str(&String::from_utf8_lossy(&content[end..to]));
    }
    Snippet {
        first_line: first_line as u32,
        text,
        start: at,
        len,
    }
}

/// Whether a line's `valve:ignore` marker silences `persona`:
/// bare `valve:ignore` silences all, `valve:ignore[A, B]` only those named.
pub fn suppressed_by(line: &[u8], persona: &str) -> bool {
    const MARK: &[u8] = b"valve:ignore";
    let mut rest = line;
    while let Some(pos) = memchr::memmem::find(rest, MARK) {
        rest = &rest[pos + MARK.len()..];
        match rest.first() {
            Some(b'[') => {
                let Some(close) = memchr::memchr(b']', rest) else {
                    continue;
                };
                let names = String::from_utf8_lossy(&rest[1..close]);
                if names.split(',').any(|n| n.trim() == persona) {
                    return true;
                }
            }
            _ => return true,
        }
    }
    false
}

/// A stable fingerprint: persona, path and the trimmed matched line, so a
/// finding keeps it when lines move. 128-bit FNV-1a, hex.
pub fn fingerprint(persona: &str, path: &str, line: &str) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for part in [
        persona.as_bytes(),
        b"\0",
        path.as_bytes(),
        b"\0",
        line.as_bytes(),
    ] {
        for &byte in part {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ u64::from(byte))
                .wrapping_mul(0x0000_0100_0000_01b3)
                .rotate_left(5);
        }
    }
    format!("{a:016x}{b:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_warnings_sort_by_path_then_numeric_line_and_show_as_path_line() {
        let w = |file: &str, line| MarkerWarning {
            file: file.to_string(),
            line,
            message: "x".to_string(),
        };
        let mut all = [w("a.rs", 10), w("a.rs", 9), w("a-b.rs", 1)];
        all.sort();
        let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["a-b.rs:1: x", "a.rs:9: x", "a.rs:10: x"]);
    }

    #[test]
    fn lines_and_columns_are_one_based_in_characters() {
        let text = "ab\nçdé x\n".as_bytes();
        let idx = LineIndex::new(text, false);
        let x = text.iter().position(|&b| b == b'x').unwrap_or(0);
        assert_eq!(idx.line_of(x), 2);
        assert_eq!(idx.column(text, x), 5);
        assert_eq!(idx.line_of(0), 1);
        assert_eq!(idx.column(text, 0), 1);
    }

    #[test]
    fn end_position_is_exclusive() {
        let text = b"0123456789012345678901234567890123456789";
        let idx = LineIndex::new(text, false);
        assert_eq!(idx.position(text, 34), (1, 35));
    }

    #[test]
    fn line_text_drops_crlf() {
        let text = b"one\r\ntwo\r\n";
        let idx = LineIndex::new(text, false);
        assert_eq!(idx.line_text(text, 1), b"one");
        assert_eq!(idx.line_text(text, 2), b"two");
    }

    #[test]
    fn bare_ignore_silences_every_persona() {
        assert!(suppressed_by(b"let k = 1; // valve:ignore", "Guardian"));
    }

    #[test]
    fn named_ignore_silences_only_those_named() {
        let line = b"x // valve:ignore[Guardian, Docs]";
        assert!(suppressed_by(line, "Guardian"));
        assert!(suppressed_by(line, "Docs"));
        assert!(!suppressed_by(line, "TypeNazi"));
        assert!(!suppressed_by(b"no marker here", "Guardian"));
    }

    #[test]
    fn fingerprint_ignores_indentation_but_not_text() {
        assert_eq!(
            fingerprint("G", "a", "x = 1"),
            fingerprint("G", "a", "x = 1")
        );
        assert_ne!(
            fingerprint("G", "a", "x = 1"),
            fingerprint("G", "a", "x = 2")
        );
        assert_ne!(fingerprint("G", "a", "x"), fingerprint("H", "a", "x"));
    }

    #[test]
    fn snippet_replaces_a_redacted_match() {
        let text = b"line one\nkey = SECRET123 end\n";
        let idx = LineIndex::new(text, false);
        let s = snippet(text, &idx, 15, 24, true);
        assert!(!s.text.contains("SECRET123"));
        assert_eq!(&s.text[s.start..s.start + s.len], "REDACTED");
        assert_eq!(s.first_line, 1);
    }
}
