//! The subcommands: each turns parsed arguments into a call on the engine
//! and a rendering. Reports go to stdout (or `--output`), errors to stderr.
//! Repository data and paths printed here go through `escape::terminal`.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use crate::changeset::{self, Selection};
use crate::check::{self, BaselineChoice, Options};
use crate::cli::{CheckArgs, Cli, Command, HookAction};
use crate::config::{BASELINE_PATH, CONFIG_PATHS};
use crate::error::{Error, Result};
use crate::escape::{self, terminal};
use crate::finding::ChangeKind;
use crate::render::{self, HumanStyle};
use crate::scan::{self, Document, RunFacts};
use crate::severity::Context;
use crate::{EXIT_BLOCKED, EXIT_PASS};

/// Width of error diagnostics on stderr.
const WIDTH: usize = crate::term::FILE_WIDTH;

/// Prints an error as a miette diagnostic on stderr, every text in it
/// (paths, config source, messages) escaped for the terminal.
pub fn print_error(e: &Error, color: bool) {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(WIDTH);
    let mut text = String::new();
    if handler
        .render_report(&mut text, &escape::diagnostic(e))
        .is_err()
    {
        text = format!("error: {}\n", terminal(&e.to_string()));
    }
    let _ = io::stderr().write_all(escape::terminal_block(&text).as_bytes());
}

/// A path for the terminal.
fn shown(path: &std::path::Path) -> String {
    terminal(&path.display().to_string()).into_owned()
}

fn cwd() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| Error::io(".", e))
}

/// Writes to stdout; a closed pipe (`valve ... | head`) is not an error.
fn emit(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    match write(&mut lock).and_then(|_| lock.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("<stdout>", e)),
    }
}

pub fn dispatch(cli: Cli) -> Result<u8> {
    let g = cli.global.clone();
    match cli.command {
        Command::Check(args) => check_command(&g, &args),
        Command::Watch(args) => watch_command(&g, &args),
        Command::Personas => personas(&g),
        Command::Explain { paths } => explain(&g, &paths),
        Command::Init { hook } => {
            init()?;
            if hook {
                hook_command(&HookAction::Install {
                    pre_push: false,
                    pre_receive: false,
                    force: false,
                })?;
            }
            Ok(EXIT_PASS)
        }
        Command::Hook { action } => hook_command(&action),
        Command::Test => test(&g),
        Command::Schema => {
            let text = serde_json::to_string_pretty(&crate::schema::schema()).unwrap_or_default();
            emit(|out| writeln!(out, "{text}"))?;
            Ok(EXIT_PASS)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "valve", &mut buf);
            emit(|out| out.write_all(&buf))?;
            Ok(EXIT_PASS)
        }
        Command::Baseline { mode, output } => {
            let opts = Options {
                cwd: cwd()?,
                selection: mode.selection(Selection::All),
                config: g.config.clone(),
                fail_on: None,
                context: None,
                ci: false,
                baseline: BaselineChoice::Off,
                redact: false,
                snippets: false,
                threads: g.threads,
                policy: mode.policy.mode(),
                personas: Vec::new(),
                min_severity: None,
            };
            let head = match &opts.selection {
                Selection::Range { head, .. } => Some(head.as_str()),
                _ => None,
            };
            let ws = check::workspace(&opts.cwd, opts.config.as_deref(), head)?;
            let report = check::run_in(&ws, &opts)?;
            let text = check::baseline_json(&report);
            let path = match output {
                Some(path) => {
                    crate::ownfile::write_output(&path, text.as_bytes())?;
                    path
                }
                None => crate::ownfile::write_own(
                    &ws.root,
                    BASELINE_PATH,
                    text.as_bytes(),
                    crate::ownfile::Existing::Replace,
                )?,
            };
            emit(|out| {
                writeln!(
                    out,
                    "valve: wrote {} fingerprint{} to {}",
                    report.findings.len(),
                    if report.findings.len() == 1 { "" } else { "s" },
                    shown(&path)
                )
            })?;
            Ok(EXIT_PASS)
        }
    }
}

fn check_command(g: &crate::cli::Global, args: &CheckArgs) -> Result<u8> {
    let opts = Options {
        cwd: cwd()?,
        selection: args.mode.selection(Selection::Default),
        config: g.config.clone(),
        fail_on: args.fail_on,
        context: None,
        ci: Context::ci_from_env(std::env::var("CI").ok().as_deref()),
        baseline: args.baseline(),
        redact: args.redact,
        snippets: (args.format == crate::render::Format::Human
            || args
                .report
                .iter()
                .any(|(f, _)| *f == crate::render::Format::Human))
            && !g.quiet,
        threads: g.threads,
        policy: args.mode.policy.mode(),
        personas: Vec::new(),
        min_severity: None,
    };
    let mut report = check::run(&opts)?;
    report.link_base = github_link_base(report.head_commit.as_deref());
    report.sarif_written = args
        .report
        .iter()
        .any(|(f, _)| *f == crate::render::Format::Sarif)
        || (args.format == crate::render::Format::Sarif && args.output.is_some());
    // Config warnings reach stderr in every format, never only the report.
    for w in &report.warnings {
        let line = format!("warning: {}\n", crate::escape::terminal(w));
        let _ = io::stderr().write_all(line.as_bytes());
    }
    let to_file = args.output.is_some();
    let style = HumanStyle {
        color: !to_file && crate::term::use_color(g.color, io::stdout().is_terminal()),
        width: if to_file {
            crate::term::FILE_WIDTH
        } else {
            crate::term::stdout_width()
        },
        verbose: g.verbose,
        quiet: g.quiet,
    };
    // Extra reports of the same run: files, never coloured.
    let plain = HumanStyle {
        color: false,
        width: crate::term::FILE_WIDTH,
        ..style.clone()
    };
    for (format, path) in &args.report {
        let mut buf = Vec::new();
        render::render(*format, &report, &plain, &mut buf).map_err(|e| Error::write(path, e))?;
        crate::ownfile::write_output(path, &buf)?;
    }
    match &args.output {
        Some(path) => {
            let mut buf = Vec::new();
            render::render(args.format, &report, &style, &mut buf)
                .map_err(|e| Error::write(path, e))?;
            crate::ownfile::write_output(path, &buf)?;
            let line = format!(
                "{} ({} blocking) -> {}\n",
                render::summary_line(&report),
                report.summary.blocking,
                shown(path)
            );
            let _ = io::stderr().write_all(line.as_bytes());
        }
        None => emit(|out| render::render(args.format, &report, &style, out))?,
    }
    Ok(if report.failed() {
        EXIT_BLOCKED
    } else {
        EXIT_PASS
    })
}

fn watch_command(g: &crate::cli::Global, args: &crate::cli::WatchArgs) -> Result<u8> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&shutdown))
            .map_err(|e| Error::io("<signal handler>", e))?;
    }
    let here = cwd()?;
    let dir = match &args.path {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => here.join(p),
        None => here,
    };
    if !dir.is_dir() {
        return Err(Error::usage(
            format!("{} is not a folder", dir.display()),
            Some("pass the repository (or a folder in it) to watch".to_string()),
        ));
    }
    let opts = crate::watch::WatchOptions {
        cwd: dir,
        config: g.config.clone(),
        debounce: std::time::Duration::from_millis(args.debounce),
        format: match args.format {
            crate::cli::WatchFormat::Human => crate::watch::StreamFormat::Human,
            crate::cli::WatchFormat::Ndjson => crate::watch::StreamFormat::Ndjson,
        },
        chronicle: args.chronicle.clone(),
        clear: args.clear,
        color: crate::term::use_color(g.color, io::stdout().is_terminal()),
        fail_on: args.fail_on,
        redact: args.redact,
        threads: g.threads,
    };
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    match crate::watch::run(opts, &mut lock, shutdown) {
        Ok(()) => Ok(EXIT_PASS),
        // The reader went away (`valve watch | head`): a normal end.
        Err(Error::Io { path, source })
            if path.as_os_str() == "<stdout>" && source.kind() == io::ErrorKind::BrokenPipe =>
        {
            Ok(EXIT_PASS)
        }
        Err(e) => Err(e),
    }
}

fn personas(g: &crate::cli::Global) -> Result<u8> {
    let ws = check::workspace(&cwd()?, g.config.as_deref(), None)?;
    // A bad trigger is a config error here too.
    ws.rules.matchers()?;
    emit(|out| {
        for w in &ws.rules.warnings {
            writeln!(out, "warning: {}", terminal(w))?;
        }
        let list = |items: &[String]| {
            items
                .iter()
                .map(|i| terminal(i).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for p in &ws.rules.personas {
            writeln!(out, "{}  [{}]", terminal(&p.name), p.severity)?;
            if let Some(d) = &p.description {
                writeln!(out, "  description: {}", terminal(d))?;
            }
            if let Some(r) = &p.response {
                writeln!(out, "  response:    {}", terminal(r))?;
            }
            let filters = if p.filters.is_empty() {
                "(every path)".to_string()
            } else {
                list(&p.filters)
            };
            writeln!(out, "  filters:     {filters}")?;
            if !p.exclude.is_empty() {
                writeln!(out, "  exclude:     {}", list(&p.exclude))?;
            }
            if p.triggers.is_empty() {
                writeln!(out, "  triggers:    (none: the path alone fires)")?;
            } else {
                for (i, t) in p.triggers.iter().enumerate() {
                    writeln!(out, "  trigger {i}:   {}", terminal(&t.pattern))?;
                }
            }
            let kinds: Vec<&str> = [
                ChangeKind::Added,
                ChangeKind::Modified,
                ChangeKind::Renamed,
                ChangeKind::Deleted,
            ]
            .into_iter()
            .filter(|k| p.wants(*k))
            .map(ChangeKind::as_str)
            .collect();
            let scope = match p.scope {
                crate::config::Scope::Changed => "changed",
                crate::config::Scope::File => "file",
            };
            writeln!(out, "  scope:       {scope}; on: {}", kinds.join(", "))?;
            if p.redact || !p.allow_ignore || p.history {
                writeln!(
                    out,
                    "  flags:      {}{}{}",
                    if p.redact { " redact" } else { "" },
                    if p.allow_ignore {
                        ""
                    } else {
                        " no-inline-ignore"
                    },
                    if p.history {
                        " history (--base: every commit)"
                    } else {
                        ""
                    }
                )?;
            }
        }
        Ok(())
    })?;
    Ok(EXIT_PASS)
}

fn explain(g: &crate::cli::Global, paths: &[PathBuf]) -> Result<u8> {
    let cwd = cwd()?;
    let ws = check::workspace(&cwd, g.config.as_deref(), None)?;
    ws.rules.matchers()?;
    let root = ws.root.canonicalize().unwrap_or(ws.root.clone());
    let mut hits = Vec::new();
    emit(|out| {
        for p in paths {
            let abs = if p.is_absolute() {
                p.clone()
            } else {
                cwd.join(p)
            };
            let abs = match (
                abs.parent().and_then(|d| d.canonicalize().ok()),
                abs.file_name(),
            ) {
                (Some(dir), Some(name)) => dir.join(name),
                _ => abs,
            };
            if !abs.starts_with(&root) {
                writeln!(out, "{}: outside the repository {}", shown(p), shown(&root))?;
                continue;
            }
            let rel = changeset::relative(&root, &abs);
            writeln!(out, "{}", terminal(&rel))?;
            if let Some(pattern) = ws.rules.ignored_by(&rel) {
                writeln!(
                    out,
                    "  ignored: `{}` (config `ignore`): no persona judges it",
                    terminal(&pattern)
                )?;
                continue;
            }
            for v in ws.rules.verdicts(&rel, &mut hits) {
                let name = terminal(&ws.rules.personas[v.persona].name);
                let filter = v.filter.as_deref().map(terminal);
                let exclude = v.exclude.as_deref().map(terminal);
                let line = match (&filter, &exclude) {
                    (Some(f), None) => format!("  takes  {name}: filter `{f}` matches"),
                    (Some(f), Some(x)) => {
                        format!(
                            "  skips  {name}: filter `{f}` matches but exclude `{x}` removes it"
                        )
                    }
                    (None, _) => format!("  skips  {name}: no filter matches"),
                };
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    })?;
    Ok(EXIT_PASS)
}

/// The file `valve init` writes: every field, documented, and it loads.
pub const STARTER: &str = concat!(
    r#"# valve personas: who judges which changes. Reference: `valve schema`, README.
version: 1                       # optional; only 1 exists

# Paths never evaluated (gitignore-style globs).
ignore: ["vendor/**", "**/*.min.js"]

# Larger files are listed as skipped; their triggers are not searched.
max_file_size: 10MiB             # bytes, or B / KB / KiB / MB / MiB / GB / GiB

# Block at this severity or above: info | warning | error | critical | never.
# One value, or one per context (hook = --staged, ci = $CI set, watch, default).
fail_on: { hook: error, ci: error, watch: never, default: error }

personas:
  Guardian:
    description: Secrets and credentials         # shown by `valve personas`
    filters: ["**"]                              # path globs; absent = every path
    exclude: ["**/*.md"]                         # globs removed from filters
    triggers:                                    # Rust regexes over the whole file
      - 'AKIA[0-9A-Z]{16}'
      - '-----BEGIN [A-Z ]*PRIVATE KEY-----'
    response: security-paranoid                  # free label carried into findings
    severity: critical                           # info | warning | error | critical
    message: Possible credential committed       # text shown with each finding
    scope: changed                               # changed: only added/modified lines; file: every line
    on: [added, modified, renamed]               # change kinds that wake it
    redact: true                                 # never print the matched text
    allow_ignore: false                          # `valve:ignore` cannot silence it
    history: true                                # --base: judge every commit, not just the net change
    examples:                                    # checked by `valve test`
      fires: [{ path: src/config.ts, content: 'key = ""#,
    // Split so that valve's own Secrets persona does not fire on this file.
    "AKIA",
    r#"ABCDEFGHIJKLMNOP"' }]
      quiet: [{ path: src/config.ts, content: 'key = process.env.KEY' }]
  Debris:
    description: Debug leftovers
    filters: ["*.rs", "*.ts", "*.js", "*.py"]
    triggers: ['\bdbg!\(', '\bconsole\.log\(', '\bbreakpoint\(\)']
    severity: warning
    message: Debug statement left in
"#
);

fn init() -> Result<u8> {
    let cwd = cwd()?;
    let root = match crate::git::discover(&cwd)? {
        Some(repo) => repo.workdir.clone().unwrap_or(cwd.clone()),
        None => cwd.clone(),
    };
    for candidate in CONFIG_PATHS {
        if crate::ownfile::own_exists(&root, candidate) {
            return Err(Error::Refused {
                message: format!(
                    "{} already exists; valve init never overwrites it",
                    root.join(candidate).display()
                ),
                help: Some("edit it, or move it away and run `valve init` again".to_string()),
            });
        }
    }
    // Keep: a file that appeared meanwhile is still never overwritten.
    let path = crate::ownfile::write_own(
        &root,
        CONFIG_PATHS[0],
        STARTER.as_bytes(),
        crate::ownfile::Existing::Keep,
    )?;
    emit(|out| {
        writeln!(
            out,
            "valve: wrote {}; try `valve personas` and `valve test`",
            shown(&path)
        )
    })?;
    Ok(EXIT_PASS)
}

fn hook_command(action: &HookAction) -> Result<u8> {
    use crate::hook::{self, Installed, Kind, Removed, State};
    // Printing a script needs no repository.
    if let HookAction::Print { hook } = action {
        emit(|out| out.write_all(hook.kind().script().as_bytes()))?;
        return Ok(EXIT_PASS);
    }
    let cwd = cwd()?;
    let repo = crate::git::discover(&cwd)?.ok_or_else(|| {
        Error::usage(
            format!("{} is not in a git repository", cwd.display()),
            Some("run `valve hook` inside the repository whose commits it should gate".to_string()),
        )
    })?;
    let mut lines = Vec::new();
    let mut code = EXIT_PASS;
    match action {
        HookAction::Install {
            pre_push,
            pre_receive,
            force,
        } => {
            // Nobody commits in a bare repository: a server gets pre-receive.
            let mut kinds = Vec::new();
            if !repo.is_bare() {
                kinds.extend([Kind::PreCommit, Kind::PreMergeCommit]);
                if *pre_push {
                    kinds.push(Kind::PrePush);
                }
            } else if !*pre_receive {
                return Err(Error::usage(
                    "a bare repository has no commits made in it to gate",
                    Some(
                        "on a server, install the push gate: `valve hook install --pre-receive`"
                            .to_string(),
                    ),
                ));
            }
            if *pre_receive {
                kinds.push(Kind::PreReceive);
            }
            for kind in kinds {
                let (status, done) = hook::install(&repo, kind, *force)?;
                lines.push(match done {
                    Installed::Fresh => format!(
                        "valve: installed {} at {}",
                        kind.name(),
                        shown(&status.path)
                    ),
                    Installed::Updated => format!(
                        "valve: {} at {} is valve's; refreshed it",
                        kind.name(),
                        shown(&status.path)
                    ),
                    Installed::ReplacedWithBackup(b) => format!(
                        "valve: installed {} at {}; the previous hook is kept as {}",
                        kind.name(),
                        shown(&status.path),
                        shown(&b)
                    ),
                });
            }
        }
        HookAction::Uninstall => {
            for kind in Kind::ALL {
                let path = repo.hooks_dir()?.join(kind.name());
                lines.push(match hook::uninstall(&repo, kind)? {
                    Removed::NotInstalled => {
                        format!("valve: no {} hook at {}", kind.name(), shown(&path))
                    }
                    Removed::LeftForeign => {
                        format!("valve: {} is not valve's; left it alone", shown(&path))
                    }
                    Removed::Removed => format!("valve: removed {}", shown(&path)),
                    Removed::Restored(p) => format!(
                        "valve: removed valve's {} and restored the previous hook at {}",
                        kind.name(),
                        shown(&p)
                    ),
                });
            }
        }
        // Answered above, before the repository is opened.
        HookAction::Print { .. } => {}
        HookAction::Status => {
            let mut pre_commit = None;
            for kind in Kind::ALL {
                let st = hook::status(&repo, kind)?;
                let state = match st.state {
                    State::Valve => "valve",
                    State::Foreign => "another hook (not valve's)",
                    State::Absent => "not installed",
                };
                let backup = st
                    .backup
                    .as_ref()
                    .map(|b| format!("; backup at {}", shown(b)))
                    .unwrap_or_default();
                lines.push(format!(
                    "{:<16} {state}: {}{backup}",
                    kind.name(),
                    shown(&st.path)
                ));
                if kind == Kind::PreCommit {
                    pre_commit = Some(st);
                }
            }
            let active = repo.hooks_dir()?;
            for orphan in hook::orphans(&repo)? {
                lines.push(format!(
                    "valve: valve's {} at {} never runs: git runs hooks from {} (core.hooksPath); fix: `valve hook install`{}, then `rm {}`",
                    orphan.kind.name(),
                    shown(&orphan.path),
                    shown(&active),
                    if orphan.kind == Kind::PrePush { " --pre-push" } else { "" },
                    shown(&orphan.path)
                ));
            }
            if let Some(st) = pre_commit.filter(|st| st.state != State::Valve) {
                code = EXIT_BLOCKED;
                lines.push(match st.state {
                    State::Foreign => format!(
                        "valve: the pre-commit hook git runs ({}) is not valve's: add `valve check --staged` to it, or `valve hook install --force` (keeps it as {}.valve-backup)",
                        shown(&st.path),
                        shown(&st.path)
                    ),
                    _ => format!(
                        "valve: no valve pre-commit hook where git runs hooks ({}); fix: `valve hook install`",
                        shown(&active)
                    ),
                });
            }
        }
    }
    emit(|out| {
        for l in &lines {
            writeln!(out, "{l}")?;
        }
        Ok(())
    })?;
    Ok(code)
}

fn test(g: &crate::cli::Global) -> Result<u8> {
    let ws = check::workspace(&cwd()?, g.config.as_deref(), None)?;
    let rules = &ws.rules;
    let matchers = rules.matchers()?;
    let facts = RunFacts {
        matchers: &matchers,
        repo: "",
        timestamp: 0,
        redact_all: false,
        snippets: false,
        commit: None,
    };
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut hits = Vec::new();
    for (pi, p) in rules.personas.iter().enumerate() {
        let cases = p
            .examples
            .fires
            .iter()
            .map(|e| (e, true))
            .chain(p.examples.quiet.iter().map(|e| (e, false)));
        for (example, should_fire) in cases {
            let takers = rules.takers(&example.path, &mut hits);
            let fired = takers.contains(&pi) && {
                let doc = Document {
                    path: &example.path,
                    old_path: None,
                    kind: ChangeKind::Added,
                    content: Some(example.content.as_bytes()),
                    binary: false,
                    every_line_counts: true,
                };
                let mut fired = Fired(false);
                scan::scan(rules, &[pi], &doc, &facts, &mut || None, &mut fired);
                fired.0
            };
            if fired == should_fire {
                passed += 1;
            } else {
                failures.push(format!(
                    "{}: expected to {} on {} but it {}",
                    terminal(&p.name),
                    if should_fire { "fire" } else { "stay quiet" },
                    terminal(&example.path),
                    if fired { "fired" } else { "stayed quiet" }
                ));
            }
        }
    }
    emit(|out| {
        for f in &failures {
            writeln!(out, "FAIL {f}")?;
        }
        writeln!(
            out,
            "valve test: {passed} passed, {} failed",
            failures.len()
        )
    })?;
    Ok(if failures.is_empty() {
        EXIT_PASS
    } else {
        EXIT_BLOCKED
    })
}

/// Where findings link to on GitHub: the judged commit's blob URLs, from
/// `GITHUB_SERVER_URL` and `GITHUB_REPOSITORY` (only plain values).
fn github_link_base(head: Option<&str>) -> Option<String> {
    let head = head?;
    let server = std::env::var("GITHUB_SERVER_URL").ok()?;
    let repo = std::env::var("GITHUB_REPOSITORY").ok()?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._/:".contains(c))
    };
    (server.starts_with("https://") && plain(&server) && plain(&repo) && plain(head))
        .then(|| format!("{}/{repo}/blob/{head}/", server.trim_end_matches('/')))
}

/// A sink that only notes whether anything fired (`valve test`).
struct Fired(bool);

impl scan::Sink for Fired {
    fn wants_fingerprints(&self) -> bool {
        false
    }

    fn count(&mut self, _: &scan::Hit<'_>) -> bool {
        self.0 = true;
        false
    }

    fn keep(&mut self, _: crate::finding::Finding) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_config_loads() {
        let source = crate::config::Source {
            name: "valve.yml".into(),
            text: STARTER.into(),
        };
        let rules = crate::ruleset::Ruleset::from_source(&source);
        assert!(rules.is_ok(), "{rules:?}");
    }
}
