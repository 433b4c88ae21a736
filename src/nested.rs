//! Nested configs (SPEC §12): a `.sage/valve.yml` in a folder `D/` below
//! the root adds personas `D/:Name` for the paths under `D/`.
//!
//! A nested config only matters to the paths below its folder, so a run
//! looks for one only in the folders above the paths it judges, where the
//! root config is found for that mode: in the judged revision's tree for
//! `--base` (the base's too under `--policy both`), in the index for
//! `--staged` (HEAD's tree, with what is staged on top), and in the work
//! tree otherwise (tracked, or untracked and not ignored). A nested config
//! in a folder the root config's `ignore` hides is not read: a vendored
//! project's own valve config does not judge our run.

use std::collections::BTreeSet;

use crate::changeset::Selection;
use crate::check::Workspace;
use crate::config::extends::{self, Fetched, Reader};
use crate::config::{self, CONFIG_PATHS};
use crate::error::{Error, Result};
use crate::finding::ChangeKind;
use crate::git::{Change, Content, GitIgnore, Repo};
use crate::ownfile::MAX_INPUT;
use crate::ruleset::Nested;

/// Where a run reads its nested configs (and the files they extend).
pub enum View<'a> {
    /// A revision's tree; `name` prefixes file names in diagnostics.
    Tree { rev: &'a str, name: &'a str },
    /// The index: HEAD's tree with the staged `changes` on top.
    Staged { changes: &'a [Change] },
    /// The work tree. `listed`: the run's paths are git's complete list of
    /// files (`--all`), so a config among them is tracked or not ignored.
    Worktree { listed: bool },
}

/// The folders above `paths`, repo-relative with a trailing `/`, sorted;
/// the root is not one (its config is the root config).
pub fn folders<'p>(paths: impl Iterator<Item = &'p str>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for path in paths {
        for (i, b) in path.bytes().enumerate() {
            if b == b'/' && i > 0 {
                out.insert(path[..=i].to_string());
            }
        }
    }
    out.into_iter().collect()
}

/// The folders above the paths of `changes` (`folders`).
pub fn folders_of(changes: &[Change]) -> Vec<String> {
    folders(change_paths(changes))
}

/// The paths of `changes`, the old side of renames and deletions too.
fn change_paths(changes: &[Change]) -> impl Iterator<Item = &str> {
    changes
        .iter()
        .flat_map(|c| std::iter::once(c.path.as_str()).chain(c.old_path.as_deref()))
}

/// The view a check of `selection` reads nested configs from.
pub fn view_of<'a>(selection: &Selection, changes: &'a [Change]) -> View<'a> {
    match selection {
        Selection::Staged => View::Staged { changes },
        _ => View::Worktree {
            listed: matches!(selection, Selection::All),
        },
    }
}

/// Adds to `ws` the nested configs above the paths of `changes`, read from
/// `view`: a new workspace when there is any, `None` when there is none.
pub fn extend(ws: &Workspace, view: &View<'_>, changes: &[Change]) -> Result<Option<Workspace>> {
    extend_with(ws, view, candidates(ws, view, changes)?)
}

/// The nested config files above the paths of `changes`, as the view has
/// them.
fn candidates(
    ws: &Workspace,
    view: &View<'_>,
    changes: &[Change],
) -> Result<Vec<(String, Fetched)>> {
    Ok(match view {
        View::Worktree { listed: true } => {
            let mut found = Vec::new();
            for c in changes.iter().filter(|c| c.kind != ChangeKind::Deleted) {
                if is_nested_config(&c.path) {
                    let fetched = crate::ownfile::read_inside(&ws.root, &c.path)?;
                    found.push((c.path.clone(), fetched));
                } else if c.path.ends_with("/.sage") && matches!(c.new, Content::Symlink(_)) {
                    // A linked `.sage` folder is listed as the link itself.
                    let what = "under a symlinked .sage folder".to_string();
                    found.push((format!("{}/valve.yml", c.path), Fetched::Refused(what)));
                }
            }
            found
        }
        View::Worktree { listed: false } => {
            let dirs = folders(change_paths(changes));
            on_disk(ws, &dirs)?
        }
        View::Tree { rev, .. } => {
            let dirs = folders(change_paths(changes));
            match &ws.repo {
                Some(repo) if !dirs.is_empty() => repo.configs_at(rev, &dirs, MAX_INPUT)?,
                _ => Vec::new(),
            }
        }
        View::Staged { .. } => match &ws.repo {
            Some(repo) => repo.staged_with(|_| wanted(changes), MAX_INPUT)?.1,
            None => Vec::new(),
        },
    })
}

/// The config files that would govern the paths of `changes`, for a view
/// that looks each one up (`valve.yml` before `valve.yaml`).
pub fn wanted(changes: &[Change]) -> Vec<String> {
    folders(change_paths(changes))
        .into_iter()
        .flat_map(|dir| CONFIG_PATHS.map(|c| format!("{dir}{c}")))
        .collect()
}

/// Adds to `ws` the nested configs of `found` (from `candidates`, or from
/// a listing that looked them up as it went, as `--staged` does).
pub fn extend_with(
    ws: &Workspace,
    view: &View<'_>,
    found: Vec<(String, Fetched)>,
) -> Result<Option<Workspace>> {
    let nested = load(ws, view, found)?;
    if nested.is_empty() {
        return Ok(None);
    }
    let mut rules = ws.rules.clone();
    rules.add_nested(nested)?;
    Ok(Some(Workspace {
        repo: ws.repo.clone(),
        root: ws.root.clone(),
        rules,
        config_path: ws.config_path.clone(),
    }))
}

/// Parses the nested config files found, with the files each extends; in
/// each folder the first one found counts (`valve.yml` before `.yaml`).
fn load(ws: &Workspace, view: &View<'_>, found: Vec<(String, Fetched)>) -> Result<Vec<Nested>> {
    let mut seen = BTreeSet::new();
    // A listing sorts `valve.yaml` before `valve.yml`; the order of
    // `CONFIG_PATHS` decides, as where the root config is found.
    let rank = |path: &str| CONFIG_PATHS.iter().position(|c| path.ends_with(c));
    let mut found = found;
    found.sort_by(|(a, _), (b, _)| (folder_of(a), rank(a)).cmp(&(folder_of(b), rank(b))));
    let candidates: Vec<(String, Fetched)> = found
        .into_iter()
        .filter(|(path, _)| seen.insert(folder_of(path).to_string()))
        .collect();
    let mut out = Vec::new();
    for (path, fetched) in candidates {
        // A config in a folder the root config ignores is not ours.
        if ws.rules.ignore_hides(&path) {
            continue;
        }
        let shown = match view {
            View::Tree { name, .. } => format!("{name}:{path}"),
            _ => path.clone(),
        };
        let bytes = match fetched {
            Fetched::Bytes(bytes) => bytes,
            Fetched::Missing => continue,
            Fetched::Refused(what) => {
                return Err(Error::Refused {
                    message: format!("{shown} is {what}, not a regular file"),
                    help: Some(
                        "valve reads its own files only as regular files, never through a link: make it one".to_string(),
                    ),
                });
            }
        };
        let source = config::source_from_bytes(bytes, &shown)?;
        let dir = folder_of(&path).to_string();
        let fetch = |rel: &str| fetch(ws, view, rel);
        let reader = Reader {
            prefix: match view {
                View::Tree { name, .. } => format!("{name}:"),
                _ => String::new(),
            },
            dir: dir.clone(),
            fetch: &fetch,
        };
        let expanded = extends::expand(&source, Some(&path), &reader)?;
        out.push(Nested {
            dir,
            path,
            expanded,
        });
    }
    Ok(out)
}

/// Whether `path` is a nested config's (not the root's).
pub fn is_nested_config(path: &str) -> bool {
    config::is_config_path(path) && !CONFIG_PATHS.contains(&path)
}

/// The folder a nested config governs: `D/` of `D/.sage/valve.yml`.
fn folder_of(path: &str) -> &str {
    CONFIG_PATHS
        .iter()
        .find_map(|c| path.strip_suffix(c))
        .unwrap_or("")
}

/// The work tree's configs in `dirs` that git tracks or does not ignore.
fn on_disk(ws: &Workspace, dirs: &[String]) -> Result<Vec<(String, Fetched)>> {
    let mut found = Vec::new();
    for dir in dirs {
        // One lstat a folder: most have no `.sage` at all.
        let sage = ws.root.join(dir).join(".sage");
        match std::fs::symlink_metadata(&sage) {
            Ok(m) if m.is_dir() => {}
            // As for the root's: a linked `.sage` is refused, never followed.
            Ok(m) if m.file_type().is_symlink() => {
                let path = format!("{dir}{}", CONFIG_PATHS[0]);
                found.push((
                    path,
                    Fetched::Refused("under a symlinked .sage folder".into()),
                ));
                continue;
            }
            _ => continue,
        }
        for name in CONFIG_PATHS {
            let path = format!("{dir}{name}");
            match crate::ownfile::read_inside(&ws.root, &path)? {
                Fetched::Missing => {}
                fetched => {
                    found.push((path, fetched));
                    break;
                }
            }
        }
    }
    let Some(repo) = ws.repo.as_ref().filter(|r| !r.is_bare()) else {
        return Ok(found);
    };
    if found.is_empty() {
        return Ok(found);
    }
    let raw: Vec<Vec<u8>> = found.iter().map(|(p, _)| p.as_bytes().to_vec()).collect();
    let verdicts = repo.git_ignored(&raw)?;
    Ok(found
        .into_iter()
        .zip(verdicts)
        .filter(|(_, v)| !matches!(v, GitIgnore::Ignored(_)))
        .map(|(f, _)| f)
        .collect())
}

/// What the index holds at a staged change's path.
fn staged_file(repo: &Repo, change: &Change) -> Result<Fetched> {
    Ok(match &change.new {
        Content::Gone => Fetched::Missing,
        Content::Blob(id) => {
            let bytes = repo.blob_of(&repo.local(), *id, &change.path)?;
            if bytes.len() as u64 > MAX_INPUT {
                return Err(Error::Refused {
                    message: format!("{} is larger than {MAX_INPUT} bytes", change.path),
                    help: Some(
                        "valve's own files are small; check what was staged there".to_string(),
                    ),
                });
            }
            Fetched::Bytes(bytes)
        }
        Content::Symlink(_) => Fetched::Refused("a symlink".to_string()),
        Content::Submodule => Fetched::Refused("a submodule".to_string()),
        Content::File | Content::Special => Fetched::Refused("not a file".to_string()),
    })
}

/// A file named by a nested config's `extends`, from the same view.
fn fetch(ws: &Workspace, view: &View<'_>, rel: &str) -> Result<Fetched> {
    match (view, &ws.repo) {
        (View::Tree { rev, .. }, Some(repo)) => repo.extended_file_at(rev, rel, MAX_INPUT),
        (View::Staged { changes }, Some(repo)) => match changes.iter().find(|c| c.path == rel) {
            Some(change) => staged_file(repo, change),
            None if repo.resolve_commit("HEAD").is_ok() => {
                repo.extended_file_at("HEAD", rel, MAX_INPUT)
            }
            None => Ok(Fetched::Missing),
        },
        _ => crate::ownfile::read_inside(&ws.root, rel),
    }
}

/// The workspace with every nested config of the work tree (found as
/// `--all` lists files), for the commands that show the rules.
pub fn for_commands(ws: Workspace, cwd: &std::path::Path) -> Result<Workspace> {
    let all = match &ws.repo {
        Some(repo) if !repo.is_bare() => {
            crate::changeset::changes(&Selection::All, Some(repo), &ws.root, cwd)?
        }
        Some(_) => Vec::new(),
        None => walked(&ws, None)?,
    };
    let view = View::Worktree { listed: true };
    Ok(extend(&ws, &view, &all)?.unwrap_or(ws))
}

/// Outside git, `--all` judges files as the walker finds them: the nested
/// configs are looked for first, in a walk that reads no file.
pub fn walked(ws: &Workspace, threads: Option<usize>) -> Result<Vec<Change>> {
    let states = crate::changeset::walk_with(
        &ws.root,
        std::slice::from_ref(&ws.root),
        threads,
        Vec::new,
        |found: &mut Vec<Change>, change| {
            let linked_sage =
                change.path.ends_with("/.sage") && matches!(change.new, Content::Symlink(_));
            if is_nested_config(&change.path) || linked_sage {
                found.push(change);
            }
        },
    )?;
    let mut found: Vec<Change> = states.into_iter().flatten().collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_every_ancestor_but_the_root() {
        let paths = ["a/b/c.txt", "a/d.txt", "top.txt", "x/y/z/w"];
        assert_eq!(
            folders(paths.into_iter()),
            ["a/", "a/b/", "x/", "x/y/", "x/y/z/"]
        );
    }

    #[test]
    fn a_nested_config_is_one_below_the_root() {
        assert!(is_nested_config("packages/web/.sage/valve.yml"));
        assert!(is_nested_config("a/.sage/valve.yaml"));
        assert!(!is_nested_config(".sage/valve.yml"));
        assert!(!is_nested_config("a/x.sage/valve.yml"));
        assert!(!is_nested_config("a/.sage/valve.yml.bak"));
        assert_eq!(folder_of("packages/web/.sage/valve.yml"), "packages/web/");
    }
}
