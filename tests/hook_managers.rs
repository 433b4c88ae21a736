//! The README's snippets for other hook managers, run with the real tools:
//! the snippet text is read from README.md itself, installed the way each
//! tool installs hooks, and driven by real commits, merges and pushes.
//!
//! The tools come from npm (`.ci/tools`: `npm ci --ignore-scripts --prefix
//! .ci/tools`, which `.ci/run` does); these tests are ignored unless asked
//! for: `cargo test --test hook_managers -- --include-ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command as Std, Output};

use common::{Fixture, hermetic, valve_bin};

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";
const CONFIG: &str = "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n    history: true\n";

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/tools/node_modules")
}

/// The README's fenced block whose text starts with `marker` (without
/// it), or else the first block after the prose that contains `marker`.
fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    // (offset of the body, body) of every fenced block.
    let mut blocks = Vec::new();
    let mut rest = readme.as_str();
    let mut offset = 0;
    while let Some(open) = rest.find("```") {
        let Some(eol) = rest[open..].find('\n') else {
            break;
        };
        let body_start = open + eol + 1;
        let Some(close) = rest[body_start..].find("```") else {
            break;
        };
        blocks.push((offset + body_start, &rest[body_start..body_start + close]));
        let used = body_start + close + 3;
        offset += used;
        rest = &rest[used..];
    }
    if let Some((_, body)) = blocks.iter().find(|(_, b)| b.starts_with(marker)) {
        return body[marker.len()..].to_string();
    }
    let at = readme.find(marker).expect("the README has the snippet");
    blocks
        .iter()
        .find(|(o, _)| *o > at)
        .map(|(_, b)| b.to_string())
        .expect("a block after the marker")
}

/// PATH with the valve under test and the npm tools first.
fn path_with(extra: &[PathBuf]) -> String {
    let mut dirs: Vec<String> = extra.iter().map(|d| d.display().to_string()).collect();
    if let Some(dir) = valve_bin().parent() {
        dirs.push(dir.display().to_string());
    }
    dirs.push(std::env::var("PATH").unwrap_or_default());
    dirs.join(":")
}

fn run_in(dir: &Path, program: &str, args: &[&str], path: &str) -> Output {
    let mut cmd = Std::new(program);
    hermetic(&mut cmd);
    cmd.env("PATH", path)
        // The tools' own CI switches must not turn the hooks off.
        .env_remove("LEFTHOOK")
        .env_remove("HUSKY")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn head(f: &Fixture, path: &str) -> String {
    f.git(&["rev-parse", "-q", "--verify", path])
        .trim()
        .to_string()
}

fn remote_has(remote: &Path, name: &str, path: &str) -> Option<String> {
    let out = run_in(remote, "git", &["rev-parse", "-q", "--verify", name], path);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Exercises a repository whose hooks a manager installed: commits,
/// a merge, and pushes that must be judged by the refs git passes.
fn exercise(f: &Fixture, path: &str) {
    let git = |args: &[&str]| run_in(f.path(), "git", args, path);
    // pre-commit
    f.write("a.txt", &format!("{KEY}\n"));
    f.git(&["add", "a.txt"]);
    let out = git(&["commit", "-q", "-m", "leak"]);
    assert!(!out.status.success(), "commit not blocked: {}", said(&out));
    assert!(said(&out).contains("Guardian"), "{}", said(&out));
    f.write("a.txt", "clean\n");
    f.git(&["add", "a.txt"]);
    let out = git(&["commit", "-q", "-m", "clean"]);
    assert!(out.status.success(), "{}", said(&out));

    // pre-merge-commit: `git merge` runs it, not pre-commit.
    f.git(&["checkout", "-q", "-b", "side"]);
    f.write("side.txt", &format!("{KEY}\n"));
    f.git(&["add", "side.txt"]);
    f.git(&["commit", "-q", "--no-verify", "-m", "side leak"]);
    f.git(&["checkout", "-q", "main"]);
    let out = git(&["merge", "--no-ff", "-m", "merge side", "side"]);
    assert!(!out.status.success(), "merge not blocked: {}", said(&out));
    let _ = git(&["merge", "--abort"]);

    // pre-push, to a remote that is not `origin`, on a branch that is not
    // `main`: only the refs on stdin can say what to judge.
    let dir = Fixture::bare_dir();
    let remote = dir.path().join("backup.git");
    let out = run_in(
        dir.path(),
        "git",
        &["init", "-q", "--bare", "-b", "trunk", "backup.git"],
        path,
    );
    assert!(out.status.success());
    f.git(&["remote", "add", "backup", remote.to_str().unwrap_or("")]);
    // First push of the history: from its roots, and it is clean.
    let out = git(&["push", "-q", "backup", "main"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        remote_has(&remote, "refs/heads/main", path),
        Some(head(f, "main"))
    );
    // A topic branch: a key committed past the hook, removed next.
    f.git(&["checkout", "-q", "-b", "topic"]);
    f.write("t.txt", &format!("{KEY}\n"));
    f.git(&["add", "t.txt"]);
    f.git(&["commit", "-q", "--no-verify", "-m", "oops"]);
    f.remove("t.txt");
    f.git(&["add", "-A"]);
    f.git(&["commit", "-q", "--no-verify", "-m", "hide it"]);
    let out = git(&["push", "-q", "backup", "topic"]);
    assert!(!out.status.success(), "push not blocked: {}", said(&out));
    assert!(said(&out).contains("in commit"), "{}", said(&out));
    assert_eq!(remote_has(&remote, "refs/heads/topic", path), None);
    // A clean topic is pushed.
    f.git(&["reset", "-q", "--hard", "main"]);
    f.write("ok.txt", "fine\n");
    f.git(&["add", "ok.txt"]);
    f.git(&["commit", "-q", "--no-verify", "-m", "fine"]);
    let out = git(&["push", "-q", "backup", "topic"]);
    assert!(out.status.success(), "{}", said(&out));
}

fn fixture() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG).write("a.txt", "start\n").commit("init");
    f
}

#[test]
#[ignore = "needs lefthook"]
fn the_readme_lefthook_snippet_gates_commits_merges_and_pushes() {
    let bin = tools().join(".bin");
    assert!(
        bin.join("lefthook").exists(),
        "lefthook is missing: npm ci --ignore-scripts --prefix .ci/tools (.ci/run does it)"
    );
    let path = path_with(std::slice::from_ref(&bin));
    let f = fixture();
    f.write("lefthook.yml", &readme_block("# lefthook.yml\n"));
    f.commit("lefthook");
    let out = run_in(f.path(), "lefthook", &["install"], &path);
    assert!(out.status.success(), "{}", said(&out));
    // The hooks git runs are lefthook's: valve says so.
    let out = run_in(
        f.path(),
        valve_bin().to_str().unwrap_or(""),
        &["hook", "status"],
        &path,
    );
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    exercise(&f, &path);
}

#[test]
#[ignore = "needs husky (npm)"]
fn the_readme_husky_snippet_gates_commits_merges_and_pushes() {
    let husky = tools().join("husky/bin.js");
    assert!(
        husky.exists(),
        "husky is missing: npm ci --ignore-scripts --prefix .ci/tools (.ci/run does it)"
    );
    let path = path_with(&[]);
    let f = fixture();
    f.write(
        "package.json",
        "{\"name\": \"fixture\", \"private\": true}\n",
    );
    // `npx husky init`, from the package this checkout pins.
    let out = run_in(
        f.path(),
        "node",
        &[husky.to_str().unwrap_or(""), "init"],
        &path,
    );
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(f.git(&["config", "core.hooksPath"]).trim(), ".husky/_");
    // The README's lines, as a user pastes them.
    let script = readme_block("After `npx husky init`");
    let out = run_in(f.path(), "sh", &["-c", &script], &path);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        std::fs::read_to_string(f.path().join(".husky/pre-commit")).unwrap_or_default(),
        "valve check --staged\n"
    );
    f.commit("husky");
    exercise(&f, &path);
}
