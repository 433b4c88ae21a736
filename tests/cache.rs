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

/// Every file under a cache folder's fan-out folders, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
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

/// The per-content entries (the first bytes tell them from the file of
/// stat-clean records).
fn entries(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = files(dir);
    all.retain(|_, b| b.starts_with(b"valve\0rc"));
    all
}

/// The files of stat-clean records (one per ruleset).
fn records(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = files(dir);
    all.retain(|_, b| b.starts_with(b"valve\0cs"));
    all
}

fn size_of(dir: &Path) -> u64 {
    files(dir).values().map(|b| b.len() as u64).sum()
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
    let good = files(cache.path());
    assert!(good.len() > 3);
    assert_eq!(records(cache.path()).len(), 1);
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
    assert_eq!(good, files(cache.path()), "every entry is rewritten");
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
    f.stage(&["."]).commit("base");
    // Untracked: judged by their bytes (a tracked, stat-clean one may be
    // known by its blob and not read at all).
    f.write("docs/a.md", "FIXME\n")
        .write("docs/b.md", "fixme\n");
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

// The stat-clean shortcut (SPEC §12): a tracked file whose index entry is
// stat-clean is known by its blob id, and a warm run does not even open
// it when an earlier run found nothing in that blob.

/// Sets a file's modification time an hour back: `git add` then records
/// an entry older than the index it writes (not racy), as after a clone.
fn age(f: &Fixture, rel: &str) {
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(f.path().join(rel))
        .and_then(|file| file.set_modified(past))
        .expect("set the modification time");
}

const QUIET: &str = "nothing to see here, move along\n";

/// Tracked files written an hour ago and committed: quiet ones (no match,
/// no marker), ones with matches, a marker that silences nothing, and
/// binaries with and without a key.
fn clean_repo() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..8 {
        files.push((format!("lib/quiet{i}.txt"), QUIET.as_bytes().to_vec()));
    }
    files.push(("lib/dup.txt".into(), QUIET.as_bytes().to_vec()));
    files.push(("src/m0.rs".into(), b"fn f() {\n    dbg!(0);\n}\n".to_vec()));
    files.push((
        "lib/marked.txt".into(),
        b"quiet // valve:ignore[Guardian]\n".to_vec(),
    ));
    files.push(("assets/key.bin".into(), format!("\0\0{KEY}\0").into_bytes()));
    files.push(("assets/plain.bin".into(), b"\0\0nothing\0".to_vec()));
    for (rel, bytes) in &files {
        f.write_bytes(rel, bytes);
        age(&f, rel);
    }
    age(&f, ".sage/valve.yml");
    f.stage(&["."]).commit("base");
    f
}

/// Runs valve with `args` and the cache, and the names of the files it
/// opened in `dirs` (inotify's IN_OPEN events, which the kernel queues as
/// each open happens; read once valve has exited).
fn run_watching(f: &Fixture, args: &[&str], cache: &Path, dirs: &[&str]) -> (Value, Vec<String>) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: a plain syscall; the descriptor is owned right away.
    let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    assert!(raw >= 0, "inotify_init1 failed");
    // SAFETY: `raw` is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    for dir in dirs {
        let path = std::ffi::CString::new(f.path().join(dir).as_os_str().as_bytes())
            .expect("a path without NUL");
        // SAFETY: `path` is a valid C string for the call's duration.
        let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), libc::IN_OPEN) };
        assert!(wd >= 0, "inotify_add_watch {dir}");
    }
    let report = run(f, args, Some(cache));
    let mut names = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let head = std::mem::size_of::<libc::inotify_event>();
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        let Ok(n) = usize::try_from(n) else { break };
        if n == 0 {
            break;
        }
        let mut at = 0;
        while at + head <= n {
            // SAFETY: the kernel wrote a whole event at `at`.
            let event: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
            let name = &buf[at + head..at + head + event.len as usize];
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            if event.mask & libc::IN_ISDIR == 0 && !name.is_empty() {
                names.push(String::from_utf8_lossy(name).into_owned());
            }
            at += head + event.len as usize;
        }
    }
    names.sort();
    names.dedup();
    (report, names)
}

const WATCHED: &[&str] = &["lib", "src", "assets"];

#[test]
fn a_stat_clean_file_is_not_read_when_its_blob_is_known() {
    let f = clean_repo();
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    assert!(findings(&plain) > 0);
    let (cold, opened) = run_watching(&f, &["--all"], cache.path(), WATCHED);
    assert_eq!(plain, cold);
    assert!(
        opened.contains(&"quiet0.txt".to_string()),
        "cold: {opened:?}"
    );
    assert_eq!(records(cache.path()).len(), 1, "the records are kept");
    let (warm, opened) = run_watching(&f, &["--all"], cache.path(), WATCHED);
    assert_eq!(plain, warm);
    // Quiet files, a binary with nothing in it, and text files with
    // matches or a marker (from the lines their records keep) are known by
    // their blob.
    for quiet in [
        "quiet0.txt",
        "quiet7.txt",
        "dup.txt",
        "plain.bin",
        "m0.rs",
        "marked.txt",
    ] {
        assert!(
            !opened.contains(&quiet.to_string()),
            "warm opened {quiet}: {opened:?}"
        );
    }
    // A binary's matches are read.
    assert!(
        opened.contains(&"key.bin".to_string()),
        "warm skipped key.bin: {opened:?}"
    );
    // `PATH...` mode lists git's files too.
    assert_eq!(
        run(&f, &["lib"], None),
        run(&f, &["lib"], Some(cache.path()))
    );
}

#[test]
fn an_edit_that_keeps_size_and_mtime_is_judged_again_and_so_is_a_staged_one() {
    let f = clean_repo();
    let cache = tempfile::tempdir().expect("temp dir");
    run(&f, &["--all"], Some(cache.path()));
    run(&f, &["--all"], Some(cache.path()));
    // Same size, and the old modification time put back: only the change
    // time (and the inode's content) tell.
    let mut edited = format!("k={KEY}");
    while edited.len() + 1 < QUIET.len() {
        edited.push(' ');
    }
    edited.push('\n');
    assert_eq!(edited.len(), QUIET.len());
    let path = f.path().join("lib/quiet3.txt");
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    f.write("lib/quiet3.txt", &edited);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_modified(mtime))
        .expect("set mtime");
    let plain = run(&f, &["--all"], None);
    let hit = |r: &Value| {
        r["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["file"] == "lib/quiet3.txt" && x["persona"] == "Guardian")
    };
    assert!(hit(&plain));
    assert_eq!(plain, run(&f, &["--all"], Some(cache.path())));
    // A touch alone (new mtime, same bytes) and then `git add`: the entry
    // describes the file again, with the new blob.
    f.write("lib/quiet5.txt", QUIET);
    f.stage(&["lib/quiet3.txt", "lib/quiet5.txt"]);
    let plain = run(&f, &["--all"], None);
    assert!(hit(&plain));
    assert_eq!(plain, run(&f, &["--all"], Some(cache.path())));
    assert_eq!(plain, run(&f, &["--all"], Some(cache.path())));
    assert_eq!(
        run(&f, &["--worktree"], None),
        run(&f, &["--worktree"], Some(cache.path()))
    );
}

#[test]
fn a_changed_trigger_reads_clean_files_again() {
    let f = clean_repo();
    let cache = tempfile::tempdir().expect("temp dir");
    run(&f, &["--all"], Some(cache.path()));
    f.config(&CONFIG.replace("'AKIA[0-9A-Z]{16}'", "'move along'"));
    age(&f, ".sage/valve.yml");
    let plain = run(&f, &["--all"], None);
    assert!(
        plain["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["file"] == "lib/quiet0.txt"),
        "the new trigger matches the quiet files"
    );
    let (cached, opened) = run_watching(&f, &["--all"], cache.path(), WATCHED);
    assert_eq!(plain, cached);
    assert!(opened.contains(&"quiet0.txt".to_string()), "{opened:?}");
    assert_eq!(
        records(cache.path()).len(),
        2,
        "one file of records per ruleset"
    );
}

#[test]
fn corrupt_records_are_ignored_and_rewritten() {
    let f = clean_repo();
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    run(&f, &["--all"], Some(cache.path()));
    let good = records(cache.path());
    let (path, bytes) = good.iter().next().expect("a file of records");
    let damaged: Vec<Vec<u8>> = vec![
        {
            let mut b = bytes.clone();
            let last = b.len() - 1;
            b[last] ^= 0x01;
            b
        },
        bytes[..bytes.len() - 5].to_vec(),
        {
            // A record's flags set to what no run writes.
            let mut b = bytes.clone();
            let at = b.len() - 9;
            b[at] = 0xff;
            b
        },
        b"valve\0cs".to_vec(),
    ];
    for broken in damaged {
        std::fs::write(path, &broken).expect("damage the records");
        let (report, opened) = run_watching(&f, &["--all"], cache.path(), WATCHED);
        assert_eq!(plain, report);
        assert!(
            opened.contains(&"quiet0.txt".to_string()),
            "not trusted: {opened:?}"
        );
        assert_eq!(good, records(cache.path()), "rewritten as they were");
    }
}

#[test]
fn a_tiny_cache_max_holds_no_records_and_changes_nothing() {
    let f = clean_repo();
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    for _ in 0..2 {
        let out = f
            .valve(&["check", "--format", "json", "--all", "--cache-max", "512B"])
            .arg("--cache")
            .arg(cache.path())
            .env_remove("VALVE_CACHE_DIR")
            .output()
            .expect("valve runs");
        assert_eq!(
            plain,
            comparable(serde_json::from_slice(&out.stdout).expect("json"))
        );
        assert!(size_of(cache.path()) <= 512);
    }
}

#[test]
fn a_file_git_would_convert_is_never_answered_from_its_blob() {
    // Two files with one blob: `conv.txt` is UTF-16LE in the work tree
    // (git stores it as UTF-8), `plain.txt` is that UTF-8. Both are 4
    // bytes; only the UTF-16 bytes hold an `N` (U+4E2D is 2D 4E).
    let f = Fixture::new();
    f.config(
        "personas:\n  Bytes:\n    filters: ['*.txt']\n    triggers: ['N']\n    binary: scan\n",
    );
    f.write(
        ".gitattributes",
        "conv.txt working-tree-encoding=UTF-16LE\n",
    );
    f.write_bytes("plain.txt", "a\u{4e2d}".as_bytes());
    f.write_bytes("conv.txt", &[0x61, 0x00, 0x2d, 0x4e]);
    let (plain, _cache) = one_blob_two_files(&f, ["plain.txt", "conv.txt"]);
    assert_eq!(findings(&plain), 1, "the UTF-16 bytes match");
}

/// Commits `files` (and the attributes and config), aged so that they are
/// stat-clean, and checks that git stores them as one blob; then `--all`
/// without a cache, and three runs with one (cold, then warm) that must
/// report the same. The report and the cache folder.
fn one_blob_two_files(f: &Fixture, files: [&str; 2]) -> (Value, tempfile::TempDir) {
    for rel in [".gitattributes", files[0], files[1], ".sage/valve.yml"] {
        age(f, rel);
    }
    f.stage(&["."]).commit("base");
    let ids = f.git(&["ls-files", "-s", files[0], files[1]]);
    let blobs: Vec<&str> = ids.lines().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(blobs.len(), 2);
    assert_eq!(blobs[0], blobs[1], "one blob: {ids}");
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(f, &["--all"], None);
    for _ in 0..3 {
        assert_eq!(plain, run(f, &["--all"], Some(cache.path())));
    }
    (plain, cache)
}

/// Personas for files whose matches a warm run replays unread: one that
/// spans lines, one that matches nothing (and would match the blank lines
/// a partial text is padded with, were it ever run on it).
const REPLAY_CONFIG: &str = r#"
personas:
  Guardian:
    triggers: ['AKIA[0-9A-Z]{16}']
    severity: critical
  Debris:
    filters: ["*.rs"]
    triggers: ['dbg!\(', 'todo!\(']
    severity: warning
    scope: changed
  Span:
    triggers: ['(?s)BEGIN.{0,40}?END']
  Gaps:
    triggers: ['\n\n\n']
"#;

#[test]
fn a_clean_file_with_matches_is_judged_unread_exactly_as_read() {
    let f = Fixture::new();
    f.config(REPLAY_CONFIG);
    let far: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    let files: Vec<(&str, String)> = vec![
        (
            "src/multi.rs",
            "fn a() {}\ndbg!(1); dbg!(2);\n  todo!(\"x\")\n".into(),
        ),
        ("src/last.rs", "x\ny dbg!(3)".into()),
        ("src/crlf.rs", "a\r\ndbg!(4)\r\nb\r\n".into()),
        ("src/long.rs", format!("{}\n dbg!(5)\n", "z".repeat(5000))),
        ("src/uni.rs", "é ü dbg!(6) ü\n".into()),
        ("src/far.rs", format!("{far}dbg!(7)\n{far}")),
        ("lib/key.txt", format!("one\ntwo\nk={KEY}\n")),
        ("lib/span.txt", "x\nBEGIN\nmid\nEND\ny\n".into()),
        // Markers: one that silences its line's match, one on a line with
        // no match (unused), one naming no persona, one broken, and one in
        // a file where nothing matches.
        (
            "src/waived.rs",
            format!(
                "a\ndbg!(8) // valve:ignore[Debris] reason=\"test\"\n{far}// valve:ignore[Debris]\n\
                 k={KEY} // valve:ignore[Nobody]\nz // valve:ignore[Guardian\n"
            ),
        ),
        (
            "lib/only_marker.txt",
            "x\ny // valve:ignore[Guardian]\nz\n".into(),
        ),
    ];
    for (rel, text) in &files {
        f.write(rel, text);
        age(&f, rel);
    }
    age(&f, ".sage/valve.yml");
    f.stage(&["."]).commit("base");
    let cache = tempfile::tempdir().expect("temp dir");
    let human = |cache: Option<&Path>| {
        let mut cmd = f.valve(&["check", "--all", "-v", "--fail-on", "never"]);
        cmd.env_remove("VALVE_CACHE_DIR");
        if let Some(dir) = cache {
            cmd.arg("--cache").arg(dir);
        }
        let out = cmd.output().expect("valve runs");
        common::normalize(&String::from_utf8_lossy(&out.stdout), f.path())
    };
    let plain = run(&f, &["--all"], None);
    let plain_human = human(None);
    assert!(findings(&plain) >= 10, "{plain}");
    assert!(plain_human.contains("src/far.rs:2001"), "{plain_human}");
    for marker in [
        "src/waived.rs:2",
        "src/waived.rs:2003",
        "src/waived.rs:2004",
        "src/waived.rs:2005",
        "lib/only_marker.txt:2",
    ] {
        assert!(plain_human.contains(marker), "{marker}: {plain_human}");
    }
    let (cold, _) = run_watching(&f, &["--all"], cache.path(), &["src", "lib"]);
    assert_eq!(plain, cold);
    let (warm, opened) = run_watching(&f, &["--all"], cache.path(), &["src", "lib"]);
    assert_eq!(plain, warm);
    assert!(opened.is_empty(), "warm read {opened:?}");
    // Snippets too, from the default cache (files under --cache-min).
    assert_eq!(plain_human, human(Some(cache.path())), "cold");
    assert_eq!(plain_human, human(Some(cache.path())), "warm");
}

#[test]
fn stat_clean_files_at_the_root_and_deep_down_are_not_read_when_warm() {
    let f = clean_repo();
    for rel in ["top.txt", "lib/a/b/deep.txt", "lib/a/b/deep2.txt"] {
        f.write(rel, QUIET);
        age(&f, rel);
    }
    f.stage(&["."]).commit("more quiet files");
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    let dirs = [".", "lib", "lib/a/b", "src"];
    let (cold, opened) = run_watching(&f, &["--all"], cache.path(), &dirs);
    assert_eq!(plain, cold);
    assert!(opened.contains(&"deep.txt".to_string()), "cold: {opened:?}");
    let (warm, opened) = run_watching(&f, &["--all"], cache.path(), &dirs);
    assert_eq!(plain, warm);
    for quiet in ["top.txt", "deep.txt", "deep2.txt", "quiet0.txt", "m0.rs"] {
        assert!(
            !opened.contains(&quiet.to_string()),
            "warm opened {quiet}: {opened:?}"
        );
    }
    assert!(!opened.contains(&"marked.txt".to_string()), "{opened:?}");
    // One worker, so that every file comes through one walk and worker.
    let mut one = f.valve(&["check", "--format", "json", "--all", "--threads", "1"]);
    one.env_remove("VALVE_CACHE_DIR")
        .args(["--cache-min", "0", "--cache"])
        .arg(cache.path());
    let out = one.output().expect("valve runs");
    assert_eq!(
        plain,
        comparable(serde_json::from_slice(&out.stdout).expect("json"))
    );
}

/// The inode of the one file of records: a new one means it was written.
fn records_inode(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let records = records(dir);
    assert_eq!(records.len(), 1, "one file of records");
    let path = records.keys().next().expect("a file of records");
    std::fs::metadata(path).expect("stat the records").ino()
}

#[test]
fn a_warm_run_writes_no_records_and_a_wider_run_adds_what_it_learns() {
    let f = clean_repo();
    // Taken by two personas, and quiet for both.
    f.write("src/calm.rs", "fn calm() {}\n");
    age(&f, "src/calm.rs");
    f.stage(&["."]).commit("calm");
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    // Only Guardian judges: the record says calm.rs is quiet for it alone.
    run(&f, &["--all", "--persona", "Guardian"], Some(cache.path()));
    let (report, opened) = run_watching(&f, &["--all"], cache.path(), WATCHED);
    assert_eq!(plain, report);
    assert!(opened.contains(&"calm.rs".to_string()), "{opened:?}");
    // That run learned that Debris finds nothing there either.
    let (report, opened) = run_watching(&f, &["--all"], cache.path(), WATCHED);
    assert_eq!(plain, report);
    assert!(!opened.contains(&"calm.rs".to_string()), "{opened:?}");
    // A file with a marker's text is judged from its record; what it
    // holds is known already, so the records are not written again.
    let inode = records_inode(cache.path());
    let (report, opened) = run_watching(&f, &["--all"], cache.path(), WATCHED);
    assert_eq!(plain, report);
    assert!(!opened.contains(&"marked.txt".to_string()), "{opened:?}");
    assert_eq!(inode, records_inode(cache.path()), "records rewritten");
}

#[test]
fn a_file_with_crlf_git_would_store_as_lf_is_never_answered_from_its_blob() {
    // `crlf.txt` has CRLF in the work tree and LF in its blob, which is
    // `lf.txt`'s: only the CRLF bytes hold a CR.
    let f = Fixture::new();
    f.config("personas:\n  Cr:\n    filters: ['*.txt']\n    triggers: ['\\r']\n");
    f.write(".gitattributes", "*.txt text eol=lf\n");
    f.write_bytes("lf.txt", b"a\nb\n");
    f.write_bytes("d/crlf.txt", b"a\r\nb\r\n");
    let (plain, cache) = one_blob_two_files(&f, ["lf.txt", "d/crlf.txt"]);
    assert_eq!(findings(&plain), 2, "the two CRs: {plain}");
    let (warm, opened) = run_watching(&f, &["--all"], cache.path(), &[".", "d"]);
    assert_eq!(plain, warm);
    assert!(!opened.contains(&"lf.txt".to_string()), "{opened:?}");
    assert!(opened.contains(&"crlf.txt".to_string()), "{opened:?}");
}

#[test]
fn a_folder_whose_attributes_convert_more_than_line_endings_is_looked_up_file_by_file() {
    // As above, but the encoding is set in `enc/.gitattributes`, and the
    // blob's UTF-8 copies sit in folders without attributes, which a
    // worker may have gone through first.
    let f = Fixture::new();
    f.config(
        "personas:\n  Bytes:\n    filters: ['*.txt']\n    triggers: ['N']\n    binary: scan\n",
    );
    f.write(
        "enc/.gitattributes",
        "conv.txt working-tree-encoding=UTF-16LE\n",
    );
    f.write_bytes("enc/conv.txt", &[0x61, 0x00, 0x2d, 0x4e]);
    let mut rels = vec!["enc/.gitattributes".to_string(), "enc/conv.txt".to_string()];
    for i in 0..8 {
        let rel = format!("p{i}/plain.txt");
        f.write_bytes(&rel, "a\u{4e2d}".as_bytes());
        rels.push(rel);
    }
    rels.push(".sage/valve.yml".to_string());
    for rel in &rels {
        age(&f, rel);
    }
    f.stage(&["."]).commit("base");
    let cache = tempfile::tempdir().expect("temp dir");
    let plain = run(&f, &["--all"], None);
    assert_eq!(findings(&plain), 1, "the UTF-16 bytes match");
    for threads in ["1", "2", "1"] {
        assert_eq!(
            plain,
            run(&f, &["--all", "--threads", threads], Some(cache.path()))
        );
    }
}

#[test]
fn a_sparse_checkout_is_judged_alike_and_its_clean_files_are_not_read() {
    // `b/` outside the cone is one sparse directory entry; a file put back
    // there is listed, as git lists it. The listing's index is then not
    // the index as read: entries after `b/` sit elsewhere in each.
    let f = Fixture::new();
    f.config(CONFIG);
    let mut rels = vec![".sage/valve.yml".to_string()];
    for rel in ["a/qa.txt", "b/qb1.txt", "b/qb2.txt", "c.txt", "d/qd.txt"] {
        f.write(rel, QUIET);
        rels.push(rel.to_string());
    }
    f.write("d/key.txt", &format!("k = {KEY}\n"));
    rels.push("d/key.txt".to_string());
    for rel in &rels {
        age(&f, rel);
    }
    f.stage(&["."]).commit("base");
    f.git(&[
        "sparse-checkout",
        "set",
        "--sparse-index",
        "a",
        "d",
        ".sage",
    ]);
    assert!(
        !f.path().join("b/qb1.txt").exists(),
        "b/ is outside the cone"
    );
    f.write("b/qb1.txt", &format!("back = {KEY}\n"));
    let plain = run(&f, &["--all"], None);
    let files: Vec<String> = common::hits(&plain).into_iter().map(|h| h.1).collect();
    assert!(
        files.iter().any(|f| f == "b/qb1.txt") && files.iter().any(|f| f == "d/key.txt"),
        "{files:?}"
    );
    let cache = tempfile::tempdir().expect("temp dir");
    for _ in 0..2 {
        assert_eq!(plain, run(&f, &["--all"], Some(cache.path())));
    }
    let (warm, opened) = run_watching(&f, &["--all"], cache.path(), &[".", "a", "b", "d"]);
    assert_eq!(plain, warm);
    for quiet in ["qa.txt", "c.txt", "qd.txt", "key.txt"] {
        assert!(
            !opened.contains(&quiet.to_string()),
            "warm opened {quiet}: {opened:?}"
        );
    }
    // Put back outside the cone: its entry keeps skip-worktree.
    assert!(opened.contains(&"qb1.txt".to_string()), "{opened:?}");
}
