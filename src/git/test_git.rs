//! The unit tests' oracle and fixture maker: the `git` CLI, hermetic (no
//! user or system config, a fixed identity). The product never runs it.

use std::path::Path;
use std::process::Command;

/// `git ARGS` in `dir`, whatever its exit status.
pub(super) fn try_git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git") // valve:ignore[GitSubprocess] reason="test oracle, #[cfg(test)] only"
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .expect("git runs")
}

/// `git ARGS` in `dir`, which must succeed: its stdout, trimmed.
pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let out = try_git(dir, args);
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes `text` at `rel` under `dir`, with its folders.
pub(super) fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// Broken copies of the bytes of an index that tracks `a.txt` and a path
/// after it: cut short at several places (`"cut at N"`), and with `a.txt`
/// renamed so that the entries are out of order.
pub(super) fn broken_indexes(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = [0, 13, 70, 100, data.len() / 2, data.len() - 21]
        .into_iter()
        .map(|cut| (format!("cut at {cut}"), data[..cut].to_vec()))
        .collect();
    let mut swapped = data.to_vec();
    let at = swapped
        .windows(5)
        .position(|w| w == b"a.txt")
        .expect("a.txt");
    swapped[at] = b'z';
    out.push(("out of order".to_string(), swapped));
    out
}
