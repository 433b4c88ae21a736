//! The result cache (SPEC §12): per file content and ruleset, the raw
//! trigger matches, so that an unchanged file is not searched again.
//!
//! What is kept is only what matching gives — per (persona, trigger) the
//! byte ranges `find_iter` returns — before scope, suppression and
//! baseline. Everything after matching runs exactly as without a cache, so
//! a cache changes speed, never a result.
//!
//! **Key.** SHA-256 over the ruleset's hash, the content's length and the
//! content's bytes. The ruleset hash covers the cache format, valve's
//! version (the regex engine is part of it), `max_file_size`, and per
//! persona its position, `binary` setting and trigger patterns in order.
//! SHA-256 is collision resistant: a hostile author cannot make a content
//! whose key is that of another content (a non-cryptographic hash such as
//! FNV would let them craft one and borrow a clean file's matches), and
//! accidental collisions are out of reach (2^-128 for 2^64 entries).
//!
//! **Entries.** One file per key, `DIR/ab/cdef…` (the key in hex, fanned
//! out by its first two digits): a header with a magic, the format
//! version, the key again, the payload's length and SHA-256 checksum, then
//! the payload. An entry that is truncated, corrupt, of another version or
//! of another key (a file renamed into place) is ignored and rewritten:
//! never trusted, never an error. Offsets are checked against the content
//! before they are used. Writes go to a temporary file in the same folder,
//! renamed into place (no fsync: a torn entry after a crash fails its
//! checksum). Failures to read or write the cache are silent: the run is
//! judged as without one.
//!
//! **Bound.** After a run, `evict` keeps the folder at most `--cache-max`
//! bytes, removing the least recently used entries first (an entry's
//! modification time is its recency: a hit touches it).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::ruleset::Ruleset;

/// The environment variable naming the cache folder (`--cache` wins).
pub const ENV: &str = "VALVE_CACHE_DIR";
/// `--cache-max` when not given: 256 MiB.
pub const DEFAULT_MAX: u64 = 256 * 1024 * 1024;
/// `--cache-min` when not given: 64 KiB. Reading an entry costs an open,
/// a read and a checksum, about what searching a few dozen KiB costs, so a
/// smaller file is searched each time rather than looked up (measured on a
/// 20,000-file tree of 3 KiB files: a warm cache of every file was slower
/// than none).
pub const DEFAULT_MIN: u64 = 64 * 1024;
/// Matches one entry may hold, over all its triggers: a file with more is
/// not cached (it is searched each time, as without a cache).
pub const MAX_MATCHES: usize = 100_000;

const MAGIC: &[u8; 8] = b"valve\0rc";
const VERSION: u32 = 1;
/// magic, version, key, payload length, payload checksum.
const HEADER: usize = 8 + 4 + 32 + 8 + 32;
/// Largest entry read: what [`MAX_MATCHES`] ranges and per-trigger counts
/// can take, with room; anything bigger is not an entry of ours.
const MAX_ENTRY: u64 = 64 * 1024 * 1024;
/// A hit touches an entry only when its recency is older than this, so a
/// warm run does not rewrite every entry's time.
const TOUCH_AFTER: Duration = Duration::from_secs(60);
/// A temporary file left this long by a run that died is removed.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// `--cache DIR` / `--cache-max SIZE` as the command line gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub dir: PathBuf,
    pub max: u64,
    /// Contents smaller than this are not cached.
    pub min: u64,
    /// The in-memory layer (`valve watch`, see its section); `dir` empty:
    /// no folder, the memory alone.
    pub memory: Option<Memory>,
}

impl Spec {
    /// Whether the cache has a folder (else it is the memory alone).
    pub fn on_disk(&self) -> bool {
        has_folder(&self.dir)
    }
}

/// A cache's folder is empty when it is the memory alone.
fn has_folder(dir: &Path) -> bool {
    !dir.as_os_str().is_empty()
}

/// The cache as one ruleset sees it: its folder and the ruleset's hash.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    rules: [u8; 32],
    min: u64,
    memory: Option<Memory>,
    max: u64,
    /// The stat-clean shortcut's index and set of known blobs, read on
    /// first use.
    index: Arc<OnceLock<Option<crate::git::StatIndex>>>,
    clean: Arc<OnceLock<Clean>>,
}

type Key = [u8; 32];

/// Byte ranges of one trigger's matches, in order.
pub type Ranges = Vec<(usize, usize)>;

/// Per persona (`None`: it did not search the content), the ranges of each
/// of its triggers.
pub type Matches = Vec<Option<Vec<Ranges>>>;

impl Cache {
    pub fn new(spec: &Spec, rules: &Ruleset) -> Cache {
        Cache {
            dir: spec.dir.clone(),
            rules: rules_hash(rules),
            min: spec.min,
            memory: spec.memory.clone(),
            max: spec.max,
            index: Arc::default(),
            clean: Arc::default(),
        }
    }

    /// Whether a content this long is worth caching (`--cache-min`).
    pub fn takes(&self, content: &[u8]) -> bool {
        content.len() as u64 >= self.min
    }

    fn key(&self, content: &[u8]) -> Key {
        let mut h = Sha256::new();
        h.update(self.rules);
        h.update((content.len() as u64).to_le_bytes());
        h.update(content);
        h.finalize().into()
    }

    fn path(&self, key: &Key) -> PathBuf {
        let hex = hex(key);
        self.dir.join(&hex[..2]).join(&hex[2..])
    }
}

/// The hash of everything in a ruleset that decides raw matches.
fn rules_hash(rules: &Ruleset) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(MAGIC);
    field(&VERSION.to_le_bytes());
    field(env!("CARGO_PKG_VERSION").as_bytes());
    field(&rules.max_file_size.to_le_bytes());
    field(&(rules.personas.len() as u64).to_le_bytes());
    for p in &rules.personas {
        field(&[u8::from(p.scan_binary)]);
        field(&(p.triggers.len() as u64).to_le_bytes());
        for t in &p.triggers {
            field(t.pattern.as_bytes());
        }
    }
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// One document's entry while it is scanned: what was found in the cache,
/// what this run adds, and whether it must be written back.
pub struct Memo<'c> {
    /// `None`: matches known or collected without a cache entry.
    cache: Option<&'c Cache>,
    key: Key,
    /// Per persona, the ranges of each of its triggers, when known.
    personas: Matches,
    dirty: bool,
    /// Ranges this entry may still take before it is too big to keep.
    room: usize,
    overflow: bool,
    content_len: usize,
}

impl<'c> Memo<'c> {
    /// Looks `content` up; a missing or untrustworthy entry gives an empty
    /// memo (to be filled and written).
    pub fn open(cache: &'c Cache, rules: &Ruleset, content: &[u8]) -> Memo<'c> {
        let key = cache.key(content);
        let path = cache.path(&key);
        let found = cache.recall(&key, rules).or_else(|| {
            if !cache.on_disk() {
                return None;
            }
            let (payload, used) = read_entry(&path, &key)?;
            let personas = decode(&payload, &shape(rules), content.len())?;
            touch(&path, used);
            Some(personas)
        });
        let (personas, dirty) = match found {
            Some(p) => (p, false),
            // Not there or not trusted: written again once filled.
            None => (vec![None; rules.personas.len()], true),
        };
        let used: usize = personas
            .iter()
            .flatten()
            .flat_map(|ts| ts.iter().map(Vec::len))
            .sum();
        Memo {
            cache: Some(cache),
            key,
            personas,
            dirty,
            room: MAX_MATCHES.saturating_sub(used),
            overflow: false,
            content_len: content.len(),
        }
    }

    /// A memo of matches known already (a `Found`), written nowhere.
    pub fn known(personas: Matches) -> Memo<'static> {
        Memo {
            cache: None,
            key: [0; 32],
            personas,
            dirty: false,
            room: 0,
            overflow: false,
            content_len: 0,
        }
    }

    /// An empty memo that only collects what matching finds, for `ranges`.
    pub fn collecting(personas: usize) -> Memo<'static> {
        Memo {
            cache: None,
            key: [0; 32],
            personas: vec![None; personas],
            dirty: false,
            room: MAX_MATCHES,
            overflow: false,
            content_len: 0,
        }
    }

    /// Every persona's ranges as known now, unless some did not fit.
    pub fn ranges(&self) -> Option<Matches> {
        (!self.overflow).then(|| self.personas.clone())
    }

    /// Takes persona `pi`'s known ranges (give them back with `put`).
    pub fn take(&mut self, pi: usize) -> Option<Vec<Ranges>> {
        self.personas.get_mut(pi).and_then(Option::take)
    }

    /// Gives back ranges that `take` gave.
    pub fn put(&mut self, pi: usize, ranges: Vec<Ranges>) {
        if let Some(slot) = self.personas.get_mut(pi) {
            *slot = Some(ranges);
        }
    }

    /// Adds a persona's freshly found ranges.
    pub fn record(&mut self, pi: usize, ranges: Vec<Ranges>) {
        if !self.overflow {
            self.put(pi, ranges);
            self.dirty = true;
        }
    }

    /// Whether one more range fits; false from the first that does not,
    /// and the entry is then not written at all.
    pub fn room_for_one(&mut self) -> bool {
        if self.room == 0 {
            self.overflow = true;
            return false;
        }
        self.room -= 1;
        true
    }

    /// Writes the entry back when this run added to it.
    pub fn finish(self) {
        let Some(cache) = self.cache else { return };
        if !self.dirty || self.overflow {
            return;
        }
        if let Some(memory) = &cache.memory {
            memory.keep(self.key, self.personas.clone());
        }
        if !cache.on_disk() {
            return;
        }
        let payload = encode(&self.personas, self.content_len);
        let mut bytes = Vec::with_capacity(HEADER + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&self.key);
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&Sha256::digest(&payload));
        bytes.extend_from_slice(&payload);
        let _ = write_atomic(&cache.path(&self.key), &bytes);
    }
}

/// The payload of the entry at `path`, when its header and checksum are
/// right and it is the entry of `key`, with when it was last used.
fn read_entry(path: &Path, key: &Key) -> Option<(Vec<u8>, Option<SystemTime>)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_ENTRY || meta.len() < HEADER as u64 {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_ENTRY).read_to_end(&mut bytes).ok()?;
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return None;
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
    if version != VERSION || &bytes[12..44] != key {
        return None;
    }
    let len = u64::from_le_bytes(bytes[44..52].try_into().ok()?);
    let payload = &bytes[HEADER..];
    if len != payload.len() as u64 || Sha256::digest(payload)[..] != bytes[52..84] {
        return None;
    }
    Some((payload.to_vec(), meta.modified().ok()))
}

/// Marks an entry as just used (its recency for `evict`).
fn touch(path: &Path, used: Option<SystemTime>) {
    let now = SystemTime::now();
    let fresh = used
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age < TOUCH_AFTER);
    if fresh {
        return;
    }
    if let Ok(file) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
    {
        let _ = file.set_modified(now);
    }
}

fn encode(personas: &[Option<Vec<Ranges>>], content_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(content_len as u64).to_le_bytes());
    out.extend_from_slice(&(personas.len() as u32).to_le_bytes());
    for p in personas {
        match p {
            None => out.push(0),
            Some(triggers) => {
                out.push(1);
                out.extend_from_slice(&(triggers.len() as u32).to_le_bytes());
                for ranges in triggers {
                    out.extend_from_slice(&(ranges.len() as u32).to_le_bytes());
                    for &(s, e) in ranges {
                        out.extend_from_slice(&(s as u64).to_le_bytes());
                        out.extend_from_slice(&(e as u64).to_le_bytes());
                    }
                }
            }
        }
    }
    out
}

/// Triggers per persona: what an entry's payload must fit.
fn shape(rules: &Ruleset) -> Vec<usize> {
    rules.personas.iter().map(|p| p.triggers.len()).collect()
}

/// Reads a payload back, checking it fits this ruleset and content: the
/// persona and trigger counts, and ranges in order inside the content.
fn decode(bytes: &[u8], shape: &[usize], content_len: usize) -> Option<Matches> {
    let mut r = Reader { bytes, at: 0 };
    if r.u64()? != content_len as u64 || r.u32()? as usize != shape.len() {
        return None;
    }
    let mut personas = Vec::with_capacity(shape.len());
    let mut total = 0usize;
    for &count in shape {
        match r.u8()? {
            0 => personas.push(None),
            1 => {
                if r.u32()? as usize != count {
                    return None;
                }
                let mut triggers = Vec::with_capacity(count);
                for _ in 0..count {
                    let n = r.u32()? as usize;
                    total = total.checked_add(n)?;
                    if total > MAX_MATCHES {
                        return None;
                    }
                    let mut ranges = Vec::with_capacity(n);
                    let mut last_end = 0usize;
                    for _ in 0..n {
                        let s = usize::try_from(r.u64()?).ok()?;
                        let e = usize::try_from(r.u64()?).ok()?;
                        if s < last_end || e < s || e > content_len {
                            return None;
                        }
                        last_end = e;
                        ranges.push((s, e));
                    }
                    triggers.push(ranges);
                }
                personas.push(Some(triggers));
            }
            _ => return None,
        }
    }
    (r.at == bytes.len()).then_some(personas)
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
const TEMP_MARK: &str = ".valve-tmp-";

/// A temporary file in the entry's folder, renamed into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        "{TEMP_MARK}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        file.write_all(bytes)?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Keeps the cache folder at most `spec.max` bytes: least recently used
/// entries go first. Only valve's fan-out folders (two hex digits) are
/// looked into, so a mistaken `--cache` naming a folder of the user's
/// removes nothing else of it. Errors are ignored.
pub fn evict(spec: &Spec) {
    let Ok(top) = fs::read_dir(&spec.dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    let mut total = 0u64;
    for sub in top.flatten() {
        let name = sub.file_name();
        let is_fan = name.len() == 2
            && name
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
        if !is_fan || !sub.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(files) = fs::read_dir(sub.path()) else {
            continue;
        };
        for f in files.flatten() {
            let Ok(meta) = f.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let time = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if f.file_name().to_string_lossy().starts_with(TEMP_MARK) {
                // Another run may be writing it; only an old one is left over.
                if now.duration_since(time).is_ok_and(|age| age > STALE_TEMP) {
                    let _ = fs::remove_file(f.path());
                }
                continue;
            }
            total = total.saturating_add(meta.len());
            entries.push((time, meta.len(), f.path()));
        }
    }
    if total <= spec.max {
        return;
    }
    entries.sort_by_key(|e| e.0);
    for (_, len, path) in entries {
        if total <= spec.max {
            break;
        }
        if fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

// ---------------------------------------------------------------------
// The stat-clean shortcut (SPEC §12): "a tracked file whose index entry is
// stat-clean is not even read (its blob id is known)".
//
// What a run learns of a clean file's blob is one small record: the
// content's length, whether it is binary and holds a `valve:ignore`
// marker's text, and which personas (the first 64) searched it and
// matched nothing; when some trigger matched a text, or it holds a
// marker, a `Found` too (the lines of its matches and markers, and the
// matches). The records of one ruleset live together in one file,
// `DIR/ab/cdef…` like an entry (so `--cache-max` bounds it too), sorted by
// blob id and read once per run: a warm run asks the file system for one
// `lstat` per file and opens nothing. A record is written only for bytes
// that hash to the blob id (so it says what that blob holds); it is used
// only for a file that is stat-clean now, whose size is the record's, and
// that `git add` would store as it is or convert only the line endings of
// (CRLF → LF only removes bytes: a file it would change is longer than its
// blob); `ident` or `working-tree-encoding` may keep the size, so a file
// they could apply to is never answered. A binary with matches, or a
// file whose kept lines would pass `MAX_FOUND`, is read and judged as
// without a cache.
// ---------------------------------------------------------------------

const CLEAN_MAGIC: &[u8; 8] = b"valve\0cs";
const CLEAN_VERSION: u32 = 2;
/// magic, version, key, id length, record count, body checksum.
const CLEAN_HEADER: usize = 8 + 4 + 32 + 4 + 8 + 32;
/// Largest id (SHA-256).
const MAX_ID: usize = 32;
/// Largest file of records read or written (3.6 million records).
const MAX_CLEAN: u64 = 128 * 1024 * 1024;
/// Largest `Found` kept with a record: the lines of a blob's matches are
/// kept only while they are small beside the file they spare a read of.
pub const MAX_FOUND: usize = 16 * 1024;

/// What a run found in a clean blob's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub len: u64,
    /// A NUL in the first 8000 bytes.
    pub binary: bool,
    /// The text of a `valve:ignore` marker appears in it.
    pub marker: bool,
    /// Bit `i`: persona `i` searched the content and no trigger of it
    /// matched anything.
    pub silent: u64,
}

impl Record {
    /// Whether persona `pi` is known to match nothing in the content.
    pub fn silent_for(&self, pi: usize) -> bool {
        pi < 64 && self.silent & (1 << pi) != 0
    }
}

/// What judging needs of a clean blob some trigger matched, or that holds
/// a `valve:ignore` marker, so that it is judged again without being read
/// (SPEC §12): its lines that hold a match (from the line before each
/// match, which a snippet may show, to the line of its end) and every line
/// with a marker's text (markers are line by line: each is parsed, used or
/// reported where it stands), every other line left empty so line numbers
/// stay, and the matches of every persona that searched it, as ranges in
/// that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub content: Vec<u8>,
    pub personas: Matches,
}

impl Found {
    /// The lines `personas`' matches in `content` need, or `None` when they
    /// are more than `MAX_FOUND` bytes.
    pub fn of(content: &[u8], personas: &[Option<Vec<Ranges>>]) -> Option<Found> {
        // Where each line starts; line `i` (from 0) runs to the next start.
        let mut starts = vec![0usize];
        starts.extend(memchr::memchr_iter(b'\n', content).map(|i| i + 1));
        let line_of = |o: usize| starts.partition_point(|&s| s <= o) - 1;
        let mut needed: Vec<usize> = Vec::new();
        for &(s, e) in personas.iter().flatten().flatten().flatten() {
            let (first, last) = (line_of(s), line_of(e));
            needed.extend(first.saturating_sub(1)..=last);
        }
        let marker = crate::suppress::MARKER.as_bytes();
        needed.extend(memchr::memmem::find_iter(content, marker).map(line_of));
        needed.sort_unstable();
        needed.dedup();
        let mut text = Vec::new();
        // Per needed line: where it starts in `content` and in `text`.
        let mut moved: Vec<(usize, usize)> = Vec::with_capacity(needed.len());
        let mut next_line = 0usize;
        for &line in &needed {
            text.resize(text.len() + (line - next_line), b'\n');
            let from = starts[line];
            let to = starts.get(line + 1).copied().unwrap_or(content.len());
            moved.push((from, text.len()));
            text.extend_from_slice(&content[from..to]);
            next_line = line + 1;
            if text.len() > MAX_FOUND {
                return None;
            }
        }
        let shift = |o: usize| {
            let at = moved.partition_point(|&(from, _)| from <= o) - 1;
            let (from, to) = moved[at];
            o - from + to
        };
        let personas = personas
            .iter()
            .map(|p| {
                p.as_ref().map(|triggers| {
                    triggers
                        .iter()
                        .map(|r| r.iter().map(|&(s, e)| (shift(s), shift(e))).collect())
                        .collect()
                })
            })
            .collect();
        Some(Found {
            content: text,
            personas,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.content.len() + 64);
        out.extend_from_slice(&(self.content.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.content);
        out.extend_from_slice(&encode(&self.personas, self.content.len()));
        out
    }

    /// Reads a `Found` back, checking it fits `rules` (see `decode`).
    pub fn decode(bytes: &[u8], rules: &Ruleset) -> Option<Found> {
        let mut r = Reader { bytes, at: 0 };
        let len = r.u32()? as usize;
        let content = r.take(len)?.to_vec();
        let personas = decode(bytes.get(r.at..)?, &shape(rules), len)?;
        Some(Found { content, personas })
    }
}

/// The records of one ruleset: those read from the folder, sorted by id,
/// and those this run adds.
#[derive(Debug, Default)]
struct Clean {
    id_len: usize,
    path: PathBuf,
    /// Records (`id`, length, flags, silent personas, the length of what
    /// follows, a `Found` or nothing), sorted by id.
    read: Vec<u8>,
    /// Where each record of `read` starts.
    at: Vec<u32>,
    /// Where the records whose ids start with each two bytes begin, as
    /// positions in `at` (ids are hashes, so each run is a few records).
    starts: Vec<u32>,
    added: Mutex<Vec<u8>>,
}

/// Bytes of a record before its `Found`: id, length, flags, silent
/// personas, and the `Found`'s length.
fn fixed_len(id_len: usize) -> usize {
    id_len + 8 + 1 + 8 + 4
}

/// The records of `body`, each as its bytes, or `None` when one runs past
/// the end.
fn records(body: &[u8], id_len: usize) -> Option<Vec<&[u8]>> {
    let fixed = fixed_len(id_len);
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < body.len() {
        let extra = u32::from_le_bytes(body.get(at + fixed - 4..at + fixed)?.try_into().ok()?);
        let end = (at + fixed).checked_add(extra as usize)?;
        out.push(body.get(at..end)?);
        at = end;
    }
    Some(out)
}

impl Clean {
    fn load(cache: &Cache, id_len: usize) -> Clean {
        let key = cache.clean_key(id_len);
        let path = cache.path(&key);
        let mut clean = Clean {
            id_len,
            path,
            ..Clean::default()
        };
        if let Some((body, at, used)) = clean.read_file(&key) {
            clean.read = body;
            clean.at = at;
            touch(&clean.path, used);
        }
        let prefix = |i: usize| {
            let r = &clean.read[clean.at[i] as usize..];
            usize::from(r[0]) << 8 | usize::from(r[1])
        };
        let count = clean.at.len();
        let mut starts = vec![0u32; (1 << 16) + 1];
        let mut at = 0usize;
        for (p, start) in starts.iter_mut().enumerate() {
            while at < count && prefix(at) < p {
                at += 1;
            }
            *start = at as u32;
        }
        clean.starts = starts;
        clean
    }

    /// The file's sorted records when its header, key and checksum are
    /// right, with where each starts and when the file was last used.
    #[allow(clippy::type_complexity)]
    fn read_file(&self, key: &Key) -> Option<(Vec<u8>, Vec<u32>, Option<SystemTime>)> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(&self.path)
            .ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_CLEAN {
            return None;
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(meta.len()).read_to_end(&mut bytes).ok()?;
        if bytes.len() < CLEAN_HEADER || &bytes[..8] != CLEAN_MAGIC {
            return None;
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
        let id_len = u32::from_le_bytes(bytes[44..48].try_into().ok()?) as usize;
        let count = u64::from_le_bytes(bytes[48..56].try_into().ok()?);
        if version != CLEAN_VERSION || &bytes[12..44] != key || id_len != self.id_len {
            return None;
        }
        let body = &bytes[CLEAN_HEADER..];
        if Sha256::digest(body)[..] != bytes[56..88] {
            return None;
        }
        let all = records(body, id_len)?;
        let sorted = all
            .iter()
            .zip(all.iter().skip(1))
            .all(|(a, b)| a[..id_len] < b[..id_len]);
        if all.len() as u64 != count || !sorted || body.len() > u32::MAX as usize {
            return None;
        }
        let base = body.as_ptr() as usize;
        let at = all
            .iter()
            .map(|r| (r.as_ptr() as usize - base) as u32)
            .collect();
        // The body where it was read (a copy would fault in as many new
        // pages again, at the start of a warm run).
        bytes.drain(..CLEAN_HEADER);
        Some((bytes, at, meta.modified().ok()))
    }

    fn find(&self, id: &[u8]) -> Option<(Record, &[u8])> {
        if id.len() != self.id_len {
            return None;
        }
        let fixed = fixed_len(self.id_len);
        let at = |i: usize| &self.read[self.at[i] as usize..];
        let p = usize::from(id[0]) << 8 | usize::from(id[1]);
        let (Some(&lo), Some(&hi)) = (self.starts.get(p), self.starts.get(p + 1)) else {
            return None;
        };
        let (mut lo, mut hi) = (lo as usize, hi as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match at(mid)[..self.id_len].cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let r = at(mid);
                    let extra = u32::from_le_bytes(r.get(fixed - 4..fixed)?.try_into().ok()?);
                    let found = r.get(fixed..fixed + extra as usize)?;
                    return Some((decode_record(&r[self.id_len..])?, found));
                }
            }
        }
        None
    }

    fn add(&self, id: &[u8], record: Record, found: Option<&Found>) {
        if id.len() != self.id_len {
            return;
        }
        let found = found.map(Found::encode).unwrap_or_default();
        if let Ok(mut added) = self.added.lock() {
            added.extend_from_slice(id);
            added.extend_from_slice(&record.len.to_le_bytes());
            added.push(u8::from(record.binary) | u8::from(record.marker) << 1);
            added.extend_from_slice(&record.silent.to_le_bytes());
            added.extend_from_slice(&(found.len() as u32).to_le_bytes());
            added.extend_from_slice(&found);
        }
    }

    /// Writes the records back, this run's merged in, when it added any;
    /// past half of `max` bytes only this run's are kept.
    fn flush(&self, key: &Key, max: u64) {
        let Ok(mut added) = self.added.lock() else {
            return;
        };
        if added.is_empty() {
            return;
        }
        let id_len = self.id_len;
        let Some(fresh) = records(&added, id_len) else {
            return;
        };
        let keep_old = (self.read.len() + added.len()) as u64 <= max / 2;
        let mut all: Vec<&[u8]> = fresh;
        if keep_old {
            all.extend(records(&self.read, id_len).unwrap_or_default());
        }
        // This run's record of an id first, so it is the one kept.
        all.sort_by(|a, b| a[..id_len].cmp(&b[..id_len]));
        all.dedup_by(|later, first| later[..id_len] == first[..id_len]);
        let body: Vec<u8> = all.concat();
        if (body.len() + CLEAN_HEADER) as u64 > (max / 2).min(MAX_CLEAN) {
            added.clear();
            return;
        }
        let mut bytes = Vec::with_capacity(CLEAN_HEADER + body.len());
        bytes.extend_from_slice(CLEAN_MAGIC);
        bytes.extend_from_slice(&CLEAN_VERSION.to_le_bytes());
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(&(id_len as u32).to_le_bytes());
        bytes.extend_from_slice(&(all.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&Sha256::digest(&body));
        bytes.extend_from_slice(&body);
        let _ = write_atomic(&self.path, &bytes);
        added.clear();
    }
}

fn decode_record(bytes: &[u8]) -> Option<Record> {
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let flags = *bytes.get(8)?;
    let silent = u64::from_le_bytes(bytes.get(9..17)?.try_into().ok()?);
    if flags > 3 {
        return None;
    }
    Some(Record {
        len,
        binary: flags & 1 != 0,
        marker: flags & 2 != 0,
        silent,
    })
}

impl Cache {
    /// The index the stat-clean shortcut compares files with, read once
    /// per run by `read` (`None`: no shortcut this run).
    pub fn stat_index(
        &self,
        read: impl FnOnce() -> Option<crate::git::StatIndex>,
    ) -> Option<&crate::git::StatIndex> {
        // The records live in the cache folder: a cache in memory alone
        // (watch's) has no shortcut, and never writes a file.
        if !self.on_disk() {
            return None;
        }
        self.index.get_or_init(read).as_ref()
    }

    fn clean_set(&self, id_len: usize) -> &Clean {
        self.clean.get_or_init(|| Clean::load(self, id_len))
    }

    /// What an earlier run found in the clean blob `id`, with its `Found`
    /// as stored (empty: none).
    pub fn clean_record(&self, id: &[u8]) -> Option<(Record, &[u8])> {
        if !(2..=MAX_ID).contains(&id.len()) {
            return None;
        }
        self.clean_set(id.len()).find(id)
    }

    /// Keeps what this run found in the clean blob `id` (whose bytes were
    /// checked to be the blob's), for `flush`.
    pub fn add_clean(&self, id: &[u8], record: Record, found: Option<&Found>) {
        if (2..=MAX_ID).contains(&id.len()) {
            self.clean_set(id.len()).add(id, record, found);
        }
    }

    /// Writes this run's clean records (at the end of the judging).
    pub fn flush(&self) {
        if !self.on_disk() {
            return;
        }
        if let Some(clean) = self.clean.get() {
            clean.flush(&self.clean_key(clean.id_len), self.max);
        }
    }

    /// The key of the records file: the ruleset's, for ids of one length.
    fn clean_key(&self, id_len: usize) -> Key {
        let mut h = Sha256::new();
        h.update(self.rules);
        h.update(b"stat-clean records");
        h.update((id_len as u64).to_le_bytes());
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Matches {
        vec![None, Some(vec![vec![(0, 3), (5, 9)], vec![]])]
    }

    #[test]
    fn a_payload_round_trips() {
        let bytes = encode(&sample(), 10);
        assert_eq!(decode(&bytes, &[1, 2], 10), Some(sample()));
    }

    #[test]
    fn a_payload_of_another_shape_or_content_is_refused() {
        let bytes = encode(&sample(), 10);
        assert_eq!(decode(&bytes, &[1, 3], 10), None);
        assert_eq!(decode(&bytes, &[1, 2, 1], 10), None);
        // Ranges past the content's end are never used.
        assert_eq!(decode(&bytes, &[1, 2], 8), None);
        assert_eq!(decode(&bytes[..bytes.len() - 1], &[1, 2], 10), None);
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode(&extra, &[1, 2], 10), None);
    }

    #[test]
    fn ranges_out_of_order_are_refused() {
        let bytes = encode(&[Some(vec![vec![(5, 9), (0, 3)]])], 10);
        assert_eq!(decode(&bytes, &[1], 10), None);
        let bytes = encode(&[Some(vec![vec![(4, 2)]])], 10);
        assert_eq!(decode(&bytes, &[1], 10), None);
    }

    #[test]
    fn an_entry_is_read_back_only_with_its_key_and_checksum() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let cache = Cache {
            dir: dir.path().to_path_buf(),
            rules: [7; 32],
            min: 0,
            memory: None,
            max: DEFAULT_MAX,
            index: Arc::default(),
            clean: Arc::default(),
        };
        let key = cache.key(b"content");
        let memo = Memo {
            cache: Some(&cache),
            key,
            personas: sample(),
            dirty: true,
            room: MAX_MATCHES,
            overflow: false,
            content_len: 10,
        };
        memo.finish();
        let path = cache.path(&key);
        let payload = read_entry(&path, &key).map(|(p, _)| p);
        assert_eq!(payload.as_deref(), Some(&encode(&sample(), 10)[..]));
        assert_eq!(read_entry(&path, &cache.key(b"other")), None);
        let mut bytes = fs::read(&path).unwrap_or_default();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).ok();
        assert_eq!(read_entry(&path, &key), None);
    }

    #[test]
    fn clean_records_are_found_again_by_id_and_only_by_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let spec = Spec {
            dir: dir.path().to_path_buf(),
            max: DEFAULT_MAX,
            min: 0,
            memory: None,
        };
        let cache = |rules: [u8; 32]| Cache {
            dir: spec.dir.clone(),
            rules,
            min: 0,
            memory: None,
            max: spec.max,
            index: Arc::default(),
            clean: Arc::default(),
        };
        let record = |len: u64, silent: u64| Record {
            len,
            binary: len % 2 == 1,
            marker: len == 4,
            silent,
        };
        // Ids that share their first two bytes, and one that sorts first.
        let ids: [[u8; 20]; 4] = [
            [9; 20],
            [0; 20],
            [9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            [255; 20],
        ];
        let found = Found {
            content: b"\nab\n".to_vec(),
            personas: vec![None, Some(vec![vec![(1, 3)]])],
        };
        let first = cache([1; 32]);
        for (i, id) in ids.iter().enumerate() {
            let with = (i == 1).then_some(&found);
            first.add_clean(id, record(i as u64 + 2, 1 << i), with);
        }
        first.flush();
        let again = cache([1; 32]);
        for (i, id) in ids.iter().enumerate() {
            let (r, body) = again.clean_record(id).expect("found again");
            assert_eq!(r, record(i as u64 + 2, 1 << i));
            assert_eq!(body.is_empty(), i != 1);
        }
        let (_, body) = again.clean_record(&ids[1]).expect("found again");
        assert_eq!(body, found.encode());
        assert_eq!(again.clean_record(&[9; 19]), None, "another length");
        assert_eq!(again.clean_record(&[8; 20]), None);
        assert_eq!(
            cache([2; 32]).clean_record(&ids[0]),
            None,
            "another ruleset"
        );
        assert!(
            again
                .clean_record(&ids[3])
                .is_some_and(|(r, _)| r.silent_for(3) && !r.silent_for(2))
        );
    }

    /// Every match keeps its line, column and text in a `Found`'s partial
    /// text, and the line before it (a snippet's) is kept too.
    #[test]
    fn a_found_keeps_each_match_where_it_was() {
        let content = "zero\none\ntwo hit!(x)\nthree\nfour\r\nfive é hit!(y) hit!(z)\r\nsix\nseven BEGIN\neight END\nnine\nten\nlast hit!".as_bytes();
        let find = |needle: &str| -> Ranges {
            memchr::memmem::find_iter(content, needle.as_bytes())
                .map(|s| (s, s + needle.len()))
                .collect()
        };
        let span = {
            let s = memchr::memmem::find(content, b"BEGIN").expect("BEGIN");
            let e = memchr::memmem::find(content, b"END").expect("END") + 3;
            vec![(s, e)]
        };
        let personas = vec![
            Some(vec![find("hit!("), find("hit!")]),
            None,
            Some(vec![span, Vec::new()]),
            // A match that ends at the end of the text.
            Some(vec![vec![(content.len() - 4, content.len())]]),
        ];
        let found = Found::of(content, &personas).expect("small");
        let old = crate::scan::LineIndex::new(content, false);
        let new = crate::scan::LineIndex::new(&found.content, false);
        for (p, q) in personas.iter().zip(&found.personas) {
            let (Some(p), Some(q)) = (p, q) else {
                assert_eq!(p.is_none(), q.is_none());
                continue;
            };
            for (a, b) in p.iter().flatten().zip(q.iter().flatten()) {
                for (x, y) in [(a.0, b.0), (a.1, b.1)] {
                    assert_eq!(old.position(content, x), new.position(&found.content, y));
                }
                assert_eq!(content[a.0..a.1], found.content[b.0..b.1]);
            }
        }
        // Lines without a match, and not before one, are emptied.
        let text = String::from_utf8_lossy(&found.content);
        assert!(
            text.starts_with("\none\ntwo hit!(x)\n\nfour\r\nfive"),
            "{text:?}"
        );
        assert!(text.ends_with("eight END\n\nten\nlast hit!"), "{text:?}");
        assert!(Found::decode(&found.encode(), &four_personas()).is_some_and(|f| f == found));
        // Too many bytes of lines to keep: none.
        let long = "x".repeat(MAX_FOUND) + " hit!(";
        let ranges = vec![Some(vec![vec![(long.len() - 5, long.len())]])];
        assert!(Found::of(long.as_bytes(), &ranges).is_none());
    }

    /// A ruleset whose personas have 2, 1, 2 and 1 triggers.
    fn four_personas() -> Ruleset {
        let text = "personas:\n  A:\n    triggers: [a, b]\n  B:\n    triggers: [c]\n  C:\n    triggers: [d, e]\n  D:\n    triggers: [f]\n";
        let source = crate::config::Source {
            name: "valve.yml".into(),
            text: text.into(),
        };
        Ruleset::from_source(&source).unwrap_or_else(|e| panic!("config should compile: {e:?}"))
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}

// ---------------------------------------------------------------------------
// In memory (`valve watch`)
//
// SPEC §12: "`valve watch` keeps the same cache in memory". The same keys
// (ruleset hash, content length, content) and the same values (per
// persona, the ranges of each trigger, before scope, suppression and
// baseline) as the folder, held for the life of the watch: re-saving a
// file whose content returns to a known state, or re-judging the whole
// change set, skips matching. A reload gives a new ruleset hash, so
// entries of the old personas are never answered to the new ones (they
// age out). Bounded by bytes, least recently used first. With a folder as
// well, the memory is asked first and both are written; an entry found in
// the folder alone is not copied into memory.
// ---------------------------------------------------------------------------

/// `valve watch`'s bound on the memory cache: 64 MiB.
pub const MEMORY_MAX: u64 = 64 * 1024 * 1024;

/// What an entry is counted as beyond its ranges: the key, the map slot,
/// the recency node, the vectors' headers (an estimate, erring high).
const MEMORY_ENTRY: u64 = 160;

/// Per persona, the ranges of each trigger (`None`: not searched yet).
type Entry = Matches;

/// An in-memory result cache, shared by every clone (and thread) of it.
#[derive(Clone)]
pub struct Memory {
    lru: Arc<Mutex<Lru>>,
}

struct Lru {
    max: u64,
    bytes: u64,
    /// Recency stamps: the next one to give.
    clock: u64,
    entries: HashMap<Key, Slot>,
    /// Stamp → key, oldest first.
    order: BTreeMap<u64, Key>,
}

struct Slot {
    entry: Entry,
    size: u64,
    used: u64,
}

impl Memory {
    /// An empty cache holding at most about `max` bytes.
    pub fn new(max: u64) -> Memory {
        Memory {
            lru: Arc::new(Mutex::new(Lru {
                max,
                bytes: 0,
                clock: 0,
                entries: HashMap::new(),
                order: BTreeMap::new(),
            })),
        }
    }

    /// A cache spec of this memory alone: no folder, every size taken
    /// (a lookup costs a hash of the content, no I/O).
    pub fn spec(&self) -> Spec {
        Spec {
            dir: PathBuf::new(),
            max: 0,
            min: 0,
            memory: Some(self.clone()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lru> {
        // A panic elsewhere cannot leave an entry half written: every
        // change below is whole before the guard drops.
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry of `key`, marked as just used.
    fn get(&self, key: &Key) -> Option<Entry> {
        let mut lru = self.lock();
        let stamp = lru.tick();
        let Lru { entries, order, .. } = &mut *lru;
        let slot = entries.get_mut(key)?;
        order.remove(&slot.used);
        order.insert(stamp, *key);
        slot.used = stamp;
        Some(slot.entry.clone())
    }

    /// Keeps `entry` as the entry of `key`, then drops the least recently
    /// used entries until the bound holds. An entry bigger than the whole
    /// bound is not kept.
    fn keep(&self, key: Key, entry: Entry) {
        let size = entry_size(&entry);
        let mut lru = self.lock();
        lru.remove(&key);
        if size > lru.max {
            return;
        }
        let used = lru.tick();
        lru.order.insert(used, key);
        lru.entries.insert(key, Slot { entry, size, used });
        lru.bytes += size;
        while lru.bytes > lru.max {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            if let Some(slot) = lru.entries.remove(&oldest) {
                lru.bytes -= slot.size;
            }
        }
    }

    /// Entries held and the bytes they are counted as.
    pub fn usage(&self) -> (usize, u64) {
        let lru = self.lock();
        (lru.entries.len(), lru.bytes)
    }
}

impl Lru {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn remove(&mut self, key: &Key) {
        if let Some(slot) = self.entries.remove(key) {
            self.order.remove(&slot.used);
            self.bytes -= slot.size;
        }
    }
}

/// What an entry is counted as: [`MEMORY_ENTRY`], plus 24 bytes a persona
/// and a trigger, plus 16 a range.
fn entry_size(entry: &Entry) -> u64 {
    let ranges: usize = entry
        .iter()
        .flatten()
        .map(|triggers| 24 + triggers.iter().map(|r| 24 + 16 * r.len()).sum::<usize>())
        .sum();
    MEMORY_ENTRY + 24 * entry.len() as u64 + ranges as u64
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (entries, bytes) = self.usage();
        f.debug_struct("Memory")
            .field("entries", &entries)
            .field("bytes", &bytes)
            .finish()
    }
}

/// Two handles are equal when they share one cache.
impl PartialEq for Memory {
    fn eq(&self, other: &Memory) -> bool {
        Arc::ptr_eq(&self.lru, &other.lru)
    }
}

impl Eq for Memory {}

impl Cache {
    /// Whether the cache has a folder (see `Spec::on_disk`).
    fn on_disk(&self) -> bool {
        has_folder(&self.dir)
    }

    /// The memory's entry of `key`, when it fits this ruleset's shape (it
    /// always does: the key holds the ruleset hash; checked all the same).
    fn recall(&self, key: &Key, rules: &Ruleset) -> Option<Entry> {
        let entry = self.memory.as_ref()?.get(key)?;
        let fits = entry.len() == rules.personas.len()
            && entry
                .iter()
                .zip(&rules.personas)
                .all(|(e, p)| e.as_ref().is_none_or(|t| t.len() == p.triggers.len()));
        fits.then_some(entry)
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    fn entry(ranges: usize) -> Entry {
        vec![Some(vec![(0..ranges).map(|i| (i, i + 1)).collect()])]
    }

    #[test]
    fn an_entry_is_kept_and_given_back() {
        let memory = Memory::new(MEMORY_MAX);
        memory.keep([1; 32], entry(2));
        assert_eq!(memory.get(&[1; 32]), Some(entry(2)));
        assert_eq!(memory.get(&[2; 32]), None);
        // Kept again under the same key: replaced, counted once.
        memory.keep([1; 32], entry(3));
        assert_eq!(memory.get(&[1; 32]), Some(entry(3)));
        assert_eq!(memory.usage(), (1, entry_size(&entry(3))));
    }

    #[test]
    fn the_least_recently_used_entries_go_first_and_the_bound_holds() {
        let one = entry_size(&entry(0));
        let memory = Memory::new(3 * one);
        for k in 1..=3u8 {
            memory.keep([k; 32], entry(0));
        }
        // 1 is used again: 2 is now the oldest.
        assert!(memory.get(&[1; 32]).is_some());
        memory.keep([4; 32], entry(0));
        assert_eq!(memory.usage(), (3, 3 * one));
        assert!(memory.get(&[2; 32]).is_none());
        for k in [1u8, 3, 4] {
            assert!(memory.get(&[k; 32]).is_some(), "{k}");
        }
        // An entry bigger than the bound is not kept, and evicts nothing.
        memory.keep([5; 32], entry(1000));
        assert!(memory.get(&[5; 32]).is_none());
        assert_eq!(memory.usage(), (3, 3 * one));
    }

    #[test]
    fn entry_sizes_count_personas_triggers_and_ranges() {
        assert_eq!(entry_size(&vec![None, None]), MEMORY_ENTRY + 48);
        assert_eq!(entry_size(&entry(0)), MEMORY_ENTRY + 24 + 24 + 24);
        assert_eq!(entry_size(&entry(10)), entry_size(&entry(0)) + 160);
    }

    fn compiled(text: &str) -> Ruleset {
        let source = crate::config::Source {
            name: "valve.yml".into(),
            text: text.into(),
        };
        Ruleset::from_source(&source).unwrap_or_else(|e| panic!("config should compile: {e:?}"))
    }

    const ONE: &str = "personas:\n  P:\n    triggers: ['a', 'b']\n";

    #[test]
    fn a_memo_is_filled_into_memory_and_answered_from_it_without_a_folder() {
        let rules = compiled(ONE);
        let memory = Memory::new(MEMORY_MAX);
        let cache = Cache::new(&memory.spec(), &rules);
        let mut memo = Memo::open(&cache, &rules, b"a b a");
        assert_eq!(memo.take(0), None, "a cold memory knows nothing");
        memo.record(0, vec![vec![(0, 1), (4, 5)], vec![(2, 3)]]);
        memo.finish();
        assert_eq!(memory.usage().0, 1);
        let mut memo = Memo::open(&cache, &rules, b"a b a");
        assert_eq!(memo.take(0), Some(vec![vec![(0, 1), (4, 5)], vec![(2, 3)]]));
        // Another content, or the same under other triggers, is not answered.
        assert_eq!(Memo::open(&cache, &rules, b"a b b").take(0), None);
        let other = compiled("personas:\n  P:\n    triggers: ['a', 'c']\n");
        let cache = Cache::new(&memory.spec(), &other);
        assert_eq!(Memo::open(&cache, &other, b"a b a").take(0), None);
    }

    #[test]
    fn a_memory_alone_reads_and_writes_no_file() {
        let rules = compiled(ONE);
        let memory = Memory::new(MEMORY_MAX);
        let cache = Cache::new(&memory.spec(), &rules);
        let content = b"a memory-only entry";
        let mut memo = Memo::open(&cache, &rules, content);
        memo.record(0, vec![vec![(0, 1)], vec![]]);
        memo.finish();
        // With no folder an entry's path is relative: nothing may be
        // written there (the working directory, here the crate's root).
        let path = cache.path(&cache.key(content));
        assert!(path.is_relative());
        assert!(!path.exists() && path.parent().is_some_and(|p| !p.exists()));
        assert_eq!(memory.usage().0, 1);
    }
}
