//! `--staged`: the index as git writes it, compared with `HEAD`.
//!
//! Every index format git writes is read (SPEC §2.1): versions 2–4, a
//! split index (gix joins the shared index), the untracked cache (not
//! needed: the work-tree walk is gix's own), `index.skipHash` (the trailing
//! checksum is never verified) and the sparse index, whose directory
//! entries stand for a whole tree each. A sparse directory is expanded
//! against its tree only where it may differ from `HEAD`, so a change in
//! it is listed file by file, as git lists it, and an untouched one costs
//! one comparison of ids.
//!
//! For the work tree (`--worktree`, `--all`), [`worktree_index`] does what
//! git does on reading the index of a sparse checkout: a skip-worktree file
//! that is present after all is looked at like any other.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use gix::bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::index::entry::Flags;

use super::eol::Conversions;
use super::located::{Bytes, Entries, Located};
use super::{BlobId, Change, Found, Repo, unreadable, wrap};
use crate::config::extends::{Fetched, OwnFiles};
use crate::error::{Error, Result};

impl Repo {
    /// Index vs `HEAD` (unborn: empty tree), read from the index blobs.
    ///
    /// Like git, the index's cache-tree prunes every directory whose tree is
    /// known to equal `HEAD`'s, so a small commit in a large repository
    /// reads only the trees along its changed paths. gix's index diff runs
    /// over just those regions, and renames are paired as git pairs them
    /// (`renames.rs`): every deletion and addition lies in a dirty region,
    /// so pairing among them is pairing across the whole diff.
    ///
    /// An unresolved merge is an error naming the unmerged paths: git
    /// refuses that commit too.
    pub fn staged(&self) -> Result<Vec<Change>> {
        Ok(self.staged_with(|_| Vec::new(), 0)?.0)
    }

    /// `staged`, and the index's files at the paths `wanted` names for the
    /// changes (SPEC §12: the nested configs of the folders above them),
    /// each as an own file of at most `max` bytes; looked up in the index
    /// already read for the diff.
    pub fn staged_with(
        &self,
        wanted: impl FnOnce(&[Change]) -> Vec<String>,
        max: u64,
    ) -> Result<(Vec<Change>, OwnFiles)> {
        self.needs_refs("--staged")?;
        let repo = self.local();
        match located_index(&repo)? {
            Some(index) => {
                refuse_unmerged(&index.unmerged)?;
                self.staged_in(&repo, &index, wanted, max)
            }
            None => {
                let index = read_index(&repo)?;
                refuse_unmerged(&unmerged_paths(&index))?;
                self.staged_in(&repo, &index, wanted, max)
            }
        }
    }

    /// The diff of one read index, and the files `wanted` names in it.
    fn staged_in(
        &self,
        repo: &gix::Repository,
        index: &impl Entries,
        wanted: impl FnOnce(&[Change]) -> Vec<String>,
        max: u64,
    ) -> Result<(Vec<Change>, OwnFiles)> {
        let changes = index_diff(repo, index, self.workdir.as_deref())?.paired(repo)?;
        let files = self.indexed_files(repo, index, &wanted(&changes), max)?;
        Ok((changes, files))
    }

    /// The stage-0 index entries at `paths` (those that exist), as own
    /// files: a blob is read, a link or anything else is refused. A path
    /// under a sparse directory entry is looked up in that entry's tree.
    fn indexed_files(
        &self,
        repo: &gix::Repository,
        index: &impl Entries,
        paths: &[String],
        max: u64,
    ) -> Result<Vec<(String, Fetched)>> {
        let mut out = Vec::new();
        for path in paths {
            let raw = path.as_bytes().as_bstr();
            let range = index.prefixed(raw);
            let exact = range.clone().find(|&i| index.path(i) == raw);
            let (id, mode) = match exact {
                Some(i) => {
                    let e = index.entry(i);
                    if e.flags.contains(gix::index::entry::Flags::INTENT_TO_ADD) {
                        continue;
                    }
                    (e.id, e.mode)
                }
                None => match sparse_lookup(repo, index, raw)? {
                    Some(found) => found,
                    None => continue,
                },
            };
            let fetched = if mode == gix::index::entry::Mode::FILE
                || mode == gix::index::entry::Mode::FILE_EXECUTABLE
            {
                match self.blob_within(repo, BlobId(id), path, max)? {
                    super::Sized::Bytes(b) => Fetched::Bytes(b),
                    super::Sized::TooLarge => Fetched::Refused(format!("larger than {max} bytes")),
                }
            } else if mode == gix::index::entry::Mode::SYMLINK {
                Fetched::Refused("a symlink".to_string())
            } else {
                Fetched::Refused("not a regular file".to_string())
            };
            out.push((path.clone(), fetched));
        }
        Ok(out)
    }
}

/// A path below a sparse directory entry: its id and mode in that tree.
fn sparse_lookup(
    repo: &gix::Repository,
    index: &impl Entries,
    raw: &BStr,
) -> Result<Option<(gix::ObjectId, gix::index::entry::Mode)>> {
    for slash in memchr::memchr_iter(b'/', raw) {
        let Some(tree) = index.sparse_dir(raw[..=slash].as_bstr()) else {
            continue;
        };
        let tree = repo
            .find_tree(tree)
            .map_err(|e| unreadable(repo, "a tree", &raw[..=slash], &tree, e))?;
        let rest = std::path::Path::new(std::ffi::OsStr::from_bytes(&raw[slash + 1..]));
        return Ok(tree
            .lookup_entry_by_path(rest)
            .map_err(wrap("cannot read a sparse directory's tree"))?
            .filter(|e| !e.mode().is_tree())
            .map(|e| (e.object_id(), e.mode().into())));
    }
    Ok(None)
}

/// Exit 2 naming the unmerged paths, if there are any.
fn refuse_unmerged(unmerged: &[BString]) -> Result<()> {
    if !unmerged.is_empty() {
        return Err(Error::git(
                format!(
                    "the merge is unresolved: {} unmerged path(s): {}",
                    unmerged.len(),
                    listed(unmerged)
                ),
                Some("resolve the conflicts and `git add` the files (git refuses to commit until then); `valve check --worktree` judges the files as they are now".to_string()),
            ));
    }
    Ok(())
}

/// At most ten names, then how many more.
fn listed(paths: &[BString]) -> String {
    let mut shown: Vec<String> = paths
        .iter()
        .take(10)
        .map(|p| super::name::display(p).into_owned())
        .collect();
    if paths.len() > 10 {
        shown.push(format!("and {} more", paths.len() - 10));
    }
    shown.join(", ")
}

/// The paths with a conflict stage (1–3), each once, in index order.
pub(super) fn unmerged_paths(index: &gix::index::State) -> Vec<BString> {
    let mut out: Vec<BString> = Vec::new();
    for entry in index.entries() {
        if entry.stage_raw() != 0 {
            let path = entry.path(index);
            if out.last().is_none_or(|last| last.as_bstr() != path) {
                out.push(path.to_owned());
            }
        }
    }
    out
}

/// `HEAD`'s tree, or `None` when `HEAD` is unborn.
pub(super) fn head_tree(repo: &gix::Repository) -> Result<Option<gix::ObjectId>> {
    let head_tree = repo
        .head_tree_id_or_empty()
        .map_err(wrap("cannot read HEAD"))?
        .detach();
    let empty = gix::ObjectId::empty_tree(repo.object_hash());
    Ok((head_tree != empty).then_some(head_tree))
}

/// The differences of `index` from `HEAD`, before rename pairing. Entries
/// with a conflict stage are the caller's to handle.
pub(super) fn index_diff(
    repo: &gix::Repository,
    index: &impl Entries,
    workdir: Option<&Path>,
) -> Result<Found> {
    let mut regions = Vec::new();
    dirty_regions(
        repo,
        index,
        head_tree(repo)?,
        index.cache_tree(),
        BString::default(),
        &mut regions,
    )?;
    let mut found = Found::default();
    if regions.is_empty() {
        return Ok(found);
    }
    let (lhs, rhs) = region_states(repo, index, &regions)?;
    let root = workdir.unwrap_or_else(|| repo.git_dir());
    let mut search = gix::pathspec::Search::from_specs(std::iter::empty(), None, root)
        .map_err(|e| Error::git(format!("cannot prepare the index diff: {e}"), None))?;
    gix::diff::index(
        &lhs,
        &rhs,
        |change| {
            found.push_index(change);
            Ok(std::ops::ControlFlow::Continue(()))
        },
        None::<gix::diff::index::RewriteOptions<'_, gix::OdbHandle>>,
        &mut search,
        &mut |_, _, _, _| false,
    )
    .map_err(wrap("cannot compare the index with HEAD"))?;
    Ok(found)
}

/// A directory where `HEAD` and the index may differ.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Region {
    /// `""` for the root, else the directory path ending in `/`.
    prefix: BString,
    /// `HEAD`'s tree for this directory, if it has one.
    head: Option<gix::ObjectId>,
    /// Anything below may differ; else only the files directly inside
    /// (subdirectories are regions of their own).
    deep: bool,
}

/// Walks `HEAD`'s trees alongside the index's cache-tree and records the
/// directories that are not provably equal. A sparse directory entry ends
/// the walk: it equals `HEAD`'s tree or its whole tree is a deep region.
fn dirty_regions(
    repo: &gix::Repository,
    index: &impl Entries,
    head: Option<gix::ObjectId>,
    cache: Option<&gix::index::extension::Tree>,
    prefix: BString,
    out: &mut Vec<Region>,
) -> Result<()> {
    // A valid cache-tree node that equals `HEAD`'s tree settles the whole
    // directory, a sparse directory entry in it included: checked first,
    // it spares the search for one in every clean directory.
    if let (Some(head_id), Some(cache)) = (head, cache) {
        if cache.num_entries.is_some() && cache.id == head_id {
            return Ok(());
        }
    }
    if !prefix.is_empty() {
        if let Some(dir) = index.sparse_dir(prefix.as_bstr()) {
            if head != Some(dir) {
                out.push(Region {
                    prefix,
                    head,
                    deep: true,
                });
            }
            return Ok(());
        }
    }
    let (Some(head_id), Some(cache)) = (head, cache) else {
        out.push(Region {
            prefix,
            head,
            deep: true,
        });
        return Ok(());
    };
    out.push(Region {
        prefix: prefix.clone(),
        head: Some(head_id),
        deep: false,
    });
    let tree = repo
        .find_tree(head_id)
        .map_err(|e| unreadable(repo, "HEAD's tree", &prefix, &head_id, e))?;
    let decoded = tree
        .decode()
        .map_err(|e| Error::git(format!("cannot decode a tree: {e}"), None))?;
    let mut children: BTreeMap<
        Vec<u8>,
        (Option<gix::ObjectId>, Option<&gix::index::extension::Tree>),
    > = BTreeMap::new();
    for entry in &decoded.entries {
        if entry.mode.is_tree() {
            children.entry(entry.filename.to_vec()).or_default().0 = Some(entry.oid.to_owned());
        }
    }
    for child in &cache.children {
        children.entry(child.name.to_vec()).or_default().1 = Some(child);
    }
    // Directories that exist only in the index (new ones) have neither a
    // HEAD tree nor, until the next write-tree, a cache-tree node.
    let range = index.prefixed(prefix.as_bstr());
    let mut i = range.start;
    while i < range.end {
        let path = index.path(i);
        match path[prefix.len()..].find_byte(b'/') {
            Some(slash) => {
                let dir = &path[..prefix.len() + slash + 1];
                children
                    .entry(dir[prefix.len()..dir.len() - 1].to_vec())
                    .or_default();
                // Entries are sorted: skip this directory's run in one search.
                i = index.first_where(i, range.end, |p| !p.starts_with(dir));
            }
            None => i += 1,
        }
    }
    for (name, (head_child, cache_child)) in children {
        let mut child_prefix = prefix.clone();
        child_prefix.push_str(&name);
        child_prefix.push(b'/');
        dirty_regions(repo, index, head_child, cache_child, child_prefix, out)?;
    }
    Ok(())
}

/// `HEAD`'s and the index's entries inside `regions`, as two sorted states;
/// a sparse directory entry stands for its tree's files.
fn region_states(
    repo: &gix::Repository,
    index: &impl Entries,
    regions: &[Region],
) -> Result<(gix::index::State, gix::index::State)> {
    let mut lhs = gix::index::State::new(repo.object_hash());
    let mut rhs = gix::index::State::new(repo.object_hash());
    for region in regions {
        let (prefix, deep) = (region.prefix.as_bstr(), region.deep);
        if let Some(id) = region.head {
            push_tree(repo, id, prefix, deep, Flags::empty(), &mut lhs)?;
        }
        let range = index.prefixed(prefix);
        let mut i = range.start;
        while i < range.end {
            let path = index.path(i);
            if !deep {
                if let Some(slash) = path[prefix.len()..].find_byte(b'/') {
                    // A subdirectory is a region of its own: skip its run
                    // of entries in one search.
                    let dir = &path[..prefix.len() + slash + 1];
                    i = index.first_where(i, range.end, |p| !p.starts_with(dir));
                    continue;
                }
            }
            let entry = index.entry(i);
            i += 1;
            if entry.mode == gix::index::entry::Mode::DIR {
                // A sparse directory in a deep region (a shallow region
                // never holds one directly: one ends where one starts).
                push_tree(repo, entry.id, path, true, Flags::empty(), &mut rhs)?;
                continue;
            }
            rhs.dangerously_push_entry(Default::default(), entry.id, entry.flags, entry.mode, path);
        }
    }
    lhs.sort_entries();
    rhs.sort_entries();
    Ok((lhs, rhs))
}

/// Adds a tree's file entries under `prefix` (recursively when `deep`),
/// each with `flags`.
fn push_tree(
    repo: &gix::Repository,
    id: gix::ObjectId,
    prefix: &BStr,
    deep: bool,
    flags: Flags,
    state: &mut gix::index::State,
) -> Result<()> {
    let tree = repo
        .find_tree(id)
        .map_err(|e| unreadable(repo, "a tree", prefix, &id, e))?;
    let decoded = tree
        .decode()
        .map_err(|e| Error::git(format!("cannot decode a tree: {e}"), None))?;
    for entry in &decoded.entries {
        let mut path: BString = prefix.to_owned();
        path.push_str(entry.filename);
        if entry.mode.is_tree() {
            if deep {
                path.push(b'/');
                push_tree(
                    repo,
                    entry.oid.to_owned(),
                    path.as_bstr(),
                    true,
                    flags,
                    state,
                )?;
            }
            continue;
        }
        state.dangerously_push_entry(
            Default::default(),
            entry.oid.to_owned(),
            flags,
            entry.mode.into(),
            path.as_bstr(),
        );
    }
    Ok(())
}

/// The index (honouring `GIT_INDEX_FILE`), or an empty one if none exists.
///
/// The trailing checksum is not verified (with `index.skipHash` there is
/// none): decoding still checks the structure, and hashing a large index
/// costs more than the whole staged check of a typical commit. git
/// verifies it on its own next write.
pub(super) fn read_index(repo: &gix::Repository) -> Result<gix::index::State> {
    let path = repo.index_path();
    if !index_exists(&path)? {
        return Ok(gix::index::State::new(repo.object_hash()));
    }
    let options = gix::index::decode::Options {
        thread_limit: Some(1),
        ..Default::default()
    };
    gix::index::File::at(&path, repo.object_hash(), true, options)
        .map(Into::into)
        .map_err(|e| {
            Error::git(
                format!("cannot read the index {}: {e}", path.display()),
                Some("if a git command crashed, `git status` repairs a stale index".to_string()),
            )
        })
}

/// Whether the index file exists; one that is not a regular file is an
/// error: `GIT_INDEX_FILE` may name anything, and a FIFO would block the
/// open forever, a device never end (SPEC §9).
pub(super) fn index_exists(path: &Path) -> Result<bool> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
        Ok(m) if !m.is_file() => Err(Error::git(
            format!("the index {} is not a regular file", path.display()),
            Some("check GIT_INDEX_FILE: it must name an index file git wrote".to_string()),
        )),
        Ok(_) => Ok(true),
    }
}

/// The index with its entries located (`located.rs`), or `None` when it
/// is to be read whole.
fn located_index(repo: &gix::Repository) -> Result<Option<Located>> {
    let path = repo.index_path();
    if !index_exists(&path)? {
        return Ok(None);
    }
    let data = Bytes::of(&path).map_err(|e| Error::io(&path, e))?;
    Ok(Located::new(data, repo.object_hash()))
}

/// The index as git sees it when it looks at the work tree: in a sparse
/// checkout (`core.sparseCheckout`, unless
/// `sparse.expectFilesOutsideOfPatterns`), a skip-worktree file that is
/// present in the work tree is looked at like any other, and a sparse
/// directory that is present is expanded first so that its files can be.
/// A sparse directory that is absent stays one entry; entries that keep
/// their skip-worktree bit are as the index has them (never deletions).
pub(super) fn worktree_index(
    repo: &gix::Repository,
    mut index: gix::index::State,
    workdir: &Path,
) -> Result<gix::index::State> {
    let sparse = {
        let config = repo.config_snapshot();
        config.boolean("core.sparseCheckout").unwrap_or(false)
            && !config
                .boolean("sparse.expectFilesOutsideOfPatterns")
                .unwrap_or(false)
    };
    if !sparse
        || !index
            .entries()
            .iter()
            .any(|e| e.flags.contains(Flags::SKIP_WORKTREE))
    {
        return Ok(index);
    }
    let mut present = Presence::new(workdir);
    let mut expand: Vec<(BString, gix::ObjectId)> = Vec::new();
    for entry in index.entries() {
        if entry.mode == gix::index::entry::Mode::DIR {
            let path = entry.path(&index);
            if present.dir(path) {
                expand.push((path.to_owned(), entry.id));
            }
        }
    }
    if !expand.is_empty() {
        index.remove_entries(|_, path, entry| {
            entry.mode == gix::index::entry::Mode::DIR
                && expand.iter().any(|(p, _)| p.as_bstr() == path)
        });
        for (path, id) in &expand {
            push_tree(
                repo,
                *id,
                path.as_bstr(),
                true,
                Flags::SKIP_WORKTREE,
                &mut index,
            )?;
        }
        index.sort_entries();
    }
    for (entry, path) in index.entries_mut_with_paths() {
        if entry.flags.contains(Flags::SKIP_WORKTREE)
            && entry.mode != gix::index::entry::Mode::DIR
            && present.file(path)
        {
            entry.flags.remove(Flags::SKIP_WORKTREE);
        }
    }
    Ok(index)
}

/// Which paths exist in the work tree, remembering the topmost missing
/// folder so that a whole absent tree costs one `lstat` per folder.
struct Presence<'a> {
    workdir: &'a Path,
    /// A folder known to be absent, ending in `/`.
    missing: Option<BString>,
}

impl<'a> Presence<'a> {
    fn new(workdir: &'a Path) -> Self {
        Presence {
            workdir,
            missing: None,
        }
    }

    fn lstat(&self, path: &[u8]) -> Option<std::fs::Metadata> {
        use std::os::unix::ffi::OsStrExt;
        let rel = Path::new(std::ffi::OsStr::from_bytes(
            path.trim_end_with(|c| c == '/'),
        ));
        std::fs::symlink_metadata(self.workdir.join(rel)).ok()
    }

    /// Whether something exists at `path` (as git asks: a folder there
    /// counts too, the file it replaced is then gone).
    fn file(&mut self, path: &BStr) -> bool {
        if self
            .missing
            .as_ref()
            .is_some_and(|m| path.starts_with(m.as_slice()))
        {
            return false;
        }
        if self.lstat(path).is_some() {
            return true;
        }
        self.note_missing_parents(path);
        false
    }

    /// Whether the folder `path` (ending in `/`) exists.
    fn dir(&self, path: &BStr) -> bool {
        self.lstat(path).is_some_and(|m| m.is_dir())
    }

    /// Records the topmost missing folder above `path`.
    fn note_missing_parents(&mut self, path: &BStr) {
        let mut topmost: Option<usize> = None;
        let mut end = path.len();
        while let Some(slash) = path[..end].rfind_byte(b'/') {
            if self.lstat(&path[..slash]).is_some() {
                break;
            }
            topmost = Some(slash);
            end = slash;
        }
        if let Some(slash) = topmost {
            self.missing = Some(path[..=slash].to_owned());
        }
    }
}

/// The index as the result cache's stat-clean shortcut reads it (SPEC
/// §12): a tracked file whose entry still describes the file on disk
/// (same size, times, inode, device, owner) is known by its blob id
/// without reading it.
pub struct StatIndex {
    /// Shared with the `--all` listing when that read the same index.
    state: std::sync::Arc<gix::index::State>,
    /// The attributes as `git add` reads them, cloned by each worker.
    as_is: Option<Conversions>,
}

impl std::fmt::Debug for StatIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatIndex")
            .field("entries", &self.state.entries().len())
            .finish()
    }
}

impl Repo {
    /// The index for the stat-clean shortcut; `None` in a bare repository.
    pub fn stat_index(&self) -> Result<Option<StatIndex>> {
        if self.workdir.is_none() {
            return Ok(None);
        }
        let repo = self.local();
        let state = read_index(&repo)?;
        Ok(Some(StatIndex::of(&repo, std::sync::Arc::new(state))))
    }
}

impl StatIndex {
    /// The shortcut's view of an index as read from its file.
    pub(super) fn of(
        repo: &gix::Repository,
        state: std::sync::Arc<gix::index::State>,
    ) -> StatIndex {
        // Attributes that cannot be read: no file is known to be stored
        // as it is, so there is no shortcut.
        let as_is = Conversions::new(repo, &state).ok();
        StatIndex { state, as_is }
    }

    /// The blob id of the tracked file `raw` when its index entry is
    /// stat-clean against the file's `lstat` (asked only for an entry
    /// that can be clean), with that `lstat`: a regular file's
    /// entry at stage 0, neither intent-to-add, skip-worktree nor
    /// assume-unchanged (git does not look at those files, so the entry
    /// may not describe them), and not racy: an entry whose mtime is not
    /// older than the index file's may have changed within the same tick
    /// after git looked, so it is never clean.
    ///
    /// `hint` is where the last lookup ended: files come a folder at a
    /// time, so the next entry is usually the one after it, or at least in
    /// the same folder's run of entries.
    pub fn clean(
        &self,
        raw: &[u8],
        hint: &mut Hint,
        lstat: impl FnOnce() -> Option<Stat>,
    ) -> Option<(BlobId, Stat)> {
        use gix::index::entry::Mode;
        let at = self.position(raw, hint)?;
        let entry = &self.state.entries()[at];
        let unusable = Flags::INTENT_TO_ADD | Flags::SKIP_WORKTREE | Flags::ASSUME_VALID;
        if entry.stage_raw() != 0
            || entry.flags.intersects(unusable)
            || !matches!(entry.mode, Mode::FILE | Mode::FILE_EXECUTABLE)
        {
            return None;
        }
        let meta = lstat().filter(Stat::is_file)?;
        let stat = &entry.stat;
        let written = self.state.timestamp();
        let entry_mtime = (i64::from(stat.mtime.secs), stat.mtime.nsecs);
        // Without nanoseconds (a git that records none) only whole
        // seconds can be compared, so the same second is racy too.
        let nsec = stat.mtime.nsecs != 0 || stat.ctime.nsecs != 0;
        let racy = if nsec {
            (written.unix_seconds(), written.nanoseconds()) <= entry_mtime
        } else {
            written.unix_seconds() <= entry_mtime.0
        };
        let time = |secs: i64, nsecs: i64, t: gix::index::entry::stat::Time| {
            secs == i64::from(t.secs) && (!nsec || nsecs == i64::from(t.nsecs))
        };
        let same = time(meta.mtime.0, meta.mtime.1, stat.mtime)
            && time(meta.ctime.0, meta.ctime.1, stat.ctime)
            // git keeps the low 32 bits of these.
            && meta.size as u32 == stat.size
            && meta.ino as u32 == stat.ino
            && meta.dev as u32 == stat.dev
            && meta.uid == stat.uid
            && meta.gid == stat.gid;
        (!racy && same).then_some((BlobId(entry.id), meta))
    }
}

/// What the stat-clean comparison and the check that a read file is the
/// one compared take of an `lstat` or `fstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The file type bits of the mode (`S_IFMT`).
    kind: u32,
    pub size: u64,
    pub ino: u64,
    pub dev: u64,
    pub uid: u32,
    pub gid: u32,
    /// Seconds and nanoseconds.
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

// `mode_t` and the `stat` fields' types differ between platforms: the
// casts below are no-ops on Linux.
#[allow(clippy::unnecessary_cast)]
impl Stat {
    /// A regular file (not a link, FIFO, folder…).
    pub fn is_file(&self) -> bool {
        self.kind == libc::S_IFREG as u32
    }

    /// The fields of a `Metadata` (an `fstat` of an opened file).
    pub fn of(meta: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        Stat {
            kind: meta.mode() & libc::S_IFMT as u32,
            size: meta.size(),
            ino: meta.ino(),
            dev: meta.dev(),
            uid: meta.uid(),
            gid: meta.gid(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// `lstat` of `name` in the folder open as `dir`: the kernel looks up
    /// one component, not the whole path again. `None` when there is
    /// nothing there (or it cannot be asked).
    pub fn in_dir(dir: &std::os::fd::OwnedFd, name: &std::ffi::CStr) -> Option<Stat> {
        use std::os::fd::AsRawFd;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `name` is a valid C string and `st` room for one `stat`,
        // which the call fills when it returns 0.
        let rc = unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                name.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return None;
        }
        // SAFETY: filled by the successful call above.
        let st = unsafe { st.assume_init() };
        // Each field as `MetadataExt` gives it for an `fstat`.
        Some(Stat {
            kind: (st.st_mode & libc::S_IFMT) as u32,
            size: st.st_size as u64,
            ino: st.st_ino as u64,
            dev: st.st_dev as u64,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        })
    }

    /// Whether two stats are of one unchanged file.
    pub fn same_file(&self, other: &Stat) -> bool {
        self.ino == other.ino
            && self.dev == other.dev
            && self.size == other.size
            && self.mtime == other.mtime
            && self.ctime == other.ctime
    }
}

/// Where a worker's last stat-clean lookup ended.
#[derive(Debug, Default)]
pub struct Hint {
    /// Where the caller knows the next path's entry to be (the `--all`
    /// walk finds it in the same index): checked, then used.
    pub at: Option<usize>,
    /// The entry after the last one found.
    next: usize,
    /// The folder (with its `/`) of the last path looked up, and the
    /// range of entries inside it (`None` before the first lookup).
    folder: Option<Vec<u8>>,
    range: std::ops::Range<usize>,
}

impl StatIndex {
    /// The position of the entry of `raw`: the one after the last found,
    /// else a search of its folder's entries (one search of the whole
    /// index a folder).
    fn position(&self, raw: &[u8], hint: &mut Hint) -> Option<usize> {
        let state = &*self.state;
        let entries = state.entries();
        if let Some(at) = hint.at.take() {
            if entries.get(at).is_some_and(|e| e.path(state) == raw) {
                hint.next = at + 1;
                return Some(at);
            }
        }
        if entries.get(hint.next).is_some_and(|e| e.path(state) == raw) {
            hint.next += 1;
            return Some(hint.next - 1);
        }
        let folder = super::name::folder(raw);
        if hint.folder.as_deref() != Some(folder) || hint.range.end > entries.len() {
            hint.range = if folder.is_empty() {
                0..entries.len()
            } else {
                state
                    .prefixed_entries_range(folder.as_bstr())
                    .unwrap_or(0..0)
            };
            hint.folder = Some(folder.to_vec());
        }
        let run = &entries[hint.range.clone()];
        let at = run.partition_point(|e| e.path(state) < raw);
        run.get(at).filter(|e| e.path(state) == raw)?;
        hint.next = hint.range.start + at + 1;
        Some(hint.range.start + at)
    }
}

/// Whether a stat-clean file's content is its blob's whenever its size is
/// the blob's, for the stat-clean shortcut: true when `git add` would
/// store its bytes as they are, and when it could only convert line
/// endings, as CRLF → LF only ever removes bytes (a file it would change
/// is then longer than its blob, and the size alone tells them apart).
#[derive(Clone)]
pub struct AsIs {
    conversions: Conversions,
    /// A folder (with its `/`) whose attribute files name no attribute
    /// that converts more than line endings: its files need no lookup.
    line_endings_only: Option<Vec<u8>>,
}

impl AsIs {
    /// A worker's own copy of the attributes the index was read with.
    pub fn of(index: &StatIndex) -> Option<AsIs> {
        index.as_is.clone().map(|conversions| AsIs {
            conversions,
            line_endings_only: None,
        })
    }

    /// Whether the file at `raw` holds its blob's bytes when it is as long
    /// as the blob: no attribute or setting converts it, or none but one
    /// of line endings can (`ident` and `working-tree-encoding` may keep
    /// the length and change the bytes). Files come a folder at a time:
    /// a folder's attributes are looked up for its first file only, when
    /// they name neither of those two.
    pub fn at(&mut self, repo: &gix::Repository, raw: &[u8]) -> Result<bool> {
        let folder = super::name::folder(raw);
        if self.line_endings_only.as_deref() == Some(folder) {
            return Ok(true);
        }
        // The index's copy is only asked for when a conversion applies.
        let as_is = self
            .conversions
            .at(repo, raw.as_bstr(), || Ok(None))?
            .is_none();
        // The lookup read the attribute files of the folders above `raw`.
        if self.conversions.only_line_endings() {
            self.line_endings_only = Some(folder.to_vec());
            return Ok(true);
        }
        self.line_endings_only = None;
        Ok(as_is)
    }
}

impl BlobId {
    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether `data` is this blob's content.
    pub fn is_of(&self, data: &[u8]) -> bool {
        gix::objs::compute_hash(self.0.kind(), gix::object::Kind::Blob, data)
            .is_ok_and(|id| id == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_index(paths: &[&str]) -> StatIndex {
        let mut state = gix::index::State::new(gix::hash::Kind::Sha1);
        for path in paths {
            state.dangerously_push_entry(
                Default::default(),
                gix::ObjectId::null(gix::hash::Kind::Sha1),
                Flags::empty(),
                gix::index::entry::Mode::FILE,
                path.as_bytes().as_bstr(),
            );
        }
        state.sort_entries();
        StatIndex {
            state: std::sync::Arc::new(state),
            as_is: None,
        }
    }

    #[test]
    fn a_position_handed_on_is_used_only_when_it_is_the_paths() {
        let index = stat_index(&["a/x", "a/y", "b/z", "top"]);
        let mut hint = Hint::default();
        for (raw, at) in [("b/z", 2), ("a/x", 0), ("top", 3), ("a/y", 1)] {
            // The right position, a wrong one, one past the end: the entry
            // found is the path's each time.
            for given in [Some(at), Some((at + 1) % 4), Some(9), None] {
                hint.at = given;
                assert_eq!(index.position(raw.as_bytes(), &mut hint), Some(at));
                assert_eq!(hint.at, None, "a position is used once");
            }
        }
        hint.at = Some(0);
        assert_eq!(index.position(b"a/w", &mut hint), None);
    }
}
