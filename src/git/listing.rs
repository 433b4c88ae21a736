//! `--all` in a git repository (SPEC §2): every tracked file, even one an
//! ignore rule matches (as git), plus the untracked files git does not
//! ignore. Ignore rules are git's own as gix reads them: `.gitignore` files
//! inside the work tree (a symlinked one is not followed), `info/exclude`
//! and `core.excludesFile`; an ignore file in a folder above the
//! repository never applies.
//!
//! One walk of the work tree (gix's, which reads each folder once and
//! takes every entry's kind from the folder listing, as `rg` does) says
//! both which tracked paths are there and as what (file, link, FIFO…),
//! and which untracked files git would add; no path is `lstat`ed. The
//! index is already sorted, so the list is the index's order merged with
//! the few untracked files, sorted alone.
//!
//! In a sparse checkout the index is read as git reads it for a work tree
//! (`index::worktree_index`): files present outside the cone are listed
//! like any other, files absent from the work tree are not files to judge.

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use gix::bstr::{BStr, BString, ByteSlice};
use gix::dir::entry::{Kind, Status};

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
        let seen = walk(&repo, &index, prefix, true)?;
        let mut untracked: Vec<(BString, Content)> = seen
            .untracked
            .into_iter()
            .filter(|(path, _)| path.starts_with(prefix))
            .filter_map(|(path, kind)| {
                let content = match kind {
                    Some(Kind::File) => Content::File,
                    Some(Kind::Symlink) => Content::Symlink(None),
                    Some(Kind::Untrackable) => Content::Special,
                    // Nested repositories and folders are not files.
                    _ => return None,
                };
                Some((path, content))
            })
            .collect();
        untracked.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let range = index
            .prefixed_entries_range(prefix.as_bstr())
            .unwrap_or(0..0);
        let mut out = Vec::with_capacity(range.len() + untracked.len());
        let mut extra = untracked.into_iter().peekable();
        let mut last: Option<&BStr> = None;
        for i in range {
            let entry = &index.entries()[i];
            let path = entry.path(&index);
            // Conflict stages share a path: listed once.
            if last == Some(path) {
                continue;
            }
            last = Some(path);
            let content = if entry.mode.is_submodule() {
                Content::Submodule
            } else {
                match seen.tracked.get(i).copied().flatten() {
                    Some(Kind::File) => Content::File,
                    Some(Kind::Symlink) => Content::Symlink(None),
                    Some(Kind::Untrackable) => Content::Special,
                    // Gone, or a folder now (whose files the walk lists),
                    // or a sparse directory absent from the work tree.
                    _ => continue,
                }
            };
            while let Some((p, _)) = extra.peek() {
                if p.as_slice() >= path.as_bytes() {
                    break;
                }
                if let Some((p, c)) = extra.next() {
                    out.push(Change::added(&p, c));
                }
            }
            out.push(Change::added(path, content));
        }
        out.extend(extra.map(|(p, c)| Change::added(&p, c)));
        Ok(out)
    }
}

/// What one walk of the work tree saw.
pub(super) struct Seen {
    /// Per index entry, the kind on disk of its path when the walk found
    /// it as a tracked file (when asked for).
    pub(super) tracked: Vec<Option<Kind>>,
    /// The untracked entries git does not ignore, in no order.
    pub(super) untracked: Vec<(BString, Option<Kind>)>,
}

/// The walk's delegate: untracked entries are kept, tracked ones only
/// marked at their index position.
struct Marks<'i> {
    index: &'i gix::index::State,
    seen: Seen,
    mark_tracked: bool,
    /// The folder of the last tracked path (with its `/`) and the range of
    /// index entries inside it: a folder's files come together.
    folder: Option<(BString, Range<usize>)>,
}

impl Marks<'_> {
    fn position(&mut self, path: &BStr) -> Option<usize> {
        let index = self.index;
        let folder_len = path.rfind_byte(b'/').map_or(0, |s| s + 1);
        let folder = &path[..folder_len];
        let range = match &self.folder {
            Some((known, range)) if known.as_slice() == folder => range.clone(),
            _ => {
                let range = index
                    .prefixed_entries_range(folder.as_bstr())
                    .unwrap_or(0..0);
                self.folder = Some((folder.into(), range.clone()));
                range
            }
        };
        let entries = &index.entries()[range.clone()];
        let at = entries.partition_point(|e| e.path(index) < path);
        entries
            .get(at)
            .filter(|e| e.path(index) == path)
            .map(|_| range.start + at)
    }
}

impl gix::dir::walk::Delegate for Marks<'_> {
    fn emit(
        &mut self,
        entry: gix::dir::EntryRef<'_>,
        _collapsed: Option<Status>,
    ) -> gix::dir::walk::Action {
        match entry.status {
            Status::Untracked => self
                .seen
                .untracked
                .push((entry.rela_path.into_owned(), entry.disk_kind)),
            Status::Tracked if self.mark_tracked => {
                if let Some(i) = self.position(entry.rela_path.as_ref()) {
                    self.seen.tracked[i] = entry.disk_kind;
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// The untracked entries git does not ignore under `prefix` (raw, `""`
/// for all), as gix's walk finds them.
pub(super) fn untracked(
    repo: &gix::Repository,
    index: &gix::index::State,
    prefix: &[u8],
) -> Result<Vec<(BString, Option<Kind>)>> {
    Ok(walk(repo, index, prefix, false)?.untracked)
}

/// One walk of the work tree under `prefix`: the untracked entries git
/// does not ignore and, with `mark_tracked`, what is on disk at each
/// tracked path. The walk sees `index` without skip-worktree bits: git
/// lists the untracked files of a folder outside the sparse cone too,
/// where gix would not look.
fn walk(
    repo: &gix::Repository,
    index: &gix::index::State,
    prefix: &[u8],
    mark_tracked: bool,
) -> Result<Seen> {
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
    let options = repo
        .dirwalk_options()
        .map_err(wrap("cannot prepare the walk of the work tree"))?
        .emit_untracked(gix::dir::walk::EmissionMode::Matching)
        .emit_ignored(None)
        .emit_tracked(mark_tracked)
        .recurse_repositories(false);
    let interrupt = AtomicBool::new(false);
    let patterns: Vec<&BStr> = if prefix.is_empty() {
        Vec::new()
    } else {
        vec![prefix.as_bstr()]
    };
    let mut marks = Marks {
        index,
        seen: Seen {
            tracked: if mark_tracked {
                vec![None; index.entries().len()]
            } else {
                Vec::new()
            },
            untracked: Vec::new(),
        },
        mark_tracked,
        folder: None,
    };
    repo.dirwalk(index, patterns, &interrupt, options, &mut marks)
        .map_err(wrap("cannot walk the work tree"))?;
    Ok(marks.seen)
}
