//! Accountable policy (SPEC §11): suppressions with a reason and an expiry,
//! reported suppressions and valve's own personas about them,
//! `--no-inline-ignore`, `enforce_after` and `VALVE_TODAY`.

mod common;

use common::Fixture;
use predicates::prelude::*;
use serde_json::Value;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

const CONFIG: &str = r#"
personas:
  Guardian:
    filters: ["src/**"]
    triggers: ['AKIA[0-9A-Z]{16}']
    severity: critical
  Strict:
    filters: ["strict/**"]
    triggers: ['AKIA[0-9A-Z]{16}']
    severity: error
    require_reason: true
  Rollout:
    filters: ["new/**"]
    triggers: ['TODO']
    severity: error
    enforce_after: 2027-01-31
"#;

fn repo(config: &str) -> Fixture {
    let f = Fixture::new();
    f.config(config).write("README", "r\n").commit("init");
    f
}

/// `valve check --format json ARGS` on the date `today`.
fn json_on(f: &Fixture, today: &str, args: &[&str]) -> (Value, i32) {
    let mut all = vec!["check", "--format", "json"];
    all.extend(args);
    let out = f
        .valve(&all)
        .env("VALVE_TODAY", today)
        .output()
        .expect("runs");
    let code = out.status.code().expect("exit code");
    assert!(
        code <= 1,
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).expect("json"), code)
}

fn personas(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["persona"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_dated_suppression_silences_through_its_day_and_then_expires() {
    let f = repo(CONFIG);
    f.write(
        "src/a.ts",
        &format!(
            "k = \"{KEY}\" // valve:ignore[Guardian] reason=\"test fixture\" until=2027-03-31\n"
        ),
    );
    let (on_the_day, code) = json_on(&f, "2027-03-31", &["--worktree"]);
    assert_eq!(code, 0, "{on_the_day}");
    assert_eq!(on_the_day["summary"]["suppressed"], 1);
    let m = &on_the_day["suppressions"][0];
    assert_eq!(m["file"], "src/a.ts");
    assert_eq!(m["line"], 1);
    assert_eq!(m["personas"], serde_json::json!(["Guardian"]));
    assert_eq!(m["reason"], "test fixture");
    assert_eq!(m["until"], "2027-03-31");
    assert_eq!(m["used"], serde_json::json!(["Guardian"]));
    assert_eq!(m["expired"], false);
    assert_eq!(m["new"], true);
    assert_eq!(on_the_day["summary"]["suppressions_new"], 1);
    assert_eq!(on_the_day["summary"]["suppressions_unused"], 0);

    // The day after: the finding stands and says why; the marker is
    // expired (not unused) and is a warning of valve's own persona.
    let (after, code) = json_on(&f, "2027-04-01", &["--worktree"]);
    assert_eq!(code, 1);
    assert_eq!(personas(&after), ["Guardian", "valve:expired-suppression"]);
    let finding = &after["findings"][0];
    assert_eq!(
        finding["notes"],
        serde_json::json!(["suppression expired on 2027-03-31"])
    );
    let own = &after["findings"][1];
    assert_eq!(own["severity"], "warning");
    assert_eq!(own["reason"], "suppression");
    assert_eq!(own["line"], 1);
    assert_eq!(after["summary"]["suppressions_expired"], 1);
    assert_eq!(after["summary"]["suppressions_unused"], 0);
    assert_eq!(after["suppressions"][0]["expired"], true);
    // Human output says it in words.
    f.valve(&["check", "--worktree"])
        .env("VALVE_TODAY", "2027-04-01")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "suppression expired on 2027-03-31",
        ));
}

#[test]
fn require_reason_needs_a_reason_that_says_something() {
    let f = repo(CONFIG);
    f.write("strict/a.txt", &format!("{KEY} valve:ignore[Strict]\n"))
        .write(
            "strict/b.txt",
            &format!("{KEY} valve:ignore[Strict] reason=\"  \"\n"),
        )
        .write(
            "strict/c.txt",
            &format!("{KEY} valve:ignore[Strict] reason=\"rotated key, kept for the test\"\n"),
        );
    let (report, code) = json_on(&f, "2027-01-01", &["--worktree"]);
    assert_eq!(code, 1);
    let stood: Vec<(&str, &Value)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["persona"] == "Strict")
        .map(|f| (f["file"].as_str().unwrap_or(""), &f["notes"]))
        .collect();
    assert_eq!(stood.len(), 2, "{report}");
    assert_eq!(stood[0].0, "strict/a.txt");
    assert_eq!(stood[1].0, "strict/b.txt");
    assert!(
        stood[0].1[0]
            .as_str()
            .is_some_and(|n| n.contains("needs a reason")),
        "{report}"
    );
    assert_eq!(report["summary"]["suppressed"], 1);
}

#[test]
fn an_unused_suppression_is_an_info_finding_with_a_configurable_severity() {
    let f = repo(CONFIG);
    f.write(
        "src/a.ts",
        "let x = 1; // valve:ignore[Guardian] reason=\"old\"\n",
    );
    let (report, code) = json_on(&f, "2027-01-01", &["--worktree"]);
    assert_eq!(code, 0);
    assert_eq!(personas(&report), ["valve:unused-suppression"]);
    assert_eq!(report["findings"][0]["severity"], "info");
    assert_eq!(report["summary"]["suppressions_unused"], 1);

    let mut strict = CONFIG.to_string();
    strict.insert_str(0, "suppressions: { unused: error, expired: never }\n");
    f.config(&strict);
    let (report, code) = json_on(&f, "2027-01-01", &["--worktree"]);
    assert_eq!(code, 1, "an unused suppression at error blocks");
    assert_eq!(report["findings"][0]["severity"], "error");
    let mut off = CONFIG.to_string();
    off.insert_str(0, "suppressions: { unused: never }\n");
    f.config(&off);
    let (report, _) = json_on(&f, "2027-01-01", &["--worktree"]);
    assert_eq!(personas(&report), Vec::<String>::new());
    // Still listed and counted, only not a finding.
    assert_eq!(report["summary"]["suppressions_unused"], 1);
}

#[test]
fn an_unknown_persona_in_brackets_is_a_warning_with_did_you_mean() {
    let f = repo(CONFIG);
    f.write(
        "src/a.ts",
        &format!("k = {KEY} // valve:ignore[Guardain]\n"),
    );
    let out = f
        .valve(&["check", "--worktree", "--format", "json"])
        .env("VALVE_TODAY", "2027-01-01")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("valve:ignore[Guardain] names no persona")
            && stderr.contains("did you mean Guardian?"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        report["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("Guardain"))
    );
    // It silenced nothing: the finding stands.
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn no_inline_ignore_voids_every_marker_and_lists_them_as_not_applied() {
    let f = repo(CONFIG);
    f.write(
        "src/a.ts",
        &format!("k = {KEY} // valve:ignore reason=\"fixture\"\n"),
    );
    let (report, code) = json_on(&f, "2027-01-01", &["--worktree"]);
    assert_eq!(code, 0);
    let (void, code) = json_on(&f, "2027-01-01", &["--worktree", "--no-inline-ignore"]);
    assert_eq!(code, 1);
    assert_eq!(personas(&void), ["Guardian"]);
    assert_eq!(void["summary"]["suppressed"], 0);
    assert_eq!(void["suppressions"][0]["applied"], false);
    assert_eq!(void["suppressions"][0]["used"], serde_json::json!([]));
    assert_eq!(void["summary"]["suppressions_unused"], 0);
    assert_eq!(report["suppressions"][0]["applied"], true);
    // No hint offers a marker that this run would void.
    let human = f
        .valve(&["check", "--worktree", "--no-inline-ignore"])
        .env("VALVE_TODAY", "2027-01-01")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("blocked"), "{text}");
    assert!(!text.contains("add `// valve:ignore"), "{text}");
    assert!(!text.contains("silence a line"), "{text}");
}

#[test]
fn only_markers_on_changed_lines_are_judged_and_none_is_new_in_all() {
    let f = repo(CONFIG);
    f.write("src/old.ts", "a // valve:ignore[Guardian]\nb\n")
        .commit("old marker");
    f.write("src/old.ts", "a // valve:ignore[Guardian]\nb changed\n");
    let (report, _) = json_on(&f, "2027-01-01", &["--worktree"]);
    assert_eq!(report["suppressions"], serde_json::json!([]), "{report}");
    assert_eq!(personas(&report), Vec::<String>::new());
    // --all judges every line: the old marker is seen, used by nobody, not new.
    let (all, _) = json_on(&f, "2027-01-01", &["--all"]);
    assert_eq!(all["suppressions"][0]["new"], false);
    assert_eq!(all["summary"]["suppressions_new"], 0);
    assert_eq!(personas(&all), ["valve:unused-suppression"]);
    // Staged: a marker the commit adds is new.
    f.write(
        "src/new.ts",
        &format!("{KEY} // valve:ignore reason=\"a fixture\"\n"),
    )
    .stage(&["src/new.ts"]);
    let (staged, code) = json_on(&f, "2027-01-01", &["--staged"]);
    assert_eq!(code, 0);
    assert_eq!(staged["summary"]["suppressions_new"], 1);
    assert_eq!(staged["suppressions"][0]["file"], "src/new.ts");
}

#[test]
fn enforce_after_reports_without_blocking_until_its_date() {
    let f = repo(CONFIG);
    f.write("new/a.txt", "TODO: finish\n");
    let (before, code) = json_on(&f, "2027-01-01", &["--worktree"]);
    assert_eq!(code, 0, "{before}");
    let finding = &before["findings"][0];
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["blocking"], false);
    assert_eq!(finding["enforced_from"], "2027-01-31");
    assert_eq!(
        finding["notes"],
        serde_json::json!(["blocking from 2027-01-31 (in 30 days)"])
    );
    assert_eq!(before["summary"]["blocking"], 0);
    let (day_before, _) = json_on(&f, "2027-01-30", &["--worktree"]);
    assert_eq!(
        day_before["findings"][0]["notes"],
        serde_json::json!(["blocking from 2027-01-31 (in 1 day)"])
    );
    let (on, code) = json_on(&f, "2027-01-31", &["--worktree"]);
    assert_eq!(code, 1);
    assert_eq!(on["findings"][0]["blocking"], true);
    assert_eq!(on["findings"][0]["notes"], serde_json::json!([]));
    f.valve(&["check", "--worktree"])
        .env("VALVE_TODAY", "2027-01-01")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "blocking from 2027-01-31 (in 30 days)",
        ));
}

#[test]
fn an_invalid_valve_today_is_exit_2() {
    let f = repo(CONFIG);
    for bad in ["2027-02-30", "tomorrow", "27-1-1"] {
        f.valve(&["check", "--worktree"])
            .env("VALVE_TODAY", bad)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("VALVE_TODAY"));
    }
}

#[test]
fn the_reviewer_sees_new_suppressions_in_human_and_markdown_output() {
    let f = repo(CONFIG);
    f.write(
        "src/a.ts",
        &format!("k = {KEY} // valve:ignore[Guardian] reason=\"rotated; kept as a fixture\" until=2027-06-30\n"),
    )
    .stage(&["src/a.ts"]);
    f.valve(&["check", "--staged"])
        .env("VALVE_TODAY", "2027-01-01")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 suppression this change adds"))
        .stdout(predicate::str::contains(
            "reason \"rotated; kept as a fixture\"",
        ))
        .stdout(predicate::str::contains("until 2027-06-30"));
    f.valve(&["check", "--staged", "--format", "markdown"])
        .env("VALVE_TODAY", "2027-01-01")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("### New suppressions (1)"))
        .stdout(predicate::str::contains("rotated; kept as a fixture"));
}

const MIGRATIONS: &str = r#"
personas:
  Schema:
    when_changed: ["migrations/**"]
    require_changed: ["schema.sql"]
    on: [added, modified]
    severity: error
  Changelog:
    when_changed: ["src/**"]
    require_changed: ["CHANGELOG.md"]
    severity: warning
    message: Source changed without a CHANGELOG entry
  Debris:
    filters: ["src/**"]
    triggers: ['dbg!\(']
"#;

fn migrations_repo() -> Fixture {
    let f = Fixture::new();
    f.config(MIGRATIONS)
        .write("schema.sql", "create table a();\n")
        .write("CHANGELOG.md", "# log\n")
        .write("migrations/001.sql", "create table a();\n")
        .write("src/lib.rs", "fn a() {}\n")
        .commit("init");
    f
}

#[test]
fn a_change_rule_fires_once_at_the_first_path_without_its_companion() {
    let f = migrations_repo();
    f.write("migrations/003.sql", "alter table a;\n")
        .write("migrations/002.sql", "alter table a;\n")
        .stage(&["migrations"]);
    let (report, code) = json_on(&f, "2027-01-01", &["--staged"]);
    assert_eq!(code, 1);
    assert_eq!(personas(&report), ["Schema"]);
    let rule = &report["findings"][0];
    assert_eq!(rule["file"], "migrations/002.sql");
    assert_eq!(rule["reason"], "change-rule");
    assert_eq!(rule["line"], Value::Null);
    assert_eq!(
        rule["message"],
        "migrations/002.sql changed without a change to `schema.sql`"
    );
    // The companion in the same change set quiets it.
    f.write("schema.sql", "create table a(x int);\n")
        .stage(&["schema.sql"]);
    let (report, code) = json_on(&f, "2027-01-01", &["--staged"]);
    assert_eq!(code, 0);
    assert_eq!(personas(&report), Vec::<String>::new());
}

#[test]
fn change_rules_apply_in_change_modes_only_and_follow_on() {
    let f = migrations_repo();
    f.write("src/lib.rs", "fn a() { dbg!(1); }\n");
    // --worktree: the changelog rule fires with its own message.
    let (report, code) = json_on(&f, "2027-01-01", &["--worktree"]);
    assert_eq!(code, 0, "warnings do not block");
    // §5 order: at one path, the finding without a line comes first.
    assert_eq!(personas(&report), ["Changelog", "Debris"]);
    assert_eq!(
        report["findings"][0]["message"],
        "Source changed without a CHANGELOG entry"
    );
    // --all and PATH: no change set, no change rule.
    let (all, _) = json_on(&f, "2027-01-01", &["--all"]);
    assert!(!personas(&all).contains(&"Changelog".to_string()), "{all}");
    let (paths, _) = json_on(&f, "2027-01-01", &["src"]);
    assert!(!personas(&paths).contains(&"Changelog".to_string()));
    // --base: a committed range.
    f.git(&["checkout", "-q", "-b", "topic"]);
    f.remove("migrations/001.sql").commit("drop a migration");
    let (range, _) = json_on(&f, "2027-01-01", &["--base", "main"]);
    // `on: [added, modified]`: a deletion is no reason for Schema.
    assert!(!personas(&range).contains(&"Schema".to_string()), "{range}");
    assert!(
        personas(&range).contains(&"Changelog".to_string()),
        "{range}"
    );
    // `valve personas` says what a change rule is and where it runs.
    f.valve(&["personas"])
        .assert()
        .success()
        .stdout(predicate::str::contains("change rule"))
        .stdout(predicate::str::contains("not --all or PATH"));
}

#[test]
fn change_rules_run_in_shard_one_only() {
    let f = migrations_repo();
    f.write("migrations/002.sql", "x\n").stage(&["migrations"]);
    let counts: Vec<usize> = (1..=3)
        .map(|i| {
            let shard = format!("{i}/3");
            let (r, _) = json_on(&f, "2027-01-01", &["--staged", "--shard", &shard]);
            personas(&r).iter().filter(|p| *p == "Schema").count()
        })
        .collect();
    assert_eq!(counts, [1, 0, 0]);
}

#[test]
fn a_change_rule_with_filters_or_half_a_rule_is_a_config_error() {
    let f = Fixture::new();
    f.config("personas:\n  R:\n    when_changed: [a/**]\n    require_changed: [b]\n    filters: ['*.rs']\n")
        .commit("init");
    f.valve(&["check", "--staged"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "change rule `R` cannot have `filters`",
        ))
        .stderr(predicate::str::contains("valve.yml:5:"));
    f.config("personas:\n  R:\n    when_changed: [a/**]\n");
    f.valve(&["check", "--staged"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has no `require_changed`"));
}

#[test]
fn owners_come_from_codeowners_or_the_persona() {
    let f = Fixture::new();
    f.config(
        "personas:\n  Guardian:\n    filters: ['src/**']\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n  Docs:\n    filters: ['docs/**']\n    owners: ['@org/writers']\n",
    )
    .write(
        ".github/CODEOWNERS",
        "* @org/everyone\nsrc/ @org/backend\nsrc/web/ @org/frontend @lead\nbad[line @x\n",
    )
    .write("CODEOWNERS", "* @ignored-because-github-first\n")
    .commit("init");
    f.write("src/a.rs", &format!("{KEY}\n"))
        .write("src/web/b.ts", &format!("{KEY}\n"))
        .write("docs/c.md", "d\n");
    let out = f
        .valve(&["check", "--worktree", "--format", "json"])
        .output()
        .expect("runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let owners: Vec<(String, Value)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or("").to_string(),
                f["owners"].clone(),
            )
        })
        .collect();
    assert_eq!(
        owners,
        [
            ("docs/c.md".to_string(), serde_json::json!(["@org/writers"])),
            ("src/a.rs".to_string(), serde_json::json!(["@org/backend"])),
            (
                "src/web/b.ts".to_string(),
                serde_json::json!(["@org/frontend", "@lead"])
            ),
        ]
    );
    // The line valve cannot parse is a warning naming it.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(".github/CODEOWNERS:4:"), "{stderr}");
    // Markdown groups blocking findings by owner, each in a code span.
    f.valve(&["check", "--worktree", "--format", "markdown"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("### Blocking findings by owner"))
        .stdout(predicate::str::contains("- `@org/backend`: 1 blocking"));
    // SARIF results carry them; human output shows them with -v.
    let sarif = f
        .valve(&["check", "--worktree", "--format", "sarif"])
        .output()
        .expect("runs");
    let sarif: Value = serde_json::from_slice(&sarif.stdout).expect("sarif");
    assert_eq!(
        sarif["runs"][0]["results"][1]["properties"]["owners"],
        serde_json::json!(["@org/backend"])
    );
    f.valve(&["check", "--worktree", "-v"])
        .assert()
        .stdout(predicate::str::contains("= owners: @org/frontend, @lead"));
}

#[test]
fn baseline_counts_distinct_entries_and_keeps_path_only_findings_to_whole_files() {
    let f = Fixture::new();
    f.config(
        "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n  Debris:\n    triggers: ['dbg!']\n  Docs:\n    filters: ['*.md']\n",
    )
    .write("README", "r\n")
    .commit("init");
    // The same line twice, another persona's finding between them.
    f.write("a.rs", &format!("{KEY}\ndbg!(1)\n{KEY}\n"))
        .write("b.md", "d\n");
    f.valve(&["baseline"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote 3 fingerprints"));
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(f.path().join(".sage/valve-baseline.json")).expect("written"),
    )
    .expect("json");
    assert_eq!(file["findings"].as_array().map(Vec::len), Some(3));
    // In a change mode the path-only finding is no entry.
    let out = f.path().join("staged.json");
    f.stage(&["a.rs", "b.md"]);
    f.valve(&["baseline", "--staged", "-o", out.to_str().unwrap_or("")])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote 2 fingerprints"));
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("written")).expect("json");
    let personas: Vec<&str> = file["findings"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["persona"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(personas, ["Guardian", "Debris"]);
}

#[test]
fn a_range_judges_the_markers_it_adds_under_both_policies() {
    let f = repo(CONFIG);
    f.git(&["checkout", "-q", "-b", "topic"]);
    f.write(
        "src/a.ts",
        &format!("k = {KEY} // valve:ignore[Guardian] reason=\"fixture\" until=2027-03-31\n"),
    )
    .write("new/b.txt", "TODO\n")
    .commit("waive");
    let (before, code) = json_on(&f, "2027-01-15", &["--base", "main"]);
    assert_eq!(code, 0, "{before}");
    assert_eq!(before["summary"]["suppressions_new"], 1);
    assert_eq!(
        before["suppressions"][0]["used"],
        serde_json::json!(["Guardian"])
    );
    assert_eq!(before["findings"][0]["persona"], "Rollout");
    assert_eq!(before["findings"][0]["blocking"], false);
    let (after, code) = json_on(&f, "2027-04-01", &["--base", "main"]);
    assert_eq!(code, 1);
    assert_eq!(
        personas(&after),
        ["Rollout", "Guardian", "valve:expired-suppression"]
    );
    // The rollout has begun: it blocks too (with the key and the marker).
    assert_eq!(after["summary"]["blocking"], 2);
    assert_eq!(after["findings"][0]["blocking"], true);
}

#[test]
fn a_range_takes_its_owners_from_the_head_revision() {
    let f = Fixture::new();
    f.config(
        "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n",
    )
    .write(".github/CODEOWNERS", "* @org/old\n")
    .commit("init");
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write(".github/CODEOWNERS", "* @org/new\n")
        .write("src/a.rs", &format!("{KEY}\n"))
        .commit("head");
    f.git(&["checkout", "-q", "main"]);
    // The work tree has the old owners; the judged revision the new ones.
    let report = f.json(&["--base", "main", "--head", "feature"]);
    assert_eq!(
        report["findings"][0]["owners"],
        serde_json::json!(["@org/new"]),
        "{report}"
    );
}
