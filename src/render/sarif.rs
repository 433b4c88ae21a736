//! SARIF 2.1.0 for code scanning: one rule per persona, one result per
//! finding, skips as tool execution notifications. Columns are Unicode code
//! points (`columnKind`), as valve counts them; ends are exclusive.

use std::io::{self, Write};

use serde_json::{Value, json};

use crate::escape::{markdown_code, markdown_text};
use crate::finding::{Finding, PersonaInfo, Report};
use crate::severity::Severity;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// SARIF levels: note/warning/error/error for info/warning/error/critical.
pub(super) fn level(s: Severity) -> &'static str {
    match s {
        Severity::Info => "note",
        Severity::Warning => "warning",
        Severity::Error | Severity::Critical => "error",
    }
}

/// Percent-encodes a repo-relative path for a URI reference.
pub(super) fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// GitHub's `security-severity` for a rule: the persona's own, else, for
/// a persona tagged `security`, one by severity (SPEC §13).
fn security_severity(p: &PersonaInfo) -> Option<String> {
    let score = p.security_severity.or_else(|| {
        p.tags
            .iter()
            .any(|t| t == "security")
            .then_some(match p.severity {
                Severity::Critical => 9.5,
                Severity::Error => 7.5,
                Severity::Warning => 5.0,
                Severity::Info => 2.0,
            })
    })?;
    Some(format!("{score:.1}"))
}

/// The rule's help in markdown: what it says, what wakes it, the fix.
fn help_markdown(p: &PersonaInfo) -> String {
    let mut md = String::new();
    if let Some(m) = &p.message {
        md.push_str(&format!("{}\n\n", markdown_text(m)));
    }
    if let Some(d) = &p.description {
        md.push_str(&format!("{}\n\n", markdown_text(d)));
    }
    if p.triggers.is_empty() {
        md.push_str("Fires when a changed path matches its filters.\n\n");
    } else {
        md.push_str("Triggers:\n\n");
        for t in &p.triggers {
            md.push_str(&format!("- {}\n", markdown_code(t, false)));
        }
        md.push('\n');
    }
    md.push_str("**Fix**: remove what matched");
    if p.allow_ignore {
        md.push_str(&format!(
            ", silence the line with `valve:ignore[{}]`",
            p.name.replace('`', "")
        ));
    }
    md.push_str(
        ", or record existing findings with `valve baseline`. Declared in `.sage/valve.yml`.",
    );
    if let Some(u) = &p.help_uri {
        md.push_str(&format!(" More: {}", markdown_code(u, false)));
    }
    md
}

fn rule(p: &PersonaInfo) -> Value {
    let text = p
        .description
        .clone()
        .or_else(|| p.message.clone())
        .unwrap_or_else(|| format!("valve persona {}", p.name));
    let mut tags = vec!["valve".to_string()];
    tags.extend(p.tags.iter().cloned());
    let mut properties = json!({
        "severity": p.severity.as_str(),
        "filters": p.filters,
        "triggers": p.triggers,
        "tags": tags,
    });
    if let Some(r) = &p.response {
        properties["response"] = json!(r);
    }
    if let Some(score) = security_severity(p) {
        properties["security-severity"] = json!(score);
    }
    let fix = if p.allow_ignore {
        format!(
            "Declared in .sage/valve.yml. Silence a line with `valve:ignore[{}]` or record existing findings with `valve baseline`.",
            p.name
        )
    } else {
        "Declared in .sage/valve.yml. This persona cannot be silenced inline; fix the finding or record existing ones with `valve baseline`.".to_string()
    };
    let mut rule = json!({
        "id": p.name,
        "name": p.name,
        "shortDescription": { "text": text },
        "fullDescription": { "text": p.message.clone().unwrap_or_else(|| text.clone()) },
        "defaultConfiguration": { "level": level(p.severity) },
        "help": { "text": fix, "markdown": help_markdown(p) },
        "properties": properties,
    });
    if let Some(u) = &p.help_uri {
        rule["helpUri"] = json!(u);
    }
    rule
}

/// GitHub code scanning rejects a run with more results than this.
const MAX_RESULTS: usize = 25_000;

fn result(f: &Finding, rule_index: Option<usize>) -> Value {
    let mut location = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri(&f.file), "uriBaseId": "SRCROOT" },
        }
    });
    if let (Some(line), Some(column), Some(end_line), Some(end_column)) =
        (f.line, f.column, f.end_line, f.end_column)
    {
        location["physicalLocation"]["region"] = json!({
            "startLine": line,
            "startColumn": column,
            "endLine": end_line,
            "endColumn": end_column,
        });
    } else {
        // Code scanning needs a region: a path-only finding is at line 1.
        location["physicalLocation"]["region"] = json!({ "startLine": 1 });
    }
    let message = f.message_with_notes();
    let text = match &f.matched {
        Some(m) => format!("{message} ({}: `{}`)", f.persona, m),
        None => format!(
            "{message} ({}: {} {})",
            f.persona,
            f.change.as_str(),
            f.file
        ),
    };
    let mut properties = json!({
        "severity": f.severity.as_str(),
        "blocking": f.blocking,
        "change": f.change,
        "reason": f.reason,
    });
    if let Some(r) = &f.response {
        properties["response"] = json!(r);
    }
    if let Some(old) = &f.old_file {
        properties["old_file"] = json!(old);
    }
    if let Some(t) = f.trigger {
        properties["trigger"] = json!(t);
    }
    if let Some(c) = &f.commit {
        properties["commit"] = json!(c);
    }
    // SPEC §11: who owns the file, and when a rolled-out rule blocks.
    properties["owners"] = json!(f.owners);
    if let Some(d) = f.enforced_from {
        properties["enforced_from"] = json!(d);
    }
    let mut r = json!({
        "ruleId": f.persona,
        "level": level(f.severity),
        "message": { "text": text },
        "locations": [location],
        "partialFingerprints": { "valve/v1": f.fingerprint },
        "properties": properties,
    });
    if let Some(i) = rule_index {
        r["ruleIndex"] = json!(i);
    }
    r
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // One rule per persona of the config; valve's own personas about
    // markers (SPEC §11) only when they found something.
    let described: Vec<&crate::finding::PersonaInfo> = report
        .personas
        .iter()
        .filter(|p| {
            !p.name.starts_with("valve:") || report.findings.iter().any(|f| f.persona == p.name)
        })
        .collect();
    let rules: Vec<Value> = described.iter().map(|p| rule(p)).collect();
    // The most severe first when not all fit; the kept ones in report order.
    let mut kept: Vec<&Finding> = report.findings.iter().collect();
    let dropped = kept.len().saturating_sub(MAX_RESULTS) + report.summary.truncated;
    if kept.len() > MAX_RESULTS {
        kept.sort_by_key(|f| std::cmp::Reverse(f.severity));
        kept.truncate(MAX_RESULTS);
        kept.sort_by(|a, b| a.full_key().cmp(&b.full_key()));
    }
    let results: Vec<Value> = kept
        .into_iter()
        .map(|f| {
            let index = described.iter().position(|p| p.name == f.persona);
            result(f, index)
        })
        .collect();
    let mut notifications: Vec<Value> = Vec::new();
    if dropped > 0 && report.findings.len() > MAX_RESULTS {
        notifications.push(json!({
            "level": "warning",
            "message": { "text": format!(
                "{dropped} findings are not in this SARIF run (GitHub accepts at most {MAX_RESULTS} results; the most severe are kept); the json report and `valve check` list them"
            ) },
        }));
    }
    for note in [super::policy_note(report), super::truncation_note(report)]
        .into_iter()
        .flatten()
    {
        notifications.push(json!({ "level": "warning", "message": { "text": note } }));
    }
    let skips = report.skipped.iter().map(|s| {
        json!({
            "level": "note",
            "message": { "text": format!("skipped {} ({})", s.file, s.reason.as_str()) },
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": { "uri": uri(&s.file), "uriBaseId": "SRCROOT" }
                }
            }],
            "properties": { "reason": s.reason.as_str() },
        })
    });
    notifications.extend(skips);
    let root = format!("file://{}/", uri(report.repo.trim_end_matches('/')));
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "valve",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/sage/valve",
                    "rules": rules,
                }
            },
            "originalUriBaseIds": { "SRCROOT": { "uri": root } },
            "automationDetails": { "id": format!("valve/{}", report.context) },
            "columnKind": "unicodeCodePoints",
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
                "properties": {
                    "fail_on": report.summary.fail_on,
                    "blocking": report.summary.blocking,
                    "verdict": report.summary.verdict,
                    "truncated": report.summary.truncated,
                    "policy": report.summary.policy,
                },
            }],
            "results": results,
        }]
    });
    crate::escape::json_to_writer(out, &doc, true)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encodes_what_is_not_a_path_character() {
        assert_eq!(uri("src/a b#c.ts"), "src/a%20b%23c.ts");
        assert_eq!(uri("ok/é.rs"), "ok/%C3%A9.rs");
    }

    #[test]
    fn levels_follow_the_spec() {
        assert_eq!(level(Severity::Info), "note");
        assert_eq!(level(Severity::Warning), "warning");
        assert_eq!(level(Severity::Error), "error");
        assert_eq!(level(Severity::Critical), "error");
    }
}
