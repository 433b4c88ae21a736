//! What a change is made of (SPEC §2.1): names are bytes (a name that is not
//! UTF-8 is judged like any other, shown with `\xNN`, never merged with
//! another), line endings are normalised as `git add` would store them
//! before `scope: changed` and "unchanged?", and an unresolved merge is
//! exit 2 for `--staged` while `--worktree` judges the files as they are.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command as Std;

use common::{Fixture, hits};

const SECRETS: &str =
    "personas:\n  Every: {}\n  Secret:\n    triggers: ['SECRET']\n    severity: error\n";

fn write_raw(f: &Fixture, name: &[u8], content: &str) {
    std::fs::write(f.path().join(OsStr::from_bytes(name)), content).expect("write");
}

/// `(persona, file)` of every finding, sorted.
fn findings(f: &Fixture, args: &[&str]) -> Vec<(String, String)> {
    let mut all = args.to_vec();
    all.extend(["--fail-on", "never"]);
    let mut out: Vec<(String, String)> = hits(&f.json(&all))
        .into_iter()
        .map(|(persona, file, _)| (persona, file))
        .collect();
    out.sort();
    out
}

fn pair(persona: &str, file: &str) -> (String, String) {
    (persona.to_string(), file.to_string())
}

#[test]
fn names_that_are_not_utf8_stay_two_files_in_every_mode() {
    let f = Fixture::new();
    f.config(SECRETS);
    f.write("base.txt", "base\n");
    f.commit("base");
    write_raw(&f, b"caf\xe8.txt", "SECRET\n");
    write_raw(&f, b"caf\xe9.txt", "clean\n");
    let expected = vec![
        pair("Every", "caf\\xe8.txt"),
        pair("Every", "caf\\xe9.txt"),
        pair("Secret", "caf\\xe8.txt"),
    ];
    assert_eq!(findings(&f, &["--worktree"]), expected);
    f.git(&["add", "-A"]);
    assert_eq!(findings(&f, &["--staged"]), expected);
    let all: Vec<_> = findings(&f, &["--all"])
        .into_iter()
        .filter(|(_, file)| file.starts_with("caf"))
        .collect();
    assert_eq!(all, expected);
    f.commit("names");
    assert_eq!(findings(&f, &["--base", "HEAD~1"]), expected);
}

#[test]
fn an_escaped_looking_name_and_a_raw_one_are_never_merged() {
    let f = Fixture::new();
    f.config(SECRETS);
    f.commit("base");
    // The name `caf\xe8.txt` written with a backslash, and the raw byte.
    write_raw(&f, b"caf\\xe8.txt", "clean\n");
    write_raw(&f, b"caf\xe8.txt", "SECRET\n");
    f.git(&["add", "-A"]);
    let shown = findings(&f, &["--staged"]);
    assert_eq!(
        shown,
        vec![
            pair("Every", "caf\\xe8.txt"),
            pair("Every", "caf\\xe8.txt"),
            pair("Secret", "caf\\xe8.txt"),
        ]
    );
}

#[test]
fn names_that_are_not_utf8_are_read_outside_git_too() {
    let f = Fixture::bare_dir();
    f.config(SECRETS);
    std::fs::create_dir(f.path().join(OsStr::from_bytes(b"d\xff"))).expect("mkdir");
    write_raw(&f, b"d\xff/caf\xe8.txt", "SECRET\n");
    assert!(
        findings(&f, &["--all"]).contains(&pair("Secret", "d\\xff/caf\\xe8.txt")),
        "{:?}",
        findings(&f, &["--all"])
    );
    let named = f
        .valve(&["check", "--format", "json", "--fail-on", "never", "."])
        .output()
        .expect("valve runs");
    let report: serde_json::Value = serde_json::from_slice(&named.stdout).expect("json");
    assert!(
        hits(&report)
            .iter()
            .any(|(p, file, _)| p == "Secret" && file == "d\\xff/caf\\xe8.txt"),
        "{report}"
    );
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Std::new("git");
    common::hermetic(&mut cmd);
    let out = cmd.args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `git add -A && git diff --cached --name-status` lists, in a copy.
fn git_add_all_in_a_copy(f: &Fixture) -> BTreeSet<String> {
    let copy = tempfile::tempdir().expect("temp dir");
    let status = Std::new("cp")
        .arg("-a")
        .arg(format!("{}/.", f.path().display()))
        .arg(copy.path())
        .status()
        .expect("cp runs");
    assert!(status.success());
    git_in(copy.path(), &["add", "-A"]);
    git_in(copy.path(), &["diff", "--cached", "-M", "--name-status"])
        .lines()
        .map(|l| l.replace('\t', " "))
        .collect()
}

fn listed(f: &Fixture) -> BTreeSet<String> {
    findings(f, &["--worktree"])
        .into_iter()
        .filter(|(p, _)| p == "Every")
        .map(|(_, file)| file)
        .collect()
}

/// `core.autocrlf=true`: files committed with LF, checked out with CRLF.
fn crlf_checkout() -> Fixture {
    let f = Fixture::new();
    f.config("personas:\n  Every: {}\n  Lines:\n    triggers: ['line']\n");
    f.write("edited.txt", "line 1\nline 2\nline 3\nline 4\n");
    f.write("kept.txt", "line a\nline b\n");
    f.commit("base");
    f.git(&["config", "core.autocrlf", "true"]);
    f.remove("edited.txt").remove("kept.txt");
    f.git(&["checkout", "--", "."]);
    let checked_out = std::fs::read(f.path().join("kept.txt")).expect("read");
    assert_eq!(checked_out, b"line a\r\nline b\r\n");
    f
}

#[test]
fn a_crlf_checkout_changes_only_the_edited_line() {
    let f = crlf_checkout();
    f.write("edited.txt", "line 1\r\nline TWO\r\nline 3\r\nline 4\r\n");
    let report = f.json(&["--worktree", "--fail-on", "never"]);
    let lines: Vec<_> = hits(&report)
        .into_iter()
        .filter(|(p, _, _)| p == "Lines")
        .collect();
    // Triggers run on the file as it is: line 2 of the CRLF file.
    assert_eq!(lines, vec![("Lines".into(), "edited.txt".into(), Some(2))]);
    assert_eq!(
        git_add_all_in_a_copy(&f),
        ["M edited.txt".to_string()].into()
    );
    assert_eq!(listed(&f), ["edited.txt".to_string()].into());
}

#[test]
fn an_unedited_crlf_file_is_not_modified_even_when_it_is_looked_at() {
    let f = crlf_checkout();
    // Out of the index: valve compares the work-tree file with HEAD itself.
    f.git(&["rm", "-q", "--cached", "kept.txt"]);
    assert!(git_add_all_in_a_copy(&f).is_empty());
    assert!(listed(&f).is_empty(), "{:?}", listed(&f));
    // Moved: an exact rename after normalisation, as git pairs it.
    std::fs::rename(f.path().join("kept.txt"), f.path().join("moved.txt")).expect("mv");
    assert_eq!(
        git_add_all_in_a_copy(&f),
        ["R100 kept.txt moved.txt".to_string()].into()
    );
    let report = f.json(&["--worktree", "--fail-on", "never"]);
    let renamed: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|x| x["persona"] == "Every")
        .map(|x| {
            (
                x["change"].clone(),
                x["old_file"].clone(),
                x["file"].clone(),
            )
        })
        .collect();
    assert_eq!(
        renamed,
        vec![("renamed".into(), "kept.txt".into(), "moved.txt".into())]
    );
    // Nothing of a renamed-only file is a changed line.
    assert!(
        !hits(&report).iter().any(|(p, _, _)| p == "Lines"),
        "{report}"
    );
}

#[test]
fn gitattributes_text_and_eol_decide_as_for_git_add() {
    let f = Fixture::new();
    f.config("personas:\n  Every: {}\n");
    f.write(".gitattributes", "*.txt text eol=crlf\n*.bin -text\n");
    f.write("a.txt", "one\ntwo\n");
    f.write("b.bin", "one\ntwo\n");
    f.commit("base");
    // The work tree has CRLF: `a.txt` is text (stored LF), `b.bin` is not.
    f.write("a.txt", "one\r\ntwo\r\n");
    f.write("b.bin", "one\r\ntwo\r\n");
    f.git(&["rm", "-q", "--cached", "a.txt", "b.bin"]);
    assert_eq!(git_add_all_in_a_copy(&f), ["M b.bin".to_string()].into());
    assert_eq!(listed(&f), ["b.bin".to_string()].into());
}

#[test]
fn a_filter_attribute_runs_nothing() {
    let f = Fixture::new();
    f.config("personas:\n  Every: {}\n");
    let marker = f.path().join("ran");
    f.git(&[
        "config",
        "filter.evil.clean",
        &format!("touch {}; cat", marker.display()),
    ]);
    f.write(".gitattributes", "*.txt filter=evil text\n");
    f.write("a.txt", "one\n");
    f.git(&["-c", "filter.evil.clean=cat", "add", "-A"]);
    f.git(&["-c", "filter.evil.clean=cat", "commit", "-q", "-m", "base"]);
    f.write("a.txt", "one\r\ntwo\r\n");
    f.git(&[
        "-c",
        "filter.evil.clean=cat",
        "rm",
        "-q",
        "--cached",
        "a.txt",
    ]);
    assert_eq!(listed(&f), ["a.txt".to_string()].into());
    assert!(!marker.exists(), "valve ran a filter driver");
}

/// `a.txt` conflicts (both changed), `d.txt` modified on `side` and
/// deleted on `main`.
fn conflicted() -> Fixture {
    let f = Fixture::new();
    f.config(
        "personas:\n  Every: {}\n  Markers:\n    triggers: ['^<<<<<<<']\n    severity: error\n",
    );
    f.write("a.txt", "base\n")
        .write("d.txt", "base\n")
        .write("k.txt", "kept\n");
    f.commit("base");
    f.git(&["checkout", "-q", "-b", "side"]);
    f.write("a.txt", "side\n").write("d.txt", "side\n");
    f.commit("side");
    f.git(&["checkout", "-q", "main"]);
    f.write("a.txt", "main\n").remove("d.txt");
    f.commit("main");
    let mut cmd = Std::new("git");
    common::hermetic(&mut cmd);
    let out = cmd
        .args(["merge", "side"])
        .current_dir(f.path())
        .output()
        .expect("git runs");
    assert!(!out.status.success(), "the merge should conflict");
    f
}

#[test]
fn staged_during_an_unresolved_merge_is_exit_2_naming_the_paths() {
    let f = conflicted();
    let out = f
        .valve(&["check", "--staged"])
        .output()
        .expect("valve runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unmerged"), "{stderr}");
    assert!(
        stderr.contains("a.txt") && stderr.contains("d.txt"),
        "{stderr}"
    );
}

#[test]
fn worktree_during_an_unresolved_merge_judges_the_files_as_they_are() {
    let f = conflicted();
    assert_eq!(
        git_add_all_in_a_copy(&f),
        ["M a.txt".to_string(), "A d.txt".to_string()].into()
    );
    assert_eq!(
        listed(&f),
        ["a.txt".to_string(), "d.txt".to_string()].into()
    );
    let out = f
        .valve(&["check", "--worktree"])
        .output()
        .expect("valve runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("<<<<<<<"));
}
