//! A range's tree diff on several threads, and what it learnt of the trees
//! it read.
//!
//! gix's tree diff walks one pair of trees breadth first on one thread, and
//! a range of a few hundred files in a large tree spends most of its time
//! there, inflating trees. Here the root trees are split instead: a folder
//! that differs on both sides becomes a job of its own (split again while
//! there are fewer jobs than the threads can share), and what is left of a
//! split folder (its files, and the folders only one side has) is one job
//! over those entries alone. Every entry is diffed exactly once, by gix, and
//! the jobs' records are put back in the order the single walk emits them
//! (folder by folder, shallowest first, each folder's in tree order), so
//! the change set, rename pairing included, is the one walk's.
//!
//! Each tree the diff reads is looked at for a `.sage` entry on the way
//! (SPEC §12: nested configs), so the lookup of the nested configs above
//! the changed paths reads none of those trees again.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};

use gix::bstr::{BString, ByteSlice, ByteVec};
use gix::diff::tree::recorder::Change as Record;
use gix::object::tree::EntryMode;
use gix::objs::tree::EntryRef;

use super::{Repo, unreadable};
use crate::error::{Error, Result};

/// Jobs a thread gets on average: enough that one slow folder does not
/// leave the other threads idle.
const JOBS_PER_THREAD: usize = 8;

/// What the diff learnt of the trees it read.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// Per folder (`""` the root, else `a/b/`) that differs between the
    /// sides: its tree on the old side and on the new side (`None`: the
    /// side has no such folder).
    folders: HashMap<BString, [Option<gix::ObjectId>; 2]>,
    /// Per tree read: its `.sage` entry (`None`: it has none).
    sage: HashMap<gix::ObjectId, Option<(EntryMode, gix::ObjectId)>>,
}

/// The old side of a diff, or the new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Old = 0,
    New = 1,
}

impl Seen {
    /// The tree of folder `dir` on `side`, when the diff knows it: `Some(None)`
    /// when that side has no such folder.
    pub(super) fn folder(&self, dir: &str, side: Side) -> Option<Option<gix::ObjectId>> {
        self.folders
            .get(dir.as_bytes().as_bstr())
            .map(|sides| sides[side as usize])
    }

    /// The `.sage` entry of `tree`, when the diff read that tree.
    pub(super) fn sage(&self, tree: &gix::ObjectId) -> Option<Option<(EntryMode, gix::ObjectId)>> {
        self.sage.get(tree).copied()
    }

    /// Records the folders a record shows: a tree entry that differs.
    fn note_record(&mut self, record: &Record) {
        let (path, old, new) = match record {
            Record::Addition {
                entry_mode,
                oid,
                path,
                ..
            } if entry_mode.is_tree() => (path, None, Some(*oid)),
            Record::Deletion {
                entry_mode,
                oid,
                path,
                ..
            } if entry_mode.is_tree() => (path, Some(*oid), None),
            Record::Modification {
                previous_entry_mode,
                previous_oid,
                entry_mode,
                oid,
                path,
            } if previous_entry_mode.is_tree() || entry_mode.is_tree() => (
                path,
                previous_entry_mode.is_tree().then_some(*previous_oid),
                entry_mode.is_tree().then_some(*oid),
            ),
            _ => return,
        };
        let mut dir = path.clone();
        dir.push(b'/');
        let sides = self.folders.entry(dir).or_default();
        sides[0] = sides[0].or(old);
        sides[1] = sides[1].or(new);
    }
}

/// The object database as the diff reads it: through the pack reader,
/// which keeps one side's tree for the other side's delta, and each tree
/// read is looked at for a `.sage` entry.
struct Peek<'a> {
    objects: &'a gix::OdbHandle,
    reader: RefCell<Option<super::PackReader>>,
    hash: gix::hash::Kind,
    sage: RefCell<HashMap<gix::ObjectId, Option<(EntryMode, gix::ObjectId)>>>,
}

impl<'a> Peek<'a> {
    fn new(repo: &'a gix::Repository, reader: Option<super::PackReader>) -> Self {
        Peek {
            objects: &repo.objects,
            reader: RefCell::new(reader),
            hash: repo.object_hash(),
            sage: RefCell::new(HashMap::new()),
        }
    }

    fn note(&self, id: &gix::oid, tree: &[u8]) {
        if let Some(entry) = sage_entry(tree, self.hash) {
            self.sage.borrow_mut().insert(id.to_owned(), entry);
        }
    }

    /// The tree `id`'s bytes, into `buf`.
    fn tree<'b>(
        &self,
        repo: &gix::Repository,
        id: &gix::oid,
        path: &[u8],
        buf: &'b mut Vec<u8>,
    ) -> Result<&'b [u8]> {
        use gix::objs::Find;
        match self.try_find(id, buf) {
            Ok(Some(data)) if data.kind == gix::object::Kind::Tree => Ok(data.data),
            Ok(Some(data)) => Err(Error::git(
                format!("object {id} is a {}, not a tree", data.kind),
                None,
            )),
            Ok(None) => Err(unreadable(repo, "a tree", path, id, "not found")),
            Err(e) => Err(unreadable(repo, "a tree", path, id, e)),
        }
    }
}

impl gix::objs::Find for Peek<'_> {
    fn try_find<'b>(
        &self,
        id: &gix::oid,
        buffer: &'b mut Vec<u8>,
    ) -> gix::error::Result<Option<gix::objs::Data<'b>>> {
        let read = match self.reader.borrow_mut().as_mut() {
            Some(reader) => reader.read(id, u64::MAX, buffer),
            None => None,
        };
        let found = match read {
            Some(super::packs::Read::Object(kind)) => {
                Some(gix::objs::Data::new(buffer.as_slice(), kind, self.hash))
            }
            _ => self.objects.try_find(id, buffer)?,
        };
        if let Some(data) = &found {
            if data.kind == gix::object::Kind::Tree {
                self.note(id, data.data);
            }
        }
        Ok(found)
    }
}

/// The `.sage` entry of a tree's bytes, of any mode (`Some(None)`: there
/// is none; `None`: the tree does not parse, so nothing is known). Entries
/// are in git's order, so the scan stops at the first name past it.
fn sage_entry(tree: &[u8], hash: gix::hash::Kind) -> Option<Option<(EntryMode, gix::ObjectId)>> {
    for entry in gix::objs::TreeRefIter::from_bytes(tree, hash) {
        let entry = entry.ok()?;
        if entry.filename == ".sage" {
            return Some(Some((entry.mode, entry.oid.to_owned())));
        }
        // A folder `.sage` sorts as `.sage/`, a file before it.
        let order =
            gix::objs::tree::name_order(entry.filename, entry.mode.is_tree(), b".sage", true);
        if order == std::cmp::Ordering::Greater {
            break;
        }
    }
    Some(None)
}

/// One side of a job.
enum Tree {
    Empty,
    Id(gix::ObjectId),
    /// A split folder's entries that no other job diffs.
    Bytes(Vec<u8>),
}

/// A pair of trees to diff, at `prefix` (`""` or `a/b/`).
struct Job {
    prefix: BString,
    old: Tree,
    new: Tree,
}

impl Repo {
    /// The records of the diff of two root trees (`None`: the empty tree),
    /// on up to `threads` threads (`repo` is this thread's handle), and
    /// what the diff learnt of the trees.
    pub(super) fn tree_records(
        &self,
        repo: &gix::Repository,
        old: Option<gix::ObjectId>,
        new: gix::ObjectId,
        threads: usize,
    ) -> Result<(Vec<Record>, Seen)> {
        let mut seen = Seen::default();
        seen.folders.insert(BString::default(), [old, Some(new)]);
        let peek = Peek::new(repo, self.reader());
        let jobs = if threads > 1 {
            split(repo, &peek, old, new, threads * JOBS_PER_THREAD, &mut seen)?
        } else {
            vec![Job {
                prefix: BString::default(),
                old: old.map_or(Tree::Empty, Tree::Id),
                new: Tree::Id(new),
            }]
        };
        let next = AtomicUsize::new(0);
        let work = |repo: &gix::Repository, peek: &Peek<'_>| {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else {
                    return done;
                };
                done.push((i, run(repo, peek, job)));
            }
        };
        let workers = threads.clamp(1, jobs.len().max(1));
        let mut results: Vec<Option<Result<Vec<Record>>>> = Vec::new();
        results.resize_with(jobs.len(), || None);
        let mut found = std::thread::scope(|s| {
            let others: Vec<_> = (1..workers)
                .map(|_| {
                    s.spawn(|| {
                        let repo = self.local_uncached();
                        let peek = Peek::new(&repo, self.reader());
                        let done = work(&repo, &peek);
                        (done, peek.sage.into_inner())
                    })
                })
                .collect();
            let mut found = vec![(
                work(repo, &peek),
                std::mem::take(&mut *peek.sage.borrow_mut()),
            )];
            for other in others {
                match other.join() {
                    Ok(done) => found.push(done),
                    Err(_) => return Err(Error::git("a thread of the range diff failed", None)),
                }
            }
            Ok(found)
        })?;
        for (done, sage) in found.drain(..) {
            for (i, result) in done {
                results[i] = Some(result);
            }
            seen.sage.extend(sage);
        }
        let mut records = Vec::new();
        for result in results {
            let job = result.ok_or_else(|| Error::git("a job of the range diff was lost", None))?;
            records.extend(job?);
        }
        // The order of one breadth-first walk: folder by folder, the
        // shallowest first, folders in tree order (which is the byte order
        // of their paths with the trailing `/`); one folder's records all
        // come from one job, in its order (the sort is stable).
        records.sort_by_cached_key(|r| {
            let (depth, folder) = walk_key(r);
            (depth, folder.to_vec())
        });
        for record in &records {
            seen.note_record(record);
        }
        Ok((records, seen))
    }
}

/// The record's folder depth and folder, as the single walk orders them.
fn walk_key(record: &Record) -> (usize, &[u8]) {
    let path = match record {
        Record::Addition { path, .. }
        | Record::Deletion { path, .. }
        | Record::Modification { path, .. } => path.as_slice(),
    };
    let folder = path.rfind_byte(b'/').map_or(&path[..0], |i| &path[..=i]);
    (folder.iter().filter(|&&b| b == b'/').count(), folder)
}

/// Splits the diff of the root trees into jobs: folders that differ on both
/// sides are split, shallowest first, until there are about `want` jobs.
fn split(
    repo: &gix::Repository,
    peek: &Peek<'_>,
    old: Option<gix::ObjectId>,
    new: gix::ObjectId,
    want: usize,
    seen: &mut Seen,
) -> Result<Vec<Job>> {
    let mut jobs = Vec::new();
    let mut pending: VecDeque<(BString, Option<gix::ObjectId>, gix::ObjectId)> = VecDeque::new();
    pending.push_back((BString::default(), old, new));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    while jobs.len() + pending.len() < want {
        let Some((prefix, old, new)) = pending.pop_front() else {
            break;
        };
        let old_bytes = match old {
            Some(id) => peek.tree(repo, &id, &prefix, &mut a)?,
            None => &[][..],
        };
        let new_bytes = peek.tree(repo, &new, &prefix, &mut b)?;
        match level(old_bytes, new_bytes, repo.object_hash()) {
            Some(level) => {
                for (name, old, new) in level.pairs {
                    let mut dir = prefix.clone();
                    dir.push_str(&name);
                    dir.push(b'/');
                    seen.folders.insert(dir.clone(), [Some(old), Some(new)]);
                    pending.push_back((dir, Some(old), new));
                }
                if !level.old.is_empty() || !level.new.is_empty() {
                    jobs.push(Job {
                        prefix,
                        old: Tree::Bytes(level.old),
                        new: Tree::Bytes(level.new),
                    });
                }
            }
            // Entries that do not parse: gix's diff of the whole pair says
            // what is wrong.
            None => jobs.push(Job {
                prefix,
                old: old.map_or(Tree::Empty, Tree::Id),
                new: Tree::Id(new),
            }),
        }
    }
    jobs.extend(pending.into_iter().map(|(prefix, old, new)| Job {
        prefix,
        old: old.map_or(Tree::Empty, Tree::Id),
        new: Tree::Id(new),
    }));
    Ok(jobs)
}

/// One split folder: the folders that differ on both sides, by name, and
/// the rest of each side's entries (those that do not match, or match and
/// differ) as tree bytes.
struct Level {
    pairs: Vec<(BString, gix::ObjectId, gix::ObjectId)>,
    old: Vec<u8>,
    new: Vec<u8>,
}

fn level(old: &[u8], new: &[u8], hash: gix::hash::Kind) -> Option<Level> {
    let entries = |bytes| {
        gix::objs::TreeRefIter::from_bytes(bytes, hash)
            .collect::<std::result::Result<Vec<EntryRef<'_>>, _>>()
            .ok()
    };
    let (old, new) = (entries(old)?, entries(new)?);
    let mut out = Level {
        pairs: Vec::new(),
        old: Vec::new(),
        new: Vec::new(),
    };
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let order = match (old.get(i), new.get(j)) {
            (Some(l), Some(r)) => l.cmp(r),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                encode(&mut out.old, &old[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                encode(&mut out.new, &new[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (l, r) = (&old[i], &new[j]);
                if l.mode.is_tree() && r.mode.is_tree() {
                    if l.oid != r.oid {
                        out.pairs
                            .push((l.filename.to_owned(), l.oid.to_owned(), r.oid.to_owned()));
                    }
                } else {
                    encode(&mut out.old, l);
                    encode(&mut out.new, r);
                }
                i += 1;
                j += 1;
            }
        }
    }
    Some(out)
}

/// Appends a tree entry in git's format.
fn encode(out: &mut Vec<u8>, entry: &EntryRef<'_>) {
    let mut mode = [0u8; 6];
    out.extend_from_slice(entry.mode.as_bytes(&mut mode));
    out.push(b' ');
    out.extend_from_slice(entry.filename);
    out.push(0);
    out.extend_from_slice(entry.oid.as_bytes());
}

/// Diffs one job, its records' paths from the root.
fn run(repo: &gix::Repository, peek: &Peek<'_>, job: &Job) -> Result<Vec<Record>> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let old = match &job.old {
        Tree::Empty => &[][..],
        Tree::Id(id) => peek.tree(repo, id, &job.prefix, &mut a)?,
        Tree::Bytes(bytes) => bytes,
    };
    let new = match &job.new {
        Tree::Empty => &[][..],
        Tree::Id(id) => peek.tree(repo, id, &job.prefix, &mut b)?,
        Tree::Bytes(bytes) => bytes,
    };
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        gix::objs::TreeRefIter::from_bytes(old, repo.object_hash()),
        gix::objs::TreeRefIter::from_bytes(new, repo.object_hash()),
        gix::diff::tree::State::default(),
        peek,
        &mut recorder,
    )
    .map_err(|e| Error::git(format!("cannot diff the range: {e}"), None))?;
    let mut records = recorder.records;
    if !job.prefix.is_empty() {
        for record in &mut records {
            let path = match record {
                Record::Addition { path, .. }
                | Record::Deletion { path, .. }
                | Record::Modification { path, .. } => path,
            };
            let mut full = job.prefix.clone();
            full.push_str(path.as_slice());
            *path = full;
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::test_git::{git, write};
    use std::path::Path;

    /// Two commits whose diff has a bit of everything, at several depths.
    fn tricky(dir: &Path) -> (gix::ObjectId, gix::ObjectId) {
        git(dir, &["init", "-q", "-b", "main"]);
        for f in [
            "top.txt",
            "a/x.txt",
            "a/b/c/deep.txt",
            "a/b/c/same.txt",
            "a/b/d/gone/1.txt",
            "a/b/d/gone/2/3.txt",
            "a-b/y.txt",
            "a.b/z.txt",
            "same/s.txt",
            "kind/file",
            "flip/inner.txt",
            "p/q/r/s/t.txt",
            "p/q/r/u.txt",
            "p/w.txt",
            "m/.sage/valve.yml",
            "m/n/o.txt",
        ] {
            write(dir, f, &format!("{f}\n"));
        }
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "base"]);
        let old = git(dir, &["rev-parse", "HEAD^{tree}"]);
        write(dir, "top.txt", "changed\n");
        write(dir, "a/b/c/deep.txt", "changed\n");
        std::fs::remove_dir_all(dir.join("a/b/d/gone")).expect("rm");
        write(dir, "a/b/d/new/4.txt", "new\n");
        write(dir, "a-b/y.txt", "changed\n");
        write(dir, "a.b/added.txt", "added\n");
        std::fs::remove_file(dir.join("kind/file")).expect("rm");
        write(dir, "kind/file/now-a-dir.txt", "dir\n");
        std::fs::remove_dir_all(dir.join("flip")).expect("rm");
        write(dir, "flip", "now a file\n");
        write(dir, "p/q/r/s/t.txt", "changed\n");
        write(dir, "p/q/r/s/v.txt", "added\n");
        write(dir, "m/n/o.txt", "changed\n");
        write(dir, "fresh/one/two.txt", "added\n");
        git(dir, &["add", "-A"]);
        git(dir, &["update-index", "--chmod=+x", "p/w.txt"]);
        git(dir, &["commit", "-q", "-m", "head"]);
        let new = git(dir, &["rev-parse", "HEAD^{tree}"]);
        let id = |hex: String| gix::ObjectId::from_hex(hex.as_bytes()).expect("an id");
        (id(old), id(new))
    }

    /// The single walk's records, as the range diff took them before.
    fn one_walk(repo: &gix::Repository, old: gix::ObjectId, new: gix::ObjectId) -> Vec<Record> {
        let tree = |id| repo.find_tree(id).expect("a tree").detach().data;
        let (old, new) = (tree(old), tree(new));
        let mut recorder = gix::diff::tree::Recorder::default();
        gix::diff::tree(
            gix::objs::TreeRefIter::from_bytes(&old, repo.object_hash()),
            gix::objs::TreeRefIter::from_bytes(&new, repo.object_hash()),
            gix::diff::tree::State::default(),
            &repo.objects,
            &mut recorder,
        )
        .expect("the diff runs");
        recorder.records
    }

    /// What of the records the change set is made of: not the folders
    /// that changed on both sides (a split job's root has no record), and
    /// not the ids that relate a folder's records (counted per job).
    fn files(records: &[Record]) -> Vec<Record> {
        records
            .iter()
            .filter(|r| {
                !matches!(r, Record::Modification { previous_entry_mode, entry_mode, .. }
                    if previous_entry_mode.is_tree() && entry_mode.is_tree())
            })
            .cloned()
            .map(|mut r| {
                if let Record::Addition { relation, .. } | Record::Deletion { relation, .. } =
                    &mut r
                {
                    *relation = None;
                }
                r
            })
            .collect()
    }

    #[test]
    fn split_diffs_record_exactly_what_one_walk_does_in_its_order() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (old, new) = tricky(tmp.path());
        let repo = crate::git::discover(tmp.path())
            .expect("opens")
            .expect("a repo");
        let local = repo.local();
        let expected = one_walk(&local, old, new);
        assert!(expected.len() > 20, "{expected:#?}");
        // 8 threads want 64 jobs: this small tree is split to its leaves.
        for threads in [1, 2, 3, 8] {
            let (records, seen) = repo
                .tree_records(&local, Some(old), new, threads)
                .expect("the diff runs");
            if threads == 1 {
                assert_eq!(records, expected, "one job is the one walk");
            }
            assert_eq!(files(&records), files(&expected), "{threads} threads");
            // Every folder the walk shows as changed is known on both sides.
            for record in &expected {
                if let Record::Modification {
                    previous_entry_mode,
                    previous_oid,
                    entry_mode,
                    oid,
                    path,
                } = record
                {
                    if previous_entry_mode.is_tree() && entry_mode.is_tree() {
                        let dir = format!("{path}/");
                        assert_eq!(
                            seen.folder(&dir, Side::Old),
                            Some(Some(*previous_oid)),
                            "{dir}"
                        );
                        assert_eq!(seen.folder(&dir, Side::New), Some(Some(*oid)), "{dir}");
                    }
                }
            }
            assert_eq!(seen.folder("", Side::Old), Some(Some(old)));
            assert_eq!(seen.folder("a/b/d/gone/", Side::New), Some(None));
            assert_eq!(seen.folder("fresh/one/", Side::Old), Some(None));
            assert_eq!(seen.folder("flip/", Side::New), Some(None));
            assert_eq!(seen.folder("kind/file/", Side::Old), Some(None));
            assert_eq!(seen.folder("same/", Side::New), None, "never read");
            // `m/`'s tree was read on both sides, and its `.sage` noted.
            for side in [Side::Old, Side::New] {
                let m = seen.folder("m/", side).flatten().expect("m/ is known");
                let (mode, _) = seen.sage(&m).flatten().expect("m/ has .sage");
                assert!(mode.is_tree());
                let a = seen.folder("a/", side).flatten().expect("a/ is known");
                assert_eq!(seen.sage(&a), Some(None), "a/ has no .sage");
            }
        }
    }

    #[test]
    fn a_root_range_is_every_file_added() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (_, new) = tricky(tmp.path());
        let repo = crate::git::discover(tmp.path())
            .expect("opens")
            .expect("a repo");
        let local = repo.local();
        let empty = gix::ObjectId::empty_tree(local.object_hash());
        let expected = one_walk(&local, empty, new);
        for threads in [1, 2, 8] {
            let (records, _) = repo
                .tree_records(&local, None, new, threads)
                .expect("the diff runs");
            assert_eq!(files(&records), files(&expected), "{threads} threads");
        }
    }

    #[test]
    fn the_sage_entry_is_found_in_any_mode_and_the_scan_stops_past_it() {
        let hash = gix::hash::Kind::Sha1;
        let id = gix::ObjectId::null(hash);
        let tree = |entries: &[(&str, EntryMode)]| {
            let mut out = Vec::new();
            for (name, mode) in entries {
                encode(
                    &mut out,
                    &EntryRef {
                        mode: *mode,
                        filename: name.as_bytes().as_bstr(),
                        oid: &id,
                    },
                );
            }
            out
        };
        let (blob, dir) = (
            EntryMode::from(gix::objs::tree::EntryKind::Blob),
            EntryMode::from(gix::objs::tree::EntryKind::Tree),
        );
        let link = EntryMode::from(gix::objs::tree::EntryKind::Link);
        assert_eq!(
            sage_entry(&tree(&[("-x", blob), (".sage", dir), ("z", blob)]), hash),
            Some(Some((dir, id)))
        );
        assert_eq!(
            sage_entry(&tree(&[(".sage", link), ("z", blob)]), hash),
            Some(Some((link, id)))
        );
        assert_eq!(
            sage_entry(&tree(&[(".git", dir), (".sagf", blob)]), hash),
            Some(None)
        );
        assert_eq!(sage_entry(&[], hash), Some(None));
        assert_eq!(sage_entry(b"100644 broken", hash), None);
    }
}
