//! The result cache (SPEC §12): `--cache DIR` / `VALVE_CACHE_DIR` changes
//! speed, never a result. Every mode reports the same without a cache, with
//! a cold one and with a warm one; edits and config changes are never
//! answered from stale entries; a corrupt or foreign entry is ignored and
//! rewritten; `--cache-max` bounds the folder.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::Fixture;
use serde_json::Value;

const CONFIG: &str = r#"
personas:
  Guardian:
    filters: ["**"]
    triggers: ['AKIA[0-9A-Z]{16}']
    severity: critical
    binary: scan
  Debris:
    filters: ["*.rs"]
    triggers: ['dbg!\(', 'todo!\(']
    severity: warning
    scope: changed
  Notes:
    filters: ["docs/**"]
    triggers: ['FIXME']
    severity: info
"#;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

/// `main` with files of every kind; `topic` (checked out) changes some in a
/// commit, some staged and some only in the work tree.
fn repo() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG);
    for i in 0..12 {
        f.write(
            &format!("src/m{i}.rs"),
            &format!("fn f{i}() {{\n    dbg!({i});\n}}\n"),
        );
        f.write(&format!("docs/p{i}.md"), "FIXME one\ntext\nFIXME two\n");
    }
    f.write("src/key.rs", &format!("const K: &str = \"{KEY}\";\n"));
    f.write(
        "src/quiet.rs",
        &format!("const K: &str = \"{KEY}\"; // valve:ignore[Guardian]\n"),
    );
    f.write_bytes("assets/blob.bin", format!("\0\0{KEY}\0").as_bytes());
    f.stage(&["."]).commit("base");
    f.git(&["checkout", "-q", "-b", "topic"]);
    f.write("src/m1.rs", "fn f1() {\n    dbg!(1);\n    todo!();\n}\n");
    f.write("docs/p2.md", "FIXME changed\n");
    f.stage(&["."]).commit("topic");
    f.write("src/m3.rs", &format!("fn f3() {{ dbg!(3); }} // {KEY}\n"));
    f.stage(&["src/m3.rs"]);
    f.write(
        "src/m4.rs",
        "fn f4() {\n    dbg!(4);\n    todo!(\"x\");\n}\n",
    );
    f.write("docs/new.md", "FIXME new\n");
    f
}

/// A json report with what varies between runs blanked.
fn comparable(mut report: Value) -> Value {
    report["summary"]["duration_ms"] = Value::Null;
    if let Some(findings) = report["findings"].as_array_mut() {
        for f in findings {
            f["timestamp"] = Value::Null;
        }
    }
    report
}

fn run(f: &Fixture, args: &[&str], cache: Option<&Path>) -> Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend(args);
    let mut cmd = f.valve(&all);
    cmd.env_remove("VALVE_CACHE_DIR");
    if let Some(dir) = cache {
        // Every file is cached, however small (the default skips < 64KiB).
        cmd.args(["--cache-min", "0", "--cache"]).arg(dir);
    }
    let out = cmd.output().expect("valve runs");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "valve {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    comparable(serde_json::from_slice(&out.stdout).expect("valid json"))
}

/// Every entry file under a cache folder, with its bytes.
fn entries(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(top) = std::fs::read_dir(dir) else {
        return out;
    };
    for sub in top.flatten() {
        for file in std::fs::read_dir(sub.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            out.insert(file.path(), std::fs::read(file.path()).unwrap_or_default());
        }
    }
    out
}

fn size_of(dir: &Path) -> u64 {
    entries(dir).values().map(|b| b.len() as u64).sum()
}

fn findings(report: &Value) -> usize {
    report["findings"].as_array().map_or(0, Vec::len)
}

const MODES: &[&[&str]] = &[
    &["--all"],
    &["--worktree"],
    &["--staged"],
    &["src/key.rs", "src/m4.rs", "docs", "assets/blob.bin"],
    &["--base", "main"],
    &["--base", "main", "--policy", "head"],
];

#[test]
fn every_mode_reports_the_same_without_a_cache_cold_and_warm() {
    let f = repo();
    for mode in MODES {
        let cache = tempfile::tempdir().expect("temp dir");
        let plain = run(&f, mode, None);
        assert!(findings(&plain) > 0, "{mode:?} finds something");
        let cold = run(&f, mode, Some(cache.path()));
        assert!(
            !entries(cache.path()).is_empty(),
            "{mode:?} fills the cache"
        );
        let warm = run(&f, mode, Some(cache.path()));
        assert_eq!(plain, cold, "{mode:?} cold");
        assert_eq!(plain, warm, "{mode:?} warm");
    }
}

#[test]
fn one_cache_serves_every_mode_alike() {
    let f = repo();
    let cache = tempfile::tempdir().expect("temp dir");
    for mode in MODES {
        run(&f, mode, Some(cache.path()));
    }
    for mode in MODES {
        assert_eq!(
            run(&f, mode, None),
            run(&f, mode, Some(cache.path())),
            "{mode:?}"
        );
    }
}

#[test]
fn an_edited_file_is_searched_again() {
    let f = repo();
    let cache = tempfile::tempdir().expect("temp dir");
    let before = run(&f, &["--all"], Some(cache.path()));
    f.write("docs/p5.md", &format!("now a key: {KEY}\nFIXME\n"));
    let plain = run(&f, &["--all"], None);
    let cached = run(&f, &["--all"], Some(cache.path()));
    assert_eq!(plain, cached);
    assert_ne!(before, cached);
    assert!(
        cached["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["file"] == "docs/p5.md" && x["persona"] == "Guardian")
    );
}

#[test]
fn a_changed_trigger_never_gets_stale_matches() {
    let f = repo();
    let cache = tempfile::tempdir().expect("temp dir");
    let before = run(&f, &["--all"], Some(cache.path()));
    f.config(&CONFIG.replace("'FIXME'", "'text'"));
    let plain = run(&f, &["--all"], None);
    let cached = run(&f, &["--all"], Some(cache.path()));
    assert_eq!(plain, cached);
    assert_ne!(before, cached);
    // Binary settings are part of the key too.
    f.config(&CONFIG.replace("    binary: scan\n", ""));
    assert_eq!(
        run(&f, &["--all"], None),
        run(&f, &["--all"], Some(cache.path()))
    );
}

#[test]
fn corrupt_and_foreign_entries_are_ignored_and_rewritten() {
    let f = repo();
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    run(&f, &["--all"], Some(cache.path()));
    let good = entries(cache.path());
    assert!(good.len() > 3);
    let paths: Vec<&PathBuf> = good.keys().collect();
    // The biggest entry holds the most matches: copied over another entry
    // it would give that file matches it does not have, if trusted.
    let biggest = good
        .iter()
        .max_by_key(|(_, b)| b.len())
        .map(|(p, b)| (p.clone(), b.clone()))
        .expect("an entry");
    for (i, path) in paths.iter().enumerate() {
        let mut bytes = good[*path].clone();
        match i % 4 {
            0 => {
                let at = bytes.len() / 2;
                bytes[at] ^= 0xff;
            }
            1 => bytes.truncate(bytes.len() / 3),
            2 if **path != biggest.0 => bytes = biggest.1.clone(),
            _ => {
                let last = bytes.len() - 1;
                bytes[last] = bytes[last].wrapping_add(1);
            }
        }
        std::fs::write(path, &bytes).expect("corrupt an entry");
    }
    assert_eq!(plain, run(&f, &["--all"], Some(cache.path())));
    assert_eq!(good, entries(cache.path()), "every entry is rewritten");
    assert_eq!(plain, run(&f, &["--all"], Some(cache.path())));
}

#[test]
fn a_tiny_cache_max_keeps_the_folder_under_it() {
    let f = repo();
    for i in 0..40 {
        f.write(&format!("docs/more{i}.md"), &"FIXME x\n".repeat(i + 1));
    }
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    for _ in 0..2 {
        let mut cmd = f.valve(&[
            "check",
            "--format",
            "json",
            "--all",
            "--cache-max",
            "1KiB",
            "--cache-min",
            "0",
        ]);
        cmd.env_remove("VALVE_CACHE_DIR")
            .arg("--cache")
            .arg(cache.path());
        let out = cmd.output().expect("valve runs");
        assert_eq!(out.status.code(), Some(1));
        let report = comparable(serde_json::from_slice(&out.stdout).expect("json"));
        assert_eq!(plain, report);
        let size = size_of(cache.path());
        assert!(size <= 1024, "cache holds {size} bytes");
        assert!(size > 0, "the most recent entries stay");
    }
    // In a range too.
    f.git(&["checkout", "-q", "-b", "wide"]);
    f.stage(&["."]).commit("more");
    let mut cmd = f.valve(&[
        "check",
        "--base",
        "main",
        "--cache-max",
        "1KiB",
        "--cache-min",
        "0",
        "--cache",
    ]);
    cmd.env_remove("VALVE_CACHE_DIR").arg(cache.path());
    assert!(
        cmd.output()
            .expect("valve runs")
            .status
            .code()
            .is_some_and(|c| c <= 1)
    );
    assert!(size_of(cache.path()) <= 1024);
    // Without the bound, the same run keeps far more.
    run(&f, &["--all"], Some(cache.path()));
    assert!(size_of(cache.path()) > 1024);
}

#[test]
fn valve_cache_dir_names_the_cache_and_the_flag_wins() {
    let f = repo();
    let from_env = tempfile::tempdir().expect("temp dir");
    let from_flag = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    let out = f
        .valve(&["check", "--format", "json", "--all", "--cache-min", "0"])
        .env("VALVE_CACHE_DIR", from_env.path())
        .output()
        .expect("valve runs");
    assert_eq!(
        plain,
        comparable(serde_json::from_slice(&out.stdout).expect("json"))
    );
    assert!(!entries(from_env.path()).is_empty());
    let out = f
        .valve(&[
            "check",
            "--format",
            "json",
            "--all",
            "--cache-min",
            "0",
            "--cache",
        ])
        .arg(from_flag.path())
        .env("VALVE_CACHE_DIR", from_env.path().join("unused"))
        .output()
        .expect("valve runs");
    assert_eq!(
        plain,
        comparable(serde_json::from_slice(&out.stdout).expect("json"))
    );
    assert!(!entries(from_flag.path()).is_empty());
    assert!(!from_env.path().join("unused").exists());
}

#[test]
fn no_cache_is_written_unless_one_is_asked_for() {
    let f = repo();
    let home = tempfile::tempdir().expect("temp dir");
    let state = f.state();
    for mode in MODES {
        let mut all = vec!["check", "--format", "json"];
        all.extend(*mode);
        let out = f
            .valve(&all)
            .env_remove("VALVE_CACHE_DIR")
            .env("HOME", home.path())
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("TMPDIR", home.path().join("tmp"))
            .output()
            .expect("valve runs");
        assert!(out.status.code().is_some_and(|c| c <= 1), "{mode:?}");
        // An empty VALVE_CACHE_DIR asks for none.
        let out = f
            .valve(&all)
            .env("VALVE_CACHE_DIR", "")
            .env("HOME", home.path())
            .output()
            .expect("valve runs");
        assert!(out.status.code().is_some_and(|c| c <= 1), "{mode:?}");
    }
    assert_eq!(state, f.state(), "nothing in the repository changed");
    let left: Vec<_> = std::fs::read_dir(home.path())
        .expect("read home")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "written: {left:?}");
}

#[test]
fn a_cache_max_that_is_no_size_is_a_usage_error() {
    let f = repo();
    let cache = tempfile::tempdir().expect("temp dir");
    let out = f
        .valve(&["check", "--all", "--cache-max", "lots", "--cache"])
        .arg(cache.path())
        .output()
        .expect("valve runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a size"));
    assert!(entries(cache.path()).is_empty());
}

#[test]
fn an_entry_moved_to_another_key_is_never_trusted() {
    // Two contents of the same length: only the key inside an entry tells
    // whose matches it holds.
    let f = Fixture::new();
    f.config("personas:\n  Notes:\n    filters: [\"docs/**\"]\n    triggers: ['FIXME']\n");
    f.write("docs/a.md", "FIXME\n")
        .write("docs/b.md", "fixme\n");
    f.stage(&["."]).commit("base");
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    assert_eq!(findings(&plain), 1);
    run(&f, &["--all"], Some(cache.path()));
    let good = entries(cache.path());
    let files: Vec<(&PathBuf, &Vec<u8>)> = good.iter().collect();
    assert_eq!(files.len(), 2);
    std::fs::write(files[0].0, files[1].1).expect("swap");
    std::fs::write(files[1].0, files[0].1).expect("swap");
    assert_eq!(plain, run(&f, &["--all"], Some(cache.path())));
    assert_eq!(good, entries(cache.path()));
}

#[test]
fn a_file_with_too_many_matches_is_not_cached() {
    let f = Fixture::new();
    f.config("personas:\n  Notes:\n    filters: [\"docs/**\"]\n    triggers: ['FIXME']\n");
    f.write("docs/many.md", &"FIXME\n".repeat(100_001));
    f.write("docs/few.md", &"FIXME\n".repeat(100_000));
    f.stage(&["."]).commit("base");
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    assert_eq!(plain, run(&f, &["--all"], Some(cache.path())));
    assert_eq!(entries(cache.path()).len(), 1, "only the file at the cap");
    assert_eq!(plain, run(&f, &["--all"], Some(cache.path())));
}

#[test]
fn small_files_are_searched_not_cached_by_default() {
    let f = Fixture::new();
    f.config("personas:\n  Notes:\n    filters: [\"docs/**\"]\n    triggers: ['FIXME']\n");
    f.write("docs/small.md", &"FIXME\n".repeat(10));
    f.write("docs/big.md", &"FIXME and more text\n".repeat(4000));
    f.stage(&["."]).commit("base");
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    for _ in 0..2 {
        let out = f
            .valve(&["check", "--format", "json", "--all", "--cache"])
            .arg(cache.path())
            .env_remove("VALVE_CACHE_DIR")
            .output()
            .expect("valve runs");
        assert_eq!(
            plain,
            comparable(serde_json::from_slice(&out.stdout).expect("json"))
        );
        assert_eq!(entries(cache.path()).len(), 1, "only the 80 KB file");
    }
}
