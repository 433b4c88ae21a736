//! The real pre-commit framework (PyPI, installed by .ci/run) uses this
//! checkout as a hook repository: a commit with a secret is blocked, a clean
//! one goes through, for both hook ids of `.pre-commit-hooks.yaml`.

mod common;

use std::path::Path;
use std::process::{Command as Std, Output};

use common::{Fixture, hermetic};

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

/// A commit of this checkout's sources, as pre-commit would clone it.
fn hook_repo() -> (Fixture, String) {
    let repo = Fixture::new();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["Cargo.toml", "Cargo.lock", ".pre-commit-hooks.yaml"] {
        std::fs::copy(here.join(file), repo.path().join(file)).expect("copy");
    }
    for dir in ["src", "hooks"] {
        copy_dir(&here.join(dir), &repo.path().join(dir));
    }
    repo.commit("snapshot");
    let sha = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    (repo, sha)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("readable").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Runs a command with pre-commit's cache and cargo build kept hermetic
/// but fast: the build of valve is cached under target/ between runs, and
/// built without LTO (a test-only override; users get the release profile).
fn run(dir: &Path, home: &Path, program: &str, args: &[&str]) -> Output {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Std::new(program);
    hermetic(&mut cmd);
    cmd.args(args)
        .current_dir(dir)
        .env("PRE_COMMIT_HOME", home)
        .env("CARGO_TARGET_DIR", here.join("target/pre-commit-build"))
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
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
    for id in ["valve", "valve-staged"] {
        let f = Fixture::new();
        f.config(
            "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n",
        )
        .write(
            ".pre-commit-config.yaml",
            &format!(
                "repos:\n  - repo: {}\n    rev: {sha}\n    hooks:\n      - id: {id}\n",
                hooks.path().display()
            ),
        )
        .write("a.txt", "clean\n")
        .commit("init");
        let out = run(
            f.path(),
            home.path(),
            "pre-commit",
            &["install", "--install-hooks"],
        );
        assert!(
            out.status.success(),
            "{id}: pre-commit install failed:\n{}",
            said(&out)
        );

        f.write("a.txt", &format!("key = {KEY}\n"))
            .stage(&["a.txt"]);
        let out = run(f.path(), home.path(), "git", &["commit", "-m", "leak"]);
        let text = said(&out);
        assert!(
            !out.status.success(),
            "{id}: the commit must be blocked:\n{text}"
        );
        assert!(
            text.contains("Guardian") && text.contains("a.txt"),
            "{id}:\n{text}"
        );

        f.write("a.txt", "still clean\n").stage(&["a.txt"]);
        let out = run(f.path(), home.path(), "git", &["commit", "-m", "fine"]);
        assert!(
            out.status.success(),
            "{id}: a clean commit must pass:\n{}",
            said(&out)
        );
    }
}
