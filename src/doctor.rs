//! `valve doctor` (SPEC §14): will valve really run here? Each check is
//! one line, `ok`, `warn` or `FAIL`, with what to do. Nothing here fails
//! the run itself: what cannot be read is a failed check, said as such.
//!
//! valve never runs a program, so the `valve` on `PATH` is found by
//! searching `PATH` as `sh` does and is compared with this binary by
//! file identity; its version is read from the version stamp every valve
//! binary carries (`VERSION_STAMP`), never by running it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::git::{self, Repo};
use crate::hook::{self, Kind, State};

/// Every valve binary holds this text once, so another valve's version can
/// be read from its bytes. The search takes its prefix from this same
/// text, so no other copy of the prefix is in the binary.
pub static VERSION_STAMP: &str = concat!("\0valve-version-stamp:", env!("CARGO_PKG_VERSION"), "\0");

/// A binary larger than this is not searched for a stamp.
const MAX_BINARY: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    pub level: Level,
    pub topic: &'static str,
    pub text: String,
}

fn check(level: Level, topic: &'static str, text: impl Into<String>) -> Check {
    Check {
        level,
        topic,
        text: text.into(),
    }
}

/// What the process runs in: `PATH` and this binary, passed in so that
/// the checks are plain functions of them.
#[derive(Debug, Clone)]
pub struct Environment {
    pub path: Option<OsString>,
    pub exe: Option<PathBuf>,
}

impl Environment {
    pub fn current() -> Environment {
        Environment {
            path: std::env::var_os("PATH"),
            exe: std::env::current_exe().ok(),
        }
    }
}

/// Every check, in the order they are printed.
pub fn checks(cwd: &Path, config: Option<&Path>, env: &Environment) -> Vec<Check> {
    let mut out = Vec::new();
    let repo = match git::discover(cwd) {
        Ok(repo) => repo,
        Err(e) => {
            out.push(check(
                Level::Fail,
                "config",
                "not checked: the repository cannot be opened (see `repository`)",
            ));
            out.push(check(
                Level::Fail,
                "hooks",
                "not checked: the repository cannot be opened",
            ));
            out.push(path_valve(env, None, false));
            out.push(check(Level::Fail, "repository", summary(&e)));
            return out;
        }
    };
    out.push(config_check(cwd, config, repo.as_ref()));
    let mut expected = None;
    let mut hooks_installed = false;
    match &repo {
        None => out.push(check(
            Level::Ok,
            "hooks",
            "do not apply: not in a git repository (`valve check PATH` and `--all` work here)",
        )),
        Some(repo) => match hook_checks(repo) {
            Ok(h) => {
                expected = h.version;
                hooks_installed = h.installed;
                out.extend(h.lines);
            }
            Err(e) => out.push(check(Level::Fail, "hooks", summary(&e))),
        },
    }
    out.push(path_valve(env, expected.as_deref(), hooks_installed));
    out.push(match &repo {
        None => check(
            Level::Ok,
            "repository",
            "does not apply: not in a git repository",
        ),
        Some(repo) => repository_check(repo),
    });
    out
}

/// An error in one line: its message and its help.
fn summary(e: &Error) -> String {
    use miette::Diagnostic;
    let text = match e {
        Error::Config(errors) => {
            let first = errors
                .issues
                .first()
                .map(|i| format!("; the first: {}", i.title))
                .unwrap_or_default();
            format!("{e}{first}; `valve personas` shows each at its line and column")
        }
        _ => e.to_string(),
    };
    match e.help().filter(|_| !matches!(e, Error::Config(_))) {
        Some(help) => format!("{text}; {help}"),
        None => text,
    }
}

fn config_check(cwd: &Path, config: Option<&Path>, repo: Option<&Repo>) -> Check {
    // A server's repository reads the config from the pushed head's tree.
    let unborn_bare =
        repo.is_some_and(|r| r.is_bare() && r.probe().is_ok_and(|p| p.head.is_none()));
    if unborn_bare && config.is_none() {
        return check(
            Level::Warn,
            "config",
            "not checked: this bare repository has no commit yet; pre-receive reads .sage/valve.yml from each pushed commit",
        );
    }
    // Every nested config of the work tree (SPEC §12) is checked too.
    let ws = match crate::check::workspace(cwd, config, None).and_then(|ws| match config {
        Some(_) => Ok(ws),
        None => crate::nested::for_commands(ws, cwd),
    }) {
        Ok(ws) => ws,
        Err(e) => return check(Level::Fail, "config", summary(&e)),
    };
    if let Err(e) = ws.rules.matchers() {
        return check(Level::Fail, "config", summary(&Error::Config(e)));
    }
    let path = ws
        .config_path
        .strip_prefix(&ws.root)
        .unwrap_or(&ws.config_path)
        .display()
        .to_string();
    let n = ws.rules.personas.len();
    let nested = ws.rules.nested_paths().count();
    let nested = match nested {
        0 => String::new(),
        1 => " (1 nested config)".to_string(),
        k => format!(" ({k} nested configs)"),
    };
    let loads = format!(
        "{path} loads: {n} persona{}{nested}",
        if n == 1 { "" } else { "s" }
    );
    match ws.rules.warnings.first() {
        None if n == 0 => check(
            Level::Warn,
            "config",
            format!("{loads}, so nothing is ever judged; add personas (see `valve init`)"),
        ),
        None => check(Level::Ok, "config", loads),
        Some(first) => check(
            Level::Warn,
            "config",
            format!(
                "{loads}, with {} warning{}: {first}",
                ws.rules.warnings.len(),
                if ws.rules.warnings.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ),
        ),
    }
}

struct HookChecks {
    lines: Vec<Check>,
    /// The version the gate hook records.
    version: Option<String>,
    /// A valve hook is where git runs hooks (so it needs `valve` on PATH).
    installed: bool,
}

fn hook_checks(repo: &Repo) -> crate::error::Result<HookChecks> {
    let active = repo.hooks_dir()?;
    let configured = !same_path(&active, &repo.common_dir().join("hooks"));
    let place = if configured {
        format!("{} (core.hooksPath)", active.display())
    } else {
        active.display().to_string()
    };
    let mut lines = Vec::new();
    // The gate: pre-commit in a work tree, pre-receive on a server.
    let (gate, fix) = if repo.is_bare() {
        (Kind::PreReceive, "valve hook install --pre-receive")
    } else {
        (Kind::PreCommit, "valve hook install")
    };
    let st = hook::status(repo, gate)?;
    let mut version = None;
    let mut installed = false;
    lines.push(match st.state {
        State::Valve if !hook::is_executable(&st.path) => check(
            Level::Fail,
            "hooks",
            format!(
                "valve's {} at {} is not executable, so git skips it; fix: `chmod +x {}`",
                gate.name(),
                st.path.display(),
                st.path.display()
            ),
        ),
        State::Valve => {
            installed = true;
            version = hook::recorded_version(&st.path);
            check(
                Level::Ok,
                "hooks",
                format!("valve's {} is where git runs hooks: {place}", gate.name()),
            )
        }
        State::Foreign if mentions_valve(&st.path) => {
            installed = true;
            check(
                Level::Warn,
                "hooks",
                format!(
                    "the {} git runs ({}) is another tool's and mentions valve: make sure it runs `valve check --staged`",
                    gate.name(),
                    st.path.display()
                ),
            )
        }
        State::Foreign => check(
            Level::Fail,
            "hooks",
            format!(
                "the {} git runs ({}) is not valve's and never calls valve; fix: add `valve check --staged` to it, or `{fix} --force` (keeps it as {}.valve-backup)",
                gate.name(),
                st.path.display(),
                st.path.display()
            ),
        ),
        State::Absent => check(
            Level::Fail,
            "hooks",
            format!(
                "no {} hook where git runs hooks ({place}); fix: `{fix}`",
                gate.name()
            ),
        ),
    });
    if !repo.is_bare() && st.state == State::Valve {
        let merge = hook::status(repo, Kind::PreMergeCommit)?;
        if merge.state == State::Absent {
            lines.push(check(
                Level::Warn,
                "hooks",
                "no pre-merge-commit hook: merge commits of `git merge` are not judged; fix: `valve hook install`",
            ));
        }
    }
    for orphan in hook::orphans(repo)? {
        lines.push(check(
            Level::Warn,
            "hooks",
            hook::orphan_advice(&orphan, &active),
        ));
    }
    Ok(HookChecks {
        lines,
        version,
        installed,
    })
}

fn mentions_valve(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| memchr::memmem::find(&b, b"valve").is_some())
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The first executable `valve` on `path`, as `sh`'s `command -v` finds it.
pub fn find_on_path(path: Option<&OsString>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = path?;
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join("valve"))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether two paths are the same file (after links).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// This binary's version, read from its own stamp.
pub fn own_version() -> &'static str {
    VERSION_STAMP
        .split_once(':')
        .map(|(_, v)| v.trim_end_matches('\0'))
        .unwrap_or(env!("CARGO_PKG_VERSION"))
}

/// The version another valve binary records in its stamp, read from its
/// bytes; `None` when it has none (not valve, or a valve older than the
/// stamp).
pub fn stamped_version(bytes: &[u8]) -> Option<String> {
    let (prefix, _) = VERSION_STAMP.split_once(':')?;
    let mut needle = prefix.as_bytes().to_vec();
    needle.push(b':');
    let at = memchr::memmem::find(bytes, &needle)? + needle.len();
    let rest = &bytes[at..];
    let end = memchr::memchr(0, rest)?.min(64);
    let version = std::str::from_utf8(&rest[..end]).ok()?;
    let plain = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c));
    plain.then(|| version.to_string())
}

fn read_stamp(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_BINARY {
        return None;
    }
    stamped_version(&std::fs::read(path).ok()?)
}

/// The `valve` that git's hooks will run: found on `PATH`, the same file
/// as this one or not, and of the version the installed hook records
/// (else this binary's).
fn path_valve(env: &Environment, expected: Option<&str>, needed: bool) -> Check {
    let own = own_version();
    let want = expected.unwrap_or(own);
    let whose = if expected.is_some() {
        "the hook's"
    } else {
        "this valve's"
    };
    let Some(found) = find_on_path(env.path.as_ref()) else {
        let (level, why) = if needed {
            (
                Level::Fail,
                "valve's hook refuses every commit until there is one",
            )
        } else {
            (
                Level::Warn,
                "hooks and scripts that call `valve` will not find it",
            )
        };
        return check(
            level,
            "valve",
            format!("no `valve` on PATH: {why}; fix: install valve, or put its folder on PATH"),
        );
    };
    let shown = found.display();
    if env.exe.as_deref().is_some_and(|exe| same_file(exe, &found)) {
        return if own == want {
            check(
                Level::Ok,
                "valve",
                format!("{shown} on PATH is this valve ({own})"),
            )
        } else {
            check(
                Level::Warn,
                "valve",
                format!(
                    "{shown} on PATH is this valve ({own}); the hook was installed by valve {want}: `valve hook install` refreshes it"
                ),
            )
        };
    }
    match read_stamp(&found) {
        Some(v) if v == want => check(
            Level::Ok,
            "valve",
            format!(
                "{shown} on PATH is valve {v}, {whose} version (not this binary{})",
                env.exe
                    .as_ref()
                    .map(|e| format!(", {}", e.display()))
                    .unwrap_or_default()
            ),
        ),
        Some(v) => check(
            Level::Fail,
            "valve",
            format!(
                "{shown} on PATH is valve {v}, but {whose} version is {want}; fix: install valve {want} there, or run `valve hook install` with the valve you mean"
            ),
        ),
        None => check(
            Level::Warn,
            "valve",
            format!(
                "{shown} on PATH is not this binary and records no version (not valve, or a valve from before version stamps); {whose} version is {want}"
            ),
        ),
    }
}

fn repository_check(repo: &Repo) -> Check {
    match repo.probe() {
        Ok(p) => {
            let head = match &p.head {
                Some(id) => format!("HEAD at {}", &id[..id.len().min(12)]),
                None => "no commit yet".to_string(),
            };
            let index = match p.index_entries {
                Some(n) => format!(
                    ", index read ({n} entr{})",
                    if n == 1 { "y" } else { "ies" }
                ),
                None => ", bare (no index)".to_string(),
            };
            check(
                Level::Ok,
                "repository",
                format!("readable: {} objects, {head}{index}", p.object_format),
            )
        }
        Err(e) => check(Level::Fail, "repository", summary(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_version_is_the_crate_version() {
        assert_eq!(own_version(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn a_stamp_is_found_in_a_binary() {
        let mut bytes = b"\x7fELF junk".to_vec();
        bytes.extend_from_slice(b"\0valve-version-stamp:1.2.3\0more");
        assert_eq!(stamped_version(&bytes).as_deref(), Some("1.2.3"));
    }

    #[test]
    fn no_stamp_or_a_strange_one_is_no_version() {
        assert_eq!(stamped_version(b"#!/bin/sh\necho valve 0.1.0\n"), None);
        assert_eq!(stamped_version(b"\0valve-version-stamp:1.0; rm\0"), None);
        assert_eq!(stamped_version(b"\0valve-version-stamp:1.0"), None);
    }

    #[test]
    fn path_search_skips_folders_and_files_that_do_not_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let c = dir.path().join("c");
        for d in [&a, &b, &c] {
            std::fs::create_dir(d).expect("mkdir");
        }
        std::fs::create_dir(a.join("valve")).expect("a folder named valve");
        std::fs::write(b.join("valve"), "x").expect("write");
        std::fs::write(c.join("valve"), "x").expect("write");
        std::fs::set_permissions(c.join("valve"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let path = std::env::join_paths([&a, &b, &c]).expect("join");
        assert_eq!(find_on_path(Some(&path)), Some(c.join("valve")));
        assert_eq!(find_on_path(None), None);
    }
}
