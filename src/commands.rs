//! The subcommands: each turns parsed arguments into a call on the engine
//! and a rendering. Reports go to stdout (or `--output`), errors to stderr.
//! Repository data and paths printed here go through `escape::terminal`.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

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
        Command::Merge(args) => merge_command(&g, &args),
        Command::Doctor => doctor(&g),
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
        Command::Baseline {
            mode,
            narrow,
            output,
        } => {
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
                personas: narrow.personas.clone(),
                min_severity: narrow.min_severity,
                shard: None,
                today: today()?,
                inline_ignore: true,
                cache: None,
                keep: check::Keep::All,
            };
            let head = match &opts.selection {
                Selection::Range { head, .. } => Some(head.as_str()),
                _ => None,
            };
            let ws = check::workspace(&opts.cwd, opts.config.as_deref(), head)?;
            let report = check::run_in(&ws, &opts)?;
            let (text, entries) = check::baseline_json(&report);
            if report.summary.truncated > 0 {
                let line = format!(
                    "warning: {} findings past max_findings are not in the baseline; raise max_findings in the config to record them\n",
                    report.summary.truncated
                );
                let _ = io::stderr().write_all(line.as_bytes());
            }
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
                    "valve: wrote {entries} fingerprint{} to {}",
                    if entries == 1 { "" } else { "s" },
                    shown(&path)
                )
            })?;
            Ok(EXIT_PASS)
        }
    }
}

/// What a report judged, for `valve merge` (SPEC §12): the mode, the
/// range's commits (else `HEAD`), named paths and the config's hash.
fn changeset_of(opts: &Options, report: &crate::finding::Report) -> crate::finding::Changeset {
    let mode = match &opts.selection {
        Selection::Staged => "staged",
        Selection::Range { .. } => "range",
        Selection::Worktree => "worktree",
        Selection::All => "all",
        Selection::Paths(_) => "paths",
        Selection::Default if report.whole_files => "all",
        Selection::Default => "worktree",
    };
    let (base, head) = match &opts.selection {
        Selection::Range { .. } => (report.base_commit.clone(), report.head_commit.clone()),
        _ => {
            let head = crate::git::discover(&opts.cwd)
                .ok()
                .flatten()
                .and_then(|repo| repo.resolve_commit("HEAD").ok());
            (None, head)
        }
    };
    let paths = match &opts.selection {
        Selection::Paths(paths) => paths.iter().map(|p| p.display().to_string()).collect(),
        _ => Vec::new(),
    };
    crate::finding::Changeset::new(mode, base, head, paths, report.config_digest.clone())
}

/// Today's date for SPEC §11: `VALVE_TODAY`, else the UTC date.
pub(crate) fn today() -> Result<crate::date::Date> {
    crate::date::today(std::env::var_os(crate::date::VALVE_TODAY).as_deref())
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
        personas: args.narrow.personas.clone(),
        min_severity: args.narrow.min_severity,
        shard: args.shard,
        today: today()?,
        inline_ignore: !args.no_inline_ignore,
        cache: args.cache_spec(),
        // A quiet human report shows only the summary and the verdict.
        keep: if g.quiet && args.format == crate::render::Format::Human && args.report.is_empty() {
            check::Keep::Blocking
        } else {
            check::Keep::All
        },
    };
    let mut report = check::run(&opts)?;
    // Under `--no-inline-ignore` no marker would help: no hint offers one.
    for f in &mut report.findings {
        f.can_ignore &= opts.inline_ignore;
    }
    let json = crate::render::Format::Json;
    if args.format == json || args.report.iter().any(|(f, _)| *f == json) {
        report.changeset = Some(changeset_of(&opts, &report));
    }
    report.link_base = github_link_base(report.head_commit.as_deref());
    deliver(
        g,
        &mut report,
        args.format,
        args.output.as_deref(),
        &args.report,
    )
}

/// `valve merge`: one report and verdict from shard reports (SPEC §12).
fn merge_command(g: &crate::cli::Global, args: &crate::cli::MergeArgs) -> Result<u8> {
    let mut report = crate::merge::merge_files(&args.files, today()?)?;
    report.link_base = github_link_base(report.head_commit.as_deref());
    deliver(
        g,
        &mut report,
        args.format,
        args.output.as_deref(),
        &args.report,
    )
}

/// Writes a report in `format` (to `output` or stdout) and the extra
/// `--report`s, and says which exit code it means.
fn deliver(
    g: &crate::cli::Global,
    report: &mut crate::finding::Report,
    format: crate::render::Format,
    output: Option<&Path>,
    extra: &[(crate::render::Format, PathBuf)],
) -> Result<u8> {
    report.sarif_written = extra
        .iter()
        .any(|(f, _)| *f == crate::render::Format::Sarif)
        || (format == crate::render::Format::Sarif && output.is_some());
    let report: &crate::finding::Report = report;
    // Config warnings reach stderr in every format, never only the report.
    for w in &report.warnings {
        let line = format!("warning: {}\n", crate::escape::terminal(w));
        let _ = io::stderr().write_all(line.as_bytes());
    }
    let to_file = output.is_some();
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
    for (format, path) in extra {
        let mut buf = Vec::new();
        render::render(*format, report, &plain, &mut buf).map_err(|e| Error::write(path, e))?;
        crate::ownfile::write_output(path, &buf)?;
    }
    match output {
        Some(path) => {
            let mut buf = Vec::new();
            render::render(format, report, &style, &mut buf).map_err(|e| Error::write(path, e))?;
            crate::ownfile::write_output(path, &buf)?;
            let line = format!(
                "{} ({} blocking) -> {}\n",
                render::summary_line(report),
                report.summary.blocking,
                shown(path)
            );
            let _ = io::stderr().write_all(line.as_bytes());
        }
        None => emit(|out| render::render(format, report, &style, out))?,
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
        personas: args.narrow.personas.clone(),
        min_severity: args.narrow.min_severity,
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

/// The workspace with every nested config of the work tree (SPEC §12),
/// unless `--config` names the one config to use.
fn with_every_nested(g: &crate::cli::Global, ws: check::Workspace) -> Result<check::Workspace> {
    match g.config {
        Some(_) => Ok(ws),
        None => crate::nested::for_commands(ws, &cwd()?),
    }
}

fn personas(g: &crate::cli::Global) -> Result<u8> {
    let ws = with_every_nested(g, check::workspace(&cwd()?, g.config.as_deref(), None)?)?;
    // A bad trigger is a config error here too.
    ws.rules.matchers()?;
    emit(|out| {
        for w in &ws.rules.warnings {
            writeln!(out, "warning: {}", terminal(w))?;
        }
        for (i, p) in ws.rules.personas.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            for line in persona_lines(p) {
                writeln!(out, "{}", terminal(&line))?;
            }
        }
        Ok(())
    })?;
    Ok(EXIT_PASS)
}

/// What kind of rule a persona is, for `valve personas`.
///
/// SPEC §11 adds change rules (`when_changed`: fire when one path changes
/// without another) and date-gated personas (`enforce_after`: block only
/// from a date). When `Persona` gains those fields, they are named here,
/// before the content and path rules: "change rule: …" and
/// "date-gated: blocks from …" (the only place that needs to change).
fn rule_kind(p: &crate::persona::Persona) -> String {
    if p.is_change_rule() {
        "change rule: fires once when a change matches when_changed and none matches require_changed (--staged, --base, --worktree, watch; not --all or PATH)".to_string()
    } else if p.is_path_only() {
        "path rule: a taken path fires, once per file".to_string()
    } else {
        let n = p.triggers.len();
        format!(
            "content rule: each match of {} fires",
            if n == 1 {
                "its trigger".to_string()
            } else {
                format!("its {n} triggers")
            }
        )
    }
}

/// One persona as `valve personas` shows it: headline, then one line per
/// aspect, labels aligned.
fn persona_lines(p: &crate::persona::Persona) -> Vec<String> {
    let list = |items: &[String]| items.join(", ");
    let mut lines = vec![format!("{}  [{}]", p.name, p.severity)];
    let mut field = |label: &str, value: String| lines.push(format!("  {label:<12} {value}"));
    if let Some(d) = &p.description {
        field("description:", d.clone());
    }
    field(
        "message:",
        match (&p.message, &p.description) {
            (Some(m), _) => m.clone(),
            (None, Some(_)) => "(none: findings show the description)".to_string(),
            (None, None) if p.is_path_only() => "(none: findings name the persona)".to_string(),
            (None, None) => "(none: findings show the trigger that matched)".to_string(),
        },
    );
    if let Some(r) = &p.response {
        field("response:", r.clone());
    }
    field("rule:", rule_kind(p));
    if let Some(from) = p.enforce_after {
        let today = today().unwrap_or(from);
        field(
            "enforced:",
            match crate::finding::rollout_note(today, Some(from)) {
                Some(note) => format!("date-gated: reported, {note}"),
                None => format!("since {from} (enforce_after reached: blocks as usual)"),
            },
        );
    }
    if p.is_change_rule() {
        field("when:", list(&p.when_changed));
        field("requires:", list(&p.require_changed));
    } else {
        field(
            "filters:",
            if p.filters.is_empty() {
                "(every path)".to_string()
            } else {
                list(&p.filters)
            },
        );
    }
    if let Some(owners) = &p.owners {
        field("owners:", list(owners));
    }
    if !p.exclude.is_empty() {
        field("exclude:", list(&p.exclude));
    }
    for (i, t) in p.triggers.iter().enumerate() {
        field(&format!("trigger {i}:"), t.pattern.clone());
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
        crate::config::Scope::Changed => "changed (only added or modified lines count)",
        crate::config::Scope::File => "file (every line of a changed file counts)",
    };
    field("scope:", scope.to_string());
    field("on:", kinds.join(", "));
    let mut flags = Vec::new();
    if !p.allow_ignore {
        flags.push("allow_ignore: false");
    }
    if p.redact {
        flags.push("redact");
    }
    if p.history {
        flags.push("history (--base: every commit)");
    }
    if p.scan_binary {
        flags.push("binary: scan");
    }
    if p.require_reason {
        flags.push("require_reason");
    }
    if !flags.is_empty() {
        field("flags:", flags.join("; "));
    }
    let (fires, quiet) = (p.examples.fires.len(), p.examples.quiet.len());
    field(
        "examples:",
        if fires + quiet == 0 {
            "none (`valve test` has nothing to check)".to_string()
        } else {
            format!("{fires} fires, {quiet} quiet")
        },
    );
    lines
}

fn explain(g: &crate::cli::Global, paths: &[PathBuf]) -> Result<u8> {
    let cwd = cwd()?;
    let ws = check::workspace(&cwd, g.config.as_deref(), None)?;
    let root = ws.root.canonicalize().unwrap_or(ws.root.clone());
    // Every nested config's personas are listed, those outside theirs too.
    let ws = with_every_nested(g, ws)?;
    ws.rules.matchers()?;
    let mut hits = Vec::new();
    // Every line is built first: reading git's ignore rules may fail, and
    // that is an error (exit 2), not a broken pipe.
    let mut lines = Vec::new();
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
            lines.push(format!(
                "{}: outside the repository {}",
                shown(p),
                shown(&root)
            ));
            continue;
        }
        let rel = changeset::relative(&root, &abs);
        lines.push(terminal(&rel).into_owned());
        if let Some(pattern) = ws.rules.ignored_by(&rel) {
            lines.push(format!(
                "  ignored: `{}` (config `ignore`): no persona judges it",
                terminal(&pattern)
            ));
            continue;
        }
        let raw = crate::git::name::relative_bytes(&root, &abs);
        if let Some(line) = git_ignore_line(ws.repo.as_ref(), &root, &raw, &rel)? {
            lines.push(format!("  {}", terminal(&line)));
        }
        for v in ws.rules.verdicts(&rel, &mut hits) {
            let name = terminal(&ws.rules.personas[v.persona].name);
            let filter = v.filter.as_deref().map(terminal);
            let exclude = v.exclude.as_deref().map(terminal);
            lines.push(match (&filter, &exclude) {
                (Some(f), None) => format!("  takes  {name}: filter `{f}` matches"),
                (Some(f), Some(x)) => {
                    format!("  skips  {name}: filter `{f}` matches but exclude `{x}` removes it")
                }
                (None, _) if !rel.starts_with(ws.rules.folder_of(v.persona)) => format!(
                    "  skips  {name}: outside its folder `{}`",
                    terminal(ws.rules.folder_of(v.persona))
                ),
                (None, _) => format!("  skips  {name}: no filter matches"),
            });
        }
    }
    emit(|out| {
        for l in &lines {
            writeln!(out, "{l}")?;
        }
        Ok(())
    })?;
    Ok(EXIT_PASS)
}

/// What git's ignore rules (or, outside git, the walk's `.gitignore` and
/// `.ignore` files) say of a path, as `valve explain` prints it; `None`
/// when no rule matches.
fn git_ignore_line(
    repo: Option<&crate::git::Repo>,
    root: &std::path::Path,
    raw: &[u8],
    rel: &str,
) -> Result<Option<String>> {
    use crate::git::{GitIgnore, IgnoreRule};
    let skipped = "--worktree and --all skip it (`valve check PATH` judges it)";
    let rule = |r: &IgnoreRule| {
        let place = match &r.source {
            Some(src) => format!("{}:{} `{}`", src.display(), r.line, r.pattern),
            None => format!("`{}`", r.pattern),
        };
        match &r.folder {
            Some(f) => format!("{place} (its folder {f})"),
            None => place,
        }
    };
    let Some(repo) = repo else {
        return Ok(
            changeset::walk_ignored(root, rel).map(|(src, line, pattern)| {
                let at = if line > 0 {
                    format!("{}:{line}", src.display())
                } else {
                    src.display().to_string()
                };
                format!("ignored by {at} `{pattern}`: {skipped}")
            }),
        );
    };
    if repo.is_bare() {
        return Ok(None);
    }
    let verdict = repo.git_ignored(&[raw.to_vec()])?.pop();
    Ok(match verdict {
        Some(GitIgnore::Ignored(r)) => Some(format!("ignored by {}: {skipped}", rule(&r))),
        Some(GitIgnore::Tracked(r)) => Some(format!(
            "tracked, so judged although {} matches it (git ignores only untracked files)",
            rule(&r)
        )),
        Some(GitIgnore::No) | None => None,
    })
}

/// The file `valve init` writes: every field, documented, and it loads.
/// Quiet on a clean checkout of a typical project (SPEC §14): vendored and
/// generated folders are ignored, lockfiles (integrity hashes are long
/// base64 runs) are excluded from the secret patterns, and those patterns
/// are anchored with `\b` so a key-like run inside a longer token (a
/// base64 blob, a minified bundle) does not fire.
pub const STARTER: &str = concat!(
    r#"# valve personas: who judges which changes. Reference: `valve schema`, README.
version: 1                       # optional; only 1 exists

# Paths never evaluated (gitignore-style globs): vendored and generated code.
ignore:
  - "node_modules/**"
  - "vendor/**"
  - "third_party/**"
  - ".yarn/releases/**"          # yarn's own bundled release
  - ".yarn/plugins/**"
  - ".pnp.cjs"
  - "**/*.min.js"
  - "**/*.min.css"
  - "**/*.map"

# Larger files are listed as skipped; their triggers are not searched.
max_file_size: 10MiB             # bytes, or B / KB / KiB / MB / MiB / GB / GiB

# Block at this severity or above: info | warning | error | critical | never.
# One value, or one per context (hook = --staged, ci = $CI set, watch, default).
fail_on: { hook: error, ci: error, watch: never, default: error }

# valve's own findings about `valve:ignore` markers: one that silenced
# nothing (unused), one past its until= date (expired); never turns one off.
# A marker waives one line, with a reason a reviewer reads and an expiry:
#   retry(3) // valve:ignore[FocusedTests] reason="flaky upstream, #123" until=2027-03-31
suppressions: { unused: info, expired: warning }

personas:
  Guardian:
    description: Secrets and credentials         # shown by `valve personas`
    filters: ["**"]                              # path globs; absent = every path
    exclude:                                     # globs removed from filters
      - "**/*.md"
      # Lockfiles: their integrity hashes are long base64 runs.
      - "package-lock.json"
      - "npm-shrinkwrap.json"
      - "yarn.lock"
      - "pnpm-lock.yaml"
      - "Cargo.lock"
      - "poetry.lock"
      - "Gemfile.lock"
      - "composer.lock"
      - "go.sum"
    triggers:                                    # Rust regexes over the whole file
      - '\bAKIA[0-9A-Z]{16}\b'                   # \b: not inside a longer token
      - '-----BEGIN [A-Z ]*PRIVATE KEY-----'
      - '\bgh[pousr]_[A-Za-z0-9]{36}\b'
    response: security-paranoid                  # free label carried into findings
    severity: critical                           # info | warning | error | critical
    message: Possible credential committed       # text shown with each finding
    scope: changed                               # changed: only added/modified lines; file: every line
    on: [added, modified, renamed]               # change kinds that wake it
    redact: true                                 # never print the matched text
    allow_ignore: false                          # `valve:ignore` cannot silence it
    history: true                                # --base: judge every commit, not just the net change
    owners: ["@your-org/security"]               # who answers for its findings (else CODEOWNERS)
    examples:                                    # checked by `valve test`
      fires: [{ path: src/config.ts, content: 'key = ""#,
    // Split so that valve's own Secrets persona does not fire on this file.
    "AKIA",
    r#"ABCDEFGHIJKLMNOP"' }]
      quiet:
        - { path: src/config.ts, content: 'key = process.env.KEY' }
        - { path: src/logo.ts, content: 'data = "iVBORw0"#,
    "AKIA",
    r#"ABCDEFGHIJKLMNOPxyz"' }
  Debris:
    description: Debug leftovers
    filters: ["*.rs", "*.ts", "*.tsx", "*.js", "*.py", "*.rb"]
    triggers: ['\bdbg!\(', '^\s*debugger;?\s*$', '\bbreakpoint\(\)', '\bbinding\.pry\b']
    severity: warning
    message: Debug statement left in
    examples:
      fires: [{ path: src/a.ts, content: "  debugger;" }]
      quiet: [{ path: src/a.ts, content: "const debuggerEnabled = false;" }]
  FocusedTests:
    description: A focused test silently skips the rest of the suite
    filters: ["**/*.test.*", "**/*.spec.*", "**/test/**", "**/tests/**"]
    triggers: ['\b(?:describe|it|test)\.only\(', '\bfit\(', '\bfdescribe\(']
    severity: error
    enforce_after: 2027-06-30                    # rolled out: reported now, blocks from this date
    require_reason: true                         # a valve:ignore needs reason="..."
    examples:
      fires: [{ path: src/a.test.ts, content: "it.only('works', () => {})" }]
      quiet: [{ path: src/a.test.ts, content: "it('works', () => {})" }]
  Migrations:
    description: A migration needs the schema dump regenerated with it
    when_changed: ["migrations/**", "db/migrate/**"]   # a change rule: judges the change set
    require_changed: ["schema.sql", "db/schema.rb", "**/schema.prisma"]
    on: [added, modified]
    severity: error
    owners: ["@your-org/db"]
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
                    "valve: {}",
                    terminal(&hook::orphan_advice(&orphan, &active))
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

fn doctor(g: &crate::cli::Global) -> Result<u8> {
    use crate::doctor::{self, Level};
    let checks = doctor::checks(
        &cwd()?,
        g.config.as_deref(),
        &doctor::Environment::current(),
    );
    let count = |level| checks.iter().filter(|c| c.level == level).count();
    let failed = count(Level::Fail);
    emit(|out| {
        for c in &checks {
            writeln!(
                out,
                "{:<4} {}: {}",
                c.level.as_str(),
                c.topic,
                terminal(&c.text)
            )?;
        }
        writeln!(
            out,
            "valve doctor: {failed} failed, {} warning{}, {} ok",
            count(Level::Warn),
            if count(Level::Warn) == 1 { "" } else { "s" },
            count(Level::Ok)
        )
    })?;
    Ok(if failed == 0 { EXIT_PASS } else { EXIT_BLOCKED })
}

fn test(g: &crate::cli::Global) -> Result<u8> {
    let ws = with_every_nested(g, check::workspace(&cwd()?, g.config.as_deref(), None)?)?;
    let rules = &ws.rules;
    let matchers = rules.matchers()?;
    let facts = RunFacts {
        matchers: &matchers,
        repo: "",
        timestamp: 0,
        redact_all: false,
        snippets: false,
        commit: None,
        waivers: crate::scan::Waivers {
            today: today()?,
            inline: true,
            whole_files: true,
            unused: None,
            expired: None,
        },
        cache: None,
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
            // A nested persona's example paths are relative to its folder,
            // as its globs are (SPEC §12).
            let path = format!("{}{}", rules.folder_of(pi), example.path);
            let verdict = rules.verdicts(&path, &mut hits).swap_remove(pi);
            let mut fired = Fired::default();
            let mut silenced = 0;
            if verdict.takes {
                let doc = Document {
                    path: &path,
                    old_path: None,
                    kind: ChangeKind::Added,
                    content: Some(example.content.as_bytes()),
                    binary: false,
                    every_line_counts: true,
                    known: None,
                    collect: false,
                };
                silenced =
                    scan::scan(rules, &[pi], &doc, &facts, &mut || None, &mut fired).suppressed;
            }
            let did_fire = fired.first.is_some();
            if did_fire == should_fire {
                passed += 1;
                continue;
            }
            let why = if should_fire {
                quiet_because(p, &verdict, silenced)
            } else {
                fired_because(p, &verdict, fired.first)
            };
            failures.push(format!(
                "{}: expected to {} on {} but it {}: {why}",
                p.name,
                if should_fire { "fire" } else { "stay quiet" },
                example.path,
                if did_fire { "fired" } else { "stayed quiet" }
            ));
        }
    }
    let without: Vec<&str> = rules
        .personas
        .iter()
        .filter(|p| p.examples.fires.is_empty() && p.examples.quiet.is_empty())
        .map(|p| p.name.as_str())
        .collect();
    let unmatched = unmatched_globs(&ws)?;
    emit(|out| {
        for f in &failures {
            writeln!(out, "FAIL {}", terminal(f))?;
        }
        if !without.is_empty() {
            writeln!(out, "note: no examples: {}", terminal(&without.join(", ")))?;
        }
        match &unmatched {
            Unmatched::Checked(globs) => {
                for w in globs {
                    writeln!(out, "warn {}", terminal(w))?;
                }
            }
            Unmatched::Skipped(why) => writeln!(out, "note: {why}")?,
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

/// Why a `fires` example stayed quiet.
fn quiet_because(
    p: &crate::persona::Persona,
    verdict: &crate::ruleset::Verdict,
    silenced: usize,
) -> String {
    let quoted = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (&verdict.filter, &verdict.exclude) {
        (None, _) => format!("no filter takes the path (filters: {})", quoted(&p.filters)),
        (Some(f), Some(x)) => format!("filter `{f}` takes the path but exclude `{x}` removes it"),
        (Some(_), None) if !p.wants(ChangeKind::Added) => {
            "an example is judged as an added file, and `on:` has no `added`".to_string()
        }
        (Some(_), None) if silenced > 0 => {
            "a match is on a line with `valve:ignore`, which silences it".to_string()
        }
        (Some(_), None) => {
            let triggers: Vec<String> = p
                .triggers
                .iter()
                .enumerate()
                .map(|(i, t)| format!("{i} `{}`", t.pattern))
                .collect();
            format!("no trigger matched (triggers: {})", triggers.join(", "))
        }
    }
}

/// Why a `quiet` example fired.
fn fired_because(
    p: &crate::persona::Persona,
    verdict: &crate::ruleset::Verdict,
    first: Option<FirstHit>,
) -> String {
    match first.and_then(|h| Some((h.trigger?, h.line?, h.column?))) {
        Some((t, line, column)) => format!(
            "trigger {t} `{}` matched at {line}:{column}",
            p.triggers.get(t).map(|t| t.pattern.as_str()).unwrap_or("")
        ),
        None => format!(
            "it has no triggers, so a path it takes fires (filter {})",
            match &verdict.filter {
                Some(f) => format!("`{f}`"),
                None => "(none)".to_string(),
            }
        ),
    }
}

/// The globs of `filters` and `exclude` that match no tracked file, or
/// why that could not be checked.
enum Unmatched {
    Checked(Vec<String>),
    Skipped(&'static str),
}

fn unmatched_globs(ws: &check::Workspace) -> Result<Unmatched> {
    let Some(repo) = ws.repo.as_ref() else {
        return Ok(Unmatched::Skipped(
            "not in a git repository: globs are not checked against tracked files",
        ));
    };
    if repo.is_bare() {
        return Ok(Unmatched::Skipped(
            "a bare repository has no index: globs are not checked against tracked files",
        ));
    }
    let tracked = repo.tracked()?;
    if tracked.paths.is_empty() {
        return Ok(Unmatched::Skipped(
            "git tracks no file yet: globs are not checked against tracked files",
        ));
    }
    if tracked.sparse {
        return Ok(Unmatched::Skipped(
            "the index is sparse: globs are not checked against tracked files",
        ));
    }
    // Every glob of every persona in one set, each form pointing back at
    // its (persona, role, pattern).
    let mut builder = globset::GlobSetBuilder::new();
    let mut owners: Vec<usize> = Vec::new();
    let mut globs: Vec<(usize, &'static str, &str)> = Vec::new();
    for (pi, p) in ws.rules.personas.iter().enumerate() {
        let roles = p
            .filters
            .iter()
            .map(|f| ("filter", f))
            .chain(p.exclude.iter().map(|x| ("exclude", x)));
        for (role, pattern) in roles {
            let id = globs.len();
            globs.push((pi, role, pattern.as_str()));
            for form in crate::persona::gitignore_globs(pattern) {
                if let Ok(g) = crate::persona::glob(&form) {
                    builder.add(g);
                    owners.push(id);
                }
            }
        }
    }
    let set = builder.build().map_err(|e| {
        Error::usage(
            format!("the globs could not be combined: {e}"),
            Some("`valve personas` lists them".to_string()),
        )
    })?;
    let mut used = vec![false; globs.len()];
    let mut scratch = Vec::new();
    for path in &tracked.paths {
        set.matches_candidate_into(&globset::Candidate::new(path), &mut scratch);
        for &h in &scratch {
            used[owners[h]] = true;
        }
    }
    // One line per persona and role: a list of lockfiles to exclude "in
    // case" stays one line.
    let mut lines: Vec<String> = Vec::new();
    let mut last: Option<(usize, &str)> = None;
    for ((pi, role, pattern), used) in globs.iter().zip(&used) {
        if *used {
            continue;
        }
        if last == Some((*pi, *role)) {
            if let Some(l) = lines.last_mut() {
                l.push_str(&format!(", `{pattern}`"));
            }
        } else {
            lines.push(format!(
                "{}: no tracked file matches {role} `{pattern}`",
                ws.rules.personas[*pi].name
            ));
            last = Some((*pi, *role));
        }
    }
    Ok(Unmatched::Checked(lines))
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

/// Where a hit was, for `valve test`'s reasons.
#[derive(Debug, Clone, Copy)]
struct FirstHit {
    trigger: Option<usize>,
    line: Option<u32>,
    column: Option<u32>,
}

/// A sink that only notes the first hit (`valve test`).
#[derive(Default)]
struct Fired {
    first: Option<FirstHit>,
}

impl scan::Sink for Fired {
    fn wants_fingerprints(&self) -> bool {
        false
    }

    fn count(&mut self, hit: &scan::Hit<'_>) -> bool {
        self.first.get_or_insert(FirstHit {
            trigger: hit.trigger,
            line: hit.line,
            column: hit.column,
        });
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
