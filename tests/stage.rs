//! SPEC §8 "staged or not": in `--worktree` (and the default mode) every
//! finding says whether a commit now would carry it: `staged` (the matched
//! line is in the index too), `unstaged` (only in the work tree) or
//! `index_only` (the index still holds it though the work tree fixed it).
//! Every other mode leaves `stage` null.

mod common;

use common::Fixture;
use serde_json::Value;

const KEY_A: &str = "AKIAAAAAAAAAAAAAAAAA";
const KEY_B: &str = "AKIABBBBBBBBBBBBBBBB";

const CONFIG: &str = "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n  Docs:\n    filters: ['docs/**']\n    severity: info\n";

fn repo() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG)
        .write("src/a.txt", "one\ntwo\nthree\n")
        .write("docs/guide.md", "guide\n")
        .commit("init");
    f
}

/// `(persona, file, line, stage)` of every finding, in report order.
fn stages(report: &Value) -> Vec<(String, String, Option<u64>, Option<String>)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["persona"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64(),
                f["stage"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn finding(
    persona: &str,
    file: &str,
    line: Option<u64>,
    stage: &str,
) -> (String, String, Option<u64>, Option<String>) {
    (
        persona.to_string(),
        file.to_string(),
        line,
        Some(stage.to_string()),
    )
}

fn worktree(f: &Fixture) -> Value {
    f.json(&["--worktree", "--fail-on", "never"])
}

#[test]
fn a_line_added_and_staged_is_staged() {
    let f = repo();
    f.write("src/a.txt", &format!("one\ntwo {KEY_A}\nthree\n"))
        .write("docs/guide.md", "guide, edited\n")
        .stage(&["src/a.txt", "docs/guide.md"]);
    assert_eq!(
        stages(&worktree(&f)),
        vec![
            finding("Docs", "docs/guide.md", None, "staged"),
            finding("Guardian", "src/a.txt", Some(2), "staged"),
        ]
    );
}

#[test]
fn the_default_mode_in_git_is_the_worktree_and_judges_stages_too() {
    let f = repo();
    f.write("src/a.txt", &format!("one\ntwo {KEY_A}\nthree\n"))
        .stage(&["src/a.txt"]);
    let report = f.json(&["--fail-on", "never"]);
    assert_eq!(
        stages(&report),
        vec![finding("Guardian", "src/a.txt", Some(2), "staged")]
    );
}

#[test]
fn a_line_changed_after_staging_and_an_untracked_file_are_unstaged() {
    let f = repo();
    // A clean edit is staged; the key arrives afterwards.
    f.write("src/a.txt", "one\ntwo, edited\nthree\n")
        .stage(&["src/a.txt"])
        .write("src/a.txt", &format!("one\ntwo, edited\nthree {KEY_A}\n"))
        .write("src/new.txt", &format!("{KEY_B}\n"))
        .write("docs/guide.md", "guide, edited\n");
    assert_eq!(
        stages(&worktree(&f)),
        vec![
            finding("Docs", "docs/guide.md", None, "unstaged"),
            finding("Guardian", "src/a.txt", Some(3), "unstaged"),
            finding("Guardian", "src/new.txt", Some(1), "unstaged"),
        ]
    );
}

#[test]
fn a_partially_staged_file_holds_findings_of_both_stages() {
    let f = repo();
    f.write("src/a.txt", &format!("one {KEY_A}\ntwo\nthree\n"))
        .stage(&["src/a.txt"])
        .write("src/a.txt", &format!("one {KEY_A}\ntwo\nthree {KEY_B}\n"));
    assert_eq!(
        stages(&worktree(&f)),
        vec![
            finding("Guardian", "src/a.txt", Some(1), "staged"),
            finding("Guardian", "src/a.txt", Some(3), "unstaged"),
        ]
    );
    // A staged line that moved in the work tree is still the staged one.
    f.write(
        "src/a.txt",
        &format!("zero\none {KEY_A}\ntwo\nthree {KEY_B}\n"),
    );
    assert_eq!(
        stages(&worktree(&f)),
        vec![
            finding("Guardian", "src/a.txt", Some(2), "staged"),
            finding("Guardian", "src/a.txt", Some(4), "unstaged"),
        ]
    );
}

#[test]
fn a_bad_line_staged_then_fixed_in_the_work_tree_is_index_only_and_blocks() {
    let f = repo();
    f.write("src/a.txt", &format!("one\ntwo\nkey = {KEY_A}\nthree\n"))
        .stage(&["src/a.txt"])
        // The fix moves the lines too: positions must come from the index.
        .write("src/a.txt", "zero\none\ntwo\nkey = from_env()\nthree\n");
    let report = worktree(&f);
    assert_eq!(
        stages(&report),
        vec![finding("Guardian", "src/a.txt", Some(3), "index_only")]
    );
    let hit = &report["findings"][0];
    assert_eq!(hit["column"], 7);
    assert_eq!(hit["end_column"], 27);
    assert_eq!(hit["match"], KEY_A, "read from the index blob");
    assert_eq!(hit["change"], "modified");
    assert_eq!(report["summary"]["findings"], 1);
    assert_eq!(report["summary"]["by_severity"]["critical"], 1);
    // It blocks like any other: a commit now would carry it.
    let out = f
        .valve(&["check", "--worktree", "--format", "json"])
        .output()
        .expect("valve runs");
    assert_eq!(out.status.code(), Some(1));
    let blocked: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(blocked["findings"][0]["blocking"], true);
    assert_eq!(blocked["summary"]["blocking"], 1);
    // `git add` of the fix resolves it.
    f.stage(&["src/a.txt"]);
    assert_eq!(stages(&worktree(&f)), vec![]);
}

#[test]
fn a_fix_that_restores_head_leaves_an_index_only_change_outside_the_change_set() {
    let f = repo();
    f.write("src/a.txt", &format!("one\ntwo {KEY_A}\nthree\n"))
        .write("docs/guide.md", "guide, edited\n")
        .stage(&["src/a.txt", "docs/guide.md"])
        // The work tree is back to HEAD: `git status` shows MM, `git add -A`
        // would stage nothing.
        .write("src/a.txt", "one\ntwo\nthree\n")
        .write("docs/guide.md", "guide\n");
    let report = worktree(&f);
    assert_eq!(
        stages(&report),
        vec![
            finding("Docs", "docs/guide.md", None, "index_only"),
            finding("Guardian", "src/a.txt", Some(2), "index_only"),
        ]
    );
    assert_eq!(report["summary"]["files_changed"], 0);
    assert_eq!(report["summary"]["findings"], 2);
}

#[test]
fn a_file_staged_new_then_removed_from_the_work_tree_is_index_only() {
    let f = repo();
    f.write("src/new.txt", &format!("{KEY_B}\n"))
        .stage(&["src/new.txt"])
        .remove("src/new.txt");
    let report = worktree(&f);
    assert_eq!(
        stages(&report),
        vec![finding("Guardian", "src/new.txt", Some(1), "index_only")]
    );
    assert_eq!(report["findings"][0]["change"], "added");
}

#[test]
fn scope_changed_reads_the_index_version_against_head() {
    // HEAD already holds a key; the index edits another line; the work
    // tree then drops the key. The key is not a change of the index
    // version, so a commit now carries nothing new under `scope: changed`.
    let f = Fixture::new();
    f.config(CONFIG)
        .write("src/a.txt", &format!("old {KEY_A}\nclean\n"))
        .commit("init")
        .write("src/a.txt", &format!("old {KEY_A}\nedited\n"))
        .stage(&["src/a.txt"])
        .write("src/a.txt", "edited\n");
    assert_eq!(stages(&worktree(&f)), vec![]);
    // Under `scope: file` every line of the changed index version counts.
    f.config(&CONFIG.replace(
        "severity: critical\n",
        "severity: critical\n    scope: file\n",
    ));
    let report = worktree(&f);
    assert_eq!(
        stages(&report),
        vec![finding("Guardian", "src/a.txt", Some(1), "index_only")]
    );
}

#[test]
fn a_deleted_file_is_unstaged_until_the_deletion_is_staged() {
    let f = repo();
    f.remove("docs/guide.md");
    assert_eq!(
        stages(&worktree(&f)),
        vec![finding("Docs", "docs/guide.md", None, "unstaged")]
    );
    f.git(&["rm", "-q", "--cached", "docs/guide.md"]);
    assert_eq!(
        stages(&worktree(&f)),
        vec![finding("Docs", "docs/guide.md", None, "staged")]
    );
}

#[test]
fn a_deleted_file_whose_staged_edit_added_a_key_keeps_it_index_only() {
    let f = repo();
    f.write("src/a.txt", &format!("one\ntwo {KEY_A}\nthree\n"))
        .stage(&["src/a.txt"])
        .remove("src/a.txt");
    let report = worktree(&f);
    assert_eq!(
        stages(&report),
        vec![finding("Guardian", "src/a.txt", Some(2), "index_only")]
    );
}

/// Ten long lines, so that an edit of two keeps a rename above git's 50%.
const LONG: &str = "l1 of a file long enough to stay a rename\nl2 of a file long enough to stay a rename\nl3 of a file long enough to stay a rename\nl4 of a file long enough to stay a rename\nl5 of a file long enough to stay a rename\nl6 of a file long enough to stay a rename\nl7 of a file long enough to stay a rename\nl8 of a file long enough to stay a rename\nl9 of a file long enough to stay a rename\nl10 of a file long enough to stay a rename\n";

#[test]
fn a_rename_is_staged_by_the_index_entry_of_its_new_path() {
    let f = repo();
    // A key HEAD already has is no change of the rename, in the work tree
    // or in the index.
    let legacy = LONG.replace("l5 ", "l5 AKIALEGACYLEGACYLEGA ");
    f.write("src/long.txt", &legacy).commit("long");
    // Staged with `git mv`, then a key added and staged.
    f.git(&["mv", "src/long.txt", "src/moved.txt"]);
    f.write(
        "src/moved.txt",
        &legacy.replace("l9 ", &format!("l9 {KEY_A} ")),
    )
    .stage(&["src/moved.txt"]);
    let report = worktree(&f);
    assert_eq!(report["findings"][0]["change"], "renamed");
    assert_eq!(
        stages(&report),
        vec![finding("Guardian", "src/moved.txt", Some(9), "staged")]
    );
    // Only the new key is unstaged: the index's rename is judged against
    // its source, so its unchanged lines are no findings of their own.
    f.write(
        "src/moved.txt",
        &legacy
            .replace("l9 ", &format!("l9 {KEY_A} "))
            .replace("l1 ", &format!("l1 {KEY_B} ")),
    );
    assert_eq!(
        stages(&worktree(&f)),
        vec![
            finding("Guardian", "src/moved.txt", Some(1), "unstaged"),
            finding("Guardian", "src/moved.txt", Some(9), "staged"),
        ]
    );
}

#[test]
fn a_rename_the_index_does_not_know_is_unstaged() {
    let f = repo();
    f.write("src/long.txt", LONG).commit("long");
    f.remove("src/long.txt").write(
        "src/moved.txt",
        &LONG.replace("l9 ", &format!("l9 {KEY_A} ")),
    );
    let report = worktree(&f);
    assert_eq!(report["findings"][0]["change"], "renamed");
    assert_eq!(
        stages(&report),
        vec![finding("Guardian", "src/moved.txt", Some(9), "unstaged")]
    );
}

#[test]
fn an_intent_to_add_file_is_unstaged() {
    let f = repo();
    f.write("src/new.txt", &format!("{KEY_A}\n"));
    f.git(&["add", "-N", "src/new.txt"]);
    assert_eq!(
        stages(&worktree(&f)),
        vec![finding("Guardian", "src/new.txt", Some(1), "unstaged")]
    );
}

#[test]
fn ndjson_findings_carry_the_stage() {
    let f = repo();
    f.write("src/a.txt", &format!("one {KEY_A}\ntwo\nthree\n"))
        .stage(&["src/a.txt"])
        .write("src/a.txt", &format!("one\ntwo\nthree {KEY_B}\n"));
    let out = f
        .valve(&[
            "check",
            "--worktree",
            "--format",
            "ndjson",
            "--fail-on",
            "never",
        ])
        .output()
        .expect("valve runs");
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one object a line"))
        .collect();
    let found: Vec<(u64, &str)> = lines
        .iter()
        .filter(|l| l["type"] == "finding")
        .map(|l| {
            (
                l["line"].as_u64().unwrap_or(0),
                l["stage"].as_str().unwrap_or("null"),
            )
        })
        .collect();
    assert_eq!(found, vec![(1, "index_only"), (3, "unstaged")]);
}

#[test]
fn every_other_mode_leaves_stage_null() {
    let f = repo();
    f.git(&["branch", "base"]);
    f.write("src/a.txt", &format!("one {KEY_A}\ntwo\nthree\n"))
        .write("docs/guide.md", "guide, edited\n")
        .commit("add a key");
    f.write("src/a.txt", &format!("one {KEY_A}\ntwo {KEY_B}\nthree\n"))
        .stage(&["src/a.txt"]);
    for args in [
        vec!["--staged"],
        vec!["--all"],
        vec!["--base", "base"],
        vec!["src/a.txt"],
        vec!["src"],
    ] {
        let mut all = args.clone();
        all.extend(["--fail-on", "never"]);
        let report = f.json(&all);
        let findings = report["findings"].as_array().expect("findings");
        assert!(!findings.is_empty(), "{args:?}: something to look at");
        for hit in findings {
            assert!(
                hit.get("stage").is_some_and(Value::is_null),
                "{args:?}: {hit}"
            );
        }
    }
    // While the work tree, on the same state, judges stages.
    let report = worktree(&f);
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|hit| hit["stage"] == "staged"),
        "{report}"
    );
}

#[test]
fn an_index_version_too_large_to_search_is_listed_and_may_carry_the_finding() {
    let f = repo();
    f.config(&format!("max_file_size: 100\n{CONFIG}"));
    f.write("src/a.txt", &format!("{KEY_A}\n{}\n", "x".repeat(200)))
        .stage(&["src/a.txt"])
        .write("src/a.txt", &format!("{KEY_A}\n"));
    let report = worktree(&f);
    assert_eq!(
        stages(&report),
        vec![finding("Guardian", "src/a.txt", Some(1), "staged")]
    );
    let skipped: Vec<&Value> = report["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter(|s| s["file"] == "src/a.txt")
        .collect();
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0]["reason"], "too_large");
}

#[test]
fn a_conflicted_file_of_an_unresolved_merge_is_unstaged() {
    let f = repo();
    f.git(&["checkout", "-q", "-b", "other"]);
    f.write("docs/guide.md", &format!("guide {KEY_A}\n"))
        .commit("other");
    f.git(&["checkout", "-q", "main"]);
    f.write("docs/guide.md", "guide, on main\n").commit("main");
    let mut merge = std::process::Command::new("git");
    common::hermetic(&mut merge);
    let merged = merge
        .args(["merge", "-q", "other"])
        .current_dir(f.path())
        .output()
        .expect("git runs");
    assert!(!merged.status.success(), "the merge conflicts");
    // The index holds only conflict stages: no version a commit could
    // carry (a path-only persona is not `staged` by a seeming deletion).
    // Line 4: below `<<<<<<<`, the ours side and `=======`.
    let report = worktree(&f);
    assert_eq!(
        stages(&report),
        vec![
            finding("Docs", "docs/guide.md", None, "unstaged"),
            finding("Guardian", "docs/guide.md", Some(4), "unstaged"),
        ]
    );
}
