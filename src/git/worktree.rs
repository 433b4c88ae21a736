//! `--worktree`: what `git add -A && git diff --cached -M` would list,
//! computed without writing anything (SPEC §2.1).
//!
//! Three sources name the touched paths: `HEAD` vs the index (the cache-tree
//! diff of `index.rs`, sparse directories included), the index vs the work
//! tree (gix's status over the index as git sees it for a work tree:
//! skip-worktree files that are present are looked at) and the untracked
//! files git does not ignore; the paths of an unresolved merge are touched
//! too. Each touched path is then compared directly with `HEAD`:
//!
//! - a path whose index entry keeps its skip-worktree bit is as the index
//!   has it (`git add -A` leaves it so; an absent one is no deletion);
//! - any other is as the work tree has it, its bytes normalised as
//!   `git add` would store them (`eol.rs`) before hashing;
//!
//! and deletions and additions are paired into renames as git pairs them.
//!
//! Each change then says what the index holds of its path ([`Staged`],
//! SPEC §8): as `HEAD`, as the work tree (gix's status already knows, so
//! nothing is read), or a version of its own, given as the index's change
//! from `HEAD` for the engine to judge. A touched path the work tree leaves
//! as `HEAD` has it, but the index does not, is an index-only change: a
//! commit now would carry it although the change set does not list it.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use gix::bstr::{BStr, BString, ByteSlice};

use super::eol::{Conversion, Conversions};
use super::index::{head_tree, index_diff, read_index, unmerged_paths, worktree_index};
use super::listing::untracked;
use super::{
    BlobId, Change, Content, Found, Repo, content_for, kind_of_index_mode, kind_of_tree_mode,
    renames, unreadable, wrap,
};
use crate::error::{Error, Result};
use crate::finding::ChangeKind;

impl Repo {
    /// Work tree vs `HEAD`: staged, unstaged and untracked-not-ignored, as
    /// `git add -A` would stage them; the files of an unresolved merge as
    /// they are in the work tree.
    pub fn worktree(&self) -> Result<Vec<Change>> {
        self.needs_refs("--worktree")?;
        let Some(workdir) = self.workdir.clone() else {
            return Err(Error::git(
                "a bare repository has no work tree",
                Some("use `valve check --base A --head B` in a bare repository".to_string()),
            ));
        };
        let repo = self.local();
        let mut index = read_index(&repo)?;
        let unmerged: HashSet<BString> = unmerged_paths(&index).into_iter().collect();
        let mut touched: BTreeSet<BString> = unmerged.iter().cloned().collect();
        if !touched.is_empty() {
            // Their files are judged as they are in the work tree.
            index.remove_entries(|_, _, e| e.stage_raw() != 0);
        }
        let mut staged = HashSet::new();
        for change in index_diff(&repo, &index, Some(&workdir))?.changes {
            staged.insert(BString::from(change.raw_path()));
            touched.insert(change.raw_path().into());
        }
        let index = worktree_index(&repo, index, &workdir)?;
        let status = status_paths(&repo, &index)?;
        touched.extend(status.touched);
        let head = head_tree(&repo)?;
        let snapshot = Snapshot::new(repo, head, workdir, index, unmerged)?;
        let changes = snapshot.listed(&touched)?;
        let known = Known {
            staged,
            differs: status.differs,
        };
        snapshot.with_index(changes, &touched, &known)
    }

    /// HEAD, the index and the ignore rules as they are now, for `valve
    /// watch`.
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.needs_refs("watch")?;
        let workdir = self.workdir.clone().ok_or_else(|| {
            Error::git(
                "a bare repository has no work tree to watch",
                Some("run `valve watch` in a work tree".to_string()),
            )
        })?;
        let repo = self.local();
        let head = head_tree(&repo)?;
        let mut index = read_index(&repo)?;
        let unmerged = unmerged_paths(&index).into_iter().collect();
        index.remove_entries(|_, _, e| e.stage_raw() != 0);
        let index = worktree_index(&repo, index, &workdir)?;
        Snapshot::new(repo, head, workdir, index, unmerged)
    }
}

/// What gix's status says of the work tree against the index.
struct Status {
    /// The paths changed between the index and the work tree, and the
    /// untracked files git does not ignore.
    touched: Vec<BString>,
    /// The tracked paths whose work-tree content (or kind, or mode) is not
    /// the index's; every other tracked path is stat-clean or equal.
    differs: HashSet<BString>,
}

/// The paths gix's status finds changed between the index and the work
/// tree, and the untracked files git does not ignore.
fn status_paths(repo: &gix::Repository, index: &gix::index::State) -> Result<Status> {
    use gix::status::plumbing::index_as_worktree::EntryStatus;
    use gix::status::plumbing::index_as_worktree_with_renames::{Entry, Recorder};
    let fail = wrap("cannot compute the status");
    let submodule = gix::status::index_worktree::BuiltinSubmoduleStatus::new(
        repo.clone().into_sync(),
        gix::status::Submodule::Given {
            ignore: gix::submodule::config::Ignore::All,
            check_dirty: false,
        },
    )
    .map_err(&fail)?;
    // The untracked files come from `listing::untracked`, which looks
    // outside the sparse cone as git does.
    let options = gix::status::index_worktree::Options {
        sorting: None,
        dirwalk_options: None,
        rewrites: None,
        thread_limit: None,
    };
    let mut recorder = Recorder::default();
    let interrupt = AtomicBool::new(false);
    repo.index_worktree_status(
        index,
        Vec::<BString>::new(),
        &mut recorder,
        gix::status::plumbing::index_as_worktree::traits::FastEq,
        submodule,
        &mut gix::progress::Discard,
        &interrupt,
        options,
    )
    .map_err(&fail)?;
    let mut out: Vec<BString> = untracked(repo, index, b"")?
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    let mut differs = HashSet::new();
    for record in recorder.records {
        match record {
            // Only the stat data differs: the content is the index's.
            Entry::Modification {
                status: EntryStatus::NeedsUpdate(_),
                ..
            } => {}
            Entry::Modification { rela_path, .. } => {
                out.push(rela_path.to_owned());
                differs.insert(rela_path.to_owned());
            }
            Entry::DirectoryContents { entry, .. } => out.push(entry.rela_path),
            Entry::Rewrite {
                source,
                dirwalk_entry,
                ..
            } => {
                out.push(source.rela_path().to_owned());
                differs.insert(source.rela_path().to_owned());
                out.push(dirwalk_entry.rela_path);
            }
        }
    }
    Ok(Status {
        touched: out,
        differs,
    })
}

/// What the index holds of a path the work tree changed (SPEC §8 "staged
/// or not"), on every change `--worktree` and watch list.
#[derive(Debug, Clone)]
pub enum Staged {
    /// The index has the path as `HEAD` has it (neither has it; only `git
    /// add -N`; or the merge is unresolved there): a commit now carries
    /// none of the change.
    AsHead,
    /// The index has what `git add` would store from the work tree: a
    /// commit now carries all of it.
    AsWorktree,
    /// The index has a version of its own: its change from `HEAD`, read
    /// from the index blob, judged to tell what a commit now carries.
    Differs(Box<Change>),
    /// This change is the index's own, read from its blob: the work tree
    /// has the path as `HEAD` has it, yet a commit now would carry it.
    IndexOnly,
}

/// What gix's two diffs of `--worktree` already say, so that most paths
/// need no lookup to be staged or not.
struct Known {
    /// The paths whose index entry is not `HEAD`'s.
    staged: HashSet<BString>,
    /// The tracked paths whose work-tree content (or kind, or mode) is not
    /// the index's; every other tracked path is stat-clean or equal.
    differs: HashSet<BString>,
}

/// Where the index's entry of a path stands.
enum Side {
    AsHead,
    AsWorktree,
    /// Neither: a version of the index's own.
    Own(Sides),
}

/// `HEAD`'s and the index's entries of one path; an intent-to-add entry
/// counts as none (no commit carries it).
struct Sides {
    head: Option<(gix::ObjectId, gix::object::tree::EntryMode)>,
    index: Option<Indexed>,
}

impl Sides {
    fn index_is_head(&self) -> bool {
        match (&self.head, &self.index) {
            (None, None) => true,
            (Some((id, mode)), Some(entry)) => {
                *id == entry.id && gix::index::entry::Mode::from(*mode) == entry.mode
            }
            _ => false,
        }
    }

    /// The index's change of `raw` from `HEAD`. A path `HEAD` lacks that the
    /// work tree has as a rename keeps the rename's source as its old side,
    /// so `scope: changed` reads both versions against the same lines.
    fn index_change(&self, raw: &BStr, worktree: Option<&Change>) -> Option<Change> {
        match (&self.head, &self.index) {
            (_, Some(entry)) => {
                let new = content_for(
                    entry.mode == gix::index::entry::Mode::SYMLINK,
                    entry.mode.is_submodule(),
                    entry.id,
                );
                Some(match (&self.head, worktree) {
                    (Some((id, _)), _) => Change::modified(raw, new, *id),
                    (None, Some(w)) if w.kind == ChangeKind::Renamed => {
                        let mut change = Change::new(raw, ChangeKind::Renamed, new, w.old);
                        change.old_path = w.old_path.clone();
                        change
                    }
                    (None, _) => Change::added(raw, new),
                })
            }
            (Some((id, mode)), None) => Some(Change::deleted(raw, *id, mode.is_commit())),
            (None, None) => None,
        }
    }
}

/// What the index says of one path.
struct Indexed {
    id: gix::ObjectId,
    mode: gix::index::entry::Mode,
    /// skip-worktree: `git add -A` leaves the entry as it is.
    kept: bool,
    /// `git add -N`: a placeholder that no commit carries.
    intent: bool,
}

/// HEAD's tree, the index as git sees it for the work tree, and the
/// attributes, read once per check or batch of file events.
pub struct Snapshot {
    repo: gix::Repository,
    head: Option<gix::ObjectId>,
    workdir: PathBuf,
    /// `core.fileMode`: whether the executable bit is tracked.
    file_mode: bool,
    index: gix::index::State,
    /// The paths of an unresolved merge (their conflict stages removed
    /// from `index`).
    unmerged: HashSet<BString>,
    conversions: RefCell<Conversions>,
}

impl Snapshot {
    fn new(
        repo: gix::Repository,
        head: Option<gix::ObjectId>,
        workdir: PathBuf,
        index: gix::index::State,
        unmerged: HashSet<BString>,
    ) -> Result<Snapshot> {
        let file_mode = repo
            .config_snapshot()
            .boolean("core.fileMode")
            .unwrap_or(true);
        let conversions = RefCell::new(Conversions::new(&repo, &index)?);
        Ok(Snapshot {
            repo,
            head,
            workdir,
            file_mode,
            index,
            unmerged,
            conversions,
        })
    }

    /// The work tree's changes of `touched` against `HEAD`, renames paired
    /// as git pairs them.
    fn listed(&self, touched: &BTreeSet<BString>) -> Result<Vec<Change>> {
        let (snapshot, workdir, repo) = (self, &self.workdir, &self.repo);
        let mut found = Found::default();
        let mut added: Vec<Change> = Vec::new();
        for path in touched {
            match snapshot.change(path)? {
                Some(c) if c.kind == ChangeKind::Added => added.push(c),
                Some(c) if c.kind == ChangeKind::Deleted => {
                    let (id, mode) = snapshot.head_entry(path.as_bstr())?.ok_or_else(|| {
                        Error::git(format!("`{}` left HEAD while valve read it", c.path), None)
                    })?;
                    found.delete(path.as_bstr(), id, kind_of_tree_mode(mode));
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
            let abs = workdir.join(change.fs_rel());
            let hash = |data: &[u8]| {
                gix::objs::compute_hash(repo.object_hash(), gix::object::Kind::Blob, data)
                    .map_err(|e| Error::git(format!("cannot hash {}: {e}", change.path), None))
            };
            let raw = BString::from(change.raw_path());
            match change.new {
                Content::File => {
                    let meta = std::fs::symlink_metadata(&abs).map_err(|e| Error::io(&abs, e))?;
                    if !meta.is_file() {
                        found.changes.push(change);
                        continue;
                    }
                    let data = std::fs::read(&abs).map_err(|e| Error::io(&abs, e))?;
                    let id = hash(&change.stored_form(&data))?;
                    let stored = change.stored;
                    found.add_change(
                        raw.as_bstr(),
                        change,
                        id,
                        renames::Kind::Regular,
                        Some((abs, stored)),
                    );
                }
                Content::Symlink(None) => {
                    let target = std::fs::read_link(&abs).map_err(|e| Error::io(&abs, e))?;
                    let id = hash(target.as_os_str().as_bytes())?;
                    found.add_change(raw.as_bstr(), change, id, renames::Kind::Symlink, None);
                }
                // As the index has it (skip-worktree).
                Content::Blob(BlobId(id)) => {
                    found.add_change(raw.as_bstr(), change, id, renames::Kind::Regular, None);
                }
                Content::Symlink(Some(BlobId(id))) => {
                    found.add_change(raw.as_bstr(), change, id, renames::Kind::Symlink, None);
                }
                _ => found.changes.push(change),
            }
        }
        found.paired(repo)
    }

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
            let tracked = self.head_entry(path.as_bytes().as_bstr())?.is_some();
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
        path: &BStr,
    ) -> Result<Option<(gix::ObjectId, gix::object::tree::EntryMode)>> {
        let Some(tree) = self.head else {
            return Ok(None);
        };
        let tree = self
            .repo
            .find_tree(tree)
            .map_err(|e| unreadable(&self.repo, "HEAD's tree", b"", &tree, e))?;
        Ok(tree
            .lookup_entry_by_path(Path::new(OsStr::from_bytes(path)))
            .map_err(wrap("cannot read HEAD's tree"))?
            .filter(|e| !e.mode().is_tree())
            .map(|e| (e.object_id(), e.mode())))
    }

    /// The index's entry of `path`, looked up inside a sparse directory
    /// when the index has one above it.
    fn indexed(&self, path: &BStr) -> Result<Option<Indexed>> {
        use gix::index::entry::{Flags, Mode};
        if let Some(e) = self.index.entry_by_path(path) {
            return Ok(Some(Indexed {
                id: e.id,
                mode: e.mode,
                kept: e.flags.contains(Flags::SKIP_WORKTREE),
                intent: e.flags.contains(Flags::INTENT_TO_ADD),
            }));
        }
        if !self.index.is_sparse() {
            return Ok(None);
        }
        for slash in memchr::memchr_iter(b'/', path) {
            let prefix = &path[..=slash];
            let Some(dir) = self
                .index
                .entry_by_path(prefix.as_bstr())
                .filter(|e| e.mode == Mode::DIR)
            else {
                continue;
            };
            let tree = self
                .repo
                .find_tree(dir.id)
                .map_err(|e| unreadable(&self.repo, "a tree", prefix, &dir.id, e))?;
            let rest = Path::new(OsStr::from_bytes(&path[slash + 1..]));
            return Ok(tree
                .lookup_entry_by_path(rest)
                .map_err(wrap("cannot read a sparse directory's tree"))?
                .filter(|e| !e.mode().is_tree())
                .map(|e| Indexed {
                    id: e.object_id(),
                    mode: e.mode().into(),
                    kept: true,
                    intent: false,
                }));
        }
        Ok(None)
    }

    /// The work tree's change of one path (repo-relative, as git stores
    /// it) against HEAD, or `None` when the path is as HEAD has it (what
    /// `git add` would store: content, kind and executable bit) or exists
    /// on neither side. No rename pairing: a moved file is a deletion and
    /// an addition.
    pub fn change(&self, path: impl AsRef<[u8]>) -> Result<Option<Change>> {
        let raw = path.as_ref().as_bstr();
        let head = self.head_entry(raw)?;
        let indexed = self.indexed(raw)?;
        if let Some(entry) = indexed.as_ref().filter(|e| e.kept) {
            return Ok(self.as_indexed(raw, entry, head));
        }
        let abs = self.workdir.join(OsStr::from_bytes(raw));
        let meta = std::fs::symlink_metadata(&abs).ok();
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
        let stored = match new {
            Content::File => self.conversion(raw, indexed.as_ref())?,
            _ => None,
        };
        let change = match (head, new) {
            (None, Content::Gone) => None,
            (None, new) => Some(Change::added(raw, new)),
            (Some((id, _)), Content::Gone) => Some(Change::deleted(raw, id, gitlink)),
            (Some((id, mode)), _) if self.unchanged(&abs, meta.as_ref(), mode, id, stored)? => None,
            (Some((id, _)), new) => Some(Change::modified(raw, new, id)),
        };
        Ok(change.map(|mut c| {
            c.stored = stored;
            c
        }))
    }

    /// The change of a path that `git add -A` leaves as the index has it.
    fn as_indexed(
        &self,
        raw: &BStr,
        entry: &Indexed,
        head: Option<(gix::ObjectId, gix::object::tree::EntryMode)>,
    ) -> Option<Change> {
        let new = content_for(
            entry.mode == gix::index::entry::Mode::SYMLINK,
            entry.mode.is_submodule(),
            entry.id,
        );
        match head {
            None => Some(Change::added(raw, new)),
            Some((id, mode))
                if id == entry.id && gix::index::entry::Mode::from(mode) == entry.mode =>
            {
                None
            }
            Some((id, _)) => Some(Change::modified(raw, new, id)),
        }
    }

    /// `change`, with what the index holds of the path; when the work tree
    /// has the path as `HEAD` has it but the index does not, the index's
    /// change instead, marked index-only (watch: one path at a time, so no
    /// renames are paired and equality with the index is read from disk).
    pub fn staged_change(&self, path: impl AsRef<[u8]>) -> Result<Option<Change>> {
        let raw = path.as_ref().as_bstr();
        match self.change(raw)? {
            Some(mut change) => {
                change.staged = Some(self.staged_of(&change, None)?);
                Ok(Some(change))
            }
            None => Ok(match self.side(raw, None)? {
                Side::Own(sides) => sides.index_change(raw, None).map(|mut change| {
                    change.staged = Some(Staged::IndexOnly);
                    change
                }),
                Side::AsHead | Side::AsWorktree => None,
            }),
        }
    }

    /// Sets `staged` on every change, and adds the index-only changes: the
    /// touched paths without a change of their own (rename sources
    /// included) whose index entry is neither `HEAD`'s nor the work
    /// tree's, paired into renames among themselves as git pairs them.
    fn with_index(
        &self,
        mut changes: Vec<Change>,
        touched: &BTreeSet<BString>,
        known: &Known,
    ) -> Result<Vec<Change>> {
        let own: HashSet<BString> = changes.iter().map(|c| c.raw_path().into()).collect();
        for change in &mut changes {
            change.staged = Some(self.staged_of(change, Some(known))?);
        }
        let mut found = Found::default();
        for path in touched.iter().filter(|p| !own.contains(*p)) {
            let raw = path.as_bstr();
            let Side::Own(sides) = self.side(raw, Some(known))? else {
                continue;
            };
            let Some(change) = sides.index_change(raw, None) else {
                continue;
            };
            match (&sides.head, &sides.index) {
                (None, Some(entry)) => {
                    let kind = kind_of_index_mode(entry.mode);
                    found.add_change(raw, change, entry.id, kind, None);
                }
                (Some((id, mode)), None) => found.delete(raw, *id, kind_of_tree_mode(*mode)),
                _ => found.changes.push(change),
            }
        }
        if found.changes.is_empty() {
            return Ok(changes);
        }
        for mut change in found.paired(&self.repo)? {
            change.staged = Some(Staged::IndexOnly);
            changes.push(change);
        }
        Ok(changes)
    }

    /// What the index holds of a changed path.
    fn staged_of(&self, change: &Change, known: Option<&Known>) -> Result<Staged> {
        let raw = change.raw_path().as_bstr();
        Ok(match self.side(raw, known)? {
            Side::AsHead => Staged::AsHead,
            Side::AsWorktree => Staged::AsWorktree,
            Side::Own(sides) => match sides.index_change(raw, Some(change)) {
                Some(index) => Staged::Differs(Box::new(index)),
                None => Staged::AsHead,
            },
        })
    }

    /// The index's entry of `raw` against `HEAD`'s and the work tree's,
    /// cheapest test first: what gix's diffs already told (`known`), then
    /// the index, then `HEAD`'s tree only for a version of the index's own.
    /// For a path the work tree changed, an index equal to the work tree
    /// differs from `HEAD`, so the order cannot mistake one for the other.
    fn side(&self, raw: &BStr, known: Option<&Known>) -> Result<Side> {
        // An unresolved path has no version a commit could carry yet.
        if self.unmerged.contains(raw) || known.is_some_and(|k| !k.staged.contains(raw)) {
            return Ok(Side::AsHead);
        }
        let index = self.indexed(raw)?.filter(|e| !e.intent);
        if self.index_is_worktree(raw, index.as_ref(), known.map(|k| &k.differs))? {
            return Ok(Side::AsWorktree);
        }
        let sides = Sides {
            head: self.head_entry(raw)?,
            index,
        };
        Ok(if sides.index_is_head() {
            Side::AsHead
        } else {
            Side::Own(sides)
        })
    }

    /// Whether the index has what `git add` would store from the work tree
    /// at `raw`: told by gix's status (`differs`) when it ran, else read.
    fn index_is_worktree(
        &self,
        raw: &BStr,
        index: Option<&Indexed>,
        differs: Option<&HashSet<BString>>,
    ) -> Result<bool> {
        let abs = self.workdir.join(OsStr::from_bytes(raw));
        let Some(entry) = index else {
            // Neither has a file there (a folder stands for none).
            let meta = std::fs::symlink_metadata(&abs).ok();
            return Ok(meta.is_none_or(|m| m.is_dir()));
        };
        if entry.kept {
            return Ok(true);
        }
        if let Some(differs) = differs {
            return Ok(!differs.contains(raw));
        }
        let Some(mode) = entry.mode.to_tree_entry_mode() else {
            return Ok(false);
        };
        let meta = std::fs::symlink_metadata(&abs).ok();
        let stored = match &meta {
            Some(m) if m.is_file() => self.conversion(raw, Some(entry))?,
            _ => None,
        };
        self.unchanged(&abs, meta.as_ref(), mode, entry.id, stored)
    }

    /// How `git add` would convert the file at `raw`.
    fn conversion(&self, raw: &BStr, indexed: Option<&Indexed>) -> Result<Option<Conversion>> {
        let index_copy = || -> Result<Option<Vec<u8>>> {
            let Some(entry) = indexed.filter(|e| {
                matches!(
                    e.mode,
                    gix::index::entry::Mode::FILE | gix::index::entry::Mode::FILE_EXECUTABLE
                )
            }) else {
                return Ok(None);
            };
            self.repo
                .find_blob(entry.id)
                .map(|mut b| Some(b.take_data()))
                .map_err(|e| unreadable(&self.repo, "the index's copy", raw, &entry.id, e))
        };
        self.conversions
            .borrow_mut()
            .at(&self.repo, raw, index_copy)
    }

    /// `git add` would store what HEAD has: same kind, executable bit (when
    /// `core.fileMode` is on, git's default) and content.
    fn unchanged(
        &self,
        abs: &Path,
        meta: Option<&std::fs::Metadata>,
        mode: gix::object::tree::EntryMode,
        id: gix::ObjectId,
        stored: Option<Conversion>,
    ) -> Result<bool> {
        let Some(meta) = meta else { return Ok(false) };
        let data = if meta.file_type().is_symlink() {
            if !mode.is_link() {
                return Ok(false);
            }
            match std::fs::read_link(abs) {
                Ok(target) => target.into_os_string().into_vec(),
                Err(_) => return Ok(false),
            }
        } else if meta.is_file() {
            if !mode.is_blob() {
                return Ok(false);
            }
            if self.file_mode && executable(meta) != mode.is_executable() {
                return Ok(false);
            }
            match std::fs::read(abs) {
                Ok(data) => match stored {
                    Some(c) => c.apply(&data).into_owned(),
                    None => data,
                },
                Err(_) => return Ok(false),
            }
        } else {
            return Ok(false);
        };
        Ok(
            gix::objs::compute_hash(self.repo.object_hash(), gix::object::Kind::Blob, &data)
                .is_ok_and(|h| h == id),
        )
    }
}

fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o100 != 0
}
