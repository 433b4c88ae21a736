//! `valve watch`: the check engine on filesystem events.
//!
//! notify's own watcher (inotify on Linux) delivers single events on one
//! channel with the signals; `Pending` gathers them (access events, valve's
//! own reads among them, are dropped) and `due` (pure) says when the batch
//! is judged. While nothing is pending the loop blocks with no timeout:
//! an idle watch wakes for nothing (SPEC §10).
//! `classify` (pure) sorts a batch into: git state changed (HEAD, index,
//! refs: re-evaluate the whole change set), config edited (reload), a
//! `.gitignore` edited (re-evaluate), files to re-judge, and noise. Files
//! are judged by the same `check::evaluate` as `valve check`, each with
//! what the index holds of it (SPEC §8: a file the work tree has as `HEAD`
//! but the index does not is judged from its index blob, `index_only`);
//! `diff` (pure) says what is new and what is resolved, a finding's stage
//! being part of its identity. Watcher failures are
//! retried with exponential backoff; SIGINT/SIGTERM arrive as a message
//! and end the loop. Raw trigger matches are kept in memory for the life
//! of the watch (`cache::Memory`). Data in human lines goes through
//! `escape::terminal`, every human line through `escape::terminal_block`,
//! and JSON events through escape's JSON writer.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use serde::Serialize;

use crate::changeset::{self, Selection};
use crate::check::{self, BaselineChoice, Options, Workspace};
use crate::config::CONFIG_PATHS;
use crate::error::{Error, Result};
use crate::escape::{self, terminal};
use crate::finding::{BySeverity, Finding, Report, Stage, Summary};
use crate::ruleset::Matchers;
use crate::severity::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    Human,
    Ndjson,
}

#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub cwd: PathBuf,
    pub config: Option<PathBuf>,
    pub debounce: Duration,
    pub format: StreamFormat,
    pub chronicle: Option<PathBuf>,
    pub clear: bool,
    pub color: bool,
    pub fail_on: Option<crate::severity::Threshold>,
    /// `--persona` and `--min-severity`, as `check::Options` has them.
    pub personas: Vec<String>,
    pub min_severity: Option<crate::severity::Severity>,
    pub redact: bool,
    pub threads: Option<usize>,
}

/// What one batch of touched paths asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// HEAD, the index or a ref moved: re-evaluate the whole change set.
    pub git_state: bool,
    /// valve.yml was edited: reload it.
    pub reload: bool,
    /// A `.gitignore` was edited: what is ignored may have changed.
    pub ignore_rules: bool,
    /// A nested config (SPEC §12) was edited: every path below its folder
    /// may be judged differently, so the whole change set is judged again.
    pub nested: bool,
    /// Work-tree files (repo-relative) to judge again.
    pub files: BTreeSet<String>,
}

impl Plan {
    pub fn is_quiet(&self) -> bool {
        !self.git_state
            && !self.reload
            && !self.ignore_rules
            && !self.nested
            && self.files.is_empty()
    }
}

/// Sorts one batch of repo-relative paths (git-dir paths arrive as
/// `.git/...`). Pure: `ignored` answers for config `ignore` and `.gitignore`.
pub fn classify(paths: &[String], config: &str, ignored: impl Fn(&str) -> bool) -> Plan {
    let mut plan = Plan::default();
    for p in paths {
        if let Some(inner) = p.strip_prefix(".git/") {
            let inner = inner.trim_end_matches(".lock");
            if inner == "HEAD"
                || inner == "index"
                || inner == "packed-refs"
                || inner.starts_with("refs/heads/")
                || inner == "refs/stash"
            {
                plan.git_state = true;
            }
            continue;
        }
        if p == ".git" || p.is_empty() {
            continue;
        }
        if p == config {
            plan.reload = true;
            continue;
        }
        if p == ".gitignore" || p.ends_with("/.gitignore") {
            plan.ignore_rules = true;
            continue;
        }
        if crate::nested::is_nested_config(p) {
            plan.nested = true;
            continue;
        }
        if ignored(p) {
            continue;
        }
        plan.files.insert(p.clone());
    }
    plan
}

/// Identity of a finding across evaluations: its fingerprint (persona, path,
/// matched line's text), so a finding whose line merely moved is neither
/// new nor resolved; and its stage (SPEC §8), so `git add` of a line shows
/// as the `unstaged` finding resolved and the `staged` one new, in that
/// order: a consumer keyed by fingerprint ends with the right stage.
type Key<'a> = (&'a str, &'a str, &'a str, Option<Stage>);

fn key(f: &Finding) -> Key<'_> {
    (&f.file, &f.persona, &f.fingerprint, f.stage)
}

/// What is new in `now` and what was resolved from `before` (multisets:
/// two identical lines are two findings).
pub fn diff<'a>(before: &'a [Finding], now: &'a [Finding]) -> (Vec<&'a Finding>, Vec<&'a Finding>) {
    (missing(now, before), missing(before, now))
}

/// The findings of `from` that `against` does not hold (counting repeats).
fn missing<'a>(from: &'a [Finding], against: &[Finding]) -> Vec<&'a Finding> {
    let mut left: HashMap<Key<'_>, usize> = HashMap::new();
    for f in against {
        *left.entry(key(f)).or_default() += 1;
    }
    from.iter()
        .filter(|f| match left.get_mut(&key(f)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// The wait before retrying a failed watcher: 1 s doubling to 60 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64.checked_shl(attempt).unwrap_or(u64::MAX).min(60))
}

/// One line of the stream.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Event<'a> {
    Finding(&'a Finding),
    Error {
        #[serde(rename = "type")]
        kind: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        timestamp: u64,
    },
    Reload {
        #[serde(rename = "type")]
        kind: &'static str,
        config: String,
        timestamp: u64,
    },
    Summary(&'a Summary),
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn clock() -> String {
    let secs = now_ms() / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Where events go: stdout in the chosen format, and the chronicle file.
struct Sink<'w> {
    out: &'w mut dyn Write,
    format: StreamFormat,
    color: bool,
    clear: bool,
    chronicle: Option<std::fs::File>,
}

impl Sink<'_> {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn json(&mut self, event: &Event<'_>) -> Result<()> {
        let line = escape::json_string(event);
        if let Some(file) = self.chronicle.as_mut() {
            // One write of the whole line: with O_APPEND, lines of two
            // writers never interleave.
            file.write_all(format!("{line}\n").as_bytes())
                .map_err(|e| Error::write("<chronicle>", e))?;
        }
        if self.format == StreamFormat::Ndjson {
            self.write(&line)?;
        }
        Ok(())
    }

    fn write(&mut self, line: &str) -> Result<()> {
        writeln!(self.out, "{line}")
            .and_then(|_| self.out.flush())
            .map_err(|e| Error::io("<stdout>", e))
    }

    fn human(&mut self, line: &str) -> Result<()> {
        if self.format == StreamFormat::Human {
            let stamped = format!("{} {line}", self.paint("2", &format!("[{} UTC]", clock())));
            self.write(&escape::terminal_block(&stamped))?;
        }
        Ok(())
    }

    fn finding(&mut self, f: &Finding, resolved: bool) -> Result<()> {
        let mut shown = f.clone();
        if resolved {
            shown.kind = "resolved";
        }
        self.json(&Event::Finding(&shown))?;
        let (file, persona) = (terminal(&f.file), terminal(&f.persona));
        let at = match (f.line, f.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            _ => file.to_string(),
        };
        let matched = f
            .matched
            .as_ref()
            .map(|m| format!(" — `{}`", terminal(m)))
            .unwrap_or_default();
        let line = if resolved {
            self.paint(
                "32",
                &format!(
                    "- resolved {} {persona} {at}{}",
                    f.severity,
                    staged_words(f)
                ),
            )
        } else {
            let text = format!(
                "+ {} {persona} {at}  {}{matched}{}{}",
                f.severity,
                terminal(&f.message),
                staged_words(f),
                if f.blocking { " (blocking)" } else { "" }
            );
            self.paint(if f.blocking { "31" } else { "33" }, &text)
        };
        self.human(&line)
    }

    /// `message` is valve's text with its data already escaped (see
    /// `render_error`); it may span lines.
    fn error(&mut self, message: String, file: Option<String>) -> Result<()> {
        let human = message.clone();
        self.json(&Event::Error {
            kind: "error",
            message,
            file,
            timestamp: now_ms(),
        })?;
        let line = self.paint("31", &format!("error: {human}"));
        self.human(&line)
    }

    fn reload(&mut self, config: &str) -> Result<()> {
        self.json(&Event::Reload {
            kind: "reload",
            config: config.to_string(),
            timestamp: now_ms(),
        })?;
        self.human(&format!("reloaded {}", terminal(config)))
    }

    fn summary(&mut self, s: &Summary) -> Result<()> {
        self.json(&Event::Summary(s))?;
        self.human(&format!(
            "{} finding{} now, {} blocking (threshold {} from {})",
            s.findings,
            if s.findings == 1 { "" } else { "s" },
            s.blocking,
            s.fail_on,
            terminal(&s.fail_on_source)
        ))
    }

    fn clear_screen(&mut self) -> Result<()> {
        if self.clear && self.format == StreamFormat::Human {
            write!(self.out, "\x1b[2J\x1b[H").map_err(|e| Error::io("<stdout>", e))?;
        }
        Ok(())
    }
}

/// SPEC §8 in words, for a human line: only what a commit now would not
/// carry as the work tree shows it is marked.
fn staged_words(f: &Finding) -> &'static str {
    match f.stage {
        Some(Stage::Unstaged) => " (not staged)",
        Some(Stage::IndexOnly) => " (fixed in the work tree but still staged: `git add` the fix)",
        Some(Stage::Staged) | None => "",
    }
}

/// The summary of the whole current state after an evaluation.
fn summarize(state: &[Finding], last: &Summary) -> Summary {
    let mut by_severity = BySeverity::default();
    for f in state {
        by_severity.add(f.severity);
    }
    let blocking = state.iter().filter(|f| f.blocking).count();
    Summary {
        findings: state.len(),
        by_severity,
        blocking,
        verdict: if blocking > 0 { "fail" } else { "pass" },
        ..last.clone()
    }
}

/// What reaches the loop, on one channel: a file event (stamped when it
/// came) from the watcher of generation `watcher`, that watcher's event
/// handler dropped (it stopped), or SIGINT/SIGTERM.
enum Msg {
    Fs {
        watcher: u64,
        at: Instant,
        event: notify::Result<notify::Event>,
    },
    Gone {
        watcher: u64,
    },
    Shutdown,
}

/// Lives in the watcher's event handler: says `Gone` when notify drops it.
struct Farewell {
    watcher: u64,
    tx: Sender<Msg>,
}

impl Drop for Farewell {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Gone {
            watcher: self.watcher,
        });
    }
}

/// notify's own watcher (inotify on Linux): its thread blocks in the
/// kernel until something happens, so an idle watch uses no CPU. The
/// debounce is valve's (`Pending`, `due`), not a ticking debouncer.
fn start_watcher(
    root: &Path,
    git_dir: Option<&Path>,
    tx: &Sender<Msg>,
    generation: u64,
) -> std::result::Result<RecommendedWatcher, notify::Error> {
    let farewell = Farewell {
        watcher: generation,
        tx: tx.clone(),
    };
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = farewell.tx.send(Msg::Fs {
            watcher: farewell.watcher,
            at: Instant::now(),
            event,
        });
    })?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    if let Some(dir) = git_dir {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(watcher)
}

/// A signal wakes the loop (it blocks with no timeout when idle): a
/// thread blocked on signal-hook's pipe turns SIGINT/SIGTERM into a
/// message. The `shutdown` flag `run` is given is set as well.
fn forward_signals(tx: &Sender<Msg>) -> Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Error::io("<signal handler>", e))?;
    let handle = signals.handle();
    let tx = tx.clone();
    std::thread::Builder::new()
        .name("valve-watch-signals".to_string())
        .spawn(move || {
            for _ in signals.forever() {
                if tx.send(Msg::Shutdown).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| Error::io("<signal handler>", e))?;
    Ok(handle)
}

/// The longest a batch waits after its first event: four debounces, and
/// at least a second.
pub fn max_wait(debounce: Duration) -> Duration {
    debounce.saturating_mul(4).max(Duration::from_secs(1))
}

/// When a batch whose first event came at `first` and latest at `last` is
/// judged: once `debounce` has passed with no event, so a burst is judged
/// once, but never later than [`max_wait`] after its first event, so a
/// stream of events (a build writing without pause) cannot hold a save
/// back. `None`: never (a debounce past what a clock can count).
pub fn due(first: Instant, last: Instant, debounce: Duration) -> Option<Instant> {
    let quiet = last.checked_add(debounce);
    let latest = first.checked_add(max_wait(debounce));
    match (quiet, latest) {
        (Some(q), Some(l)) => Some(q.min(l)),
        (q, l) => q.or(l),
    }
}

/// File events gathered since the last evaluation.
#[derive(Debug, Default)]
struct Pending {
    paths: BTreeSet<PathBuf>,
    /// The kernel dropped events: trust nothing, rescan.
    rescan: bool,
    /// When the first and the latest event of the batch came.
    span: Option<(Instant, Instant)>,
}

impl Pending {
    /// Adds one event. Access events (valve's own reads among them) are
    /// not changes: they neither join the batch nor delay it.
    fn add(&mut self, at: Instant, event: notify::Event) {
        let rescan = event.need_rescan();
        if matches!(event.kind, EventKind::Access(_)) || (event.paths.is_empty() && !rescan) {
            return;
        }
        self.rescan |= rescan;
        self.paths.extend(event.paths);
        self.span = Some(match self.span {
            Some((first, last)) => (first, last.max(at)),
            None => (at, at),
        });
    }

    fn due(&self, debounce: Duration) -> Option<Instant> {
        self.span
            .and_then(|(first, last)| due(first, last, debounce))
    }
}

/// The state of a running watch.
struct Session<'w> {
    opts: WatchOptions,
    ws: Workspace,
    matchers: Matchers,
    check: Options,
    state: Vec<Finding>,
    last: Option<Summary>,
    sink: Sink<'w>,
    config_rel: String,
}

impl Session<'_> {
    fn full(&mut self) -> Result<()> {
        let mut report = check::run_in_with(&self.ws, &self.check, &self.matchers)?;
        let findings = std::mem::take(&mut report.findings);
        self.apply(findings, &report)
    }

    /// Whether the watched root or its git dir is gone.
    fn vanishing(&self) -> bool {
        !self.ws.root.is_dir() || self.ws.repo.as_ref().is_some_and(|r| !r.git_dir().is_dir())
    }

    /// A full evaluation after git's own state changed. git may still be
    /// writing (a commit updates objects, the index and the ref one after
    /// another), so a git read error is retried a few times, 25 ms apart
    /// and doubling, before it is reported.
    fn full_settled(&mut self) -> Result<()> {
        let mut pause = Duration::from_millis(25);
        for _ in 0..4 {
            match self.full() {
                Err(Error::Git { .. }) => std::thread::sleep(pause),
                other => return other,
            }
            pause *= 2;
        }
        self.full()
    }

    fn files(&mut self, files: &BTreeSet<String>) -> Result<()> {
        let Some(repo) = self.ws.repo.as_ref() else {
            return self.full();
        };
        // A change rule judges the whole change set (SPEC §11): any save
        // can start or stop it firing, so the set is judged again.
        if self.ws.rules.has_change_rules() {
            return self.full();
        }
        let snapshot = repo.snapshot()?;
        let list: Vec<String> = files.iter().cloned().collect();
        let ignored = snapshot.ignored(&list)?;
        let mut touched = BTreeSet::new();
        let mut changes = Vec::new();
        for (path, ignored) in list.iter().zip(ignored) {
            // A folder is not a file to judge; its files have events of their own.
            if ignored || self.ws.rules.is_ignored(path) || self.ws.root.join(path).is_dir() {
                continue;
            }
            touched.insert(path.clone());
            if let Some(change) = snapshot.staged_change(path)? {
                changes.push(change);
            }
        }
        if touched.is_empty() {
            return Ok(());
        }
        // The nested configs above the saved files judge them too; a save
        // of a file one of them extends changes that config: all again.
        let nested = check::with_nested(&self.ws, &self.check, &changes)?;
        if let Some(ws) = &nested
            && (ws.rules.has_change_rules() || touched.iter().any(|p| check::is_own_file(ws, p)))
        {
            return self.full();
        }
        let mut compiled = None;
        let (ws, matchers) = check::judging(
            &self.ws,
            nested.as_ref(),
            &self.check,
            &self.matchers,
            &mut compiled,
        )?;
        let report = check::evaluate(ws, &self.check, matchers, changes, Instant::now())?;
        let mut next: Vec<Finding> = self
            .state
            .iter()
            .filter(|f| {
                !touched.contains(&f.file)
                    && f.old_file.as_ref().is_none_or(|o| !touched.contains(o))
            })
            .cloned()
            .collect();
        next.extend(report.findings.iter().cloned());
        next.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.apply(next, &report)
    }

    /// Prints what changed and keeps `next` as the state.
    fn apply(&mut self, next: Vec<Finding>, report: &Report) -> Result<()> {
        let summary = summarize(&next, &report.summary);
        let (new, resolved) = diff(&self.state, &next);
        let first = self.last.is_none();
        if !new.is_empty() || !resolved.is_empty() || first {
            self.sink.clear_screen()?;
            for f in &resolved {
                self.sink.finding(f, true)?;
            }
            for f in &new {
                self.sink.finding(f, false)?;
            }
            self.sink.summary(&summary)?;
        } else {
            // Machine streams get a summary after every evaluation; a quiet
            // evaluation prints nothing for humans.
            self.sink.json(&Event::Summary(&summary))?;
        }
        self.state = next;
        self.last = Some(summary);
        Ok(())
    }

    /// Opens the repository and config afresh (after the folder came back).
    fn reopen(&mut self) -> Result<()> {
        // Our working directory may be the removed folder's old inode.
        std::env::set_current_dir(&self.opts.cwd).map_err(|e| Error::io(&self.opts.cwd, e))?;
        let ws = check::workspace(&self.opts.cwd, self.opts.config.as_deref(), None)?;
        self.matchers = ws.rules.matchers()?;
        self.ws = ws;
        self.full()
    }

    fn reload(&mut self) -> Result<()> {
        let loaded = check::workspace(&self.opts.cwd, self.opts.config.as_deref(), None)
            .and_then(|ws| ws.rules.matchers().map(|m| (ws, m)).map_err(Error::from));
        match loaded {
            Ok((ws, matchers)) => {
                self.ws = ws;
                self.matchers = matchers;
                let name = self.config_rel.clone();
                self.sink.reload(&name)?;
                self.full()
            }
            Err(e) => {
                let text = render_error(&e);
                let file = Some(self.config_rel.clone());
                self.sink
                    .error(format!("{text}\nkeeping the previous personas"), file)
            }
        }
    }

    fn batch(&mut self, paths: Vec<PathBuf>, rescan: bool) -> Result<()> {
        let root = self.ws.root.clone();
        let rel: Vec<String> = paths
            .iter()
            .filter_map(|p| self.relative(&root, p))
            .collect();
        let mut plan = classify(&rel, &self.config_rel, |p| self.ws.rules.is_ignored(p));
        // A file the config extends is part of it (SPEC §12).
        plan.reload |= rel.iter().any(|p| self.ws.rules.extended.contains(p));
        // The kernel dropped events (queue overflow): trust nothing, rescan.
        // A name that is not UTF-8 is shown escaped, not a path to open:
        // a full run reads it by its bytes.
        plan.git_state |= rescan || paths.iter().any(|p| p.to_str().is_none());
        if plan.is_quiet() {
            return Ok(());
        }
        let outcome = if plan.reload {
            self.reload()
        } else if plan.git_state || plan.ignore_rules || plan.nested {
            self.full_settled()
        } else {
            self.files(&plan.files)
        };
        match outcome {
            Ok(()) => Ok(()),
            // The repository is being removed: the watcher reports that
            // (and retries); errors of reading its remains are noise.
            Err(_) if self.vanishing() => Ok(()),
            // A bad file or a git hiccup is reported; the watch goes on.
            Err(e) => self.sink.error(render_error(&e), None),
        }
    }

    /// Repo-relative path of an event; git-dir paths become `.git/...`.
    fn relative(&self, root: &Path, path: &Path) -> Option<String> {
        if let Some(git_dir) = self.ws.repo.as_ref().map(|r| r.git_dir()) {
            if let Ok(inner) = path.strip_prefix(&git_dir) {
                return Some(format!(
                    ".git/{}",
                    changeset::relative(Path::new(""), inner)
                ));
            }
        }
        let rel = path.strip_prefix(root).ok()?;
        Some(changeset::relative(Path::new(""), rel))
    }
}

/// An error as miette text, every datum in it escaped for the terminal.
fn render_error(e: &Error) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut text = String::new();
    if handler
        .render_report(&mut text, &escape::diagnostic(e))
        .is_err()
    {
        text = terminal(&e.to_string()).into_owned();
    }
    escape::terminal_block(text.trim_end()).into_owned()
}

/// A path for a human line.
fn shown(path: &Path) -> String {
    terminal(&path.display().to_string()).into_owned()
}

/// Runs until `shutdown` is set.
pub fn run(opts: WatchOptions, out: &mut dyn Write, shutdown: Arc<AtomicBool>) -> Result<()> {
    let ws = check::workspace(&opts.cwd, opts.config.as_deref(), None)?;
    let matchers = ws.rules.matchers()?;
    if ws.repo.as_ref().is_some_and(|r| r.is_bare()) {
        return Err(Error::usage(
            "a bare repository has no work tree to watch",
            Some("run `valve watch` in a work tree".to_string()),
        ));
    }
    let chronicle = match &opts.chronicle {
        Some(path) => Some(crate::ownfile::open_append(path)?),
        None => None,
    };
    let config_rel = CONFIG_PATHS
        .iter()
        .find(|c| ws.root.join(c).is_file())
        .map(|c| c.to_string())
        .unwrap_or_else(|| CONFIG_PATHS[0].to_string());
    let config_rel = match &opts.config {
        Some(p) => {
            let abs = if p.is_absolute() {
                p.clone()
            } else {
                opts.cwd.join(p)
            };
            changeset::relative(&ws.root, &abs)
        }
        None => config_rel,
    };
    let selection = if ws.repo.is_some() {
        Selection::Worktree
    } else {
        Selection::All
    };
    let check = Options {
        cwd: opts.cwd.clone(),
        selection,
        config: opts.config.clone(),
        fail_on: opts.fail_on,
        context: Some(Context::Watch),
        ci: false,
        baseline: BaselineChoice::Default,
        redact: opts.redact,
        snippets: false,
        threads: opts.threads,
        policy: check::PolicyMode::Head,
        personas: opts.personas.clone(),
        min_severity: opts.min_severity,
        shard: None,
        today: crate::commands::today()?,
        inline_ignore: true,
        keep: crate::check::Keep::All,
        // SPEC §12: the result cache, in memory for the life of the watch.
        cache: Some(crate::cache::Memory::new(crate::cache::MEMORY_MAX).spec()),
    };
    let root = ws.root.clone();
    let git_dir = ws
        .repo
        .as_ref()
        .map(|r| r.git_dir())
        .filter(|d| !d.starts_with(&root));
    let sink = Sink {
        out,
        format: opts.format,
        color: opts.color,
        clear: opts.clear,
        chronicle,
    };
    let debounce = opts.debounce;
    let mut session = Session {
        opts,
        ws,
        matchers,
        check,
        state: Vec::new(),
        last: None,
        sink,
        config_rel,
    };
    session.sink.human(&format!(
        "valve watching {} (debounce {} ms; Ctrl-C to stop)",
        shown(&root),
        debounce.as_millis()
    ))?;
    let (tx, rx) = channel();
    let signals = forward_signals(&tx)?;
    // Watch first, so nothing saved during the first evaluation is missed.
    let watcher = start_watcher(&root, git_dir.as_deref(), &tx, 0).map_err(|e| {
        Error::usage(
            format!("cannot watch {}: {e}", root.display()),
            Some(notify_help(&e)),
        )
    })?;
    let live = Live {
        root: &root,
        git_dir: git_dir.as_deref(),
        debounce,
        tx: &tx,
        rx: &rx,
        shutdown: &shutdown,
    };
    let outcome = session
        .full()
        .and_then(|()| live.run(&mut session, watcher));
    signals.close();
    outcome
}

/// The event loop's fixed parts.
struct Live<'a> {
    root: &'a Path,
    git_dir: Option<&'a Path>,
    debounce: Duration,
    tx: &'a Sender<Msg>,
    rx: &'a Receiver<Msg>,
    shutdown: &'a AtomicBool,
}

/// Messages taken into a due batch before it is judged, at most: what
/// queued while valve was busy is one batch, not one evaluation each.
const DRAIN: usize = 4096;

/// The loop's changing parts: the watcher (none while backing off), its
/// generation, the batch being gathered, the retry schedule.
struct Round {
    watcher: Option<RecommendedWatcher>,
    generation: u64,
    pending: Pending,
    attempt: u32,
    retry_at: Instant,
}

/// Whether the loop goes on.
#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

impl Live<'_> {
    /// Runs until a signal. Nothing wakes it while nothing happens: it
    /// blocks on the channel with no timeout unless events are pending
    /// (then until the batch is due) or a watcher is to be retried.
    fn run(&self, session: &mut Session<'_>, watcher: RecommendedWatcher) -> Result<()> {
        let mut round = Round {
            watcher: Some(watcher),
            generation: 0,
            pending: Pending::default(),
            attempt: 0,
            retry_at: Instant::now(),
        };
        while !self.shutdown.load(Ordering::SeqCst) {
            let now = Instant::now();
            if round.watcher.is_none() {
                if now < round.retry_at {
                    // Backing off after a failure: only a signal matters.
                    match self.rx.recv_timeout(round.retry_at - now) {
                        Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                        Ok(_) | Err(RecvTimeoutError::Timeout) => continue,
                    }
                }
                self.restart(session, &mut round)?;
                continue;
            }
            let due = round.pending.due(self.debounce);
            if due.is_some_and(|d| d <= now) {
                for _ in 0..DRAIN {
                    let Ok(msg) = self.rx.try_recv() else { break };
                    if self.take(session, &mut round, msg)? == Flow::Stop {
                        return Ok(());
                    }
                }
                if round.watcher.is_some() {
                    self.judge(session, &mut round)?;
                }
                continue;
            }
            let msg = match due {
                None => self.rx.recv().ok(),
                Some(d) => match self.rx.recv_timeout(d - now) {
                    Ok(msg) => Some(msg),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => None,
                },
            };
            // `None`: every sender is gone, which cannot be while `tx` lives.
            let Some(msg) = msg else { break };
            if self.take(session, &mut round, msg)? == Flow::Stop {
                break;
            }
        }
        Ok(())
    }

    /// One message: an event joins the batch; a failure drops the watcher.
    fn take(&self, session: &mut Session<'_>, round: &mut Round, msg: Msg) -> Result<Flow> {
        let why = match msg {
            Msg::Shutdown => return Ok(Flow::Stop),
            // An earlier watcher's last words, or one already given up.
            Msg::Fs { watcher: g, .. } | Msg::Gone { watcher: g }
                if g != round.generation || round.watcher.is_none() =>
            {
                return Ok(Flow::Go);
            }
            Msg::Fs {
                at, event: Ok(e), ..
            } => {
                round.pending.add(at, e);
                return Ok(Flow::Go);
            }
            Msg::Fs { event: Err(e), .. } => format!(
                "the watcher failed ({}); {}",
                terminal(&e.to_string()),
                notify_help(&e)
            ),
            Msg::Gone { .. } => "the file watcher stopped".to_string(),
        };
        // What was pending is judged by the full run after the retry.
        round.watcher = None;
        round.pending = Pending::default();
        round.retry_at = retry_later(session, why, round.attempt)?;
        Ok(Flow::Go)
    }

    /// Judges the batch, unless the watched folder is gone.
    fn judge(&self, session: &mut Session<'_>, round: &mut Round) -> Result<()> {
        let batch = std::mem::take(&mut round.pending);
        if !self.root.is_dir() {
            round.watcher = None;
            let why = format!("{} was removed", shown(self.root));
            round.retry_at = retry_later(session, why, round.attempt)?;
            return Ok(());
        }
        session.batch(batch.paths.into_iter().collect(), batch.rescan)
    }

    /// Starts a new watcher after a failure, or schedules the next try.
    fn restart(&self, session: &mut Session<'_>, round: &mut Round) -> Result<()> {
        round.generation += 1;
        match start_watcher(self.root, self.git_dir, self.tx, round.generation) {
            Ok(w) => {
                round.watcher = Some(w);
                round.attempt = 0;
                session.sink.human("watching again")?;
                if let Err(e) = session.reopen() {
                    session.sink.error(render_error(&e), None)?;
                }
            }
            Err(e) => {
                round.attempt += 1;
                let why = format!(
                    "cannot watch {} ({})",
                    shown(self.root),
                    terminal(&e.to_string())
                );
                round.retry_at = retry_later(session, why, round.attempt)?;
            }
        }
        Ok(())
    }
}

/// Reports a watcher failure and returns when to try again (SPEC §8:
/// 1 s doubling to 60 s).
fn retry_later(session: &mut Session<'_>, why: String, attempt: u32) -> Result<Instant> {
    let wait = backoff(attempt);
    session
        .sink
        .error(format!("{why}; retrying in {} s", wait.as_secs()), None)?;
    Ok(Instant::now() + wait)
}

fn notify_help(e: &notify::Error) -> String {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => {
            "the inotify watch limit is reached: raise it with `sysctl fs.inotify.max_user_watches=524288`".to_string()
        }
        notify::ErrorKind::PathNotFound => "the folder is gone; valve waits for it to come back".to_string(),
        _ => "valve will retry".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{ChangeKind, Reason};
    use crate::severity::Severity;

    fn finding(file: &str, persona: &str, fingerprint: &str, line: u32) -> Finding {
        Finding {
            kind: "finding",
            persona: persona.into(),
            severity: Severity::Error,
            response: None,
            message: "m".into(),
            repo: "/r".into(),
            file: file.into(),
            old_file: None,
            change: ChangeKind::Modified,
            commit: None,
            stage: None,
            reason: Reason::GlobTrigger,
            line: Some(line),
            column: Some(1),
            end_line: Some(line),
            end_column: Some(2),
            matched: Some("x".into()),
            trigger: Some(0),
            fingerprint: fingerprint.into(),
            blocking: true,
            enforced_from: None,
            owners: Vec::new(),
            notes: Vec::new(),
            timestamp: 0,
            persona_index: 0,
            can_ignore: true,
            snippet: None,
        }
    }

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn git_internals_are_noise_except_head_index_and_refs() {
        let plan = classify(
            &paths(&[
                ".git/objects/ab/cdef",
                ".git/logs/HEAD",
                ".git/COMMIT_EDITMSG",
            ]),
            ".sage/valve.yml",
            |_| false,
        );
        assert!(plan.is_quiet());
        for p in [
            ".git/HEAD",
            ".git/index",
            ".git/index.lock",
            ".git/refs/heads/main",
            ".git/packed-refs",
        ] {
            assert!(
                classify(&paths(&[p]), ".sage/valve.yml", |_| false).git_state,
                "{p}"
            );
        }
    }

    #[test]
    fn ignored_paths_cause_no_work() {
        let plan = classify(
            &paths(&["target/debug/x", "node_modules/a/b.js"]),
            ".sage/valve.yml",
            |p| p.starts_with("target/") || p.starts_with("node_modules/"),
        );
        assert!(plan.is_quiet());
    }

    #[test]
    fn a_burst_on_one_file_is_one_file_to_judge() {
        let plan = classify(
            &paths(&["src/a.rs", "src/a.rs", "src/a.rs", "src/b.rs"]),
            ".sage/valve.yml",
            |_| false,
        );
        assert_eq!(plan.files.len(), 2);
    }

    #[test]
    fn config_and_gitignore_edits_are_recognized() {
        let plan = classify(
            &paths(&[".sage/valve.yml", "web/.gitignore"]),
            ".sage/valve.yml",
            |_| false,
        );
        assert!(plan.reload && plan.ignore_rules && plan.files.is_empty());
    }

    #[test]
    fn diff_reports_new_and_resolved_but_not_moved_lines() {
        let before = vec![finding("a", "G", "f1", 3), finding("a", "G", "f2", 9)];
        let now = vec![finding("a", "G", "f1", 4), finding("b", "G", "f3", 1)];
        let (new, resolved) = diff(&before, &now);
        assert_eq!(
            new.iter()
                .map(|f| f.fingerprint.as_str())
                .collect::<Vec<_>>(),
            vec!["f3"]
        );
        assert_eq!(
            resolved
                .iter()
                .map(|f| f.fingerprint.as_str())
                .collect::<Vec<_>>(),
            vec!["f2"]
        );
    }

    #[test]
    fn diff_counts_identical_findings() {
        let before = vec![finding("a", "G", "f", 1)];
        let now = vec![finding("a", "G", "f", 1), finding("a", "G", "f", 2)];
        let (new, resolved) = diff(&before, &now);
        assert_eq!((new.len(), resolved.len()), (1, 0));
        let (new, resolved) = diff(&now, &before);
        assert_eq!((new.len(), resolved.len()), (0, 1));
    }

    #[test]
    fn a_stage_change_is_the_old_stage_resolved_and_the_new_one_new() {
        let mut unstaged = finding("a", "G", "f", 1);
        unstaged.stage = Some(Stage::Unstaged);
        let mut staged = unstaged.clone();
        staged.stage = Some(Stage::Staged);
        let before = vec![unstaged];
        let now = vec![staged];
        let (new, resolved) = diff(&before, &now);
        assert_eq!(
            new.iter().map(|f| f.stage).collect::<Vec<_>>(),
            vec![Some(Stage::Staged)]
        );
        assert_eq!(
            resolved.iter().map(|f| f.stage).collect::<Vec<_>>(),
            vec![Some(Stage::Unstaged)]
        );
        let (new, resolved) = diff(&now, &now);
        assert!(new.is_empty() && resolved.is_empty());
    }

    #[test]
    fn human_lines_name_what_a_commit_would_not_carry() {
        let mut f = finding("a", "G", "f", 1);
        assert_eq!(staged_words(&f), "");
        f.stage = Some(Stage::Staged);
        assert_eq!(staged_words(&f), "");
        f.stage = Some(Stage::Unstaged);
        assert_eq!(staged_words(&f), " (not staged)");
        f.stage = Some(Stage::IndexOnly);
        assert!(staged_words(&f).contains("git add"));
    }

    #[test]
    fn a_batch_is_due_after_a_quiet_debounce_or_at_the_latest_after_max_wait() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // One event: due a debounce later.
        assert_eq!(due(t0, t0, ms(50)), Some(t0 + ms(50)));
        // A burst: each event pushes the batch back.
        assert_eq!(due(t0, t0 + ms(30), ms(50)), Some(t0 + ms(80)));
        // A stream never quiet: judged a second after its first event.
        assert_eq!(due(t0, t0 + ms(990), ms(50)), Some(t0 + ms(1000)));
        // A long debounce waits four of them at most.
        assert_eq!(max_wait(ms(1000)), ms(4000));
        assert_eq!(due(t0, t0 + ms(3500), ms(1000)), Some(t0 + ms(4000)));
        assert_eq!(due(t0, t0, Duration::ZERO), Some(t0));
        // A debounce past any clock: never due, and no overflow.
        assert_eq!(due(t0, t0, Duration::MAX), None);
        assert_eq!(max_wait(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn access_events_neither_join_nor_delay_a_batch() {
        use notify::event::{AccessKind, CreateKind, Event, ModifyKind};
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut pending = Pending::default();
        let read = Event::new(EventKind::Access(AccessKind::Any)).add_path("/r/a".into());
        pending.add(t0, read.clone());
        assert_eq!(pending.due(ms(50)), None);
        let save = Event::new(EventKind::Modify(ModifyKind::Any)).add_path("/r/a".into());
        pending.add(t0, save.clone());
        pending.add(t0 + ms(10), save);
        pending.add(t0 + ms(40), read);
        assert_eq!(pending.due(ms(50)), Some(t0 + ms(60)));
        // Stamped before the latest (threads race to the channel).
        pending.add(
            t0 + ms(5),
            Event::new(EventKind::Create(CreateKind::File)).add_path("/r/b".into()),
        );
        assert_eq!(pending.paths.len(), 2, "one path a file");
        assert_eq!(pending.due(ms(50)), Some(t0 + ms(60)), "an older event");
        assert!(!pending.rescan);
        pending.add(
            t0 + ms(20),
            Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan),
        );
        assert!(pending.rescan);
    }

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute() {
        let waits: Vec<u64> = (0..9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(200).as_secs(), 60);
    }
}
