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
use crate::finding::{
    BySeverity, ChangeKind, Finding, PolicyInfo, Report, Skip, SkipReason, Summary,
    SuppressionRecord,
};
use crate::git::{self, Change, Content, Repo, Staged};
use crate::ruleset::{Matchers, Ruleset};
use crate::scan::{self, Document, RunFacts};
use crate::severity::{Context, Severity, Threshold};
use crate::stage::{Ledger, Staging, Verdict};

/// Below this many files, judging them on one thread beats starting a pool.
const SEQUENTIAL_BELOW: usize = 16;
/// The fewest files a worker judges in one run: fewer makes a run's setup
/// (a repository handle, attributes, a tally) cost more than its files.
const PAR_MIN_RUN: usize = 64;
/// Runs of files per thread: enough that a thread that finishes early
/// takes another run, few enough that each run's setup is nothing.
const RUNS_PER_THREAD: usize = 8;

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
    /// Where the policy comes from in `--base` mode (SPEC §9).
    pub policy: PolicyMode,
    /// SPEC §14 `--persona NAME` (repeatable): only these personas judge;
    /// empty: all of them.
    pub personas: Vec<String>,
    /// SPEC §14 `--min-severity LEVEL`: findings below it are not judged.
    pub min_severity: Option<Severity>,
    /// SPEC §12 `--shard I/N`: only the changes whose path falls into it.
    pub shard: Option<crate::shard::Shard>,
    /// SPEC §11: the date suppressions and `enforce_after` are judged on
    /// (`VALVE_TODAY` or the UTC date).
    pub today: crate::date::Date,
    /// False under `--no-inline-ignore` (SPEC §11).
    pub inline_ignore: bool,
    /// SPEC §12 `--cache DIR` / `--cache-max SIZE`: the result cache.
    pub cache: Option<crate::cache::Spec>,
    /// Which findings the report needs kept.
    pub keep: Keep,
}

/// Which findings a run keeps for its report; every count is exact either
/// way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Keep {
    /// Every finding, up to `max_findings` (the first by place).
    #[default]
    All,
    /// Only the blocking ones: a quiet human report shows no finding, only
    /// the verdict, which names what blocks and where first. The others
    /// are counted and never built, so memory does not grow with them.
    Blocking,
}

/// `--policy`: which revision's config and baseline judge a `--base` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyMode {
    /// The judged revision's (the work tree when it is checked out).
    Head,
    /// The merge base's: the change cannot alter how it is judged.
    Base,
    /// Both: a change can tighten the gate but never loosen it.
    #[default]
    Both,
}

impl PolicyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Head => "head",
            PolicyMode::Base => "base",
            PolicyMode::Both => "both",
        }
    }
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
                if let Some(bytes) = r.own_file_at(rev, candidate, crate::ownfile::MAX_INPUT)? {
                    let source = config::source_from_bytes(bytes, &format!("{rev}:{candidate}"))?;
                    let rules = Ruleset::load_revision(r, &source, rev, rev, candidate)?;
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
    let rules = Ruleset::load_worktree(&source, &root, &path)?;
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
    let report = run_selected(opts);
    // SPEC §12: the cache is held to `--cache-max` once the run is done.
    if let Some(spec) = &opts.cache {
        crate::cache::evict(spec);
    }
    report
}

fn run_selected(opts: &Options) -> Result<Report> {
    // A range is judged by the policy `--policy` names; a config the user
    // names with `--config` is theirs and judges alone.
    if let (Selection::Range { base, head }, None) = (&opts.selection, &opts.config) {
        return crate::policy::run_range(opts, base.as_deref(), head);
    }
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
    if let Selection::Range { base, head } = &opts.selection {
        check_persona_names(opts, &[&ws.rules])?;
        return crate::history::run_range_in(ws, opts, base.as_deref(), head);
    }
    let started = Instant::now();
    let streamed = changeset::walks_whole_root(&opts.selection, ws.repo.as_ref());
    let walked_in_git = match (&opts.selection, &ws.repo) {
        (Selection::All, Some(repo)) if !repo.is_bare() => Some(repo),
        _ => None,
    };
    std::thread::scope(|scope| {
        let compiling = scope.spawn(|| ws.rules.matchers());
        // With a cache folder the stat-clean shortcut needs every entry's
        // stat data: the listing holds the index and shares it.
        let hold = opts.cache.as_ref().is_some_and(crate::cache::Spec::on_disk);
        let listing = walked_in_git.map(|repo| repo.listing(hold));
        let listed = (!streamed && listing.is_none()).then(|| list(ws, opts));
        let matchers = compiling
            .join()
            .map_err(|_| Error::usage("compiling the triggers failed unexpectedly", None))??;
        if let (Some(listing), Some(repo)) = (listing, walked_in_git) {
            if let Some(report) = stream_git(ws, repo, &listing?, opts, &matchers, started)? {
                return Ok(report);
            }
            // The work tree's nested configs are not the index's: list
            // first, as every other mode does.
            let (changes, nested) = list(ws, opts)?;
            let mut compiled = None;
            let (ws, matchers) = judging(ws, nested.as_ref(), opts, &matchers, &mut compiled)?;
            return evaluate(ws, opts, matchers, changes, started);
        }
        match listed {
            None => stream(ws, opts, &matchers, started),
            Some(listed) => {
                let (changes, nested) = listed?;
                let mut compiled = None;
                let (ws, matchers) = judging(ws, nested.as_ref(), opts, &matchers, &mut compiled)?;
                evaluate(ws, opts, matchers, changes, started)
            }
        }
    })
}

/// Runs a check with triggers already compiled (watch keeps them).
pub fn run_in_with(ws: &Workspace, opts: &Options, matchers: &Matchers) -> Result<Report> {
    let started = Instant::now();
    if changeset::walks_whole_root(&opts.selection, ws.repo.as_ref()) {
        return stream(ws, opts, matchers, started);
    }
    let (changes, nested) = list(ws, opts)?;
    let mut compiled = None;
    let (ws, matchers) = judging(ws, nested.as_ref(), opts, matchers, &mut compiled)?;
    evaluate(ws, opts, matchers, changes, started)
}

/// The workspace that judges a run, the nested one when there are nested
/// configs, and its triggers: the root's `matchers`, or the nested
/// workspace's, compiled into `compiled`. `--persona` names are checked
/// against the personas that judge (a nested one's are `D/:Name`).
pub(crate) fn judging<'a>(
    ws: &'a Workspace,
    nested: Option<&'a Workspace>,
    opts: &Options,
    matchers: &'a Matchers,
    compiled: &'a mut Option<Matchers>,
) -> Result<(&'a Workspace, &'a Matchers)> {
    let judging = nested.unwrap_or(ws);
    check_persona_names(opts, &[&judging.rules])?;
    let matchers = match nested {
        Some(n) => &*compiled.insert(n.rules.matchers()?),
        None => matchers,
    };
    Ok((judging, matchers))
}

/// The changes of a run, and the workspace with the nested configs above
/// them (SPEC §12) when there are any. `--staged` looks them up in the
/// index its diff read.
fn list(ws: &Workspace, opts: &Options) -> Result<(Vec<Change>, Option<Workspace>)> {
    if opts.selection == Selection::Staged && opts.config.is_none() {
        let (changes, found) =
            changeset::staged_with(ws.repo.as_ref(), &opts.cwd, crate::nested::wanted)?;
        let view = crate::nested::View::Staged { changes: &changes };
        let nested = crate::nested::extend_with(ws, &view, found)?;
        return Ok((changes, nested));
    }
    let changes = changeset::changes(&opts.selection, ws.repo.as_ref(), &ws.root, &opts.cwd)?;
    let nested = with_nested(ws, opts, &changes)?;
    Ok((changes, nested))
}

/// The workspace with the nested configs above `changes` (SPEC §12), when
/// there are any; a config given with `--config` judges alone.
pub fn with_nested(
    ws: &Workspace,
    opts: &Options,
    changes: &[Change],
) -> Result<Option<Workspace>> {
    if opts.config.is_some() {
        return Ok(None);
    }
    let view = crate::nested::view_of(&opts.selection, changes);
    crate::nested::extend(ws, &view, changes)
}

pub(crate) fn facts<'a>(
    opts: &Options,
    ws: &Workspace,
    matchers: &'a Matchers,
    repo: &'a str,
    timestamp: u64,
) -> RunFacts<'a> {
    // valve's own personas judge unless `--persona` named others; they
    // follow `--min-severity` like any persona.
    let own = |level: Option<Severity>| {
        level.filter(|s| opts.personas.is_empty() && opts.min_severity.is_none_or(|m| *s >= m))
    };
    RunFacts {
        matchers,
        repo,
        timestamp,
        redact_all: opts.redact,
        snippets: opts.snippets,
        commit: None,
        waivers: scan::Waivers {
            today: opts.today,
            inline: opts.inline_ignore,
            whole_files: opts.selection.is_whole_files()
                || changeset::walks_whole_root(&opts.selection, ws.repo.as_ref()),
            unused: own(ws.rules.suppressions.unused),
            expired: own(ws.rules.suppressions.expired),
        },
        cache: opts
            .cache
            .as_ref()
            .map(|spec| crate::cache::Cache::new(spec, &ws.rules)),
    }
}

pub(crate) fn run_facts(ws: &Workspace) -> (String, u64) {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    (ws.root.display().to_string(), timestamp)
}

/// What decides a finding the moment it is found: which personas judge,
/// the baseline, the threshold and the cap on kept findings. Deciding
/// early keeps memory bounded by `max_findings` while every count stays
/// exact (SPEC §9).
#[derive(Clone)]
pub struct Gate {
    baseline: Option<HashSet<String>>,
    /// `--all`/`PATH`: the baseline also applies to path-only findings.
    whole: bool,
    threshold: Threshold,
    pub threshold_source: String,
    limit: usize,
    context: &'static str,
    /// The personas that judge (by config position); `None`: all of them.
    /// The others still count the files they take, so the summary's file
    /// counts do not depend on who judges.
    judged: Option<Vec<bool>>,
    /// History judging (SPEC §2.2): the identities (fingerprints) of the
    /// findings of earlier commits, which a later commit does not report
    /// again. `None` outside history judging.
    earlier: Option<HashSet<u128>>,
    /// `--persona`/`--min-severity` narrowed who judges: then only the
    /// judging personas count files too, so every count follows the
    /// filtered set (SPEC §14).
    narrowed: bool,
    shard: Option<crate::shard::Shard>,
    today: crate::date::Date,
    /// `--base`: CODEOWNERS is read from the judged revision (SPEC §11).
    owners_at: Option<String>,
    keep: Keep,
}

/// The personas `--persona` and `--min-severity` leave judging, by config
/// position; `None` when they leave every persona.
fn narrowing(rules: &Ruleset, opts: &Options) -> Option<Vec<bool>> {
    let mask: Vec<bool> = rules
        .personas
        .iter()
        .map(|p| {
            (opts.personas.is_empty() || opts.personas.contains(&p.name))
                && opts.min_severity.is_none_or(|min| p.severity >= min)
        })
        .collect();
    mask.iter().any(|&m| !m).then_some(mask)
}

/// Every `--persona NAME` must name a persona of at least one of the
/// policies that judge (the head's or the base's): a typo would otherwise
/// judge nothing and pass.
pub fn check_persona_names(opts: &Options, rulesets: &[&Ruleset]) -> Result<()> {
    let known: Vec<&str> = rulesets
        .iter()
        .flat_map(|r| r.personas.iter().map(|p| p.name.as_str()))
        .collect();
    for name in &opts.personas {
        if known.contains(&name.as_str()) {
            continue;
        }
        // A nested persona's short name: its full `D/:Name`.
        let tail = format!(":{name}");
        let nested = || known.iter().copied().find(|k| k.ends_with(&tail));
        let help = match crate::config::did_you_mean(name, &known).or_else(nested) {
            Some(near) => format!("did you mean `--persona {near}`? `valve personas` lists them"),
            None => "`valve personas` lists the personas of this config".to_string(),
        };
        return Err(Error::usage(
            format!("--persona {name}: no persona of that name in the config"),
            Some(help),
        ));
    }
    Ok(())
}

impl Gate {
    pub fn new(ws: &Workspace, opts: &Options) -> Result<Gate> {
        let (_, threshold, threshold_source) = threshold(&ws.rules, opts);
        let baseline = load_baseline(ws, &opts.baseline)?;
        Ok(Gate::with(ws, opts, threshold, threshold_source, baseline))
    }

    /// A gate whose threshold and baseline were decided elsewhere (the two
    /// policies of `--policy both`).
    pub fn with(
        ws: &Workspace,
        opts: &Options,
        threshold: Threshold,
        threshold_source: String,
        baseline: Option<HashSet<String>>,
    ) -> Gate {
        let judged = narrowing(&ws.rules, opts);
        Gate {
            narrowed: judged.is_some(),
            shard: opts.shard,
            today: opts.today,
            owners_at: match &opts.selection {
                Selection::Range { head, .. } => Some(head.clone()),
                _ => None,
            },
            baseline,
            whole: opts.selection.is_whole_files()
                || changeset::walks_whole_root(&opts.selection, ws.repo.as_ref()),
            threshold,
            threshold_source,
            limit: ws.rules.max_findings.max(1),
            context: self::threshold(&ws.rules, opts).0.as_str(),
            judged,
            earlier: None,
            keep: opts.keep,
        }
    }

    /// A gate that keeps every finding whatever the command line needs:
    /// two policies' reports are united finding by finding.
    pub(crate) fn keeping_all(mut self) -> Gate {
        self.keep = Keep::All;
        self
    }

    /// Only the personas whose position in `mask` is true judge (and only
    /// those the command line left judging).
    pub fn only(mut self, mask: Vec<bool>) -> Gate {
        let mask = match self.judged.take() {
            Some(left) => mask.iter().zip(left).map(|(&a, b)| a && b).collect(),
            None => mask,
        };
        self.judged = Some(mask);
        self
    }

    /// A gate for history judging: findings of an earlier commit are not
    /// reported again, and only the judging personas' files count.
    pub(crate) fn for_history(mut self) -> Gate {
        self.earlier = Some(HashSet::new());
        self
    }

    /// The findings a judged commit introduced are now "earlier".
    pub(crate) fn remember(&mut self, introduced: HashSet<u128>) {
        if let Some(earlier) = &mut self.earlier {
            earlier.extend(introduced);
        }
    }

    /// Whether a finding blocks: at or above the threshold, and its
    /// persona's `enforce_after` reached (SPEC §11).
    fn blocks(&self, severity: Severity, from: Option<crate::date::Date>) -> bool {
        self.threshold.blocks_on(severity, from, self.today)
    }

    fn judges(&self, persona: usize) -> bool {
        self.judged
            .as_ref()
            .is_none_or(|m| m.get(persona).copied().unwrap_or(false))
    }
}

/// A finding's identity across the commits of a history: its fingerprint
/// (persona, path, matched line), read as the 128-bit number it spells.
fn identity(fingerprint: &str) -> u128 {
    u128::from_str_radix(fingerprint, 16).unwrap_or_else(|_| {
        // Not valve's hex (never happens): FNV-1a of the text.
        fingerprint
            .bytes()
            .fold(0x6c62272e07bb014262b821756295c58d, |h, b| {
                (h ^ u128::from(b)).wrapping_mul(0x0000000001000000000000000000013b)
            })
    })
}

/// The policy files a change set edits: valve's config and baseline, and
/// the config in use (SPEC §9).
pub fn policy_files(ws: &Workspace, changes: &[Change]) -> Vec<String> {
    let mut files: Vec<String> = changes
        .iter()
        // What only the index changes is not in the change set (SPEC §8).
        .filter(|c| !matches!(c.staged, Some(Staged::IndexOnly)))
        .flat_map(|c| std::iter::once(&c.path).chain(c.old_path.as_ref()))
        .filter(|p| is_own_file(ws, p))
        .cloned()
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Threads actually started for `--threads n`: more than a few per core
/// only costs (1024 threads spinning on 2 cores), so `n` is capped there.
pub fn useful_threads(n: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    n.clamp(1, (4 * cores).max(4))
}

/// `--all`: files are judged on the walker's threads as they are found;
/// no list of the tree is ever held.
fn stream(ws: &Workspace, opts: &Options, matchers: &Matchers, started: Instant) -> Result<Report> {
    // Nested configs (SPEC §12) must be known before the first file is
    // judged. Most trees have none: the walk judges by the root's config
    // and notes any it meets; a tree with some is walked again with them.
    // `--persona` may name a nested persona: known before the walk.
    let optimistic = opts.config.is_some() || opts.personas.is_empty();
    let found = if optimistic {
        let (report, met) = stream_in(ws, opts, matchers, started)?;
        if met.is_empty() || opts.config.is_some() {
            return Ok(report);
        }
        met
    } else {
        crate::nested::walked(ws, opts.threads.map(useful_threads))?
    };
    let view = crate::nested::View::Worktree { listed: true };
    let nested = crate::nested::extend(ws, &view, &found)?;
    let mut compiled = None;
    let (ws, matchers) = judging(ws, nested.as_ref(), opts, matchers, &mut compiled)?;
    Ok(stream_in(ws, opts, matchers, started)?.0)
}

/// Judges the files of a walk outside git as they are found, with the
/// nested-config entries it met (`is_nested_entry`), sorted by path.
fn stream_in(
    ws: &Workspace,
    opts: &Options,
    matchers: &Matchers,
    started: Instant,
) -> Result<(Report, Vec<Change>)> {
    let gate = Gate::new(ws, opts)?;
    let (repo_display, timestamp) = run_facts(ws);
    let facts = facts(opts, ws, matchers, &repo_display, timestamp);
    let states = changeset::walk_with(
        &ws.root,
        std::slice::from_ref(&ws.root),
        opts.threads.map(useful_threads),
        || {
            (
                Tally::new(gate.limit),
                None::<Error>,
                Local::new(None),
                Vec::new(),
            )
        },
        |(tally, error, local, met), change| {
            if is_nested_entry(&change) {
                met.push(change.clone());
            }
            if error.is_some() {
                return;
            }
            if let Err(e) = judge(ws, &change, true, &facts, &gate, local, tally) {
                *error = Some(e);
            }
        },
    )?;
    let mut tally = Tally::new(gate.limit);
    let mut met = Vec::new();
    for (t, error, _, found) in states {
        if let Some(e) = error {
            return Err(e);
        }
        tally.merge(t);
        met.extend(found);
    }
    met.sort_by(|a, b| a.raw_path().cmp(b.raw_path()));
    Ok((finish(ws, &gate, tally, repo_display, started)?, met))
}

/// Files a walk hands a worker at a time.
const STREAM_BATCH: usize = 64;

/// Whether `change` is what `--all` finds nested configs by (SPEC §12): a
/// nested config file, or a linked `.sage` folder (refused).
fn is_nested_entry(change: &Change) -> bool {
    crate::nested::is_nested_config(&change.path)
        || (change.path.ends_with("/.sage") && matches!(change.new, Content::Symlink(_)))
}

/// `--all` in a git work tree, judged while git's list of files is walked
/// (SPEC §10: no list of the tree is held): the walk runs on this thread,
/// one of the `--threads`, and hands files in batches to the others,
/// judging a batch itself when they are all busy. Nested configs must be known before the first
/// file is judged, so they are taken from the index, and the walk checks
/// that the work tree lists exactly those. `None` when it does not (a
/// nested config only in the work tree, or gone from it, or one the index
/// has that does not load): the caller lists the files first, as before.
fn stream_git(
    ws: &Workspace,
    repo: &Repo,
    listing: &git::Listing,
    opts: &Options,
    matchers: &Matchers,
    started: Instant,
) -> Result<Option<Report>> {
    let expected: Vec<Change> = match opts.config {
        Some(_) => Vec::new(),
        None => listing
            // A name that is not UTF-8 is shown escaped, its ASCII end
            // kept: the shown name decides, in `is_nested_entry`.
            .tracked(b"", |raw| {
                raw.ends_with(b"/.sage")
                    || config::CONFIG_PATHS
                        .iter()
                        .any(|c| raw.ends_with(c.as_bytes()))
            })?
            .into_iter()
            .filter(is_nested_entry)
            .collect(),
    };
    let nested = match opts.config {
        Some(_) => None,
        None => {
            let view = crate::nested::View::Worktree { listed: true };
            match crate::nested::extend(ws, &view, &expected) {
                Ok(nested) => nested,
                Err(_) => return Ok(None),
            }
        }
    };
    let mut compiled = None;
    // A `--persona` or trigger only the work tree's nested configs make
    // right (or wrong): the listing decides.
    let Ok((ws, matchers)) = judging(ws, nested.as_ref(), opts, matchers, &mut compiled) else {
        return Ok(None);
    };
    let gate = Gate::new(ws, opts)?;
    let (repo_display, timestamp) = run_facts(ws);
    let facts = facts(opts, ws, matchers, &repo_display, timestamp);
    let threads = useful_threads(
        opts.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    );
    // The nested-config entries the walk met, to compare with the index's.
    let mut met: Vec<String> = Vec::new();
    let shared = listing.shared_index();
    let new_worker = || {
        (
            Local::new(Some(repo)).sharing(shared.clone()),
            Tally::new(gate.limit),
            None::<Error>,
        )
    };
    // A tracked file comes with its entry's position in the listing's
    // index: the stat-clean shortcut need not search for it again.
    let work = |(local, tally, error): &mut (Local<'_>, Tally, Option<Error>),
                (change, at): &(Change, Option<usize>)| {
        // After an error the files are still taken, so the walk never
        // waits on a worker that stopped.
        if error.is_none() {
            local.index_hint.at = *at;
            if let Err(e) = judge(ws, change, true, &facts, &gate, local, tally) {
                *error = Some(e);
            }
        }
    };
    let states = if threads == 1 {
        let mut state = new_worker();
        listing.each_file_at(b"", |change, at| {
            if is_nested_entry(&change) {
                met.push(change.path.clone());
            }
            work(&mut state, &(change, at));
        })?;
        vec![state]
    } else {
        let (send, receive) =
            std::sync::mpsc::sync_channel::<Vec<(Change, Option<usize>)>>(2 * threads);
        let receive = std::sync::Mutex::new(receive);
        let (receive, work, new_worker) = (&receive, &work, &new_worker);
        // Takes batches until the walk is over and none is left.
        let drain = move |state: &mut (Local<'_>, Tally, Option<Error>)| loop {
            // The lock is held for the wait only.
            let next = match receive.lock() {
                Ok(r) => r.recv().ok(),
                Err(_) => None,
            };
            let Some(batch) = next else { break };
            for change in &batch {
                work(state, change);
            }
        };
        std::thread::scope(|scope| -> Result<Vec<_>> {
            // The walking thread is one of the `threads`: it judges a batch
            // itself when the workers are all busy, and helps at the end.
            let workers: Vec<_> = (1..threads)
                .map(|_| {
                    scope.spawn(move || {
                        let mut state = new_worker();
                        drain(&mut state);
                        state
                    })
                })
                .collect();
            let mut mine = new_worker();
            let mut batch: Vec<(Change, Option<usize>)> = Vec::with_capacity(STREAM_BATCH);
            let walked = listing.each_file_at(b"", |change, at| {
                if is_nested_entry(&change) {
                    met.push(change.path.clone());
                }
                // Judged here when every worker is busy.
                let mut hand_on = |full: Vec<(Change, Option<usize>)>| {
                    if let Err(std::sync::mpsc::TrySendError::Full(full)) = send.try_send(full) {
                        for change in &full {
                            work(&mut mine, change);
                        }
                    }
                };
                // A batch also ends with its folder once it is half full: a
                // worker then has a folder's files together (one open of
                // the folder for their `lstat`s, one attribute lookup).
                if batch.len() >= STREAM_BATCH / 2
                    && batch.last().is_some_and(|(last, _)| {
                        git::name::folder(last.raw_path()) != git::name::folder(change.raw_path())
                    })
                {
                    hand_on(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(STREAM_BATCH),
                    ));
                }
                batch.push((change, at));
                if batch.len() == STREAM_BATCH {
                    hand_on(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(STREAM_BATCH),
                    ));
                }
            });
            for change in &batch {
                work(&mut mine, change);
            }
            // Workers leave once this sender is gone and the queue is empty.
            drop(send);
            drain(&mut mine);
            let mut states = workers
                .into_iter()
                .map(|w| w.join())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| Error::usage("judging the files failed unexpectedly", None))?;
            states.push(mine);
            walked?;
            Ok(states)
        })?
    };
    if let Some(cache) = &facts.cache {
        cache.flush();
    }
    if opts.config.is_none() {
        met.sort_unstable();
        let mut listed: Vec<&str> = expected.iter().map(|c| c.path.as_str()).collect();
        listed.sort_unstable();
        if met.iter().map(String::as_str).ne(listed) {
            return Ok(None);
        }
    }
    let mut tally = Tally::new(gate.limit);
    for (_, t, error) in states {
        if let Some(e) = error {
            return Err(e);
        }
        tally.merge(t);
    }
    finish_change(ws, opts, &gate, tally, &[], repo_display, started).map(Some)
}

/// Evaluates a given list of changes (watch passes a subset).
pub fn evaluate(
    ws: &Workspace,
    opts: &Options,
    matchers: &Matchers,
    changes: Vec<Change>,
    started: Instant,
) -> Result<Report> {
    let gate = Gate::new(ws, opts)?;
    evaluate_gated(ws, opts, matchers, &changes, started, &gate)
}

/// Evaluates a list of changes through a given gate.
pub fn evaluate_gated(
    ws: &Workspace,
    opts: &Options,
    matchers: &Matchers,
    changes: &[Change],
    started: Instant,
    gate: &Gate,
) -> Result<Report> {
    let (repo_display, timestamp) = run_facts(ws);
    let facts = facts(opts, ws, matchers, &repo_display, timestamp);
    // Starting a thread pool costs more than judging a few files.
    let tally = if changes.len() < SEQUENTIAL_BELOW {
        judge_changes(ws, opts, changes, &facts, gate)?
    } else {
        with_pool(opts.threads, || {
            judge_changes(ws, opts, changes, &facts, gate)
        })?
    };
    finish_change(ws, opts, gate, tally, changes, repo_display, started)
}

/// Runs `work` on a pool of `--threads` threads, or rayon's global one.
pub(crate) fn with_pool<T: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    match threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(useful_threads(n))
            .build()
            .map_err(|e| Error::usage(format!("cannot start {n} threads: {e}"), None))?
            .install(work),
        None => work(),
    }
}

/// Judges `changes` into one tally: in parallel on the current pool, or on
/// this thread when there are only a few.
pub(crate) fn judge_changes(
    ws: &Workspace,
    opts: &Options,
    changes: &[Change],
    facts: &RunFacts<'_>,
    gate: &Gate,
) -> Result<Tally> {
    judge_changes_with(ws, opts, changes, facts, gate, &mut None)
}

/// `judge_changes`, reading blobs through `handle` when it judges on this
/// thread (and leaving the handle there): history judging keeps one
/// across commits, so the pack's delta cache stays warm.
pub(crate) fn judge_changes_with(
    ws: &Workspace,
    opts: &Options,
    changes: &[Change],
    facts: &RunFacts<'_>,
    gate: &Gate,
    handle: &mut Option<gix::Repository>,
) -> Result<Tally> {
    let whole = opts.selection.is_whole_files();
    if changes.len() < SEQUENTIAL_BELOW {
        let mut local = Local::new(ws.repo.as_ref());
        local.handle = handle.take();
        let mut tally = Tally::new(gate.limit);
        let judged = changes
            .iter()
            .try_for_each(|c| judge(ws, c, whole, facts, gate, &mut local, &mut tally));
        *handle = local.handle.take();
        judged?;
        if let Some(cache) = &facts.cache {
            cache.flush();
        }
        return Ok(tally);
    }
    // Each worker folds its run of files into one tally (past the cap, a
    // finding after the tally's cutoff is only counted, never built) with
    // one repository handle and one read buffer; tallies meet at the end.
    let runs = (rayon::current_num_threads() * RUNS_PER_THREAD).max(1);
    let run = changes.len().div_ceil(runs).max(PAR_MIN_RUN);
    let tally = changes
        .par_chunks(run)
        .map(|chunk| {
            let mut local = Local::new(ws.repo.as_ref());
            let mut tally = Tally::new(gate.limit);
            for change in chunk {
                judge(ws, change, whole, facts, gate, &mut local, &mut tally)?;
            }
            Ok::<_, Error>(tally)
        })
        .try_reduce(
            || Tally::new(gate.limit),
            |mut a, b| {
                a.merge(b);
                Ok(a)
            },
        );
    if let Some(cache) = &facts.cache {
        cache.flush();
    }
    tally
}

/// SPEC §11 change rules, on the whole change set (shard 1 of a matrix
/// only): a rule fires once when a change of a kind it looks at matches
/// `when_changed` and no change matches `require_changed`, at the first
/// such path (bytewise).
fn change_rules(ws: &Workspace, gate: &Gate, changes: &[Change], repo: &str, tally: &mut Tally) {
    let rules = &ws.rules;
    if !rules.has_change_rules() || gate.shard.is_some_and(|s| s.index != 1) {
        return;
    }
    let n = rules.personas.len();
    let mut first: Vec<Option<&Change>> = vec![None; n];
    let mut companion = vec![false; n];
    let mut scratch = Vec::new();
    for c in changes {
        for path in std::iter::once(&c.path).chain(c.old_path.as_ref()) {
            if rules.is_ignored(path) {
                continue;
            }
            let (when, require) = rules.change_rule_hits(path, &mut scratch);
            for pi in when {
                if rules.personas[pi].wants(c.kind)
                    && first[pi].is_none_or(|f| c.path.as_bytes() < f.path.as_bytes())
                {
                    first[pi] = Some(c);
                }
            }
            for pi in require {
                companion[pi] = true;
            }
        }
    }
    let timestamp = run_facts(ws).1;
    for (pi, p) in rules.personas.iter().enumerate() {
        let Some(c) = first[pi] else { continue };
        if companion[pi] || !gate.judges(pi) {
            continue;
        }
        let message = p.message.clone().unwrap_or_else(|| {
            format!(
                "{} changed without a change to {}",
                c.path,
                p.require_changed
                    .iter()
                    .map(|g| format!("`{g}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        });
        let fingerprint = scan::fingerprint(&p.name, &c.path, "");
        let hit = scan::Hit {
            path: &c.path,
            persona_index: pi,
            severity: p.severity,
            fingerprint: &fingerprint,
            line: None,
            column: None,
            trigger: None,
            end_line: None,
            end_column: None,
            commit: None,
            enforced_from: p.enforce_after,
        };
        if !tally.count(gate, &hit) {
            continue;
        }
        let notes: Vec<String> = crate::finding::rollout_note(gate.today, p.enforce_after)
            .into_iter()
            .collect();
        tally.keep(
            gate,
            Finding {
                kind: "finding",
                persona: p.name.clone(),
                severity: p.severity,
                response: p.response.clone(),
                message,
                repo: repo.to_string(),
                file: c.path.clone(),
                old_file: c.old_path.clone(),
                change: c.kind,
                commit: None,
                stage: None,
                reason: crate::finding::Reason::ChangeRule,
                line: None,
                column: None,
                end_line: None,
                end_column: None,
                matched: None,
                trigger: None,
                fingerprint,
                blocking: false,
                enforced_from: p.enforce_after,
                owners: Vec::new(),
                notes,
                timestamp,
                persona_index: pi,
                can_ignore: false,
                snippet: None,
            },
        );
    }
}

/// The report of a change set's tally: the policy files it edits, and in
/// `--base` mode where the policy came from.
pub(crate) fn finish_change(
    ws: &Workspace,
    opts: &Options,
    gate: &Gate,
    tally: Tally,
    changes: &[Change],
    repo_display: String,
    started: Instant,
) -> Result<Report> {
    let mut tally = tally;
    if !gate.whole {
        change_rules(ws, gate, changes, &repo_display, &mut tally);
    }
    let mut report = finish(ws, gate, tally, repo_display, started)?;
    // In `--all`/`PATH` nothing is a change: a policy file is just a file.
    if !gate.whole {
        report.summary.policy.files = policy_files(ws, changes);
    }
    report.summary.policy.changed = !report.summary.policy.files.is_empty();
    if matches!(opts.selection, Selection::Range { .. }) {
        report.summary.policy.mode = opts.policy.as_str();
    }
    Ok(report)
}

/// Sorts and sums up.
fn finish(
    ws: &Workspace,
    gate: &Gate,
    tally: Tally,
    repo_display: String,
    started: Instant,
) -> Result<Report> {
    let rules = &ws.rules;
    let Tally {
        mut findings,
        limit,
        truncated,
        cutoff: _,
        total,
        by_severity,
        blocking,
        baselined,
        mut skipped,
        suppressed,
        taken: scanned,
        binary,
        too_large,
        changed,
        introduced: _,
        markers,
        warnings: marker_warnings,
    } = tally;
    // History judging meets a marker in several commits: once.
    let (markers, [unused, expired, new]) = crate::finding::unite_markers(markers);
    findings.sort_unstable_by(|a, b| a.full_key().cmp(&b.full_key()));
    let truncated = match gate.keep {
        Keep::All => truncated + findings.len().saturating_sub(limit),
        // What a run keeping every finding would have left out.
        Keep::Blocking => total.saturating_sub(limit),
    };
    findings.truncate(limit);
    let mut owner_warnings = Vec::new();
    assign_owners(ws, gate, &mut findings, &mut owner_warnings);
    let mut warnings = rules.warnings.clone();
    // Workers meet files in any order; a report lists them by place.
    let mut marker_warnings = marker_warnings;
    marker_warnings.sort();
    let marker_warnings = marker_warnings.iter().map(|w| w.to_string());
    for w in marker_warnings.chain(owner_warnings) {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    skipped.sort_by(|a, b| a.file.cmp(&b.file).then(a.reason.cmp(&b.reason)));
    // History judging meets a file in several commits.
    skipped.dedup();
    let summary = Summary {
        kind: "summary",
        files_changed: changed,
        files_scanned: scanned,
        files_binary: binary,
        files_too_large: too_large,
        commits: 0,
        findings: total,
        truncated,
        suppressed,
        baselined,
        by_severity,
        blocking,
        fail_on: gate.threshold,
        fail_on_source: gate.threshold_source.clone(),
        verdict: if blocking > 0 { "fail" } else { "pass" },
        duration_ms: started.elapsed().as_millis() as u64,
        policy: PolicyInfo {
            mode: PolicyMode::Head.as_str(),
            changed: false,
            files: Vec::new(),
        },
        shard: gate.shard.map(|s| s.to_string()),
        suppressions_unused: unused,
        suppressions_expired: expired,
        suppressions_new: new,
    };
    Ok(Report {
        personas: rules.infos(),
        repo: repo_display,
        findings,
        skipped,
        summary,
        whole_files: gate.whole,
        sarif_written: false,
        context: gate.context,
        head_commit: None,
        base_commit: None,
        config_digest: rules.digest(),
        changeset: None,
        suppressions: markers,
        link_base: None,
        warnings,
    })
}

/// The most `valve:ignore` markers a report lists (SPEC §9: bounded).
const MAX_MARKERS: usize = 10_000;

/// The most of a CODEOWNERS file read, as GitHub ignores a larger one.
const MAX_CODEOWNERS: u64 = 3 * 1024 * 1024;

/// SPEC §11: every finding's owners, the persona's `owners` or the file's
/// by the repository's CODEOWNERS (read only when there is a finding:
/// from the work tree, or `HEAD`'s tree in a bare repository). A line
/// valve cannot parse is a warning naming it.
fn assign_owners(
    ws: &Workspace,
    gate: &Gate,
    findings: &mut [Finding],
    warnings: &mut Vec<String>,
) {
    if findings.is_empty() {
        return;
    }
    // A range's owners are its head's; a bare repository's, HEAD's.
    let revision = match (&ws.repo, &gate.owners_at) {
        (Some(repo), Some(rev)) => Some((repo, rev.as_str())),
        (Some(repo), None) if repo.is_bare() => Some((repo, "HEAD")),
        _ => None,
    };
    let located = crate::owners::locate(|path| -> Result<Option<Vec<u8>>> {
        if let Some((repo, rev)) = revision {
            return Ok(repo.own_file_at(rev, path, MAX_CODEOWNERS).unwrap_or(None));
        }
        // Not there, a link, a folder or too large: as GitHub, no file.
        Ok(
            match read_worktree_file(&ws.root.join(path), MAX_CODEOWNERS, Vec::new()) {
                Ok(Loaded::Text(bytes)) => Some(bytes),
                _ => None,
            },
        )
    })
    .unwrap_or(None);
    if let Some(l) = &located {
        for w in &l.warnings {
            warnings.push(format!(
                "{}:{}: {} (the line is skipped)",
                l.path, w.line, w.message
            ));
        }
    }
    for f in findings {
        let persona = ws.rules.personas.get(f.persona_index);
        f.owners = match persona.and_then(|p| p.owners.as_ref()) {
            Some(owners) => owners.clone(),
            None => located
                .as_ref()
                .and_then(|l| l.codeowners.owners(&f.file))
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
        };
    }
}

/// A worker's repository handle, opened on first use: `--all` and `PATH`
/// never need one, and rayon may call `map_init` once per split.
struct Local<'a> {
    repo: Option<&'a Repo>,
    handle: Option<gix::Repository>,
    /// Scratch for glob matching, reused across the worker's files.
    hits: Vec<usize>,
    /// The worker's read buffer: a work-tree file is read into the last
    /// file's allocation.
    buf: Vec<u8>,
    /// The attributes, for the stat-clean shortcut (`None` inside: they
    /// could not be read, so no shortcut).
    as_is: Option<Option<git::AsIs>>,
    /// Where the last index lookup of the stat-clean shortcut ended.
    index_hint: git::Hint,
    /// The process runs in the root: work-tree paths are opened relative
    /// to it, so the kernel walks fewer components (as `rg` does).
    in_root: Option<bool>,
    /// `--all`'s listing's index, which the stat-clean shortcut shares.
    shared: Option<git::SharedIndex>,
    /// The folder (repo-relative, raw) of the last file the shortcut
    /// `lstat`ed, open: files come a folder at a time, and each `lstat`
    /// is then of one name in it.
    dir: Option<(Vec<u8>, std::os::fd::OwnedFd)>,
    /// Scratch for the name `lstat`ed, with its NUL.
    name: Vec<u8>,
    /// The pack reader, once asked for (`Some(None)`: the repository has
    /// none to give): the two sides of a change are read one after the
    /// other, and it keeps the first for the second's delta.
    reader: Option<Option<git::PackReader>>,
}

/// A read buffer larger than this is not kept for the next file.
const KEEP_BUFFER: usize = 1 << 20;

impl<'a> Local<'a> {
    fn new(repo: Option<&'a Repo>) -> Self {
        Local {
            repo,
            handle: None,
            hits: Vec::new(),
            buf: Vec::new(),
            as_is: None,
            index_hint: git::Hint::default(),
            in_root: None,
            shared: None,
            dir: None,
            name: Vec::new(),
            reader: None,
        }
    }

    /// A worker of `--all`, over the listing's index when it is shared.
    fn sharing(mut self, shared: Option<git::SharedIndex>) -> Self {
        self.shared = shared;
        self
    }

    /// The `lstat` of the work-tree file `raw` (repo-relative), through
    /// its folder's descriptor (opened once per folder in a row).
    fn lstat(&mut self, root: &Path, raw: &[u8]) -> Option<git::Stat> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        let folder = git::name::folder(raw);
        let name = &raw[folder.len()..];
        if self
            .dir
            .as_ref()
            .is_none_or(|(open, _)| open.as_slice() != folder)
        {
            self.dir = None;
            let path = root.join(std::ffi::OsStr::from_bytes(folder));
            let dir = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(path)
                .ok()?;
            self.dir = Some((folder.to_vec(), dir.into()));
        }
        self.name.clear();
        self.name.extend_from_slice(name);
        self.name.push(0);
        let name = std::ffi::CStr::from_bytes_with_nul(&self.name).ok()?;
        git::Stat::in_dir(&self.dir.as_ref()?.1, name)
    }

    /// Where a work-tree file of `change` is opened: relative to the
    /// current directory when that is the root, else under `root`.
    fn path_of(&mut self, root: &Path, change: &Change) -> PathBuf {
        let in_root = *self.in_root.get_or_insert_with(|| {
            std::env::current_dir().is_ok_and(|cwd| cwd == root) && root.is_absolute()
        });
        if in_root {
            change.fs_rel().to_path_buf()
        } else {
            root.join(change.fs_rel())
        }
    }

    /// Takes back a buffer `load` handed out, for the next file.
    fn reuse(&mut self, mut bytes: Vec<u8>) {
        if bytes.capacity() <= KEEP_BUFFER && bytes.capacity() > self.buf.capacity() {
            bytes.clear();
            self.buf = bytes;
        }
    }

    /// The blob `id` of `path`, within `max` bytes when given, through the
    /// worker's pack reader; `None` without a repository.
    fn blob(
        &mut self,
        id: git::BlobId,
        path: &str,
        max: Option<u64>,
    ) -> Option<Result<git::Sized>> {
        let repo = self.repo?;
        let handle = self.handle.get_or_insert_with(|| repo.local());
        let reader = self.reader.get_or_insert_with(|| repo.reader()).as_mut();
        Some(repo.blob_through(handle, reader, id, path, max))
    }
}

/// What a worker accumulates over its files: at most `2 × limit` kept
/// findings (the smallest by `Finding::full_key`), everything counted.
pub(crate) struct Tally {
    findings: Vec<Finding>,
    limit: usize,
    /// Findings dropped past the cap.
    truncated: usize,
    /// Once the cap was reached: the last kept finding's key.
    cutoff: Option<Cutoff>,
    /// Every finding that is neither suppressed nor baselined.
    total: usize,
    by_severity: BySeverity,
    blocking: usize,
    baselined: usize,
    skipped: Vec<Skip>,
    suppressed: usize,
    /// Files at least one persona's globs took.
    taken: usize,
    binary: usize,
    too_large: usize,
    /// Files in the change set (after `ignore`).
    changed: usize,
    /// History judging: identities of the findings counted here.
    introduced: HashSet<u128>,
    /// The `valve:ignore` markers seen (SPEC §11), and warnings about them.
    markers: Vec<crate::finding::SuppressionRecord>,
    warnings: Vec<scan::MarkerWarning>,
}

impl Tally {
    fn new(limit: usize) -> Tally {
        Tally {
            findings: Vec::new(),
            limit,
            truncated: 0,
            cutoff: None,
            total: 0,
            by_severity: BySeverity::default(),
            blocking: 0,
            baselined: 0,
            skipped: Vec::new(),
            suppressed: 0,
            taken: 0,
            binary: 0,
            too_large: 0,
            changed: 0,
            introduced: HashSet::new(),
            markers: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The identities of the findings this tally counted, taken out.
    pub(crate) fn take_introduced(&mut self) -> HashSet<u128> {
        std::mem::take(&mut self.introduced)
    }

    /// Counts one hit: baselined, or counted and, when it can still be
    /// among the first `limit`, to be built and kept.
    fn count(&mut self, gate: &Gate, hit: &scan::Hit<'_>) -> bool {
        // A finding an earlier commit introduced is that commit's (§2.2).
        if let Some(earlier) = &gate.earlier {
            let id = identity(hit.fingerprint);
            if earlier.contains(&id) {
                return false;
            }
            self.introduced.insert(id);
        }
        // Path-only findings mean "this file changed" in change modes: no
        // baseline silences that (SPEC §3).
        let baselinable = hit.line.is_some() || gate.whole;
        if baselinable
            && gate
                .baseline
                .as_ref()
                .is_some_and(|b| b.contains(hit.fingerprint))
        {
            self.baselined += 1;
            return false;
        }
        let blocks = gate.blocks(hit.severity, hit.enforced_from);
        self.blocking += usize::from(blocks);
        self.by_severity.add(hit.severity);
        self.total += 1;
        if gate.keep == Keep::Blocking && !blocks {
            return false;
        }
        // Past the cap, a hit after the last kept finding is only counted.
        if let Some(cut) = &self.cutoff {
            if hit.full_key() > cut.as_key() {
                self.truncated += 1;
                return false;
            }
        }
        true
    }

    fn keep(&mut self, gate: &Gate, mut f: Finding) {
        f.blocking = gate.blocks(f.severity, f.enforced_from);
        self.findings.push(f);
        if self.findings.len() >= 2 * self.limit {
            self.shrink();
        }
    }

    /// Keeps a document's markers, at most `MAX_MARKERS` of the run (the
    /// first by path and line), and its warnings, at most as many.
    fn add_markers(&mut self, markers: Vec<SuppressionRecord>, warnings: Vec<scan::MarkerWarning>) {
        self.markers.extend(markers);
        if self.markers.len() >= 2 * MAX_MARKERS {
            self.markers
                .sort_by(|a, b| (a.file.as_bytes(), a.line).cmp(&(b.file.as_bytes(), b.line)));
            self.markers.truncate(MAX_MARKERS);
        }
        let room = MAX_MARKERS.saturating_sub(self.warnings.len());
        self.warnings.extend(warnings.into_iter().take(room));
    }

    fn shrink(&mut self) {
        if self.findings.len() > self.limit {
            self.findings
                .sort_unstable_by(|a, b| a.full_key().cmp(&b.full_key()));
            self.truncated += self.findings.len() - self.limit;
            self.findings.truncate(self.limit);
            self.cutoff = self.findings.last().map(Cutoff::of);
        }
    }

    /// A binary file: counted, and listed as skipped unless a judge
    /// searches binaries.
    fn binary_file(&mut self, file: &str, scanned: bool) {
        if scanned {
            self.binary += 1;
        } else {
            self.skip(file, SkipReason::Binary);
        }
    }

    fn skip(&mut self, file: &str, reason: SkipReason) {
        match reason {
            SkipReason::Binary => self.binary += 1,
            SkipReason::TooLarge => self.too_large += 1,
            _ => {}
        }
        self.skipped.push(Skip {
            file: file.to_string(),
            reason,
        });
    }

    fn merge(&mut self, other: Tally) {
        self.findings.extend(other.findings);
        self.truncated += other.truncated;
        self.total += other.total;
        self.by_severity.merge(&other.by_severity);
        self.blocking += other.blocking;
        self.baselined += other.baselined;
        self.skipped.extend(other.skipped);
        self.suppressed += other.suppressed;
        self.taken += other.taken;
        self.binary += other.binary;
        self.too_large += other.too_large;
        self.changed += other.changed;
        self.introduced.extend(other.introduced);
        self.add_markers(other.markers, other.warnings);
        if self.findings.len() >= 2 * self.limit {
            self.shrink();
        }
    }

    /// Adds another tally's findings, counts of findings and skips, but
    /// not its file counts: history judging (`other`) meets the files of
    /// the net change set (`self`) again, commit by commit.
    pub(crate) fn merge_findings(&mut self, other: Tally) {
        self.findings.extend(other.findings);
        self.truncated += other.truncated;
        self.total += other.total;
        self.by_severity.merge(&other.by_severity);
        self.blocking += other.blocking;
        self.baselined += other.baselined;
        self.skipped.extend(other.skipped);
        self.suppressed += other.suppressed;
        self.add_markers(other.markers, other.warnings);
        if self.findings.len() >= 2 * self.limit {
            self.shrink();
        }
    }
}

/// The key of the last finding a full tally keeps, owned.
struct Cutoff {
    file: String,
    line: Option<u32>,
    column: Option<u32>,
    persona: usize,
    trigger: Option<usize>,
    end_line: Option<u32>,
    end_column: Option<u32>,
    commit: Option<String>,
}

impl Cutoff {
    fn of(f: &Finding) -> Cutoff {
        Cutoff {
            file: f.file.clone(),
            line: f.line,
            column: f.column,
            persona: f.persona_index,
            trigger: f.trigger,
            end_line: f.end_line,
            end_column: f.end_column,
            commit: f.commit.clone(),
        }
    }

    fn as_key(&self) -> crate::finding::FullKey<'_> {
        (
            (self.file.as_bytes(), self.line, self.column, self.persona),
            self.trigger,
            self.end_line,
            self.end_column,
            self.commit.as_deref(),
        )
    }
}

/// A tally and its gate, as the engine's sink; `staging` gives each
/// finding its stage (SPEC §8).
struct Offer<'a, 'g, 'l> {
    tally: &'a mut Tally,
    gate: &'g Gate,
    staging: Staging<'l>,
    /// The stage of the hit `count` just let through, for `keep`.
    pending: Option<crate::finding::Stage>,
}

impl<'a, 'g> Offer<'a, 'g, '_> {
    fn new(tally: &'a mut Tally, gate: &'g Gate) -> Self {
        Offer {
            tally,
            gate,
            staging: Staging::Off,
            pending: None,
        }
    }
}

impl scan::Sink for Offer<'_, '_, '_> {
    fn wants_fingerprints(&self) -> bool {
        self.gate.baseline.is_some()
            || self.gate.earlier.is_some()
            || self.staging.wants_fingerprints()
    }

    fn count(&mut self, hit: &scan::Hit<'_>) -> bool {
        let stage = match self
            .staging
            .judge(hit.persona_index, hit.fingerprint, hit.line)
        {
            Verdict::Drop => return false,
            Verdict::Keep(stage) => stage,
        };
        self.pending = stage;
        self.tally.count(self.gate, hit)
    }

    fn keep(&mut self, mut finding: Finding) {
        finding.stage = self.pending;
        self.tally.keep(self.gate, finding);
    }
}

/// Whether `path` is one of valve's own files: never judged by triggers.
/// The files the config extends are (SPEC §5).
pub fn is_own_file(ws: &Workspace, path: &str) -> bool {
    use std::os::unix::ffi::OsStrExt;
    // The suffix test first: judging asks this of every file.
    config::is_config_path(path)
        || path == BASELINE_PATH
        || ws.rules.extended.iter().any(|f| f == path)
        || (ws
            .config_path
            .as_os_str()
            .as_bytes()
            .ends_with(path.as_bytes())
            && ws
                .config_path
                .strip_prefix(&ws.root)
                .is_ok_and(|rel| rel.to_str() == Some(path)))
}

/// Evaluates one change into `tally`: globs first, content only if a
/// trigger needs it.
fn judge(
    ws: &Workspace,
    change: &Change,
    whole: bool,
    facts: &RunFacts<'_>,
    gate: &Gate,
    local: &mut Local<'_>,
    tally: &mut Tally,
) -> Result<()> {
    let rules = &ws.rules;
    let own = is_own_file(ws, &change.path);
    let takers = if own {
        rules.takers(&change.path, &mut local.hits)
    } else {
        match rules.route(&change.path, &mut local.hits) {
            Some(t) => t,
            None => return Ok(()),
        }
    };
    let mut takers = takers;
    if let Some(old) = &change.old_path {
        for t in rules.takers(old, &mut local.hits) {
            if !takers.contains(&t) {
                takers.push(t);
            }
        }
        takers.sort_unstable();
    }
    // Who judges; who counts the file: everyone, except in history
    // judging, where only the judges read anything, and when the command
    // line narrowed who judges.
    let judges: std::borrow::Cow<'_, [usize]> = if takers.iter().all(|&t| gate.judges(t)) {
        std::borrow::Cow::Borrowed(&takers)
    } else {
        takers.iter().copied().filter(|&t| gate.judges(t)).collect()
    };
    // Only the index changes this path: its findings are all index-only,
    // and the change set's counts do not include it (SPEC §8).
    if matches!(change.staged, Some(Staged::IndexOnly)) {
        if gate.shard.is_some_and(|s| !s.takes(&change.path)) {
            return Ok(());
        }
        let mut offer = Offer::new(tally, gate);
        offer.staging = Staging::All(crate::finding::Stage::IndexOnly);
        let unsearched = judge_index(ws, change, own, &judges, facts, local, &mut offer)?;
        tally.skipped.extend(unsearched.map(|reason| Skip {
            file: change.path.clone(),
            reason,
        }));
        return Ok(());
    }
    let counters = if gate.earlier.is_some() || gate.narrowed {
        &judges[..]
    } else {
        &takers[..]
    };
    tally.changed += 1;
    // Another shard judges it; the whole set is still counted as changed.
    if gate.shard.is_some_and(|s| !s.takes(&change.path)) {
        return Ok(());
    }
    if matches!(change.new, Content::Submodule) {
        tally.skip(&change.path, SkipReason::Submodule);
        return Ok(());
    }
    if own {
        tally.skip(&change.path, SkipReason::OwnFile);
    }
    if counters.is_empty() {
        return Ok(());
    }
    tally.taken += 1;
    let wants_content = !own
        && change.kind != ChangeKind::Deleted
        && counters.iter().any(|&t| {
            let p = &rules.personas[t];
            !p.is_path_only() && p.wants(change.kind)
        });
    let scans_binary = counters.iter().any(|&t| rules.personas[t].scan_binary);
    let mut data: Option<Vec<u8>> = None;
    let mut binary = false;
    // SPEC §12: a stat-clean tracked file is known by its blob id; what an
    // earlier run found in that blob may answer without reading it.
    let mut clean = match (&facts.cache, &change.new) {
        (Some(cache), Content::File) if wants_content => {
            stat_clean(&ws.root, change, cache, local, rules)
        }
        _ => None,
    };
    let answered = clean.as_ref().and_then(|c| {
        c.known
            .filter(|r| answers(rules, &judges, change.kind, scans_binary, r))
    });
    let every_line_counts = whole || change.kind == ChangeKind::Added || change.old.is_none();
    // A clean blob some trigger matched: judged again from its `Found`,
    // still without a read, when nothing else needs the whole text.
    let mut replay = match (&mut clean, answered) {
        (Some(c), None) if every_line_counts && change.staged.is_none() => {
            replayed(rules, &judges, change.kind, c)
        }
        _ => None,
    };
    // What this run learns of a clean file's blob, once it is scanned, and
    // whether its bytes were checked to be the blob's.
    let mut learned: Option<(git::BlobId, crate::cache::Record, bool)> = None;
    if let Some(record) = answered {
        binary = record.binary;
        if binary {
            tally.binary_file(&change.path, scans_binary);
        }
    } else if let Some((text, _)) = replay.as_mut() {
        data = Some(std::mem::take(text));
    } else if wants_content {
        let buf = std::mem::take(&mut local.buf);
        let loaded = match &clean {
            Some(c) => {
                let path = local.path_of(&ws.root, change);
                let (loaded, opened) = read_worktree_file_meta(&path, rules.max_file_size, buf)?;
                if let (Loaded::Text(bytes), Some(opened)) = (&loaded, opened) {
                    // Still the file the index describes: what its bytes
                    // hold is worth a record once they are known to be the
                    // blob's (checked below, only for a record not kept yet).
                    if c.lstat.same_file(&git::Stat::of(&opened)) {
                        let record = crate::cache::Record {
                            len: bytes.len() as u64,
                            binary: is_binary(bytes),
                            marker: memchr::memmem::find(bytes, crate::suppress::MARKER.as_bytes())
                                .is_some(),
                            silent: 0,
                        };
                        let verified = c.known.is_none() && c.id.is_of(bytes);
                        learned = Some((c.id, record, verified));
                    }
                }
                loaded
            }
            None => load(&ws.root, change, local, rules.max_file_size, buf)?,
        };
        match loaded {
            Loaded::Text(bytes) => {
                binary = is_binary(&bytes);
                if binary {
                    tally.binary_file(&change.path, scans_binary);
                }
                if !binary || scans_binary {
                    data = Some(bytes);
                } else {
                    local.reuse(bytes);
                }
            }
            Loaded::Skip(reason) => tally.skip(&change.path, reason),
        }
    } else if !own && matches!(change.new, Content::Special) {
        tally.skip(&change.path, SkipReason::Special);
    }
    let doc = Document {
        path: &change.path,
        old_path: change.old_path.as_deref(),
        kind: change.kind,
        content: data.as_deref(),
        binary,
        every_line_counts,
        known: replay.as_ref().map(|(_, known)| known.as_slice()),
        collect: learned.is_some(),
    };
    // SPEC §8: what a commit now would carry of this file.
    let mut ledger = Ledger::default();
    let staging = match &change.staged {
        None => Staging::Off,
        Some(Staged::AsHead) => Staging::All(crate::finding::Stage::Unstaged),
        Some(Staged::AsWorktree) => Staging::All(crate::finding::Stage::Staged),
        Some(Staged::IndexOnly) => Staging::All(crate::finding::Stage::IndexOnly),
        Some(Staged::Differs(index)) => {
            let mut collect = crate::stage::Collect(&mut ledger);
            let unsearched = judge_index(ws, index, own, &judges, facts, local, &mut collect)?;
            ledger.unsearched = unsearched.is_some();
            tally.skipped.extend(unsearched.map(|reason| Skip {
                file: change.path.clone(),
                reason,
            }));
            Staging::Match(&mut ledger)
        }
    };
    // The old side of `scope: changed` must be read: a blob that cannot
    // be is an error, never "every line unchanged" (SPEC §2).
    let mut diff_error: Option<Error> = None;
    let mut diff = || -> Option<Vec<bool>> {
        let (old, new) = (change.old?, data.as_deref()?);
        match local.blob(old, change.old_path.as_ref().unwrap_or(&change.path), None)? {
            Ok(git::Sized::Bytes(old_bytes)) => Some(change.changed_lines(&old_bytes, new)),
            Ok(git::Sized::TooLarge) => None,
            Err(e) => {
                diff_error = Some(e);
                None
            }
        }
    };
    let mut offer = Offer::new(tally, gate);
    offer.staging = staging;
    let scanned = scan::scan(rules, &judges, &doc, facts, &mut diff, &mut offer);
    if let Some(e) = diff_error {
        return Err(e);
    }
    if let (Some((id, mut record, verified)), Some(cache)) = (learned, &facts.cache) {
        record.silent = scanned.silent;
        // What a later run needs to judge it unread: the lines of its
        // matches and markers (none when every searching persona was silent
        // and no marker is there).
        let found = match (&scanned.ranges, &data) {
            (Some(ranges), Some(bytes)) if !record.binary => {
                let matched = ranges.iter().flatten().flatten().any(|r| !r.is_empty());
                (matched || record.marker)
                    .then(|| crate::cache::Found::of(bytes, ranges))
                    .flatten()
            }
            _ => None,
        };
        // The record kept already says all this (a file whose matches do
        // not fit a `Found` is read on every run): nothing to check or
        // write again.
        let known = clean
            .as_ref()
            .is_some_and(|c| c.known == Some(record) && c.found == found);
        if !known && (verified || data.as_deref().is_some_and(|b| id.is_of(b))) {
            cache.add_clean(id.as_bytes(), record, found.as_ref());
        }
    }
    tally.suppressed += scanned.suppressed;
    tally.add_markers(scanned.markers, scanned.warnings);
    if let Some(Staged::Differs(index)) = &change.staged {
        if ledger.has_leftovers() {
            let mut offer = Offer::new(tally, gate);
            offer.staging = Staging::Leftover(&mut ledger);
            judge_index(ws, index, own, &judges, facts, local, &mut offer)?;
        }
    }
    if let Some(bytes) = data {
        local.reuse(bytes);
    }
    Ok(())
}

/// Judges the index's version of a path (SPEC §8), read from its blob with
/// `scope: changed` against `HEAD`, into `sink`: the findings a commit now
/// would carry. Not part of the change set: nothing is counted as a file,
/// suppressions count where the work tree has them. Returns why the
/// content was not searched (binary, too large), if it was wanted and not.
fn judge_index(
    ws: &Workspace,
    index: &Change,
    own: bool,
    judges: &[usize],
    facts: &RunFacts<'_>,
    local: &mut Local<'_>,
    sink: &mut dyn scan::Sink,
) -> Result<Option<SkipReason>> {
    let rules = &ws.rules;
    let wants_content = !own
        && index.kind != ChangeKind::Deleted
        && judges.iter().any(|&t| {
            let p = &rules.personas[t];
            !p.is_path_only() && p.wants(index.kind)
        });
    let scans_binary = judges.iter().any(|&t| rules.personas[t].scan_binary);
    let (mut data, mut binary, mut unsearched) = (None, false, None);
    if wants_content {
        match load(&ws.root, index, local, rules.max_file_size, Vec::new())? {
            Loaded::Text(bytes) => {
                binary = is_binary(&bytes);
                if binary && !scans_binary {
                    unsearched = Some(SkipReason::Binary);
                } else {
                    data = Some(bytes);
                }
            }
            Loaded::Skip(reason) => unsearched = Some(reason),
        }
    }
    let doc = Document {
        path: &index.path,
        old_path: index.old_path.as_deref(),
        kind: index.kind,
        content: data.as_deref(),
        binary,
        every_line_counts: index.kind == ChangeKind::Added || index.old.is_none(),
        known: None,
        collect: false,
    };
    let mut diff_error: Option<Error> = None;
    let mut diff = || -> Option<Vec<bool>> {
        let (old, new) = (index.old?, data.as_deref()?);
        let old_path = index.old_path.as_ref().unwrap_or(&index.path);
        match local.blob(old, old_path, None)? {
            Ok(git::Sized::Bytes(old_bytes)) => Some(index.changed_lines(&old_bytes, new)),
            Ok(git::Sized::TooLarge) => None,
            Err(e) => {
                diff_error = Some(e);
                None
            }
        }
    };
    scan::scan(rules, judges, &doc, facts, &mut diff, sink);
    match diff_error {
        Some(e) => Err(e),
        None => Ok(unsearched),
    }
}

/// A NUL in the first 8000 bytes, as git decides.
fn is_binary(bytes: &[u8]) -> bool {
    memchr::memchr(0, &bytes[..bytes.len().min(BINARY_PROBE)]).is_some()
}

enum Loaded {
    Text(Vec<u8>),
    Skip(SkipReason),
}

/// The new side's bytes, never more than `max` of them: sizes come from
/// file metadata or the object header before anything is read. A
/// work-tree file is read into `buf` (its allocation reused).
fn load(
    root: &Path,
    change: &Change,
    local: &mut Local<'_>,
    max: u64,
    buf: Vec<u8>,
) -> Result<Loaded> {
    let blob = |local: &mut Local<'_>, id| -> Result<Loaded> {
        match local.blob(id, &change.path, Some(max)) {
            Some(read) => Ok(match read? {
                git::Sized::Bytes(b) => Loaded::Text(b),
                git::Sized::TooLarge => Loaded::Skip(SkipReason::TooLarge),
            }),
            None => Err(Error::git("a blob was listed without a repository", None)),
        }
    };
    match &change.new {
        Content::Submodule => Ok(Loaded::Skip(SkipReason::Submodule)),
        Content::Special => Ok(Loaded::Skip(SkipReason::Special)),
        Content::Gone => Ok(Loaded::Text(Vec::new())),
        // A link's text is judged as a one-line document (SPEC §2).
        Content::Symlink(Some(id)) => blob(local, *id),
        Content::Symlink(None) => {
            let path = root.join(change.fs_rel());
            match std::fs::read_link(&path) {
                Ok(target) => {
                    use std::os::unix::ffi::OsStrExt;
                    Ok(Loaded::Text(target.as_os_str().as_bytes().to_vec()))
                }
                Err(e) if vanished(&e) => Ok(Loaded::Skip(SkipReason::Vanished)),
                Err(e) => Err(Error::io(path, e)),
            }
        }
        Content::Blob(id) => blob(local, *id),
        Content::File => read_worktree_file(&local.path_of(root, change), max, buf),
    }
}

/// Whether an I/O error means the file went away or changed type meanwhile.
fn vanished(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ELOOP)
}

/// A tracked file whose index entry is stat-clean (SPEC §12).
struct StatClean {
    id: git::BlobId,
    /// The `lstat` the entry was compared with.
    lstat: git::Stat,
    /// What an earlier run found in the blob, when its size is the file's.
    known: Option<crate::cache::Record>,
    /// The lines of its matches, when some trigger matched.
    found: Option<crate::cache::Found>,
}

/// The blob id of a tracked work-tree file whose index entry is
/// stat-clean and whose bytes `git add` would store as they are, with what
/// the cache knows of that blob; `None` whenever anything is not so (then
/// the file is read and judged as without the shortcut).
fn stat_clean(
    root: &Path,
    change: &Change,
    cache: &crate::cache::Cache,
    local: &mut Local<'_>,
    rules: &Ruleset,
) -> Option<StatClean> {
    let repo = local.repo?;
    // `--all` shares its listing's index (and its positions) when that is
    // the index as read.
    let shared = local.shared.as_ref();
    let index = cache.stat_index(|| match shared {
        Some(shared) => Some(repo.stat_index_of(shared)),
        None => repo.stat_index().ok().flatten(),
    })?;
    let raw = change.raw_path();
    let mut hint = std::mem::take(&mut local.index_hint);
    let clean = index.clean(raw, &mut hint, || local.lstat(root, raw));
    local.index_hint = hint;
    let (id, lstat) = clean?;
    if lstat.size > rules.max_file_size {
        return None;
    }
    let handle = local.handle.get_or_insert_with(|| repo.local());
    let as_is = local
        .as_is
        .get_or_insert_with(|| git::AsIs::of(index))
        .as_mut()?;
    if !as_is.at(handle, change.raw_path()).unwrap_or(false) {
        return None;
    }
    let (known, found) = match cache.clean_record(id.as_bytes()) {
        Some((record, found)) if record.len == lstat.size => (
            Some(record),
            (!found.is_empty())
                .then(|| crate::cache::Found::decode(found, rules))
                .flatten(),
        ),
        _ => (None, None),
    };
    Some(StatClean {
        id,
        lstat,
        known,
        found,
    })
}

/// The text and matches a clean file is judged from without a read: its
/// `Found`, when its record is of text (a marker's lines are in it), and every judge
/// that would search it either matched nothing or has its matches there
/// (a persona that matched nothing gets none, and no trigger runs on the
/// partial text). `None`: the file is read. The `Found` is taken out of
/// `clean` only when it answers.
fn replayed(
    rules: &Ruleset,
    judges: &[usize],
    kind: ChangeKind,
    clean: &mut StatClean,
) -> Option<(Vec<u8>, crate::cache::Matches)> {
    let (record, found) = (clean.known?, clean.found.as_ref()?);
    if record.binary || found.personas.len() != rules.personas.len() {
        return None;
    }
    // The judges that would search it and whose matches are not kept.
    let searches = |t: usize| {
        let p = &rules.personas[t];
        !p.is_path_only() && p.wants(kind)
    };
    let unkept = |t: usize, known: &crate::cache::Matches| searches(t) && known[t].is_none();
    // One of them that matched something: read.
    if judges
        .iter()
        .any(|&t| unkept(t, &found.personas) && !record.silent_for(t))
    {
        return None;
    }
    let found = clean.found.take()?;
    let mut known = found.personas;
    for &t in judges {
        if unkept(t, &known) {
            known[t] = Some(vec![Vec::new(); rules.personas[t].triggers.len()]);
        }
    }
    Some((found.content, known))
}

/// Whether a record of a file's content says all that judging it would
/// find: binary and no judge searches binaries, or no marker and every
/// judge that would search it matched nothing there.
fn answers(
    rules: &Ruleset,
    judges: &[usize],
    kind: ChangeKind,
    scans_binary: bool,
    record: &crate::cache::Record,
) -> bool {
    if record.binary && !scans_binary {
        return true;
    }
    !record.marker
        && judges.iter().all(|&t| {
            let p = &rules.personas[t];
            p.is_path_only()
                || !p.wants(kind)
                || (record.binary && !p.scan_binary)
                || record.silent_for(t)
        })
}

/// Opens a work-tree file without following a link and without blocking
/// (a FIFO swapped in meanwhile never hangs valve), checks it is still a
/// regular file, and reads at most `max` bytes, into `bytes`.
fn read_worktree_file(path: &Path, max: u64, bytes: Vec<u8>) -> Result<Loaded> {
    read_worktree_file_meta(path, max, bytes).map(|(loaded, _)| loaded)
}

/// `read_worktree_file`, with the opened file's `fstat` when it was one.
fn read_worktree_file_meta(
    path: &Path,
    max: u64,
    mut bytes: Vec<u8>,
) -> Result<(Loaded, Option<std::fs::Metadata>)> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if vanished(&e) => return Ok((Loaded::Skip(SkipReason::Vanished), None)),
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Ok((Loaded::Skip(SkipReason::Special), None));
    }
    if meta.len() > max {
        return Ok((Loaded::Skip(SkipReason::TooLarge), Some(meta)));
    }
    bytes.clear();
    // One byte more than the size: the read that meets the end of the file
    // finds room, and needs no second buffer.
    bytes.reserve(meta.len() as usize + 1);
    Read::by_ref(&mut file)
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        return Ok((Loaded::Skip(SkipReason::TooLarge), Some(meta)));
    }
    Ok((Loaded::Text(bytes), Some(meta)))
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
/// The baseline of a report and how many distinct entries it holds. A
/// path-only finding is an entry only when whole files were judged: in a
/// change mode it means "this file changed", which no baseline silences
/// (SPEC §3).
pub fn baseline_json(report: &Report) -> (String, usize) {
    let mut seen = HashSet::new();
    let entries: Vec<BaselineEntry> = report
        .findings
        .iter()
        .filter(|f| f.line.is_some() || report.whole_files)
        .filter(|f| seen.insert(f.fingerprint.as_str()))
        .map(|f| BaselineEntry {
            fingerprint: f.fingerprint.clone(),
            persona: f.persona.clone(),
            file: f.file.clone(),
        })
        .collect();
    let count = entries.len();
    let file = BaselineFile {
        version: 1,
        findings: entries,
    };
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    (text, count)
}
