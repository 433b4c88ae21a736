//! `valve watch` as a user runs it: the real binary on a temp repo, its
//! ndjson read line by line with deadlines (never fixed sleeps).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Std, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use common::{Fixture, hermetic, valve_bin};
use serde_json::Value;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";
/// Generous for slow CI machines; a passing run takes milliseconds.
const DEADLINE: Duration = Duration::from_secs(15);

const CONFIG: &str = "ignore: ['vendor/**']\npersonas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n";

struct Watch {
    child: Child,
    events: Receiver<Value>,
    seen: Vec<Value>,
}

impl Watch {
    fn start(f: &Fixture, extra: &[&str]) -> Watch {
        let mut cmd = Std::new(valve_bin());
        hermetic(&mut cmd);
        let mut child = cmd
            .args(["watch", "--format", "ndjson"])
            .args(if extra.contains(&"--debounce") {
                &[][..]
            } else {
                &["--debounce", "30"][..]
            })
            .args(extra)
            .current_dir(f.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("valve watch starts");
        let (tx, rx) = channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not one JSON object a line: {e}: {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let mut w = Watch {
            child,
            events: rx,
            seen: Vec::new(),
        };
        // The first evaluation ends with a summary; the watcher is live by then.
        w.until(|e| e["type"] == "summary");
        w
    }

    /// Events up to and including the first that `pred` accepts.
    fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let end = Instant::now() + DEADLINE;
        let mut got = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    self.seen.push(e.clone());
                    let done = pred(&e);
                    got.push(e);
                    if done {
                        return got;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no matching event within {DEADLINE:?}; got {got:#?}")
                }
                Err(RecvTimeoutError::Disconnected) => panic!("valve watch ended; got {got:#?}"),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG)
        .write(".gitignore", "target/\n")
        .write("src/a.txt", "clean\n")
        .write("src/b.txt", "clean\n")
        .commit("init");
    f
}

fn is(kind: &'static str, file: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["type"] == kind && e["file"] == file
}

#[test]
fn initial_findings_then_new_then_resolved() {
    let f = repo();
    f.write("src/a.txt", &format!("{KEY}\n"));
    let mut w = Watch::start(&f, &[]);
    let first: Vec<&Value> = w.seen.iter().filter(|e| e["type"] == "finding").collect();
    assert_eq!(first.len(), 1, "{:#?}", w.seen);
    assert_eq!(first[0]["file"], "src/a.txt");
    assert_eq!(first[0]["persona"], "Guardian");
    assert_eq!(
        first[0]["blocking"], true,
        "watch context, default threshold"
    );

    f.write("src/b.txt", &format!("x = {KEY}\n"));
    let got = w.until(|e| e["type"] == "summary");
    let new: Vec<&Value> = got.iter().filter(|e| e["type"] == "finding").collect();
    assert_eq!(new.len(), 1, "only what is new: {got:#?}");
    assert_eq!(new[0]["file"], "src/b.txt");
    assert_eq!(new[0]["column"], 5);

    f.write("src/b.txt", "clean again\n");
    let got = w.until(|e| e["type"] == "summary");
    assert!(got.iter().any(is("resolved", "src/b.txt")), "{got:#?}");
    assert_eq!(got.last().map(|s| s["findings"].clone()), Some(1.into()));

    // An editor that saves by writing a temp file and renaming it over.
    std::fs::write(f.path().join("src/.b.txt.swp"), format!("{KEY}\n")).expect("write");
    std::fs::rename(f.path().join("src/.b.txt.swp"), f.path().join("src/b.txt")).expect("rename");
    let got = w.until(is("finding", "src/b.txt"));
    assert!(
        !got.iter()
            .any(|e| e["file"] == "src/.b.txt.swp" && e["type"] == "finding"),
        "{got:#?}"
    );
}

#[test]
fn writes_in_ignored_folders_cause_no_event() {
    let f = repo();
    let mut w = Watch::start(&f, &[]);
    // A build into a gitignored folder and a vendored tree in config `ignore`.
    for i in 0..30 {
        f.write(
            &format!("target/debug/build/out{i}.txt"),
            &format!("{KEY}\n"),
        );
        f.write(&format!("vendor/lib{i}.txt"), &format!("{KEY}\n"));
    }
    // Then one real edit: it must be the very next thing valve reports.
    f.write("src/a.txt", &format!("{KEY}\n"));
    let got = w.until(|e| e["type"] == "summary");
    let files: Vec<&Value> = got.iter().filter_map(|e| e.get("file")).collect();
    assert_eq!(files, vec![&Value::from("src/a.txt")], "{got:#?}");
    assert_eq!(got.len(), 2, "one finding, one summary: {got:#?}");
}

#[test]
fn a_commit_resolves_what_it_commits() {
    let f = repo();
    f.write("src/a.txt", &format!("{KEY}\n"))
        .stage(&["src/a.txt"]);
    let mut w = Watch::start(&f, &[]);
    assert!(w.seen.iter().any(is("finding", "src/a.txt")));
    f.git(&["commit", "-q", "--no-verify", "-m", "commit it"]);
    let got = w.until(is("resolved", "src/a.txt"));
    assert!(!got.iter().any(|e| e["type"] == "error"), "{got:#?}");
}

#[test]
fn an_invalid_config_edit_keeps_the_previous_personas() {
    let f = repo();
    f.write("src/a.txt", "TODO here\n");
    let mut w = Watch::start(&f, &[]);
    f.config("personas:\n  Guardian:\n    triggers: ['(unclosed']\n");
    let got = w.until(|e| e["type"] == "error");
    let error = got.last().cloned().unwrap_or_default();
    assert_eq!(error["file"], ".sage/valve.yml");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or("")
            .contains("keeping the previous personas")
    );
    // The old personas still judge saves.
    f.write("src/b.txt", &format!("{KEY}\n"));
    w.until(is("finding", "src/b.txt"));
    w.until(|e| e["type"] == "summary");
    // A valid edit reloads and re-evaluates with the new personas.
    f.config("personas:\n  Todo:\n    triggers: ['TODO']\n");
    let got = w.until(|e| e["type"] == "summary");
    assert!(got.iter().any(|e| e["type"] == "reload"), "{got:#?}");
    assert!(
        got.iter()
            .any(|e| e["type"] == "finding" && e["persona"] == "Todo"),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|e| e["type"] == "resolved" && e["persona"] == "Guardian"),
        "{got:#?}"
    );
}

#[test]
fn chronicle_gets_the_same_events() {
    let f = repo();
    let chronicle = f.path().join(".git/valve-chronicle.ndjson");
    let mut w = Watch::start(&f, &["--chronicle", chronicle.to_str().unwrap_or("")]);
    f.write("src/a.txt", &format!("{KEY}\n"));
    w.until(|e| e["type"] == "summary");
    let lines: Vec<Value> = std::fs::read_to_string(&chronicle)
        .expect("chronicle written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines, w.seen);
}

#[cfg(unix)]
#[test]
fn sigterm_and_sigint_exit_0_within_a_second() {
    for signal in ["-TERM", "-INT"] {
        let f = repo();
        let mut w = Watch::start(&f, &[]);
        let pid = w.child.id().to_string();
        let sent = Instant::now();
        assert!(
            Std::new("kill")
                .args([signal, &pid])
                .status()
                .expect("kill")
                .success()
        );
        let end = sent + Duration::from_secs(1);
        let status = loop {
            if let Some(status) = w.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < end,
                "{signal}: still running after a second"
            );
            // A poll with a deadline: the exit has no event to wait on.
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(status.code(), Some(0), "{signal}");
    }
}

#[test]
fn the_watched_folder_removed_and_recreated_is_reported_and_watched_again() {
    let f = repo();
    let mut w = Watch::start(&f, &[]);
    let saved = Fixture::bare_dir();
    let copy = saved.path().join("copy");
    assert!(
        Std::new("cp")
            .arg("-r")
            .arg(f.path())
            .arg(&copy)
            .status()
            .expect("cp")
            .success()
    );
    std::fs::remove_dir_all(f.path()).expect("remove the repo");
    let got = w.until(|e| e["type"] == "error");
    assert!(
        got.last().is_some_and(|e| e["message"]
            .as_str()
            .unwrap_or("")
            .contains("retrying in 1 s")),
        "{got:#?}"
    );
    assert!(
        Std::new("cp")
            .arg("-r")
            .arg(&copy)
            .arg(f.path())
            .status()
            .expect("cp")
            .success()
    );
    // Back after the 1 s backoff: the re-evaluation ends with a summary.
    w.until(|e| e["type"] == "summary");
    f.write("src/a.txt", &format!("{KEY}\n"));
    w.until(is("finding", "src/a.txt"));
}

#[test]
fn a_burst_of_saves_on_one_file_is_judged_once() {
    let f = repo();
    // A debounce far longer than the burst takes even on a loaded machine.
    let mut w = Watch::start(&f, &["--debounce", "1000"]);
    for i in 0..20 {
        f.write("src/a.txt", &format!("save {i}: {KEY}\n"));
    }
    f.write("src/b.txt", &format!("sentinel {KEY}\n"));
    let got = w.until(is("finding", "src/b.txt"));
    let a: Vec<&Value> = got.iter().filter(|e| e["file"] == "src/a.txt").collect();
    assert_eq!(a.len(), 1, "one finding for the burst: {got:#?}");
    let summaries = got.iter().filter(|e| e["type"] == "summary").count();
    assert!(summaries <= 1, "the burst is one evaluation: {got:#?}");
}

#[test]
fn editing_gitignore_updates_what_is_ignored() {
    let f = repo();
    f.write("scratch/notes.txt", &format!("{KEY}\n"));
    let mut w = Watch::start(&f, &[]);
    assert!(
        w.seen.iter().any(is("finding", "scratch/notes.txt")),
        "{:#?}",
        w.seen
    );
    f.write(".gitignore", "target/\nscratch/\n");
    w.until(is("resolved", "scratch/notes.txt"));
}

/// `(type, file, stage)` of the finding and resolved events in `events`.
fn staged_events(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter(|e| e["type"] == "finding" || e["type"] == "resolved")
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_string(),
                e["file"].as_str().unwrap_or("").to_string(),
                e["stage"].as_str().unwrap_or("null").to_string(),
            )
        })
        .collect()
}

fn event(kind: &str, file: &str, stage: &str) -> (String, String, String) {
    (kind.to_string(), file.to_string(), stage.to_string())
}

/// Waits for the event of `kind` on `file` with `stage`, then for the
/// summary of that evaluation; returns everything up to it. A git command
/// may cause an evaluation that changes nothing before the one that sees
/// its result: only its summary is extra, and `staged_events` drops it.
fn until_staged(w: &mut Watch, kind: &str, file: &str, stage: &str) -> Vec<Value> {
    let (kind, file, stage) = (kind.to_string(), file.to_string(), stage.to_string());
    let mut got =
        w.until(move |e| e["type"] == *kind && e["file"] == *file && e["stage"] == *stage);
    got.extend(w.until(|e| e["type"] == "summary"));
    got
}

#[test]
fn findings_say_whether_they_are_staged() {
    let f = repo();
    f.write("src/a.txt", &format!("{KEY}\n"))
        .stage(&["src/a.txt"])
        .write("src/b.txt", &format!("b {KEY}\n"))
        .write("src/new.txt", &format!("new {KEY}\n"));
    let w = Watch::start(&f, &[]);
    assert_eq!(
        staged_events(&w.seen),
        vec![
            event("finding", "src/a.txt", "staged"),
            event("finding", "src/b.txt", "unstaged"),
            event("finding", "src/new.txt", "unstaged"),
        ]
    );
}

#[test]
fn git_add_turns_an_unstaged_finding_into_a_staged_one() {
    let f = repo();
    let mut w = Watch::start(&f, &[]);
    f.write("src/a.txt", &format!("{KEY}\n"));
    let got = until_staged(&mut w, "finding", "src/a.txt", "unstaged");
    assert_eq!(
        staged_events(&got),
        vec![event("finding", "src/a.txt", "unstaged")]
    );
    f.stage(&["src/a.txt"]);
    let got = until_staged(&mut w, "finding", "src/a.txt", "staged");
    // The old stage goes first: a consumer keyed by fingerprint ends staged.
    assert_eq!(
        staged_events(&got),
        vec![
            event("resolved", "src/a.txt", "unstaged"),
            event("finding", "src/a.txt", "staged"),
        ]
    );
    assert_eq!(got.last().map(|s| s["findings"].clone()), Some(1.into()));
}

#[test]
fn a_fix_of_a_staged_line_is_index_only_until_git_add() {
    let f = repo();
    f.write("src/a.txt", &format!("clean\nkey = {KEY}\n"))
        .stage(&["src/a.txt"]);
    let mut w = Watch::start(&f, &[]);
    assert_eq!(
        staged_events(&w.seen),
        vec![event("finding", "src/a.txt", "staged")]
    );
    // Fixed in the work tree only: the index still holds the key.
    f.write("src/a.txt", "clean\nkey = from_env()\n");
    let got = until_staged(&mut w, "finding", "src/a.txt", "index_only");
    assert_eq!(
        staged_events(&got),
        vec![
            event("resolved", "src/a.txt", "staged"),
            event("finding", "src/a.txt", "index_only"),
        ]
    );
    let index_only = got
        .iter()
        .find(|e| e["type"] == "finding")
        .cloned()
        .unwrap_or_default();
    assert_eq!(index_only["line"], 2, "where the index blob has it");
    assert_eq!(index_only["column"], 7);
    assert_eq!(index_only["match"], KEY);
    assert_eq!(index_only["blocking"], true);
    assert_eq!(got.last().map(|s| s["blocking"].clone()), Some(1.into()));
    // `git add` of the fix resolves it.
    f.stage(&["src/a.txt"]);
    let got = until_staged(&mut w, "resolved", "src/a.txt", "index_only");
    assert_eq!(
        staged_events(&got),
        vec![event("resolved", "src/a.txt", "index_only")]
    );
    assert_eq!(got.last().map(|s| s["findings"].clone()), Some(0.into()));
}

#[test]
fn a_work_tree_restored_to_head_keeps_the_staged_key_index_only() {
    let f = repo();
    f.write("src/b.txt", &format!("{KEY}\n"))
        .stage(&["src/b.txt"]);
    let mut w = Watch::start(&f, &[]);
    // `git status` now shows MM: the work tree is HEAD's, the index is not.
    f.write("src/b.txt", "clean\n");
    let got = until_staged(&mut w, "finding", "src/b.txt", "index_only");
    assert_eq!(
        staged_events(&got),
        vec![
            event("resolved", "src/b.txt", "staged"),
            event("finding", "src/b.txt", "index_only"),
        ]
    );
    // Restoring the index too (`git restore --staged`) resolves it.
    f.git(&["restore", "--staged", "src/b.txt"]);
    let got = until_staged(&mut w, "resolved", "src/b.txt", "index_only");
    assert_eq!(
        staged_events(&got),
        vec![event("resolved", "src/b.txt", "index_only")]
    );
}

#[test]
fn editing_an_extended_file_reloads_the_personas() {
    let f = Fixture::new();
    f.config("extends: [policies/shared.yml]\n")
        .write(
            "policies/shared.yml",
            "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n",
        )
        .write("src/a.txt", "clean\n")
        .commit("init");
    f.write("src/a.txt", "TODO here\n");
    let mut w = Watch::start(&f, &[]);
    f.write(
        "policies/shared.yml",
        "personas:\n  Todo:\n    triggers: ['TODO']\n",
    );
    let got = w.until(|e| e["type"] == "summary");
    assert!(got.iter().any(|e| e["type"] == "reload"), "{got:#?}");
    assert!(
        got.iter()
            .any(|e| e["type"] == "finding" && e["persona"] == "Todo"),
        "{got:#?}"
    );
}

/// A finding as both a watch stream and a report name it: watch's
/// identity (SPEC §8) and severity.
type Id = (String, String, String, String, String);

fn id(f: &Value) -> Id {
    let text = |k: &str| f[k].as_str().unwrap_or("null").to_string();
    (
        text("file"),
        text("persona"),
        text("fingerprint"),
        text("stage"),
        text("severity"),
    )
}

/// The findings of an uncached `valve check` of the work tree, sorted.
fn checked(f: &Fixture) -> Vec<Id> {
    let report = f.json(&[]);
    let mut ids: Vec<Id> = report["findings"]
        .as_array()
        .map(|a| a.iter().map(id).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

/// What the stream says is there now: every finding event adds one, every
/// resolved event takes one away.
fn shown(events: &[Value]) -> Vec<Id> {
    let mut now: Vec<Id> = Vec::new();
    for e in events {
        if e["type"] == "finding" {
            now.push(id(e));
        } else if e["type"] == "resolved" {
            if let Some(at) = now.iter().position(|x| *x == id(e)) {
                now.remove(at);
            }
        }
    }
    now.sort();
    now
}

/// Waits until an evaluation leaves the stream showing what an uncached
/// `valve check` reports now (a save may be judged in more than one
/// batch: only the settled state counts), and returns it. The step must
/// change what is shown, so the wait cannot pass on the previous state.
fn settles_as_check(w: &mut Watch, f: &Fixture, step: &str) -> Vec<Id> {
    let want = checked(f);
    assert_ne!(shown(&w.seen), want, "{step}: the step changes nothing");
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match w.events.recv_timeout(left) {
            Ok(e) => {
                let summary = e["type"] == "summary";
                w.seen.push(e);
                if summary && shown(&w.seen) == want {
                    return want;
                }
            }
            Err(_) => panic!(
                "{step}: watch shows {:#?}\nan uncached check reports {want:#?}",
                shown(&w.seen)
            ),
        }
    }
}

const A: &str = "line one\nkey = AKIAABCDEFGHIJKLMNOP\nTODO: rotate it\n";
const B: &str = "TODO: first\nid = AKIAZZZZZZZZZZZZZZZZ\nline one\n";

/// Saves A, B, A (the memory answers the second A), stages A, saves B and
/// A again: after each step watch shows what an uncached check reports.
fn known_contents_are_judged_as_without_a_cache(config: &str) {
    let f = Fixture::new();
    f.config(config)
        .write("src/a.txt", "line one\n")
        .write("src/b.txt", "clean\n")
        .commit("init");
    let mut w = Watch::start(&f, &[]);
    assert_eq!(shown(&w.seen), checked(&f), "the first evaluation");
    let mut states = Vec::new();
    for (step, content) in [("save A", A), ("save B", B), ("save A again", A)] {
        f.write("src/a.txt", content);
        states.push(settles_as_check(&mut w, &f, step));
    }
    assert_eq!(states[0], states[2], "A judged twice gives one answer");
    f.stage(&["src/a.txt"]);
    let staged = settles_as_check(&mut w, &f, "git add A");
    // A change rule's finding is of the change set, of no stage.
    let lines = staged.iter().filter(|s| s.1 != "Changelog");
    assert!(
        lines.clone().count() == 2 && lines.clone().all(|s| s.3 == "staged"),
        "{staged:#?}"
    );
    f.write("src/a.txt", B);
    settles_as_check(&mut w, &f, "save B over a staged A");
    f.write("src/a.txt", A);
    settles_as_check(&mut w, &f, "save A over a staged A");
}

const TWO: &str = "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n  Todo:\n    triggers: ['TODO']\n    scope: file\n";

#[test]
fn re_saved_contents_are_judged_as_an_uncached_check_judges_them() {
    known_contents_are_judged_as_without_a_cache(TWO);
}

#[test]
fn with_a_change_rule_the_whole_change_set_is_judged_as_without_a_cache() {
    // A change rule makes every save re-judge the whole change set.
    let config = format!(
        "{TWO}  Changelog:\n    when_changed: ['src/**']\n    require_changed: [CHANGELOG.md]\n"
    );
    known_contents_are_judged_as_without_a_cache(&config);
}

#[test]
fn after_a_trigger_change_no_content_is_answered_from_the_old_triggers() {
    let guardian = |trigger: &str| {
        format!("personas:\n  Guardian:\n    triggers: ['{trigger}']\n    severity: critical\n")
    };
    let f = Fixture::new();
    f.config(&guardian("AKIA[0-9A-Z]{16}"))
        .write("src/a.txt", "line one\n")
        .commit("init");
    let mut w = Watch::start(&f, &[]);
    f.write("src/a.txt", A);
    settles_as_check(&mut w, &f, "save A");
    f.write("src/a.txt", B);
    settles_as_check(&mut w, &f, "save B");
    // Same persona, same trigger count, another pattern: a memory keyed by
    // content alone would answer A with the key's line.
    f.config(&guardian("TODO"));
    settles_as_check(&mut w, &f, "reload with TODO");
    f.write("src/a.txt", A);
    let todo = settles_as_check(&mut w, &f, "save A under TODO");
    assert_eq!(todo.len(), 1, "{todo:#?}");
    // Back to the first triggers: their entries answer again, unchanged.
    f.config(&guardian("AKIA[0-9A-Z]{16}"));
    settles_as_check(&mut w, &f, "reload with AKIA");
    f.write("src/a.txt", B);
    settles_as_check(&mut w, &f, "save B under AKIA");
}

/// Context switches of every thread of `pid` so far: a thread that
/// sleeps in the kernel until an event makes none.
#[cfg(target_os = "linux")]
fn switches(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc lists the threads");
    tasks
        .flatten()
        .map(|t| std::fs::read_to_string(t.path().join("status")).unwrap_or_default())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

#[cfg(target_os = "linux")]
#[test]
fn an_idle_watch_wakes_for_nothing() {
    let f = repo();
    let mut w = Watch::start(&f, &[]);
    let pid = w.child.id();
    // The first evaluation's own reads still arrive for a moment; then no
    // thread may wake: a ticking debouncer or a timed wait would switch
    // many times a window (the old one: about 90 times a second).
    let window = Duration::from_millis(500);
    let end = Instant::now() + DEADLINE;
    let mut before = switches(pid);
    loop {
        std::thread::sleep(window);
        let after = switches(pid);
        if after == before {
            break;
        }
        assert!(
            Instant::now() < end,
            "valve watch woke {} times in the last {window:?}",
            after - before
        );
        before = after;
    }
    // And it is still awake to a save.
    f.write("src/a.txt", &format!("{KEY}\n"));
    w.until(is("finding", "src/a.txt"));
}

#[test]
fn nested_configs_judge_saves_below_their_folder_and_reload_when_edited() {
    let f = Fixture::new();
    f.config(CONFIG)
        .write(
            "web/.sage/valve.yml",
            "personas:\n  NoConsole:\n    filters: ['*.js']\n    triggers: ['console\\.log']\n",
        )
        .write("web/a.js", "clean\n")
        .write("lib/b.js", "clean\n")
        .commit("init");
    let mut w = Watch::start(&f, &[]);
    // A save below the folder: judged by the nested persona as `check` would.
    f.write("web/a.js", "console.log(1)\n");
    settles_as_check(&mut w, &f, "save below the folder");
    assert!(
        w.seen
            .iter()
            .any(|e| e["type"] == "finding" && e["persona"] == "web/:NoConsole"),
        "{:#?}",
        w.seen
    );
    // Outside it: nothing new.
    f.write("lib/b.js", "console.log(2)\n");
    f.write("web/a.js", "console.log(1)\nconsole.log(3)\n");
    settles_as_check(&mut w, &f, "save outside and inside");
    // The nested config edited: the whole set is judged by the new one.
    f.write(
        "web/.sage/valve.yml",
        "personas:\n  NoLog:\n    triggers: ['log']\n",
    );
    let got = settles_as_check(&mut w, &f, "nested config edited");
    assert!(got.iter().any(|id| id.1 == "web/:NoLog"), "{got:#?}");
    assert!(!got.iter().any(|id| id.1 == "web/:NoConsole"), "{got:#?}");
    // It starts extending a file, which is then edited.
    f.write("web/lint.yml", "personas:\n  One:\n    triggers: ['one']\n");
    f.write(
        "web/.sage/valve.yml",
        "extends: [lint.yml]\npersonas:\n  NoLog:\n    triggers: ['log']\n",
    );
    f.write("web/c.txt", "one two\n");
    let got = settles_as_check(&mut w, &f, "nested config extends a file");
    assert!(got.iter().any(|id| id.1 == "web/:One"), "{got:#?}");
    f.write("web/lint.yml", "personas:\n  Two:\n    triggers: ['two']\n");
    let got = settles_as_check(&mut w, &f, "the extended file edited");
    assert!(got.iter().any(|id| id.1 == "web/:Two"), "{got:#?}");
    assert!(!got.iter().any(|id| id.1 == "web/:One"), "{got:#?}");
}
