//! Where the policy of a `--base` range comes from (SPEC §9 "The change
//! cannot change its own judge").
//!
//! A pull request controls everything in its head, `.sage/valve.yml` and
//! the baseline included. With `--policy base` the merge base's policy
//! judges the range; with `--policy both` (the default) both policies judge
//! the same change set and their findings are united, so a change can add
//! a persona or raise a severity but can never remove, weaken or silence
//! one: a finding of either policy is reported (identical ones once, with
//! the higher severity), the stricter threshold applies, only the base's
//! baseline counts, and an inline suppression holds only if every policy
//! that has the persona allows it (the union gives exactly that: a finding
//! one policy refuses to silence is still a finding of that policy).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::changeset;
use crate::check::{self, BaselineChoice, Gate, Options, PolicyMode, Workspace};
use crate::config::{self, BASELINE_PATH, CONFIG_PATHS};
use crate::error::{Error, Result};
use crate::finding::{BySeverity, Finding, PersonaInfo, Report};
use crate::git::Repo;
use crate::history::{RangeSide, judge_range};
use crate::ruleset::Ruleset;
use crate::severity::{Severity, Threshold};

/// One side's policy: its rules and the baseline it carries.
struct Side {
    ws: Workspace,
    /// The config's text and file name: all the policy there is to compare.
    text: (String, String),
    baseline: Option<Vec<u8>>,
    /// How the side is named in messages (`merge base abc1234`).
    name: String,
}

/// Runs a `--base` check under `opts.policy`; `base` is `None` for
/// `--root` (the empty tree, whose policy is none).
pub fn run_range(opts: &Options, base: Option<&str>, head: &str) -> Result<Report> {
    let started = Instant::now();
    let repo = crate::git::discover(&opts.cwd)?.ok_or_else(|| {
        Error::usage(
            format!(
                "`--base` needs a git repository, and {} is not in one",
                opts.cwd.display()
            ),
            Some("run valve inside a git repository".to_string()),
        )
    })?;
    let root = repo.workdir.clone().unwrap_or_else(|| opts.cwd.clone());
    let merge_base = base.map(|b| repo.merge_base_id(b, head)).transpose()?;
    let head_side = || -> Result<Option<Side>> {
        if repo.is_checked_out(head) {
            worktree_side(&repo, &root)
        } else {
            revision_side(&repo, &root, head, &format!("head {}", short(&repo, head)))
        }
    };
    let base_side = || match &merge_base {
        Some(mb) => revision_side(&repo, &root, mb, &format!("merge base {}", &mb[..7])),
        // The empty tree holds no policy.
        None => Ok(None),
    };
    // Each side's nested configs (SPEC §12) come from its own revision,
    // looked up as the diff reads the trees.
    let crate::git::RangeFiles {
        changes,
        in_head,
        in_base,
    } = changeset::range_with(&repo, merge_base.as_deref(), head, opts.threads)?;
    let head_name = format!("head {}", short(&repo, head));
    let head_side = || with_nested(head_side()?, head, &head_name, in_head);
    let base_side = || match &merge_base {
        Some(mb) => {
            let name = format!("merge base {}", &mb[..7]);
            with_nested(base_side()?, mb, &name, in_base)
        }
        None => Ok(None),
    };
    let (first, second) = match opts.policy {
        PolicyMode::Head => (head_side()?, None),
        PolicyMode::Base => (base_side()?, None),
        PolicyMode::Both => {
            let (b, h) = (base_side()?, head_side()?);
            match (b, h) {
                // The same policy twice would judge everything twice
                // (every commit, with history personas) to the same
                // report: the base's judges alone. What is compared is
                // all a policy is: the config file's name and text and
                // the files it extends (the baseline is the base's
                // either way).
                (Some(b), Some(h)) if b.text == h.text && b.ws.rules.same_extended(&h.ws.rules) => {
                    (Some(b), None)
                }
                (Some(b), Some(h)) => (Some(b), Some(h)),
                // No config in the base: the head's alone; the head
                // deleted it: the base's alone.
                (None, h) => (h, None),
                (b, None) => (b, None),
            }
        }
    };
    let Some(first) = first else {
        let looked = match (opts.policy, &merge_base) {
            (PolicyMode::Base, None) => {
                return Err(Error::usage(
                    "`--policy base` with `--root`: the empty tree has no policy",
                    Some("use `--policy head` or `--policy both` (the default)".to_string()),
                ));
            }
            (PolicyMode::Base, Some(mb)) => format!("{}:{}", &mb[..7], CONFIG_PATHS[0]),
            _ => format!("{head}:{}", CONFIG_PATHS[0]),
        };
        return Err(Error::ConfigMissing {
            looked_for: PathBuf::from(looked),
        });
    };
    // The base's baseline when the base judges; the head's only with
    // `--policy head`.
    let baseline = match &opts.baseline {
        BaselineChoice::Default => match &first.baseline {
            Some(bytes) => Some(check::parse_baseline(Path::new(BASELINE_PATH), bytes)?),
            None => None,
        },
        BaselineChoice::File(p) => Some(check::parse_baseline(p, &crate::ownfile::read_input(p)?)?),
        BaselineChoice::Off => None,
    };
    let sides: Vec<&Side> = std::iter::once(&first).chain(second.as_ref()).collect();
    let rulesets: Vec<&crate::ruleset::Ruleset> = sides.iter().map(|s| &s.ws.rules).collect();
    check::check_persona_names(opts, &rulesets)?;
    let (threshold, source) = stricter(&sides, opts);
    let matchers = sides
        .iter()
        .map(|side| side.ws.rules.matchers())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let judging = sides
        .iter()
        .zip(&matchers)
        .map(|(side, matchers)| RangeSide {
            ws: &side.ws,
            matchers,
            gate: {
                let gate = Gate::with(&side.ws, opts, threshold, source.clone(), baseline.clone());
                // Two sides are united finding by finding.
                if sides.len() > 1 {
                    gate.keeping_all()
                } else {
                    gate
                }
            },
        })
        .collect();
    let reports = judge_range(
        &repo,
        opts,
        merge_base.as_deref(),
        head,
        judging,
        &changes,
        started,
    )?;
    let mut reports = reports.into_iter();
    let Some(mut report) = reports.next() else {
        return Err(Error::usage("no policy to judge the range", None));
    };
    if let Some(other) = reports.next() {
        report = unite(report, other, threshold, opts.today);
    }
    report.summary.policy.mode = opts.policy.as_str();
    report.head_commit = repo.resolve_commit(head).ok();
    report.base_commit = merge_base;
    report.summary.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// A side with the nested configs `found` in its revision.
fn with_nested(
    side: Option<Side>,
    rev: &str,
    name: &str,
    found: crate::config::extends::OwnFiles,
) -> Result<Option<Side>> {
    let Some(mut side) = side else {
        return Ok(None);
    };
    let view = crate::nested::View::Tree { rev, name };
    if let Some(ws) = crate::nested::extend_with(&side.ws, &view, found)? {
        side.ws = ws;
    }
    Ok(Some(side))
}

fn short(repo: &Repo, rev: &str) -> String {
    repo.resolve_commit(rev)
        .map(|id| id[..7].to_string())
        .unwrap_or_else(|_| rev.to_string())
}

/// The policy of the checked-out work tree (the judged revision).
fn worktree_side(repo: &Repo, root: &Path) -> Result<Option<Side>> {
    let (path, source) = match config::load(root, None) {
        Ok(found) => found,
        Err(Error::ConfigMissing { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let rules = Ruleset::load_worktree(&source, root, &path)?;
    let file = path
        .strip_prefix(root)
        .unwrap_or(&path)
        .to_string_lossy()
        .into_owned();
    Ok(Some(Side {
        text: (file, source.text.clone()),
        ws: Workspace {
            repo: Some(repo.clone()),
            root: root.to_path_buf(),
            rules,
            config_path: path,
        },
        baseline: crate::ownfile::read_own(root, BASELINE_PATH)?,
        name: "the work tree".to_string(),
    }))
}

/// The policy committed at `rev`.
fn revision_side(repo: &Repo, root: &Path, rev: &str, name: &str) -> Result<Option<Side>> {
    const MAX: u64 = crate::ownfile::MAX_INPUT;
    for candidate in CONFIG_PATHS {
        let Some(bytes) = repo.own_file_at(rev, candidate, MAX)? else {
            continue;
        };
        let display = format!("{name}:{candidate}");
        let source = config::source_from_bytes(bytes, &display)?;
        let rules = Ruleset::load_revision(repo, &source, rev, name, candidate)?;
        return Ok(Some(Side {
            text: (candidate.to_string(), source.text.clone()),
            ws: Workspace {
                repo: Some(repo.clone()),
                root: root.to_path_buf(),
                rules,
                config_path: PathBuf::from(candidate),
            },
            baseline: repo.own_file_at(rev, BASELINE_PATH, MAX)?,
            name: name.to_string(),
        }));
    }
    Ok(None)
}

/// The stricter of the sides' thresholds (`--fail-on` overrides them all).
fn stricter(sides: &[&Side], opts: &Options) -> (Threshold, String) {
    let mut best: Option<(Threshold, String)> = None;
    for side in sides {
        let (_, t, from) = check::threshold(&side.ws.rules, opts);
        let from = if from == "--fail-on" {
            from
        } else {
            format!("{from} ({})", side.name)
        };
        if best
            .as_ref()
            .is_none_or(|(b, _)| t.strictness() < b.strictness())
        {
            best = Some((t, from));
        }
    }
    best.unwrap_or((
        Threshold::AtLeast(Severity::Error),
        "the default".to_string(),
    ))
}

/// Identity of a finding across the two policies: the same persona firing
/// on the same place with the same §3 fingerprint.
type Identity<'a> = (
    &'a str,
    &'a str,
    Option<u32>,
    Option<u32>,
    Option<u32>,
    Option<u32>,
    &'a str,
);

fn identity(f: &Finding) -> Identity<'_> {
    (
        f.persona.as_str(),
        f.file.as_str(),
        f.line,
        f.column,
        f.end_line,
        f.end_column,
        f.fingerprint.as_str(),
    )
}

/// One report from two policies' reports of the same change set.
fn unite(first: Report, second: Report, threshold: Threshold, today: crate::date::Date) -> Report {
    // Personas: the first side's order, then the second's new ones.
    let mut personas: Vec<PersonaInfo> = first.personas.clone();
    for p in &second.personas {
        if !personas.iter().any(|q| q.name == p.name) {
            personas.push(p.clone());
        }
    }
    let position = |name: &str| {
        personas
            .iter()
            .position(|p| p.name == name)
            .unwrap_or(usize::MAX)
    };
    let truncated = first.summary.truncated.max(second.summary.truncated);
    let mut findings: Vec<Finding> = first.findings.into_iter().chain(second.findings).collect();
    // Of identical ones the more severe is kept, then the one that names
    // the commit that introduced it (one side judged the history).
    findings.sort_by(|a, b| {
        identity(a)
            .cmp(&identity(b))
            .then(b.severity.cmp(&a.severity))
            .then(b.commit.is_some().cmp(&a.commit.is_some()))
    });
    findings.dedup_by(|later, kept| identity(later) == identity(kept));
    for f in &mut findings {
        f.persona_index = position(&f.persona);
        f.blocking = f.blocks_under(threshold, today);
    }
    findings.sort_unstable_by(|a, b| a.full_key().cmp(&b.full_key()));
    let mut by_severity = BySeverity::default();
    for f in &findings {
        by_severity.add(f.severity);
    }
    let kept_blocking = findings.iter().filter(|f| f.blocking).count();
    let (a, b) = (&first.summary, &second.summary);
    let mut summary = a.clone();
    if truncated > 0 {
        // Past the cap the two sides' dropped findings cannot be matched
        // up: the counts are each side's largest (the verdict is exact).
        summary.findings = a.findings.max(b.findings);
        summary.blocking = a.blocking.max(b.blocking).max(kept_blocking);
        summary.by_severity = BySeverity {
            info: a.by_severity.info.max(b.by_severity.info),
            warning: a.by_severity.warning.max(b.by_severity.warning),
            error: a.by_severity.error.max(b.by_severity.error),
            critical: a.by_severity.critical.max(b.by_severity.critical),
        };
    } else {
        summary.findings = findings.len();
        summary.blocking = kept_blocking;
        summary.by_severity = by_severity;
    }
    summary.truncated = truncated;
    summary.files_scanned = a.files_scanned.max(b.files_scanned);
    summary.files_binary = a.files_binary.max(b.files_binary);
    summary.files_too_large = a.files_too_large.max(b.files_too_large);
    summary.commits = a.commits.max(b.commits);
    summary.suppressed = a.suppressed.min(b.suppressed);
    summary.baselined = a.baselined.max(b.baselined);
    summary.verdict = if summary.blocking > 0 { "fail" } else { "pass" };
    let mut skipped = first.skipped;
    skipped.extend(second.skipped);
    skipped.sort_by(|x, y| x.file.cmp(&y.file).then(x.reason.cmp(&y.reason)));
    skipped.dedup();
    let mut warnings = first.warnings;
    for w in second.warnings {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    let mut files: HashSet<String> = summary.policy.files.iter().cloned().collect();
    files.extend(second.summary.policy.files.iter().cloned());
    let mut files: Vec<String> = files.into_iter().collect();
    files.sort();
    summary.policy.changed = !files.is_empty();
    summary.policy.files = files;
    let mut markers = first.suppressions;
    markers.extend(second.suppressions);
    let (suppressions, [unused, expired, new]) = crate::finding::unite_markers(markers);
    summary.suppressions_unused = unused;
    summary.suppressions_expired = expired;
    summary.suppressions_new = new;
    Report {
        suppressions,
        personas,
        repo: first.repo,
        findings,
        skipped,
        summary,
        whole_files: first.whole_files,
        sarif_written: first.sarif_written,
        context: first.context,
        head_commit: first.head_commit,
        base_commit: first.base_commit,
        changeset: None,
        config_digest: if first.config_digest == second.config_digest {
            first.config_digest
        } else {
            format!("{}+{}", first.config_digest, second.config_digest)
        },
        link_base: None,
        warnings,
    }
}
