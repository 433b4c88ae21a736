//! Selection mode → the list of changes to judge (SPEC §2).
//!
//! Git modes come from `git.rs`; `--all` and `PATH...` walk the work tree
//! with `ignore` (every file is `added`, every line counts). This module
//! decides *what* is judged, never *how*.

use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::finding::ChangeKind;
use crate::git::{Change, Content, Repo, name};

/// Which changes `valve check` judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    Staged,
    /// `merge-base(base, head)..head`; `base: None` is `--root`: from the
    /// empty tree, every commit reachable from `head`.
    Range {
        base: Option<String>,
        head: String,
    },
    Worktree,
    All,
    Paths(Vec<PathBuf>),
    /// No mode given: `--worktree` in git, `--all` outside.
    Default,
}

impl Selection {
    /// Whether every line of a file counts as changed (no git diff).
    pub fn is_whole_files(&self) -> bool {
        matches!(self, Selection::All | Selection::Paths(_))
    }
}

/// Whether a selection is one walk of the whole root, which `check` streams
/// instead of listing: `--all`, or no mode outside git.
pub fn walks_whole_root(selection: &Selection, repo: Option<&Repo>) -> bool {
    match selection {
        // In git, `--all` is git's list of files (tracked, and untracked
        // not ignored), not a walk that applies ignore rules to everything.
        Selection::All | Selection::Default => repo.is_none(),
        _ => false,
    }
}

/// The changes of a selection, relative to `root`, sorted by path.
pub fn changes(
    selection: &Selection,
    repo: Option<&Repo>,
    root: &Path,
    cwd: &Path,
) -> Result<Vec<Change>> {
    let needs_git = |mode: &str| {
        Error::usage(
            format!("`{mode}` needs a git repository, and {} is not in one", cwd.display()),
            Some("run valve inside a git work tree, or check files with `valve check --all` / `valve check PATH...`".to_string()),
        )
    };
    let mut out = match selection {
        Selection::Staged => staged_repo(repo, cwd)?.staged()?,
        Selection::Range { base, head } => {
            let repo =
                repo.ok_or_else(|| needs_git(if base.is_some() { "--base" } else { "--root" }))?;
            match base {
                Some(base) => repo.range(base, head)?,
                None => repo.root_range(head)?,
            }
        }
        Selection::Worktree => repo.ok_or_else(|| needs_git("--worktree"))?.worktree()?,
        Selection::Default => match repo {
            Some(repo) if !repo.is_bare() => repo.worktree()?,
            Some(_) => {
                return Err(Error::usage(
                    "a bare repository has no work tree to check",
                    Some("use `valve check --base A --head B` in a bare repository".to_string()),
                ));
            }
            None => walk(root, &[root.to_path_buf()])?,
        },
        Selection::All => match repo {
            Some(repo) => repo.all_files(b"")?,
            None => walk(root, &[root.to_path_buf()])?,
        },
        Selection::Paths(paths) => {
            // Paths resolve through symlinks, so the root must too, or
            // names would not come out repo-relative.
            let root = &root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
            let resolved = paths
                .iter()
                .map(|p| resolve(root, cwd, p))
                .collect::<Result<Vec<_>>>()?;
            let mut files = Vec::new();
            let mut dirs = Vec::new();
            for abs in resolved {
                match std::fs::symlink_metadata(&abs) {
                    Ok(m) if m.is_dir() => dirs.push(abs),
                    Ok(m) => files.push(file_change(root, &abs, m.file_type())),
                    Err(e) => return Err(Error::io(abs, e)),
                }
            }
            match repo.filter(|r| !r.is_bare()) {
                // A folder in git: git's files under it, as `--all` lists them.
                Some(repo) => {
                    for dir in &dirs {
                        let mut prefix = crate::git::name::relative_bytes(root, dir);
                        if !prefix.is_empty() {
                            prefix.push(b'/');
                        }
                        files.extend(repo.all_files(&prefix)?);
                    }
                }
                None if !dirs.is_empty() => files.extend(walk(root, &dirs)?),
                None => {}
            }
            files
        }
    };
    tidy(&mut out);
    Ok(out)
}

/// Sorts changes by path and merges equal paths.
fn tidy(out: &mut Vec<Change>) {
    // Unstable: no scratch buffer; equal paths are merged just below. Raw
    // bytes, not shown names: two names may show alike (SPEC §2.1).
    out.sort_unstable_by(|a, b| a.raw_path().cmp(b.raw_path()));
    out.dedup_by(|a, b| a.raw_path() == b.raw_path());
    out.shrink_to_fit();
}

/// The repository `--staged` reads: one with an index.
fn staged_repo<'r>(repo: Option<&'r Repo>, cwd: &Path) -> Result<&'r Repo> {
    let repo = repo.ok_or_else(|| {
        Error::usage(
            format!("`--staged` needs a git repository, and {} is not in one", cwd.display()),
            Some("run valve inside a git work tree, or check files with `valve check --all` / `valve check PATH...`".to_string()),
        )
    })?;
    if repo.is_bare() {
        return Err(Error::usage(
            "a bare repository has no index to check",
            Some("use `valve check --base A --head B` in a bare repository".to_string()),
        ));
    }
    Ok(repo)
}

/// The changes of `merge_base..head` (`None`: `--root`), as `changes`
/// lists them, and the nested configs (SPEC §12) above them in its head's
/// and merge base's trees; the diff runs on `--threads` threads (`None`:
/// one per core), never more than there are cores.
pub fn range_with(
    repo: &Repo,
    merge_base: Option<&str>,
    head: &str,
    threads: Option<usize>,
) -> Result<crate::git::RangeFiles> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let mut found = repo.range_with(
        merge_base,
        head,
        crate::nested::folders_of,
        crate::ownfile::MAX_INPUT,
        threads.unwrap_or(cores).clamp(1, cores),
    )?;
    tidy(&mut found.changes);
    Ok(found)
}

/// `--staged`'s changes, as `changes` lists them, and the index's files at
/// the paths `wanted` names for them (SPEC §12: nested configs), read from
/// the index the diff read.
pub fn staged_with(
    repo: Option<&Repo>,
    cwd: &Path,
    wanted: impl FnOnce(&[Change]) -> Vec<String>,
) -> Result<(Vec<Change>, crate::config::extends::OwnFiles)> {
    let (mut changes, files) =
        staged_repo(repo, cwd)?.staged_with(wanted, crate::ownfile::MAX_INPUT)?;
    tidy(&mut changes);
    Ok((changes, files))
}

fn file_change(root: &Path, abs: &Path, ft: std::fs::FileType) -> Change {
    let new = if ft.is_symlink() {
        Content::Symlink(None)
    } else if ft.is_file() {
        Content::File
    } else {
        // FIFOs, sockets, devices: never opened (SPEC §2).
        Content::Special
    };
    Change::new(
        &name::relative_bytes(root, abs),
        ChangeKind::Added,
        new,
        None,
    )
}

/// `root`-relative path with `/` separators, as shown (`name::display`:
/// bytes that are not UTF-8 as `\xNN`).
pub fn relative(root: &Path, abs: &Path) -> String {
    name::display(&name::relative_bytes(root, abs)).into_owned()
}

/// Makes a user-given path absolute and checks it lies inside the repo.
pub fn resolve(root: &Path, cwd: &Path, path: &Path) -> Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let lexical = normalize(&joined);
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    // The parent is canonicalized so that a symlink itself is not followed.
    let canonical = match (lexical.parent(), lexical.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or_else(|_| lexical.clone()),
        _ => lexical.canonicalize().unwrap_or_else(|_| lexical.clone()),
    };
    if !canonical.starts_with(&canonical_root) {
        return Err(Error::usage(
            format!(
                "{} is outside the repository {}",
                path.display(),
                root.display()
            ),
            Some(
                "pass paths inside the repository, or run valve from the repository you mean"
                    .to_string(),
            ),
        ));
    }
    if std::fs::symlink_metadata(&canonical).is_err() {
        return Err(Error::usage(
            format!("{} does not exist", path.display()),
            Some(
                "check the path; deleted files are judged with --staged, --worktree or --base"
                    .to_string(),
            ),
        ));
    }
    Ok(canonical_root.join(
        canonical
            .strip_prefix(&canonical_root)
            .unwrap_or(&canonical),
    ))
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A walker thread's state, handed over when the thread finishes.
struct Handover<'a, S> {
    state: Option<S>,
    sink: &'a Mutex<Vec<S>>,
}

impl<S> Drop for Handover<'_, S> {
    fn drop(&mut self) {
        if let (Some(state), Ok(mut all)) = (self.state.take(), self.sink.lock()) {
            all.push(state);
        }
    }
}

/// Every file under `dirs`, respecting `.gitignore`, `.ignore` and git's
/// excludes; hidden files are included (a `.env` is exactly what a gate
/// must see), `.git` is not.
pub fn walk(root: &Path, dirs: &[PathBuf]) -> Result<Vec<Change>> {
    let lists = walk_with(root, dirs, None, Vec::new, |list: &mut Vec<Change>, c| {
        list.push(c)
    })?;
    let mut all = Vec::with_capacity(lists.iter().map(Vec::len).sum());
    for list in lists {
        all.extend(list);
    }
    Ok(all)
}

/// Walks `dirs` in parallel and hands each file to `visit` on the walker's
/// own thread, with per-thread state from `init`; returns every thread's
/// state. Nothing is collected unless `visit` collects it, so `--all`
/// judges files as they are found, like `rg`.
pub fn walk_with<S: Send>(
    root: &Path,
    dirs: &[PathBuf],
    threads: Option<usize>,
    init: impl Fn() -> S + Sync,
    visit: impl Fn(&mut S, Change) + Sync,
) -> Result<Vec<S>> {
    let Some((first, rest)) = dirs.split_first() else {
        return Ok(Vec::new());
    };
    let mut builder = ignore::WalkBuilder::new(first);
    for d in rest {
        builder.add(d);
    }
    builder
        .hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .ignore(true)
        // Ignore files above the root never apply (SPEC §2).
        .parents(false)
        .require_git(false)
        .follow_links(false)
        .threads(threads.unwrap_or(0))
        .filter_entry(|e| e.file_name() != ".git");
    let states: Mutex<Vec<S>> = Mutex::new(Vec::new());
    let error: Mutex<Option<Error>> = Mutex::new(None);
    let (states_ref, error_ref, init, visit) = (&states, &error, &init, &visit);
    builder.build_parallel().run(|| {
        let mut mine = Handover {
            state: Some(init()),
            sink: states_ref,
        };
        Box::new(move |entry| {
            match entry {
                Ok(entry) => {
                    let Some(ft) = entry.file_type() else {
                        return ignore::WalkState::Continue;
                    };
                    if ft.is_dir() {
                        return ignore::WalkState::Continue;
                    }
                    if let Some(state) = mine.state.as_mut() {
                        visit(state, file_change(root, entry.path(), ft));
                    }
                }
                Err(e) => {
                    // A path we may not read is an error, not a silent skip.
                    if let Some(io) = e.io_error() {
                        if io.kind() == std::io::ErrorKind::PermissionDenied {
                            if let Ok(mut slot) = error_ref.lock() {
                                slot.get_or_insert(Error::usage(
                                    format!("cannot walk the tree: {e}"),
                                    Some("fix the permissions or add the path to `ignore:` in valve.yml".to_string()),
                                ));
                            }
                            return ignore::WalkState::Quit;
                        }
                    }
                }
            }
            ignore::WalkState::Continue
        })
    });
    if let Some(e) = error.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(e);
    }
    Ok(states.into_inner().unwrap_or_default())
}

/// Outside git, the `.ignore` or `.gitignore` rule that keeps `walk` from
/// listing `rel` (root-relative, `/`-separated): the file that holds it
/// (root-relative), its 1-based line and the pattern as written. The
/// deepest folder's files win, `.ignore` over `.gitignore` in one folder,
/// as the walk decides; a negated rule that re-includes the path ends the
/// search with `None`. For `valve explain`.
pub fn walk_ignored(root: &Path, rel: &str) -> Option<(PathBuf, usize, String)> {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let is_dir = root.join(rel).is_dir();
    for depth in (0..parts.len()).rev() {
        let dir: PathBuf = parts[..depth].iter().collect();
        let below: PathBuf = parts[depth..].iter().collect();
        for file in [".ignore", ".gitignore"] {
            let source = dir.join(file);
            let abs = root.join(&source);
            // A linked ignore file is not followed, as the walk does not.
            if !std::fs::symlink_metadata(&abs).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let (matcher, _) = ignore::gitignore::Gitignore::new(&abs);
            match matcher.matched_path_or_any_parents(&below, is_dir) {
                ignore::Match::None => {}
                ignore::Match::Whitelist(_) => return None,
                ignore::Match::Ignore(glob) => {
                    let pattern = glob.original().to_string();
                    let text = std::fs::read_to_string(&abs).unwrap_or_default();
                    let line = text
                        .lines()
                        .position(|l| l.trim_end() == pattern)
                        .map_or(0, |i| i + 1);
                    return Some((source, line, pattern));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_uses_forward_slashes() {
        assert_eq!(relative(Path::new("/r"), Path::new("/r/a/b.rs")), "a/b.rs");
    }

    #[test]
    fn normalize_drops_dots() {
        assert_eq!(
            normalize(Path::new("/r/a/../b/./c")),
            PathBuf::from("/r/b/c")
        );
    }
}
