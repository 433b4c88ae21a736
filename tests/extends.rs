//! SPEC §12 `extends` for the root config: the personas of extended files
//! judge in every mode, come first and are replaced in place; every
//! problem with an entry is a config error at that entry, problems inside
//! an extended file point into it; extended files are valve's own files
//! and read from the policy's revision in `--base` mode.

mod common;

use common::{Fixture, hits};

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

const SHARED: &str =
    "personas:\n  Secrets:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n";

const ROOT: &str = "extends: [policies/shared.yml]\npersonas:\n  Todo:\n    triggers: ['TODO']\n    severity: warning\n";

/// A repository on `main` whose config extends `policies/shared.yml`.
fn repo() -> Fixture {
    let f = Fixture::new();
    f.config(ROOT)
        .write("policies/shared.yml", SHARED)
        .write("README.md", "hello\n")
        .commit("base");
    f
}

fn secrets_on(report: &serde_json::Value, file: &str) -> bool {
    hits(report)
        .iter()
        .any(|(p, f, _)| p == "Secrets" && f == file)
}

fn assert_at(err: &str, at: &str, words: &[&str]) {
    assert!(err.contains(&format!("[{at}]")), "expected {at}:\n{err}");
    for w in words {
        assert!(err.contains(w), "expected `{w}` in:\n{err}");
    }
}

#[test]
fn extended_personas_judge_in_every_mode() {
    let f = repo();
    f.write("leak.txt", &format!("k = {KEY}\n"));
    let r = f.json(&["--worktree"]);
    assert!(secrets_on(&r, "leak.txt"), "--worktree: {r}");
    f.stage(&["leak.txt"]);
    let r = f.json(&["--staged"]);
    assert!(secrets_on(&r, "leak.txt"), "--staged: {r}");
    let r = f.json(&["leak.txt"]);
    assert!(secrets_on(&r, "leak.txt"), "PATH: {r}");
    f.git(&["checkout", "-q", "-b", "pr"]);
    f.commit("leak");
    let r = f.json(&["--all"]);
    assert!(secrets_on(&r, "leak.txt"), "--all: {r}");
    for policy in ["both", "base", "head"] {
        let r = f.json(&["--base", "main", "--head", "pr", "--policy", policy]);
        assert!(secrets_on(&r, "leak.txt"), "--policy {policy}: {r}");
        assert_eq!(r["summary"]["policy"]["changed"], false, "{r}");
    }
    f.valve(&["check", "--all"]).assert().code(1);
}

#[test]
fn the_base_policy_reads_its_extended_files_from_the_base_revision() {
    let f = repo();
    f.git(&["checkout", "-q", "-b", "pr"]);
    // The pull request loosens the shared policy and leaks a key.
    f.write(
        "policies/shared.yml",
        "personas:\n  Secrets:\n    triggers: ['NEVER_SEEN']\n",
    )
    .write("leak.txt", &format!("k = {KEY}\n"))
    .commit("loosen");
    for checkout in ["pr", "main"] {
        f.git(&["checkout", "-q", checkout]);
        for policy in ["both", "base"] {
            let r = f.json(&["--base", "main", "--head", "pr", "--policy", policy]);
            assert!(secrets_on(&r, "leak.txt"), "{checkout}, {policy}: {r}");
            assert_eq!(r["summary"]["policy"]["changed"], true, "{r}");
            assert_eq!(
                r["summary"]["policy"]["files"],
                serde_json::json!(["policies/shared.yml"]),
                "{r}"
            );
        }
        // The head's own policy alone lets it through: what `both` prevents.
        let r = f.json(&["--base", "main", "--head", "pr", "--policy", "head"]);
        assert!(!secrets_on(&r, "leak.txt"), "{checkout}, head: {r}");
    }
}

#[test]
fn a_bare_repository_reads_extended_files_from_the_head_tree() {
    let f = repo();
    f.git(&["checkout", "-q", "-b", "pr"]);
    f.write("leak.txt", &format!("k = {KEY}\n")).commit("leak");
    let bare = Fixture::bare_dir();
    let target = bare.path().join("r.git");
    f.git(&[
        "clone",
        "-q",
        "--bare",
        ".",
        target.to_str().expect("utf-8"),
    ]);
    let out = f
        .valve_in(
            &target,
            &[
                "check", "--format", "json", "--base", "main", "--head", "pr",
            ],
        )
        .output()
        .expect("valve runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(secrets_on(&r, "leak.txt"), "{r}");
    // Commands other than check read the config from HEAD's tree too.
    let out = f
        .valve_in(&target, &["personas", "--color", "never"])
        .output()
        .expect("valve runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("Secrets  [critical]"), "{text}");
}

#[test]
fn a_redefined_persona_replaces_the_earlier_in_place() {
    let f = Fixture::new();
    f.config("extends: [a.yml, b.yml]\npersonas:\n  Two:\n    severity: error\n  Own: {}\n")
        .write(
            "a.yml",
            "extends: [deep/c.yml]\npersonas:\n  One: {}\n  Two: {}\n",
        )
        .write(
            "b.yml",
            "personas:\n  Three: {}\n  One:\n    severity: warning\n",
        )
        .write("deep/c.yml", "personas:\n  Zero: {}\n");
    let out = f
        .valve(&["personas", "--color", "never"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let heads: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .collect();
    assert_eq!(
        heads,
        [
            "Zero  [info]",
            "One  [warning]",
            "Two  [error]",
            "Three  [info]",
            "Own  [info]"
        ],
        "{text}"
    );
}

#[test]
fn every_bad_entry_is_an_error_at_the_entry() {
    let f = Fixture::new();
    f.write("a.txt", "x\n")
        .write("policies/real.yml", SHARED)
        .write("outside.yml", SHARED);
    std::fs::create_dir_all(f.path().join("policies/dir.yml")).expect("mkdir");
    std::os::unix::fs::symlink("real.yml", f.path().join("policies/link.yml")).expect("link");
    std::os::unix::fs::symlink("policies", f.path().join("via")).expect("link");
    let cases: &[(&str, &str)] = &[
        ("policies/missing.yml", "does not exist"),
        ("policies/link.yml", "is a symlink, not a regular file"),
        ("via/real.yml", "is under a symlink (via)"),
        ("policies/dir.yml", "is a folder, not a regular file"),
        ("../outside.yml", "`extends` entry leaves the repository"),
        ("/etc/hostname", "`extends` entry is an absolute path"),
        ("https://example.com/p.yml", "`extends` entry is a URL"),
    ];
    for (entry, words) in cases {
        f.config(&format!(
            "personas:\n  A: {{}}\nextends:\n  - policies/real.yml\n  - '{entry}'\n"
        ));
        let err = f.config_error(&["check", "--all", "--color", "never"]);
        assert_at(&err, ".sage/valve.yml:5:5", &[words]);
        assert!(!err.contains("AKIA"), "nothing of a refused file: {err}");
    }
}

#[test]
fn a_cycle_is_an_error_at_the_entry_that_closes_it() {
    let f = Fixture::new();
    f.config("extends: [a.yml]\n")
        .write("a.yml", "personas: {A: {}}\nextends: [b.yml]\n")
        .write("b.yml", "extends:\n  - ./.sage/valve.yml\n");
    let err = f.config_error(&["check", "--all", "--color", "never"]);
    assert_at(
        &err,
        "b.yml:2:5",
        &["`extends` cycle: .sage/valve.yml -> a.yml -> b.yml -> .sage/valve.yml"],
    );
    // A file extending itself.
    f.write("a.yml", "personas: {A: {}}\nextends: [a.yml]\n");
    let err = f.config_error(&["check", "--all", "--color", "never"]);
    assert_at(&err, "a.yml:2:11", &["`extends` cycle"]);
}

#[test]
fn errors_inside_an_extended_file_point_into_it() {
    let f = Fixture::new();
    f.config("extends: [policies/shared.yml]\npersonas:\n  Own:\n    filters: ['[']\n")
        .write(
            "policies/shared.yml",
            "fail_on: never\npersonas:\n  Bad:\n    triggers: ['(x']\n    filter: ['*.rs']\n",
        );
    let err = f.config_error(&["check", "--all", "--color", "never"]);
    assert_at(
        &err,
        "policies/shared.yml:1:1",
        &[
            "`fail_on` cannot be set in an extended file",
            "set `fail_on` in the config that extends this file",
        ],
    );
    assert_at(
        &err,
        "policies/shared.yml:4:16",
        &["invalid regex in persona `Bad`"],
    );
    assert_at(
        &err,
        "policies/shared.yml:5:5",
        &["unknown persona key `filter`", "did you mean `filters`?"],
    );
    // The config's own error is reported in the same run, in its file.
    assert_at(&err, ".sage/valve.yml:4:15", &[]);
}

#[test]
fn an_extended_file_is_an_own_file_and_a_policy_change() {
    let f = repo();
    // A persona of no filters and a trigger the shared file itself holds.
    f.config(&format!("{ROOT}  Any:\n    triggers: ['AKIA']\n"))
        .commit("any");
    f.write("policies/shared.yml", &format!("{SHARED}# AKIA TODO\n"));
    for args in [&["--worktree"][..], &["--all"][..]] {
        let r = f.json(args);
        assert!(
            hits(&r)
                .iter()
                .all(|(_, file, _)| file != "policies/shared.yml"),
            "{args:?}: {r}"
        );
        let skipped = r["skipped"].as_array().expect("skipped");
        assert!(
            skipped
                .iter()
                .any(|s| s["file"] == "policies/shared.yml" && s["reason"] == "own_file"),
            "{args:?}: {r}"
        );
    }
    let r = f.json(&["--worktree"]);
    assert_eq!(r["summary"]["policy"]["changed"], true, "{r}");
    assert_eq!(
        r["summary"]["policy"]["files"],
        serde_json::json!(["policies/shared.yml"]),
        "{r}"
    );
}

#[test]
fn a_config_of_extends_alone_needs_no_personas() {
    let f = Fixture::new();
    f.config("extends: [policies/shared.yml]\n")
        .write("policies/shared.yml", SHARED)
        .write("leak.txt", &format!("{KEY}\n"));
    let r = f.json(&["--all"]);
    assert!(secrets_on(&r, "leak.txt"), "{r}");
}

#[test]
fn a_config_named_by_flag_extends_relative_to_the_root() {
    let f = repo();
    f.write("ci/valve.yml", "extends: [policies/shared.yml]\n")
        .commit("ci config");
    f.write("policies/shared.yml", &format!("{SHARED}# {KEY}\n"))
        .write("leak.txt", &format!("{KEY}\n"));
    let r = f.json(&["--worktree", "--config", "ci/valve.yml"]);
    assert!(secrets_on(&r, "leak.txt"), "{r}");
    assert!(!secrets_on(&r, "policies/shared.yml"), "{r}");
    assert_eq!(
        r["summary"]["policy"]["files"],
        serde_json::json!(["policies/shared.yml"]),
        "{r}"
    );
    // From a subfolder, the entry is still relative to the root.
    std::fs::create_dir_all(f.path().join("ci/deep")).expect("mkdir");
    let out = f
        .valve_in(
            &f.path().join("ci/deep"),
            &[
                "check",
                "--format",
                "json",
                "--all",
                "--config",
                "../valve.yml",
            ],
        )
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(secrets_on(&r, "leak.txt"), "{r}");
}

#[test]
fn a_pr_cannot_hide_a_file_by_extending_it() {
    let f = repo();
    f.git(&["checkout", "-q", "-b", "pr"]);
    // Valid YAML of the extended shape holding a key: the head's own file.
    f.config(&ROOT.replace("[policies/shared.yml]", "[policies/shared.yml, leak.yml]"))
        .write("leak.yml", &format!("# {KEY}\npersonas: {{}}\n"))
        .commit("hide");
    for policy in ["both", "base"] {
        let r = f.json(&["--base", "main", "--head", "pr", "--policy", policy]);
        assert!(secrets_on(&r, "leak.yml"), "{policy}: {r}");
    }
    // Judged by the head's policy alone, it is an own file.
    let r = f.json(&["--base", "main", "--head", "pr", "--policy", "head"]);
    assert!(!secrets_on(&r, "leak.yml"), "head: {r}");
    let skipped = r["skipped"].as_array().expect("skipped");
    assert!(
        skipped
            .iter()
            .any(|s| s["file"] == "leak.yml" && s["reason"] == "own_file"),
        "{r}"
    );
}

#[test]
fn an_extended_file_that_is_not_utf8_is_an_error_in_it() {
    let f = Fixture::new();
    f.config("extends: [shared.yml]\n")
        .write_bytes("shared.yml", b"personas:\n  A:\n    message: caf\xe9\n");
    let err = f.config_error(&["check", "--all", "--color", "never"]);
    assert_at(&err, "shared.yml:3:17", &["is not UTF-8"]);
}
