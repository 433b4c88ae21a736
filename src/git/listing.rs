//! `--all` in a git repository (SPEC §2): every tracked file, even one an
//! ignore rule matches (as git), plus the untracked files git does not
//! ignore. Ignore rules are git's own as gix reads them: `.gitignore` files
//! inside the work tree (a symlinked one is not followed), `info/exclude`
//! and `core.excludesFile`; an ignore file in a folder above the
//! repository never applies.
//!
//! In a sparse checkout the index is read as git reads it for a work tree
//! (`index::worktree_index`): files present outside the cone are listed
//! like any other, files absent from the work tree are not files to judge.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use gix::bstr::{BStr, ByteSlice};

use super::index::{read_index, worktree_index};
use super::{Change, Content, Repo, wrap};
use crate::error::{Error, Result};

impl Repo {
    /// Every file of the work tree that git tracks or would add, under
    /// `prefix` (repo-relative raw bytes, `""` for all), sorted by path.
    pub fn all_files(&self, prefix: &[u8]) -> Result<Vec<Change>> {
        let repo = self.local();
        let Some(workdir) = self.workdir.clone() else {
            return Err(Error::usage(
                "`--all` needs a work tree, and this repository is bare",
                Some("use `valve check --base A --head B` in a bare repository".to_string()),
            ));
        };
        let index = worktree_index(&repo, read_index(&repo)?, &workdir)?;
        let under = |path: &BStr| prefix.is_empty() || path.starts_with(prefix);
        let mut out = Vec::new();
        let mut tracked: HashSet<&BStr> = HashSet::new();
        for entry in index.entries() {
            let path = entry.path(&index);
            if !tracked.insert(path) || !under(path) {
                continue;
            }
            if entry.mode == gix::index::entry::Mode::DIR {
                // A sparse directory absent from the work tree.
                continue;
            }
            let content = if entry.mode.is_submodule() {
                Content::Submodule
            } else {
                match disk(&workdir, path) {
                    Some(c) => c,
                    None => continue,
                }
            };
            out.push(Change::added(path, content));
        }
        for entry in untracked(&repo, &index, prefix)? {
            if tracked.contains(entry.rela_path.as_bstr()) || !under(entry.rela_path.as_bstr()) {
                continue;
            }
            use gix::dir::entry::Kind;
            let content = match entry.disk_kind {
                Some(Kind::File) => Content::File,
                Some(Kind::Symlink) => Content::Symlink(None),
                Some(Kind::Untrackable) => Content::Special,
                // Nested repositories and folders are not files.
                _ => continue,
            };
            out.push(Change::added(entry.rela_path.as_ref(), content));
        }
        out.sort_unstable_by(|a, b| a.raw_path().cmp(b.raw_path()));
        Ok(out)
    }
}

/// The untracked entries git does not ignore under `prefix` (raw, `""`
/// for all), as gix's walk finds them. The walk sees `index` without
/// skip-worktree bits: git lists the untracked files of a folder outside
/// the sparse cone too, where gix would not look.
pub(super) fn untracked(
    repo: &gix::Repository,
    index: &gix::index::State,
    prefix: &[u8],
) -> Result<Vec<gix::dir::Entry>> {
    use gix::index::entry::Flags;
    let cleared;
    let index = if index
        .entries()
        .iter()
        .any(|e| e.flags.contains(Flags::SKIP_WORKTREE))
    {
        let mut copy = index.clone();
        for entry in copy.entries_mut() {
            entry.flags.remove(Flags::SKIP_WORKTREE);
        }
        cleared = copy;
        &cleared
    } else {
        index
    };
    let mut collect = gix::dir::walk::delegate::Collect::default();
    let options = repo
        .dirwalk_options()
        .map_err(wrap("cannot prepare the walk of the work tree"))?
        .emit_untracked(gix::dir::walk::EmissionMode::Matching)
        .emit_ignored(None)
        .emit_tracked(false)
        .recurse_repositories(false);
    let interrupt = AtomicBool::new(false);
    let patterns: Vec<&BStr> = if prefix.is_empty() {
        Vec::new()
    } else {
        vec![prefix.as_bstr()]
    };
    repo.dirwalk(index, patterns, &interrupt, options, &mut collect)
        .map_err(wrap("cannot walk the work tree"))?;
    Ok(collect
        .unorded_entries
        .into_iter()
        .map(|(entry, _)| entry)
        .filter(|entry| entry.status == gix::dir::entry::Status::Untracked)
        .collect())
}

/// What a tracked path is in the work tree now; `None` when it is gone or
/// became a folder (whose files the walk lists).
fn disk(workdir: &Path, rel: &[u8]) -> Option<Content> {
    let meta = std::fs::symlink_metadata(workdir.join(OsStr::from_bytes(rel))).ok()?;
    let ft = meta.file_type();
    Some(if ft.is_symlink() {
        Content::Symlink(None)
    } else if ft.is_file() {
        Content::File
    } else if ft.is_dir() {
        return None;
    } else {
        Content::Special
    })
}
