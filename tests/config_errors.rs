//! Every config error kind of SPEC §1: exit 2, a diagnostic at the exact
//! line and column of `.sage/valve.yml`, and a help line.

mod common;

use common::Fixture;

/// Runs `valve check --all` on `yaml` and returns stderr; asserts exit 2.
fn errors_of(yaml: &str) -> String {
    let f = Fixture::new();
    f.config(yaml).write("a.txt", "x\n");
    let out = f
        .valve(&["check", "--all", "--color", "never"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn assert_at(err: &str, line_col: &str, words: &[&str]) {
    assert!(
        err.contains(&format!(".sage/valve.yml:{line_col}]")),
        "expected a diagnostic at {line_col}:\n{err}"
    );
    for w in words {
        assert!(err.contains(w), "expected `{w}` in:\n{err}");
    }
}

#[test]
fn unknown_key_with_did_you_mean() {
    let err = errors_of("personas:\n  A:\n    filter: ['*.rs']\n");
    assert_at(
        &err,
        "3:5",
        &["unknown persona key `filter`", "did you mean `filters`?"],
    );
    let err = errors_of("persona:\n  A: {}\n");
    assert_at(
        &err,
        "1:1",
        &[
            "unknown top-level key `persona`",
            "did you mean `personas`?",
        ],
    );
}

#[test]
fn wrong_type() {
    let err = errors_of("personas:\n  A:\n    triggers: { a: b }\n");
    assert_at(
        &err,
        "3:15",
        &["`triggers` must be a list of strings", "found a mapping"],
    );
    let err = errors_of("personas:\n  A:\n    redact: yes please\n");
    assert_at(&err, "3:13", &["`redact` must be true or false"]);
}

#[test]
fn invalid_glob() {
    let err = errors_of("personas:\n  A:\n    filters: ['ok/**', 'src/[a']\n");
    assert_at(&err, "3:24", &["invalid glob `src/[a`"]);
}

#[test]
fn invalid_regex() {
    let err = errors_of("personas:\n  A:\n    triggers:\n      - 'fine'\n      - '(unclosed'\n");
    assert_at(
        &err,
        "5:9",
        &["invalid regex in persona `A`", "unclosed group"],
    );
}

#[test]
fn invalid_regex_is_reported_even_with_nothing_to_check() {
    let f = Fixture::new();
    f.config("personas:\n  A:\n    triggers: ['(unclosed']\n");
    for args in [
        &["check", "--staged"][..],
        &["personas"][..],
        &["explain", "a.txt"][..],
    ] {
        f.valve(args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("valve.yml:3:16"));
    }
}

#[test]
fn regex_over_the_size_limit_is_a_config_error() {
    let err = errors_of("personas:\n  A:\n    triggers: ['(\\w{500}){500}']\n");
    assert_at(&err, "3:16", &["size limit"]);
}

#[test]
fn unknown_severity_with_did_you_mean() {
    let err = errors_of("personas:\n  A:\n    severity: critcal\n");
    assert_at(
        &err,
        "3:15",
        &["unknown severity `critcal`", "did you mean `critical`?"],
    );
}

#[test]
fn unknown_change_kind_with_did_you_mean() {
    let err = errors_of("personas:\n  A:\n    on: [added, renamd]\n");
    assert_at(
        &err,
        "3:17",
        &["unknown change kind `renamd`", "did you mean `renamed`?"],
    );
}

#[test]
fn duplicate_persona_at_its_second_occurrence() {
    let err = errors_of("personas:\n  A: {}\n  B: {}\n  A:\n    severity: info\n");
    assert_at(&err, "4:3", &["duplicate persona `A`"]);
}

#[test]
fn invalid_yaml() {
    let err = errors_of("personas:\n  A:\n    filters: [a\n");
    assert!(err.contains("invalid YAML"), "{err}");
}

#[test]
fn every_error_in_the_file_is_reported_in_one_run() {
    let err = errors_of(
        "fail_on: eror\npersonas:\n  A:\n    filters: ['src/[a']\n    triggers: ['(x']\n    severity: hgih\n    triger: x\n  A: {}\n",
    );
    assert!(err.contains("has 6 errors"), "{err}");
    for at in ["1:10", "4:15", "5:16", "6:15", "7:5", "8:3"] {
        assert_at(&err, at, &[]);
    }
    // In file order.
    let pos = |s: &str| err.find(s).unwrap_or(usize::MAX);
    assert!(pos("valve.yml:6:15") < pos("valve.yml:7:5"));
}

#[test]
fn seed_file_loads_unchanged_with_a_schedule_warning() {
    let f = Fixture::new();
    let seed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-valve.yml"),
    )
    .expect("the seed file is beside the project");
    f.config(&seed)
        .write("src/auth/x.ts", "const a = b as any;\n");
    let out = f
        .valve(&["check", "--all", "--color", "never"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("critical[Guardian]"), "{text}");
    assert!(text.contains("TypeNazi"), "{text}");
    let f = Fixture::new();
    f.config(&format!("{seed}    schedule: daily\n"))
        .write("a.txt", "x\n");
    f.valve(&["personas"])
        .assert()
        .success()
        .stdout(predicates::str::contains("`schedule` is accepted"));
}

#[test]
fn history_is_a_boolean_with_did_you_mean() {
    let err = errors_of("personas:\n  A:\n    history: often\n");
    assert_at(
        &err,
        "3:14",
        &["`history` must be true or false", "history: true"],
    );
    let err = errors_of("personas:\n  A:\n    histroy: true\n");
    assert_at(
        &err,
        "3:5",
        &["unknown persona key `histroy`", "did you mean `history`?"],
    );
}
