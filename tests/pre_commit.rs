//! The real pre-commit framework (PyPI, installed by .ci/run) uses this
//! checkout as a hook repository: a commit with a secret is blocked, a clean
//! one goes through.
//!
//! The commits run through `valve-system` (`language: system`), with the
//! valve these tests built on `PATH`, in both of its uses: the files of the
//! commit, and `args: [--staged]` with `pass_filenames: false` (what
//! `valve-staged` does). The `language: rust` ids `valve` and `valve-staged`
//! differ from it only in how valve gets there (pre-commit runs `cargo
//! install` of the hook repository, about four minutes here), so they are
//! checked as a manifest: pre-commit validates it, and each runs the same
//! entry over the same files as its `valve-system` counterpart.

mod common;
#[path = "support/workflow.rs"]
mod workflow;

use std::path::Path;
use std::process::{Command as Std, Output};

use common::{Fixture, hermetic, valve_bin};
use workflow::{entries, get, here, items, load, plain, scalar};

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

/// A commit of this checkout's hook manifest, as pre-commit would clone it
/// (a `language: system` hook needs nothing else of the repository).
fn hook_repo() -> (Fixture, String) {
    let repo = Fixture::new();
    std::fs::copy(
        here().join(".pre-commit-hooks.yaml"),
        repo.path().join(".pre-commit-hooks.yaml"),
    )
    .expect("copy");
    repo.commit("snapshot");
    let sha = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    (repo, sha)
}

/// Runs a command with pre-commit's cache kept hermetic and the tests'
/// valve first on PATH.
fn run(dir: &Path, home: &Path, bin: &Path, program: &str, args: &[&str]) -> Output {
    let mut cmd = Std::new(program);
    hermetic(&mut cmd);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.args(args)
        .current_dir(dir)
        .env("PRE_COMMIT_HOME", home)
        .env("PATH", path)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (pip install pre-commit; .ci/run does it): {e}"))
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
#[ignore = "needs pre-commit (.ci/run installs it)"]
fn pre_commit_blocks_a_secret_and_passes_a_clean_commit() {
    let (hooks, sha) = hook_repo();
    let home = Fixture::bare_dir();
    // A folder holding only `valve`: the installed valve valve-system runs.
    let bin = Fixture::bare_dir();
    std::os::unix::fs::symlink(valve_bin(), bin.path().join("valve")).expect("symlink");
    for (use_, extra) in [
        ("files", ""),
        (
            "staged",
            "        args: [--staged]\n        pass_filenames: false\n",
        ),
    ] {
        let f = Fixture::new();
        f.config(
            "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n",
        )
        .write(
            ".pre-commit-config.yaml",
            &format!(
                "repos:\n  - repo: {}\n    rev: {sha}\n    hooks:\n      - id: valve-system\n{extra}",
                hooks.path().display()
            ),
        )
        .write("a.txt", "clean\n")
        .commit("init");
        let out = run(
            f.path(),
            home.path(),
            bin.path(),
            "pre-commit",
            &["install", "--install-hooks"],
        );
        assert!(
            out.status.success(),
            "{use_}: pre-commit install failed:\n{}",
            said(&out)
        );

        f.write("a.txt", &format!("key = {KEY}\n"))
            .stage(&["a.txt"]);
        let out = run(
            f.path(),
            home.path(),
            bin.path(),
            "git",
            &["commit", "-m", "leak"],
        );
        let text = said(&out);
        assert!(
            !out.status.success(),
            "{use_}: the commit must be blocked:\n{text}"
        );
        assert!(
            text.contains("Guardian") && text.contains("a.txt"),
            "{use_}:\n{text}"
        );

        f.write("a.txt", "still clean\n").stage(&["a.txt"]);
        let out = run(
            f.path(),
            home.path(),
            bin.path(),
            "git",
            &["commit", "-m", "fine"],
        );
        assert!(
            out.status.success(),
            "{use_}: a clean commit must pass:\n{}",
            said(&out)
        );
    }
}

#[test]
#[ignore = "needs pre-commit (.ci/run installs it)"]
fn the_hook_manifest_validates_and_the_rust_ids_match_valve_system() {
    let out = Std::new("pre-commit")
        .args(["validate-manifest", ".pre-commit-hooks.yaml"])
        .current_dir(here())
        .output()
        .expect("pre-commit runs (pip install pre-commit; .ci/run does it)");
    assert!(out.status.success(), "{}", said(&out));

    let manifest = load(&here().join(".pre-commit-hooks.yaml"));
    let hooks: Vec<_> = items(Some(&manifest)).iter().collect();
    let hook = |id: &str| {
        *hooks
            .iter()
            .find(|h| get(h, "id").and_then(scalar).as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no hook id {id}"))
    };
    let keys = |id: &str| -> Vec<(String, String)> {
        entries(Some(hook(id)))
            .into_iter()
            .filter(|(k, _)| !["id", "name", "description", "language"].contains(&k.as_str()))
            .map(|(k, v)| (k, plain(v)))
            .collect()
    };
    let language = |id: &str| get(hook(id), "language").and_then(scalar);
    assert_eq!(language("valve").as_deref(), Some("rust"));
    assert_eq!(language("valve-staged").as_deref(), Some("rust"));
    assert_eq!(language("valve-system").as_deref(), Some("system"));
    // `valve` is `valve-system` built by pre-commit.
    assert_eq!(keys("valve"), keys("valve-system"));
    // `valve-staged` is `valve-system` with `args: [--staged]` and no file
    // names, as the test above runs it.
    let staged = get(hook("valve-staged"), "entry").and_then(scalar);
    assert_eq!(staged.as_deref(), Some("valve check --staged"));
    assert_eq!(
        get(hook("valve-staged"), "pass_filenames")
            .and_then(scalar)
            .as_deref(),
        Some("false")
    );
}
