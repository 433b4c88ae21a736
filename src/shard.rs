//! `--shard I/N` (SPEC §12): which changes one job of a CI matrix judges.
//! A path falls into shard `FNV-1a-64(path bytes) mod N + 1`, so every
//! job computes the same partition with no coordination.

use std::fmt;

/// One shard of `count`: `index` is 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// The most shards `--shard` accepts: far more than any CI matrix runs.
pub const MAX_SHARDS: u64 = 4096;

impl Shard {
    /// Parses `I/N` with 1 ≤ I ≤ N ≤ [`MAX_SHARDS`].
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!("`{text}` is not a shard: write I/N with 1 ≤ I ≤ N ≤ {MAX_SHARDS}, e.g. 2/4")
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = match (i.trim().parse::<u64>(), n.trim().parse::<u64>()) {
            (Ok(i), Ok(n)) => (i, n),
            _ => return Err(bad()),
        };
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard judges `path` (the new path of a rename).
    pub fn takes(&self, path: &str) -> bool {
        fnv1a64(path.as_bytes()) % self.count + 1 == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a, 64 bits.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn parse_accepts_i_of_n_and_rejects_the_rest() {
        assert_eq!(Shard::parse("1/1"), Ok(Shard { index: 1, count: 1 }));
        assert_eq!(Shard::parse("3/4"), Ok(Shard { index: 3, count: 4 }));
        for bad in [
            "0/4", "5/4", "1/0", "4", "a/b", "1/4097", "-1/3", "", "1/2/3",
        ] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_path_falls_into_exactly_one_shard() {
        let paths: Vec<String> = (0..500).map(|i| format!("src/m{i}/f.rs")).collect();
        for count in 1..=7 {
            let mut sizes = vec![0usize; count as usize];
            for p in &paths {
                let owners: Vec<u64> = (1..=count)
                    .filter(|&index| Shard { index, count }.takes(p))
                    .collect();
                assert_eq!(owners.len(), 1, "{p} in {count} shards");
                sizes[owners[0] as usize - 1] += 1;
            }
            // The hash spreads paths: no shard of a few is empty.
            assert!(sizes.iter().all(|&s| s > 0), "{sizes:?}");
        }
    }
}
