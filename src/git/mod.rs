//! The only module that speaks gix: open a repository (honouring `GIT_DIR`,
//! `GIT_INDEX_FILE`), list changes for `--staged`, `--base/--head` and
//! `--worktree`, read blobs, and diff two blobs by line.
//!
//! Every mode lists its changes without gix's rename tracker (which pairs
//! differently from git) and hands deletions and additions to `renames.rs`,
//! git's own pairing rules, so the change set is `git diff -M`'s (SPEC §2.1).
//!
//! Read-only by construction: nothing here writes the index, the work tree,
//! refs or objects (SPEC §9). gix errors are wrapped into valve's own
//! `Error::Git` with a hint at the boundary.

pub mod renames;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gix::bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::diff::blob::{Algorithm, Diff, InternedInput, sources::byte_lines};
use gix::status::tree_index::TrackRenames;

use crate::error::{Error, Result};
use crate::finding::ChangeKind;

mod blob;
mod inert;
mod listing;
mod quarantine;
mod range;
mod revision;
pub use blob::Sized;
pub use range::Commit;

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
    pub path: String,
    pub old_path: Option<String>,
    pub kind: ChangeKind,
    pub new: Content,
    /// The old blob, for the line diff of `scope: changed`.
    pub old: Option<BlobId>,
}

impl Change {
    fn added(path: String, new: Content) -> Change {
        Change {
            path,
            old_path: None,
            kind: ChangeKind::Added,
            new,
            old: None,
        }
    }

    fn deleted(path: String, old: gix::ObjectId, gitlink: bool) -> Change {
        Change {
            path,
            old_path: None,
            kind: ChangeKind::Deleted,
            new: if gitlink {
                Content::Submodule
            } else {
                Content::Gone
            },
            old: Some(BlobId(old)),
        }
    }

    fn modified(path: String, new: Content, old: gix::ObjectId) -> Change {
        Change {
            path,
            old_path: None,
            kind: ChangeKind::Modified,
            new,
            old: Some(BlobId(old)),
        }
    }
}

/// An open repository, shareable across rayon workers.
#[derive(Clone)]
pub struct Repo {
    sync: gix::ThreadSafeRepository,
    /// The work-tree top; `None` in a bare repository.
    pub workdir: Option<PathBuf>,
    /// The object folder of `GIT_OBJECT_DIRECTORY`, kept while in use.
    _objects: Option<std::sync::Arc<quarantine::Overlay>>,
}

fn wrap(context: &str) -> impl Fn(gix::Error) -> Error + '_ {
    move |e| Error::git(format!("{context}: {e}"), None)
}

/// Opens the repository that contains `dir`, or `None` outside git.
pub fn discover(dir: &Path) -> Result<Option<Repo>> {
    match gix::ThreadSafeRepository::discover_with_environment_overrides(dir) {
        Ok(sync) => {
            let mut sync = inert::disarm(sync)?;
            // gix reads neither variable; git sets them in pre-receive.
            let _objects = quarantine::apply(&mut sync)?;
            let workdir = sync.work_dir().map(Path::to_path_buf);
            Ok(Some(Repo {
                sync,
                workdir,
                _objects,
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
        Err(e) => Err(Error::git(
            format!("cannot open the git repository: {e}"),
            Some("check GIT_DIR / GIT_WORK_TREE, or run valve inside a repository".to_string()),
        )),
    }
}

fn path_string(p: &BStr) -> String {
    p.to_str_lossy().into_owned()
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

    /// Index vs `HEAD` (unborn: empty tree), read from the index blobs.
    ///
    /// Like git, the index's cache-tree prunes every directory whose tree is
    /// known to equal `HEAD`'s, so a small commit in a large repository
    /// reads only the trees along its changed paths. gix's index diff runs
    /// over just those regions, and renames are paired as git pairs them
    /// (`renames.rs`): every deletion and addition lies in a dirty region,
    /// so pairing among them is pairing across the whole diff.
    pub fn staged(&self) -> Result<Vec<Change>> {
        let repo = self.local();
        let head_tree = repo
            .head_tree_id_or_empty()
            .map_err(wrap("cannot read HEAD"))?
            .detach();
        let index = read_index(&repo)?;
        let empty = gix::ObjectId::empty_tree(repo.object_hash());
        let mut regions = Vec::new();
        dirty_regions(
            &repo,
            &index,
            (head_tree != empty).then_some(head_tree),
            index.tree(),
            BString::default(),
            &mut regions,
        )?;
        if regions.is_empty() {
            return Ok(Vec::new());
        }
        let (lhs, rhs) = region_states(&repo, &index, &regions)?;
        let root = self
            .workdir
            .clone()
            .unwrap_or_else(|| repo.git_dir().to_path_buf());
        let mut search = gix::pathspec::Search::from_specs(std::iter::empty(), None, &root)
            .map_err(|e| Error::git(format!("cannot prepare the index diff: {e}"), None))?;
        let mut found = Found::default();
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
        found.paired(&repo)
    }

    /// Resolves a revision to a commit id, with a fix-it message.
    fn commit_id(&self, repo: &gix::Repository, rev: &str) -> Result<gix::ObjectId> {
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
        let base_id = self.commit_id(&repo, base)?;
        let head_id = self.commit_id(&repo, head)?;
        let shallow_help = || {
            Some(format!(
                "the history between `{base}` and `{head}` is incomplete (shallow clone): fetch more history, e.g. `git fetch --deepen=100` or `fetch-depth: 0` in actions/checkout"
            ))
        };
        let merge_base = match repo.merge_base(base_id, head_id) {
            Ok(Some(id)) => id.detach(),
            Ok(None) if repo.is_shallow().unwrap_or(false) => {
                return Err(Error::git(
                    format!("no merge base of `{base}` and `{head}` in this shallow clone"),
                    shallow_help(),
                ));
            }
            Ok(None) => {
                return Err(Error::git(
                    format!("`{base}` and `{head}` have no common history"),
                    Some("pass a --base that shares history with --head".to_string()),
                ));
            }
            Err(e) => {
                return Err(Error::git(
                    format!("cannot find the merge base of `{base}` and `{head}`: {e}"),
                    shallow_help(),
                ));
            }
        };
        range::diff_commits(&repo, Some(merge_base), head_id)
    }

    /// Work tree vs `HEAD`: staged, unstaged and untracked-not-ignored.
    ///
    /// gix's status lists every touched path (HEAD→index and index→work
    /// tree); each is then compared directly with its `HEAD` entry (what
    /// `git add -A` would stage), and deletions and additions are paired
    /// into renames as `git diff --cached -M` would after that `git add -A`.
    /// The new side is hashed as plain bytes: `text`/`eol` normalisation of
    /// what `git add` would store is not applied yet.
    pub fn worktree(&self) -> Result<Vec<Change>> {
        let repo = self.local();
        let Some(workdir) = self.workdir.clone() else {
            return Err(Error::git(
                "a bare repository has no work tree",
                Some("use `valve check --base A --head B` in a bare repository".to_string()),
            ));
        };
        let status = repo
            .status(gix::progress::Discard)
            .map_err(wrap("cannot compute the status"))?
            .untracked_files(gix::status::UntrackedFiles::Files)
            .index_worktree_rewrites(None)
            .tree_index_track_renames(TrackRenames::Disabled)
            .index_worktree_submodules(gix::status::Submodule::Given {
                ignore: gix::submodule::config::Ignore::All,
                check_dirty: false,
            });
        let iter = status
            .into_iter(Vec::<gix::bstr::BString>::new())
            .map_err(wrap("cannot compute the status"))?;
        let mut touched: BTreeMap<String, ()> = BTreeMap::new();
        for item in iter {
            let item = item.map_err(wrap("cannot compute the status"))?;
            match item {
                gix::status::Item::TreeIndex(change) => {
                    touched.insert(path_string(change.location()), ());
                }
                gix::status::Item::IndexWorktree(item) => {
                    use gix::status::index_worktree::Item as W;
                    match &item {
                        W::Modification { rela_path, .. } => {
                            touched.insert(path_string(rela_path.as_ref()), ());
                        }
                        W::DirectoryContents { entry, .. } => {
                            if matches!(entry.status, gix::dir::entry::Status::Untracked) {
                                touched.insert(path_string(entry.rela_path.as_ref()), ());
                            }
                        }
                        W::Rewrite {
                            source,
                            dirwalk_entry,
                            ..
                        } => {
                            touched.insert(path_string(source.rela_path()), ());
                            touched.insert(path_string(dirwalk_entry.rela_path.as_ref()), ());
                        }
                    }
                }
            }
        }
        let snapshot = self.snapshot()?;
        let mut found = Found::default();
        let mut added: Vec<Change> = Vec::new();
        for path in touched.into_keys() {
            match snapshot.change(&path)? {
                Some(c) if c.kind == ChangeKind::Added => added.push(c),
                Some(c) if c.kind == ChangeKind::Deleted => {
                    let (id, mode) = snapshot.head_entry(&path)?.ok_or_else(|| {
                        Error::git(format!("`{path}` left HEAD while valve read it"), None)
                    })?;
                    found.delete(path.as_bytes().as_bstr(), id, kind_of_tree_mode(mode));
                }
                Some(c) => found.changes.push(c),
                None => {}
            }
        }
        if found.sources.is_empty() {
            found.changes.extend(added);
            return Ok(found.changes);
        }
        // Only when something was deleted can an addition be a rename: then
        // each new file gets the id `git add` would give it.
        for change in added {
            let abs = workdir.join(&change.path);
            let hash = |data: &[u8]| {
                gix::objs::compute_hash(repo.object_hash(), gix::object::Kind::Blob, data)
                    .map_err(|e| Error::git(format!("cannot hash {}: {e}", change.path), None))
            };
            let path = change.path.as_bytes().as_bstr();
            match change.new {
                Content::File => {
                    let meta = std::fs::symlink_metadata(&abs).map_err(|e| Error::io(&abs, e))?;
                    if !meta.is_file() {
                        found.changes.push(change);
                        continue;
                    }
                    let data = std::fs::read(&abs).map_err(|e| Error::io(&abs, e))?;
                    let id = hash(&data)?;
                    found.add(path, Content::File, id, renames::Kind::Regular, Some(abs));
                }
                Content::Symlink(_) => {
                    let target = std::fs::read_link(&abs).map_err(|e| Error::io(&abs, e))?;
                    let target = gix::path::into_bstr(target).map_err(|e| {
                        Error::git(format!("cannot read the link {}: {e}", change.path), None)
                    })?;
                    let id = hash(target.as_ref())?;
                    found.add(
                        path,
                        Content::Symlink(None),
                        id,
                        renames::Kind::Symlink,
                        None,
                    );
                }
                _ => found.changes.push(change),
            }
        }
        found.paired(&repo)
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

    /// HEAD and the ignore rules as they are now, for `valve watch`.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let repo = self.local();
        let head = match repo.head_tree_id() {
            Ok(id) => Some(id.detach()),
            Err(_) if repo.head().map(|h| h.is_unborn()).unwrap_or(false) => None,
            Err(e) => return Err(wrap("cannot read HEAD")(e)),
        };
        let workdir = self.workdir.clone().ok_or_else(|| {
            Error::git(
                "a bare repository has no work tree to watch",
                Some("run `valve watch` in a work tree".to_string()),
            )
        })?;
        let file_mode = repo
            .config_snapshot()
            .boolean("core.fileMode")
            .unwrap_or(true);
        Ok(Snapshot {
            repo,
            head,
            workdir,
            file_mode,
        })
    }

    /// Reads a blob's bytes.
    pub fn blob(&self, repo: &gix::Repository, id: BlobId) -> Result<Vec<u8>> {
        repo.find_blob(id.0)
            .map(|mut b| b.take_data())
            .map_err(wrap("cannot read a blob"))
    }

    /// A file's bytes at a revision (for a bare repo's config).
    pub fn file_at(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let repo = self.local();
        let id = self.commit_id(&repo, rev)?;
        let tree = repo
            .find_commit(id)
            .and_then(|c| c.tree())
            .map_err(wrap("cannot read a commit's tree"))?;
        let Some(entry) = tree
            .lookup_entry_by_path(path)
            .map_err(wrap("cannot read a tree"))?
        else {
            return Ok(None);
        };
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        self.blob(&repo, BlobId(entry.object_id())).map(Some)
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
    /// A work-tree file to read instead of the object database.
    file: Option<PathBuf>,
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
struct Found {
    changes: Vec<Change>,
    sources: Vec<Candidate>,
    destinations: Vec<Candidate>,
}

impl Found {
    fn add(
        &mut self,
        path: &BStr,
        new: Content,
        id: gix::ObjectId,
        kind: renames::Kind,
        file: Option<PathBuf>,
    ) {
        self.destinations.push(Candidate {
            change: self.changes.len(),
            path: path.to_owned(),
            id,
            kind,
            file,
        });
        self.changes.push(Change::added(path_string(path), new));
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
        self.changes
            .push(Change::deleted(path_string(path), id, gitlink));
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
                None,
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
                path_string(location.as_ref()),
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
                    None,
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
                None,
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
                    path_string(location.as_ref()),
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
                    None,
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
                    None,
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

    fn missing(candidate: &Candidate, e: impl std::fmt::Display) -> Error {
        Error::git(
            format!(
                "cannot read {} (object {}) to pair renames: {e}",
                candidate.path, candidate.id
            ),
            Some(format!(
                "in a partial clone, fetch it first (`git cat-file -e {}` does); valve never fetches",
                candidate.id
            )),
        )
    }
}

impl renames::Contents for Reader<'_> {
    type Error = Error;

    fn size(&mut self, side: renames::Side, index: usize) -> Result<u64> {
        let c = self.candidate(side, index);
        match &c.file {
            Some(path) => std::fs::symlink_metadata(path)
                .map(|m| m.len())
                .map_err(|e| Error::io(path, e)),
            None => self
                .repo
                .find_header(c.id)
                .map(|h| h.size())
                .map_err(|e| Reader::missing(c, e)),
        }
    }

    fn bytes(&mut self, side: renames::Side, index: usize) -> Result<Vec<u8>> {
        let c = self.candidate(side, index);
        match &c.file {
            Some(path) => std::fs::read(path).map_err(|e| Error::io(path, e)),
            None => self
                .repo
                .find_blob(c.id)
                .map(|mut b| b.take_data())
                .map_err(|e| Reader::missing(c, e)),
        }
    }
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
/// directories that are not provably equal.
fn dirty_regions(
    repo: &gix::Repository,
    index: &gix::index::State,
    head: Option<gix::ObjectId>,
    cache: Option<&gix::index::extension::Tree>,
    prefix: BString,
    out: &mut Vec<Region>,
) -> Result<()> {
    let (Some(head_id), Some(cache)) = (head, cache) else {
        out.push(Region {
            prefix,
            head,
            deep: true,
        });
        return Ok(());
    };
    if cache.num_entries.is_some() && cache.id == head_id {
        return Ok(());
    }
    out.push(Region {
        prefix: prefix.clone(),
        head: Some(head_id),
        deep: false,
    });
    let head = head_id;
    let tree = repo
        .find_tree(head)
        .map_err(wrap("cannot read HEAD's tree"))?;
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
    let range = index
        .prefixed_entries_range(prefix.as_bstr())
        .unwrap_or(0..0);
    let entries = &index.entries()[range];
    let mut i = 0;
    while i < entries.len() {
        let path = entries[i].path(index);
        match path[prefix.len()..].find_byte(b'/') {
            Some(slash) => {
                let dir = &path[..prefix.len() + slash + 1];
                children
                    .entry(dir[prefix.len()..dir.len() - 1].to_vec())
                    .or_default();
                // Entries are sorted: skip this directory's run in one search.
                i += entries[i..].partition_point(|e| e.path(index).starts_with(dir));
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

/// `HEAD`'s and the index's entries inside `regions`, as two sorted states.
fn region_states(
    repo: &gix::Repository,
    index: &gix::index::State,
    regions: &[Region],
) -> Result<(gix::index::State, gix::index::State)> {
    let mut lhs = gix::index::State::new(repo.object_hash());
    let mut rhs = gix::index::State::new(repo.object_hash());
    for region in regions {
        let (prefix, deep) = (region.prefix.as_bstr(), region.deep);
        if let Some(id) = region.head {
            push_tree(repo, id, prefix, deep, &mut lhs)?;
        }
        let range = index.prefixed_entries_range(prefix).unwrap_or(0..0);
        for entry in &index.entries()[range] {
            let path = entry.path(index);
            if !deep && path[prefix.len()..].contains(&b'/') {
                continue;
            }
            rhs.dangerously_push_entry(entry.stat, entry.id, entry.flags, entry.mode, path);
        }
    }
    lhs.sort_entries();
    rhs.sort_entries();
    Ok((lhs, rhs))
}

/// Adds a tree's file entries under `prefix` (recursively when `deep`).
fn push_tree(
    repo: &gix::Repository,
    id: gix::ObjectId,
    prefix: &BStr,
    deep: bool,
    state: &mut gix::index::State,
) -> Result<()> {
    let tree = repo
        .find_tree(id)
        .map_err(wrap("cannot read HEAD's tree"))?;
    let decoded = tree
        .decode()
        .map_err(|e| Error::git(format!("cannot decode a tree: {e}"), None))?;
    for entry in &decoded.entries {
        let mut path: BString = prefix.to_owned();
        path.push_str(entry.filename);
        if entry.mode.is_tree() {
            if deep {
                path.push(b'/');
                push_tree(repo, entry.oid.to_owned(), path.as_bstr(), true, state)?;
            }
            continue;
        }
        state.dangerously_push_entry(
            Default::default(),
            entry.oid.to_owned(),
            gix::index::entry::Flags::empty(),
            entry.mode.into(),
            path.as_bstr(),
        );
    }
    Ok(())
}

/// The index (honouring `GIT_INDEX_FILE`), or an empty one if none exists.
///
/// The trailing checksum is not verified: decoding still checks the
/// structure, and hashing a large index costs more than the whole staged
/// check of a typical commit. git verifies it on its own next write.
fn read_index(repo: &gix::Repository) -> Result<gix::index::State> {
    let path = repo.index_path();
    // `GIT_INDEX_FILE` may name anything: a FIFO would block the open
    // forever, a device never end (SPEC §9).
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(gix::index::State::new(repo.object_hash()));
        }
        Err(e) => return Err(Error::io(&path, e)),
        Ok(m) if !m.is_file() => {
            return Err(Error::git(
                format!("the index {} is not a regular file", path.display()),
                Some("check GIT_INDEX_FILE: it must name an index file git wrote".to_string()),
            ));
        }
        Ok(_) => {}
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

/// HEAD's tree and the repository, read once per batch of file events.
pub struct Snapshot {
    repo: gix::Repository,
    head: Option<gix::ObjectId>,
    workdir: PathBuf,
    /// `core.fileMode`: whether the executable bit is tracked.
    file_mode: bool,
}

impl Snapshot {
    /// Which of `paths` git ignores (`.gitignore` files, `info/exclude`,
    /// `core.excludesFile`); tracked files never are.
    pub fn ignored(&self, paths: &[String]) -> Result<Vec<bool>> {
        let empty = gix::index::State::new(self.repo.object_hash());
        let mut stack = self
            .repo
            .excludes(&empty, None, Default::default())
            .map_err(wrap("cannot read the ignore rules"))?;
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let tracked = self.head_entry(path)?.is_some();
            let dir = self.workdir.join(path).is_dir();
            let mode = dir.then_some(gix::index::entry::Mode::DIR);
            let excluded = stack
                .at_path(Path::new(path), mode)
                .map(|p| p.is_excluded())
                .map_err(wrap("cannot read the ignore rules"))?;
            out.push(!tracked && excluded);
        }
        Ok(out)
    }

    fn head_entry(
        &self,
        path: &str,
    ) -> Result<Option<(gix::ObjectId, gix::object::tree::EntryMode)>> {
        let Some(tree) = self.head else {
            return Ok(None);
        };
        let tree = self
            .repo
            .find_tree(tree)
            .map_err(wrap("cannot read HEAD's tree"))?;
        Ok(tree
            .lookup_entry_by_path(path)
            .map_err(wrap("cannot read HEAD's tree"))?
            .filter(|e| !e.mode().is_tree())
            .map(|e| (e.object_id(), e.mode())))
    }

    /// The work tree's change of one path against HEAD, or `None` when
    /// the path is as HEAD has it (what `git add` would store: content,
    /// kind and executable bit) or exists on neither side. No rename
    /// pairing: a moved file is a deletion and an addition.
    pub fn change(&self, path: &str) -> Result<Option<Change>> {
        let abs = self.workdir.join(path);
        let meta = std::fs::symlink_metadata(&abs).ok();
        let head = self.head_entry(path)?;
        let gitlink = head.is_some_and(|(_, mode)| mode.is_commit());
        let new = match &meta {
            None => Content::Gone,
            // A checked-out submodule: listed as skipped, never read.
            Some(m) if m.is_dir() && gitlink => Content::Submodule,
            // A file replaced by a folder is gone (the folder's files are
            // paths of their own).
            Some(m) if m.is_dir() => Content::Gone,
            Some(m) if m.file_type().is_symlink() => Content::Symlink(None),
            Some(m) if m.is_file() => Content::File,
            Some(_) => Content::Special,
        };
        let path = path.to_string();
        Ok(match (head, new) {
            (None, Content::Gone) => None,
            (None, new) => Some(Change::added(path, new)),
            (Some((id, _)), Content::Gone) => Some(Change::deleted(path, id, gitlink)),
            (Some((id, mode)), _) if self.unchanged(&abs, meta.as_ref(), mode, id) => None,
            (Some((id, _)), new) => Some(Change::modified(path, new, id)),
        })
    }

    /// `git add` would store what HEAD has: same kind, executable bit (when
    /// `core.fileMode` is on, git's default) and content.
    fn unchanged(
        &self,
        abs: &Path,
        meta: Option<&std::fs::Metadata>,
        mode: gix::object::tree::EntryMode,
        id: gix::ObjectId,
    ) -> bool {
        let Some(meta) = meta else { return false };
        let data = if meta.file_type().is_symlink() {
            if !mode.is_link() {
                return false;
            }
            match std::fs::read_link(abs).map(gix::path::into_bstr) {
                Ok(Ok(target)) => target.to_vec(),
                _ => return false,
            }
        } else if meta.is_file() {
            if !mode.is_blob() {
                return false;
            }
            if self.file_mode && executable(meta) != mode.is_executable() {
                return false;
            }
            match std::fs::read(abs) {
                Ok(data) => data,
                Err(_) => return false,
            }
        } else {
            return false;
        };
        gix::objs::compute_hash(self.repo.object_hash(), gix::object::Kind::Blob, &data)
            .is_ok_and(|h| h == id)
    }
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn executable(_: &std::fs::Metadata) -> bool {
    false
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
