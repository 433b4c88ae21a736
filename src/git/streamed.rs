//! The index read entry by entry, for `--all` (SPEC §10: memory). The
//! walk of the work tree needs only a few of the index's entries (the
//! submodules, the nested configs, the tracked files under an ignored
//! folder), so the file is read through a small buffer and no copy of its
//! entries is held: a 400,000-file index is 35 MB on disk and about 48 MB
//! once decoded.
//!
//! The layout is the one `located.rs` reads (versions 2 and 3), with the
//! same refusals: any other version, a split index, an extension git marks
//! as required that valve does not know, entries out of order or a file
//! that ends early are `None`, and the caller reads the index whole with
//! gix, as before. So is a sparse index (`sdir`): its directory entries
//! need the expansion `index::worktree_index` does.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use gix::bstr::{BStr, ByteSlice};
use gix::index::entry::{Flags, Mode};

use super::located::{Parsed, in_order, layout};

/// One entry as it is read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Streamed<'a> {
    pub(super) path: &'a BStr,
    pub(super) mode: Mode,
    pub(super) flags: Flags,
}

/// Bytes read at a time.
const CHUNK: usize = 64 * 1024;
/// The longest entry read (its path is in it): git refuses paths longer
/// than 4096 bytes on most systems, and the index format allows any.
const MAX_ENTRY: usize = 1024 * 1024;

/// The bytes of `file` from its start, a window at a time.
struct Window<'f> {
    file: &'f File,
    buf: Vec<u8>,
    /// Where the unread part of `buf` starts.
    at: usize,
    /// The file offset of `buf[0]`.
    offset: u64,
}

impl Window<'_> {
    /// At least `n` unread bytes in `buf[at..]`, or `false` at the end.
    fn have(&mut self, n: usize) -> io::Result<bool> {
        if self.buf.len() - self.at >= n {
            return Ok(true);
        }
        if n > MAX_ENTRY {
            return Ok(false);
        }
        self.buf.drain(..self.at);
        self.offset += self.at as u64;
        self.at = 0;
        while self.buf.len() < n {
            let len = self.buf.len();
            self.buf.resize(len + CHUNK.max(n - len), 0);
            let read = (&*self.file).read(&mut self.buf[len..])?;
            self.buf.truncate(len + read);
            if read == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.at..]
    }

    /// The file offset of the next unread byte.
    fn position(&self) -> u64 {
        self.offset + self.at as u64
    }
}

/// Hands `visit` each entry of the index in `file` (read from its start),
/// in the file's order. `Ok(None)`: not an index this reader takes (see
/// the module's text); what `visit` was handed must then be thrown away.
pub(super) fn each_entry(
    file: &File,
    hash: gix::hash::Kind,
    mut visit: impl FnMut(Streamed<'_>),
) -> io::Result<Option<()>> {
    let hash_len = hash.len_in_bytes();
    let len = file.metadata()?.len();
    let Some(end) = len.checked_sub(hash_len as u64) else {
        return Ok(None);
    };
    (&*file).seek(SeekFrom::Start(0))?;
    let mut w = Window {
        file,
        buf: Vec::with_capacity(CHUNK),
        at: 0,
        offset: 0,
    };
    if !w.have(12)? || &w.unread()[..4] != b"DIRC" {
        return Ok(None);
    }
    let head = w.unread();
    let version = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let count = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    if version != 2 && version != 3 {
        return Ok(None);
    }
    w.at += 12;
    let mut before: Vec<u8> = Vec::new();
    for _ in 0..count {
        let l = loop {
            match layout(w.unread(), version, hash_len) {
                Parsed::Entry(l) => break l,
                Parsed::Short(n) if w.have(n)? => {}
                Parsed::Short(_) | Parsed::Bad => return Ok(None),
            }
        };
        if w.position() + l.size as u64 > end {
            return Ok(None);
        }
        let e = &w.unread()[..l.size];
        let name = &e[l.path..l.path + l.len];
        if !in_order(&before, name) {
            return Ok(None);
        }
        let mode = u32::from_be_bytes([e[24], e[25], e[26], e[27]]);
        visit(Streamed {
            path: name.as_bstr(),
            mode: Mode::from_bits_retain(mode),
            flags: Flags::from_bits_retain(u32::from(l.flags) | (u32::from(l.extended) << 16)),
        });
        before.clear();
        before.extend_from_slice(name);
        w.at += l.size;
    }
    // The extensions: only their signatures and sizes are read.
    let mut pos = w.position();
    let mut header = [0u8; 8];
    while pos < end {
        if end - pos < 8 {
            return Ok(None);
        }
        (&*file).seek(SeekFrom::Start(pos))?;
        (&*file).read_exact(&mut header)?;
        let size = u64::from(u32::from_be_bytes([
            header[4], header[5], header[6], header[7],
        ]));
        // Optional extensions (upper-case first letter) can be skipped;
        // `sdir` (a sparse index), `link` (a split index) and anything
        // required and unknown cannot.
        if !header[0].is_ascii_uppercase() {
            return Ok(None);
        }
        pos += 8 + size;
    }
    Ok((pos == end).then_some(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::test_git::{broken_indexes, git, write};
    use std::path::Path;

    /// Every entry the stream hands over, as (path, mode, persisted flags).
    fn streamed(dir: &Path) -> Option<Vec<(String, u32, u32)>> {
        let file = File::open(dir.join(".git/index")).expect("index");
        let mut out = Vec::new();
        each_entry(&file, gix::hash::Kind::Sha1, |e| {
            out.push((e.path.to_string(), e.mode.bits(), persisted(e.flags)));
        })
        .expect("reads")?;
        Some(out)
    }

    fn persisted(flags: Flags) -> u32 {
        (flags
            & (Flags::STAGE_MASK
                | Flags::ASSUME_VALID
                | Flags::EXTENDED
                | Flags::SKIP_WORKTREE
                | Flags::INTENT_TO_ADD))
            .bits()
    }

    fn gix_entries(dir: &Path) -> Vec<(String, u32, u32)> {
        let full = gix::index::File::at(
            dir.join(".git/index"),
            gix::hash::Kind::Sha1,
            true,
            Default::default(),
        )
        .expect("gix reads it");
        full.entries()
            .iter()
            .map(|e| (e.path(&full).to_string(), e.mode.bits(), persisted(e.flags)))
            .collect()
    }

    fn repo(dir: &Path) {
        git(dir, &["init", "-q", "-b", "main"]);
        write(dir, "a.txt", "a\n");
        write(dir, "d/b.txt", "b\n");
        std::os::unix::fs::symlink("a.txt", dir.join("link")).expect("symlink");
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "base"]);
        write(dir, "new.txt", "new\n");
        git(dir, &["add", "-N", "new.txt"]);
        git(dir, &["update-index", "--assume-unchanged", "a.txt"]);
    }

    #[test]
    fn streamed_entries_equal_gix_across_buffer_edges() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        repo(d);
        // Enough entries that many cross a 64 KiB window, and one path
        // longer than the length field.
        let blob = git(d, &["hash-object", "-w", "a.txt"]);
        let mut infos: Vec<String> = (0..3000)
            .map(|i| {
                format!(
                    "100644,{},many/{i:05}-{}.txt",
                    blob.trim(),
                    "y".repeat(i % 50)
                )
            })
            .collect();
        let long = format!("{}/f.txt", vec!["x".repeat(200); 22].join("/"));
        infos.push(format!("100644,{},{long}", blob.trim()));
        let mut args = vec!["update-index", "--add"];
        for info in &infos {
            args.extend(["--cacheinfo", info.as_str()]);
        }
        git(d, &args);
        let mine = streamed(d).expect("a v3 index is streamed");
        assert_eq!(mine.len(), 3000 + 5);
        // gix refuses the entry longer than the length field: git is the
        // oracle for paths and modes.
        let listed: Vec<(String, u32)> = git(d, &["ls-files", "-s"])
            .lines()
            .map(|line| {
                let (meta, path) = line.split_once('\t').expect("ls-files line");
                let mode = u32::from_str_radix(&meta[..6], 8).expect("mode");
                (path.to_string(), mode)
            })
            .collect();
        let paths: Vec<(String, u32)> = mine.iter().map(|(p, m, _)| (p.clone(), *m)).collect();
        assert_eq!(paths, listed);
    }

    #[test]
    fn other_indexes_are_left_to_gix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        repo(d);
        assert_eq!(streamed(d).expect("streamed"), gix_entries(d));
        git(d, &["update-index", "--index-version", "4"]);
        assert!(streamed(d).is_none(), "version 4");
        git(d, &["update-index", "--index-version", "2"]);
        assert!(streamed(d).is_some());
        git(d, &["update-index", "--split-index"]);
        assert!(streamed(d).is_none(), "a split index");
        git(d, &["update-index", "--no-split-index"]);
        assert!(streamed(d).is_some());
        git(d, &["sparse-checkout", "set", "--sparse-index", "d"]);
        assert!(streamed(d).is_none(), "a sparse index");
    }

    #[test]
    fn malformed_indexes_are_left_to_gix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        repo(d);
        let path = d.join(".git/index");
        let data = std::fs::read(&path).expect("read");
        for (what, broken) in broken_indexes(&data) {
            std::fs::write(&path, &broken).expect("write");
            assert!(streamed(d).is_none(), "{what}");
        }
    }
}
