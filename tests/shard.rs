//! `--shard I/N` and `valve merge` (SPEC §12): the shards of a change set
//! partition it, and merging their json reports gives exactly the report
//! of one unsharded run: findings, order, skips, summary and verdict.

mod common;

use common::Fixture;
use predicates::prelude::*;
use serde_json::Value;

const CONFIG: &str = r#"
personas:
  Guardian:
    filters: ["src/**", "lib/**"]
    triggers: ['AKIA[0-9A-Z]{16}']
    severity: critical
  Debris:
    filters: ["*.rs"]
    triggers: ['dbg!\(', 'todo!\(']
    severity: warning
  Docs:
    filters: ["docs/**"]
    severity: info
"#;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

/// A repository with a base commit on `main` and a `topic` branch that adds,
/// modifies, renames and deletes files; `topic` is checked out and the
/// work tree has further edits.
fn repo() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG);
    for i in 0..24 {
        f.write(&format!("src/m{i}/lib.rs"), &format!("fn f{i}() {{}}\n"));
        f.write(&format!("docs/page{i}.md"), "text\n");
    }
    f.write(
        "lib/moved.txt",
        "a long line that stays the same\nand another\n",
    );
    f.write("src/gone.rs", "fn gone() {}\n");
    f.commit("base");
    f.git(&["checkout", "-q", "-b", "topic"]);
    for i in 0..24 {
        if i % 3 == 0 {
            f.write(
                &format!("src/m{i}/lib.rs"),
                &format!("fn f{i}() {{ dbg!({i}); }}\nconst K: &str = \"{KEY}\";\n"),
            );
        }
        if i % 4 == 0 {
            f.write(&format!("src/m{i}/new.rs"), "fn n() { todo!() }\n");
            f.write(&format!("docs/page{i}.md"), "changed\n");
        }
    }
    f.write_bytes("src/blob.bin", b"\x00\x01AKIAABCDEFGHIJKLMNOP");
    f.git(&["mv", "lib/moved.txt", "lib/renamed.txt"]);
    f.write(
        "lib/renamed.txt",
        &format!("a long line that stays the same\nand another\n{KEY}\n"),
    );
    f.remove("src/gone.rs");
    f.commit("topic");
    f.write("src/m1/lib.rs", "fn f1() { dbg!(1) }\n");
    f.write("src/untracked.rs", &format!("// {KEY}\n"));
    f
}

/// A json report with what differs between runs taken out.
fn stable(mut report: Value) -> Value {
    report["summary"]["duration_ms"] = Value::Null;
    report["summary"]["shard"] = Value::Null;
    if let Some(findings) = report["findings"].as_array_mut() {
        for f in findings {
            f["timestamp"] = Value::Null;
        }
    }
    report
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not json ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn check(f: &Fixture, mode: &[&str], shard: Option<String>) -> (Value, i32) {
    let mut args = vec!["check", "--format", "json"];
    args.extend(mode);
    let shard_arg;
    if let Some(s) = shard {
        shard_arg = s;
        args.extend(["--shard", shard_arg.as_str()]);
    }
    let out = f.valve(&args).output().expect("runs");
    let code = out.status.code().expect("exit code");
    assert!(
        code <= 1,
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (json_of(&out), code)
}

fn findings_set(report: &Value) -> Vec<String> {
    let mut all: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f["timestamp"] = Value::Null;
            f.to_string()
        })
        .collect();
    all.sort();
    all
}

fn assert_shards_merge_to_the_whole(f: &Fixture, mode: &[&str]) {
    let (whole, whole_code) = check(f, mode, None);
    assert!(
        whole["summary"]["findings"].as_u64().unwrap_or(0) > 5,
        "{mode:?} judged too little to test: {whole}"
    );
    for n in [1u32, 2, 3, 5] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = Vec::new();
        let mut union = Vec::new();
        let mut scanned = 0;
        for i in 1..=n {
            let (part, _) = check(f, mode, Some(format!("{i}/{n}")));
            assert_eq!(part["summary"]["shard"], format!("{i}/{n}"));
            assert_eq!(
                part["summary"]["files_changed"], whole["summary"]["files_changed"],
                "every shard counts the whole change set"
            );
            scanned += part["summary"]["files_scanned"].as_u64().expect("count");
            union.extend(findings_set(&part));
            let path = dir.path().join(format!("shard-{i}.json"));
            std::fs::write(&path, part.to_string()).expect("write");
            files.push(path.display().to_string());
        }
        union.sort();
        assert_eq!(union, findings_set(&whole), "{mode:?} in {n} shards");
        assert_eq!(
            scanned,
            whole["summary"]["files_scanned"].as_u64().expect("count")
        );
        // Merged in any order, the shards give the whole run's report.
        files.reverse();
        let mut args = vec!["merge", "--format", "json"];
        args.extend(files.iter().map(String::as_str));
        let out = f.valve(&args).output().expect("merge runs");
        assert_eq!(out.status.code(), Some(whole_code), "{mode:?} merge exit");
        assert_eq!(
            stable(json_of(&out)),
            stable(whole.clone()),
            "{mode:?}: merge of {n} shards"
        );
    }
}

#[test]
fn shards_of_a_range_merge_to_the_unsharded_report() {
    let f = repo();
    assert_shards_merge_to_the_whole(&f, &["--base", "main"]);
}

#[test]
fn shards_of_all_merge_to_the_unsharded_report() {
    let f = repo();
    assert_shards_merge_to_the_whole(&f, &["--all"]);
}

#[test]
fn shards_of_the_worktree_merge_to_the_unsharded_report() {
    let f = repo();
    f.git(&["reset", "-q", "--soft", "main"]);
    assert_shards_merge_to_the_whole(&f, &["--worktree"]);
}

#[test]
fn merge_renders_every_format_and_exits_like_check() {
    let f = repo();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for i in 1..=2 {
        let (part, _) = check(&f, &["--base", "main"], Some(format!("{i}/2")));
        let path = dir.path().join(format!("{i}.json"));
        std::fs::write(&path, part.to_string()).expect("write");
        files.push(path.display().to_string());
    }
    let sarif = dir.path().join("merged.sarif");
    let report_arg = format!("sarif={}", sarif.display());
    let mut args = vec!["merge", "--report", report_arg.as_str()];
    args.extend(files.iter().map(String::as_str));
    f.valve(&args)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Guardian"))
        .stdout(predicate::str::contains("blocked"));
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).expect("sarif written"))
            .expect("sarif json");
    let (whole, _) = check(&f, &["--base", "main"], None);
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        whole["findings"].as_array().map(Vec::len)
    );
    for format in ["github", "markdown", "ndjson", "sarif"] {
        let mut args = vec!["merge", "--format", format];
        args.extend(files.iter().map(String::as_str));
        f.valve(&args).assert().code(1);
    }
}

#[test]
fn merge_refuses_reports_of_different_change_sets() {
    let f = repo();
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, report: &Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, report.to_string()).expect("write");
        path.display().to_string()
    };
    let range = write("range.json", &check(&f, &["--base", "main"], None).0);
    let all = write("all.json", &check(&f, &["--all"], None).0);
    f.valve(&["merge", &range, &all])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("different change sets"));
    // The same mode under another config is another change set too.
    f.config(&format!("{CONFIG}  Extra:\n    filters: [\"*.md\"]\n"));
    let other = write("other.json", &check(&f, &["--all"], None).0);
    f.valve(&["merge", &all, &other])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("different change sets"));
    // Not a valve report at all.
    let junk = write("junk.json", &serde_json::json!({"findings": []}));
    f.valve(&["merge", &all, &junk])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a valve json report"));
    let text = dir.path().join("text.json");
    std::fs::write(&text, "valve: 3 findings").expect("write");
    f.valve(&["merge", &text.display().to_string()])
        .assert()
        .code(2);
}

#[test]
fn a_bad_shard_is_a_usage_error() {
    let f = repo();
    for bad in ["0/3", "4/3", "1/0", "two/3", "3"] {
        f.valve(&["check", "--all", "--shard", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("I/N"));
    }
}
