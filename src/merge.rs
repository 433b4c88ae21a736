//! `valve merge` (SPEC §12): one report and one verdict from the json
//! reports of the shards of a CI matrix, or of any runs of one change set.
//!
//! Shards partition the changed files, so their counts add up; other runs
//! of the same change set overlap, so their counts are the largest. Either
//! way findings are united (the same finding once, at its highest
//! severity), sorted as check sorts them, and judged again under the
//! strictest threshold among the reports.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::date::Date;
use crate::error::{Error, Result};
use crate::finding::{
    BySeverity, ChangeKind, Changeset, Finding, PersonaInfo, PolicyInfo, Reason, Report, Skip,
    SkipReason, Stage, Summary, SuppressionRecord,
};
use crate::severity::{Severity, Threshold};

/// Reads the reports and unites them.
pub fn merge_files(paths: &[PathBuf], today: Date) -> Result<Report> {
    let mut reports = Vec::new();
    for path in paths {
        let bytes = crate::ownfile::read_input(path)?;
        reports.push(parse(path, &bytes)?);
    }
    merge(reports, today)
}

/// One report as `--format json` wrote it.
#[derive(Deserialize)]
struct JsonReport {
    version: u32,
    findings: Vec<JsonFinding>,
    skipped: Vec<JsonSkip>,
    summary: JsonSummary,
    #[serde(default)]
    warnings: Vec<String>,
    changeset: Option<Changeset>,
    #[serde(default)]
    personas: Vec<JsonPersona>,
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    suppressions: Vec<JsonMarker>,
}

#[derive(Deserialize)]
struct JsonMarker {
    file: String,
    line: u32,
    personas: Vec<String>,
    reason: Option<String>,
    until: Option<String>,
    used: Vec<String>,
    expired: bool,
    new: bool,
    applied: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
struct JsonFinding {
    persona: String,
    severity: String,
    response: Option<String>,
    message: String,
    repo: String,
    file: String,
    old_file: Option<String>,
    change: String,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    reason: String,
    line: Option<u32>,
    column: Option<u32>,
    end_line: Option<u32>,
    end_column: Option<u32>,
    #[serde(rename = "match")]
    matched: Option<String>,
    trigger: Option<usize>,
    fingerprint: String,
    #[serde(default)]
    enforced_from: Option<String>,
    #[serde(default)]
    owners: Vec<String>,
    #[serde(default)]
    notes: Vec<String>,
    timestamp: u64,
}

#[derive(Deserialize)]
struct JsonSkip {
    file: String,
    reason: String,
}

#[derive(Deserialize)]
struct JsonSummary {
    files_changed: usize,
    files_scanned: usize,
    files_binary: usize,
    files_too_large: usize,
    #[serde(default)]
    commits: usize,
    findings: usize,
    #[serde(default)]
    truncated: usize,
    suppressed: usize,
    baselined: usize,
    by_severity: BySeverity,
    blocking: usize,
    fail_on: String,
    fail_on_source: String,
    duration_ms: u64,
    policy: JsonPolicy,
    #[serde(default)]
    shard: Option<String>,
}

#[derive(Deserialize)]
struct JsonPolicy {
    mode: String,
    files: Vec<String>,
}

#[derive(Deserialize)]
struct JsonPersona {
    name: String,
    severity: String,
    description: Option<String>,
    message: Option<String>,
    response: Option<String>,
    #[serde(default)]
    filters: Vec<String>,
    #[serde(default)]
    triggers: Vec<String>,
    #[serde(default)]
    redact: bool,
    #[serde(default = "yes")]
    allow_ignore: bool,
    #[serde(default)]
    tags: Vec<String>,
    security_severity: Option<f64>,
    help_uri: Option<String>,
}

fn yes() -> bool {
    true
}

impl<'de> Deserialize<'de> for BySeverity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Counts {
            info: usize,
            warning: usize,
            error: usize,
            critical: usize,
        }
        let c = Counts::deserialize(d)?;
        Ok(BySeverity {
            info: c.info,
            warning: c.warning,
            error: c.error,
            critical: c.critical,
        })
    }
}

/// A report read back, with what merging needs beside it.
struct Read {
    path: PathBuf,
    changeset: Changeset,
    shard: Option<(u64, u64)>,
    threshold: Threshold,
    report: Report,
}

fn not_a_report(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::usage(
        format!("{} is not a valve json report: {why}", path.display()),
        Some("merge the reports that `valve check --format json` wrote".to_string()),
    )
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Read> {
    let doc: JsonReport = serde_json::from_slice(bytes).map_err(|e| not_a_report(path, e))?;
    if doc.version != 1 {
        return Err(not_a_report(path, format!("version {}", doc.version)));
    }
    let changeset = doc.changeset.ok_or_else(|| {
        not_a_report(
            path,
            "it has no `changeset` (written by a valve older than `valve merge`)",
        )
    })?;
    let bad = |what: &str, word: &str| not_a_report(path, format!("unknown {what} `{word}`"));
    let threshold = Threshold::parse(&doc.summary.fail_on)
        .ok_or_else(|| bad("threshold", &doc.summary.fail_on))?;
    let mut personas = Vec::new();
    for p in doc.personas {
        personas.push(PersonaInfo {
            severity: Severity::parse(&p.severity).ok_or_else(|| bad("severity", &p.severity))?,
            name: p.name,
            description: p.description,
            message: p.message,
            response: p.response,
            filters: p.filters,
            triggers: p.triggers,
            redact: p.redact,
            allow_ignore: p.allow_ignore,
            tags: p.tags,
            security_severity: p.security_severity,
            help_uri: p.help_uri,
        });
    }
    let mut findings = Vec::new();
    for f in doc.findings {
        let severity = Severity::parse(&f.severity).ok_or_else(|| bad("severity", &f.severity))?;
        let change = ChangeKind::parse(&f.change).ok_or_else(|| bad("change", &f.change))?;
        let reason = Reason::parse(&f.reason).ok_or_else(|| bad("reason", &f.reason))?;
        let enforced_from = match &f.enforced_from {
            None => None,
            Some(d) => Some(Date::parse(d).map_err(|e| not_a_report(path, e))?),
        };
        let stage = match f.stage.as_deref() {
            None => None,
            Some("staged") => Some(Stage::Staged),
            Some("unstaged") => Some(Stage::Unstaged),
            Some("index_only") => Some(Stage::IndexOnly),
            Some(other) => return Err(bad("stage", other)),
        };
        let persona = personas.iter().find(|p| p.name == f.persona);
        findings.push(Finding {
            kind: "finding",
            persona_index: usize::MAX,
            can_ignore: persona.is_none_or(|p| p.allow_ignore),
            snippet: None,
            blocking: false,
            persona: f.persona,
            severity,
            response: f.response,
            message: f.message,
            repo: f.repo,
            file: f.file,
            old_file: f.old_file,
            change,
            commit: f.commit,
            stage,
            reason,
            line: f.line,
            column: f.column,
            end_line: f.end_line,
            end_column: f.end_column,
            matched: f.matched,
            trigger: f.trigger,
            fingerprint: f.fingerprint,
            enforced_from,
            owners: f.owners,
            notes: f.notes,
            timestamp: f.timestamp,
        });
    }
    let mut skipped = Vec::new();
    for s in doc.skipped {
        let reason = SkipReason::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s.reason)
            .ok_or_else(|| bad("skip reason", &s.reason))?;
        skipped.push(Skip {
            file: s.file,
            reason,
        });
    }
    let mut markers = Vec::new();
    for m in doc.suppressions {
        let until = match &m.until {
            None => None,
            Some(d) => Some(Date::parse(d).map_err(|e| not_a_report(path, e))?),
        };
        markers.push(SuppressionRecord {
            file: m.file,
            line: m.line,
            personas: m.personas,
            reason: m.reason,
            until,
            used: m.used,
            expired: m.expired,
            new: m.new,
            applied: m.applied,
            error: m.error,
        });
    }
    let shard = match &doc.summary.shard {
        None => None,
        Some(text) => {
            let s = crate::shard::Shard::parse(text).map_err(|e| not_a_report(path, e))?;
            Some((s.index, s.count))
        }
    };
    let mode = match doc.summary.policy.mode.as_str() {
        "head" => "head",
        "base" => "base",
        "both" => "both",
        other => return Err(bad("policy mode", other)),
    };
    let context = match doc.context.as_deref() {
        Some("hook") => "hook",
        Some("ci") => "ci",
        Some("watch") => "watch",
        _ => "default",
    };
    let s = doc.summary;
    let summary = Summary {
        kind: "summary",
        files_changed: s.files_changed,
        files_scanned: s.files_scanned,
        files_binary: s.files_binary,
        files_too_large: s.files_too_large,
        commits: s.commits,
        findings: s.findings,
        truncated: s.truncated,
        suppressed: s.suppressed,
        baselined: s.baselined,
        by_severity: s.by_severity,
        blocking: s.blocking,
        fail_on: threshold,
        fail_on_source: s.fail_on_source,
        verdict: if s.blocking > 0 { "fail" } else { "pass" },
        duration_ms: s.duration_ms,
        policy: PolicyInfo {
            mode,
            changed: !s.policy.files.is_empty(),
            files: s.policy.files,
        },
        shard: None,
        suppressions_unused: 0,
        suppressions_expired: 0,
        suppressions_new: 0,
    };
    let whole_files = matches!(changeset.mode.as_str(), "all" | "paths");
    let head_commit = (changeset.mode == "range")
        .then(|| changeset.head.clone())
        .flatten();
    let report = Report {
        personas,
        repo: findings.first().map(|f| f.repo.clone()).unwrap_or_default(),
        findings,
        skipped,
        summary,
        whole_files,
        warnings: doc.warnings,
        sarif_written: false,
        context,
        head_commit,
        base_commit: changeset.base.clone(),
        config_digest: changeset.config.clone(),
        changeset: Some(changeset.clone()),
        suppressions: markers,
        link_base: None,
    };
    Ok(Read {
        path: path.to_path_buf(),
        changeset,
        shard,
        threshold,
        report,
    })
}

/// Whether the reports are the shards `1..=N` of one matrix, each once:
/// then they partition the changed files and their counts add up.
fn are_shards(reads: &[Read]) -> bool {
    let Some(count) = reads.first().and_then(|r| r.shard.map(|s| s.1)) else {
        return false;
    };
    let mut seen = HashSet::new();
    reads.iter().all(|r| match r.shard {
        Some((index, n)) => n == count && seen.insert(index),
        None => false,
    })
}

fn merge(reads: Vec<Read>, today: Date) -> Result<Report> {
    let Some(first) = reads.first() else {
        return Err(Error::usage(
            "valve merge needs at least one report",
            Some("name the json reports: valve merge shard-1.json shard-2.json".to_string()),
        ));
    };
    for r in &reads[1..] {
        if r.changeset.id != first.changeset.id {
            return Err(Error::usage(
                format!(
                    "{} and {} judged different change sets ({} {} vs {} {})",
                    first.path.display(),
                    r.path.display(),
                    first.changeset.mode,
                    describe(&first.changeset),
                    r.changeset.mode,
                    describe(&r.changeset),
                ),
                Some(
                    "merge only the reports of one run: the same mode, commits and config"
                        .to_string(),
                ),
            ));
        }
    }
    let shards = are_shards(&reads);
    let strictest = reads
        .iter()
        .min_by_key(|r| r.threshold.strictness())
        .map(|r| (r.threshold, r.report.summary.fail_on_source.clone()))
        .unwrap_or((
            Threshold::AtLeast(Severity::Error),
            "the default".to_string(),
        ));
    let (threshold, source) = strictest;
    let same_threshold = reads.iter().all(|r| r.threshold == threshold);
    let add = |pick: fn(&Summary) -> usize| -> usize {
        let values = reads.iter().map(|r| pick(&r.report.summary));
        if shards {
            values.sum()
        } else {
            values.max().unwrap_or(0)
        }
    };
    let files_changed = reads
        .iter()
        .map(|r| r.report.summary.files_changed)
        .max()
        .unwrap_or(0);
    let files_scanned = add(|s| s.files_scanned);
    let files_binary = add(|s| s.files_binary);
    let files_too_large = add(|s| s.files_too_large);
    let suppressed = add(|s| s.suppressed);
    let baselined = add(|s| s.baselined);
    let truncated = add(|s| s.truncated);
    let commits = reads
        .iter()
        .map(|r| r.report.summary.commits)
        .max()
        .unwrap_or(0);
    let duration_ms = reads
        .iter()
        .map(|r| r.report.summary.duration_ms)
        .max()
        .unwrap_or(0);
    let summed_by_severity = {
        let mut b = BySeverity::default();
        for r in &reads {
            b.merge(&r.report.summary.by_severity);
        }
        b
    };
    let summed_findings = add(|s| s.findings);
    let summed_blocking = add(|s| s.blocking);

    let mut personas: Vec<PersonaInfo> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut policy_files: Vec<String> = Vec::new();
    let mut findings: Vec<Finding> = Vec::new();
    let mut skipped: Vec<Skip> = Vec::new();
    let mut markers: Vec<SuppressionRecord> = Vec::new();
    let mode = first.report.summary.policy.mode;
    let context = first.report.context;
    let changeset = first.changeset.clone();
    let repo = first.report.repo.clone();
    let head_commit = first.report.head_commit.clone();
    for r in reads {
        let report = r.report;
        for p in report.personas {
            if !personas.iter().any(|q| q.name == p.name) {
                personas.push(p);
            }
        }
        for w in report.warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        policy_files.extend(report.summary.policy.files);
        findings.extend(report.findings);
        skipped.extend(report.skipped);
        markers.extend(report.suppressions);
    }
    let (suppressions, [unused, expired, new]) = crate::finding::unite_markers(markers);
    policy_files.sort();
    policy_files.dedup();
    skipped.sort_by(|a, b| a.file.cmp(&b.file).then(a.reason.cmp(&b.reason)));
    skipped.dedup();
    // The same finding in two reports once, at its highest severity.
    findings.sort_by(|a, b| {
        identity(a)
            .cmp(&identity(b))
            .then(b.severity.cmp(&a.severity))
    });
    findings.dedup_by(|later, kept| identity(later) == identity(kept));
    for f in &mut findings {
        f.persona_index = personas
            .iter()
            .position(|p| p.name == f.persona)
            .unwrap_or(usize::MAX);
        f.blocking = f.blocks_under(threshold, today);
    }
    findings.sort_unstable_by(|a, b| a.full_key().cmp(&b.full_key()));
    let kept_blocking = findings.iter().filter(|f| f.blocking).count();
    let (total, by_severity, blocking) = if truncated == 0 {
        let mut b = BySeverity::default();
        for f in &findings {
            b.add(f.severity);
        }
        (findings.len(), b, kept_blocking)
    } else if shards {
        // Past a shard's cap its dropped findings are only counted: the
        // counts add up, and blocking is exact when the thresholds agree.
        let blocking = if same_threshold {
            summed_blocking
        } else {
            kept_blocking.max(summed_blocking)
        };
        (summed_findings, summed_by_severity, blocking)
    } else {
        (
            summed_findings.max(findings.len()),
            summed_by_severity,
            kept_blocking.max(summed_blocking),
        )
    };
    let summary = Summary {
        kind: "summary",
        files_changed,
        files_scanned,
        files_binary,
        files_too_large,
        commits,
        findings: total,
        truncated,
        suppressed,
        baselined,
        by_severity,
        blocking,
        fail_on: threshold,
        fail_on_source: source,
        verdict: if blocking > 0 { "fail" } else { "pass" },
        duration_ms,
        policy: PolicyInfo {
            mode,
            changed: !policy_files.is_empty(),
            files: policy_files,
        },
        shard: None,
        suppressions_unused: unused,
        suppressions_expired: expired,
        suppressions_new: new,
    };
    Ok(Report {
        personas,
        repo,
        findings,
        skipped,
        summary,
        whole_files: matches!(changeset.mode.as_str(), "all" | "paths"),
        warnings,
        sarif_written: false,
        context,
        head_commit,
        base_commit: changeset.base.clone(),
        config_digest: changeset.config.clone(),
        changeset: Some(changeset),
        suppressions,
        link_base: None,
    })
}

/// A finding's identity across reports.
type Identity<'a> = (
    &'a str,
    &'a str,
    Option<u32>,
    Option<u32>,
    Option<usize>,
    Option<u32>,
    Option<u32>,
    &'a str,
    Option<&'a str>,
);

fn identity(f: &Finding) -> Identity<'_> {
    (
        f.file.as_str(),
        f.persona.as_str(),
        f.line,
        f.column,
        f.trigger,
        f.end_line,
        f.end_column,
        f.fingerprint.as_str(),
        f.commit.as_deref(),
    )
}

fn describe(c: &Changeset) -> String {
    let short = |id: &Option<String>| {
        id.as_deref()
            .map(|s| s.get(..7).unwrap_or(s).to_string())
            .unwrap_or_else(|| "-".to_string())
    };
    format!(
        "{}..{}, config {}",
        short(&c.base),
        short(&c.head),
        c.config
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(shard: Option<(u64, u64)>) -> Read {
        let changeset = Changeset::new("all", None, None, Vec::new(), "c".to_string());
        Read {
            path: PathBuf::from("r.json"),
            changeset: changeset.clone(),
            shard,
            threshold: Threshold::AtLeast(Severity::Error),
            report: Report {
                personas: Vec::new(),
                repo: String::new(),
                findings: Vec::new(),
                skipped: Vec::new(),
                summary: Summary {
                    kind: "summary",
                    files_changed: 0,
                    files_scanned: 0,
                    files_binary: 0,
                    files_too_large: 0,
                    commits: 0,
                    findings: 0,
                    truncated: 0,
                    suppressed: 0,
                    baselined: 0,
                    by_severity: BySeverity::default(),
                    blocking: 0,
                    fail_on: Threshold::AtLeast(Severity::Error),
                    fail_on_source: String::new(),
                    verdict: "pass",
                    duration_ms: 0,
                    policy: PolicyInfo {
                        mode: "head",
                        changed: false,
                        files: Vec::new(),
                    },
                    shard: None,
                    suppressions_unused: 0,
                    suppressions_expired: 0,
                    suppressions_new: 0,
                },
                whole_files: true,
                warnings: Vec::new(),
                sarif_written: false,
                context: "default",
                head_commit: None,
                base_commit: None,
                config_digest: "c".to_string(),
                changeset: Some(changeset),
                suppressions: Vec::new(),
                link_base: None,
            },
        }
    }

    #[test]
    fn shards_are_each_index_of_one_count_once() {
        assert!(are_shards(&[read(Some((1, 2))), read(Some((2, 2)))]));
        assert!(are_shards(&[read(Some((2, 3)))]));
        assert!(!are_shards(&[read(Some((1, 2))), read(Some((1, 2)))]));
        assert!(!are_shards(&[read(Some((1, 2))), read(Some((2, 3)))]));
        assert!(!are_shards(&[read(Some((1, 2))), read(None)]));
        assert!(!are_shards(&[read(None)]));
    }

    #[test]
    fn not_json_or_not_valve_is_refused() {
        let p = Path::new("x.json");
        assert!(parse(p, b"not json").is_err());
        assert!(parse(p, br#"{"version":1}"#).is_err());
        assert!(parse(p, br#"{"a":[1,2]}"#).is_err());
    }
}
