//! `--all` in a git repository (SPEC §2): every tracked file, even one an
//! ignore rule matches (as git), plus the untracked files git does not
//! ignore. Ignore rules are git's own as gix reads them: `.gitignore` files
//! inside the work tree (a symlinked one is not followed), `info/exclude`
//! and `core.excludesFile`; an ignore file in a folder above the
//! repository never applies.
//!
//! One walk of the work tree (gix's, which reads each folder once and
//! takes every entry's kind from the folder listing, as `rg` does) says
//! which files are there and as what (file, link, FIFO…); no path is
//! `lstat`ed. Each file is handed on the moment the walk meets it, so
//! `--all` judges while it walks and no list of the tree is held; the
//! submodules, which the walk does not enter, come from the index after it.
//!
//! Nor is the index held, as a rule (SPEC §10: memory): the walk is given
//! an empty one, so every path is untracked to it, and it also reports
//! what git ignores (a folder once) and nested repositories. Every file it
//! would add is one `--all` lists, tracked or not; the tracked files it
//! leaves out are those under an ignored path or a nested repository, and
//! they are looked up in the index file, read entry by entry
//! (`streamed.rs`), after the walk. When the stat-clean shortcut needs the
//! index (a cache folder), or the index is one the stream does not read
//! (a sparse checkout, a split index, version 4), it is decoded and held,
//! and the walk classifies tracked paths by it as before.
//!
//! In a sparse checkout the index is read as git reads it for a work tree
//! (`index::worktree_index`): files present outside the cone are listed
//! like any other, files absent from the work tree are not files to judge.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use gix::bstr::{BStr, BString, ByteSlice};
use gix::dir::entry::{Kind, Status};

use super::index::{StatIndex, index_exists, read_index, worktree_index};
use super::streamed;
use super::{Change, Content, Repo, wrap};
use crate::error::{Error, Result};

/// The index `--all` lists from: held as gix decodes it, or (what git
/// writes unless told otherwise) read entry by entry when needed.
pub struct Listing {
    repo: gix::Repository,
    index: Index,
}

enum Index {
    /// A sparse checkout's, a split index, version 4, one the stream
    /// refuses, or one the stat-clean shortcut shares (`listing(true)`):
    /// decoded whole, for the walk to classify paths by. `as_read`: as its
    /// file has it (no sparse-checkout adjustment), so the shortcut may
    /// share it.
    Held {
        index: Arc<gix::index::State>,
        as_read: bool,
    },
    /// The open index file (`None`: there is none), with its submodules.
    /// The walk sees an empty index and reports ignored paths too; the
    /// tracked files under those are looked up in the file afterwards.
    Streamed {
        file: Option<std::fs::File>,
        hash: gix::hash::Kind,
        submodules: Vec<BString>,
    },
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
        self.listing(false)?.each_file(prefix, |c| out.push(c))?;
        Ok(out)
    }

    /// The index of the work tree, for `Listing::each_file`. `hold`: the
    /// index is decoded and held (the stat-clean shortcut needs every
    /// entry's stat data, so it shares that copy, and the walk's positions
    /// in it); else, unless it must be, it is read entry by entry.
    pub fn listing(&self, hold: bool) -> Result<Listing> {
        let repo = self.local();
        let Some(workdir) = self.workdir.clone() else {
            return Err(Error::usage(
                "`--all` needs a work tree, and this repository is bare",
                Some("use `valve check --base A --head B` in a bare repository".to_string()),
            ));
        };
        if !hold {
            if let Some(index) = streamed_index(&repo)? {
                return Ok(Listing { repo, index });
            }
        }
        let read = read_index(&repo)?;
        // Without a skip-worktree entry the sparse adjustment has nothing
        // to change.
        let as_read = !read
            .entries()
            .iter()
            .any(|e| e.flags.contains(gix::index::entry::Flags::SKIP_WORKTREE));
        let index = Index::Held {
            index: Arc::new(worktree_index(&repo, read, &workdir)?),
            as_read,
        };
        Ok(Listing { repo, index })
    }
}

/// The index to be streamed, read through once to see that it can be and
/// to keep its submodules; `None` when it is to be held (see `Index`):
/// also when an entry has a skip-worktree bit or is a sparse directory,
/// which `worktree_index` and the walk treat as git does.
fn streamed_index(repo: &gix::Repository) -> Result<Option<Index>> {
    use gix::index::entry::{Flags, Mode};
    let hash = repo.object_hash();
    let path = repo.index_path();
    if !index_exists(&path)? {
        return Ok(Some(Index::Streamed {
            file: None,
            hash,
            submodules: Vec::new(),
        }));
    }
    // Not blocking: a FIFO put there since `index_exists` looked is
    // refused by the stream (it has no length), never waited on.
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?
    };
    if !file.metadata().map_err(|e| Error::io(&path, e))?.is_file() {
        return Ok(None);
    }
    let mut submodules: Vec<BString> = Vec::new();
    let mut plain = true;
    let read = streamed::each_entry(&file, hash, |e| {
        plain &= !e.flags.contains(Flags::SKIP_WORKTREE) && e.mode != Mode::DIR;
        // Conflict stages share a path: kept once.
        if e.mode.is_submodule() && submodules.last().is_none_or(|l| l != e.path) {
            submodules.push(e.path.to_owned());
        }
    })
    .map_err(|e| Error::io(&path, e))?;
    Ok((read.is_some() && plain).then_some(Index::Streamed {
        file: Some(file),
        hash,
        submodules,
    }))
}

impl Listing {
    /// The tracked paths under `prefix` whose raw name `keep` takes, as the
    /// index has them (its mode, not the work tree's kind), sorted. Only
    /// those are made changes: this looks at every entry.
    pub fn tracked(&self, prefix: &[u8], keep: impl Fn(&[u8]) -> bool) -> Result<Vec<Change>> {
        let mut out: Vec<Change> = Vec::new();
        let mut take = |raw: &BStr, mode| {
            if raw.starts_with(prefix)
                && keep(raw)
                && out.last().is_none_or(|l| l.raw_path() != raw.as_bytes())
            {
                out.push(Change::added(raw, tracked_content(mode)));
            }
        };
        match &self.index {
            Index::Held { index, .. } => {
                let range = index
                    .prefixed_entries_range(prefix.as_bstr())
                    .unwrap_or(0..0);
                for entry in &index.entries()[range] {
                    take(entry.path(index), entry.mode);
                }
            }
            Index::Streamed { file, hash, .. } => {
                if let Some(file) = file {
                    stream(file, *hash, |e| take(e.path, e.mode))?;
                }
            }
        }
        Ok(out)
    }

    /// This listing's index for the stat-clean shortcut (SPEC §12), when it
    /// holds the index as read (a sparse checkout's is not), so that the
    /// positions `each_file_at` gives are of its entries.
    pub fn shared_index(&self) -> Option<SharedIndex> {
        match &self.index {
            Index::Held {
                index,
                as_read: true,
            } => Some(SharedIndex(Arc::clone(index))),
            _ => None,
        }
    }

    /// Hands `visit` every file of the work tree that git tracks or would
    /// add under `prefix`, as the walk meets it (submodules last).
    pub fn each_file(&self, prefix: &[u8], mut visit: impl FnMut(Change)) -> Result<()> {
        self.each_file_at(prefix, |change, _| visit(change))
    }

    /// `each_file`, with the position of a tracked file's entry in a held
    /// index (`None` for an untracked file, a submodule, or any file of a
    /// streamed index).
    pub fn each_file_at(
        &self,
        prefix: &[u8],
        mut visit: impl FnMut(Change, Option<usize>),
    ) -> Result<()> {
        let (file, hash, submodules) = match &self.index {
            Index::Held { index, .. } => return self.each_file_held(index, prefix, visit),
            Index::Streamed {
                file,
                hash,
                submodules,
            } => (file, *hash, submodules),
        };
        // Every path the walk does not report as one to add: ignored ones
        // (a folder once, with its `/`) and nested repositories. A tracked
        // file can be under any of them.
        let mut unlisted: Vec<BString> = Vec::new();
        let empty = gix::index::State::new(hash);
        walk(
            &self.repo,
            &empty,
            prefix,
            Emit::Ignored,
            &mut |seen| match seen {
                Seen::Untracked(path, kind) => {
                    if let Some(content) = content_of(kind) {
                        visit(Change::added(path, content), None);
                    }
                }
                Seen::Unlisted(path, kind) => {
                    let mut path = path.to_owned();
                    if matches!(kind, Some(Kind::Directory | Kind::Repository)) {
                        path.push(b'/');
                    }
                    unlisted.push(path);
                }
                Seen::Tracked(..) => {}
            },
        )?;
        if let (Some(file), false) = (file, unlisted.is_empty()) {
            unlisted.sort();
            let root = self.repo.workdir().map(std::path::Path::to_path_buf);
            let mut last: Option<BString> = None;
            let mut folder = BString::default();
            stream(file, hash, |e| {
                let path = e.path;
                if e.mode.is_submodule()
                    || !path.starts_with(prefix)
                    || last.as_ref().is_some_and(|l| l == path)
                    || !under_any(&unlisted, path)
                {
                    return;
                }
                last = Some(path.to_owned());
                let Some(root) = &root else { return };
                if let Some(content) = on_disk(root, path, &mut folder) {
                    visit(Change::added(path, content), None);
                }
            })?;
        }
        for path in submodules.iter().filter(|p| p.starts_with(prefix)) {
            visit(Change::added(path.as_bstr(), Content::Submodule), None);
        }
        Ok(())
    }

    fn each_file_held(
        &self,
        index: &gix::index::State,
        prefix: &[u8],
        mut visit: impl FnMut(Change, Option<usize>),
    ) -> Result<()> {
        walk(&self.repo, index, prefix, Emit::Tracked, &mut |seen| {
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
                Seen::Unlisted(..) => return,
            };
            if !path.starts_with(prefix) {
                return;
            }
            if let Some(content) = content_of(kind) {
                visit(Change::added(path, content), at);
            }
        })?;
        let range = index
            .prefixed_entries_range(prefix.as_bstr())
            .unwrap_or(0..0);
        let mut last: Option<&BStr> = None;
        let mut replaced: Vec<(&BStr, Content)> = Vec::new();
        let root = self.repo.workdir().map(std::path::Path::to_path_buf);
        let mut folder = BString::default();
        for entry in &index.entries()[range] {
            let path = entry.path(index);
            // Conflict stages share a path: listed once.
            if entry.mode.is_submodule() && last != Some(path) {
                visit(Change::added(path, Content::Submodule), None);
            }
            // A sparse directory (`build/`) that a file or link named
            // `build` replaced: the walk takes it for the directory and
            // says nothing; git lists it as untracked, unless ignored.
            if entry.mode == gix::index::entry::Mode::DIR {
                let name = path.strip_suffix(b"/").unwrap_or(path).as_bstr();
                if let Some(content) = root.as_ref().and_then(|r| on_disk(r, name, &mut folder)) {
                    replaced.push((name, content));
                }
            }
            last = Some(path);
        }
        if !replaced.is_empty() {
            let mut excludes = self
                .repo
                .excludes(index, None, Default::default())
                .map_err(wrap("cannot read the ignore rules"))?;
            for (name, content) in replaced {
                let ignored = excludes
                    .at_entry(name, Some(gix::index::entry::Mode::FILE))
                    .map_err(wrap("cannot read the ignore rules"))?
                    .is_excluded();
                if !ignored {
                    visit(Change::added(name, content), None);
                }
            }
        }
        Ok(())
    }
}

/// What a path the walk met is, as a file to judge; `None` for what is not
/// one: gone, a folder now (whose files the walk lists), a nested
/// repository, or a sparse directory absent from the work tree.
fn content_of(kind: Option<Kind>) -> Option<Content> {
    match kind {
        Some(Kind::File) => Some(Content::File),
        Some(Kind::Symlink) => Some(Content::Symlink(None)),
        Some(Kind::Untrackable) => Some(Content::Special),
        _ => None,
    }
}

/// What is at a tracked path the walk did not list (under an ignored
/// folder), by `lstat`, as a file to judge. A path whose folders are not
/// all real folders (one is a link now) is not there, as git sees it
/// ("beyond a symbolic link"): nothing outside the work tree is listed.
/// `folder` is the last folder found real, with its `/`.
fn on_disk(root: &std::path::Path, path: &BStr, folder: &mut BString) -> Option<Content> {
    use std::os::unix::ffi::OsStrExt;
    let fs = |rel: &[u8]| root.join(std::ffi::OsStr::from_bytes(rel));
    let parent = path.rfind_byte(b'/').map_or(0, |i| i + 1);
    if !path[..parent].starts_with(folder.as_slice()) || parent < folder.len() {
        folder.clear();
    }
    while folder.len() < parent {
        let next = folder.len()
            + path[folder.len()..parent]
                .find_byte(b'/')
                .map_or(parent - folder.len(), |i| i + 1);
        let real =
            std::fs::symlink_metadata(fs(&path[..next - 1])).is_ok_and(|m| m.file_type().is_dir());
        if !real {
            folder.clear();
            return None;
        }
        folder.clear();
        folder.extend_from_slice(&path[..next]);
    }
    let kind = std::fs::symlink_metadata(fs(path)).ok()?.file_type();
    if kind.is_file() {
        Some(Content::File)
    } else if kind.is_symlink() {
        Some(Content::Symlink(None))
    } else if kind.is_dir() {
        None
    } else {
        Some(Content::Special)
    }
}

/// Whether `path` is one of the sorted `unlisted` paths or under one of its
/// folders (those end in `/`). Nothing the walk reports lies under an
/// ignored folder, so the greatest entry not after `path` decides.
fn under_any(unlisted: &[BString], path: &BStr) -> bool {
    let at = unlisted.partition_point(|u| u.as_bstr() <= path);
    at > 0 && {
        let u = &unlisted[at - 1];
        u.as_bstr() == path || (u.ends_with(b"/") && path.starts_with(u))
    }
}

/// One read of the index file, whose refusal now (it was read once
/// already) is an error rather than another way to read it.
fn stream(
    file: &std::fs::File,
    hash: gix::hash::Kind,
    visit: impl FnMut(streamed::Streamed<'_>),
) -> Result<()> {
    match streamed::each_entry(file, hash, visit) {
        Ok(Some(())) => Ok(()),
        Ok(None) => Err(Error::git(
            "the index changed while valve read it",
            Some("run valve again once git is done".to_string()),
        )),
        Err(e) => Err(Error::io("<the index>", e)),
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
    /// With `Emit::Ignored`: an ignored path (a whole folder at once) or a
    /// nested repository, whose files are not listed as untracked ones.
    Unlisted(&'a BStr, Option<Kind>),
}

/// What a walk reports besides the untracked paths git does not ignore.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Emit {
    Untracked,
    /// What is on disk at each tracked path.
    Tracked,
    /// The ignored paths and nested repositories (with an empty index,
    /// where every path is untracked).
    Ignored,
}

/// The walk's delegate: untracked entries are handed on with their path,
/// tracked ones with their index position.
struct Marks<'i, 'v> {
    index: &'i gix::index::State,
    visit: &'v mut dyn FnMut(Seen<'_>),
    emit: Emit,
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
        let path: &BStr = entry.rela_path.as_ref();
        match entry.status {
            Status::Untracked
                if self.emit == Emit::Ignored && entry.disk_kind == Some(Kind::Repository) =>
            {
                (self.visit)(Seen::Unlisted(path, entry.disk_kind));
            }
            Status::Untracked => {
                (self.visit)(Seen::Untracked(path, entry.disk_kind));
            }
            Status::Ignored(_) if self.emit == Emit::Ignored => {
                (self.visit)(Seen::Unlisted(path, entry.disk_kind));
            }
            Status::Tracked if self.emit == Emit::Tracked => {
                match self.position(path) {
                    Some(i) => (self.visit)(Seen::Tracked(i, entry.disk_kind)),
                    // Tracked by a sparse directory entry (`build/`) that
                    // a link or file named `build` replaced: no index entry
                    // has that path, and git lists it as untracked.
                    None => (self.visit)(Seen::Untracked(path, entry.disk_kind)),
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
    walk(repo, index, prefix, Emit::Untracked, &mut |seen| {
        if let Seen::Untracked(path, kind) = seen {
            out.push((path.to_owned(), kind));
        }
    })?;
    Ok(out)
}

/// One walk of the work tree under `prefix`, handing `visit` the
/// untracked entries git does not ignore and what `emit` asks for. The walk sees `index` without
/// skip-worktree bits: git lists the untracked files of a folder outside
/// the sparse cone too, where gix would not look.
fn walk(
    repo: &gix::Repository,
    index: &gix::index::State,
    prefix: &[u8],
    emit: Emit,
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
        .emit_ignored(
            (emit == Emit::Ignored).then_some(gix::dir::walk::EmissionMode::CollapseDirectory),
        )
        .emit_tracked(emit == Emit::Tracked)
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
        emit,
        folder: None,
    };
    repo.dirwalk(index, patterns, &interrupt, options, &mut marks)
        .map_err(wrap("cannot walk the work tree"))?;
    Ok(())
}
