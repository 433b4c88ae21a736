//! `valve hook install|uninstall|status`: put valve's hooks where git will
//! run them, never lose a hook that was there before.
//!
//! A hook is valve's when it carries the `# valve-hook:` marker. A foreign
//! hook is replaced only with `--force`, and then kept as
//! `<name>.valve-backup`, which `uninstall` puts back. Writes are atomic
//! (temp file in the same folder, then rename) with the run bit set.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::git::Repo;

/// The marker that identifies valve's hooks.
pub const MARKER: &str = "# valve-hook:";

/// The line `install` adds after the marker: which valve installed the
/// hook, so that `valve doctor` can compare it with the valve on PATH.
pub const VERSION_MARKER: &str = "# valve-version:";

/// The hooks valve ships (the files in `hooks/`).
pub const PRE_COMMIT: &str = include_str!("../hooks/pre-commit");
pub const PRE_MERGE_COMMIT: &str = include_str!("../hooks/pre-merge-commit");
pub const PRE_PUSH: &str = include_str!("../hooks/pre-push");
pub const PRE_RECEIVE: &str = include_str!("../hooks/pre-receive");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PreCommit,
    /// git runs it instead of pre-commit for a merge commit of `git merge`.
    PreMergeCommit,
    PrePush,
    /// For a server's repository.
    PreReceive,
}

impl Kind {
    /// Every hook valve ships, in the order they are listed.
    pub const ALL: [Kind; 4] = [
        Kind::PreCommit,
        Kind::PreMergeCommit,
        Kind::PrePush,
        Kind::PreReceive,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::PreCommit => "pre-commit",
            Kind::PreMergeCommit => "pre-merge-commit",
            Kind::PrePush => "pre-push",
            Kind::PreReceive => "pre-receive",
        }
    }

    /// The script as `install` writes it: the shipped one with a
    /// `# valve-version:` line after its marker line.
    pub fn installed_script(self) -> String {
        let script = self.script();
        let marker = format!("{MARKER} {}\n", self.name());
        let stamp = format!("{VERSION_MARKER} {}\n", env!("CARGO_PKG_VERSION"));
        match script.find(&marker) {
            Some(at) => {
                let end = at + marker.len();
                format!("{}{stamp}{}", &script[..end], &script[end..])
            }
            None => format!("{script}{stamp}"),
        }
    }

    /// The shipped script.
    pub fn script(self) -> &'static str {
        match self {
            Kind::PreCommit => PRE_COMMIT,
            Kind::PreMergeCommit => PRE_MERGE_COMMIT,
            Kind::PrePush => PRE_PUSH,
            Kind::PreReceive => PRE_RECEIVE,
        }
    }
}

/// What is at a hook's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Absent,
    Valve,
    Foreign,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub kind: Kind,
    pub path: PathBuf,
    pub state: State,
    pub backup: Option<PathBuf>,
}

fn backup_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".valve-backup");
    path.with_file_name(name)
}

fn state_of(path: &Path) -> Result<State> {
    match fs::read(path) {
        Ok(bytes) => Ok(if String::from_utf8_lossy(&bytes).contains(MARKER) {
            State::Valve
        } else {
            State::Foreign
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink is still something we must not clobber.
            if fs::symlink_metadata(path).is_ok() {
                Ok(State::Foreign)
            } else {
                Ok(State::Absent)
            }
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

pub fn status(repo: &Repo, kind: Kind) -> Result<Status> {
    status_in(&repo.hooks_dir()?, kind)
}

fn status_in(dir: &Path, kind: Kind) -> Result<Status> {
    let path = dir.join(kind.name());
    let backup = backup_path(&path);
    Ok(Status {
        kind,
        state: state_of(&path)?,
        backup: backup.exists().then_some(backup),
        path,
    })
}

/// valve's hooks in folders git does not run hooks from: the repository's
/// own hooks folders (`.git/hooks`, a linked worktree's private one) when
/// `core.hooksPath` points elsewhere, as husky and lefthook set it.
pub fn orphans(repo: &Repo) -> Result<Vec<Status>> {
    let active = repo.hooks_dir()?;
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in [
        repo.common_dir().join("hooks"),
        repo.git_dir().join("hooks"),
    ] {
        if !same(&dir, &active) && !dirs.iter().any(|d| same(d, &dir)) {
            dirs.push(dir);
        }
    }
    let mut out = Vec::new();
    for dir in dirs {
        for kind in Kind::ALL {
            let st = status_in(&dir, kind)?;
            if st.state == State::Valve {
                out.push(st);
            }
        }
    }
    Ok(out)
}

/// The version a valve hook records (`# valve-version: X.Y.Z`), if any.
pub fn recorded_version(path: &Path) -> Option<String> {
    let bytes = fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .find_map(|l| l.strip_prefix(VERSION_MARKER))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether git would run the file: git skips a hook without a run bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What to say of a valve hook that git never runs, and the commands that
/// fix it (`valve hook status` and `valve doctor` say the same).
pub fn orphan_advice(orphan: &Status, active: &Path) -> String {
    format!(
        "valve's {} at {} never runs: git runs hooks from {} (core.hooksPath); fix: `valve hook install`{}, then `rm {}`",
        orphan.kind.name(),
        orphan.path.display(),
        active.display(),
        match orphan.kind {
            Kind::PrePush => " --pre-push",
            Kind::PreReceive => " --pre-receive",
            Kind::PreCommit | Kind::PreMergeCommit => "",
        },
        orphan.path.display()
    )
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    Fresh,
    Updated,
    ReplacedWithBackup(PathBuf),
}

/// Writes `content` to `path` atomically, executable, never through a link.
fn write_atomic(path: &Path, content: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    crate::ownfile::write_fixed(
        path,
        content.as_bytes(),
        crate::ownfile::Existing::Replace,
        Some(0o755),
    )
}

pub fn install(repo: &Repo, kind: Kind, force: bool) -> Result<(Status, Installed)> {
    let current = status(repo, kind)?;
    let done = match current.state {
        State::Absent => Installed::Fresh,
        State::Valve => Installed::Updated,
        State::Foreign if !force => {
            return Err(Error::Refused {
                message: format!(
                    "{} exists and is not valve's; it was left as it is",
                    current.path.display()
                ),
                help: Some(format!(
                    "run `valve hook install --force` to keep it as {} and install valve's, or call `valve check --staged` from your own hook",
                    backup_path(&current.path).display()
                )),
            });
        }
        State::Foreign => {
            let backup = backup_path(&current.path);
            if backup.exists() || fs::symlink_metadata(&backup).is_ok() {
                return Err(Error::Refused {
                    message: format!(
                        "{} already exists, so the current hook cannot be backed up without losing one of them",
                        backup.display()
                    ),
                    help: Some("move one of the two away, then install again".to_string()),
                });
            }
            fs::rename(&current.path, &backup).map_err(|e| Error::io(&current.path, e))?;
            Installed::ReplacedWithBackup(backup)
        }
    };
    write_atomic(&current.path, &kind.installed_script())?;
    Ok((status(repo, kind)?, done))
}

/// What `uninstall` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    NotInstalled,
    LeftForeign,
    Removed,
    Restored(PathBuf),
}

pub fn uninstall(repo: &Repo, kind: Kind) -> Result<Removed> {
    let current = status(repo, kind)?;
    match current.state {
        State::Absent => Ok(Removed::NotInstalled),
        State::Foreign => Ok(Removed::LeftForeign),
        State::Valve => {
            fs::remove_file(&current.path).map_err(|e| Error::io(&current.path, e))?;
            match current.backup {
                Some(backup) => {
                    fs::rename(&backup, &current.path).map_err(|e| Error::io(&backup, e))?;
                    Ok(Removed::Restored(current.path))
                }
                None => Ok(Removed::Removed),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_hooks_carry_the_marker() {
        for kind in Kind::ALL {
            let script = kind.script();
            assert!(
                script.contains(&format!("{MARKER} {}\n", kind.name())),
                "{}",
                kind.name()
            );
            assert!(script.starts_with("#!/bin/sh\n"), "{}", kind.name());
        }
    }

    #[test]
    fn installed_hooks_record_the_version_after_the_marker() {
        for kind in Kind::ALL {
            let script = kind.installed_script();
            let marker = format!("{MARKER} {}\n", kind.name());
            let stamp = format!("{VERSION_MARKER} {}\n", env!("CARGO_PKG_VERSION"));
            assert!(
                script.contains(&format!("{marker}{stamp}")),
                "{}",
                kind.name()
            );
            assert_eq!(script.replace(&stamp, ""), kind.script(), "{}", kind.name());
        }
    }

    #[test]
    fn backup_sits_beside_the_hook() {
        assert_eq!(
            backup_path(Path::new("/r/.git/hooks/pre-commit")),
            PathBuf::from("/r/.git/hooks/pre-commit.valve-backup")
        );
    }
}
