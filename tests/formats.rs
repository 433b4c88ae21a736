//! `sarif`, `github` and `markdown`, and redaction in every format.
//! SARIF is validated with `check-jsonschema` (PyPI, installed by .ci/run)
//! against the official schema (a copy in tests/fixtures).

mod common;

use std::path::Path;
use std::process::Command as Std;

use common::{Fixture, normalize};
use predicates::prelude::*;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

fn varied_repo() -> Fixture {
    let f = Fixture::new();
    f.config(
        "max_file_size: 200B\npersonas:\n  Guardian:\n    filters: ['src/**']\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n    response: security-paranoid\n    message: Possible AWS key\n    tags: [security, cwe-798]\n    help_uri: https://example.com/secrets\n    allow_ignore: false\n  Auth:\n    security_severity: 4.5\n    description: Auth code moved or touched\n    filters: ['**/auth/**']\n    severity: warning\n  Todo:\n    triggers: ['TODO']\n",
    )
    .write("src/auth/login.ts", "export const login = () => 1;\n")
    .write("src/keep.txt", "x\n")
    .commit("init");
    f.git(&["mv", "src/auth/login.ts", "src/login.ts"]);
    f.write("src/a b,c:d.txt", &format!("key = {KEY}\nTODO later\n"));
    f.write_bytes("src/blob.bin", b"\0AKIA");
    f.write("src/big.txt", &"TODO ".repeat(60));
    f
}

fn run(f: &Fixture, args: &[&str]) -> (i32, String) {
    let out = f.valve(args).output().expect("valve runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
#[ignore = "needs check-jsonschema (.ci/run installs it)"]
fn sarif_validates_against_the_official_schema() {
    let f = varied_repo();
    let (code, text) = run(&f, &["check", "--format", "sarif"]);
    assert_eq!(code, 1);
    let path = f.path().join("out.sarif");
    std::fs::write(&path, &text).expect("write");
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json");
    let out = Std::new("check-jsonschema")
        .arg("--schemafile")
        .arg(&schema)
        .arg(&path)
        .output()
        .expect("check-jsonschema is installed (pip install check-jsonschema; .ci/run does it)");
    assert!(
        out.status.success(),
        "SARIF does not validate:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let run = &doc["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        rules,
        vec!["Guardian", "Auth", "Todo"],
        "one rule per persona, config order"
    );
    assert_eq!(
        run["tool"]["driver"]["rules"][0]["properties"]["triggers"][0],
        "AKIA[0-9A-Z]{16}"
    );
    let results = run["results"].as_array().cloned().unwrap_or_default();
    let level_of = |rule: &str| {
        results
            .iter()
            .find(|r| r["ruleId"] == rule)
            .map(|r| r["level"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(level_of("Guardian").as_deref(), Some("error"));
    assert_eq!(level_of("Auth").as_deref(), Some("warning"));
    assert_eq!(level_of("Todo").as_deref(), Some("note"));
    let key = results
        .iter()
        .find(|r| r["ruleId"] == "Guardian")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        key["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "src/a%20b%2Cc%3Ad.txt"
    );
    assert_eq!(
        key["locations"][0]["physicalLocation"]["region"]["startColumn"],
        7
    );
    assert_eq!(
        key["locations"][0]["physicalLocation"]["region"]["endColumn"],
        27
    );
    assert!(
        key["partialFingerprints"]["valve/v1"]
            .as_str()
            .is_some_and(|s| s.len() == 32)
    );
    let notes: Vec<String> = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["message"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        notes,
        vec![
            "skipped src/big.txt (too_large)",
            "skipped src/blob.bin (binary)"
        ]
    );
}

#[test]
fn github_annotations_are_escaped() {
    let f = varied_repo();
    let (code, text) = run(&f, &["check", "--format", "github"]);
    assert_eq!(code, 1);
    assert!(
        text.contains("::error file=src/a b%2Cc%3Ad.txt,line=1,col=7,endLine=1,endColumn=27,title=valve Guardian::critical: Possible AWS key"),
        "{text}"
    );
    assert!(
        text.contains("::warning file=src/login.ts,title=valve Auth::"),
        "{text}"
    );
    assert!(
        text.contains("::notice file=src/a b%2Cc%3Ad.txt,line=2,"),
        "{text}"
    );
    assert!(
        text.contains("not searched: src/big.txt (too_large), src/blob.bin (binary)"),
        "{text}"
    );
}

#[test]
fn github_message_data_is_escaped() {
    let f = Fixture::new();
    f.config("personas:\n  P:\n    triggers: ['x']\n    message: \"100% sure\\nsecond line\"\n")
        .write("a.txt", "x\n");
    let (_, text) = run(&f, &["check", "--all", "--format", "github"]);
    assert!(text.contains("::notice file=a.txt,line=1,col=1,endLine=1,endColumn=2,title=valve P::info: 100%25 sure%0Asecond line"), "{text}");
}

#[test]
fn github_budget_is_ten_lines_per_kind_counting_the_overflow() {
    let f = Fixture::new();
    f.config("personas:\n  E:\n    triggers: ['E']\n    severity: error\n  W:\n    triggers: ['W']\n    severity: warning\n  N:\n    triggers: ['N']\n");
    let body = format!(
        "{}{}{}",
        "E\n".repeat(25),
        "W\n".repeat(3),
        "N\n".repeat(12)
    );
    f.write("a.txt", &body);
    let (code, text) = run(&f, &["check", "--all", "--format", "github"]);
    assert_eq!(code, 1);
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        (
            count("::error file="),
            count("::warning file="),
            count("::notice file=")
        ),
        (9, 3, 9),
        "{text}"
    );
    assert_eq!(
        (count("::error "), count("::warning "), count("::notice ")),
        (10, 3, 10),
        "at most ten lines of each kind, overflow included:\n{text}"
    );
    let first = text.lines().next().unwrap_or("");
    assert!(first.starts_with("::error "), "most severe first: {first}");
    let overflow = |kind: &str| {
        text.lines()
            .filter(|l| l.starts_with(&format!("::{kind} title=valve::")))
            .collect::<Vec<_>>()
    };
    assert_eq!(overflow("warning").len(), 0, "{text}");
    let errors = overflow("error");
    assert_eq!(errors.len(), 1, "{text}");
    assert!(
        errors[0].contains("16 more error findings were not shown"),
        "{}",
        errors[0]
    );
    let notices = overflow("notice");
    assert_eq!(notices.len(), 1, "{text}");
    assert!(
        notices[0].contains("3 more notice findings were not shown"),
        "{}",
        notices[0]
    );
    assert!(notices[0].contains("job summary"), "says where to see them");
    // The overflow closes its kind: it follows that kind's nine annotations.
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("::error title=valve::"));
    assert_eq!(at, Some(9), "{text}");
}

#[test]
fn markdown_snapshot() {
    let f = varied_repo();
    let (code, text) = run(&f, &["check", "--format", "markdown"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(normalize(&text, f.path()));
}

#[test]
fn redaction_keeps_the_secret_out_of_every_format() {
    let f = Fixture::new();
    f.config("personas:\n  K:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: error\n    redact: true\n")
        .write("a.txt", &format!("key = {KEY}\n"));
    for format in ["human", "json", "ndjson", "sarif", "github", "markdown"] {
        let (code, text) = run(&f, &["check", "--all", "--format", format]);
        assert_eq!(code, 1, "{format}");
        assert!(!text.contains(KEY), "{format} leaked the secret:\n{text}");
    }
    f.config("personas:\n  K:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: error\n");
    for format in ["human", "json", "ndjson", "sarif", "github", "markdown"] {
        let (_, text) = run(&f, &["check", "--all", "--redact", "--format", format]);
        assert!(
            !text.contains(KEY),
            "--redact: {format} leaked the secret:\n{text}"
        );
        let (_, plain) = run(&f, &["check", "--all", "--format", format]);
        if format != "sarif" {
            assert!(
                plain.contains(KEY),
                "{format} shows the match when not redacted"
            );
        }
    }
}

#[test]
fn sarif_to_a_file_with_a_summary_on_stderr() {
    let f = varied_repo();
    f.valve(&["check", "--format", "sarif", "--output", "report.sarif"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("blocking").and(predicate::str::contains("report.sarif")));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.path().join("report.sarif")).expect("written"))
            .expect("json");
    assert_eq!(doc["version"], "2.1.0");
}

#[test]
fn one_run_writes_several_reports_and_the_github_overflow_points_to_sarif_when_written() {
    let f = Fixture::new();
    f.config("personas:\n  E:\n    triggers: ['E']\n    severity: error\n")
        .write("a.txt", &"E\n".repeat(12));
    let out = f
        .valve(&[
            "check",
            "--all",
            "--format",
            "github",
            "--report",
            "sarif=out/valve.sarif",
            "--report",
            "markdown=out/summary.md",
            "--report",
            "json=out/report.json",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let github = String::from_utf8_lossy(&out.stdout);
    assert!(github.contains("and so does the SARIF report"), "{github}");
    let sarif: serde_json::Value = serde_json::from_slice(
        &std::fs::read(f.path().join("out/valve.sarif")).expect("sarif written"),
    )
    .expect("sarif parses");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(12)
    );
    let md = std::fs::read_to_string(f.path().join("out/summary.md")).expect("markdown");
    assert!(md.contains("blocked"), "{md}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.path().join("out/report.json")).expect("json"))
            .expect("json parses");
    assert_eq!(json["summary"]["blocking"], 12);
    // Without a SARIF report the overflow line does not promise one.
    let plain = f
        .valve(&["check", "--all", "--format", "github"])
        .output()
        .expect("runs");
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("SARIF"));
    // A malformed --report is a usage error.
    f.valve(&["check", "--all", "--report", "sarif"])
        .assert()
        .code(2);
    f.valve(&["check", "--all", "--report", "xml=a.xml"])
        .assert()
        .code(2);
}

#[test]
fn sarif_rules_carry_code_scanning_metadata_and_every_result_a_region() {
    let f = varied_repo();
    let (_, text) = run(&f, &["check", "--format", "sarif"]);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let run = &doc["runs"][0];
    let rules = &run["tool"]["driver"]["rules"];
    let guardian = &rules[0];
    assert_eq!(
        guardian["properties"]["tags"],
        serde_json::json!(["valve", "security", "cwe-798"])
    );
    assert_eq!(
        guardian["properties"]["security-severity"], "9.5",
        "security tag, critical"
    );
    assert_eq!(guardian["helpUri"], "https://example.com/secrets");
    let help = guardian["help"]["markdown"].as_str().unwrap_or("");
    assert!(
        help.contains("Possible AWS key") && help.contains("AKIA"),
        "{help}"
    );
    assert!(
        !help.contains("valve:ignore"),
        "allow_ignore: false is never offered a suppression: {help}"
    );
    assert_eq!(
        rules[1]["properties"]["security-severity"], "4.5",
        "explicit score"
    );
    assert!(rules[2]["properties"].get("security-severity").is_none());
    assert_eq!(run["automationDetails"]["id"], "valve/default");
    for r in run["results"].as_array().into_iter().flatten() {
        let start = &r["locations"][0]["physicalLocation"]["region"]["startLine"];
        assert!(
            start.as_u64().is_some_and(|l| l >= 1),
            "every result has a region: {r}"
        );
    }
}

#[test]
fn sarif_keeps_at_most_25000_results_the_most_severe_first() {
    let f = Fixture::new();
    f.config("max_findings: 40000\npersonas:\n  Low:\n    triggers: ['l']\n  High:\n    triggers: ['h']\n    severity: critical\n")
        .write("a.txt", &"l\n".repeat(26_000))
        .write("b.txt", &"h\n".repeat(100));
    let (_, text) = run(&f, &["check", "--all", "--format", "sarif"]);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let run = &doc["runs"][0];
    let results = run["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 25_000);
    let high = results.iter().filter(|r| r["ruleId"] == "High").count();
    assert_eq!(high, 100, "the critical findings are all kept");
    let notes = run["invocations"][0]["toolExecutionNotifications"].to_string();
    assert!(
        notes.contains("1100 findings are not in this SARIF run"),
        "{notes}"
    );
}

#[test]
fn markdown_stays_under_a_mebibyte_lists_blocking_first_and_links_lines() {
    let f = Fixture::new();
    f.config("max_findings: 100000\npersonas:\n  Note:\n    triggers: ['n+']\n    scope: file\n  Stop:\n    triggers: ['STOP']\n    severity: error\n")
        .write("a.txt", &format!("{}\n", "n".repeat(200)).repeat(20_000))
        .write("z.txt", "STOP\n")
        .commit("init");
    f.write("z.txt", "STOP\nSTOP\n");
    f.write("a.txt", &format!("{}\n", "n".repeat(200)).repeat(20_001));
    f.commit("change");
    let out = f
        .valve(&["check", "--base", "HEAD~1", "--format", "markdown"])
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "octo/repo")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.len() < 1024 * 1024, "{} bytes", text.len());
    assert!(
        text.contains("not shown here (a job summary must stay under 1 MiB)"),
        "{}",
        &text[text.len().saturating_sub(2000)..]
    );
    assert!(!text.contains(" ms]"), "no timing in markdown");
    let first_row = text
        .lines()
        .find(|l| l.starts_with("| ❌") || l.starts_with("| ℹ️"))
        .unwrap_or("");
    assert!(first_row.starts_with("| ❌"), "blocking first: {first_row}");
    let head = f.git(&["rev-parse", "HEAD"]);
    assert!(
        text.contains(&format!(
            "(https://github.com/octo/repo/blob/{}/z.txt#L2)",
            head.trim()
        )),
        "links to the line at the judged commit"
    );
}
