//! Which deleted file became which added file, decided the way `git diff -M`
//! decides it (git's diffcore-rename with its defaults), so valve's renames
//! are git's renames.
//!
//! Pure: paths, content ids and kinds come in, pairs go out. Sizes and bytes
//! are asked for through [`Contents`] only when git's rules need them (a
//! change made only of exact renames reads nothing), and a failure to read
//! is returned, never taken for empty content. No gix type, no I/O.
//!
//! git's rules, in the order git applies them (written from git's
//! documentation and observed behaviour of git 2.47):
//!
//! 1. **Exact renames.** Each destination, in path order, takes an unused
//!    source with the same content id. Among several, the first (in path
//!    order) with the same file name wins, else the first; at most 100
//!    candidates are looked at. Regular files pair with regular files
//!    whatever their executable bit; anything else only with its own kind.
//! 2. **Same file name.** A source whose file name is unique among the
//!    sources left, and a destination whose file name is unique among the
//!    destinations left, pair when they are at least 75% similar (halfway
//!    between the 50% threshold and identical).
//! 3. **Rename limit.** When the sources left times the destinations left
//!    exceed 1000², git skips the rest (and warns); what steps 1 and 2
//!    found stays.
//! 4. **Inexact renames.** Every destination keeps its four best sources
//!    (git's bounded candidate list, with git's replacement order); all
//!    candidates are sorted by score, then same file name first, ties in
//!    destination then slot order; each pair at or above 50% is taken when
//!    neither side is taken yet.
//!
//! Similarity is git's estimate, not a line diff: content is cut into
//! chunks that end at a newline or after 64 bytes (the CR of a CRLF is
//! skipped unless the file is binary; an unterminated tail is a chunk of
//! its own), chunks are counted by hash, and the score is the bytes the
//! destination shares with the source over the larger of the two sizes.
//! Pairs whose sizes differ too much for the threshold are never read.
//! Only regular files are compared inexactly: a symlink is renamed only
//! when its target is unchanged.

use std::collections::HashMap;
use std::hash::Hash;

use rayon::prelude::*;

/// git's scale for similarity: identical is `MAX_SCORE`.
pub const MAX_SCORE: u32 = 60_000;
/// `-M`'s default threshold: 50%.
pub const MIN_SCORE: u32 = MAX_SCORE / 2;
/// The threshold of the same-file-name step: halfway from `MIN_SCORE` to
/// identical (git's default basename factor, 0.5).
const BASENAME_MIN_SCORE: u32 = MIN_SCORE + (MAX_SCORE - MIN_SCORE) / 2;
/// `diff.renameLimit`'s default: inexact detection runs while sources ×
/// destinations stays within its square.
pub const RENAME_LIMIT: u64 = 1000;
/// Identical sources looked at for one destination before taking one.
const EXACT_CANDIDATES: usize = 100;
/// Best sources remembered per destination in the inexact step.
const CANDIDATES_PER_DESTINATION: usize = 4;
/// Longest chunk of the similarity estimate.
const CHUNK_MAX: usize = 64;
/// Chunk hashes are reduced modulo this prime.
const HASH_BASE: u32 = 107_927;
/// A NUL within the first this-many bytes makes content binary.
const BINARY_PROBE: usize = 8000;
/// Below this many comparisons the matrix is computed on one thread.
const PARALLEL_FROM: usize = 16_384;

/// What a path holds, as far as pairing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file, executable or not: paired exactly or by similarity.
    Regular,
    /// A symlink: paired only with a symlink of the same target.
    Symlink,
    /// Anything else git tracks (a gitlink): paired only when exact and of
    /// the same kind.
    Other,
}

/// One deleted (source) or added (destination) path.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a, Id> {
    /// The path, `/`-separated, as git stores it.
    pub path: &'a [u8],
    /// Equal ids mean identical content (git's object id).
    pub id: Id,
    pub kind: Kind,
}

/// Which list an index given to [`Contents`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

/// Reads what the estimate needs, on demand; each entry is asked at most
/// once for its size and once for its bytes.
pub trait Contents {
    type Error;
    /// The size in bytes of the content git would compare (the blob).
    fn size(&mut self, side: Side, index: usize) -> Result<u64, Self::Error>;
    /// The content itself.
    fn bytes(&mut self, side: Side, index: usize) -> Result<Vec<u8>, Self::Error>;
}

/// `source` was renamed to `destination`; `score` is out of [`MAX_SCORE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub source: usize,
    pub destination: usize,
    pub score: u32,
}

/// The renames found, in destination path order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pairing {
    pub pairs: Vec<Pair>,
    /// The rename limit stopped inexact detection (git warns then).
    pub inexact_skipped: bool,
}

/// Pairs `sources` (deleted) with `destinations` (added) as `git diff -M`
/// does. Indices in the result refer to the two slices.
pub fn pair<Id, C>(
    sources: &[Entry<'_, Id>],
    destinations: &[Entry<'_, Id>],
    contents: &mut C,
) -> Result<Pairing, C::Error>
where
    Id: Eq + Hash + Sync,
    C: Contents,
{
    let mut run = Run {
        sources,
        destinations,
        contents,
        sizes: [vec![None; sources.len()], vec![None; destinations.len()]],
        signatures: [vec![None; sources.len()], vec![None; destinations.len()]],
        source_used: vec![false; sources.len()],
        destination_done: vec![false; destinations.len()],
        pairs: Vec::new(),
    };
    let mut pairing = Pairing::default();
    if sources.is_empty() || destinations.is_empty() {
        return Ok(pairing);
    }
    let source_order = path_order(sources);
    let destination_order = path_order(destinations);

    run.exact(&source_order, &destination_order);
    run.same_file_name(&source_order, &destination_order)?;

    let left_sources: Vec<usize> = source_order
        .iter()
        .copied()
        .filter(|&s| !run.source_used[s])
        .collect();
    let left_destinations: Vec<usize> = destination_order
        .iter()
        .copied()
        .filter(|&d| !run.destination_done[d])
        .collect();
    if !left_sources.is_empty() && !left_destinations.is_empty() {
        let matrix = left_sources.len() as u64 * left_destinations.len() as u64;
        if matrix > RENAME_LIMIT * RENAME_LIMIT {
            pairing.inexact_skipped = true;
        } else {
            run.inexact(&left_sources, &left_destinations)?;
        }
    }

    let rank: HashMap<usize, usize> = destination_order
        .iter()
        .enumerate()
        .map(|(rank, &d)| (d, rank))
        .collect();
    run.pairs.sort_by_key(|p| rank[&p.destination]);
    pairing.pairs = run.pairs;
    Ok(pairing)
}

/// Indices of `entries` sorted by path bytes (git's diff queue order).
fn path_order<Id>(entries: &[Entry<'_, Id>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| entries[a].path.cmp(entries[b].path));
    order
}

/// The part of a path after its last `/`.
fn file_name(path: &[u8]) -> &[u8] {
    match memchr::memrchr(b'/', path) {
        Some(slash) => &path[slash + 1..],
        None => path,
    }
}

/// Identical content may be a rename unless a non-regular kind differs.
fn kinds_pair(a: Kind, b: Kind) -> bool {
    (a == Kind::Regular && b == Kind::Regular) || a == b
}

struct Run<'r, 'a, Id, C> {
    sources: &'r [Entry<'a, Id>],
    destinations: &'r [Entry<'a, Id>],
    contents: &'r mut C,
    sizes: [Vec<Option<u64>>; 2],
    signatures: [Vec<Option<Signature>>; 2],
    source_used: Vec<bool>,
    destination_done: Vec<bool>,
    pairs: Vec<Pair>,
}

impl<Id: Eq + Hash + Sync, C: Contents> Run<'_, '_, Id, C> {
    fn record(&mut self, source: usize, destination: usize, score: u32) {
        self.source_used[source] = true;
        self.destination_done[destination] = true;
        self.pairs.push(Pair {
            source,
            destination,
            score,
        });
    }

    fn exact(&mut self, source_order: &[usize], destination_order: &[usize]) {
        let mut by_id: HashMap<&Id, Vec<usize>> = HashMap::new();
        for &s in source_order {
            by_id.entry(&self.sources[s].id).or_default().push(s);
        }
        for &d in destination_order {
            let target = &self.destinations[d];
            let Some(candidates) = by_id.get(&target.id) else {
                continue;
            };
            let mut best: Option<usize> = None;
            let mut looked = 0;
            for &s in candidates {
                let source = &self.sources[s];
                if self.source_used[s] || !kinds_pair(source.kind, target.kind) {
                    continue;
                }
                if file_name(source.path) == file_name(target.path) {
                    best = Some(s);
                    break;
                }
                best.get_or_insert(s);
                looked += 1;
                if looked == EXACT_CANDIDATES {
                    break;
                }
            }
            if let Some(s) = best {
                self.record(s, d, MAX_SCORE);
            }
        }
    }

    fn same_file_name(
        &mut self,
        source_order: &[usize],
        destination_order: &[usize],
    ) -> Result<(), C::Error> {
        // `None`: the file name occurs more than once on that side.
        let mut sources: HashMap<&[u8], Option<usize>> = HashMap::new();
        for &s in source_order.iter().filter(|&&s| !self.source_used[s]) {
            let name = file_name(self.sources[s].path);
            sources
                .entry(name)
                .and_modify(|e| *e = None)
                .or_insert(Some(s));
        }
        let mut destinations: HashMap<&[u8], Option<usize>> = HashMap::new();
        for &d in destination_order
            .iter()
            .filter(|&&d| !self.destination_done[d])
        {
            let name = file_name(self.destinations[d].path);
            destinations
                .entry(name)
                .and_modify(|e| *e = None)
                .or_insert(Some(d));
        }
        for &s in source_order {
            if self.source_used[s] {
                continue;
            }
            let name = file_name(self.sources[s].path);
            let (Some(Some(_)), Some(&Some(d))) = (sources.get(name), destinations.get(name))
            else {
                continue;
            };
            let score = self.estimate(s, d, BASENAME_MIN_SCORE)?;
            if score >= BASENAME_MIN_SCORE {
                self.record(s, d, score);
            }
        }
        Ok(())
    }

    fn size(&mut self, side: Side, index: usize) -> Result<u64, C::Error> {
        if let Some(size) = self.sizes[side as usize][index] {
            return Ok(size);
        }
        let size = self.contents.size(side, index)?;
        self.sizes[side as usize][index] = Some(size);
        Ok(size)
    }

    fn load_signature(&mut self, side: Side, index: usize) -> Result<(), C::Error> {
        if self.signatures[side as usize][index].is_none() {
            let bytes = self.contents.bytes(side, index)?;
            self.signatures[side as usize][index] = Some(Signature::of(&bytes));
        }
        Ok(())
    }

    /// git's similarity of one pair at threshold `minimum`, reading what it needs.
    fn estimate(&mut self, s: usize, d: usize, minimum: u32) -> Result<u32, C::Error> {
        if self.sources[s].kind != Kind::Regular || self.destinations[d].kind != Kind::Regular {
            return Ok(0);
        }
        let (a, b) = (
            self.size(Side::Source, s)?,
            self.size(Side::Destination, d)?,
        );
        if !sizes_allow(a, b, minimum) {
            return Ok(0);
        }
        self.load_signature(Side::Source, s)?;
        self.load_signature(Side::Destination, d)?;
        let (Some(src), Some(dst)) = (
            &self.signatures[Side::Source as usize][s],
            &self.signatures[Side::Destination as usize][d],
        ) else {
            return Ok(0);
        };
        Ok(score(src, dst, a, b))
    }

    fn inexact(&mut self, sources: &[usize], destinations: &[usize]) -> Result<(), C::Error> {
        // Sizes, then the content of every file some pair needs, are read
        // first (each once); the comparisons then run without I/O.
        let regular_sources: Vec<usize> = sources
            .iter()
            .copied()
            .filter(|&s| self.sources[s].kind == Kind::Regular)
            .collect();
        let regular_destinations: Vec<usize> = destinations
            .iter()
            .copied()
            .filter(|&d| self.destinations[d].kind == Kind::Regular)
            .collect();
        if regular_sources.is_empty() || regular_destinations.is_empty() {
            return Ok(());
        }
        for &d in &regular_destinations {
            self.size(Side::Destination, d)?;
        }
        for &s in &regular_sources {
            self.size(Side::Source, s)?;
        }
        let size_of = |side: Side, i: usize, sizes: &[Vec<Option<u64>>; 2]| {
            sizes[side as usize][i].unwrap_or(0)
        };
        let mut source_needed = vec![false; self.sources.len()];
        for &d in &regular_destinations {
            let b = size_of(Side::Destination, d, &self.sizes);
            let mut needed = false;
            for &s in &regular_sources {
                if sizes_allow(size_of(Side::Source, s, &self.sizes), b, MIN_SCORE) {
                    source_needed[s] = true;
                    needed = true;
                }
            }
            if needed {
                self.load_signature(Side::Destination, d)?;
            }
        }
        for &s in &regular_sources {
            if source_needed[s] {
                self.load_signature(Side::Source, s)?;
            }
        }

        let table = Table {
            sources: self.sources,
            destinations: self.destinations,
            sizes: &self.sizes,
            signatures: &self.signatures,
        };
        let rows = table.rows(sources, destinations);
        let mut candidates: Vec<Slot> = rows.into_iter().flatten().collect();
        // Stable: equal candidates keep destination order, then slot order.
        candidates.sort_by_key(Slot::rank);
        for c in candidates {
            let Some(s) = c.source else { break };
            if c.score < MIN_SCORE {
                break;
            }
            if self.destination_done[c.destination] || self.source_used[s] {
                continue;
            }
            self.record(s, c.destination, c.score);
        }
        Ok(())
    }
}

/// What the comparisons read, shareable across threads.
struct Table<'t, 'a, Id> {
    sources: &'t [Entry<'a, Id>],
    destinations: &'t [Entry<'a, Id>],
    sizes: &'t [Vec<Option<u64>>; 2],
    signatures: &'t [Vec<Option<Signature>>; 2],
}

/// One source or destination as the matrix sees it.
struct Column<'t> {
    index: usize,
    /// Size and signature, for a regular file that some pair compares.
    regular: Option<(u64, &'t Signature)>,
    /// Equal numbers for equal file names.
    name: u32,
}

impl<'a, Id: Sync> Table<'_, 'a, Id> {
    /// Every destination's best candidates among `sources` (both in path
    /// order), one row of [`CANDIDATES_PER_DESTINATION`] per destination.
    fn rows(
        &self,
        sources: &[usize],
        destinations: &[usize],
    ) -> Vec<[Slot; CANDIDATES_PER_DESTINATION]> {
        let mut names: HashMap<&[u8], u32> = HashMap::new();
        let mut name_of = |path: &'a [u8]| -> u32 {
            let next = names.len() as u32;
            *names.entry(file_name(path)).or_insert(next)
        };
        let regular = |side: Side, i: usize, kind: Kind| -> Option<(u64, &Signature)> {
            let size = self.sizes[side as usize][i]?;
            let signature = self.signatures[side as usize][i].as_ref()?;
            (kind == Kind::Regular).then_some((size, signature))
        };
        let columns: Vec<Column<'_>> = sources
            .iter()
            .map(|&s| Column {
                index: s,
                regular: regular(Side::Source, s, self.sources[s].kind),
                name: name_of(self.sources[s].path),
            })
            .collect();
        let targets: Vec<Column<'_>> = destinations
            .iter()
            .map(|&d| Column {
                index: d,
                regular: regular(Side::Destination, d, self.destinations[d].kind),
                name: name_of(self.destinations[d].path),
            })
            .collect();
        let row = |scratch: &mut Scratch, target: &Column<'_>| row(scratch, target, &columns);
        if sources.len() * destinations.len() >= PARALLEL_FROM {
            targets.par_iter().map_init(Scratch::new, row).collect()
        } else {
            let mut scratch = Scratch::new();
            targets.iter().map(|t| row(&mut scratch, t)).collect()
        }
    }
}

/// One destination's best candidates among `columns` (the sources), as
/// git keeps them.
fn row(
    scratch: &mut Scratch,
    target: &Column<'_>,
    columns: &[Column<'_>],
) -> [Slot; CANDIDATES_PER_DESTINATION] {
    let mut slots = [Slot::EMPTY; CANDIDATES_PER_DESTINATION];
    if let Some((_, signature)) = target.regular {
        scratch.load(signature);
    }
    for column in columns {
        // Below the threshold a score still decides which slot a better
        // candidate replaces (and so ties later): compute them all.
        let score = match (column.regular, target.regular) {
            (Some((a, src)), Some((b, _))) if sizes_allow(a, b, MIN_SCORE) => {
                scale(scratch.common(src), a.max(b), b)
            }
            _ => 0,
        };
        let candidate = Slot {
            source: Some(column.index),
            destination: target.index,
            score,
            same_name: column.name == target.name,
        };
        remember_if_better(&mut slots, candidate);
    }
    if let Some((_, signature)) = target.regular {
        scratch.clear(signature);
    }
    slots
}

/// One destination's chunk counts, spread over a dense table so that each
/// source's chunks are looked up directly (a bit per hash says which exist).
struct Scratch {
    present: Vec<u64>,
    bytes: Vec<u32>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            present: vec![0; (HASH_BASE as usize).div_ceil(64)],
            bytes: vec![0; HASH_BASE as usize],
        }
    }

    fn load(&mut self, signature: &Signature) {
        for (&hash, &bytes) in signature.hashes.iter().zip(&signature.bytes) {
            self.present[hash as usize / 64] |= 1 << (hash % 64);
            self.bytes[hash as usize] = bytes;
        }
    }

    fn clear(&mut self, signature: &Signature) {
        for &hash in &signature.hashes {
            self.present[hash as usize / 64] = 0;
        }
    }

    /// Bytes of `source`'s chunks also in the loaded destination.
    fn common(&self, source: &Signature) -> u64 {
        let mut shared = 0u64;
        for (&hash, &bytes) in source.hashes.iter().zip(&source.bytes) {
            if self.present[hash as usize / 64] & (1 << (hash % 64)) != 0 {
                shared += u64::from(bytes.min(self.bytes[hash as usize]));
            }
        }
        shared
    }
}

/// git's size prefilter: a pair whose sizes differ by more than the
/// threshold allows is not compared (`a`, `b` are the two sizes).
fn sizes_allow(a: u64, b: u64, minimum: u32) -> bool {
    let (larger, smaller) = (a.max(b), a.min(b));
    let (keep, whole) = (u64::from(MAX_SCORE - minimum), u64::from(MAX_SCORE));
    match (
        larger.checked_mul(keep),
        (larger - smaller).checked_mul(whole),
    ) {
        (Some(l), Some(r)) => l >= r,
        _ => {
            u128::from(larger) * u128::from(keep)
                >= u128::from(larger - smaller) * u128::from(whole)
        }
    }
}

/// `copied` bytes over the larger size `larger`, out of `MAX_SCORE`; an
/// empty destination scores 0 (as in git).
fn scale(copied: u64, larger: u64, destination_size: u64) -> u32 {
    if destination_size == 0 || larger == 0 {
        return 0;
    }
    let score = match copied.checked_mul(u64::from(MAX_SCORE)) {
        Some(product) => product / larger,
        None => (u128::from(copied) * u128::from(MAX_SCORE) / u128::from(larger)) as u64,
    };
    score.min(u64::from(MAX_SCORE)) as u32
}

/// The share of the larger file that the destination copied from the
/// source, out of `MAX_SCORE`.
fn score(
    source: &Signature,
    destination: &Signature,
    source_size: u64,
    destination_size: u64,
) -> u32 {
    let larger = source_size.max(destination_size);
    scale(source.common(destination), larger, destination_size)
}

/// One remembered candidate of the inexact step.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// `None`: the slot is unused.
    source: Option<usize>,
    destination: usize,
    score: u32,
    same_name: bool,
}

impl Slot {
    const EMPTY: Slot = Slot {
        source: None,
        destination: 0,
        score: 0,
        same_name: false,
    };

    /// Sorts better candidates first: used before unused, higher score,
    /// then same file name.
    fn rank(&self) -> (bool, std::cmp::Reverse<u32>, std::cmp::Reverse<bool>) {
        (
            self.source.is_none(),
            std::cmp::Reverse(self.score),
            std::cmp::Reverse(self.same_name),
        )
    }
}

/// Keeps `candidate` in place of the worst slot (the first of equally bad
/// ones) when it is strictly better, as git's candidate list does.
fn remember_if_better(slots: &mut [Slot; CANDIDATES_PER_DESTINATION], candidate: Slot) {
    let mut worst = 0;
    for i in 1..slots.len() {
        if slots[i].rank() > slots[worst].rank() {
            worst = i;
        }
    }
    if slots[worst].rank() > candidate.rank() {
        slots[worst] = candidate;
    }
}

/// A file's chunks: each hash with the total bytes of its chunks, sorted
/// by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signature {
    hashes: Vec<u32>,
    bytes: Vec<u32>,
}

impl Signature {
    fn of(data: &[u8]) -> Signature {
        let text = memchr::memchr(0, &data[..data.len().min(BINARY_PROBE)]).is_none();
        let mut chunks: Vec<(u32, u32)> = Vec::with_capacity(data.len() / 24 + 1);
        let (mut low, mut high) = (0u32, 0u32);
        let mut length = 0u32;
        for (i, &byte) in data.iter().enumerate() {
            if text && byte == b'\r' && data.get(i + 1) == Some(&b'\n') {
                continue;
            }
            let previous_low = low;
            low = (low << 7) ^ (high >> 25);
            high = (high << 7) ^ (previous_low >> 25);
            low = low.wrapping_add(u32::from(byte));
            length += 1;
            if (length as usize) < CHUNK_MAX && byte != b'\n' {
                continue;
            }
            chunks.push((chunk_hash(low, high), length));
            (low, high, length) = (0, 0, 0);
        }
        // The tail after the last newline is a chunk too (as git 2.47 counts).
        if length > 0 {
            chunks.push((chunk_hash(low, high), length));
        }
        chunks.sort_unstable_by_key(|&(hash, _)| hash);
        let mut signature = Signature {
            hashes: Vec::with_capacity(chunks.len()),
            bytes: Vec::with_capacity(chunks.len()),
        };
        for (hash, bytes) in chunks {
            match (signature.hashes.last(), signature.bytes.last_mut()) {
                (Some(&h), Some(total)) if h == hash => *total = total.wrapping_add(bytes),
                _ => {
                    signature.hashes.push(hash);
                    signature.bytes.push(bytes);
                }
            }
        }
        signature
    }

    /// Bytes of `other` that also occur here, chunk hash by chunk hash.
    fn common(&self, other: &Signature) -> u64 {
        let (mut i, mut j, mut shared) = (0, 0, 0u64);
        while i < self.hashes.len() && j < other.hashes.len() {
            let (a, b) = (self.hashes[i], other.hashes[j]);
            if a == b {
                shared += u64::from(self.bytes[i].min(other.bytes[j]));
            }
            i += usize::from(a <= b);
            j += usize::from(b <= a);
        }
        shared
    }
}

fn chunk_hash(low: u32, high: u32) -> u32 {
    low.wrapping_add(high.wrapping_mul(0x61)) % HASH_BASE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files given as (path, content); the content is its own id.
    struct Files {
        sources: Vec<(&'static str, Vec<u8>, Kind)>,
        destinations: Vec<(&'static str, Vec<u8>, Kind)>,
        reads: Vec<(Side, usize)>,
        unreadable: Option<&'static str>,
    }

    fn regular(files: &[(&'static str, &str)]) -> Vec<(&'static str, Vec<u8>, Kind)> {
        files
            .iter()
            .map(|(p, c)| (*p, c.as_bytes().to_vec(), Kind::Regular))
            .collect()
    }

    impl Files {
        fn new(sources: &[(&'static str, &str)], destinations: &[(&'static str, &str)]) -> Self {
            Files {
                sources: regular(sources),
                destinations: regular(destinations),
                reads: Vec::new(),
                unreadable: None,
            }
        }

        fn side(&self, side: Side) -> &[(&'static str, Vec<u8>, Kind)] {
            match side {
                Side::Source => &self.sources,
                Side::Destination => &self.destinations,
            }
        }

        fn run(&mut self) -> Result<Pairing, String> {
            let entries =
                |files: &[(&'static str, Vec<u8>, Kind)]| -> Vec<Entry<'static, Vec<u8>>> {
                    files
                        .iter()
                        .map(|(p, c, k)| Entry {
                            path: p.as_bytes(),
                            id: c.clone(),
                            kind: *k,
                        })
                        .collect()
                };
            let (s, d) = (entries(&self.sources), entries(&self.destinations));
            pair(&s, &d, self)
        }

        /// The renames as "old -> new" lines.
        fn renames(&mut self) -> Vec<String> {
            let pairing = self.run().expect("readable");
            pairing
                .pairs
                .iter()
                .map(|p| {
                    format!(
                        "{} -> {}",
                        self.sources[p.source].0, self.destinations[p.destination].0
                    )
                })
                .collect()
        }
    }

    impl Contents for Files {
        type Error = String;
        fn size(&mut self, side: Side, index: usize) -> Result<u64, String> {
            Ok(self.side(side)[index].1.len() as u64)
        }
        fn bytes(&mut self, side: Side, index: usize) -> Result<Vec<u8>, String> {
            let (path, content, _) = &self.side(side)[index];
            if self.unreadable == Some(*path) {
                return Err(format!("cannot read {path}"));
            }
            let content = content.clone();
            self.reads.push((side, index));
            Ok(content)
        }
    }

    fn lines(prefix: &str, n: usize) -> String {
        (0..n).map(|i| format!("{prefix} line {i}\n")).collect()
    }

    /// `n` lines of `body` with the first `changed` replaced.
    fn edited(body: &str, changed: usize) -> String {
        body.lines()
            .enumerate()
            .map(|(i, l)| {
                if i < changed {
                    format!("changed {i}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect()
    }

    fn percent(old: &str, new: &str) -> Option<u32> {
        let mut f = Files::new(&[("old", old)], &[("new", new)]);
        let pairing = f.run().expect("readable");
        pairing.pairs.first().map(|p| p.score * 100 / MAX_SCORE)
    }

    #[test]
    fn identical_content_is_an_exact_rename_read_from_nothing() {
        let mut f = Files::new(&[("a/x.txt", "same\n")], &[("b/y.txt", "same\n")]);
        assert_eq!(f.renames(), ["a/x.txt -> b/y.txt"]);
        assert!(f.reads.is_empty());
    }

    #[test]
    fn exact_rename_prefers_the_source_with_the_same_file_name() {
        let mut f = Files::new(
            &[("a/one.txt", "same\n"), ("b/two.txt", "same\n")],
            &[("c/two.txt", "same\n")],
        );
        assert_eq!(f.renames(), ["b/two.txt -> c/two.txt"]);
    }

    #[test]
    fn exact_rename_without_a_name_match_takes_the_first_source_in_path_order() {
        let mut f = Files::new(
            &[
                ("z.txt", "same\n"),
                ("a.txt", "same\n"),
                ("m.txt", "same\n"),
            ],
            &[("new.txt", "same\n")],
        );
        assert_eq!(f.renames(), ["a.txt -> new.txt"]);
    }

    #[test]
    fn identical_files_moved_together_each_source_used_once() {
        let mut f = Files::new(
            &[("a/1", "same\n"), ("a/2", "same\n"), ("a/3", "same\n")],
            &[("b/2", "same\n"), ("b/1", "same\n"), ("b/9", "same\n")],
        );
        assert_eq!(f.renames(), ["a/1 -> b/1", "a/2 -> b/2", "a/3 -> b/9"]);
    }

    #[test]
    fn more_identical_destinations_than_sources_leave_the_last_added() {
        let mut f = Files::new(&[("a", "same\n")], &[("c", "same\n"), ("b", "same\n")]);
        assert_eq!(f.renames(), ["a -> b"]);
    }

    #[test]
    fn empty_files_pair_exactly() {
        let mut f = Files::new(&[("d/e1", ""), ("d/e2", "")], &[("x/e2", ""), ("f1", "")]);
        assert_eq!(f.renames(), ["d/e1 -> f1", "d/e2 -> x/e2"]);
    }

    #[test]
    fn symlink_is_renamed_only_when_its_target_is_unchanged() {
        let mut f = Files::new(&[], &[]);
        f.sources = vec![("l1", b"target/a".to_vec(), Kind::Symlink)];
        f.destinations = vec![("l2", b"target/a".to_vec(), Kind::Symlink)];
        assert_eq!(f.renames(), ["l1 -> l2"]);
        f.destinations = vec![("l2", b"target/b".to_vec(), Kind::Symlink)];
        assert!(f.renames().is_empty());
    }

    #[test]
    fn symlink_and_regular_file_with_the_same_bytes_do_not_pair() {
        let mut f = Files::new(&[], &[]);
        f.sources = vec![("link", b"some text\n".to_vec(), Kind::Symlink)];
        f.destinations = vec![("file", b"some text\n".to_vec(), Kind::Regular)];
        assert!(f.renames().is_empty());
        assert!(f.reads.is_empty());
    }

    #[test]
    fn other_kinds_pair_only_exactly_with_their_own_kind() {
        let mut f = Files::new(&[], &[]);
        f.sources = vec![("sub", b"commit".to_vec(), Kind::Other)];
        f.destinations = vec![("moved", b"commit".to_vec(), Kind::Other)];
        assert_eq!(f.renames(), ["sub -> moved"]);
        f.destinations = vec![("moved", b"commit".to_vec(), Kind::Regular)];
        assert!(f.renames().is_empty());
    }

    // The expected percentages are what git 2.47 prints for the same files
    // (`git diff --cached -M --name-status`).
    #[test]
    fn score_is_bytes_copied_over_the_larger_size() {
        assert_eq!(percent("a\nb\nc\nd\n", "a\nb\nc\nX\n"), Some(75));
    }

    #[test]
    fn cr_of_crlf_is_not_counted_in_text() {
        assert_eq!(percent("a\r\nb\r\n", "a\nb\n"), Some(66));
    }

    #[test]
    fn cr_of_crlf_counts_in_binary_content() {
        assert_eq!(
            percent("line1\r\nline2\r\nline3\r\n\0", "line1\nline2\nline3\n\0"),
            None
        );
        assert_eq!(
            percent(
                "line1\r\nline2\r\nline3\r\n\0",
                "line1\r\nline2\r\nline3\r\n\0x"
            ),
            Some(91)
        );
    }

    #[test]
    fn unterminated_tail_is_a_chunk_of_its_own() {
        assert_eq!(percent("a\nbc", "a\nbd"), Some(50));
        assert_eq!(percent("a\nb\nTAIL", "a\nc\nTAIL"), Some(75));
        assert_eq!(percent("a\nb\nc\nd\nTA", "a\nb\nc\nD\nTB"), Some(60));
    }

    #[test]
    fn long_lines_are_cut_into_64_byte_chunks() {
        let old = format!("{}\n", "x".repeat(130));
        let new = format!("{}y\n", "x".repeat(128));
        assert_eq!(percent(&old, &new), Some(97));
        let old = format!("{}{}\n", "x".repeat(64), "A".repeat(10));
        let new = format!("{}{}\n", "x".repeat(64), "B".repeat(10));
        assert_eq!(percent(&old, &new), Some(85));
    }

    #[test]
    fn sizes_more_than_double_apart_are_never_compared() {
        assert_eq!(percent("aaaa\n", "aaaa\nbbbb\n"), Some(50));
        let mut f = Files::new(&[("old", "aaaa\n")], &[("new", "aaaa\nbbbb\nc\n")]);
        assert!(f.renames().is_empty());
        assert!(f.reads.is_empty());
    }

    #[test]
    fn below_half_similar_is_no_rename() {
        let body = lines("x", 10);
        assert_eq!(percent(&body, &edited(&body, 4)), Some(57));
        assert_eq!(percent(&body, &edited(&body, 6)), None);
    }

    #[test]
    fn same_file_name_wins_over_a_better_match_elsewhere_from_75_percent() {
        let body = lines("x", 20);
        // b/x.txt keeps 80%, c/y.txt 95%: git takes the file name first.
        let mut f = Files::new(
            &[("a/x.txt", &body)],
            &[
                ("b/x.txt", &edited(&body, 4)),
                ("c/y.txt", &edited(&body, 1)),
            ],
        );
        assert_eq!(f.renames(), ["a/x.txt -> b/x.txt"]);
    }

    #[test]
    fn same_file_name_below_75_percent_competes_by_score() {
        let body = lines("x", 20);
        let mut f = Files::new(
            &[("a/x.txt", &body)],
            &[
                ("b/x.txt", &edited(&body, 6)),
                ("c/y.txt", &edited(&body, 2)),
            ],
        );
        assert_eq!(f.renames(), ["a/x.txt -> c/y.txt"]);
    }

    #[test]
    fn a_file_name_shared_by_two_sources_skips_the_name_step() {
        let body = lines("x", 20);
        let other = lines("o", 20);
        let mut f = Files::new(
            &[("a/x.txt", &body), ("z/x.txt", &other)],
            &[
                ("b/x.txt", &edited(&body, 4)),
                ("c/y.txt", &edited(&body, 1)),
            ],
        );
        assert_eq!(f.renames(), ["a/x.txt -> c/y.txt"]);
    }

    #[test]
    fn equal_scores_prefer_the_same_file_name() {
        let body = lines("x", 20);
        let mut f = Files::new(
            &[("a/one.js", &body), ("a/two.js", &body)],
            &[("b/two.ts", &edited(&body, 5))],
        );
        // Neither name equals the destination's: the first source wins the tie.
        assert_eq!(f.renames(), ["a/one.js -> b/two.ts"]);
        let mut f = Files::new(
            &[
                ("a/one.js", &body),
                ("a/x/two.ts", &body),
                ("z/two.ts", &lines("z", 3)),
            ],
            &[("b/two.ts", &edited(&body, 5))],
        );
        assert_eq!(f.renames(), ["a/x/two.ts -> b/two.ts"]);
    }

    #[test]
    fn a_source_becomes_at_most_one_destination() {
        let body = lines("x", 20);
        let mut f = Files::new(
            &[("old.js", &body)],
            &[
                ("new1.ts", &edited(&body, 6)),
                ("new2.ts", &edited(&body, 2)),
            ],
        );
        assert_eq!(f.renames(), ["old.js -> new2.ts"]);
    }

    #[test]
    fn js_to_ts_conversion_with_edits_is_a_rename() {
        let body = lines("const x = 1;", 30);
        let mut f = Files::new(
            &[("src/app.js", &body)],
            &[("src/app.ts", &edited(&body, 10))],
        );
        assert_eq!(f.renames(), ["src/app.js -> src/app.ts"]);
    }

    #[test]
    fn a_destination_remembers_only_its_four_best_sources() {
        // d1 = body; s1..s4 are one line off it, s5 eight lines off (still
        // over 50%). d2..d5 take s1..s4 with higher scores; s5 was not among
        // d1's four best, so d1 stays an addition (as git 2.47 reports).
        let body = lines("x", 20);
        let near: Vec<String> = (0..4)
            .map(|k| {
                body.lines()
                    .enumerate()
                    .map(|(i, l)| {
                        if i == k {
                            format!("changed {i}\n")
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect()
            })
            .collect();
        let far = edited(&body, 8);
        let tails: Vec<String> = near.iter().map(|n| format!("{n}tail\n")).collect();
        let mut f = Files::new(
            &[
                ("s1", &near[0]),
                ("s2", &near[1]),
                ("s3", &near[2]),
                ("s4", &near[3]),
                ("s5", &far),
            ],
            &[
                ("d1", &body),
                ("d2", &tails[0]),
                ("d3", &tails[1]),
                ("d4", &tails[2]),
                ("d5", &tails[3]),
            ],
        );
        assert_eq!(
            f.renames(),
            ["s1 -> d2", "s2 -> d3", "s3 -> d4", "s4 -> d5"]
        );
        assert!(percent(&far, &body).is_some_and(|p| p >= 50));
    }

    #[test]
    fn a_destination_falls_back_to_its_fourth_best_source() {
        // s1..s3 (one line off d1) go to d2..d4 with higher scores; s4 (two
        // lines off) is d1's fourth candidate and still free (git 2.47 agrees).
        let body = lines("x", 20);
        let off = |at: &[usize]| -> String {
            body.lines()
                .enumerate()
                .map(|(i, l)| {
                    if at.contains(&i) {
                        format!("changed {i}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect()
        };
        let near: Vec<String> = (0..3).map(|k| off(&[k])).collect();
        let (fourth, far) = (off(&[10, 11]), edited(&body, 8));
        let tails: Vec<String> = near.iter().map(|n| format!("{n}tail\n")).collect();
        let mut f = Files::new(
            &[
                ("s1", &near[0]),
                ("s2", &near[1]),
                ("s3", &near[2]),
                ("s4", &fourth),
                ("s5", &far),
            ],
            &[
                ("d1", &body),
                ("d2", &tails[0]),
                ("d3", &tails[1]),
                ("d4", &tails[2]),
            ],
        );
        assert_eq!(
            f.renames(),
            ["s4 -> d1", "s1 -> d2", "s2 -> d3", "s3 -> d4"]
        );
    }

    #[test]
    fn unreadable_content_is_an_error_never_empty() {
        let body = lines("x", 20);
        let mut f = Files::new(&[("old", &body)], &[("new", &edited(&body, 2))]);
        f.unreadable = Some("old");
        assert_eq!(f.run(), Err("cannot read old".to_string()));
    }

    #[test]
    fn over_the_rename_limit_inexact_detection_is_skipped_but_exact_and_name_matches_stay() {
        let bodies: Vec<String> = (0..1002).map(|i| lines(&format!("f{i}"), 5)).collect();
        let mut sources: Vec<(String, String)> = (0..1001)
            .map(|i| (format!("a/f{i}"), bodies[i].clone()))
            .collect();
        let mut destinations: Vec<(String, String)> = (0..1001)
            .map(|i| (format!("b/g{i}"), format!("{}extra\n", bodies[i])))
            .collect();
        sources.push(("a/exact".into(), "exact\n".into()));
        destinations.push(("b/exact2".into(), "exact\n".into()));
        sources.push(("a/same".into(), bodies[1001].clone()));
        destinations.push(("b/same".into(), format!("{}extra\n", bodies[1001])));
        let leak = |v: Vec<(String, String)>| -> Vec<(&'static str, &'static str)> {
            v.into_iter()
                .map(|(p, c)| (&*p.leak(), &*c.leak()))
                .collect()
        };
        let mut f = Files::new(&leak(sources), &leak(destinations));
        let pairing = f.run().expect("readable");
        assert!(pairing.inexact_skipped);
        let names: Vec<String> = pairing
            .pairs
            .iter()
            .map(|p| {
                format!(
                    "{} -> {}",
                    f.sources[p.source].0, f.destinations[p.destination].0
                )
            })
            .collect();
        assert_eq!(names, ["a/exact -> b/exact2", "a/same -> b/same"]);
    }

    #[test]
    fn at_the_rename_limit_inexact_detection_still_runs() {
        let n = RENAME_LIMIT as usize;
        let sources: Vec<(&'static str, &'static str)> = (0..n)
            .map(|i| {
                let p: &'static str = format!("a/f{i}").leak();
                let c: &'static str = format!("f{i}\n").leak();
                (p, c)
            })
            .collect();
        let destinations: Vec<(&'static str, &'static str)> = (0..n)
            .map(|i| {
                let p: &'static str = format!("b/g{i}").leak();
                let c: &'static str = format!("f{i}\nx\n").leak();
                (p, c)
            })
            .collect();
        let mut f = Files::new(&sources, &destinations);
        let pairing = f.run().expect("readable");
        assert!(!pairing.inexact_skipped);
        assert_eq!(pairing.pairs.len(), n);
        assert!(pairing.pairs.iter().all(|p| p.source == p.destination));
    }

    #[test]
    fn pairing_does_not_depend_on_input_order() {
        let body = lines("x", 20);
        let a = [("a/x.txt", body.as_str()), ("b/y.txt", "other\n")];
        let edited2 = edited(&body, 2);
        let d = [("c/z.txt", edited2.as_str()), ("d/w.txt", "other\n")];
        let mut forward = Files::new(&a, &d);
        let mut reversed = Files::new(&[a[1], a[0]], &[d[1], d[0]]);
        let mut f = forward.renames();
        let mut r = reversed.renames();
        f.sort();
        r.sort();
        assert_eq!(f, r);
    }
}
