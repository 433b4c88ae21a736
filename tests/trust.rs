//! SPEC §9: a change cannot change its own judge, valve's own files are
//! never read or written through a link, inputs must be regular files, and
//! no program named by the repository ever runs.

mod common;

use common::{Fixture, hits};
use predicates::prelude::*;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

const POLICY: &str = "personas:\n  Secrets:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n    allow_ignore: false\n";

/// A repository whose `main` carries `POLICY`, and a branch `pr` that the
/// test turns into a pull request.
fn base_repo() -> Fixture {
    let f = Fixture::new();
    f.config(POLICY)
        .write("README.md", "hello\n")
        .commit("base");
    f.git(&["checkout", "-q", "-b", "pr"]);
    f
}

/// Commits the PR and judges `main..pr` as CI would, from a checkout of
/// the PR head and of `main` (the `pull_request_target` shape).
fn judge(f: &Fixture, policy: &[&str]) -> Vec<(i32, serde_json::Value)> {
    if !f.git(&["status", "--porcelain"]).is_empty() {
        f.commit("pr");
    }
    let mut out = Vec::new();
    for checkout in ["pr", "main"] {
        f.git(&["checkout", "-q", checkout]);
        let mut args = vec![
            "check", "--format", "json", "--base", "main", "--head", "pr",
        ];
        args.extend(policy);
        let run = f.valve(&args).output().expect("valve runs");
        let json = serde_json::from_slice(&run.stdout).unwrap_or_else(|_| {
            panic!(
                "json from {args:?}: {}",
                String::from_utf8_lossy(&run.stderr)
            )
        });
        out.push((run.status.code().unwrap_or(-1), json));
    }
    f.git(&["checkout", "-q", "pr"]);
    out
}

fn assert_blocked(f: &Fixture, what: &str) {
    for policy in [
        &[][..],
        &["--policy", "both"][..],
        &["--policy", "base"][..],
    ] {
        for (code, r) in judge(f, policy) {
            assert_eq!(code, 1, "{what}, {policy:?}: {r}");
            assert!(
                hits(&r)
                    .iter()
                    .any(|(p, file, _)| p == "Secrets" && file == "leak.txt"),
                "{what}, {policy:?}: {r}"
            );
        }
    }
}

#[test]
fn a_pr_that_ignores_everything_is_still_judged_by_the_base() {
    let f = base_repo();
    f.config(&format!("ignore: ['**']\n{POLICY}"))
        .write("leak.txt", &format!("{KEY}\n"));
    assert_blocked(&f, "ignore **");
    // The head's policy alone lets it through: that is what `both` prevents.
    let (code, r) = judge(&f, &["--policy", "head"]).remove(0);
    assert_eq!(code, 0, "{r}");
}

#[test]
fn a_pr_that_sets_fail_on_never_is_still_blocked() {
    let f = base_repo();
    f.config(&format!("fail_on: never\n{POLICY}"))
        .write("leak.txt", &format!("{KEY}\n"));
    assert_blocked(&f, "fail_on never");
}

#[test]
fn a_pr_that_drops_or_weakens_the_persona_is_still_blocked() {
    let f = base_repo();
    f.config("personas:\n  Docs:\n    filters: ['*.md']\n")
        .write("leak.txt", &format!("{KEY}\n"));
    assert_blocked(&f, "persona dropped");
    let f = base_repo();
    f.config(&POLICY.replace("critical", "info"))
        .write("leak.txt", &format!("{KEY}\n"));
    assert_blocked(&f, "severity lowered");
    let (_, r) = judge(&f, &[]).remove(0);
    let severities: Vec<&str> = r["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["severity"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        severities,
        vec!["critical"],
        "one finding, the higher severity"
    );
}

#[test]
fn a_pr_that_commits_a_baseline_or_an_inline_ignore_is_still_blocked() {
    let f = base_repo();
    f.write("leak.txt", &format!("{KEY}\n"));
    f.valve(&["baseline"]).assert().success();
    assert!(f.path().join(".sage/valve-baseline.json").exists());
    assert_blocked(&f, "baseline committed");

    let f = base_repo();
    f.config(&POLICY.replace("allow_ignore: false", "allow_ignore: true"))
        .write("leak.txt", &format!("{KEY} # valve:ignore\n"));
    assert_blocked(&f, "allow_ignore turned on and the line ignored");
}

#[test]
fn a_persona_the_pr_adds_is_applied() {
    let f = base_repo();
    f.config(&format!(
        "{POLICY}  Todo:\n    triggers: ['TODO']\n    severity: error\n"
    ))
    .write("notes.txt", "TODO later\n");
    for (code, r) in judge(&f, &[]) {
        assert_eq!(code, 1, "{r}");
        assert_eq!(hits(&r), vec![("Todo".into(), "notes.txt".into(), Some(1))]);
    }
}

#[test]
fn a_policy_change_is_announced_with_its_files() {
    let f = base_repo();
    f.config(&format!("fail_on: never\n{POLICY}"));
    for (_, r) in judge(&f, &[]) {
        let policy = &r["summary"]["policy"];
        assert_eq!(policy["mode"], "both", "{r}");
        assert_eq!(policy["changed"], true, "{r}");
        assert_eq!(policy["files"], serde_json::json!([".sage/valve.yml"]));
        let skipped = r["skipped"].as_array().cloned().unwrap_or_default();
        assert!(
            skipped.contains(&serde_json::json!({"file": ".sage/valve.yml", "reason": "own_file"})),
            "{r}"
        );
    }
    let f = base_repo();
    f.write("a.txt", "fine\n");
    for (_, r) in judge(&f, &[]) {
        assert_eq!(r["summary"]["policy"]["changed"], false, "{r}");
    }
}

#[test]
fn the_stricter_threshold_of_the_two_policies_applies() {
    let f = Fixture::new();
    f.config(
        "fail_on: critical\npersonas:\n  Todo:\n    triggers: ['TODO']\n    severity: error\n",
    )
    .write("README.md", "x\n")
    .commit("base");
    f.git(&["checkout", "-q", "-b", "pr"]);
    // The PR tightens the gate: that is allowed and it applies.
    f.config("fail_on: warning\npersonas:\n  Todo:\n    triggers: ['TODO']\n    severity: error\n")
        .write("notes.txt", "TODO\n");
    let (code, r) = judge(&f, &[]).remove(0);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["summary"]["fail_on"], "warning");
    // `--fail-on` overrides both.
    let (code, _) = judge(&f, &["--fail-on", "never"]).remove(0);
    assert_eq!(code, 0);
}

#[test]
fn without_a_base_config_the_head_alone_judges_and_a_deleted_config_leaves_the_base() {
    let f = Fixture::new();
    f.write("README.md", "x\n").commit("base");
    f.git(&["checkout", "-q", "-b", "pr"]);
    f.config(POLICY).write("leak.txt", &format!("{KEY}\n"));
    let (code, _) = judge(&f, &[]).remove(0);
    assert_eq!(code, 1);

    let f = base_repo();
    f.remove(".sage/valve.yml")
        .write("leak.txt", &format!("{KEY}\n"));
    assert_blocked(&f, "config deleted");
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_is_refused_in_every_mode_and_its_target_never_printed() {
    let outside = Fixture::bare_dir();
    outside.write("environ", "personas: {}\nSECRET_TOKEN=hunter2\n");
    let f = Fixture::new();
    f.write("a.txt", "x\n").commit("init");
    std::fs::create_dir_all(f.path().join(".sage")).expect("mkdir");
    std::os::unix::fs::symlink(
        outside.path().join("environ"),
        f.path().join(".sage/valve.yml"),
    )
    .expect("symlink");
    f.stage(&[".sage/valve.yml"]);
    for mode in [
        &["check", "--all"][..],
        &["check", "--worktree"][..],
        &["check", "--staged"][..],
        &["check", "a.txt"][..],
        &["personas"][..],
    ] {
        f.valve(mode).assert().code(2).stderr(
            predicate::str::contains(".sage/valve.yml")
                .and(predicate::str::contains("symlink"))
                .and(predicate::str::contains("hunter2").not()),
        );
    }
    // Committed as a link, the head's policy is refused by name too.
    f.commit("link");
    f.valve(&[
        "check", "--base", "HEAD~1", "--head", "HEAD", "--policy", "head",
    ])
    .current_dir(f.path())
    .assert()
    .code(2)
    .stderr(predicate::str::contains("hunter2").not());
}

#[cfg(unix)]
#[test]
fn a_symlinked_baseline_or_sage_folder_is_refused_and_never_written_through() {
    let outside = Fixture::bare_dir();
    outside.write("victim.json", "keep me\n");
    let f = Fixture::new();
    f.config(POLICY).write("a.txt", "x\n").commit("init");
    let link = f.path().join(".sage/valve-baseline.json");
    std::os::unix::fs::symlink(outside.path().join("victim.json"), &link).expect("symlink");
    f.valve(&["check", "--all"]).assert().code(2).stderr(
        predicate::str::contains("valve-baseline.json")
            .and(predicate::str::contains("keep me").not()),
    );
    f.valve(&["baseline"]).assert().code(2);
    assert_eq!(
        std::fs::read_to_string(outside.path().join("victim.json"))
            .ok()
            .as_deref(),
        Some("keep me\n")
    );

    let g = Fixture::new();
    std::os::unix::fs::symlink(outside.path(), g.path().join(".sage")).expect("symlink");
    g.valve(&["init"]).assert().code(2);
    assert!(
        !outside.path().join("valve.yml").exists(),
        "init wrote through the link"
    );
}

#[test]
fn inputs_named_on_the_command_line_must_be_regular_files() {
    let f = Fixture::new();
    f.config(POLICY).write("a.txt", "x\n").commit("init");
    std::fs::create_dir_all(f.path().join("dir")).expect("mkdir");
    f.valve(&["--config", "dir", "check", "--all"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a folder, not a regular file"));
    f.valve(&["check", "--all", "--baseline", "dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a folder, not a regular file"));
    #[cfg(unix)]
    {
        let fifo = f.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            f.valve(&["--config", "pipe", "check", "--all"])
                .timeout(std::time::Duration::from_secs(20))
                .assert()
                .code(2)
                .stderr(predicate::str::contains("is a FIFO"));
        }
    }
    // An output that cannot be written says so.
    f.valve(&["check", "--all", "--output", "dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot write"));
}

#[test]
fn a_failed_write_leaves_the_previous_report_intact() {
    let f = Fixture::new();
    f.config(POLICY).write("a.txt", "x\n").commit("init");
    f.write("out/report.json", "previous\n");
    // A baseline that does not parse fails the run before anything is written.
    f.write("bad.json", "not json");
    f.valve(&[
        "check",
        "--all",
        "--baseline",
        "bad.json",
        "--output",
        "out/report.json",
    ])
    .assert()
    .code(2);
    assert_eq!(
        std::fs::read_to_string(f.path().join("out/report.json"))
            .ok()
            .as_deref(),
        Some("previous\n")
    );
    f.valve(&[
        "check",
        "--all",
        "--format",
        "json",
        "--output",
        "out/report.json",
    ])
    .assert()
    .code(0);
    let entries: Vec<_> = std::fs::read_dir(f.path().join("out"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(entries.len(), 1, "no temporary file left: {entries:?}");
}

/// SPEC §9: no filter driver, textconv, fsmonitor or hook ever runs. Each
/// is configured to create a marker file; no mode of valve may create it.
#[cfg(unix)]
#[test]
fn no_program_named_by_the_repository_ever_runs() {
    let f = Fixture::new();
    let marker = f.path().join("..").join(format!(
        "valve-marker-{}",
        f.path().file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    let script = f.path().join("evil.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\ncat\n", marker.display()),
    )
    .expect("script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let cmd = script.display().to_string();
    f.config(POLICY)
        .write(".gitattributes", "*.txt filter=evil diff=evil\n")
        .write("a.txt", "one\n")
        .write("same.txt", "aaaa\n")
        .commit("init");
    for (key, value) in [
        ("filter.evil.clean", cmd.as_str()),
        ("filter.evil.smudge", cmd.as_str()),
        ("filter.evil.process", cmd.as_str()),
        ("diff.evil.textconv", cmd.as_str()),
        ("core.fsmonitor", cmd.as_str()),
        ("core.pager", cmd.as_str()),
        ("core.editor", cmd.as_str()),
        ("credential.helper", cmd.as_str()),
    ] {
        f.git(&["config", key, value]);
    }
    std::fs::create_dir_all(f.path().join(".git/hooks")).expect("hooks");
    for hook in [
        "post-checkout",
        "post-index-change",
        "reference-transaction",
    ] {
        std::fs::copy(&script, f.path().join(".git/hooks").join(hook)).expect("hook");
    }
    // Leave work to do in every mode: a staged edit, an unstaged edit, an
    // untracked file, a committed range, a rename.
    f.write("a.txt", &format!("one\n{KEY}\n"));
    f.stage(&["a.txt"]);
    f.write("a.txt", &format!("one\n{KEY}\ntwo\n"));
    f.write("b.txt", "new\n");
    // Same size, new content: only hashing (through the filter, if valve
    // ran one) can tell it changed.
    f.write("same.txt", "bbbb\n");
    let _ = std::fs::remove_file(&marker);
    for mode in [
        &["check", "--staged"][..],
        &["check", "--worktree"][..],
        &["check", "--all"][..],
        &["check", "a.txt", "b.txt"][..],
    ] {
        f.valve(mode).assert().code(1);
        assert!(!marker.exists(), "a program ran during {mode:?}");
    }
    f.git(&[
        "-c",
        "core.fsmonitor=false",
        "-c",
        "filter.evil.clean=cat",
        "-c",
        "filter.evil.smudge=cat",
        "commit",
        "-q",
        "--no-verify",
        "-am",
        "range",
    ]);
    let _ = std::fs::remove_file(&marker);
    f.valve(&["check", "--base", "HEAD~1"]).assert().code(1);
    assert!(!marker.exists(), "a program ran during --base");
}

#[test]
fn a_policy_change_is_said_in_every_format() {
    let f = base_repo();
    f.config(&format!("fail_on: never\n{POLICY}"))
        .write("a.txt", "x\n")
        .commit("pr");
    for (format, needle) in [
        (
            "human",
            "policy: this change edits valve's policy (.sage/valve.yml)",
        ),
        (
            "github",
            "::warning title=valve policy::this change edits valve's policy",
        ),
        ("markdown", "**Policy changed**"),
        ("sarif", "this change edits valve's policy"),
        ("json", "\"changed\": true"),
        ("ndjson", "\"changed\":true"),
    ] {
        f.valve(&[
            "check", "--base", "main", "--head", "pr", "--format", format,
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(needle));
    }
}
