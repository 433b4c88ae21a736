//! The plain data that flows from the engine to the renderers: changes,
//! findings, skips, the summary and the report. No I/O here.

use serde::Serialize;

use crate::severity::{Severity, Threshold};

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Modified,
    Renamed,
    Deleted,
}

impl ChangeKind {
    pub const WORDS: &[&str] = &["added", "modified", "renamed", "deleted"];

    pub fn parse(word: &str) -> Option<ChangeKind> {
        match word.to_ascii_lowercase().as_str() {
            "added" => Some(ChangeKind::Added),
            "modified" => Some(ChangeKind::Modified),
            "renamed" => Some(ChangeKind::Renamed),
            "deleted" => Some(ChangeKind::Deleted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Renamed => "renamed",
            ChangeKind::Deleted => "deleted",
        }
    }

    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Why a persona fired: its globs alone, or globs and a trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reason {
    #[serde(rename = "glob")]
    Glob,
    #[serde(rename = "glob+trigger")]
    GlobTrigger,
    /// A change rule fired on the change set (SPEC §11).
    #[serde(rename = "change-rule")]
    ChangeRule,
    /// valve's own finding about a `valve:ignore` marker (SPEC §11).
    #[serde(rename = "suppression")]
    Suppression,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Glob => "glob",
            Reason::GlobTrigger => "glob+trigger",
            Reason::ChangeRule => "change-rule",
            Reason::Suppression => "suppression",
        }
    }

    pub fn parse(word: &str) -> Option<Reason> {
        [
            Reason::Glob,
            Reason::GlobTrigger,
            Reason::ChangeRule,
            Reason::Suppression,
        ]
        .into_iter()
        .find(|r| r.as_str() == word)
    }
}

/// One `valve:ignore` marker valve saw in the judged lines (SPEC §11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuppressionRecord {
    pub file: String,
    pub line: u32,
    /// The personas named, as written; empty for a bare marker (all).
    pub personas: Vec<String>,
    pub reason: Option<String>,
    pub until: Option<crate::date::Date>,
    /// The personas it silenced in this run.
    pub used: Vec<String>,
    pub expired: bool,
    /// The marker's line is added by this change (false in `--all`/`PATH`).
    pub new: bool,
    /// False under `--no-inline-ignore`: listed, but silenced nothing.
    pub applied: bool,
    /// Why the marker is broken, if it is (it then silences nothing).
    pub error: Option<String>,
}

/// Whether a work-tree finding will be committed (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The matched line is in the index too: a commit now carries it.
    Staged,
    /// Only in the work tree: a commit now would not carry it.
    Unstaged,
    /// The work tree fixed it but the index still holds it.
    IndexOnly,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Staged => "staged",
            Stage::Unstaged => "unstaged",
            Stage::IndexOnly => "index_only",
        }
    }
}

/// One persona firing on one file (and, with triggers, one match).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub persona: String,
    pub severity: Severity,
    pub response: Option<String>,
    pub message: String,
    pub repo: String,
    pub file: String,
    pub old_file: Option<String>,
    pub change: ChangeKind,
    /// History judging (SPEC §2.2): the full id of the first commit of the
    /// range, oldest first, that introduced the finding; `None` for a
    /// finding of the net change.
    pub commit: Option<String>,
    /// SPEC §8 "staged or not": in `--worktree` and watch, whether a commit
    /// now would carry the finding; `None` in every other mode.
    pub stage: Option<Stage>,
    pub reason: Reason,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub end_line: Option<u32>,
    pub end_column: Option<u32>,
    #[serde(rename = "match")]
    pub matched: Option<String>,
    pub trigger: Option<usize>,
    pub fingerprint: String,
    pub blocking: bool,
    /// SPEC §11 `enforce_after`: the date from which it blocks.
    pub enforced_from: Option<crate::date::Date>,
    /// SPEC §11: the owners of the file (CODEOWNERS or the persona's).
    pub owners: Vec<String>,
    /// What else a reader must know: an expired or reasonless suppression
    /// that did not silence it, when it starts blocking (SPEC §11).
    pub notes: Vec<String>,
    pub timestamp: u64,
    /// Position of the persona in the config: the last sort key.
    #[serde(skip)]
    pub persona_index: usize,
    /// Whether `valve:ignore` may silence it (the persona's `allow_ignore`).
    #[serde(skip)]
    pub can_ignore: bool,
    /// The source lines around the match, for snippets (redacted when asked).
    #[serde(skip)]
    pub snippet: Option<Snippet>,
}

/// A finding's place in the report, total: two findings never share it
/// (the same place in two commits of a history differs by commit).
pub type FullKey<'a> = (
    (&'a [u8], Option<u32>, Option<u32>, usize),
    Option<usize>,
    Option<u32>,
    Option<u32>,
    Option<&'a str>,
);

impl Finding {
    /// SPEC §5 order: path bytewise, line (path-only first), column, persona.
    pub fn sort_key(&self) -> (&[u8], Option<u32>, Option<u32>, usize) {
        (
            self.file.as_bytes(),
            self.line,
            self.column,
            self.persona_index,
        )
    }

    /// `sort_key`, then trigger, end and commit: which findings are kept
    /// when there are more than `max_findings` does not depend on thread
    /// timing.
    pub fn full_key(&self) -> FullKey<'_> {
        (
            self.sort_key(),
            self.trigger,
            self.end_line,
            self.end_column,
            self.commit.as_deref(),
        )
    }

    /// The message and its notes, as one text for formats with one field.
    pub fn message_with_notes(&self) -> String {
        if self.notes.is_empty() {
            self.message.clone()
        } else {
            format!("{} ({})", self.message, self.notes.join("; "))
        }
    }

    /// Whether it blocks under `threshold` on `today`: severe enough, and
    /// its persona's `enforce_after` reached (SPEC §11).
    pub fn blocks_under(&self, threshold: Threshold, today: crate::date::Date) -> bool {
        threshold.blocks_on(self.severity, self.enforced_from, today)
    }

    /// The commit id as human and markdown output show it: 7 characters,
    /// more only when that is all there is.
    pub fn short_commit(&self) -> Option<&str> {
        self.commit.as_deref().map(|c| c.get(..7).unwrap_or(c))
    }
}

/// A few lines of source around a match, already redacted if needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// 1-based number of the first line in `text`.
    pub first_line: u32,
    pub text: String,
    /// Byte range of the match inside `text`.
    pub start: usize,
    pub len: usize,
}

impl Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a file's content was not searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Binary,
    TooLarge,
    Submodule,
    Symlink,
    /// A FIFO, socket or device: never opened.
    Special,
    /// valve's own config, baseline, or a file the config extends.
    OwnFile,
    /// Deleted or replaced while valve read it.
    Vanished,
}

impl SkipReason {
    /// Every reason, in the order human output lists them.
    pub const ALL: [SkipReason; 7] = [
        SkipReason::Binary,
        SkipReason::TooLarge,
        SkipReason::Submodule,
        SkipReason::Symlink,
        SkipReason::Special,
        SkipReason::OwnFile,
        SkipReason::Vanished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Binary => "binary",
            SkipReason::TooLarge => "too_large",
            SkipReason::Submodule => "submodule",
            SkipReason::Symlink => "symlink",
            SkipReason::Special => "special",
            SkipReason::OwnFile => "own_file",
            SkipReason::Vanished => "vanished",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    pub file: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BySeverity {
    pub info: usize,
    pub warning: usize,
    pub error: usize,
    pub critical: usize,
}

impl BySeverity {
    pub fn merge(&mut self, other: &BySeverity) {
        self.info += other.info;
        self.warning += other.warning;
        self.error += other.error;
        self.critical += other.critical;
    }

    pub fn add(&mut self, s: Severity) {
        match s {
            Severity::Info => self.info += 1,
            Severity::Warning => self.warning += 1,
            Severity::Error => self.error += 1,
            Severity::Critical => self.critical += 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub files_changed: usize,
    pub files_scanned: usize,
    pub files_binary: usize,
    pub files_too_large: usize,
    /// Commits judged one by one by history personas (SPEC §2.2); 0 when
    /// none was.
    pub commits: usize,
    pub findings: usize,
    /// Findings counted (in `findings`, `by_severity`, `blocking`) but not
    /// kept in the report: more than `max_findings`.
    pub truncated: usize,
    pub suppressed: usize,
    pub baselined: usize,
    pub by_severity: BySeverity,
    pub blocking: usize,
    pub fail_on: Threshold,
    /// Where the threshold came from: `--fail-on`, `fail_on.hook`, the default.
    pub fail_on_source: String,
    pub verdict: &'static str,
    pub duration_ms: u64,
    /// Where the policy came from and whether the change edits it (§9).
    pub policy: PolicyInfo,
    /// `--shard I/N` as `"I/N"` (SPEC §12); `None` for a whole run.
    pub shard: Option<String>,
    /// SPEC §11: markers that silenced nothing, that expired, and that the
    /// change adds.
    pub suppressions_unused: usize,
    pub suppressions_expired: usize,
    pub suppressions_new: usize,
}

/// Where the policy of a run came from (`--policy`), and the policy files
/// (config, baseline) the judged change edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    pub mode: &'static str,
    pub changed: bool,
    pub files: Vec<String>,
}

impl Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What renderers need to know of a persona (SARIF rules, markdown tables).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonaInfo {
    pub name: String,
    pub description: Option<String>,
    pub message: Option<String>,
    pub severity: Severity,
    pub response: Option<String>,
    pub filters: Vec<String>,
    pub triggers: Vec<String>,
    pub redact: bool,
    pub allow_ignore: bool,
    pub tags: Vec<String>,
    pub security_severity: Option<f64>,
    pub help_uri: Option<String>,
}

/// The markers of several reports of one change set, each once (the same
/// line seen by two policies or two runs), with every persona it silenced
/// anywhere; and the summary's three counts of them.
pub fn unite_markers(mut markers: Vec<SuppressionRecord>) -> (Vec<SuppressionRecord>, [usize; 3]) {
    markers.sort_by(|a, b| {
        (a.file.as_bytes(), a.line, &a.personas).cmp(&(b.file.as_bytes(), b.line, &b.personas))
    });
    markers.dedup_by(|later, kept| {
        let same =
            later.file == kept.file && later.line == kept.line && later.personas == kept.personas;
        if same {
            for u in later.used.drain(..) {
                if !kept.used.contains(&u) {
                    kept.used.push(u);
                }
            }
            kept.new |= later.new;
        }
        same
    });
    let unused = markers
        .iter()
        .filter(|m| m.applied && !m.expired && m.used.is_empty())
        .count();
    let expired = markers.iter().filter(|m| m.expired).count();
    let new = markers.iter().filter(|m| m.new).count();
    (markers, [unused, expired, new])
}

/// SPEC §11 `enforce_after`: what a finding says before its date.
pub fn rollout_note(today: crate::date::Date, from: Option<crate::date::Date>) -> Option<String> {
    let from = from.filter(|d| today < *d)?;
    let days = today.days_until(from);
    Some(format!(
        "blocking from {from} (in {days} day{})",
        if days == 1 { "" } else { "s" }
    ))
}

/// Which change set a report judged (SPEC §12): `valve merge` joins only
/// reports with the same `id`, a hash of every other field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Changeset {
    pub id: String,
    /// `staged`, `worktree`, `range`, `all` or `paths`.
    pub mode: String,
    /// The merge base of a range; `None` otherwise (or with `--root`).
    pub base: Option<String>,
    /// The judged commit of a range, else `HEAD` in a repository.
    pub head: Option<String>,
    /// The paths named in `paths` mode, as given.
    pub paths: Vec<String>,
    /// [`Report::config_digest`].
    pub config: String,
}

impl Changeset {
    pub fn new(
        mode: &str,
        base: Option<String>,
        head: Option<String>,
        paths: Vec<String>,
        config: String,
    ) -> Changeset {
        let mut text = Vec::new();
        for part in [
            mode,
            base.as_deref().unwrap_or("-"),
            head.as_deref().unwrap_or("-"),
        ]
        .into_iter()
        .chain(paths.iter().map(String::as_str))
        .chain([config.as_str()])
        {
            text.extend_from_slice(part.as_bytes());
            text.push(0);
        }
        Changeset {
            id: format!("{:016x}", crate::shard::fnv1a64(&text)),
            mode: mode.to_string(),
            base,
            head,
            paths,
            config,
        }
    }
}

/// The outcome of one check: what renderers print and main turns into an exit code.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every persona of the config, in config order.
    pub personas: Vec<PersonaInfo>,
    pub repo: String,
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skip>,
    pub summary: Summary,
    /// `--all`/`PATH`: files are judged whole, not as changes.
    pub whole_files: bool,
    pub warnings: Vec<String>,
    /// This run also writes a SARIF report (`--report sarif=…`), which the
    /// github format's overflow lines then point to.
    pub sarif_written: bool,
    /// The threshold context (`hook`, `ci`, `watch`, `default`).
    pub context: &'static str,
    /// The judged commit (`--base` mode), for links to findings.
    pub head_commit: Option<String>,
    /// The merge base of a `--base` range (the change set's old side).
    pub base_commit: Option<String>,
    /// A hash of the config text(s) that judged (SPEC §12 `changeset`).
    pub config_digest: String,
    /// What was judged, for `valve merge` (set by the command that ran).
    pub changeset: Option<Changeset>,
    /// Every `valve:ignore` marker seen in the judged lines (SPEC §11).
    pub suppressions: Vec<SuppressionRecord>,
    /// `<server>/<owner>/<repo>/blob/<sha>/`: markdown links findings to
    /// their lines when GitHub's environment and the head are known.
    pub link_base: Option<String>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.summary.blocking > 0
    }
}
