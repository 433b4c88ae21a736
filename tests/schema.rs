//! `valve schema` accepts every valid config the tests use (and valve loads
//! each of them), and rejects what valve rejects: a misspelled key, an
//! unknown severity or change kind. Validated with `check-jsonschema`.

mod common;

use std::path::Path;
use std::process::Command as Std;

use common::Fixture;

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
