//! SPEC §8 "staged or not": which findings of a work-tree file a commit now
//! would carry. Pure: no I/O, no git.
//!
//! A finding's identity is its persona and fingerprint (persona, path and
//! the trimmed matched line, SPEC §3), so a line that moved between the
//! index and the work tree is still the same finding. When the index holds
//! a version of its own, that version is judged too (its blob, `scope:
//! changed` against `HEAD`) and its findings are set against the work
//! tree's as multisets: a work-tree finding the index also has is
//! `staged`, one it lacks `unstaged`, and an index finding left over is
//! `index_only`. Equal identities pair in order of appearance, so of three
//! identical index lines against one in the work tree, the first is
//! `staged`'s partner and the other two are `index_only`.
//!
//! The engine judges the index version twice at most: once to fill a
//! [`Ledger`], once more only if something is left over, to build the
//! index-only findings; in between the work tree is judged through
//! [`Staging::Match`]. Nothing is held but identities and counts.

use std::collections::HashMap;

use crate::finding::Stage;
use crate::scan::{Hit, Sink};

/// A finding's identity across the index and the work tree: the persona's
/// position in the config and the fingerprint.
type Key = (usize, String);

/// The identities of the index version's findings, and which of them the
/// work tree's findings claimed.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Index findings no work-tree finding has claimed yet.
    open: HashMap<Key, usize>,
    /// Index findings claimed, per identity: in the leftover pass the
    /// first this many of each are skipped.
    claimed: HashMap<Key, usize>,
    /// The index version's content could not be searched (binary, too
    /// large): whether it holds a matched line is unknown.
    pub unsearched: bool,
}

impl Ledger {
    /// One finding of the index version.
    pub fn record(&mut self, persona: usize, fingerprint: &str) {
        *self
            .open
            .entry((persona, fingerprint.to_string()))
            .or_default() += 1;
    }

    /// A work-tree finding takes an equal index finding if one is open:
    /// whether it did (the finding is `staged`).
    pub fn claim(&mut self, persona: usize, fingerprint: &str) -> bool {
        let key = (persona, fingerprint.to_string());
        match self.open.get_mut(&key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                *self.claimed.entry(key).or_default() += 1;
                true
            }
            _ => false,
        }
    }

    /// Whether some index finding is unclaimed.
    pub fn has_leftovers(&self) -> bool {
        self.open.values().any(|&n| n > 0)
    }

    /// In the second pass over the index version, in the same order as the
    /// first: whether this index finding is one no work-tree finding
    /// claimed.
    pub fn is_leftover(&mut self, persona: usize, fingerprint: &str) -> bool {
        match self.claimed.get_mut(&(persona, fingerprint.to_string())) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        }
    }
}

/// How a judged document's findings get their stage.
#[derive(Debug)]
pub enum Staging<'l> {
    /// Not `--worktree` or watch: `stage` stays null.
    Off,
    /// Every finding has this stage (the index equals `HEAD` or the work
    /// tree, or the document is an index-only change).
    All(Stage),
    /// The work tree of a file whose index version is in the ledger.
    Match(&'l mut Ledger),
    /// The index version again: only what the work tree did not claim.
    Leftover(&'l mut Ledger),
}

/// What becomes of one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not this pass's: neither counted nor kept.
    Drop,
    /// Counted, and if kept, with this stage.
    Keep(Option<Stage>),
}

impl Staging<'_> {
    /// Whether a hit's fingerprint is needed to decide.
    pub fn wants_fingerprints(&self) -> bool {
        matches!(self, Staging::Match(_) | Staging::Leftover(_))
    }

    /// The verdict on a hit of `persona` with `fingerprint`; `line` tells a
    /// trigger finding from a path-only one.
    pub fn judge(&mut self, persona: usize, fingerprint: &str, line: Option<u32>) -> Verdict {
        match self {
            Staging::Off => Verdict::Keep(None),
            Staging::All(stage) => Verdict::Keep(Some(*stage)),
            Staging::Match(ledger) => {
                // A matched line in an index blob that was not searched may
                // be there: a commit may carry it.
                let unknown = ledger.unsearched && line.is_some();
                let staged = ledger.claim(persona, fingerprint) || unknown;
                Verdict::Keep(Some(if staged {
                    Stage::Staged
                } else {
                    Stage::Unstaged
                }))
            }
            Staging::Leftover(ledger) => {
                if ledger.is_leftover(persona, fingerprint) {
                    Verdict::Keep(Some(Stage::IndexOnly))
                } else {
                    Verdict::Drop
                }
            }
        }
    }
}

/// The engine's sink for the first pass over an index version: every hit
/// goes into the ledger, none is counted or built.
pub struct Collect<'l>(pub &'l mut Ledger);

impl Sink for Collect<'_> {
    fn wants_fingerprints(&self) -> bool {
        true
    }

    fn count(&mut self, hit: &Hit<'_>) -> bool {
        self.0.record(hit.persona_index, hit.fingerprint);
        false
    }

    fn keep(&mut self, _: crate::finding::Finding) {}
}

/// The stages of one file's findings, given the identities of its
/// work-tree findings and of its index version's findings, each in order
/// of appearance: a stage for each work-tree finding, and the positions of
/// the index findings that are `index_only`. This is what the engine's
/// passes compute one hit at a time.
pub fn assign(worktree: &[(usize, &str)], index: &[(usize, &str)]) -> (Vec<Stage>, Vec<usize>) {
    let mut ledger = Ledger::default();
    for &(persona, fingerprint) in index {
        ledger.record(persona, fingerprint);
    }
    let mut matching = Staging::Match(&mut ledger);
    let stages = worktree
        .iter()
        .map(|&(p, f)| match matching.judge(p, f, Some(1)) {
            Verdict::Keep(Some(stage)) => stage,
            _ => Stage::Unstaged,
        })
        .collect();
    if !ledger.has_leftovers() {
        return (stages, Vec::new());
    }
    let mut leftover = Staging::Leftover(&mut ledger);
    let index_only = index
        .iter()
        .enumerate()
        .filter(|(_, (p, f))| leftover.judge(*p, f, Some(1)) != Verdict::Drop)
        .map(|(i, _)| i)
        .collect();
    (stages, index_only)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stage::{IndexOnly, Staged, Unstaged};

    #[test]
    fn a_line_in_both_is_staged_and_one_only_in_the_work_tree_unstaged() {
        let (stages, index_only) = assign(&[(0, "a"), (0, "b")], &[(0, "a")]);
        assert_eq!(stages, vec![Staged, Unstaged]);
        assert!(index_only.is_empty());
    }

    #[test]
    fn a_line_only_in_the_index_is_index_only() {
        let (stages, index_only) = assign(&[(0, "kept")], &[(0, "fixed"), (0, "kept")]);
        assert_eq!(stages, vec![Staged]);
        assert_eq!(index_only, vec![0]);
    }

    #[test]
    fn the_persona_is_part_of_the_identity() {
        let (stages, index_only) = assign(&[(1, "a")], &[(0, "a")]);
        assert_eq!(stages, vec![Unstaged]);
        assert_eq!(index_only, vec![0]);
    }

    #[test]
    fn identical_lines_pair_in_order_and_the_rest_are_index_only() {
        let (stages, index_only) = assign(&[(0, "x")], &[(0, "x"), (0, "x"), (0, "x")]);
        assert_eq!(stages, vec![Staged]);
        assert_eq!(index_only, vec![1, 2]);
        let (stages, index_only) = assign(&[(0, "x"), (0, "x")], &[(0, "x")]);
        assert_eq!(stages, vec![Staged, Unstaged]);
        assert!(index_only.is_empty());
    }

    #[test]
    fn nothing_in_the_index_makes_everything_unstaged() {
        let (stages, index_only) = assign(&[(0, "a"), (2, "b")], &[]);
        assert_eq!(stages, vec![Unstaged, Unstaged]);
        assert!(index_only.is_empty());
    }

    #[test]
    fn an_unsearched_index_blob_may_carry_trigger_findings_but_not_paths() {
        let mut ledger = Ledger {
            unsearched: true,
            ..Ledger::default()
        };
        let mut staging = Staging::Match(&mut ledger);
        assert_eq!(staging.judge(0, "t", Some(3)), Verdict::Keep(Some(Staged)));
        assert_eq!(staging.judge(0, "p", None), Verdict::Keep(Some(Unstaged)));
    }

    #[test]
    fn fixed_stagings_need_no_fingerprints() {
        assert!(!Staging::Off.wants_fingerprints());
        assert!(!Staging::All(Staged).wants_fingerprints());
        assert_eq!(Staging::Off.judge(0, "", None), Verdict::Keep(None));
        assert_eq!(
            Staging::All(IndexOnly).judge(0, "", Some(1)),
            Verdict::Keep(Some(IndexOnly))
        );
        let mut ledger = Ledger::default();
        assert!(Staging::Match(&mut ledger).wants_fingerprints());
    }
}
