//! The only module that speaks gix: open a repository (honouring `GIT_DIR`,
//! `GIT_INDEX_FILE`), list changes for `--staged` (`index.rs`),
//! `--base/--head` and `--worktree` (`worktree.rs`), read blobs, and diff
//! two blobs by line. What git stores is read as git stores it: names as
//! bytes (`name.rs`), every index format (`index.rs`), the new side of the
//! work tree as `git add` would store it (`eol.rs`); what valve cannot read
//! is exit 2 naming it (`format.rs`).
//!
//! Every mode lists its changes without gix's rename tracker (which pairs
//! differently from git) and hands deletions and additions to `renames.rs`,
//! git's own pairing rules, so the change set is `git diff -M`'s (SPEC §2.1).
//!
//! Read-only by construction: nothing here writes the index, the work tree,
//! refs or objects (SPEC §9). gix errors are wrapped into valve's own
//! `Error::Git` with a hint at the boundary.

pub mod name;
pub mod renames;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use gix::bstr::{BStr, BString};
use gix::diff::blob::{Algorithm, Diff, InternedInput, sources::byte_lines};

use crate::error::{Error, Result};
use crate::finding::ChangeKind;

mod blob;
mod eol;
mod format;
mod index;
mod inert;
mod listing;
pub use listing::{Listing, SharedIndex};
mod located;
mod packs;
pub use packs::PackReader;
mod probe;
mod quarantine;
mod range;
mod revision;
mod streamed;
#[cfg(test)]
mod test_git;
mod trees;
mod worktree;
pub use blob::Sized;
pub use eol::Conversion;
use format::unreadable;
pub use index::{AsIs, Hint, Stat, StatIndex};
pub use probe::{GitIgnore, IgnoreRule, Probe, Tracked};
pub use range::Commit;
pub use worktree::{Snapshot, Staged};

/// A range's changes, and own files found in its head's and merge base's
/// trees.
pub struct RangeFiles {
    pub changes: Vec<Change>,
    pub in_head: crate::config::extends::OwnFiles,
    pub in_base: crate::config::extends::OwnFiles,
}

/// A blob's object id, opaque outside this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobId(gix::ObjectId);

/// Where the new side of a change is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A blob in the object database (index or commit).
    Blob(BlobId),
    /// A regular file in the work tree, at the change's path under the root.
    File,
    /// A symlink, never followed: its link text is judged, read from the
    /// blob (index or commit) or, with `None`, from the work-tree link.
    Symlink(Option<BlobId>),
    /// A FIFO, socket or device in the work tree: never opened.
    Special,
    /// A gitlink: skipped.
    Submodule,
    /// The file is gone (deleted).
    Gone,
}

/// One changed path, as git sees it.
#[derive(Debug, Clone)]
pub struct Change {
    /// The path as shown and matched by globs (`name::display`).
    pub path: String,
    /// The raw path, repo-relative, when it is not the shown one (a name
    /// that is not UTF-8): what the file system and git know it by.
    pub fs_path: Option<PathBuf>,
    pub old_path: Option<String>,
    pub kind: ChangeKind,
    pub new: Content,
    /// The old blob, for the line diff of `scope: changed`.
    pub old: Option<BlobId>,
    /// For a work-tree file: how `git add` would convert its bytes
    /// (`None`: it would store them as they are).
    pub stored: Option<Conversion>,
    /// `--worktree` and watch: what the index holds of this path (SPEC
    /// §8); `None` in every other mode.
    pub staged: Option<Staged>,
}

impl Change {
    /// A change of `raw` (a repo-relative name as git stores it).
    pub fn new(raw: &[u8], kind: ChangeKind, new: Content, old: Option<BlobId>) -> Change {
        let (path, fs_path) = name::split(raw);
        Change {
            path,
            fs_path,
            old_path: None,
            kind,
            new,
            old,
            stored: None,
            staged: None,
        }
    }

    fn added(raw: &[u8], new: Content) -> Change {
        Change::new(raw, ChangeKind::Added, new, None)
    }

    fn deleted(raw: &[u8], old: gix::ObjectId, gitlink: bool) -> Change {
        let new = if gitlink {
            Content::Submodule
        } else {
            Content::Gone
        };
        Change::new(raw, ChangeKind::Deleted, new, Some(BlobId(old)))
    }

    fn modified(raw: &[u8], new: Content, old: gix::ObjectId) -> Change {
        Change::new(raw, ChangeKind::Modified, new, Some(BlobId(old)))
    }

    /// The repo-relative path to open in the work tree.
    pub fn fs_rel(&self) -> &Path {
        self.fs_path
            .as_deref()
            .unwrap_or_else(|| Path::new(&self.path))
    }

    /// The name's raw bytes: what tells two changes apart.
    pub fn raw_path(&self) -> &[u8] {
        use std::os::unix::ffi::OsStrExt;
        match &self.fs_path {
            Some(p) => p.as_os_str().as_bytes(),
            None => self.path.as_bytes(),
        }
    }

    /// The new side's bytes as git stores them: `new` itself for a blob,
    /// for a work-tree file what `git add` would make of it.
    pub fn stored_form<'a>(&self, new: &'a [u8]) -> Cow<'a, [u8]> {
        match &self.stored {
            Some(c) => c.apply(new),
            None => Cow::Borrowed(new),
        }
    }

    /// For each line of `new` (the new side as read, 0-based), whether the
    /// change added or modified it: `old` is diffed with the stored form
    /// of `new`, so line endings `git add` would normalise change nothing.
    /// When the stored form has other lines than `new` (a re-encoding),
    /// `new` itself is diffed.
    pub fn changed_lines(&self, old: &[u8], new: &[u8]) -> Vec<bool> {
        let stored = self.stored_form(new);
        let lines = |b: &[u8]| {
            memchr::memchr_iter(b'\n', b).count()
                + usize::from(!b.ends_with(b"\n") && !b.is_empty())
        };
        if stored.as_ref() != new && lines(&stored) == lines(new) {
            return changed_lines(old, &stored);
        }
        changed_lines(old, new)
    }
}

/// An open repository, shareable across rayon workers.
#[derive(Clone)]
pub struct Repo {
    sync: gix::ThreadSafeRepository,
    /// The work-tree top; `None` in a bare repository.
    pub workdir: Option<PathBuf>,
    /// What of the repository's format valve cannot read.
    limits: format::Limits,
    /// The object folder of `GIT_OBJECT_DIRECTORY`, kept while in use.
    _objects: Option<std::sync::Arc<quarantine::Overlay>>,
    /// The packs, opened on the first [`Repo::reader`] and again when
    /// the pack folder changed since (`valve watch` outlives a `git gc`).
    packs: std::sync::Arc<std::sync::Mutex<Option<packs::Opened>>>,
}

fn wrap(context: &str) -> impl Fn(gix::Error) -> Error + '_ {
    move |e| Error::git(format!("{context}: {e}"), None)
}

/// Opens the repository that contains `dir`, or `None` outside git.
pub fn discover(dir: &Path) -> Result<Option<Repo>> {
    match gix::ThreadSafeRepository::discover_with_environment_overrides(dir) {
        Ok(sync) => {
            let limits = format::check(sync.common_dir.as_deref().unwrap_or(sync.git_dir()))?;
            let mut sync = inert::disarm(sync)?;
            // gix reads neither variable; git sets them in pre-receive.
            let _objects = quarantine::apply(&mut sync)?;
            let workdir = sync.work_dir().map(Path::to_path_buf);
            Ok(Some(Repo {
                sync,
                workdir,
                limits,
                _objects,
                packs: std::sync::Arc::default(),
            }))
        }
        Err(e)
            if e.downcast_any_ref::<gix::discover::upwards::Error>()
                .is_some_and(|u| {
                    use gix::discover::upwards::Error as U;
                    matches!(
                        u,
                        U::NoGitRepository { .. }
                            | U::NoGitRepositoryWithinCeiling { .. }
                            | U::NoGitRepositoryWithinFs { .. }
                    )
                }) =>
        {
            Ok(None)
        }
        Err(e) => {
            // A format gix cannot open is named, as one it opens would be.
            if let Some(common) = format::common_dir_at(dir) {
                format::check(&common)?;
            }
            Err(Error::git(
                format!("cannot open the git repository: {e}"),
                Some("check GIT_DIR / GIT_WORK_TREE, or run valve inside a repository".to_string()),
            ))
        }
    }
}

fn content_for(mode_is_link: bool, mode_is_commit: bool, id: gix::ObjectId) -> Content {
    if mode_is_commit {
        Content::Submodule
    } else if mode_is_link {
        Content::Symlink(Some(BlobId(id)))
    } else {
        Content::Blob(BlobId(id))
    }
}

impl Repo {
    pub fn local(&self) -> gix::Repository {
        let mut repo = self.sync.to_thread_local();
        repo.object_cache_size_if_unset(4 * 1024 * 1024);
        repo
    }

    /// A handle without an object cache, for a walk that reads each object
    /// once (a range's tree diff): a cache would only copy every object
    /// into fresh memory, page by page.
    pub(crate) fn local_uncached(&self) -> gix::Repository {
        let mut repo = self.sync.to_thread_local();
        repo.object_cache_size(0);
        repo
    }

    /// A reader of the packs that keeps what it read for the next read
    /// (`None` when the packs are not all there is, see `packs.rs`): one
    /// a thread, for reads that come in pairs.
    pub fn reader(&self) -> Option<PackReader> {
        let mut opened = self.packs.lock().unwrap_or_else(|e| e.into_inner());
        packs::Opened::current(&mut opened, &self.local_uncached()).map(PackReader::new)
    }

    pub fn is_bare(&self) -> bool {
        self.workdir.is_none()
    }

    /// The repository's private git dir (a linked worktree's own).
    pub fn git_dir(&self) -> PathBuf {
        self.sync.git_dir().to_path_buf()
    }

    /// The git dir that linked worktrees share (the git dir otherwise).
    pub fn common_dir(&self) -> PathBuf {
        self.local().common_dir().to_path_buf()
    }

    /// Exit 2 naming the ref format when `what` needs refs valve cannot read.
    fn needs_refs(&self, what: &str) -> Result<()> {
        match &self.limits.refs {
            Some(format) => Err(format::refs_unreadable(format, what)),
            None => Ok(()),
        }
    }

    /// Resolves a revision to a commit id, with a fix-it message.
    fn commit_id(&self, repo: &gix::Repository, rev: &str) -> Result<gix::ObjectId> {
        // A full object id needs no refs.
        if gix::ObjectId::from_hex(rev.as_bytes()).is_err() {
            self.needs_refs(&format!("the revision `{rev}`"))?;
        }
        let id = repo.rev_parse_single(rev).map_err(|e| {
            let shallow = repo.is_shallow().unwrap_or(false);
            Error::git(
                format!("revision `{rev}` does not resolve: {e}"),
                Some(if shallow {
                    format!("this is a shallow clone: fetch the revision (`git fetch origin {rev}`) or clone with `fetch-depth: 0`")
                } else {
                    format!("check the name with `git rev-parse {rev}`; a remote branch may need `git fetch` first")
                }),
            )
        })?;
        let object = id.object().map_err(wrap("cannot read a revision"))?;
        let commit = object.peel_to_commit().map_err(|e| {
            Error::git(
                format!("revision `{rev}` is not a commit: {e}"),
                Some("pass a branch, tag or commit id".to_string()),
            )
        })?;
        Ok(commit.id)
    }

    /// `merge-base(base, head)..head` with rename detection, from `head`'s blobs.
    pub fn range(&self, base: &str, head: &str) -> Result<Vec<Change>> {
        let repo = self.local();
        let (merge_base, head_id) = self.merge_base(&repo, base, head)?;
        range::diff_commits(&repo, Some(merge_base), head_id)
    }

    /// The changes of `merge_base..head` (`merge_base` as
    /// [`Repo::merge_base_id`] found it; `None`: `--root`), and the nested
    /// configs (SPEC §12) in the folders `dirs` names for them, in the
    /// head's tree and in the merge base's: the diff runs on up to
    /// `threads` threads and notes what the lookup needs of the trees it
    /// reads, so the trees along the changed paths are read once.
    pub fn range_with(
        &self,
        merge_base: Option<&str>,
        head: &str,
        dirs: impl FnOnce(&[Change]) -> Vec<String>,
        max: u64,
        threads: usize,
    ) -> Result<RangeFiles> {
        let repo = self.local_uncached();
        let merge_base = merge_base.map(|mb| self.commit_id(&repo, mb)).transpose()?;
        let head_id = self.commit_id(&repo, head)?;
        let tree_of = |id: gix::ObjectId| -> Result<gix::ObjectId> {
            repo.find_commit(id)
                .and_then(|c| c.tree_id())
                .map(|t| t.detach())
                .map_err(wrap("cannot read a commit's tree"))
        };
        let old_tree = merge_base.map(tree_of).transpose()?;
        let (records, seen) = self.tree_records(&repo, old_tree, tree_of(head_id)?, threads)?;
        let mut found = Found::default();
        for record in records {
            found.push_tree(range::detached(record));
        }
        let changes = found.paired(&repo)?;
        let dirs = dirs(&changes);
        let (mut in_head, mut in_base) = (Vec::new(), Vec::new());
        if !dirs.is_empty() {
            let known = Some((&seen, trees::Side::New));
            in_head = self.configs_in(&repo, head, head_id, &dirs, max, known)?;
            if let Some(mb) = merge_base {
                let known = Some((&seen, trees::Side::Old));
                in_base = self.configs_in(&repo, &mb.to_string(), mb, &dirs, max, known)?;
            }
        }
        Ok(RangeFiles {
            changes,
            in_head,
            in_base,
        })
    }

    /// Where git runs hooks for this repository: `core.hooksPath` (a
    /// relative path is relative to the work-tree root, as git runs hooks
    /// there), else the hooks folder of the common git dir, which linked
    /// worktrees share.
    pub fn hooks_dir(&self) -> Result<PathBuf> {
        let repo = self.local();
        let configured = repo
            .config_snapshot()
            .trusted_path("core.hooksPath")
            .map_err(|e| {
                Error::git(
                    format!("cannot read core.hooksPath: {e}"),
                    Some("check `git config core.hooksPath`".to_string()),
                )
            })?;
        Ok(match configured {
            Some(p) if p.is_absolute() => p,
            Some(p) => self
                .workdir
                .clone()
                .unwrap_or_else(|| repo.git_dir().to_path_buf())
                .join(p),
            None => repo.common_dir().join("hooks"),
        })
    }

    /// Reads a blob's bytes.
    pub fn blob(&self, repo: &gix::Repository, id: BlobId) -> Result<Vec<u8>> {
        self.blob_of(repo, id, "")
    }

    /// Reads the blob of `path` (as shown): one that cannot be read is an
    /// error naming both, never empty content (in a partial clone, with
    /// the command that fetches it).
    pub fn blob_of(&self, repo: &gix::Repository, id: BlobId, path: &str) -> Result<Vec<u8>> {
        repo.find_blob(id.0)
            .map(|mut b| b.take_data())
            .map_err(|e| unreadable(repo, "the blob", path.as_bytes(), &id.0, e))
    }
}

/// A deletion or an addition that may be one half of a rename.
struct Candidate {
    /// Its index in [`Found::changes`].
    change: usize,
    /// The path as git stores it.
    path: BString,
    /// The blob id, or for a work-tree file the id `git add` would give it.
    id: gix::ObjectId,
    kind: renames::Kind,
    /// A work-tree file to read instead of the object database, and how
    /// `git add` would convert it.
    file: Option<(PathBuf, Option<Conversion>)>,
}

fn kind_of_index_mode(mode: gix::index::entry::Mode) -> renames::Kind {
    if mode == gix::index::entry::Mode::SYMLINK {
        renames::Kind::Symlink
    } else if mode.is_submodule() {
        renames::Kind::Other
    } else {
        renames::Kind::Regular
    }
}

fn kind_of_tree_mode(mode: gix::object::tree::EntryMode) -> renames::Kind {
    if mode.is_link() {
        renames::Kind::Symlink
    } else if mode.is_commit() {
        renames::Kind::Other
    } else {
        renames::Kind::Regular
    }
}

/// The changes of one mode as git lists them before rename detection,
/// with what pairing needs to know of every deletion and addition.
#[derive(Default)]
pub(super) struct Found {
    pub(super) changes: Vec<Change>,
    sources: Vec<Candidate>,
    destinations: Vec<Candidate>,
}

impl Found {
    fn add(&mut self, path: &BStr, new: Content, id: gix::ObjectId, kind: renames::Kind) {
        self.add_change(path, Change::added(path, new), id, kind, None);
    }

    /// An addition that may be a rename destination, `file` read from the
    /// work tree.
    fn add_change(
        &mut self,
        path: &BStr,
        change: Change,
        id: gix::ObjectId,
        kind: renames::Kind,
        file: Option<(PathBuf, Option<Conversion>)>,
    ) {
        self.destinations.push(Candidate {
            change: self.changes.len(),
            path: path.to_owned(),
            id,
            kind,
            file,
        });
        self.changes.push(change);
    }

    fn delete(&mut self, path: &BStr, id: gix::ObjectId, kind: renames::Kind) {
        self.sources.push(Candidate {
            change: self.changes.len(),
            path: path.to_owned(),
            id,
            kind,
            file: None,
        });
        let gitlink = kind == renames::Kind::Other;
        self.changes.push(Change::deleted(path, id, gitlink));
    }

    /// One entry of the index-vs-`HEAD` diff (run without rename tracking).
    fn push_index(&mut self, change: gix::diff::index::ChangeRef<'_, '_>) {
        use gix::diff::index::ChangeRef;
        let content = |m: gix::index::entry::Mode, id: &gix::oid| {
            content_for(
                m == gix::index::entry::Mode::SYMLINK,
                m.is_submodule(),
                id.to_owned(),
            )
        };
        match change {
            ChangeRef::Addition {
                location,
                entry_mode,
                id,
                ..
            } => self.add(
                location.as_ref(),
                content(entry_mode, &id),
                id.into_owned(),
                kind_of_index_mode(entry_mode),
            ),
            ChangeRef::Deletion {
                location,
                entry_mode,
                id,
                ..
            } => self.delete(
                location.as_ref(),
                id.into_owned(),
                kind_of_index_mode(entry_mode),
            ),
            ChangeRef::Modification {
                location,
                previous_id,
                entry_mode,
                id,
                ..
            } => self.changes.push(Change::modified(
                location.as_ref(),
                content(entry_mode, &id),
                previous_id.into_owned(),
            )),
            // Only emitted by gix's rename tracker, which is off: a copy is an
            // addition, a rename its two halves, for git's pairing to decide.
            ChangeRef::Rewrite {
                source_location,
                source_entry_mode,
                source_id,
                location,
                entry_mode,
                id,
                copy,
                ..
            } => {
                if !copy {
                    self.delete(
                        source_location.as_ref(),
                        source_id.into_owned(),
                        kind_of_index_mode(source_entry_mode),
                    );
                }
                self.add(
                    location.as_ref(),
                    content(entry_mode, &id),
                    id.into_owned(),
                    kind_of_index_mode(entry_mode),
                );
            }
        }
    }

    /// One entry of a tree-to-tree diff (run without rename tracking);
    /// trees themselves are not changes, their files are.
    fn push_tree(&mut self, change: gix::object::tree::diff::ChangeDetached) {
        use gix::object::tree::diff::ChangeDetached as C;
        let content = |mode: gix::object::tree::EntryMode, id: gix::ObjectId| {
            content_for(mode.is_link(), mode.is_commit(), id)
        };
        match change {
            C::Addition {
                location,
                entry_mode,
                id,
                ..
            } if !entry_mode.is_tree() => self.add(
                location.as_ref(),
                content(entry_mode, id),
                id,
                kind_of_tree_mode(entry_mode),
            ),
            C::Deletion {
                location,
                entry_mode,
                id,
                ..
            } if !entry_mode.is_tree() => {
                self.delete(location.as_ref(), id, kind_of_tree_mode(entry_mode))
            }
            C::Modification {
                location,
                previous_entry_mode,
                previous_id,
                entry_mode,
                id,
                ..
            } => match (previous_entry_mode.is_tree(), entry_mode.is_tree()) {
                (false, false) => self.changes.push(Change::modified(
                    location.as_ref(),
                    content(entry_mode, id),
                    previous_id,
                )),
                // A directory became a file, or a file a directory: git
                // lists an addition and a deletion.
                (true, false) => self.add(
                    location.as_ref(),
                    content(entry_mode, id),
                    id,
                    kind_of_tree_mode(entry_mode),
                ),
                (false, true) => self.delete(
                    location.as_ref(),
                    previous_id,
                    kind_of_tree_mode(previous_entry_mode),
                ),
                (true, true) => {}
            },
            C::Rewrite {
                source_location,
                source_entry_mode,
                source_id,
                location,
                entry_mode,
                id,
                copy,
                ..
            } if !entry_mode.is_tree() => {
                if !copy {
                    self.delete(
                        source_location.as_ref(),
                        source_id,
                        kind_of_tree_mode(source_entry_mode),
                    );
                }
                self.add(
                    location.as_ref(),
                    content(entry_mode, id),
                    id,
                    kind_of_tree_mode(entry_mode),
                );
            }
            _ => {}
        }
    }

    /// The changes with deletions and additions paired into renames as git
    /// pairs them; a paired deletion is folded into its rename.
    fn paired(self, repo: &gix::Repository) -> Result<Vec<Change>> {
        let Found {
            mut changes,
            sources,
            destinations,
        } = self;
        if sources.is_empty() || destinations.is_empty() {
            return Ok(changes);
        }
        fn entries(candidates: &[Candidate]) -> Vec<renames::Entry<'_, gix::ObjectId>> {
            candidates
                .iter()
                .map(|c| renames::Entry {
                    path: c.path.as_slice(),
                    id: c.id,
                    kind: c.kind,
                })
                .collect()
        }
        let mut reader = Reader {
            repo,
            sources: &sources,
            destinations: &destinations,
        };
        let pairing = renames::pair(&entries(&sources), &entries(&destinations), &mut reader)?;
        let mut folded = vec![false; changes.len()];
        for pair in pairing.pairs {
            let (source, destination) = (&sources[pair.source], &destinations[pair.destination]);
            let old_path = changes[source.change].path.clone();
            let change = &mut changes[destination.change];
            change.kind = ChangeKind::Renamed;
            change.old_path = Some(old_path);
            change.old = Some(BlobId(source.id));
            folded[source.change] = true;
        }
        let mut i = 0;
        changes.retain(|_| {
            i += 1;
            !folded[i - 1]
        });
        Ok(changes)
    }
}

/// What rename pairing reads: blobs from the object database, new work-tree
/// files from disk. A missing object is an error, never empty content.
struct Reader<'a> {
    repo: &'a gix::Repository,
    sources: &'a [Candidate],
    destinations: &'a [Candidate],
}

impl Reader<'_> {
    fn candidate(&self, side: renames::Side, index: usize) -> &Candidate {
        match side {
            renames::Side::Source => &self.sources[index],
            renames::Side::Destination => &self.destinations[index],
        }
    }

    fn missing(&self, candidate: &Candidate, e: impl std::fmt::Display) -> Error {
        unreadable(
            self.repo,
            "a rename candidate",
            &candidate.path,
            &candidate.id,
            e,
        )
    }

    /// A work-tree candidate's bytes as `git add` would store them.
    fn file_bytes(path: &Path, stored: Option<Conversion>) -> Result<Vec<u8>> {
        let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Ok(match stored {
            Some(c) => c.apply(&data).into_owned(),
            None => data,
        })
    }
}

impl renames::Contents for Reader<'_> {
    type Error = Error;

    fn size(&mut self, side: renames::Side, index: usize) -> Result<u64> {
        let c = self.candidate(side, index);
        match &c.file {
            Some((path, Some(stored))) => {
                Reader::file_bytes(path, Some(*stored)).map(|b| b.len() as u64)
            }
            Some((path, None)) => std::fs::symlink_metadata(path)
                .map(|m| m.len())
                .map_err(|e| Error::io(path, e)),
            None => self
                .repo
                .find_header(c.id)
                .map(|h| h.size())
                .map_err(|e| self.missing(c, e)),
        }
    }

    fn bytes(&mut self, side: renames::Side, index: usize) -> Result<Vec<u8>> {
        let c = self.candidate(side, index);
        match &c.file {
            Some((path, stored)) => Reader::file_bytes(path, *stored),
            None => self
                .repo
                .find_blob(c.id)
                .map(|mut b| b.take_data())
                .map_err(|e| self.missing(c, e)),
        }
    }
}

/// For each line of `new` (0-based), whether the change added or modified it.
pub fn changed_lines(old: &[u8], new: &[u8]) -> Vec<bool> {
    let input = InternedInput::new(byte_lines(old), byte_lines(new));
    let diff = Diff::compute(Algorithm::Histogram, &input);
    let count = input.after.len();
    (0..count).map(|i| diff.is_added(i as u32)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_marks_added_and_modified_lines_only() {
        let old = b"a\nb\nc\nd\n";
        let new = b"a\nB\nc\nd\ne\n";
        assert_eq!(
            changed_lines(old, new),
            vec![false, true, false, false, true]
        );
    }

    #[test]
    fn changed_lines_from_empty_is_everything() {
        assert_eq!(changed_lines(b"", b"x\ny"), vec![true, true]);
    }

    #[test]
    fn moved_block_counts_as_changed_where_it_lands() {
        let old = b"1\n2\n3\n4\n";
        let new = b"3\n4\n1\n2\n";
        let c = changed_lines(old, new);
        assert_eq!(c.iter().filter(|x| **x).count(), 2);
    }
}
