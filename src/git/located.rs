//! The index for `--staged`, read only as far as the diff needs it.
//!
//! Decoding every entry of a large index is most of `--staged`'s own time,
//! yet the cache-tree already says which directories may differ from
//! `HEAD`. For an index of version 2 or 3 (what git writes unless told
//! otherwise) the entries are only located here: one pass over the file
//! finds where each entry and its path lie and which are unmerged, and an
//! entry's id, mode and flags are decoded when the diff asks for them.
//! Any other index (version 4, a split index, an extension valve does not
//! know, anything malformed) is read whole by gix, which also gives the
//! errors their words.
//!
//! The layout read here is git's documented index format: a 12-byte header
//! (`DIRC`, version, entry count), entries of 40 bytes of stat data, the
//! object id, 16 bits of flags (assume-valid, extended, stage, path length
//! up to 0xFFF), 16 more with the extended bit (version 3: skip-worktree,
//! intent-to-add), the path and 1–8 NULs to a multiple of 8; then
//! extensions (4-byte signature, 32-bit size) and the checksum.

use std::ops::Range;

use gix::bstr::{BStr, ByteSlice};
use gix::index::entry::{Flags, Mode};

/// What the diff reads of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) id: gix::ObjectId,
    pub(super) mode: Mode,
    pub(super) flags: Flags,
}

/// Sorted index entries, however they were read.
pub(super) trait Entries {
    fn count(&self) -> usize;
    fn path(&self, i: usize) -> &BStr;
    fn entry(&self, i: usize) -> Entry;
    fn cache_tree(&self) -> Option<&gix::index::extension::Tree>;

    /// The entries whose path starts with `prefix`.
    fn prefixed(&self, prefix: &BStr) -> Range<usize> {
        let start = self.first_where(0, self.count(), |p| p >= prefix);
        let end = self.first_where(start, self.count(), |p| !p.starts_with(prefix));
        start..end
    }

    /// The first index in `from..to` at which `test` holds, for a `test`
    /// that is false and then true along the sorted paths.
    fn first_where(&self, mut from: usize, mut to: usize, test: impl Fn(&BStr) -> bool) -> usize {
        while from < to {
            let mid = from + (to - from) / 2;
            if test(self.path(mid)) {
                to = mid;
            } else {
                from = mid + 1;
            }
        }
        from
    }

    /// The sparse directory entry at `prefix` (ending in `/`), if any.
    fn sparse_dir(&self, prefix: &BStr) -> Option<gix::ObjectId> {
        let i = self.first_where(0, self.count(), |p| p >= prefix);
        (i < self.count() && self.path(i) == prefix)
            .then(|| self.entry(i))
            .filter(|e| e.mode == Mode::DIR)
            .map(|e| e.id)
    }
}

impl Entries for gix::index::State {
    fn count(&self) -> usize {
        self.entries().len()
    }

    fn path(&self, i: usize) -> &BStr {
        self.entries()[i].path(self)
    }

    fn entry(&self, i: usize) -> Entry {
        let e = &self.entries()[i];
        Entry {
            id: e.id,
            mode: e.mode,
            flags: e.flags,
        }
    }

    fn cache_tree(&self) -> Option<&gix::index::extension::Tree> {
        self.tree()
    }

    fn prefixed(&self, prefix: &BStr) -> Range<usize> {
        self.prefixed_entries_range(prefix).unwrap_or(0..0)
    }
}

/// An index file's bytes: mapped when it is large, read when it is small
/// (mapping costs more than copying a few pages). Mapping spares copying
/// the file into fresh memory, which for a large index costs more than
/// reading its entries; git replaces its index by renaming a new file over
/// it, never by writing into it, so the mapped bytes stay as they were.
pub(super) enum Bytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

/// From this size on an index is mapped.
const MAP_FROM: u64 = 256 * 1024;

impl Bytes {
    /// The bytes of the file at `path`.
    pub(super) fn of(path: &std::path::Path) -> std::io::Result<Bytes> {
        Bytes::mapped_from(path, MAP_FROM)
    }

    fn mapped_from(path: &std::path::Path, map_from: u64) -> std::io::Result<Bytes> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        if len < map_from {
            let mut data = Vec::with_capacity(len as usize);
            file.read_to_end(&mut data)?;
            return Ok(Bytes::Read(data));
        }
        // SAFETY: the mapping is read-only and private; a file truncated
        // under it would fault, and git never truncates its index in place
        // (gix maps the index the same way).
        let mapped = unsafe { memmap2::MmapOptions::new().populate().map(&file)? };
        Ok(Bytes::Mapped(mapped))
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(data: Vec<u8>) -> Bytes {
        Bytes::Read(data)
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Read(v) => v,
        }
    }
}

/// A version 2 or 3 index file with its entries located.
pub(super) struct Located {
    data: Bytes,
    hash: gix::hash::Kind,
    /// Where each entry starts; its path is found from there.
    starts: Vec<u32>,
    tree: Option<gix::index::extension::Tree>,
    /// The paths with a conflict stage, each once.
    pub(super) unmerged: Vec<gix::bstr::BString>,
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// Bytes of stat data before an entry's object id.
pub(super) const STAT: usize = 40;

/// How far ahead of the entry being located its bytes are touched.
const READ_AHEAD: usize = 8192;

/// One index entry's layout, from its first bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    /// Where its path starts (from the entry's start) and how long it is.
    pub(super) path: usize,
    pub(super) len: usize,
    /// The entry's bytes, the NUL and padding included.
    pub(super) size: usize,
    pub(super) flags: u16,
    /// The extended flags (version 3 only), or 0.
    pub(super) extended: u16,
}

/// What the first bytes of an entry say.
pub(super) enum Parsed {
    Entry(Layout),
    /// At least this many bytes are needed to tell.
    Short(usize),
    /// Not an entry git writes.
    Bad,
}

/// The layout of the entry `e` starts with, in a version 2 or 3 index of
/// `hash_len`-byte ids: 16 bits of flags after the id (the path's length,
/// or 0xFFF for "find its NUL"), 16 more with the extended bit (version 3
/// only), then the path, its NUL and padding to a multiple of 8. Used by
/// `Located` (all bytes at hand) and by the stream, which reads more on
/// `Short`.
// Inlined: `Located::new` calls it for every entry of the index.
#[inline(always)]
pub(super) fn layout(e: &[u8], version: u32, hash_len: usize) -> Parsed {
    let fixed = STAT + hash_len + 2;
    let Some(f) = e.get(fixed - 2..fixed) else {
        return Parsed::Short(fixed + 2);
    };
    let flags = u16::from_be_bytes([f[0], f[1]]);
    let (path, extended) = match flags & 0x4000 {
        0 => (fixed, 0),
        _ if version < 3 => return Parsed::Bad,
        _ => match e.get(fixed..fixed + 2) {
            Some(x) => (fixed + 2, u16::from_be_bytes([x[0], x[1]])),
            None => return Parsed::Short(fixed + 2),
        },
    };
    let len = match usize::from(flags & 0x0fff) {
        0x0fff => match e.get(path..).and_then(|p| p.find_byte(0)) {
            Some(n) => n,
            None => return Parsed::Short(e.len() + 1),
        },
        n => n,
    };
    let size = (path + len + 8) & !7;
    match e.get(path + len) {
        Some(0) if e.len() >= size => Parsed::Entry(Layout {
            path,
            len,
            size,
            flags,
            extended,
        }),
        Some(0) | None => Parsed::Short(size),
        Some(_) => Parsed::Bad,
    }
}

/// Where the path of the entry at `pos` lies and how long it is, in an
/// index `Located::new` read (so of version 2 or 3, and well formed).
fn path_of(data: &[u8], pos: usize, hash_len: usize, end: usize) -> Option<(usize, usize)> {
    match layout(data.get(pos..end)?, 3, hash_len) {
        Parsed::Entry(l) => Some((pos + l.path, l.len)),
        Parsed::Short(_) | Parsed::Bad => None,
    }
}

/// Whether `a <= b` in byte order. Neighbouring paths share long
/// prefixes, so this compares eight bytes at a time, inline: a call to
/// `memcmp` per entry costs more than the rest of locating it.
pub(super) fn in_order(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    let (mut x, mut y) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    for (p, q) in x.by_ref().zip(y.by_ref()) {
        let (p, q) = (
            u64::from_be_bytes(p.try_into().unwrap_or_default()),
            u64::from_be_bytes(q.try_into().unwrap_or_default()),
        );
        if p != q {
            return p < q;
        }
    }
    for (p, q) in x.remainder().iter().zip(y.remainder()) {
        if p != q {
            return p < q;
        }
    }
    a.len() <= b.len()
}

impl Located {
    /// Locates the entries of `data`, or `None` for anything but a
    /// well-formed version 2 or 3 index without a split index or an
    /// extension git marks as required that valve does not know.
    pub(super) fn new(data: impl Into<Bytes>, hash: gix::hash::Kind) -> Option<Located> {
        let data = data.into();
        let hash_len = hash.len_in_bytes();
        if data.get(..4)? != b"DIRC" || data.len() > u32::MAX as usize {
            return None;
        }
        let version = u32_at(&data, 4)?;
        if version != 2 && version != 3 {
            return None;
        }
        let count = u32_at(&data, 8)? as usize;
        let end = data.len().checked_sub(hash_len)?;
        // Every entry takes at least 8 bytes past its fixed part.
        if count > end / (STAT + hash_len + 8) {
            return None;
        }
        let mut starts = Vec::with_capacity(count);
        let mut unmerged: Vec<gix::bstr::BString> = Vec::new();
        let entries = data.get(..end)?;
        let mut before: &[u8] = &[];
        let mut pos = 12;
        for _ in 0..count {
            // Where the next entry starts is known only once this one's
            // path length is read, so the reads form one chain; a read a
            // few pages ahead (off that chain) brings the bytes in early.
            if let Some(ahead) = entries.get(pos + READ_AHEAD) {
                std::hint::black_box(*ahead);
            }
            // Everything is at hand: too short is malformed.
            let Parsed::Entry(l) = layout(entries.get(pos..)?, version, hash_len) else {
                return None;
            };
            let (path, len, flags) = (pos + l.path, l.len, l.flags);
            let next = pos + l.size;
            let name = &entries[path..path + len];
            // git writes entries sorted by path (then stage); an index that
            // is not is for gix to report.
            if !in_order(before, name) {
                return None;
            }
            if flags & 0x3000 != 0 && unmerged.last().is_none_or(|last| last.as_slice() != name) {
                unmerged.push(name.into());
            }
            starts.push(pos as u32);
            before = name;
            pos = next;
        }
        let mut tree = None;
        while pos < end {
            let signature = data.get(pos..pos + 4)?;
            let size = u32_at(&data, pos + 4)? as usize;
            let body = data.get(pos + 8..(pos + 8).checked_add(size)?)?;
            if pos + 8 + size > end {
                return None;
            }
            match signature {
                b"TREE" => tree = Some(gix::index::extension::tree::decode(body, hash, None)?),
                // A sparse index: its directory entries are read as entries.
                b"sdir" => {}
                // Optional extensions (upper-case first letter) can be skipped.
                s if s[0].is_ascii_uppercase() => {}
                // `link` (a split index) and anything required and unknown.
                _ => return None,
            }
            pos += 8 + size;
        }
        if pos != end {
            return None;
        }
        Some(Located {
            data,
            hash,
            starts,
            tree,
            unmerged,
        })
    }
}

impl Entries for Located {
    fn count(&self) -> usize {
        self.starts.len()
    }

    fn path(&self, i: usize) -> &BStr {
        let end = self.data.len() - self.hash.len_in_bytes();
        // Located once already: the same reading cannot fail now.
        let (path, len) = path_of(
            &self.data,
            self.starts[i] as usize,
            self.hash.len_in_bytes(),
            end,
        )
        .unwrap_or((0, 0));
        self.data[path..path + len].as_bstr()
    }

    fn entry(&self, i: usize) -> Entry {
        let start = self.starts[i] as usize;
        let hash_len = self.hash.len_in_bytes();
        let at = |offset: usize| start + offset;
        let mode = u32_at(&self.data, at(24)).unwrap_or(0);
        let id = gix::ObjectId::from_bytes_or_panic(&self.data[at(STAT)..at(STAT + hash_len)]);
        let flags = u16_at(&self.data, at(STAT + hash_len)).unwrap_or(0);
        let extended = if flags & 0x4000 != 0 {
            u16_at(&self.data, at(STAT + hash_len + 2)).unwrap_or(0)
        } else {
            0
        };
        Entry {
            id,
            mode: Mode::from_bits_retain(mode),
            flags: Flags::from_bits_retain(u32::from(flags) | (u32::from(extended) << 16)),
        }
    }

    fn cache_tree(&self) -> Option<&gix::index::extension::Tree> {
        self.tree.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::test_git::{broken_indexes, git, try_git, write};
    use std::path::Path;

    /// Located entries read exactly what gix decodes, entry by entry.
    fn same_as_gix(dir: &Path, hash: gix::hash::Kind) -> Option<Located> {
        let path = dir.join(".git/index");
        let full =
            gix::index::File::at(&path, hash, true, Default::default()).expect("gix reads it");
        let located = Located::new(std::fs::read(&path).expect("read"), hash)?;
        assert_eq!(located.count(), full.entries().len());
        for (i, e) in full.entries().iter().enumerate() {
            assert_eq!(located.path(i), e.path(&full), "path {i}");
            let mine = located.entry(i);
            assert_eq!((mine.id, mine.mode), (e.id, e.mode), "{}", e.path(&full));
            let persisted = Flags::STAGE_MASK
                | Flags::ASSUME_VALID
                | Flags::EXTENDED
                | Flags::SKIP_WORKTREE
                | Flags::INTENT_TO_ADD;
            assert_eq!(
                mine.flags & persisted,
                e.flags & persisted,
                "{}",
                e.path(&full)
            );
        }
        assert_eq!(located.cache_tree(), full.tree());
        Some(located)
    }

    fn tricky(dir: &Path, init: &[&str]) {
        let mut args = vec!["init", "-q", "-b", "main"];
        args.extend(init);
        git(dir, &args);
        write(dir, "a.txt", "a\n");
        write(dir, "d/b.txt", "b\n");
        write(dir, "d/e/exec.sh", "#!/bin/sh\n");
        std::os::unix::fs::symlink("a.txt", dir.join("link")).expect("symlink");
        git(dir, &["add", "-A"]);
        git(dir, &["update-index", "--chmod=+x", "d/e/exec.sh"]);
        git(dir, &["commit", "-q", "-m", "base"]);
        // Extended flags: intent-to-add and skip-worktree (version 3).
        write(dir, "new.txt", "new\n");
        git(dir, &["add", "-N", "new.txt"]);
        git(dir, &["update-index", "--skip-worktree", "d/b.txt"]);
        git(dir, &["update-index", "--assume-unchanged", "a.txt"]);
        write(dir, "z.txt", "z\n");
        git(dir, &["add", "z.txt"]);
    }

    #[test]
    fn in_order_is_byte_order() {
        let words: [&[u8]; 10] = [
            b"",
            b"a",
            b"a/b",
            b"a/b/c/d/e/f/g",
            b"a/b/c/d/e/f/g/h",
            b"a/b/c/d/e/f/g/h/i",
            b"a/b/c/d/e/f/h",
            b"a\xff",
            b"b",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\x00",
        ];
        for a in words {
            for b in words {
                assert_eq!(in_order(a, b), a <= b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn a_mapped_index_reads_as_the_file_does() {
        let dir = tempfile::tempdir().expect("temp dir");
        tricky(dir.path(), &[]);
        let path = dir.path().join(".git/index");
        let read = std::fs::read(&path).expect("read");
        let mapped = Bytes::mapped_from(&path, 0).expect("mapped");
        assert!(matches!(mapped, Bytes::Mapped(_)));
        assert_eq!(&mapped[..], &read[..]);
        let small = Bytes::mapped_from(&path, read.len() as u64 + 1).expect("read");
        assert!(matches!(small, Bytes::Read(_)));
        assert_eq!(&small[..], &read[..]);
        let located = Located::new(mapped, gix::hash::Kind::Sha1).expect("located");
        assert_eq!(located.count(), 6);
        assert_eq!(located.path(5), "z.txt");
    }

    #[test]
    fn located_entries_equal_gix_on_sha1_and_sha256() {
        for (init, hash) in [
            (&[][..], gix::hash::Kind::Sha1),
            (&["--object-format=sha256"][..], gix::hash::Kind::Sha256),
        ] {
            let dir = tempfile::tempdir().expect("temp dir");
            tricky(dir.path(), init);
            let located = same_as_gix(dir.path(), hash).expect("a v3 index is located");
            assert!(located.unmerged.is_empty());
            assert!(located.cache_tree().is_some());
        }
    }

    #[test]
    fn a_path_longer_than_the_length_field_is_located() {
        let dir = tempfile::tempdir().expect("temp dir");
        tricky(dir.path(), &[]);
        // In the index only: the file system refuses such a path.
        let blob = git(dir.path(), &["hash-object", "-w", "a.txt"]);
        let long = format!("{}/f.txt", vec!["x".repeat(200); 22].join("/"));
        let info = format!("100644,{},{long}", blob.trim());
        git(dir.path(), &["update-index", "--add", "--cacheinfo", &info]);
        let data = std::fs::read(dir.path().join(".git/index")).expect("read");
        let located = Located::new(data, gix::hash::Kind::Sha1).expect("located");
        let listed = git(dir.path(), &["ls-files", "-s"]);
        assert_eq!(listed.lines().count(), located.count());
        for (i, line) in listed.lines().enumerate() {
            let (meta, path) = line.split_once('\t').expect("ls-files line");
            let e = located.entry(i);
            assert_eq!(located.path(i), path);
            assert_eq!(meta, format!("{:06o} {} 0", e.mode.bits(), e.id), "{path}");
        }
    }

    #[test]
    fn unmerged_paths_are_found_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        write(d, "c.txt", "base\n");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "base"]);
        git(d, &["checkout", "-q", "-b", "side"]);
        write(d, "c.txt", "side\n");
        git(d, &["commit", "-q", "-am", "side"]);
        git(d, &["checkout", "-q", "main"]);
        write(d, "c.txt", "main\n");
        git(d, &["commit", "-q", "-am", "main"]);
        assert!(!try_git(d, &["merge", "side"]).status.success());
        let located = same_as_gix(d, gix::hash::Kind::Sha1).expect("located");
        assert_eq!(located.unmerged, vec![gix::bstr::BString::from("c.txt")]);
    }

    #[test]
    fn other_indexes_are_left_to_gix() {
        let dir = tempfile::tempdir().expect("temp dir");
        tricky(dir.path(), &[]);
        git(dir.path(), &["update-index", "--index-version", "4"]);
        assert!(same_as_gix(dir.path(), gix::hash::Kind::Sha1).is_none());
        git(dir.path(), &["update-index", "--index-version", "2"]);
        git(dir.path(), &["update-index", "--split-index"]);
        assert!(same_as_gix(dir.path(), gix::hash::Kind::Sha1).is_none());
    }

    #[test]
    fn malformed_indexes_are_left_to_gix() {
        let hash = gix::hash::Kind::Sha1;
        assert!(Located::new(Vec::new(), hash).is_none());
        assert!(Located::new(b"DIRC\0\0\0\x02\xff\xff\xff\xff".to_vec(), hash).is_none());
        let dir = tempfile::tempdir().expect("temp dir");
        tricky(dir.path(), &[]);
        let data = std::fs::read(dir.path().join(".git/index")).expect("read");
        for (what, broken) in broken_indexes(&data) {
            assert!(Located::new(broken, hash).is_none(), "{what}");
        }
    }
}
