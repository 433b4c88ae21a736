//! The JSON Schema of valve.yml, for editors (`valve schema`). It mirrors
//! what `config.rs` accepts; tests validate every config they use with it.

use serde_json::{Value, json};

use crate::finding::ChangeKind;
use crate::severity::SEVERITY_WORDS;

/// A pattern matching any of `words`, case-insensitively (JSON Schema
/// regexes have no `(?i)`).
fn case_insensitive(words: &[&str]) -> String {
    let alternatives: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^({})$", alternatives.join("|"))
}

fn globs(description: &str) -> Value {
    json!({
        "description": description,
        "oneOf": [
            { "type": "array", "items": { "type": "string", "minLength": 1 } },
            { "type": "string", "minLength": 1 }
        ]
    })
}

/// The schema document.
pub fn schema() -> Value {
    let severity = json!({
        "type": "string",
        "pattern": case_insensitive(SEVERITY_WORDS),
        "description": "info (default) | warning | error | critical; aliases note, warn, halt, HALT_EVERYTHING; case-insensitive"
    });
    let mut thresholds: Vec<&str> = SEVERITY_WORDS.to_vec();
    thresholds.push("never");
    let threshold = json!({ "type": "string", "pattern": case_insensitive(&thresholds) });
    let example = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["path"],
        "properties": {
            "path": { "type": "string" },
            "content": { "type": "string" }
        }
    });
    let persona = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "description": { "type": "string" },
            "filters": globs("path globs the persona takes; absent = every path"),
            "exclude": globs("path globs removed from filters"),
            "triggers": {
                "description": "Rust regexes over the whole file (multi-line); absent = the path alone fires",
                "oneOf": [
                    { "type": "array", "items": { "type": "string" } },
                    { "type": "string" }
                ]
            },
            "response": { "type": "string" },
            "severity": severity,
            "message": { "type": "string" },
            "scope": { "enum": ["changed", "file"] },
            "on": {
                "type": "array",
                "items": { "type": "string", "pattern": case_insensitive(ChangeKind::WORDS) }
            },
            "redact": { "type": "boolean" },
            "allow_ignore": { "type": "boolean" },
            "tags": {
                "description": "carried into SARIF rule properties (e.g. security, cwe-798)",
                "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }]
            },
            "security_severity": {
                "description": "SARIF security-severity, 0.0 to 10.0",
                "type": "number", "minimum": 0, "maximum": 10
            },
            "help_uri": { "description": "SARIF helpUri, linked in markdown", "type": "string" },
            "binary": {
                "description": "skip (default): triggers do not run on binary files; scan: they do, columns in bytes",
                "enum": ["skip", "scan"]
            },
            "history": {
                "description": "in --base mode, judge every commit of the range (each against its first parent) instead of the net change, so a secret added and removed inside the range is still found",
                "type": "boolean"
            },
            "examples": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "fires": { "type": "array", "items": example.clone() },
                    "quiet": { "type": "array", "items": example }
                }
            },
            "schedule": { "description": "seed field: accepted and ignored" }
        }
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/sage/valve/valve.schema.json",
        "title": "valve personas (.sage/valve.yml)",
        "type": "object",
        "additionalProperties": false,
        "required": ["personas"],
        "properties": {
            "version": { "description": "only 1 exists", "enum": [1, "1"] },
            "ignore": globs("paths never evaluated (gitignore-style globs)"),
            "max_file_size": {
                "description": "bytes, or a number with B, KB, KiB, MB, MiB, GB, GiB",
                "oneOf": [
                    { "type": "integer", "minimum": 0 },
                    { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(B|KB|KiB|MB|MiB|GB|GiB)?$" }
                ]
            },
            "max_findings": {
                "description": "findings kept in a report (default 10000); the rest are counted in summary.truncated",
                "type": "integer",
                "minimum": 1
            },
            "fail_on": {
                "description": "blocking threshold, one for all contexts or one per context",
                "oneOf": [
                    threshold.clone(),
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "hook": threshold.clone(),
                            "ci": threshold.clone(),
                            "watch": threshold.clone(),
                            "default": threshold
                        }
                    }
                ]
            },
            "personas": {
                "type": "object",
                "propertyNames": { "minLength": 1 },
                "additionalProperties": {
                    "oneOf": [
                        { "type": "null" },
                        persona
                    ]
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_pattern() {
        let p = case_insensitive(&["warn", "HALT_EVERYTHING"]);
        assert_eq!(
            p,
            "^([wW][aA][rR][nN]|[hH][aA][lL][tT]_[eE][vV][eE][rR][yY][tT][hH][iI][nN][gG])$"
        );
    }
}
