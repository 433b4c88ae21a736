//! Every repository format git writes is read, or refused by name (SPEC
//! §2.1): the sparse index (a sparse directory is expanded against its
//! tree, so a change inside it is listed file by file), a sparse checkout
//! without one, SHA-256 objects; reftable refs and unknown extensions are
//! exit 2 naming the format; a blob missing from a partial clone is exit 2
//! naming the path, the object, the partial clone and the fetch. The git
//! CLI is the oracle, run on the same repository or on a copy.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command as Std;

use common::Fixture;

const EVERY: &str = "personas:\n  Every: {}\n";

/// valve's change set as "K path" / "R old new".
fn git_in(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Std::new("git");
    common::hermetic(&mut cmd);
    let out = cmd.args(args).current_dir(dir).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git diff <args> -M --name-status` in `dir` as "K path" / "R old new".
fn git_changes(dir: &Path, args: &[&str]) -> BTreeSet<String> {
    let mut all = vec!["diff"];
    all.extend(args);
    all.extend(["-M", "--name-status"]);
    common::name_status(&git_in(dir, &all))
}

/// What `git add -A --sparse && git diff --cached -M` lists, run in a copy.
fn git_worktree_changes(f: &Fixture) -> BTreeSet<String> {
    let copy = tempfile::tempdir().expect("temp dir");
    let status = Std::new("cp")
        .arg("-a")
        .arg(format!("{}/.", f.path().display()))
        .arg(copy.path())
        .status()
        .expect("cp runs");
    assert!(status.success());
    git_in(copy.path(), &["add", "-A", "--sparse"]);
    git_changes(copy.path(), &["--cached"])
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Folders `a/deep`, `b`, `c` of two files each and a file at the top,
/// committed; a branch `side` changes `b` (a file edited, one added).
fn sparse_world() -> Fixture {
    let f = Fixture::new();
    f.config(EVERY);
    for dir in ["a", "a/deep", "b", "c"] {
        for i in 1..=2 {
            f.write(&format!("{dir}/f{i}.txt"), &format!("{dir} {i}\n"));
        }
    }
    f.write("top.txt", "top\n");
    f.commit("base");
    f.git(&["checkout", "-q", "-b", "side"]);
    f.write("b/f1.txt", "b 1 changed on side\n");
    f.write("b/new.txt", "new on side\n");
    f.commit("side");
    f.git(&["checkout", "-q", "main"]);
    f
}

/// The index's sparse directory entries, as `git ls-files --sparse -s`
/// lists them (mode 040000).
fn sparse_dirs(f: &Fixture) -> Vec<String> {
    f.git(&["ls-files", "--sparse", "-s"])
        .lines()
        .filter(|l| l.starts_with("040000"))
        .map(|l| l.split('\t').nth(1).expect("path").to_string())
        .collect()
}

#[test]
fn a_merge_into_a_collapsed_directory_is_listed_file_by_file() {
    let f = sparse_world();
    f.git(&["sparse-checkout", "set", "--sparse-index", "c", ".sage"]);
    f.git(&["merge", "-q", "--no-commit", "--no-ff", "side"]);
    // git keeps `b/` collapsed, with the merged tree's id.
    assert!(
        sparse_dirs(&f).contains(&"b/".to_string()),
        "{:?}",
        sparse_dirs(&f)
    );
    let git = git_changes(f.path(), &["--cached"]);
    assert_eq!(git, set(&["M b/f1.txt", "A b/new.txt"]));
    assert_eq!(f.judged_changes(&["--staged"]), git);
}

#[test]
fn update_index_inside_a_sparse_directory_is_listed_as_git_lists_it() {
    let f = sparse_world();
    f.git(&["sparse-checkout", "set", "--sparse-index", "c", ".sage"]);
    let blob = f.git(&["rev-parse", "side:b/f1.txt"]);
    let info = format!("100644,{},b/f1.txt", blob.trim());
    f.git(&["update-index", "--cacheinfo", &info]);
    f.git(&["update-index", "--force-remove", "a/deep/f2.txt"]);
    let git = git_changes(f.path(), &["--cached"]);
    assert_eq!(git, set(&["M b/f1.txt", "D a/deep/f2.txt"]));
    assert_eq!(f.judged_changes(&["--staged"]), git);
}

#[test]
fn nothing_staged_in_a_sparse_index_is_nothing() {
    let f = sparse_world();
    f.git(&["sparse-checkout", "set", "--sparse-index", "c", ".sage"]);
    assert!(!sparse_dirs(&f).is_empty());
    assert!(f.judged_changes(&["--staged"]).is_empty());
    assert!(f.judged_changes(&["--worktree"]).is_empty());
}

/// Outside the cone: `b/f1.txt` comes back edited, `b/f2.txt` as it was,
/// `b/other.txt` and `a/deep/x.txt` are new; inside, `c/f1.txt` is edited.
fn edit_outside_the_cone(f: &Fixture) {
    f.write("b/f1.txt", "b 1 edited where git does not check out\n");
    f.write("b/f2.txt", "b 2\n");
    f.write("b/other.txt", "untracked outside the cone\n");
    f.write("a/deep/x.txt", "untracked in a collapsed folder\n");
    f.write("c/f1.txt", "c 1 edited\n");
}

#[test]
fn worktree_in_a_sparse_index_sees_what_git_status_sees() {
    let f = sparse_world();
    f.git(&["sparse-checkout", "set", "--sparse-index", "c", ".sage"]);
    assert!(!f.path().join("b").exists());
    edit_outside_the_cone(&f);
    let git = git_worktree_changes(&f);
    assert_eq!(
        git,
        set(&[
            "M b/f1.txt",
            "A b/other.txt",
            "A a/deep/x.txt",
            "M c/f1.txt"
        ])
    );
    let before = f.state();
    assert_eq!(f.judged_changes(&["--worktree"]), git);
    assert_eq!(before, f.state(), "valve changed the repository");
}

#[test]
fn worktree_in_a_sparse_checkout_without_a_sparse_index() {
    let f = sparse_world();
    f.git(&["sparse-checkout", "set", "--no-sparse-index", "c", ".sage"]);
    assert!(sparse_dirs(&f).is_empty());
    // Absent skip-worktree files are no deletions.
    assert!(f.judged_changes(&["--worktree"]).is_empty());
    edit_outside_the_cone(&f);
    assert_eq!(f.judged_changes(&["--worktree"]), git_worktree_changes(&f));
}

#[test]
fn a_merge_outside_the_cone_is_as_the_index_has_it_in_the_worktree() {
    let f = sparse_world();
    f.git(&["sparse-checkout", "set", "--sparse-index", "c", ".sage"]);
    f.git(&["merge", "-q", "--no-commit", "--no-ff", "side"]);
    // The merged files are not in the work tree: `git add -A` keeps them.
    let git = git_worktree_changes(&f);
    assert_eq!(git, set(&["M b/f1.txt", "A b/new.txt"]));
    assert_eq!(f.judged_changes(&["--worktree"]), git);
}

#[test]
fn all_in_a_sparse_checkout_lists_the_files_that_are_there() {
    for mode in ["--sparse-index", "--no-sparse-index"] {
        let f = sparse_world();
        f.git(&["sparse-checkout", "set", mode, "c", ".sage"]);
        edit_outside_the_cone(&f);
        let listed: BTreeSet<String> = f
            .judged_changes(&["--all"])
            .into_iter()
            .map(|c| c[2..].to_string())
            .collect();
        assert_eq!(
            listed,
            set(&[
                ".sage/valve.yml",
                "a/deep/x.txt",
                "b/f1.txt",
                "b/f2.txt",
                "b/other.txt",
                "c/f1.txt",
                "c/f2.txt",
                "top.txt"
            ]),
            "{mode}"
        );
    }
}

#[test]
fn sha256_repositories_work_in_every_mode() {
    let f = Fixture::bare_dir();
    f.git(&["init", "-q", "-b", "main", "--object-format=sha256"]);
    f.config(EVERY);
    f.write("a.txt", "one\ntwo\nthree\nfour\n");
    f.write("gone.txt", "to be deleted\n");
    f.commit("base");
    f.write("a.txt", "one\ntwo\nthree\nfour\nfive\n");
    f.git(&["mv", "a.txt", "renamed.txt"]);
    f.remove("gone.txt");
    f.write("new.txt", "new\n");
    f.git(&["add", "-A"]);
    let staged = git_changes(f.path(), &["--cached"]);
    assert_eq!(
        staged,
        set(&["R a.txt renamed.txt", "D gone.txt", "A new.txt"])
    );
    assert_eq!(f.judged_changes(&["--staged"]), staged);
    assert_eq!(f.judged_changes(&["--worktree"]), staged);
    f.commit("second");
    let range = git_changes(f.path(), &["HEAD~1", "HEAD"]);
    assert_eq!(f.judged_changes(&["--base", "HEAD~1"]), range);
    assert_eq!(f.judged_changes(&["--all"]).len(), 3);
}

#[test]
fn reftable_refs_are_exit_2_naming_the_format_where_refs_are_needed() {
    let f = Fixture::bare_dir();
    f.git(&["init", "-q", "-b", "main", "--ref-format=reftable"]);
    f.config("personas:\n  Secret:\n    triggers: ['SECRET']\n    severity: error\n");
    f.write("a.txt", "clean\n");
    f.commit("base");
    f.write("a.txt", "clean\nSECRET\n");
    f.commit("second");
    for args in [
        vec!["check", "--staged"],
        vec!["check", "--worktree"],
        vec!["check"],
        vec!["check", "--base", "main~1"],
    ] {
        let out = f.valve(&args).output().expect("valve runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("reftable"), "{args:?}: {stderr}");
    }
    // Runs that need no refs work.
    let all = f.valve(&["check", "--all"]).output().expect("valve runs");
    assert_eq!(all.status.code(), Some(1), "{all:?}");
    let (old, new) = (
        f.git(&["rev-parse", "HEAD~1"]),
        f.git(&["rev-parse", "HEAD"]),
    );
    let range = f
        .valve(&["check", "--base", old.trim(), "--head", new.trim()])
        .output()
        .expect("valve runs");
    assert_eq!(range.status.code(), Some(1), "{range:?}");
    assert!(String::from_utf8_lossy(&range.stdout).contains("SECRET"));
}

fn assert_refused(f: &Fixture, names: &str) {
    let out = f.valve(&["check", "--all"]).output().expect("valve runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(names), "{stderr}");
}

#[test]
fn an_unknown_extension_is_exit_2_naming_it() {
    let f = Fixture::new();
    f.config(EVERY);
    f.commit("base");
    f.git(&["config", "core.repositoryformatversion", "1"]);
    f.git(&["config", "extensions.futureThing", "yes"]);
    assert_refused(&f, "extensions.futurething");
}

#[test]
fn an_unknown_object_format_is_exit_2_naming_it() {
    let f = Fixture::new();
    f.config(EVERY);
    f.commit("base");
    let config = f.path().join(".git/config");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text = text.replace("repositoryformatversion = 0", "repositoryformatversion = 1");
    text.push_str("[extensions]\n\tobjectFormat = sha512\n");
    std::fs::write(&config, text).expect("write config");
    assert_refused(&f, "sha512");
}

#[test]
fn a_newer_repository_format_version_is_exit_2_naming_it() {
    let f = Fixture::new();
    f.config(EVERY);
    f.git(&["config", "core.repositoryformatversion", "2"]);
    assert_refused(&f, "version is 2");
}

/// A repository with history to serve a partial clone from.
fn origin() -> Fixture {
    let f = Fixture::new();
    f.config("personas:\n  Every: {}\n  Secret:\n    triggers: ['SECRET']\n");
    f.git(&["config", "uploadpack.allowFilter", "true"]);
    f.git(&["config", "uploadpack.allowAnySHA1InWant", "true"]);
    f.write("a.txt", "one\ntwo\n");
    let long: String = (1..=40).map(|i| format!("line {i}\n")).collect();
    f.write("moved.txt", &long);
    f.commit("one");
    f
}

/// A `--filter=blob:none` clone of `origin` (blobs of the checkout only).
fn partial_clone(origin: &Fixture, checkout: bool) -> Fixture {
    let clone = Fixture::bare_dir();
    let url = format!("file://{}", origin.path().display());
    let mut args = vec!["clone", "-q", "--filter=blob:none"];
    if !checkout {
        args.push("--no-checkout");
    }
    args.extend([url.as_str(), "."]);
    clone.git(&args);
    clone
}

fn assert_names_the_missing_blob(clone: &Fixture, args: &[&str], path: &str, id: &str) {
    let out = clone.valve(args).output().expect("valve runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let flat = stderr
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    for needed in [path, id, "partial clone", &format!("git fetch origin {id}")] {
        assert!(
            flat.contains(needed),
            "{args:?} misses {needed:?}: {stderr}"
        );
    }
}

#[test]
fn a_missing_old_side_in_a_partial_clone_is_exit_2_with_the_fetch() {
    let o = origin();
    o.write("a.txt", "one\ntwo SECRET\n");
    o.commit("two");
    let clone = partial_clone(&o, true);
    let old = clone.git(&["rev-parse", "HEAD~1:a.txt"]);
    // `scope: changed` needs the old side of a.txt; valve never fetches.
    assert_names_the_missing_blob(&clone, &["check", "--base", "HEAD~1"], "a.txt", old.trim());
    let missing = clone.git(&["rev-list", "--objects", "--missing=print", "HEAD~1"]);
    assert!(
        missing.contains(&format!("?{}", old.trim())),
        "valve fetched it"
    );
    // With the blob fetched as the message says, the check runs.
    clone.git(&["fetch", "-q", "origin", old.trim()]);
    let out = clone
        .valve(&["check", "--base", "HEAD~1", "--format", "json"])
        .output()
        .expect("valve runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        common::hits(&report).contains(&("Secret".into(), "a.txt".into(), Some(2))),
        "{report}"
    );
}

#[test]
fn a_missing_rename_candidate_in_a_partial_clone_is_exit_2() {
    let o = origin();
    let moved = std::fs::read_to_string(o.path().join("moved.txt")).expect("read");
    o.remove("moved.txt");
    o.write("there.txt", &format!("{moved}one more line\n"));
    o.commit("moved and edited");
    let clone = partial_clone(&o, true);
    let old = clone.git(&["rev-parse", "HEAD~1:moved.txt"]);
    assert_names_the_missing_blob(
        &clone,
        &["check", "--base", "HEAD~1"],
        "moved.txt",
        old.trim(),
    );
}

#[test]
fn a_missing_new_side_in_a_partial_clone_is_exit_2() {
    let o = origin();
    o.write("b.txt", "SECRET\n");
    o.commit("two");
    let clone = partial_clone(&o, false);
    let new = clone.git(&["rev-parse", "HEAD:b.txt"]);
    // The policy blob is missing too; fetch it so the new side is what fails.
    let policy = clone.git(&["rev-parse", "HEAD:.sage/valve.yml"]);
    clone.git(&["fetch", "-q", "origin", policy.trim()]);
    assert_names_the_missing_blob(&clone, &["check", "--base", "HEAD~1"], "b.txt", new.trim());
}

#[test]
fn path_only_personas_need_no_blob_of_a_partial_clone() {
    let o = origin();
    o.write(".sage/valve.yml", EVERY);
    o.commit("policy");
    o.write("a.txt", "one\ntwo three\n");
    o.commit("two");
    let clone = partial_clone(&o, true);
    assert_eq!(
        clone.judged_changes(&["--base", "HEAD~1"]),
        set(&["M a.txt"])
    );
}
