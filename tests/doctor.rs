//! `valve doctor`: one line per check, exit 1 when one fails.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Fixture, valve_bin};
use predicates::prelude::*;

const CONFIG: &str = "personas:\n  T:\n    triggers: ['TODO']\n";

/// A folder for PATH holding `valve` as `make` makes it.
fn bin_dir(f: &Fixture, make: impl FnOnce(&Path)) -> PathBuf {
    let dir = f.path().join("bin-for-path");
    std::fs::create_dir_all(&dir).expect("mkdir");
    make(&dir.join("valve"));
    dir
}

fn executable(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn link_to_valve(path: &Path) {
    std::os::unix::fs::symlink(valve_bin(), path).expect("symlink");
}

fn doctor(f: &Fixture, path: &Path) -> assert_cmd::assert::Assert {
    f.valve(&["doctor"]).env("PATH", path).assert()
}

fn line_of<'a>(out: &'a str, topic: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| {
            l.get(5..)
                .is_some_and(|t| t.starts_with(&format!("{topic}:")))
        })
        .collect()
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

#[test]
fn a_set_up_repository_passes_every_check() {
    let f = Fixture::new();
    f.config(CONFIG).commit("init");
    f.valve(&["hook", "install"]).assert().success();
    let path = bin_dir(&f, link_to_valve);
    let a = doctor(&f, &path).code(0);
    let out = stdout(&a);
    assert_eq!(
        line_of(&out, "config"),
        ["ok   config: .sage/valve.yml loads: 1 persona"]
    );
    assert_eq!(line_of(&out, "hooks").len(), 1, "{out}");
    assert!(
        line_of(&out, "hooks")[0]
            .starts_with("ok   hooks: valve's pre-commit is where git runs hooks")
    );
    assert!(
        line_of(&out, "valve")[0].starts_with("ok   valve: ")
            && line_of(&out, "valve")[0].ends_with(&format!(
                "on PATH is this valve ({})",
                env!("CARGO_PKG_VERSION")
            )),
        "{out}"
    );
    assert!(
        line_of(&out, "repository")[0]
            .starts_with("ok   repository: readable: sha1 objects, HEAD at "),
        "{out}"
    );
    assert!(
        out.ends_with("valve doctor: 0 failed, 0 warnings, 4 ok\n"),
        "{out}"
    );
}

#[test]
fn outside_git_says_what_does_not_apply() {
    let f = Fixture::bare_dir();
    f.config(CONFIG);
    let path = bin_dir(&f, link_to_valve);
    let out = stdout(&doctor(&f, &path).code(0));
    assert!(
        out.contains("ok   hooks: do not apply: not in a git repository"),
        "{out}"
    );
    assert!(
        out.contains("ok   repository: does not apply: not in a git repository"),
        "{out}"
    );
    assert!(out.contains("ok   config: .sage/valve.yml loads"), "{out}");
}

#[test]
fn a_missing_or_broken_config_fails_with_the_fix() {
    let f = Fixture::new();
    let path = bin_dir(&f, link_to_valve);
    let out = stdout(&doctor(&f, &path).code(1));
    assert!(
        out.contains("FAIL config: no valve config found at") && out.contains("valve init"),
        "{out}"
    );
    f.config("personas:\n  T:\n    triggers: ['(unclosed']\n    severty: error\n");
    let out = stdout(&doctor(&f, &path).code(1));
    let config = line_of(&out, "config");
    assert!(
        config[0].starts_with("FAIL config: .sage/valve.yml has ")
            && config[0].contains("`valve personas` shows each"),
        "{out}"
    );
    // A broken nested config fails too, named; a sound one is counted.
    f.config("personas:\n  T:\n    triggers: ['TODO']\n")
        .write("web/.sage/valve.yml", "max_findings: 3\npersonas: {}\n");
    let out = stdout(&doctor(&f, &path).code(1));
    let config = line_of(&out, "config");
    assert!(
        config[0].starts_with("FAIL config: web/.sage/valve.yml has 1 error"),
        "{out}"
    );
    f.write(
        "web/.sage/valve.yml",
        "personas:\n  N:\n    triggers: ['x']\n",
    );
    let out = stdout(&doctor(&f, &path));
    let config = line_of(&out, "config");
    assert!(
        config[0].contains(".sage/valve.yml loads: 2 personas (1 nested config)"),
        "{out}"
    );
}

#[test]
fn no_hook_where_git_runs_hooks_fails_and_names_the_orphan() {
    let f = Fixture::new();
    f.config(CONFIG).commit("init");
    f.valve(&["hook", "install"]).assert().success();
    // husky's move: git now runs hooks from .husky/_ only.
    f.git(&["config", "core.hooksPath", ".husky/_"]);
    let path = bin_dir(&f, link_to_valve);
    let out = stdout(&doctor(&f, &path).code(1));
    let hooks = line_of(&out, "hooks");
    assert!(
        hooks[0].starts_with("FAIL hooks: no pre-commit hook where git runs hooks (")
            && hooks[0].contains(".husky/_ (core.hooksPath)); fix: `valve hook install`"),
        "{out}"
    );
    assert!(
        hooks
            .iter()
            .any(|l| l.starts_with("warn hooks: valve's pre-commit at ")
                && l.contains(".git/hooks/pre-commit never runs")
                && l.contains("`rm ")),
        "{out}"
    );
    // The fix it names makes the check pass.
    f.valve(&["hook", "install"]).assert().success();
    let out = stdout(&doctor(&f, &path));
    assert!(
        line_of(&out, "hooks")[0].starts_with("ok   hooks:"),
        "{out}"
    );
}

#[test]
fn a_hook_git_would_skip_or_that_never_calls_valve_fails() {
    let f = Fixture::new();
    f.config(CONFIG).commit("init");
    f.valve(&["hook", "install"]).assert().success();
    let hook = f.path().join(".git/hooks/pre-commit");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let path = bin_dir(&f, link_to_valve);
    let out = stdout(&doctor(&f, &path).code(1));
    assert!(
        out.contains("is not executable, so git skips it; fix: `chmod +x"),
        "{out}"
    );
    executable(&hook, b"#!/bin/sh\nexec npx lint-staged\n");
    let out = stdout(&doctor(&f, &path).code(1));
    assert!(
        out.contains("is not valve's and never calls valve; fix: add `valve check --staged`"),
        "{out}"
    );
    // Another tool's hook that calls valve: a warning, not a failure.
    executable(&hook, b"#!/bin/sh\nvalve check --staged\n");
    let out = stdout(&doctor(&f, &path).code(0));
    assert!(out.contains("warn hooks: the pre-commit git runs"), "{out}");
}

#[test]
fn the_valve_on_path_is_compared_with_the_hooks_version_without_running_it() {
    let f = Fixture::new();
    f.config(CONFIG).commit("init");
    f.valve(&["hook", "install"]).assert().success();
    let version = env!("CARGO_PKG_VERSION");
    // None on PATH: the hook would refuse every commit.
    let empty = f.path().join("empty-bin");
    std::fs::create_dir(&empty).expect("mkdir");
    let out = stdout(&doctor(&f, &empty).code(1));
    assert!(out.contains("FAIL valve: no `valve` on PATH"), "{out}");
    // A copy of this valve: another file, the same version.
    let copy = bin_dir(&f, |p| {
        std::fs::copy(valve_bin(), p).expect("copy");
    });
    let out = stdout(&doctor(&f, &copy).code(0));
    assert!(
        out.contains(&format!(
            "on PATH is valve {version}, the hook's version (not this binary"
        )),
        "{out}"
    );
    // Another version, read from its stamp: were it run, it would print
    // something else entirely.
    std::fs::remove_file(copy.join("valve")).expect("rm");
    executable(
        &copy.join("valve"),
        b"#!/bin/sh\necho ran >ran.txt\n# \0valve-version-stamp:9.9.9\0\n",
    );
    let out = stdout(&doctor(&f, &copy).code(1));
    assert!(
        out.contains(&format!(
            "on PATH is valve 9.9.9, but the hook's version is {version}"
        )),
        "{out}"
    );
    assert!(
        !f.path().join("ran.txt").exists(),
        "doctor ran the valve on PATH"
    );
    // No stamp at all: said, not guessed.
    executable(&copy.join("valve"), b"#!/bin/sh\necho valve\n");
    let out = stdout(&doctor(&f, &copy).code(0));
    assert!(
        out.contains("is not this binary and records no version"),
        "{out}"
    );
}

#[test]
fn an_unreadable_index_fails_the_repository_check() {
    let f = Fixture::new();
    f.config(CONFIG).commit("init");
    f.valve(&["hook", "install"]).assert().success();
    f.write_bytes(".git/index", b"DIRC garbage that is no index");
    let path = bin_dir(&f, link_to_valve);
    doctor(&f, &path).code(1).stdout(predicate::str::contains(
        "FAIL repository: cannot read the index",
    ));
}

#[test]
fn an_unborn_head_is_fine() {
    let f = Fixture::new();
    f.config(CONFIG);
    f.valve(&["hook", "install"]).assert().success();
    let path = bin_dir(&f, link_to_valve);
    doctor(&f, &path).code(0).stdout(predicate::str::contains(
        "ok   repository: readable: sha1 objects, no commit yet, index read (0 entries)",
    ));
}

#[test]
fn a_server_repository_is_checked_for_its_pre_receive_hook() {
    let f = Fixture::bare_dir();
    f.git(&["init", "-q", "--bare", "-b", "main"]);
    let path = bin_dir(&f, link_to_valve);
    let out = stdout(&doctor(&f, &path).code(1));
    assert!(
        out.contains("warn config: not checked: this bare repository has no commit yet")
            && out.contains("FAIL hooks: no pre-receive hook where git runs hooks")
            && out.contains("`valve hook install --pre-receive`")
            && out.contains(
                "ok   repository: readable: sha1 objects, no commit yet, bare (no index)"
            ),
        "{out}"
    );
    f.valve(&["hook", "install", "--pre-receive"])
        .assert()
        .success();
    doctor(&f, &path).code(0).stdout(predicate::str::contains(
        "ok   hooks: valve's pre-receive is where git runs hooks",
    ));
}
