//! SARIF 2.1.0 for code scanning: one rule per persona, one result per
//! finding, skips as tool execution notifications. Columns are Unicode code
//! points (`columnKind`), as valve counts them; ends are exclusive.

use std::io::{self, Write};

use serde_json::{Value, json};

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

fn rule(p: &PersonaInfo) -> Value {
    let text = p
        .description
        .clone()
        .or_else(|| p.message.clone())
        .unwrap_or_else(|| format!("valve persona {}", p.name));
    let mut properties = json!({
        "severity": p.severity.as_str(),
        "filters": p.filters,
        "triggers": p.triggers,
        "tags": ["valve"],
    });
    if let Some(r) = &p.response {
        properties["response"] = json!(r);
    }
    json!({
        "id": p.name,
        "name": p.name,
        "shortDescription": { "text": text },
        "fullDescription": { "text": p.message.clone().unwrap_or_else(|| text.clone()) },
        "defaultConfiguration": { "level": level(p.severity) },
        "help": { "text": format!("Declared in .sage/valve.yml. Silence a line with `valve:ignore[{}]` or record existing findings with `valve baseline`.", p.name) },
        "properties": properties,
    })
}

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
    }
    let text = match &f.matched {
        Some(m) => format!("{} ({}: `{}`)", f.message, f.persona, m),
        None => format!(
            "{} ({}: {} {})",
            f.message,
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
    let rules: Vec<Value> = report.personas.iter().map(rule).collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = report.personas.iter().position(|p| p.name == f.persona);
            result(f, index)
        })
        .collect();
    let mut notifications: Vec<Value> = Vec::new();
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
