//! History judging (SPEC §2.2): personas with `history: true` judge every
//! commit of a `--base` range (or, with `--root`, every commit reachable
//! from the head), each against its first parent; the others the net
//! change. The order of the commits is git's (`rev-list --topo-order`).

mod common;

use common::{Fixture, hits};
use predicates::prelude::*;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";
const OTHER_KEY: &str = "AKIAQQQQQQQQQQQQQQQQ";

/// `History` judges every commit; `Net` the same trigger, the net change.
const BOTH: &str = "personas:\n  History:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n    history: true\n  Net:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n";
const NET_ONLY: &str =
    "personas:\n  Net:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n";

fn rev(f: &Fixture, what: &str) -> String {
    f.git(&["rev-parse", what]).trim().to_string()
}

/// main with the config and a clean file; `feature` adds a key in one
/// commit and removes it in the next.
fn added_and_removed(config: &str) -> (Fixture, String) {
    let f = Fixture::new();
    f.config(config).write("a.txt", "clean\n").commit("init");
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("a.txt", &format!("key = {KEY}\n")).commit("leak");
    let leak = rev(&f, "HEAD");
    f.write("a.txt", "clean again\n").commit("remove it");
    (f, leak)
}

fn commits_of(report: &serde_json::Value) -> Vec<(String, Option<String>)> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["persona"].as_str().unwrap_or("").to_string(),
                        f["commit"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_secret_added_and_removed_is_found_by_a_history_persona_only() {
    let (f, leak) = added_and_removed(BOTH);
    let r = f.json(&["--base", "main", "--head", "feature"]);
    assert_eq!(
        commits_of(&r),
        vec![("History".to_string(), Some(leak.clone()))]
    );
    assert_eq!(r["findings"][0]["line"], 1);
    assert_eq!(r["findings"][0]["match"], KEY);
    assert_eq!(r["summary"]["blocking"], 1);
    f.valve(&["check", "--base", "main", "--head", "feature"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "in commit {}",
            &leak[..7]
        )));

    // The same range judged by the net change alone passes.
    let (g, _) = added_and_removed(NET_ONLY);
    let r = g.json(&["--base", "main", "--head", "feature"]);
    assert_eq!(r["summary"]["findings"], 0);
    g.valve(&["check", "--base", "main", "--head", "feature"])
        .assert()
        .code(0);
}

#[test]
fn net_change_findings_carry_a_null_commit() {
    let f = Fixture::new();
    f.config(BOTH).write("a.txt", "clean\n").commit("init");
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("a.txt", &format!("{KEY}\n")).commit("leak");
    let leak = rev(&f, "HEAD");
    let r = f.json(&["--base", "main"]);
    assert_eq!(
        commits_of(&r),
        vec![
            ("History".to_string(), Some(leak)),
            ("Net".to_string(), None)
        ]
    );
    assert!(r["findings"][1].get("commit").is_some_and(|c| c.is_null()));
}

#[test]
fn a_finding_of_several_commits_is_reported_once_at_the_first() {
    let f = Fixture::new();
    f.config("personas:\n  History:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: error\n    scope: file\n    history: true\n")
        .write("a.txt", "clean\n")
        .commit("init");
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("a.txt", &format!("{KEY}\n")).commit("leak");
    let first = rev(&f, "HEAD");
    // `scope: file`: every later commit that touches a.txt sees it again.
    f.write("a.txt", &format!("{KEY}\nmore\n")).commit("touch");
    f.write("a.txt", &format!("top\n{KEY}\nmore\n"))
        .commit("move it");
    // Removed and added again: the same finding, still the first commit's.
    f.write("a.txt", "gone\n").commit("remove");
    f.write("a.txt", &format!("{KEY}\n")).commit("back");
    f.write("b.txt", &format!("{KEY}\n")).commit("another file");
    let other_file = rev(&f, "HEAD");
    let r = f.json(&["--base", "main"]);
    let found: Vec<(String, Option<String>)> = r["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["file"].as_str().unwrap_or("").to_string(),
                        x["commit"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        found,
        vec![
            ("a.txt".to_string(), Some(first)),
            ("b.txt".to_string(), Some(other_file))
        ]
    );
    assert_eq!(r["summary"]["findings"], 2);
    assert_eq!(r["summary"]["blocking"], 2);
}

#[test]
fn each_commit_is_judged_against_its_first_parent_and_a_merge_adds_nothing_new() {
    let f = Fixture::new();
    f.config("personas:\n  History:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: error\n    history: true\n")
        .write("a.txt", "clean\n")
        .commit("init");
    f.git(&["checkout", "-q", "-b", "side"]);
    f.write("side.txt", &format!("{KEY}\n")).commit("side leak");
    let side = rev(&f, "HEAD");
    f.git(&["checkout", "-q", "-b", "feature", "main"]);
    f.write("f.txt", "feature\n").commit("feature");
    f.git(&["merge", "-q", "--no-ff", "side", "-m", "merge side"]);
    // The merge commit brings side.txt against its first parent, but the
    // side commit (earlier in topological order) introduced it.
    let r = f.json(&["--base", "main"]);
    assert_eq!(commits_of(&r), vec![("History".to_string(), Some(side))]);
}

#[test]
fn scope_changed_in_history_counts_only_the_commits_own_lines() {
    let f = Fixture::new();
    f.config("personas:\n  History:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: error\n    history: true\n")
        .write("a.txt", &format!("{KEY}\n"))
        .commit("old key, before the range");
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("a.txt", &format!("{KEY}\nnew line\n"))
        .commit("edit");
    let r = f.json(&["--base", "main"]);
    assert_eq!(r["summary"]["findings"], 0, "{r}");
}

#[test]
fn root_judges_the_whole_tree_and_every_commit_from_the_roots() {
    let f = Fixture::new();
    // The root commit itself carries a key; a later commit adds and the
    // next one removes another.
    f.config(BOTH)
        .write("root.txt", &format!("{KEY}\n"))
        .commit("root");
    let root = rev(&f, "HEAD");
    f.write("b.txt", &format!("{OTHER_KEY}\n")).commit("leak");
    let leak = rev(&f, "HEAD");
    f.remove("b.txt").commit("remove");
    let r = f.json(&["--root"]);
    let mut got: Vec<(String, String, Option<String>)> = r["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["persona"].as_str().unwrap_or("").to_string(),
                        x["file"].as_str().unwrap_or("").to_string(),
                        x["commit"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("History".into(), "b.txt".into(), Some(leak)),
            ("History".into(), "root.txt".into(), Some(root)),
            ("Net".into(), "root.txt".into(), None),
        ]
    );
    // The net change is the head's tree, every file added.
    assert_eq!(r["findings"][0]["change"], "added");
    assert_eq!(r["summary"]["files_changed"], 2);
    f.valve(&["check", "--root", "--head", "HEAD~2"])
        .assert()
        .code(1);
}

#[test]
fn root_with_policy_base_is_a_usage_error_and_root_conflicts_with_base() {
    let (f, _) = added_and_removed(BOTH);
    f.valve(&["check", "--root", "--policy", "base"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty tree has no policy"));
    f.valve(&["check", "--root", "--base", "main"])
        .assert()
        .code(2);
    f.valve(&["check", "--root", "--staged"]).assert().code(2);
    f.valve(&["check", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--root"));
}

#[test]
fn a_head_cannot_turn_history_judging_off() {
    // The base judges history; the head's config drops `history: true`
    // and removes the persona's trigger: the base's policy still judges
    // every commit (`--policy both`, the default).
    let (f, leak) = added_and_removed(BOTH);
    f.config(NET_ONLY).commit("loosen the policy");
    let r = f.json(&["--base", "main"]);
    assert!(
        commits_of(&r).contains(&("History".to_string(), Some(leak.clone()))),
        "{r}"
    );
    assert_eq!(r["summary"]["blocking"], 1);
    assert_eq!(r["summary"]["policy"]["changed"], true);
    // With the head's policy alone, the history is not judged.
    let r = f.json(&["--base", "main", "--policy", "head"]);
    assert_eq!(r["summary"]["findings"], 0);
}

#[test]
fn a_head_can_turn_history_judging_on() {
    let (f, leak) = {
        let f = Fixture::new();
        f.config(NET_ONLY).write("a.txt", "clean\n").commit("init");
        f.git(&["checkout", "-q", "-b", "feature"]);
        f.config(BOTH).commit("tighten the policy");
        f.write("a.txt", &format!("{KEY}\n")).commit("leak");
        let leak = rev(&f, "HEAD");
        f.write("a.txt", "clean\n").commit("remove");
        (f, leak)
    };
    let r = f.json(&["--base", "main"]);
    assert_eq!(commits_of(&r), vec![("History".to_string(), Some(leak))]);
}

#[test]
fn an_explicit_config_judges_history_too() {
    let (f, leak) = added_and_removed(NET_ONLY);
    let other = Fixture::bare_dir();
    let path = other.path().join("policy.yml");
    std::fs::write(&path, BOTH).expect("write");
    let r = f.json(&["--base", "main", "--config", path.to_str().unwrap_or("")]);
    assert_eq!(commits_of(&r), vec![("History".to_string(), Some(leak))]);
}

#[test]
fn the_baseline_applies_to_history_findings() {
    let (f, _) = added_and_removed(BOTH);
    let elsewhere = Fixture::bare_dir();
    let file = elsewhere.path().join("baseline.json");
    let file = file.to_str().unwrap_or("");
    f.valve(&[
        "baseline", "--base", "main", "--head", "feature", "--output", file,
    ])
    .assert()
    .success();
    let r = f.json(&["--base", "main", "--head", "feature", "--baseline", file]);
    assert_eq!(r["summary"]["findings"], 0, "{r}");
    assert_eq!(r["summary"]["baselined"], 1);
}

#[test]
fn every_format_names_the_commit() {
    let (f, leak) = added_and_removed(BOTH);
    let run = |format: &str| {
        let out = f
            .valve(&["check", "--base", "main", "--format", format])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{format}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let sarif: serde_json::Value = serde_json::from_str(&run("sarif")).expect("sarif");
    assert_eq!(
        sarif["runs"][0]["results"][0]["properties"]["commit"],
        leak.as_str()
    );
    let ndjson = run("ndjson");
    let first: serde_json::Value =
        serde_json::from_str(ndjson.lines().next().unwrap_or("")).expect("ndjson");
    assert_eq!(first["commit"], leak.as_str());
    assert!(run("markdown").contains(&format!("in commit `{}`", &leak[..7])));
    assert!(run("github").contains(&format!("in commit {}", &leak[..7])));
    assert!(run("human").contains(&format!("in commit {}", &leak[..7])));
}

#[test]
fn history_output_is_identical_across_thread_counts() {
    let f = Fixture::new();
    f.config(BOTH).write("a.txt", "clean\n").commit("init");
    f.git(&["checkout", "-q", "-b", "feature"]);
    for i in 0..12 {
        for j in 0..20 {
            let body = if (i + j) % 3 == 0 {
                format!("{KEY} {i} {j}\n")
            } else {
                format!("clean {i} {j}\n")
            };
            f.write(&format!("d{j}/f{i}.txt"), &body);
        }
        f.commit(&format!("c{i}"));
    }
    let run = |threads: &str| {
        let out = f
            .valve(&[
                "check",
                "--base",
                "main",
                "--format",
                "json",
                "--threads",
                threads,
            ])
            .output()
            .expect("runs");
        let mut r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        r["summary"]["duration_ms"] = 0.into();
        for x in r["findings"].as_array_mut().into_iter().flatten() {
            x["timestamp"] = 0.into();
        }
        r
    };
    let one = run("1");
    assert_eq!(one, run("8"));
    assert!(one["summary"]["findings"].as_u64().unwrap_or(0) > 40);
}

#[test]
fn max_findings_caps_history_findings_with_exact_counts() {
    let f = Fixture::new();
    f.config("max_findings: 3\npersonas:\n  History:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: error\n    history: true\n")
        .write("a.txt", "clean\n")
        .commit("init");
    f.git(&["checkout", "-q", "-b", "feature"]);
    for i in 0..5 {
        f.write(&format!("k{i}.txt"), &format!("{KEY}\n"))
            .commit(&format!("c{i}"));
        f.remove(&format!("k{i}.txt")).commit(&format!("r{i}"));
    }
    let r = f.json(&["--base", "main"]);
    assert_eq!(r["findings"].as_array().map(Vec::len), Some(3));
    assert_eq!(r["summary"]["findings"], 5);
    assert_eq!(r["summary"]["blocking"], 5);
    assert_eq!(r["summary"]["truncated"], 2);
}

#[test]
fn a_shallow_clone_with_the_merge_base_judges_history() {
    let f = Fixture::new();
    f.config(BOTH).write("a.txt", "one\n").commit("one");
    f.write("a.txt", "two\n").commit("two");
    f.write("a.txt", "clean\n").commit("three");
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("a.txt", &format!("key = {KEY}\n")).commit("leak");
    let leak = rev(&f, "HEAD");
    f.write("a.txt", "clean again\n").commit("remove it");
    // Depth 3: the merge base ("three") is there, its parents are not.
    let clone = Fixture::bare_dir();
    let url = format!("file://{}", f.path().display());
    let dst = clone.path().join("c");
    clone.git(&[
        "clone",
        "-q",
        "--depth",
        "3",
        "--no-single-branch",
        &url,
        dst.to_str().unwrap_or(""),
    ]);
    let out = f
        .valve_in(
            &dst,
            &[
                "check",
                "--format",
                "json",
                "--base",
                "origin/main",
                "--head",
                "origin/feature",
            ],
        )
        .output()
        .expect("runs");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        commits_of(&r),
        vec![("History".to_string(), Some(leak))],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `--root` needs every commit; this clone has not got them.
    f.valve_in(&dst, &["check", "--root", "--head", "origin/feature"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shallow"));
}

#[test]
fn history_is_ignored_outside_base_mode() {
    let f = Fixture::new();
    f.config(BOTH).write("a.txt", "clean\n").commit("init");
    f.write("a.txt", &format!("{KEY}\n")).stage(&["a.txt"]);
    let r = f.json(&["--staged"]);
    assert_eq!(
        hits(&r),
        vec![
            ("History".into(), "a.txt".into(), Some(1)),
            ("Net".into(), "a.txt".into(), Some(1))
        ]
    );
    assert!(commits_of(&r).iter().all(|(_, c)| c.is_none()));
}

// --- the walk against git ---------------------------------------------

/// A tiny deterministic generator (the suite has no rand crate).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Commits at `time` on the current branch.
fn commit_at(f: &Fixture, name: &str, time: u64) {
    f.write(&format!("{name}.txt"), &format!("{name}\n"));
    f.git(&["add", "-A"]);
    let date = format!("@{time} +0000");
    let mut cmd = std::process::Command::new("git");
    common::hermetic(&mut cmd);
    let out = cmd
        .args(["commit", "-q", "--no-verify", "-m", name])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .current_dir(f.path())
        .output()
        .expect("git");
    assert!(out.status.success());
}

fn merge_at(f: &Fixture, branch: &str, time: u64) {
    let date = format!("@{time} +0000");
    let mut cmd = std::process::Command::new("git");
    common::hermetic(&mut cmd);
    let out = cmd
        .args(["merge", "-q", "--no-ff", "--no-edit", branch])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .current_dir(f.path())
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_commits_of_a_range_are_gits_in_gits_topological_order() {
    let (mut judged, mut merges) = (0, 0);
    for seed in 1..=12u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let f = Fixture::new();
        let mut time = 1_700_000_000;
        commit_at(&f, "root", time);
        let branches = ["main", "b1", "b2", "b3"];
        for b in &branches[1..] {
            f.git(&["branch", b]);
        }
        for step in 0..30 {
            time += 1 + rng.below(100);
            // Now and then a commit dated before its parent (clock skew).
            let when = if rng.below(10) == 0 { time - 150 } else { time };
            let b = branches[rng.below(4) as usize];
            f.git(&["checkout", "-q", b]);
            if rng.below(4) == 0 {
                let other = branches[rng.below(4) as usize];
                if other != b {
                    merge_at(&f, other, when);
                    continue;
                }
            }
            commit_at(&f, &format!("s{step}"), when);
        }
        let repo = valve::git::discover(f.path())
            .expect("opens")
            .expect("a repository");
        for (base, head) in [("b1", "main"), ("main", "b2"), ("b3", "b1")] {
            let mb = f.git(&["merge-base", base, head]).trim().to_string();
            let ours: Vec<String> = repo
                .commits(Some(&mb), head)
                .expect("walks")
                .into_iter()
                .map(|c| c.id)
                .collect();
            let theirs: Vec<String> = f
                .git(&[
                    "rev-list",
                    "--topo-order",
                    "--reverse",
                    &format!("{mb}..{head}"),
                ])
                .lines()
                .map(str::to_string)
                .collect();
            assert_eq!(ours, theirs, "seed {seed}: {mb}..{head}");
            judged += theirs.len();
        }
        let all: Vec<String> = repo
            .commits(None, "main")
            .expect("walks")
            .into_iter()
            .map(|c| c.id)
            .collect();
        let theirs: Vec<String> = f
            .git(&["rev-list", "--topo-order", "--reverse", "main"])
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(all, theirs, "seed {seed}: every commit of main");
        merges += f
            .git(&["rev-list", "--merges", "--count", "main"])
            .trim()
            .parse::<usize>()
            .unwrap_or(0);
    }
    // The histories are branched, not lines.
    assert!(
        judged > 100 && merges > 20,
        "{judged} commits, {merges} merges"
    );
}
