//! `--persona NAME` and `--min-severity LEVEL` (SPEC §14): they limit what
//! is judged in every format, and the counts, verdict and exit code follow
//! the filtered set.

mod common;

use common::{Fixture, hits};
use predicates::prelude::*;

const CONFIG: &str = r#"
personas:
  Guardian:
    filters: ["src/**"]
    triggers: ['AKIA[0-9A-Z]{16}']
    severity: critical
  Debris:
    filters: ["*.rs"]
    triggers: ['dbg!\(']
    severity: warning
  Notes:
    filters: ["docs/**"]
    severity: info
"#;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

/// A repo with one change for each persona, uncommitted.
fn repo() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG).write("README", "r\n").commit("init");
    f.write("src/a.txt", &format!("k = {KEY}\n"))
        .write("src/lib.rs", "fn f() { dbg!(1); }\n")
        .write("docs/guide.md", "hello\n");
    f
}

fn personas_of(report: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = hits(report).into_iter().map(|h| h.0).collect();
    names.dedup();
    names
}

#[test]
fn persona_limits_findings_counts_and_the_verdict() {
    let f = repo();
    let all = f.json(&["--worktree"]);
    assert_eq!(all["summary"]["findings"], 3);
    assert_eq!(all["summary"]["verdict"], "fail");
    assert_eq!(all["summary"]["files_scanned"], 3);

    // Guardian (critical, blocking) is not judged: Debris alone passes.
    let only = f.json(&["--worktree", "--persona", "Debris"]);
    assert_eq!(personas_of(&only), ["Debris"]);
    assert_eq!(only["summary"]["findings"], 1);
    assert_eq!(only["summary"]["by_severity"]["critical"], 0);
    assert_eq!(only["summary"]["by_severity"]["warning"], 1);
    assert_eq!(only["summary"]["blocking"], 0);
    assert_eq!(only["summary"]["verdict"], "pass");
    // Files count for the judging personas only.
    assert_eq!(only["summary"]["files_scanned"], 1);
    f.valve(&["check", "--worktree", "--persona", "Debris"])
        .assert()
        .code(0);
    f.valve(&["check", "--worktree", "--persona", "Guardian"])
        .assert()
        .code(1);
}

#[test]
fn persona_is_repeatable() {
    let f = repo();
    let two = f.json(&["--worktree", "--persona", "Notes", "--persona", "Debris"]);
    assert_eq!(personas_of(&two), ["Notes", "Debris"]);
    assert_eq!(two["summary"]["findings"], 2);
}

#[test]
fn min_severity_drops_the_personas_below_it() {
    let f = repo();
    let warn = f.json(&["--worktree", "--min-severity", "warning"]);
    assert_eq!(personas_of(&warn), ["Guardian", "Debris"]);
    assert_eq!(warn["summary"]["by_severity"]["info"], 0);
    let crit = f.json(&["--worktree", "--min-severity", "critical"]);
    assert_eq!(personas_of(&crit), ["Guardian"]);
    // Aliases are accepted as everywhere else.
    let halt = f.json(&["--worktree", "--min-severity", "HALT_EVERYTHING"]);
    assert_eq!(personas_of(&halt), ["Guardian"]);
    // Both together: the intersection.
    let none = f.json(&[
        "--worktree",
        "--min-severity",
        "error",
        "--persona",
        "Debris",
    ]);
    assert_eq!(none["summary"]["findings"], 0);
    assert_eq!(none["summary"]["verdict"], "pass");
}

#[test]
fn the_filter_applies_in_every_format() {
    let f = repo();
    let args = ["check", "--worktree", "--persona", "Debris"];
    let run = |format: &str| {
        let mut all = args.to_vec();
        all.extend(["--format", format]);
        let out = f.valve(&all).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{format}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let human = run("human");
    assert!(
        human.contains("Debris") && !human.contains("Guardian"),
        "{human}"
    );
    let ndjson = run("ndjson");
    assert_eq!(
        ndjson.lines().filter(|l| l.contains("\"finding\"")).count(),
        1
    );
    let sarif: serde_json::Value = serde_json::from_str(&run("sarif")).expect("sarif");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "Debris");
    let github = run("github");
    assert!(
        github.contains("valve Debris") && !github.contains("Guardian"),
        "{github}"
    );
    let markdown = run("markdown");
    assert!(
        markdown.contains("Debris") && !markdown.contains("AKIA"),
        "{markdown}"
    );
}

#[test]
fn an_unknown_persona_is_a_usage_error_with_a_suggestion() {
    let f = repo();
    f.valve(&["check", "--worktree", "--persona", "Debriss"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Debriss"))
        .stderr(predicate::str::contains("--persona Debris"));
}

#[test]
fn staged_all_and_paths_are_filtered_too() {
    let f = repo();
    f.stage(&["src/a.txt", "src/lib.rs"]);
    let staged = f.json(&["--staged", "--persona", "Debris"]);
    assert_eq!(personas_of(&staged), ["Debris"]);
    let all = f.json(&["--all", "--persona", "Guardian"]);
    assert_eq!(personas_of(&all), ["Guardian"]);
    assert_eq!(all["summary"]["files_scanned"], 2);
    let paths = f.json(&["--min-severity", "critical", "src"]);
    assert_eq!(personas_of(&paths), ["Guardian"]);
}

#[test]
fn a_range_accepts_a_persona_only_the_head_adds() {
    let f = Fixture::new();
    f.config(CONFIG).write("README", "r\n").commit("init");
    f.git(&["checkout", "-q", "-b", "topic"]);
    let mut config = CONFIG.to_string();
    config.push_str("  Added:\n    filters: [\"*.txt\"]\n    severity: error\n");
    f.config(&config)
        .write("notes.txt", "n\n")
        .write("src/a.txt", &format!("k = {KEY}\n"))
        .commit("topic");
    let report = f.json(&["--base", "main", "--persona", "Added"]);
    assert_eq!(personas_of(&report), ["Added"]);
    assert_eq!(report["summary"]["verdict"], "fail");
    // Under `--policy base` only the base's personas judge: naming one it
    // lacks is an error, never a silent pass.
    f.valve(&[
        "check",
        "--base",
        "main",
        "--persona",
        "Added",
        "--policy",
        "base",
    ])
    .assert()
    .code(2);
    // History judging follows the filter as well.
    f.valve(&["check", "--base", "main", "--persona", "Nobody"])
        .assert()
        .code(2);
}
