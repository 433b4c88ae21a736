//! History judging (SPEC §2.2): in `--base` mode a persona with
//! `history: true` judges every commit of the range on its own, each
//! against its first parent, instead of the net change, so a secret added
//! and removed inside the range is still found.
//!
//! Commits are judged oldest first (git's topological order); a finding
//! whose identity (persona and §3 fingerprint) an earlier commit already
//! had is not reported or counted again, so each is reported once, at the
//! commit that introduced it. Every other persona judges the net change as
//! before. Each policy of `--policy both` judges the history with its own
//! personas, commit by commit, from one listing of each commit.

use std::time::Instant;

use rayon::prelude::*;

use crate::check::{self, Gate, Options, Tally, Workspace};
use crate::error::Result;
use crate::finding::Report;
use crate::git::{Change, Commit, Repo};
use crate::ruleset::Matchers;

/// Commits listed (tree diffs, rename pairing) in parallel at a time,
/// before they are judged in order.
const LISTED_AT_ONCE: usize = 256;

/// One policy judging a range.
pub struct RangeSide<'a> {
    pub ws: &'a Workspace,
    pub matchers: &'a Matchers,
    pub gate: Gate,
}

/// `valve check --base` with one policy (a `--config` the user named, or
/// `valve baseline --base`).
pub fn run_range_in(
    ws: &Workspace,
    opts: &Options,
    base: Option<&str>,
    head: &str,
) -> Result<Report> {
    let started = Instant::now();
    let repo = ws.repo.as_ref().ok_or_else(|| {
        crate::error::Error::usage(
            "`--base` needs a git repository",
            Some("run valve inside a git repository".to_string()),
        )
    })?;
    let matchers = ws.rules.matchers()?;
    let changes = crate::changeset::changes(&opts.selection, Some(repo), &ws.root, &opts.cwd)?;
    let merge_base = base.map(|b| repo.merge_base_id(b, head)).transpose()?;
    let gate = Gate::new(ws, opts)?;
    let side = RangeSide {
        ws,
        matchers: &matchers,
        gate,
    };
    let mut reports = judge_range(
        repo,
        opts,
        merge_base.as_deref(),
        head,
        vec![side],
        &changes,
        started,
    )?;
    reports
        .pop()
        .ok_or_else(|| crate::error::Error::usage("no policy to judge the range", None))
}

/// Judges a range under each side's policy: the net change `net` by the
/// personas without `history`, and every commit of `base..head` (`base`
/// the merge base; `None`: every commit reachable from `head`) by those
/// with it. One report per side, in order.
pub fn judge_range(
    repo: &Repo,
    opts: &Options,
    base: Option<&str>,
    head: &str,
    sides: Vec<RangeSide<'_>>,
    net: &[Change],
    started: Instant,
) -> Result<Vec<Report>> {
    let mut plans = Vec::with_capacity(sides.len());
    for side in sides {
        let history: Vec<bool> = side.ws.rules.personas.iter().map(|p| p.history).collect();
        let (net_gate, history_gate) = if history.contains(&true) {
            let others = history.iter().map(|h| !h).collect();
            (
                side.gate.clone().only(others),
                Some(side.gate.only(history).for_history()),
            )
        } else {
            (side.gate, None)
        };
        let (repo_display, timestamp) = check::run_facts(side.ws);
        plans.push(Plan {
            ws: side.ws,
            matchers: side.matchers,
            net_gate,
            history: history_gate.map(|gate| History {
                gate,
                tally: None,
                handle: None,
            }),
            repo_display,
            timestamp,
        });
    }
    let judges_history = plans.iter().any(|p| p.history.is_some());
    let mut work = move || -> Result<Vec<Report>> {
        let mut tallies = Vec::with_capacity(plans.len());
        for plan in &plans {
            let facts = check::facts(
                opts,
                plan.ws,
                plan.matchers,
                &plan.repo_display,
                plan.timestamp,
            );
            tallies.push(check::judge_changes(
                plan.ws,
                opts,
                net,
                &facts,
                &plan.net_gate,
            )?);
        }
        let mut judged = 0;
        if judges_history {
            let commits = repo.commits(base, head)?;
            judged = commits.len();
            for chunk in commits.chunks(LISTED_AT_ONCE) {
                let listed = list(repo, chunk)?;
                for (commit, changes) in chunk.iter().zip(&listed) {
                    for plan in &mut plans {
                        plan.judge_commit(opts, commit, changes)?;
                    }
                }
            }
        }
        let mut reports = Vec::with_capacity(plans.len());
        for (plan, mut tally) in plans.iter_mut().zip(tallies) {
            if let Some(history) = plan.history.as_mut().and_then(|h| h.tally.take()) {
                tally.merge_findings(history);
            }
            let mut report = check::finish_change(
                plan.ws,
                opts,
                &plan.net_gate,
                tally,
                net,
                plan.repo_display.clone(),
                started,
            )?;
            if plan.history.is_some() {
                report.summary.commits = judged;
            }
            report.base_commit = base.map(str::to_string);
            report.head_commit = repo.resolve_commit(head).ok();
            reports.push(report);
        }
        Ok(reports)
    };
    // Starting a thread pool costs more than judging a few files.
    if judges_history || net.len() >= 16 {
        check::with_pool(opts.threads, work)
    } else {
        work()
    }
}

/// Each commit's own change, listed in parallel, in the chunk's order.
/// Each worker lists a run of consecutive commits on one repository
/// handle: a commit's old trees are its parent's new ones, already in
/// that handle's object cache.
fn list(repo: &Repo, chunk: &[Commit]) -> Result<Vec<Vec<Change>>> {
    let run = chunk
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(8);
    let runs: Vec<Vec<Vec<Change>>> = chunk
        .par_chunks(run)
        .map(|commits| {
            let local = repo.local();
            commits
                .iter()
                .map(|c| repo.commit_changes(&local, c))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    Ok(runs.into_iter().flatten().collect())
}

/// One side's policy, its net-change gate and its history judging.
struct Plan<'a> {
    ws: &'a Workspace,
    matchers: &'a Matchers,
    net_gate: Gate,
    history: Option<History>,
    repo_display: String,
    timestamp: u64,
}

struct History {
    gate: Gate,
    /// Every commit's findings so far.
    tally: Option<Tally>,
    /// The repository handle small commits are judged through.
    handle: Option<gix::Repository>,
}

impl Plan<'_> {
    fn judge_commit(&mut self, opts: &Options, commit: &Commit, changes: &[Change]) -> Result<()> {
        let Some(history) = self.history.as_mut() else {
            return Ok(());
        };
        let mut facts = check::facts(
            opts,
            self.ws,
            self.matchers,
            &self.repo_display,
            self.timestamp,
        );
        facts.commit = Some(&commit.id);
        let mut tally = check::judge_changes_with(
            self.ws,
            opts,
            changes,
            &facts,
            &history.gate,
            &mut history.handle,
        )?;
        history.gate.remember(tally.take_introduced());
        match &mut history.tally {
            Some(all) => all.merge_findings(tally),
            None => history.tally = Some(tally),
        }
        Ok(())
    }
}
