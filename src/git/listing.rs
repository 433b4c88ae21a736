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
//! and which untracked files git would add; no path is `lstat`ed. Each
//! file is handed on the moment the walk meets it, so `--all` judges
//! while it walks and no list of the tree is held; the submodules, which
//! the walk does not enter, come from the index after it.
//!
//! In a sparse checkout the index is read as git reads it for a work tree
//! (`index::worktree_index`): files present outside the cone are listed
//! like any other, files absent from the work tree are not files to judge.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use gix::bstr::{BStr, BString, ByteSlice};
use gix::dir::entry::{Kind, Status};

use super::index::{StatIndex, read_index, worktree_index};
use super::{Change, Content, Repo, wrap};
use crate::error::{Error, Result};

/// The index `--all` lists from, read once: the walk of the work tree
/// and what the index itself says of its tracked paths.
pub struct Listing {
    repo: gix::Repository,
    index: Arc<gix::index::State>,
    /// The index is as its file has it (no sparse-checkout adjustment):
    /// the stat-clean shortcut (SPEC §12) may share it.
    as_read: bool,
}

/// A listing's index, as the stat-clean shortcut may share it.
#[derive(Clone)]
pub struct SharedIndex(Arc<gix::index::State>);

impl Repo {
    /// The stat-clean shortcut's index over a listing's.
    pub fn stat_index_of(&self, shared: &SharedIndex) -> StatIndex {
        StatIndex::of(&self.local(), Arc::clone(&shared.0))
    }

    /// Every file of the work tree that git tracks or would add, under
    /// `prefix` (repo-relative raw bytes, `""` for all), in no order.
    pub fn all_files(&self, prefix: &[u8]) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        self.listing()?.each_file(prefix, |c| out.push(c))?;
        Ok(out)
    }

    /// The index of the work tree, for `Listing::each_file`.
    pub fn listing(&self) -> Result<Listing> {
        let repo = self.local();
        let Some(workdir) = self.workdir.clone() else {
            return Err(Error::usage(
                "`--all` needs a work tree, and this repository is bare",
                Some("use `valve check --base A --head B` in a bare repository".to_string()),
            ));
        };
        let read = read_index(&repo)?;
        // Without a skip-worktree entry the sparse adjustment has nothing
        // to change.
        let as_read = !read
            .entries()
            .iter()
            .any(|e| e.flags.contains(gix::index::entry::Flags::SKIP_WORKTREE));
        let index = worktree_index(&repo, read, &workdir)?;
        Ok(Listing {
            repo,
            index: Arc::new(index),
            as_read,
        })
    }
}

impl Listing {
    /// The tracked paths under `prefix` whose raw name `keep` takes, as the
    /// index has them (its mode, not the work tree's kind), sorted. Only
    /// those are made changes: this looks at every entry.
    pub fn tracked(&self, prefix: &[u8], keep: impl Fn(&[u8]) -> bool) -> Vec<Change> {
        let index = &*self.index;
        let range = index
            .prefixed_entries_range(prefix.as_bstr())
            .unwrap_or(0..0);
        let mut out: Vec<Change> = Vec::new();
        for entry in &index.entries()[range] {
            let raw = entry.path(index);
            if keep(raw) && out.last().is_none_or(|l| l.raw_path() != raw.as_bytes()) {
                out.push(Change::added(raw, tracked_content(entry.mode)));
            }
        }
        out
    }

    /// This listing's index for the stat-clean shortcut (SPEC §12), when it
    /// is the index as read (a sparse checkout's is not), so that the
    /// positions `each_file_at` gives are of its entries.
    pub fn shared_index(&self) -> Option<SharedIndex> {
        self.as_read.then(|| SharedIndex(Arc::clone(&self.index)))
    }

    /// Hands `visit` every file of the work tree that git tracks or would
    /// add under `prefix`, as the walk meets it (submodules last).
    pub fn each_file(&self, prefix: &[u8], mut visit: impl FnMut(Change)) -> Result<()> {
        self.each_file_at(prefix, |change, _| visit(change))
    }

    /// `each_file`, with the position of a tracked file's entry in the
    /// listing's index (`None` for an untracked file or a submodule).
    pub fn each_file_at(
        &self,
        prefix: &[u8],
        mut visit: impl FnMut(Change, Option<usize>),
    ) -> Result<()> {
        let index = &*self.index;
        walk(&self.repo, index, prefix, true, &mut |seen| {
            let (path, kind, at) = match seen {
                Seen::Tracked(i, kind) => {
                    let entry = &index.entries()[i];
                    // The index says what a submodule is, below.
                    if entry.mode.is_submodule() {
                        return;
                    }
                    (entry.path(index), kind, Some(i))
                }
                Seen::Untracked(path, kind) => (path, kind, None),
            };
            if !path.starts_with(prefix) {
                return;
            }
            let content = match kind {
                Some(Kind::File) => Content::File,
                Some(Kind::Symlink) => Content::Symlink(None),
                Some(Kind::Untrackable) => Content::Special,
                // Gone, a folder now (whose files the walk lists), a nested
                // repository, or a sparse directory absent from the work
                // tree: not files.
                _ => return,
            };
            visit(Change::added(path, content), at);
        })?;
        let range = index
            .prefixed_entries_range(prefix.as_bstr())
            .unwrap_or(0..0);
        let mut last: Option<&BStr> = None;
        for entry in &index.entries()[range] {
            let path = entry.path(index);
            // Conflict stages share a path: listed once.
            if entry.mode.is_submodule() && last != Some(path) {
                visit(Change::added(path, Content::Submodule), None);
            }
            last = Some(path);
        }
        Ok(())
    }
}

/// What a tracked path is by its index mode.
fn tracked_content(mode: gix::index::entry::Mode) -> Content {
    use gix::index::entry::Mode;
    if mode.is_submodule() {
        Content::Submodule
    } else if mode == Mode::SYMLINK {
        Content::Symlink(None)
    } else {
        Content::File
    }
}

/// One entry the walk saw.
enum Seen<'a> {
    /// The index entry at this position, and its path's kind on disk.
    Tracked(usize, Option<Kind>),
    /// An untracked entry git does not ignore.
    Untracked(&'a BStr, Option<Kind>),
}

/// The walk's delegate: untracked entries are handed on with their path,
/// tracked ones with their index position.
struct Marks<'i, 'v> {
    index: &'i gix::index::State,
    visit: &'v mut dyn FnMut(Seen<'_>),
    mark_tracked: bool,
    /// The folder of the last tracked path (with its `/`) and the range of
    /// index entries inside it: a folder's files come together.
    folder: Option<(BString, Range<usize>)>,
}

impl Marks<'_, '_> {
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

impl gix::dir::walk::Delegate for Marks<'_, '_> {
    fn emit(
        &mut self,
        entry: gix::dir::EntryRef<'_>,
        _collapsed: Option<Status>,
    ) -> gix::dir::walk::Action {
        match entry.status {
            Status::Untracked => {
                (self.visit)(Seen::Untracked(entry.rela_path.as_ref(), entry.disk_kind));
            }
            Status::Tracked if self.mark_tracked => {
                if let Some(i) = self.position(entry.rela_path.as_ref()) {
                    (self.visit)(Seen::Tracked(i, entry.disk_kind));
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
    let mut out = Vec::new();
    walk(repo, index, prefix, false, &mut |seen| {
        if let Seen::Untracked(path, kind) = seen {
            out.push((path.to_owned(), kind));
        }
    })?;
    Ok(out)
}

/// One walk of the work tree under `prefix`, handing `visit` the
/// untracked entries git does not ignore and, with `mark_tracked`, what
/// is on disk at each tracked path. The walk sees `index` without
/// skip-worktree bits: git lists the untracked files of a folder outside
/// the sparse cone too, where gix would not look.
fn walk(
    repo: &gix::Repository,
    index: &gix::index::State,
    prefix: &[u8],
    mark_tracked: bool,
    visit: &mut dyn FnMut(Seen<'_>),
) -> Result<()> {
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
    let patterns: Vec<&BStr> = if prefix.is_empty() {
        Vec::new()
    } else {
        vec![prefix.as_bstr()]
    };
    let interrupt = AtomicBool::new(false);
    let mut marks = Marks {
        index,
        visit,
        mark_tracked,
        folder: None,
    };
    repo.dirwalk(index, patterns, &interrupt, options, &mut marks)
        .map_err(wrap("cannot walk the work tree"))?;
    Ok(())
}
