//! One full check: find the repo and config, list changes, evaluate every
//! persona in parallel, apply baseline and threshold, return a `Report`.
//!
//! Used by `valve check`, `valve baseline` and `valve watch`. Knows nothing
//! of clap or of output formats.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::changeset::{self, Selection};
use crate::config::{self, BASELINE_PATH, CONFIG_PATHS};
use crate::error::{Error, Result};
use crate::finding::{BySeverity, ChangeKind, Finding, Report, Skip, SkipReason, Summary};
use crate::git::{self, Change, Content, Repo};
use crate::ruleset::{Matchers, Ruleset};
use crate::scan::{self, Document, RunFacts};
use crate::severity::{Context, Threshold};

/// Below this many files, judging them on one thread beats starting a pool.
const SEQUENTIAL_BELOW: usize = 16;

/// Bytes inspected for a NUL to call a file binary (as git does).
const BINARY_PROBE: usize = 8000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineChoice {
    /// `.sage/valve-baseline.json` when it exists.
    Default,
    File(PathBuf),
    Off,
}

/// Everything a check needs; plain data, built by the CLI or by watch.
#[derive(Debug, Clone)]
pub struct Options {
    pub cwd: PathBuf,
    pub selection: Selection,
    pub config: Option<PathBuf>,
    pub fail_on: Option<Threshold>,
    /// Forced context (watch); else derived from the selection and `ci`.
    pub context: Option<Context>,
    /// Whether the `CI` environment variable says this is CI.
    pub ci: bool,
    pub baseline: BaselineChoice,
    pub redact: bool,
    /// Build source snippets for findings (human output that is not `-q`).
    pub snippets: bool,
    pub threads: Option<usize>,
}

/// Where a run happens: the repo (if any), its root, its rules.
pub struct Workspace {
    pub repo: Option<Repo>,
    pub root: PathBuf,
    pub rules: Ruleset,
    pub config_path: PathBuf,
}

/// Finds the repository and loads the config.
pub fn workspace(cwd: &Path, config: Option<&Path>, head: Option<&str>) -> Result<Workspace> {
    let repo = git::discover(cwd)?;
    let root = match &repo {
        Some(r) => r.workdir.clone().unwrap_or_else(|| cwd.to_path_buf()),
        None => cwd.to_path_buf(),
    };
    let explicit = config.map(|p| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        }
    });
    // A bare repository has no files: its config comes from the head tree.
    if let (Some(r), None) = (&repo, &explicit) {
        if r.is_bare() {
            let rev = head.unwrap_or("HEAD");
            for candidate in CONFIG_PATHS {
                if let Some(bytes) = r.file_at(rev, candidate)? {
                    let source = config::source_from_bytes(bytes, &format!("{rev}:{candidate}"))?;
                    let rules = Ruleset::from_source(&source)?;
                    return Ok(Workspace {
                        repo,
                        root,
                        rules,
                        config_path: PathBuf::from(candidate),
                    });
                }
            }
            return Err(Error::ConfigMissing {
                looked_for: PathBuf::from(format!("{rev}:{}", CONFIG_PATHS[0])),
            });
        }
    }
    let (path, source) = config::load(&root, explicit.as_deref())?;
    let rules = Ruleset::from_source(&source)?;
    Ok(Workspace {
        repo,
        root,
        rules,
        config_path: path,
    })
}

/// The context and threshold for this run, and where the threshold came from.
pub fn threshold(rules: &Ruleset, opts: &Options) -> (Context, Threshold, String) {
    let context = opts.context.unwrap_or(match opts.selection {
        Selection::Staged => Context::Hook,
        _ if opts.ci => Context::Ci,
        _ => Context::Default,
    });
    match opts.fail_on {
        Some(t) => (context, t, "--fail-on".to_string()),
        None => {
            let (t, from) = rules.threshold(context);
            (context, t, from)
        }
    }
}

/// Runs one check end to end.
pub fn run(opts: &Options) -> Result<Report> {
    let head = match &opts.selection {
        Selection::Range { head, .. } => Some(head.as_str()),
        _ => None,
    };
    let ws = workspace(&opts.cwd, opts.config.as_deref(), head)?;
    run_in(&ws, opts)
}

/// Runs a check in an already loaded workspace (watch reuses it).
///
/// Triggers compile on a second thread while git lists the changes; the
/// compile is always joined, so a bad regex is reported on every run.
pub fn run_in(ws: &Workspace, opts: &Options) -> Result<Report> {
    let started = Instant::now();
    let streamed = changeset::walks_whole_root(&opts.selection, ws.repo.as_ref());
    std::thread::scope(|scope| {
        let compiling = scope.spawn(|| ws.rules.matchers());
        let listed = (!streamed)
            .then(|| changeset::changes(&opts.selection, ws.repo.as_ref(), &ws.root, &opts.cwd));
        let matchers = compiling
            .join()
            .map_err(|_| Error::usage("compiling the triggers failed unexpectedly", None))??;
        match listed {
            None => stream(ws, opts, &matchers, started),
            Some(changes) => evaluate(ws, opts, &matchers, changes?, started),
        }
    })
}

/// Runs a check with triggers already compiled (watch keeps them).
pub fn run_in_with(ws: &Workspace, opts: &Options, matchers: &Matchers) -> Result<Report> {
    let started = Instant::now();
    if changeset::walks_whole_root(&opts.selection, ws.repo.as_ref()) {
        return stream(ws, opts, matchers, started);
    }
    let changes = changeset::changes(&opts.selection, ws.repo.as_ref(), &ws.root, &opts.cwd)?;
    evaluate(ws, opts, matchers, changes, started)
}

fn facts<'a>(
    opts: &Options,
    matchers: &'a Matchers,
    repo: &'a str,
    timestamp: u64,
) -> RunFacts<'a> {
    RunFacts {
        matchers,
        repo,
        timestamp,
        redact_all: opts.redact,
        snippets: opts.snippets,
    }
}

fn run_facts(ws: &Workspace) -> (String, u64) {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    (ws.root.display().to_string(), timestamp)
}

/// `--all`: files are judged on the walker's threads as they are found;
/// no list of the tree is ever held.
fn stream(ws: &Workspace, opts: &Options, matchers: &Matchers, started: Instant) -> Result<Report> {
    let (repo_display, timestamp) = run_facts(ws);
    let facts = facts(opts, matchers, &repo_display, timestamp);
    let states = changeset::walk_with(
        &ws.root,
        std::slice::from_ref(&ws.root),
        opts.threads,
        || (Tally::default(), None::<Error>, Local::new(None)),
        |(tally, error, local), change| {
            if error.is_some() {
                return;
            }
            match judge(ws, &change, true, &facts, local) {
                Ok(Some(j)) => tally.add(j),
                Ok(None) => {}
                Err(e) => *error = Some(e),
            }
        },
    )?;
    let mut tally = Tally::default();
    for (t, error, _) in states {
        if let Some(e) = error {
            return Err(e);
        }
        tally.merge(t);
    }
    finish(ws, opts, tally, repo_display, started)
}

/// Evaluates a given list of changes (watch passes a subset).
pub fn evaluate(
    ws: &Workspace,
    opts: &Options,
    matchers: &Matchers,
    changes: Vec<Change>,
    started: Instant,
) -> Result<Report> {
    let whole = opts.selection.is_whole_files();
    let (repo_display, timestamp) = run_facts(ws);
    let facts = facts(opts, matchers, &repo_display, timestamp);
    // Each worker folds its files into one tally: no per-file results are
    // kept, only findings and skips.
    let work = || -> Result<Tally> {
        changes
            .par_iter()
            .map_init(
                || Local::new(ws.repo.as_ref()),
                |local, change| judge(ws, change, whole, &facts, local),
            )
            .try_fold(Tally::default, |mut tally, judged| {
                if let Some(j) = judged? {
                    tally.add(j);
                }
                Ok(tally)
            })
            .try_reduce(Tally::default, |mut a, b| {
                a.merge(b);
                Ok(a)
            })
    };
    // Starting a thread pool costs more than judging a few files.
    let tally = match opts.threads {
        _ if changes.len() < SEQUENTIAL_BELOW => {
            let mut local = Local::new(ws.repo.as_ref());
            let mut tally = Tally::default();
            for c in &changes {
                if let Some(j) = judge(ws, c, whole, &facts, &mut local)? {
                    tally.add(j);
                }
            }
            tally
        }
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| Error::usage(format!("cannot start {n} threads: {e}"), None))?
            .install(work)?,
        None => work()?,
    };
    finish(ws, opts, tally, repo_display, started)
}

/// Sorts, applies the baseline and the threshold, and sums up.
fn finish(
    ws: &Workspace,
    opts: &Options,
    tally: Tally,
    repo_display: String,
    started: Instant,
) -> Result<Report> {
    let rules = &ws.rules;
    let Tally {
        mut findings,
        mut skipped,
        suppressed,
        taken: scanned,
        binary,
        too_large,
        changed,
    } = tally;
    findings.sort_unstable_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then(a.trigger.cmp(&b.trigger))
    });
    skipped.sort_by(|a, b| a.file.cmp(&b.file).then(a.reason.cmp(&b.reason)));

    let baseline = load_baseline(ws, &opts.baseline)?;
    let before = findings.len();
    if let Some(set) = &baseline {
        findings.retain(|f| !set.contains(&f.fingerprint));
    }
    let baselined = before - findings.len();

    let (_, threshold, source) = threshold(rules, opts);
    let mut by_severity = BySeverity::default();
    let mut blocking = 0;
    for f in &mut findings {
        f.blocking = threshold.blocks(f.severity);
        blocking += usize::from(f.blocking);
        by_severity.add(f.severity);
    }
    let summary = Summary {
        kind: "summary",
        files_changed: changed,
        files_scanned: scanned,
        files_binary: binary,
        files_too_large: too_large,
        findings: findings.len(),
        suppressed,
        baselined,
        by_severity,
        blocking,
        fail_on: threshold,
        fail_on_source: source,
        verdict: if blocking > 0 { "fail" } else { "pass" },
        duration_ms: started.elapsed().as_millis() as u64,
    };
    Ok(Report {
        personas: rules.infos(),
        repo: repo_display,
        findings,
        skipped,
        summary,
        whole_files: opts.selection.is_whole_files()
            || changeset::walks_whole_root(&opts.selection, ws.repo.as_ref()),
        warnings: rules.warnings.clone(),
    })
}

/// A worker's repository handle, opened on first use: `--all` and `PATH`
/// never need one, and rayon may call `map_init` once per split.
struct Local<'a> {
    repo: Option<&'a Repo>,
    handle: Option<gix::Repository>,
    /// Scratch for glob matching, reused across the worker's files.
    hits: Vec<usize>,
}

impl<'a> Local<'a> {
    fn new(repo: Option<&'a Repo>) -> Self {
        Local {
            repo,
            handle: None,
            hits: Vec::new(),
        }
    }

    fn get(&mut self) -> Option<(&'a Repo, &gix::Repository)> {
        let repo = self.repo?;
        Some((repo, self.handle.get_or_insert_with(|| repo.local())))
    }
}

struct Judged {
    findings: Vec<Finding>,
    suppressed: usize,
    skip: Option<Skip>,
    /// At least one persona's globs took the file.
    taken: bool,
}

/// `None`: the change is ignored (config `ignore`, valve's own files).
type Outcome = Result<Option<Judged>>;

/// What a worker accumulates over its files.
#[derive(Default)]
struct Tally {
    findings: Vec<Finding>,
    skipped: Vec<Skip>,
    suppressed: usize,
    taken: usize,
    binary: usize,
    too_large: usize,
    /// Files in the change set (after `ignore`).
    changed: usize,
}

impl Tally {
    fn add(&mut self, j: Judged) {
        self.changed += 1;
        self.taken += usize::from(j.taken);
        if let Some(skip) = j.skip {
            match skip.reason {
                SkipReason::Binary => self.binary += 1,
                SkipReason::TooLarge => self.too_large += 1,
                _ => {}
            }
            self.skipped.push(skip);
        }
        self.suppressed += j.suppressed;
        self.findings.extend(j.findings);
    }

    fn merge(&mut self, other: Tally) {
        self.findings.extend(other.findings);
        self.skipped.extend(other.skipped);
        self.suppressed += other.suppressed;
        self.taken += other.taken;
        self.binary += other.binary;
        self.too_large += other.too_large;
        self.changed += other.changed;
    }
}

/// Evaluates one change: globs first, content only if a trigger needs it.
fn judge(
    ws: &Workspace,
    change: &Change,
    whole: bool,
    facts: &RunFacts<'_>,
    local: &mut Local<'_>,
) -> Outcome {
    let rules = &ws.rules;
    let Some(mut takers) = rules.route(&change.path, &mut local.hits) else {
        return Ok(None);
    };
    if let Some(old) = &change.old_path {
        for t in rules.takers(old, &mut local.hits) {
            if !takers.contains(&t) {
                takers.push(t);
            }
        }
        takers.sort_unstable();
    }
    let mut judged = Judged {
        findings: Vec::new(),
        suppressed: 0,
        skip: None,
        taken: false,
    };
    if matches!(change.new, Content::Submodule) {
        judged.skip = Some(Skip {
            file: change.path.clone(),
            reason: SkipReason::Submodule,
        });
        return Ok(Some(judged));
    }
    if takers.is_empty() {
        return Ok(Some(judged));
    }
    judged.taken = true;
    let wants_content = change.kind != ChangeKind::Deleted
        && takers.iter().any(|&t| {
            let p = &rules.personas[t];
            !p.is_path_only() && p.wants(change.kind)
        });
    let mut data: Option<Vec<u8>> = None;
    if wants_content {
        match load(&ws.root, change, local, rules.max_file_size)? {
            Loaded::Text(bytes) => data = Some(bytes),
            Loaded::Skip(reason) => {
                judged.skip = Some(Skip {
                    file: change.path.clone(),
                    reason,
                });
            }
        }
    } else if matches!(change.new, Content::Symlink) {
        judged.skip = Some(Skip {
            file: change.path.clone(),
            reason: SkipReason::Symlink,
        });
    }
    let doc = Document {
        path: &change.path,
        old_path: change.old_path.as_deref(),
        kind: change.kind,
        content: data.as_deref(),
        every_line_counts: whole || change.kind == ChangeKind::Added || change.old.is_none(),
    };
    let mut diff = || -> Option<Vec<bool>> {
        let (old, new) = (change.old?, data.as_deref()?);
        let (repo, handle) = local.get()?;
        let old_bytes = repo.blob(handle, old).ok()?;
        Some(git::changed_lines(&old_bytes, new))
    };
    let scanned = scan::scan(rules, &takers, &doc, facts, &mut diff);
    judged.findings = scanned.findings;
    judged.suppressed = scanned.suppressed;
    Ok(Some(judged))
}

enum Loaded {
    Text(Vec<u8>),
    Skip(SkipReason),
}

fn load(root: &Path, change: &Change, local: &mut Local<'_>, max: u64) -> Result<Loaded> {
    let bytes = match &change.new {
        Content::Symlink => return Ok(Loaded::Skip(SkipReason::Symlink)),
        Content::Submodule => return Ok(Loaded::Skip(SkipReason::Submodule)),
        Content::Gone => return Ok(Loaded::Text(Vec::new())),
        Content::File => {
            let path = &root.join(&change.path);
            let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
            if meta.len() > max {
                return Ok(Loaded::Skip(SkipReason::TooLarge));
            }
            std::fs::read(path).map_err(|e| Error::io(path, e))?
        }
        Content::Blob(id) => match local.get() {
            Some((repo, handle)) => repo.blob(handle, *id)?,
            None => return Err(Error::git("a blob was listed without a repository", None)),
        },
    };
    if bytes.len() as u64 > max {
        return Ok(Loaded::Skip(SkipReason::TooLarge));
    }
    if memchr::memchr(0, &bytes[..bytes.len().min(BINARY_PROBE)]).is_some() {
        return Ok(Loaded::Skip(SkipReason::Binary));
    }
    Ok(Loaded::Text(bytes))
}

/// The baseline file as valve writes it.
#[derive(Debug, Serialize, Deserialize)]
pub struct BaselineFile {
    pub version: u32,
    pub findings: Vec<BaselineEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BaselineEntry {
    pub fingerprint: String,
    pub persona: String,
    pub file: String,
}

fn load_baseline(ws: &Workspace, choice: &BaselineChoice) -> Result<Option<HashSet<String>>> {
    let (path, bytes) = match choice {
        BaselineChoice::Off => return Ok(None),
        BaselineChoice::File(p) => (p.clone(), crate::ownfile::read_input(p)?),
        BaselineChoice::Default => match crate::ownfile::read_own(&ws.root, BASELINE_PATH)? {
            Some(bytes) => (ws.root.join(BASELINE_PATH), bytes),
            None => return Ok(None),
        },
    };
    parse_baseline(&path, &bytes).map(Some)
}

/// A baseline's fingerprints.
pub fn parse_baseline(path: &Path, bytes: &[u8]) -> Result<HashSet<String>> {
    let file: BaselineFile = serde_json::from_slice(bytes).map_err(|e| {
        Error::usage(
            format!("{} is not a valve baseline: {e}", path.display()),
            Some("regenerate it with `valve baseline`, or pass --no-baseline".to_string()),
        )
    })?;
    Ok(file.findings.into_iter().map(|e| e.fingerprint).collect())
}

/// Serializes a baseline of every finding in `report`.
pub fn baseline_json(report: &Report) -> String {
    let mut entries: Vec<BaselineEntry> = report
        .findings
        .iter()
        .map(|f| BaselineEntry {
            fingerprint: f.fingerprint.clone(),
            persona: f.persona.clone(),
            file: f.file.clone(),
        })
        .collect();
    entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
    let file = BaselineFile {
        version: 1,
        findings: entries,
    };
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}
