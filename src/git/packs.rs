//! Objects read straight from the repository's packs, keeping whole
//! objects for the read that comes next.
//!
//! A diff reads each changed tree and blob on both sides, and git stores
//! one side as a delta against the other. gix's pack cache keeps only the
//! results of deltas, never an object stored whole, so the side stored
//! whole was inflated a second time as the other side's base: in a
//! 400-file pull request at 27k files, 486 of valve's 1,642 inflations
//! (callgrind). A [`PackReader`] keeps the last objects it read, whole or
//! resolved, by their place in the pack, so the second side costs only
//! its delta.
//!
//! It takes only the plain case, and answers "not here" for everything
//! else so that gix reads it as before: loose objects and those of
//! alternates, a repository with replacement refs, a chain through a
//! reference delta, an object or base over [`MAX_BASE`], and any entry it
//! cannot decode (gix then reports the damage in its own words).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use gix::odb::pack;
use gix::odb::pack::data::entry::Header;

/// A base larger than this is left to gix, which bounds its allocations.
const MAX_BASE: u64 = 64 << 20;
/// Objects kept, and their bytes at most: a pair of reads is next to each
/// other, so a few objects cover it.
const KEEP_OBJECTS: usize = 32;
const KEEP_BYTES: usize = 4 << 20;
/// An object larger than this is not kept.
const KEEP_ONE: usize = 1 << 20;
/// git writes chains of at most 50 by default; a longer one, or one whose
/// deltas inflate to more than [`MAX_DELTAS`] bytes together, is left to
/// gix.
const MAX_CHAIN: usize = 10_000;
const MAX_DELTAS: u64 = 256 << 20;

/// The packs of the repository's objects folder.
pub struct Packs {
    bundles: Vec<pack::Bundle>,
}

impl Packs {
    /// The packs of `repo`'s objects folder, or `None` when its objects
    /// are not only what the packs say (replacement refs).
    pub fn open(repo: &gix::Repository) -> Option<Packs> {
        let store = repo.objects.store_ref();
        if store.replacements().next().is_some() {
            return None;
        }
        Some(Packs {
            bundles: bundles(&store.path().join("pack"), repo.object_hash()),
        })
    }
}

/// The packs as opened, with the pack folder's modification time then.
pub(super) struct Opened {
    at: Option<std::time::SystemTime>,
    packs: Option<Arc<Packs>>,
}

impl Opened {
    /// The packs of `repo`, opened again when `opened` is of a pack folder
    /// that changed since (a repack adds and removes packs).
    pub(super) fn current(
        opened: &mut Option<Opened>,
        repo: &gix::Repository,
    ) -> Option<Arc<Packs>> {
        let at = std::fs::metadata(repo.objects.store_ref().path().join("pack"))
            .and_then(|m| m.modified())
            .ok();
        if opened.as_ref().is_none_or(|o| o.at != at || at.is_none()) {
            *opened = Some(Opened {
                at,
                packs: Packs::open(repo).map(Arc::new),
            });
        }
        opened.as_ref().and_then(|o| o.packs.clone())
    }
}

/// Every pack with its index in `dir`, in name order; one that does not
/// open is left to gix. Both files must be regular files (a FIFO would
/// block the open).
fn bundles(dir: &Path, hash: gix::hash::Kind) -> Vec<pack::Bundle> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let regular = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file());
    let mut indexes: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .filter(|p| regular(p) && regular(&p.with_extension("pack")))
        .collect();
    indexes.sort();
    indexes
        .iter()
        .filter_map(|idx| pack::Bundle::at(idx, hash).ok())
        .collect()
}

/// What a [`PackReader`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// The object, of this kind, is in the buffer.
    Object(gix::object::Kind),
    /// The object is larger than the limit asked for, and was not built.
    TooLarge,
}

/// An object kept: where it is in which pack, and its bytes.
struct Kept {
    pack: usize,
    offset: u64,
    kind: gix::object::Kind,
    data: Vec<u8>,
}

/// A thread's reader over shared [`Packs`].
pub struct PackReader {
    packs: Arc<Packs>,
    kept: VecDeque<Kept>,
    kept_bytes: usize,
    inflate: gix::zlib::Inflate,
}

impl PackReader {
    pub fn new(packs: Arc<Packs>) -> Self {
        PackReader {
            packs,
            kept: VecDeque::new(),
            kept_bytes: 0,
            inflate: gix::zlib::Inflate::default(),
        }
    }

    /// Object `id` into `out`, unless it is over `max` bytes; `None` when
    /// this reader does not take it, and gix should.
    pub fn read(&mut self, id: &gix::oid, max: u64, out: &mut Vec<u8>) -> Option<Read> {
        let packs = Arc::clone(&self.packs);
        let (pack, offset) = packs.bundles.iter().enumerate().find_map(|(i, b)| {
            let at = b.index.lookup(id)?;
            Some((i, b.index.pack_offset_at_index(at)))
        })?;
        self.resolve(&packs.bundles[pack].pack, pack, offset, max, out)
    }

    /// The object at `offset` of pack `p`: down its delta chain to an
    /// object kept or stored whole, then each delta applied on the way up,
    /// every result kept.
    fn resolve(
        &mut self,
        file: &pack::data::File,
        p: usize,
        offset: u64,
        max: u64,
        out: &mut Vec<u8>,
    ) -> Option<Read> {
        let mut deltas: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut delta_bytes = 0u64;
        let mut at = offset;
        let (kind, mut base) = loop {
            if let Some(k) = self.kept.iter().find(|k| k.pack == p && k.offset == at) {
                if deltas.is_empty() && k.data.len() as u64 > max {
                    return Some(Read::TooLarge);
                }
                break (k.kind, k.data.clone());
            }
            let entry = file.entry(at).ok()?;
            match entry.header {
                Header::OfsDelta { base_distance } => {
                    delta_bytes = delta_bytes.saturating_add(entry.decompressed_size);
                    if entry.decompressed_size > MAX_BASE
                        || delta_bytes > MAX_DELTAS
                        || deltas.len() >= MAX_CHAIN
                    {
                        return None;
                    }
                    let payload = self.inflated(file, &entry)?;
                    // The object asked for: its size is in its delta.
                    if deltas.is_empty() && target_size(&payload)? > max {
                        return Some(Read::TooLarge);
                    }
                    deltas.push((at, payload));
                    at = entry.checked_base_pack_offset(base_distance)?;
                }
                Header::RefDelta { .. } => return None,
                header => {
                    let kind = header.as_kind()?;
                    if deltas.is_empty() && entry.decompressed_size > max {
                        return Some(Read::TooLarge);
                    }
                    if entry.decompressed_size > MAX_BASE {
                        return None;
                    }
                    let data = self.inflated(file, &entry)?;
                    self.keep(p, at, kind, &data);
                    break (kind, data);
                }
            }
        };
        for (at, payload) in deltas.iter().rev() {
            base = apply(&base, payload)?;
            self.keep(p, *at, kind, &base);
        }
        *out = base;
        Some(Read::Object(kind))
    }

    /// The entry's inflated bytes (an object, or a delta's instructions).
    fn inflated(&mut self, file: &pack::data::File, entry: &pack::data::Entry) -> Option<Vec<u8>> {
        let mut data = vec![0; usize::try_from(entry.decompressed_size).ok()?];
        file.decompress_entry(entry, &mut self.inflate, &mut data)
            .ok()?;
        Some(data)
    }

    fn keep(&mut self, pack: usize, offset: u64, kind: gix::object::Kind, data: &[u8]) {
        if data.len() > KEEP_ONE {
            return;
        }
        while self.kept.len() >= KEEP_OBJECTS || self.kept_bytes + data.len() > KEEP_BYTES {
            let Some(old) = self.kept.pop_front() else {
                break;
            };
            self.kept_bytes -= old.data.len();
        }
        self.kept_bytes += data.len();
        self.kept.push_back(Kept {
            pack,
            offset,
            kind,
            data: data.to_vec(),
        });
    }
}

/// A delta's size varint at the start of `d`: the value and its length.
fn varint(d: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in d.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The size of what `delta` builds.
fn target_size(delta: &[u8]) -> Option<u64> {
    let (_, used) = varint(delta)?;
    Some(varint(&delta[used..])?.0)
}

/// `delta` applied to `base`: git's delta format, a base size, a target
/// size, then instructions that copy a range of the base or insert bytes.
/// Anything out of bounds, or a result of another size, is no answer.
fn apply(base: &[u8], delta: &[u8]) -> Option<Vec<u8>> {
    let (source, used) = varint(delta)?;
    let mut d = &delta[used..];
    let (target, used) = varint(d)?;
    d = &d[used..];
    if source != base.len() as u64 || target > MAX_BASE {
        return None;
    }
    let mut out = Vec::with_capacity(target as usize);
    while let Some((&op, rest)) = d.split_first() {
        d = rest;
        if op & 0x80 != 0 {
            // Copy: the bits name which offset and size bytes follow.
            let mut field = |bits: u8, at: u32| -> Option<u64> {
                let mut v = 0u64;
                for i in 0..at {
                    if bits & (1 << i) != 0 {
                        let (&b, rest) = d.split_first()?;
                        d = rest;
                        v |= u64::from(b) << (8 * i);
                    }
                }
                Some(v)
            };
            let start = field(op & 0x0f, 4)?;
            let size = match field((op >> 4) & 0x07, 3)? {
                0 => 0x10000,
                n => n,
            };
            let end = start.checked_add(size)?;
            out.extend_from_slice(
                base.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)?,
            );
        } else if op != 0 {
            let n = usize::from(op);
            out.extend_from_slice(d.get(..n)?);
            d = &d[n..];
        } else {
            return None;
        }
        if out.len() as u64 > target {
            return None;
        }
    }
    (out.len() as u64 == target).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::test_git::{git, write};

    /// A repository of 40 commits over a few files and folders that grow
    /// a line each time, packed with long delta chains: `(dir, every
    /// object id with its size, how many are deltas)`.
    fn packed_history() -> (tempfile::TempDir, Vec<(gix::ObjectId, u64)>, usize) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        git(root, &["init", "-q"]);
        let mut text = vec![String::new(); 4];
        for commit in 0..40 {
            for (i, t) in text.iter_mut().enumerate() {
                if (commit + i) % 3 != 0 {
                    t.push_str(&format!(
                        "line {commit} of file {i}: {}\n",
                        "x".repeat(commit * 7)
                    ));
                }
                write(root, &format!("d{}/f{i}.txt", i % 2), t);
            }
            git(root, &["add", "-A"]);
            git(root, &["commit", "-q", "-m", &format!("c{commit}")]);
        }
        git(root, &["repack", "-adf", "--depth=50", "--window=50"]);
        let listed = git(
            root,
            &[
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname) %(objectsize) %(deltabase)",
            ],
        );
        let zero = "0".repeat(40);
        let mut objects = Vec::new();
        let mut deltas = 0;
        for line in listed.lines() {
            let mut f = line.split(' ');
            let id = gix::ObjectId::from_hex(f.next().expect("id").as_bytes()).expect("hex");
            let size = f.next().expect("size").parse().expect("size");
            deltas += usize::from(f.next() != Some(zero.as_str()));
            objects.push((id, size));
        }
        (dir, objects, deltas)
    }

    #[test]
    fn every_packed_object_reads_as_gix_reads_it_in_any_order() {
        let (dir, objects, deltas) = packed_history();
        assert!(
            deltas > 50,
            "the fixture has delta chains ({deltas} deltas)"
        );
        let repo = gix::open(dir.path()).expect("open");
        let packs = Arc::new(Packs::open(&repo).expect("packs"));
        // In the listing's order, then backwards: each chain is met from
        // both ends, kept or not.
        let mut reader = PackReader::new(Arc::clone(&packs));
        for (id, size) in objects.iter().chain(objects.iter().rev()) {
            let want = repo.find_object(*id).expect("gix reads it");
            let mut out = Vec::new();
            assert_eq!(
                reader.read(id, u64::MAX, &mut out),
                Some(Read::Object(want.kind)),
                "{id}"
            );
            assert_eq!(out, want.data, "{id}");
            assert_eq!(out.len() as u64, *size);
            // The limit is the object's size: one byte less is too large.
            if *size > 0 {
                let mut fresh = PackReader::new(Arc::clone(&packs));
                assert_eq!(
                    fresh.read(id, size - 1, &mut out),
                    Some(Read::TooLarge),
                    "{id}"
                );
                assert_eq!(
                    reader.read(id, size - 1, &mut out),
                    Some(Read::TooLarge),
                    "{id}"
                );
            }
        }
        // A loose object is gix's.
        write(dir.path(), "new.txt", "loose\n");
        let loose = git(dir.path(), &["hash-object", "-w", "new.txt"]);
        let loose = gix::ObjectId::from_hex(loose.as_bytes()).expect("hex");
        assert_eq!(reader.read(&loose, u64::MAX, &mut Vec::new()), None);
    }

    #[test]
    fn the_packs_are_opened_again_once_a_repack_changed_them() {
        let (dir, _, _) = packed_history();
        let repo = gix::open(dir.path()).expect("open");
        let mut opened = None;
        let first = Opened::current(&mut opened, &repo).expect("packs");
        let same = Opened::current(&mut opened, &repo).expect("packs");
        assert!(
            Arc::ptr_eq(&first, &same),
            "an unchanged folder is not opened again"
        );
        write(dir.path(), "late.txt", "added after the first open\n");
        git(dir.path(), &["add", "late.txt"]);
        git(dir.path(), &["commit", "-q", "-m", "late"]);
        git(dir.path(), &["repack", "-adq"]);
        let late = git(dir.path(), &["rev-parse", "HEAD:late.txt"]);
        let late = gix::ObjectId::from_hex(late.as_bytes()).expect("hex");
        let mut out = Vec::new();
        assert_eq!(PackReader::new(first).read(&late, u64::MAX, &mut out), None);
        let again = Opened::current(&mut opened, &repo).expect("packs");
        assert_eq!(
            PackReader::new(again).read(&late, u64::MAX, &mut out),
            Some(Read::Object(gix::object::Kind::Blob))
        );
        assert_eq!(out, b"added after the first open\n");
    }

    #[test]
    fn a_damaged_pack_is_no_answer_or_the_answer_gix_gives_and_never_a_panic() {
        let (dir, objects, _) = packed_history();
        let pack_dir = dir.path().join(".git/objects/pack");
        let pack = std::fs::read_dir(&pack_dir)
            .expect("pack dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "pack"))
            .expect("a pack");
        let good = std::fs::read(&pack).expect("pack bytes");
        let mut perms = std::fs::metadata(&pack).expect("meta").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&pack, perms).expect("writable");
        for step in [7usize, 61, 263, 1021] {
            let mut bad = good.clone();
            // Past the 12-byte header, before the trailing checksum.
            for at in (12..bad.len() - 20).step_by(step) {
                bad[at] ^= 0x5a;
            }
            std::fs::write(&pack, &bad).expect("damage");
            let repo = gix::open(dir.path()).expect("open");
            let Some(packs) = Packs::open(&repo) else {
                continue;
            };
            let mut reader = PackReader::new(Arc::new(packs));
            for (id, _) in &objects {
                let mut out = Vec::new();
                if let Some(Read::Object(kind)) = reader.read(id, u64::MAX, &mut out) {
                    // What git's format lets through, gix lets through too.
                    if let Ok(want) = repo.find_object(*id) {
                        assert_eq!((kind, &out[..]), (want.kind, &want.data[..]), "{id}");
                    }
                }
            }
        }
    }

    /// A delta of `ops` from a base of `source` bytes to `target` bytes.
    fn delta(source: u8, target: u8, ops: &[u8]) -> Vec<u8> {
        let mut d = vec![source, target];
        d.extend_from_slice(ops);
        d
    }

    #[test]
    fn a_delta_copies_and_inserts() {
        let base = b"hello world";
        // copy 0..5, insert ", git", copy 5..11
        let d = delta(
            11,
            16,
            &[0x90, 5, 5, b',', b' ', b'g', b'i', b't', 0x91, 5, 6],
        );
        assert_eq!(apply(base, &d).as_deref(), Some(&b"hello, git world"[..]));
    }

    #[test]
    fn a_delta_out_of_bounds_or_of_the_wrong_size_is_no_answer() {
        let base = b"hello";
        // a copy past the base's end
        assert_eq!(apply(base, &delta(5, 6, &[0x91, 1, 5])), None);
        // a base of another size
        assert_eq!(apply(base, &delta(4, 5, &[0x90, 5])), None);
        // a result shorter, or longer, than it says
        assert_eq!(apply(base, &delta(5, 6, &[0x90, 5])), None);
        assert_eq!(apply(base, &delta(5, 4, &[0x90, 5])), None);
        // an insert running past the end, and the reserved opcode 0
        assert_eq!(apply(base, &delta(5, 3, &[3, b'a'])), None);
        assert_eq!(apply(base, &delta(5, 0, &[0])), None);
        // a size varint that never ends
        assert_eq!(apply(base, &[0xff; 12]), None);
    }

    #[test]
    fn a_copy_of_size_zero_copies_64_kib() {
        let base = vec![7u8; 0x10000];
        let mut d = vec![0x80, 0x80, 0x04, 0x80, 0x80, 0x04];
        d.push(0x80);
        assert_eq!(apply(&base, &d), Some(base));
    }
}
