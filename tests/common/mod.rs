//! A real git repository in a temp dir, built with the `git` CLI, and the
//! real `valve` binary run inside it. Hermetic: no global or system git
//! config, fixed author and dates, no `CI` or `NO_COLOR` leaking in.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Std;

use assert_cmd::Command;
use tempfile::TempDir;

pub struct Fixture {
    dir: TempDir,
}

pub fn hermetic(cmd: &mut Std) {
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Valve Test")
        .env("GIT_AUTHOR_EMAIL", "test@valve.invalid")
        .env("GIT_COMMITTER_NAME", "Valve Test")
        .env("GIT_COMMITTER_EMAIL", "test@valve.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .env_remove("CI")
        .env_remove("NO_COLOR");
}

impl Fixture {
    /// A fresh repository on branch `main`.
    pub fn new() -> Self {
        let f = Fixture::bare_dir();
        f.git(&["init", "-q", "-b", "main"]);
        f
    }

    /// An empty temp dir, not a repository.
    pub fn bare_dir() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("valve-test")
            .tempdir()
            .expect("temp dir");
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self, yaml: &str) -> &Self {
        self.write(".sage/valve.yml", yaml)
    }

    pub fn write(&self, rel: &str, content: &str) -> &Self {
        self.write_bytes(rel, content.as_bytes())
    }

    pub fn write_bytes(&self, rel: &str, content: &[u8]) -> &Self {
        let p = self.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, content).expect("write");
        self
    }

    pub fn remove(&self, rel: &str) -> &Self {
        std::fs::remove_file(self.path().join(rel)).expect("rm");
        self
    }

    /// Runs git; panics with its stderr when it fails.
    pub fn git(&self, args: &[&str]) -> String {
        let mut cmd = Std::new("git");
        hermetic(&mut cmd);
        let out = cmd
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn stage(&self, paths: &[&str]) -> &Self {
        let mut args = vec!["add", "--"];
        args.extend(paths);
        self.git(&args);
        self
    }

    pub fn commit(&self, message: &str) -> &Self {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--no-verify", "-m", message]);
        self
    }

    pub fn valve(&self, args: &[&str]) -> Command {
        self.valve_in(self.path(), args)
    }

    pub fn valve_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut std = Std::new(valve_bin());
        hermetic(&mut std);
        std.args(args).current_dir(dir);
        Command::from_std(std)
    }

    /// Runs `valve check --format json` with `args` and returns the report.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["check", "--format", "json"];
        all.extend(args);
        let out = self.valve(&all).output().expect("valve runs");
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "valve {all:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("valid json")
    }

    /// Runs valve, which must end with a config error (exit 2, no panic),
    /// and returns its stderr.
    pub fn config_error(&self, args: &[&str]) -> String {
        let out = self.valve(args).output().expect("valve runs");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    }

    /// The change set a `valve check` with `args` judged, as git names it
    /// ("K path", "R old new"), from the findings of a persona `Every`
    /// that fires once per file.
    pub fn judged_changes(&self, args: &[&str]) -> std::collections::BTreeSet<String> {
        let mut all = args.to_vec();
        all.extend(["--fail-on", "never"]);
        self.json(&all)["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|x| x["persona"] == "Every")
            .map(|x| {
                let file = x["file"].as_str().expect("file");
                match x["change"].as_str().expect("change") {
                    "renamed" => format!("R {} {file}", x["old_file"].as_str().expect("old")),
                    kind => format!("{} {file}", kind[..1].to_uppercase()),
                }
            })
            .collect()
    }

    /// Everything valve must never change: the index, every ref, HEAD, and
    /// every work-tree file, byte for byte.
    pub fn state(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        collect(self.path(), self.path(), &mut out);
        out
    }
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
        // Object files are immutable by name; everything else is compared.
        if rel.starts_with(".git/objects") || rel.starts_with(".git/logs") {
            continue;
        }
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            collect(root, &p, out);
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&p).unwrap_or_default();
            out.insert(rel, target.to_string_lossy().as_bytes().to_vec());
        } else {
            out.insert(rel, std::fs::read(&p).unwrap_or_default());
        }
    }
}

pub fn valve_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_valve"))
}

/// Findings of a json report as `(persona, file, line)`.
pub fn hits(report: &serde_json::Value) -> Vec<(String, String, Option<u64>)> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["persona"].as_str().unwrap_or("").to_string(),
                        f["file"].as_str().unwrap_or("").to_string(),
                        f["line"].as_u64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces what varies between runs (temp path, durations) for snapshots.
pub fn normalize(text: &str, root: &Path) -> String {
    let mut s = text.replace(&root.display().to_string(), "[REPO]");
    let mut out = String::with_capacity(s.len());
    // "[123 ms]" → "[N ms]"
    while let Some(start) = s.find('[') {
        let (head, tail) = s.split_at(start);
        out.push_str(head);
        let digits: String = tail[1..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if !digits.is_empty() && tail[1 + digits.len()..].starts_with(" ms]") {
            out.push_str("[N ms]");
            s = tail[1 + digits.len() + 4..].to_string();
        } else {
            out.push('[');
            s = tail[1..].to_string();
        }
    }
    out.push_str(&s);
    out
}

/// `git diff --name-status -M` output as "K path" / "R old new" (a type
/// change counts as a modification), the form `judged_changes` gives.
pub fn name_status(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .map(|l| {
            let parts: Vec<&str> = l.split('\t').collect();
            match parts.as_slice() {
                [s, old, new] if s.starts_with('R') => format!("R {old} {new}"),
                [s, path] => format!("{} {path}", s[..1].replace('T', "M")),
                _ => panic!("unexpected git line {l:?}"),
            }
        })
        .collect()
}
