//! The only place that knows clap: flags and subcommands, and their
//! translation into plain `check::Options`.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::changeset::Selection;
use crate::check::BaselineChoice;
use crate::render::Format;
use crate::severity::{SEVERITY_WORDS, Severity, Threshold};

/// The exit codes each command states at the end of its `--help`.
const EXIT_CHECK: &str = "Exit codes:
  0  no unsuppressed finding at or above the threshold
  1  a blocking finding (the last line says what blocked and how to waive it)
  2  usage, config, git or I/O error";
const EXIT_WATCH: &str = "Exit codes:
  0  stopped by Ctrl-C or SIGTERM (findings never end it)
  2  usage, config, git or I/O error";
const EXIT_DONE: &str = "Exit codes:
  0  done
  2  usage, config, git or I/O error";
const EXIT_INIT: &str = "Exit codes:
  0  written
  2  a config already exists, or a usage, git or I/O error";
const EXIT_TEST: &str = "Exit codes:
  0  every example behaves (unmatched globs are warnings)
  1  an example failed
  2  usage, config, git or I/O error";
const EXIT_HOOK: &str = "Exit codes:
  0  done; for `status`: valve's pre-commit hook is where git runs hooks
  1  `status` only: it is not
  2  usage, git or I/O error, or a hook that is not valve's is in the way";
const EXIT_DOCTOR: &str = "Exit codes:
  0  every check is ok or a warning
  1  a check failed
  2  usage or I/O error";
const EXIT_MERGE: &str = "Exit codes:
  0  the merged reports hold no finding at or above the strictest threshold
  1  a blocking finding
  2  a report is missing, is not a valve json report, or judged another change set";
const EXIT_ALL: &str = "Exit codes:
  0  pass, or done
  1  check, merge: a blocking finding; test: a failed example; doctor: a failed check;
     hook status: no valve pre-commit hook where git runs hooks
  2  usage, config, git or I/O error
`valve COMMAND --help` shows each command's own.";

#[derive(Debug, Parser)]
#[command(
    name = "valve",
    version,
    about = "A git hook and CI gate: personas in .sage/valve.yml judge what changed",
    arg_required_else_help = true,
    propagate_version = true,
    after_help = EXIT_ALL
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Listed after each command's own options in its `--help`.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Use this config instead of .sage/valve.yml
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// When to colour human output (`always` beats NO_COLOR; NO_COLOR beats `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only the summary and verdict
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// List skipped files and more detail
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Worker threads for evaluation, 1 to 1024 (default: one per core)
    #[arg(long, global = true, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge changed files; exit 1 when a finding is at or above the threshold
    #[command(after_help = EXIT_CHECK)]
    Check(CheckArgs),
    /// Judge the work tree on every save: print what is new and what is resolved
    #[command(after_help = EXIT_WATCH)]
    Watch(WatchArgs),
    /// List the personas of the config, with what wakes each and how serious it is
    #[command(after_help = EXIT_DONE)]
    Personas,
    /// Say which personas take each path, and why (git's ignore rules and
    /// the config's `ignore` applied as `check` applies them)
    #[command(after_help = EXIT_DONE)]
    Explain {
        /// Paths to explain (need not exist)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Write a commented starter .sage/valve.yml (never overwrites)
    #[command(after_help = EXIT_INIT)]
    Init {
        /// Also install the pre-commit hook
        #[arg(long)]
        hook: bool,
    },
    /// Install, remove or show valve's git hooks
    #[command(after_help = EXIT_HOOK)]
    Hook {
        #[command(subcommand)]
        action: HookAction,
    },
    /// Check every persona's `examples`, say why one failed, and warn
    /// about globs that match no tracked file
    #[command(after_help = EXIT_TEST)]
    Test,
    /// Join the json reports of shards (`check --shard I/N`) into one
    /// report and verdict
    #[command(after_help = EXIT_MERGE)]
    Merge(MergeArgs),
    /// Check that valve will really run here: config, hooks, the valve on
    /// PATH, the repository's format
    #[command(after_help = EXIT_DOCTOR)]
    Doctor,
    /// Print the JSON Schema of valve.yml (for editors)
    #[command(after_help = EXIT_DONE)]
    Schema,
    /// Print shell completions
    #[command(after_help = EXIT_DONE)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Record current findings in .sage/valve-baseline.json
    #[command(after_help = EXIT_DONE)]
    Baseline {
        #[command(flatten)]
        mode: ModeArgs,
        #[command(flatten)]
        narrow: Narrow,
        /// Write the baseline here instead of .sage/valve-baseline.json
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The repository (or a folder in it) to watch
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Quiet time before a burst of events is judged, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub debounce: u64,
    /// Stream format
    #[arg(long, value_enum, default_value_t = WatchFormat::Human)]
    pub format: WatchFormat,
    /// Also append every event, as ndjson, to FILE
    #[arg(long, value_name = "FILE")]
    pub chronicle: Option<PathBuf>,
    /// Clear the screen before each batch (human format)
    #[arg(long)]
    pub clear: bool,
    /// Mark findings at this severity or above as blocking
    #[arg(long, value_name = "LEVEL", ignore_case = true, value_parser = threshold_parser())]
    pub fail_on: Option<Threshold>,
    #[command(flatten)]
    pub narrow: Narrow,
    /// Never print matched text
    #[arg(long)]
    pub redact: bool,
}

/// `--persona` and `--min-severity` (SPEC §14): what is judged at all.
#[derive(Debug, Args, Clone, Default)]
pub struct Narrow {
    /// Judge with this persona only (repeatable; default: every persona)
    #[arg(long = "persona", value_name = "NAME", value_hint = clap::ValueHint::Other)]
    pub personas: Vec<String>,
    /// Judge only personas of this severity or above
    #[arg(long, value_name = "LEVEL", ignore_case = true, value_parser = severity_parser())]
    pub min_severity: Option<Severity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WatchFormat {
    Human,
    Ndjson,
}

#[derive(Debug, Subcommand)]
pub enum HookAction {
    /// Install the pre-commit and pre-merge-commit hooks where git runs
    /// hooks (core.hooksPath aware)
    #[command(after_help = EXIT_HOOK)]
    Install {
        /// Also install the pre-push hook
        #[arg(long)]
        pre_push: bool,
        /// Install the pre-receive hook, for a server's repository (a bare
        /// repository gets only this one)
        #[arg(long)]
        pre_receive: bool,
        /// Replace a hook that is not valve's, keeping it as <name>.valve-backup
        #[arg(long)]
        force: bool,
    },
    /// Remove valve's hooks and restore any backup
    #[command(after_help = EXIT_HOOK)]
    Uninstall,
    /// Say which hooks are installed where, and name valve hooks left
    /// where git no longer runs hooks; exit 1 when valve's pre-commit hook
    /// is not where git runs hooks
    #[command(after_help = EXIT_HOOK)]
    Status,
    /// Print a shipped hook script, for hook managers (lefthook, husky) to
    /// run: `sh -c "$(valve hook print pre-push)" pre-push "$@"`
    #[command(after_help = EXIT_HOOK)]
    Print {
        #[arg(value_enum)]
        hook: HookName,
    },
}

/// The hooks valve ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookName {
    PreCommit,
    PreMergeCommit,
    PrePush,
    PreReceive,
}

impl HookName {
    pub fn kind(self) -> crate::hook::Kind {
        use crate::hook::Kind;
        match self {
            HookName::PreCommit => Kind::PreCommit,
            HookName::PreMergeCommit => Kind::PreMergeCommit,
            HookName::PrePush => Kind::PrePush,
            HookName::PreReceive => Kind::PreReceive,
        }
    }
}

#[derive(Debug, Args, Clone)]
#[command(group = clap::ArgGroup::new("range").args(["base", "root"]).multiple(false))]
pub struct ModeArgs {
    /// Index vs HEAD, read from the index (the pre-commit hook)
    #[arg(long, conflicts_with_all = ["base", "worktree", "all"])]
    pub staged: bool,
    /// Judge merge-base(BASE, HEAD)..HEAD (CI on a pull request); personas
    /// with `history: true` judge each commit of it
    #[arg(long, value_name = "REV", conflicts_with_all = ["worktree", "all", "root"])]
    pub base: Option<String>,
    /// Like --base, from the empty tree: HEAD's whole tree is added, and
    /// history personas judge every commit reachable from HEAD (a history
    /// no remote has seen: a first push, an orphan branch)
    #[arg(long, conflicts_with_all = ["staged", "worktree", "all"])]
    pub root: bool,
    /// The head revision for --base or --root
    #[arg(long, value_name = "REV", requires = "range")]
    pub head: Option<String>,
    /// Work tree vs HEAD, untracked files included (the default in git)
    #[arg(long, conflicts_with = "all")]
    pub worktree: bool,
    /// Every file under the root, respecting .gitignore
    #[arg(long)]
    pub all: bool,
    /// Files or directories to judge whole
    #[arg(value_name = "PATH", conflicts_with_all = ["staged", "base", "root", "worktree", "all"])]
    pub paths: Vec<PathBuf>,
    /// With --base: whose config and baseline judge the range: the head's,
    /// the merge base's, or both (a change can tighten the gate, never loosen it)
    #[arg(long, value_enum, value_name = "FROM", default_value_t = PolicyArg::Both, requires = "range")]
    pub policy: PolicyArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    Head,
    Base,
    Both,
}

impl PolicyArg {
    pub fn mode(self) -> crate::check::PolicyMode {
        match self {
            PolicyArg::Head => crate::check::PolicyMode::Head,
            PolicyArg::Base => crate::check::PolicyMode::Base,
            PolicyArg::Both => crate::check::PolicyMode::Both,
        }
    }
}

impl ModeArgs {
    pub fn selection(&self, default: Selection) -> Selection {
        if self.staged {
            Selection::Staged
        } else if self.base.is_some() || self.root {
            Selection::Range {
                base: self.base.clone(),
                head: self.head.clone().unwrap_or_else(|| "HEAD".to_string()),
            }
        } else if self.worktree {
            Selection::Worktree
        } else if self.all {
            Selection::All
        } else if !self.paths.is_empty() {
            Selection::Paths(self.paths.clone())
        } else {
            default
        }
    }
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The json reports (`valve check --format json`) of one change set
    #[arg(required = true, value_name = "REPORT.json")]
    pub files: Vec<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to FILE (a one-line summary still goes to stderr)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the merged report in FORMAT to PATH (repeatable)
    #[arg(long, value_name = "FORMAT=PATH", value_parser = parse_report)]
    pub report: Vec<(Format, PathBuf)>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub mode: ModeArgs,
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to FILE (a one-line summary still goes to stderr)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the same run's report in FORMAT to PATH (repeatable),
    /// e.g. `--report sarif=valve.sarif --report markdown=summary.md`
    #[arg(long, value_name = "FORMAT=PATH", value_parser = parse_report)]
    pub report: Vec<(Format, PathBuf)>,
    /// Block at this severity or above (aliases: note, warn, halt, HALT_EVERYTHING)
    #[arg(long, value_name = "LEVEL", ignore_case = true, value_parser = threshold_parser())]
    pub fail_on: Option<Threshold>,
    #[command(flatten)]
    pub narrow: Narrow,
    /// Use this baseline file
    #[arg(long, value_name = "FILE", conflicts_with = "no_baseline")]
    pub baseline: Option<PathBuf>,
    /// Ignore .sage/valve-baseline.json
    #[arg(long)]
    pub no_baseline: bool,
    /// Never print matched text (as if every persona had `redact: true`)
    #[arg(long)]
    pub redact: bool,
    /// Make every inline `valve:ignore` void for this run (the markers are
    /// still listed): for CI on changes you do not trust
    #[arg(long)]
    pub no_inline_ignore: bool,
    /// Judge only the changes of shard I of N (a CI matrix job); join the
    /// shards' json reports with `valve merge`
    #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse)]
    pub shard: Option<crate::shard::Shard>,
    /// Keep the raw trigger matches of each file content in DIR, so an
    /// unchanged file is not searched again (speed only: results are the same)
    #[arg(long, value_name = "DIR", env = crate::cache::ENV, value_hint = clap::ValueHint::DirPath, value_parser = clap::builder::ValueParser::os_string())]
    pub cache: Option<std::ffi::OsString>,
    /// Largest size of the --cache folder; least recently used entries go
    /// first [default: 256MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_cache_max)]
    pub cache_max: Option<u64>,
    /// Files smaller than SIZE are searched rather than looked up in the
    /// --cache folder [default: 64KiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_cache_max)]
    pub cache_min: Option<u64>,
}

/// `--cache-max`, `--cache-min`: a size as config's `max_file_size` reads it (`1KiB`, `256MiB`).
fn parse_cache_max(s: &str) -> Result<u64, String> {
    crate::config::parse_size(s.trim())
        .ok_or_else(|| format!("`{s}` is not a size: write e.g. 512MiB, 1GiB or 1048576"))
}

impl CheckArgs {
    /// The result cache asked for (SPEC §12); an empty `VALVE_CACHE_DIR`
    /// asks for none.
    pub fn cache_spec(&self) -> Option<crate::cache::Spec> {
        let dir = self.cache.clone().filter(|d| !d.is_empty())?;
        Some(crate::cache::Spec {
            dir: PathBuf::from(dir),
            max: self.cache_max.unwrap_or(crate::cache::DEFAULT_MAX),
            min: self.cache_min.unwrap_or(crate::cache::DEFAULT_MIN),
            memory: None,
        })
    }

    pub fn baseline(&self) -> BaselineChoice {
        match (&self.baseline, self.no_baseline) {
            (_, true) => BaselineChoice::Off,
            (Some(p), false) => BaselineChoice::File(p.clone()),
            (None, false) => BaselineChoice::Default,
        }
    }
}

/// The most worker threads `--threads` accepts (SPEC §6).
pub const MAX_THREADS: usize = 1024;

/// `--threads`: a whole number from 1 to [`MAX_THREADS`]. Checked here, at
/// the edge, so no later code ever tries to start 0 or a million threads;
/// a value that overflows is the same usage error as one that is too large.
fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<u64>() {
        Ok(n) if (1..=MAX_THREADS as u64).contains(&n) => Ok(n as usize),
        _ => Err(format!(
            "a thread count is a whole number from 1 to {MAX_THREADS}"
        )),
    }
}

fn parse_report(s: &str) -> Result<(Format, PathBuf), String> {
    let Some((format, path)) = s.split_once('=') else {
        return Err(format!("`{s}` is not FORMAT=PATH (e.g. sarif=valve.sarif)"));
    };
    let format = Format::from_str(format, true).map_err(|_| {
        format!("`{format}` is not a format: human, json, ndjson, sarif, github or markdown")
    })?;
    if path.is_empty() {
        return Err(format!("`{s}` names no file after `=`"));
    }
    Ok((format, PathBuf::from(path)))
}

/// The severity words as clap's possible values: the four canonical ones
/// (what completions offer and `--help` lists), each with the aliases
/// `Severity::parse` accepts (SEVERITY_WORDS), matched case-insensitively
/// because the args set `ignore_case`.
fn severity_values() -> Vec<PossibleValue> {
    Severity::ALL
        .iter()
        .map(|s| {
            let aliases = SEVERITY_WORDS
                .iter()
                .filter(|w| !w.eq_ignore_ascii_case(s.as_str()) && Severity::parse(w) == Some(*s));
            PossibleValue::new(s.as_str()).aliases(aliases.copied())
        })
        .collect()
}

/// `--min-severity`: info, warning, error or critical, or an alias.
fn severity_parser() -> impl TypedValueParser<Value = Severity> {
    PossibleValuesParser::new(severity_values())
        .try_map(|word| Severity::parse(&word).ok_or_else(|| format!("`{word}` is not a severity")))
}

/// `--fail-on`: a severity or `never`.
fn threshold_parser() -> impl TypedValueParser<Value = Threshold> {
    let mut values = severity_values();
    values.push(PossibleValue::new("never"));
    PossibleValuesParser::new(values).try_map(|word| {
        Threshold::parse(&word).ok_or_else(|| format!("`{word}` is not a threshold"))
    })
}

#[cfg(test)]
mod tests {
    use super::parse_threads;

    #[test]
    fn threads_accepts_one_to_1024() {
        assert_eq!(parse_threads("1"), Ok(1));
        assert_eq!(parse_threads("1024"), Ok(1024));
    }

    #[test]
    fn threads_rejects_zero_too_many_and_overflow() {
        for bad in [
            "0",
            "1025",
            "100000",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "",
            " 4",
            "four",
        ] {
            assert!(parse_threads(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
