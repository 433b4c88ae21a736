//! `init`, `personas`, `explain`, `test` and `baseline` as a user runs them.

mod common;

use common::Fixture;
use predicates::prelude::*;

#[test]
fn init_writes_a_config_that_loads_and_never_overwrites() {
    let f = Fixture::new();
    f.valve(&["init"]).assert().success();
    let text = std::fs::read_to_string(f.path().join(".sage/valve.yml")).expect("written");
    // Every field is documented in the starter.
    for key in [
        "version",
        "ignore",
        "max_file_size",
        "fail_on",
        "personas",
        "description",
        "filters",
        "exclude",
        "triggers",
        "response",
        "severity",
        "message",
        "scope",
        "on",
        "redact",
        "allow_ignore",
        "history",
        "examples",
    ] {
        assert!(text.contains(&format!("{key}:")), "starter lacks `{key}`");
    }
    f.valve(&["personas"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Guardian"));
    f.valve(&["test"]).assert().success();
    // A second init refuses and leaves the file alone.
    f.write(".sage/valve.yml", "personas: {}\n");
    f.valve(&["init"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    let after = std::fs::read_to_string(f.path().join(".sage/valve.yml")).expect("still there");
    assert_eq!(after, "personas: {}\n");
}

#[test]
fn personas_lists_filters_triggers_severity_and_response() {
    let f = Fixture::new();
    f.config("personas:\n  Guard:\n    description: keys\n    filters: ['src/**']\n    triggers: ['AKIA']\n    severity: HALT_EVERYTHING\n    response: paranoid\n  Any: {}\n");
    f.valve(&["personas"]).assert().success().stdout(
        predicate::str::contains("Guard  [critical]")
            .and(predicate::str::contains("filters:     src/**"))
            .and(predicate::str::contains("trigger 0:   AKIA"))
            .and(predicate::str::contains("response:    paranoid"))
            .and(predicate::str::contains("Any  [info]"))
            .and(predicate::str::contains("(every path)")),
    );
}

#[test]
fn explain_names_the_glob_and_the_exclude() {
    let f = Fixture::new();
    f.config("ignore: ['vendor/**']\npersonas:\n  Docs:\n    filters: ['docs/**']\n    exclude: ['*.png']\n  Rust:\n    filters: ['*.rs']\n");
    f.valve(&[
        "explain",
        "docs/a.md",
        "docs/b.png",
        "vendor/x.rs",
        "src/main.rs",
    ])
    .assert()
    .success()
    .stdout(
        predicate::str::contains("takes  Docs: filter `docs/**` matches")
            .and(predicate::str::contains(
                "skips  Docs: filter `docs/**` matches but exclude `*.png` removes it",
            ))
            .and(predicate::str::contains("ignored: `vendor/**`"))
            .and(predicate::str::contains(
                "takes  Rust: filter `*.rs` matches",
            )),
    );
}

#[test]
fn test_command_fails_on_a_wrong_example() {
    let f = Fixture::new();
    f.config("personas:\n  K:\n    filters: ['*.ts']\n    triggers: ['AKIA']\n    examples:\n      fires: [{ path: a.ts, content: 'AKIA' }, { path: a.py, content: 'AKIA' }]\n      quiet: [{ path: a.ts, content: 'ok' }]\n");
    f.valve(&["test"]).assert().code(1).stdout(
        predicate::str::contains("FAIL K: expected to fire on a.py but it stayed quiet")
            .and(predicate::str::contains("2 passed, 1 failed")),
    );
}

#[test]
fn baseline_accepts_a_mode_and_an_output_file() {
    let f = Fixture::new();
    f.config("personas:\n  T:\n    triggers: ['TODO']\n    severity: error\n")
        .write("a.txt", "ok\n")
        .commit("init");
    f.write("a.txt", "TODO one\n")
        .write("b.txt", "TODO two\n")
        .commit("two");
    f.valve(&["baseline", "--base", "HEAD~1", "--output", "bl.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote 2 fingerprints"));
    f.valve(&["check", "--all"]).assert().code(1);
    f.valve(&["check", "--all", "--baseline", "bl.json"])
        .assert()
        .code(0);
    f.write("bl.json", "not json");
    f.valve(&["check", "--all", "--baseline", "bl.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a valve baseline"));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let f = Fixture::new();
    f.valve(&["check", "--staged", "--all"]).assert().code(2);
    f.valve(&["check", "--fail-on", "severe"]).assert().code(2);
    f.valve(&["--help"]).assert().code(0);
    f.valve(&["check", "--help"]).assert().code(0);
}
