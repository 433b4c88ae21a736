//! `valve schema` is generated from the same key table as validation, so
//! it accepts exactly what valve accepts (SPEC §14). The committed
//! `schema/valve.schema.json` is what `valve schema` prints; the schema is
//! complete (a description on every key, enums for words); and on a corpus
//! of configs (tests/fixtures/schema-corpus) check-jsonschema's verdict
//! with the schema is valve's verdict.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Std;

use common::Fixture;
use serde_json::Value;

/// Configs used across the test suite, plus the seed, valve's own and the
/// `valve init` starter (added at run time).
const VALID: &[&str] = &[
    "personas:\n  Guardian:\n    filters: [\"src/**\"]\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n    message: Possible AWS key\n  Debris:\n    filters: [\"*.rs\"]\n    triggers: ['dbg!\\(']\n    severity: warning\n",
    "max_file_size: 64B\npersonas:\n  Any:\n    triggers: ['needle']\n  Path:\n    filters: ['*.bin']\n",
    "fail_on: { hook: critical, ci: warning, default: error }\npersonas:\n  W:\n    triggers: ['warnme']\n    severity: warning\n",
    "personas:\n  New:\n    filters: ['*.txt']\n    on: [added]\n",
    "ignore: ['vendor/**']\npersonas:\n  T:\n    triggers: ['TODO']\n",
    "personas:\n  A:\n    triggers: ['bad']\n  B:\n    triggers: ['bad']\n    allow_ignore: false\n",
    "personas:\n  K:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    redact: true\n",
    "personas:\n  K:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    history: true\n",
    "personas:\n  Todo:\n    triggers: ['TODO']\n    scope: file\n",
    "personas:\n  Every: {}\n",
    "personas:\n  Rs:\n    filters: ['*.rs']\n",
    "version: 1\nmax_file_size: 10485760\nfail_on: never\npersonas:\n  X:\n    severity: Warn\n    on: [Added, DELETED]\n    filters: 'src/**'\n",
    "personas:\n  K:\n    filters: ['*.ts']\n    triggers: ['AKIA']\n    examples:\n      fires: [{ path: a.ts, content: 'AKIA' }]\n      quiet: [{ path: a.ts }]\n",
];

/// Each is invalid for valve and must be invalid for the schema.
const INVALID: &[&str] = &[
    "personas:\n  A:\n    triger: ['x']\n",
    "persona:\n  A: {}\n",
    "personas:\n  A:\n    severity: critcal\n",
    "personas:\n  A:\n    on: [renamd]\n",
    "personas:\n  A:\n    scope: lines\n",
    "personas:\n  A:\n    history: often\n",
    "fail_on: { hook: error, push: warning }\npersonas: {}\n",
    "ignore: ['x']\n",
    "max_file_size: 10XB\npersonas: {}\n",
];

fn validate(files: &[std::path::PathBuf], schema: &Path) -> std::process::Output {
    Std::new("check-jsonschema")
        .arg("--schemafile")
        .arg(schema)
        .args(files)
        .output()
        .expect("check-jsonschema is installed (pip install check-jsonschema; .ci/run does it)")
}

#[test]
#[ignore = "needs check-jsonschema (.ci/run installs it)"]
fn schema_accepts_valid_configs_and_rejects_invalid_ones() {
    let f = Fixture::new();
    let out = f.valve(&["schema"]).output().expect("runs");
    assert!(out.status.success());
    let schema = f.path().join("valve.schema.json");
    std::fs::write(&schema, &out.stdout).expect("write");

    f.valve(&["init"]).assert().success();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut valid: Vec<String> = VALID.iter().map(|s| s.to_string()).collect();
    for extra in [
        manifest.join("tests/fixtures/seed-valve.yml"),
        manifest.join(".sage/valve.yml"),
        f.path().join(".sage/valve.yml"),
    ] {
        valid.push(std::fs::read_to_string(&extra).expect("readable config"));
    }
    let mut files = Vec::new();
    for (i, text) in valid.iter().enumerate() {
        let p = f.path().join(format!("valid-{i}.yml"));
        std::fs::write(&p, text).expect("write");
        // valve itself loads every one of them.
        f.valve(&["--config", p.to_str().unwrap_or(""), "personas"])
            .assert()
            .success();
        files.push(p);
    }
    let out = validate(&files, &schema);
    assert!(
        out.status.success(),
        "the schema rejects a valid config:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );

    for (i, text) in INVALID.iter().enumerate() {
        let p = f.path().join(format!("invalid-{i}.yml"));
        std::fs::write(&p, text).expect("write");
        f.valve(&["--config", p.to_str().unwrap_or(""), "personas"])
            .assert()
            .code(2);
        let out = validate(std::slice::from_ref(&p), &schema);
        assert!(
            !out.status.success(),
            "the schema accepts an invalid config:\n{text}"
        );
    }
}

#[test]
fn completions_for_every_shell() {
    let f = Fixture::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = f.valve(&["completions", shell]).output().expect("runs");
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("baseline") && text.contains("fail-on"),
            "{shell}"
        );
    }
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What `valve schema` prints, parsed.
fn printed_schema(f: &Fixture) -> (String, Value) {
    let out = f.valve(&["schema"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let value = serde_json::from_str(&text).expect("valve schema prints JSON");
    (text, value)
}

#[test]
fn the_committed_schema_is_what_valve_schema_prints() {
    let f = Fixture::new();
    let (text, _) = printed_schema(&f);
    let committed = std::fs::read_to_string(manifest().join("schema/valve.schema.json"))
        .expect("schema/valve.schema.json is committed");
    assert!(
        committed == text,
        "schema/valve.schema.json is stale: run `valve schema > schema/valve.schema.json`"
    );
}

/// Every object schema below `node`, with its JSON pointer.
fn objects<'a>(node: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match node {
        Value::Object(m) => {
            if m.contains_key("properties") {
                out.push((at.clone(), node));
            }
            for (k, v) in m {
                objects(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                objects(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Every `enum` word reachable from a property schema.
fn enum_words(node: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match node {
        Value::Object(m) => {
            if let Some(Value::Array(words)) = m.get("enum") {
                out.extend(words.iter().filter_map(|w| w.as_str().map(str::to_string)));
            }
            for v in m.values() {
                out.extend(enum_words(v));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| out.extend(enum_words(v))),
        _ => {}
    }
    out
}

#[test]
fn the_schema_is_complete() {
    let f = Fixture::new();
    let (_, schema) = printed_schema(&f);
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let id = schema["$id"].as_str().unwrap_or("");
    assert!(
        id.starts_with("https://") && id.ends_with("/schema/valve.schema.json"),
        "{id}"
    );
    let readme = std::fs::read_to_string(manifest().join("README.md")).expect("README");
    assert!(readme.contains(id), "the README names the schema's $id");
    assert!(schema["title"].is_string() && schema["description"].is_string());
    // `personas`, or `extends` naming files that have them (SPEC §12).
    assert_eq!(
        schema["allOf"],
        serde_json::json!([{ "anyOf": [{ "required": ["personas"] }, { "required": ["extends"] }] }])
    );

    let mut found = Vec::new();
    objects(&schema, String::new(), &mut found);
    // Top level, persona, fail_on contexts, examples, one example.
    assert!(found.len() >= 5, "{}", found.len());
    let mut properties = 0;
    for (at, object) in &found {
        assert_eq!(
            object["additionalProperties"], false,
            "{at} takes unknown keys"
        );
        assert!(
            object["patternProperties"]["^<<$"]["description"].is_string(),
            "{at} does not allow YAML merge keys"
        );
        for (name, property) in object["properties"].as_object().into_iter().flatten() {
            properties += 1;
            let about = property["description"].as_str().unwrap_or("");
            assert!(!about.is_empty(), "{at}/{name} has no description");
        }
    }
    assert!(properties >= 30, "{properties}");

    let personas = &schema["properties"]["personas"];
    assert!(personas["patternProperties"]["^<<$"].is_object());
    let persona = &personas["additionalProperties"]["anyOf"][1];
    let severity = enum_words(&persona["properties"]["severity"]);
    for word in [
        "info",
        "warning",
        "error",
        "critical",
        "note",
        "warn",
        "halt",
        "HALT_EVERYTHING",
    ] {
        assert!(
            severity.iter().any(|w| w == word),
            "severity completes {word}"
        );
    }
    let fail_on = &schema["properties"]["fail_on"];
    assert!(enum_words(fail_on).iter().any(|w| w == "never"));
    for context in ["hook", "ci", "watch", "default"] {
        let words = enum_words(&fail_on["anyOf"][1]["properties"][context]);
        assert!(words.iter().any(|w| w == "critical"), "fail_on.{context}");
    }
    assert_eq!(
        enum_words(&persona["properties"]["scope"]),
        ["changed", "file"]
    );
    assert_eq!(
        enum_words(&persona["properties"]["binary"]),
        ["skip", "scan"]
    );
    let on = enum_words(&persona["properties"]["on"]);
    for word in ["added", "modified", "renamed", "deleted"] {
        assert!(on.iter().any(|w| w == word), "on completes {word}");
    }
}

/// The corpus, sorted; a file's name prefix is its expected verdict:
/// `valid-` (both accept), `invalid-` (both reject), `semantic-` (valve
/// rejects what no JSON Schema can see: a bad glob or regex, a trigger
/// that matches the empty string, a YAML tag, NaN, a null key).
fn corpus() -> Vec<(String, PathBuf)> {
    let dir = manifest().join("tests/fixtures/schema-corpus");
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .expect("the corpus directory")
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| name.ends_with(".yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "the corpus has {} files", files.len());
    for (name, _) in &files {
        assert!(
            ["valid-", "invalid-", "semantic-"]
                .iter()
                .any(|p| name.starts_with(p)),
            "{name}: name a corpus file valid-, invalid- or semantic-"
        );
    }
    files
}

/// valve's verdict on a config: exit 0 accepts, 2 rejects.
fn valve_accepts(f: &Fixture, path: &Path) -> bool {
    let out = f
        .valve(&["--config", path.to_str().unwrap_or(""), "personas"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{}: {stderr}", path.display());
    match out.status.code() {
        Some(0) => true,
        Some(2) => false,
        other => panic!("{}: exit {other:?}\n{stderr}", path.display()),
    }
}

#[test]
fn valve_verdicts_on_the_corpus_follow_the_file_names() {
    let f = Fixture::new();
    for (name, path) in corpus() {
        assert_eq!(
            valve_accepts(&f, &path),
            name.starts_with("valid-"),
            "valve's verdict on {name}"
        );
    }
}

#[test]
#[ignore = "needs check-jsonschema (.ci/run installs it)"]
fn the_schema_agrees_with_valve_on_the_corpus() {
    let f = Fixture::new();
    let (text, _) = printed_schema(&f);
    let schema = f.path().join("valve.schema.json");
    std::fs::write(&schema, text).expect("write");
    let meta = Std::new("check-jsonschema")
        .arg("--check-metaschema")
        .arg(&schema)
        .output()
        .expect("check-jsonschema is installed (pip install check-jsonschema; .ci/run does it)");
    assert!(
        meta.status.success(),
        "{}",
        String::from_utf8_lossy(&meta.stdout)
    );
    // One run over the whole corpus; its JSON report names every file
    // that failed validation or did not parse.
    let files = corpus();
    let out = Std::new("check-jsonschema")
        .current_dir(manifest().join("tests/fixtures/schema-corpus"))
        .args(["--output-format", "json", "--schemafile"])
        .arg(&schema)
        .args(files.iter().map(|(name, _)| name))
        .output()
        .expect("check-jsonschema runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let rejected: Vec<&str> = ["errors", "parse_errors"]
        .iter()
        .flat_map(|k| report[*k].as_array().into_iter().flatten())
        .filter_map(|e| e["filename"].as_str())
        .collect();
    let mut wrong = Vec::new();
    for (name, path) in &files {
        let valve = valve_accepts(&f, path);
        let schema_accepts = !rejected.contains(&name.as_str());
        let expected = !name.starts_with("invalid-");
        if schema_accepts != expected || (valve != schema_accepts && !name.starts_with("semantic-"))
        {
            wrong.push(format!(
                "{name}: valve {}, schema {}",
                if valve { "accepts" } else { "rejects" },
                if schema_accepts { "accepts" } else { "rejects" },
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\n{}",
        wrong.join("\n"),
        String::from_utf8_lossy(&out.stdout)
    );
}
