//! `valve check` driven as a user would: real binary, real git repos.

mod common;

use common::{Fixture, hits, normalize};
use predicates::prelude::*;

const SECRETS: &str = r#"
personas:
  Guardian:
    filters: ["src/**"]
    triggers: ['AKIA[0-9A-Z]{16}']
    severity: critical
    message: Possible AWS key
  Debris:
    filters: ["*.rs"]
    triggers: ['dbg!\(']
    severity: warning
"#;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

fn repo_with_secrets() -> Fixture {
    let f = Fixture::new();
    f.config(SECRETS)
        .write("src/a.txt", "clean\n")
        .commit("init");
    f
}

#[test]
fn partial_staging_judges_only_the_index() {
    let f = repo_with_secrets();
    // Stage a secret, then clean the work tree: the index still holds it.
    f.write("src/a.txt", &format!("key = {KEY}\n"))
        .stage(&["src/a.txt"]);
    f.write("src/a.txt", "clean again\n");
    f.valve(&["check", "--staged"]).assert().code(1);
    // And the other way round: a clean index with a dirty work tree passes.
    f.git(&["reset", "-q"]);
    f.write("src/a.txt", "clean, staged\n")
        .stage(&["src/a.txt"]);
    f.write("src/a.txt", &format!("key = {KEY}\n"));
    f.valve(&["check", "--staged"]).assert().code(0);
    f.valve(&["check", "--worktree"]).assert().code(1);
}

fn install_hook(f: &Fixture) {
    let hook = format!(
        "#!/bin/sh\nexec '{}' check --staged\n",
        common::valve_bin().display()
    );
    f.write(".git/hooks/pre-commit", &hook);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = f.path().join(".git/hooks/pre-commit");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

fn commit_status(f: &Fixture, args: &[&str]) -> bool {
    let mut cmd = std::process::Command::new("git");
    common::hermetic(&mut cmd);
    cmd.args(args)
        .current_dir(f.path())
        .output()
        .expect("git runs")
        .status
        .success()
}

#[test]
fn commit_all_through_a_hook_reads_the_temporary_index() {
    let f = repo_with_secrets();
    install_hook(&f);
    let head = f.git(&["rev-parse", "HEAD"]);
    // Nothing staged: only `commit -a`'s temporary index holds the secret.
    f.write("src/a.txt", &format!("key = {KEY}\n"));
    assert!(!commit_status(&f, &["commit", "-q", "-a", "-m", "leak"]));
    assert_eq!(
        f.git(&["rev-parse", "HEAD"]),
        head,
        "the commit was blocked"
    );
    f.write("src/a.txt", "fine\n");
    assert!(commit_status(&f, &["commit", "-q", "-a", "-m", "fine"]));
}

#[test]
fn commit_with_a_path_through_a_hook_reads_the_temporary_index() {
    let f = repo_with_secrets();
    f.write("src/b.txt", "b\n").commit("b");
    install_hook(&f);
    // The real index holds a clean change to b; `git commit src/a.txt`
    // builds a temporary index from HEAD + the work-tree a.txt.
    f.write("src/b.txt", "b2\n").stage(&["src/b.txt"]);
    f.write("src/a.txt", &format!("key = {KEY}\n"));
    assert!(!commit_status(
        &f,
        &["commit", "-q", "-m", "leak", "--", "src/a.txt"]
    ));
    f.write("src/a.txt", "fine\n");
    assert!(commit_status(
        &f,
        &["commit", "-q", "-m", "ok", "--", "src/a.txt"]
    ));
    // b's staged change is still staged and untouched.
    assert_eq!(
        f.git(&["diff", "--cached", "--name-only"]).trim(),
        "src/b.txt"
    );
}

#[test]
fn unborn_head_treats_everything_staged_as_added() {
    let f = Fixture::new();
    f.config(SECRETS)
        .write("src/a.txt", &format!("{KEY}\n"))
        .stage(&["src/a.txt", ".sage/valve.yml"]);
    let r = f.json(&["--staged"]);
    assert_eq!(
        hits(&r),
        vec![("Guardian".into(), "src/a.txt".into(), Some(1))]
    );
    assert_eq!(r["findings"][0]["change"], "added");
}

#[test]
fn base_uses_the_merge_base_of_a_branched_history() {
    let f = repo_with_secrets();
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("src/feature.txt", &format!("{KEY}\n"))
        .commit("feature");
    f.git(&["checkout", "-q", "main"]);
    // A later change on main must not be blamed on the feature branch.
    f.write("src/main-only.txt", &format!("{KEY}\n"))
        .commit("main moves on");
    let r = f.json(&["--base", "main", "--head", "feature"]);
    assert_eq!(
        hits(&r),
        vec![("Guardian".into(), "src/feature.txt".into(), Some(1))]
    );
}

#[test]
fn base_works_in_a_bare_repository() {
    let f = repo_with_secrets();
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("src/feature.txt", &format!("{KEY}\n"))
        .commit("feature");
    let bare = Fixture::bare_dir();
    let src = f.path().display().to_string();
    let dst = bare.path().join("r.git").display().to_string();
    bare.git(&["clone", "-q", "--bare", &src, &dst]);
    let out = f
        .valve_in(
            &bare.path().join("r.git"),
            &[
                "check", "--format", "json", "--base", "main", "--head", "feature",
            ],
        )
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        hits(&r),
        vec![("Guardian".into(), "src/feature.txt".into(), Some(1))]
    );
}

#[test]
fn missing_merge_base_in_a_shallow_clone_fails_closed_with_a_fix() {
    let f = repo_with_secrets();
    for i in 0..3 {
        f.write("src/a.txt", &format!("v{i}\n"))
            .commit(&format!("main {i}"));
    }
    f.git(&["checkout", "-q", "-b", "feature", "HEAD~2"]);
    f.write("src/f.txt", "f\n").commit("feature");
    let clone = Fixture::bare_dir();
    let url = format!("file://{}", f.path().display());
    let dst = clone.path().join("c").display().to_string();
    clone.git(&[
        "clone",
        "-q",
        "--depth",
        "1",
        "--no-single-branch",
        &url,
        &dst,
    ]);
    f.valve_in(
        &clone.path().join("c"),
        &["check", "--base", "origin/main", "--head", "origin/feature"],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("shallow").and(predicate::str::contains("fetch-depth: 0")));
}

#[test]
fn unknown_revision_exits_2_with_a_hint() {
    let f = repo_with_secrets();
    f.valve(&["check", "--base", "no-such-branch"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no-such-branch").and(predicate::str::contains("git fetch")),
        );
}

#[test]
fn rename_out_of_a_watched_folder_fires_on_the_old_path() {
    let f = Fixture::new();
    f.config("personas:\n  Auth:\n    filters: ['**/auth/**']\n    severity: error\n")
        .write(
            "src/auth/login.ts",
            "export function login() { return 1; }\n",
        )
        .commit("init");
    f.git(&["mv", "src/auth/login.ts", "src/login.ts"]);
    for mode in [&["--staged"][..], &["--worktree"][..]] {
        let r = f.json(mode);
        assert_eq!(r["findings"].as_array().map(Vec::len), Some(1), "{mode:?}");
        assert_eq!(r["findings"][0]["file"], "src/login.ts");
        assert_eq!(r["findings"][0]["old_file"], "src/auth/login.ts");
        assert_eq!(r["findings"][0]["change"], "renamed");
    }
    f.commit("move");
    let r = f.json(&["--base", "HEAD~1"]);
    assert_eq!(r["findings"][0]["change"], "renamed");
}

#[test]
fn deleted_files_fire_only_path_only_personas() {
    let f = Fixture::new();
    f.config("personas:\n  Auth:\n    filters: ['auth/**']\n  Key:\n    filters: ['auth/**']\n    triggers: ['secret']\n")
        .write("auth/a.txt", "secret\n")
        .commit("init");
    f.remove("auth/a.txt");
    let r = f.json(&["--worktree"]);
    assert_eq!(hits(&r), vec![("Auth".into(), "auth/a.txt".into(), None)]);
    assert_eq!(r["findings"][0]["change"], "deleted");
}

#[test]
fn binary_and_oversize_files_are_skipped_and_counted() {
    let f = Fixture::new();
    f.config("max_file_size: 64B\npersonas:\n  Any:\n    triggers: ['needle']\n  Path:\n    filters: ['*.bin']\n")
        .write("keep.txt", "x\n")
        .commit("init");
    f.write_bytes("blob.bin", b"needle\0needle");
    f.write("big.txt", &"needle ".repeat(20));
    f.write("small.txt", "needle\n");
    let r = f.json(&["--worktree"]);
    assert_eq!(
        hits(&r),
        vec![
            ("Path".into(), "blob.bin".into(), None),
            ("Any".into(), "small.txt".into(), Some(1)),
        ]
    );
    assert_eq!(r["summary"]["files_binary"], 1);
    assert_eq!(r["summary"]["files_too_large"], 1);
    assert_eq!(r["skipped"][0]["file"], "big.txt");
    assert_eq!(r["skipped"][0]["reason"], "too_large");
    assert_eq!(r["skipped"][1]["file"], "blob.bin");
    assert_eq!(r["skipped"][1]["reason"], "binary");
}

#[test]
fn scope_changed_sees_only_changed_lines_and_scope_file_sees_all() {
    let f = Fixture::new();
    let config =
        |scope: &str| format!("personas:\n  Todo:\n    triggers: ['TODO']\n    scope: {scope}\n");
    f.config(&config("changed"))
        .write("a.txt", "TODO old\nline\nline\n")
        .commit("init");
    f.write("a.txt", "TODO old\nline\nTODO new\n");
    let lines = |r: &serde_json::Value| hits(r).into_iter().map(|h| h.2).collect::<Vec<_>>();
    assert_eq!(lines(&f.json(&["--worktree"])), vec![Some(3)]);
    f.stage(&["a.txt"]);
    assert_eq!(lines(&f.json(&["--staged"])), vec![Some(3)]);
    assert_eq!(lines(&f.json(&["--all"])), vec![Some(1), Some(3)]);
    f.config(&config("file"));
    assert_eq!(lines(&f.json(&["--worktree"])), vec![Some(1), Some(3)]);
}

#[test]
fn inline_ignore_and_allow_ignore_false() {
    let f = Fixture::new();
    f.config("personas:\n  A:\n    triggers: ['bad']\n  B:\n    triggers: ['bad']\n    allow_ignore: false\n  C:\n    triggers: ['bad']\n")
        .write("x.txt", "bad // valve:ignore[A]\nbad // valve:ignore\n");
    let r = f.json(&["--all"]);
    assert_eq!(
        hits(&r),
        vec![
            ("B".into(), "x.txt".into(), Some(1)),
            ("C".into(), "x.txt".into(), Some(1)),
            ("B".into(), "x.txt".into(), Some(2)),
        ]
    );
    assert_eq!(r["summary"]["suppressed"], 3);
}

#[test]
fn baseline_survives_a_moved_line() {
    let f = Fixture::new();
    f.config("personas:\n  Todo:\n    triggers: ['TODO']\n    severity: error\n")
        .write("a.txt", "one\nTODO: legacy\n");
    f.valve(&["baseline"]).assert().success();
    assert!(f.path().join(".sage/valve-baseline.json").is_file());
    f.valve(&["check", "--all"]).assert().code(0);
    // Lines move; the old finding stays baselined, a new one is not.
    f.write(
        "a.txt",
        "new first line\none\n\n  TODO: legacy\nTODO: fresh\n",
    );
    let r = f.json(&["--all"]);
    assert_eq!(hits(&r), vec![("Todo".into(), "a.txt".into(), Some(5))]);
    assert_eq!(r["summary"]["baselined"], 1);
    let r = f.json(&["--all", "--no-baseline"]);
    assert_eq!(r["findings"].as_array().map(Vec::len), Some(2));
}

#[test]
fn columns_are_characters_and_ends_are_exclusive() {
    let f = Fixture::new();
    f.config("personas:\n  K:\n    triggers: ['AKIA[0-9A-Z]{16}']\n")
        .write("a.txt", &format!("é = \"{KEY}\"\r\nx\n"));
    let r = f.json(&["--all"]);
    let finding = &r["findings"][0];
    assert_eq!(finding["column"], 6);
    assert_eq!(finding["end_column"], 26);
    assert_eq!(finding["end_line"], 1);
    assert_eq!(finding["match"], KEY);
    assert_eq!(finding["trigger"], 0);
}

#[test]
fn multi_line_triggers_report_their_start() {
    let f = Fixture::new();
    f.config("personas:\n  Pair:\n    triggers: ['begin\\n\\s*end']\n")
        .write("a.txt", "x\nbegin\n   end\n");
    let r = f.json(&["--all"]);
    assert_eq!(r["findings"][0]["line"], 2);
    assert_eq!(r["findings"][0]["end_line"], 3);
}

#[test]
fn redaction_keeps_the_secret_out_of_every_output() {
    let f = Fixture::new();
    f.config("personas:\n  K:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    redact: true\n")
        .write("a.txt", &format!("key = {KEY}\n"));
    for format in ["human", "json", "ndjson"] {
        let out = f
            .valve(&["check", "--all", "--format", format])
            .output()
            .expect("runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains(KEY), "{format} leaked the secret:\n{text}");
        assert!(text.contains("REDACTED"), "{format}");
    }
    f.config("personas:\n  K:\n    triggers: ['AKIA[0-9A-Z]{16}']\n");
    let out = f
        .valve(&["check", "--all", "--redact"])
        .output()
        .expect("runs");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(KEY));
}

#[test]
fn thresholds_and_contexts() {
    let f = Fixture::new();
    f.config("fail_on: { hook: critical, ci: warning, default: error }\npersonas:\n  W:\n    triggers: ['warnme']\n    severity: warning\n  E:\n    triggers: ['errme']\n    severity: error\n")
        .write("a.txt", "keep\n")
        .commit("init");
    f.write("a.txt", "warnme\nerrme\n").stage(&["a.txt"]);
    f.valve(&["check", "--worktree"]).assert().code(1);
    f.valve(&["check", "--staged"]).assert().code(0); // hook: critical
    f.valve(&["check", "--worktree"])
        .env("CI", "true")
        .assert()
        .code(1);
    // Staged too: an error still in the index would block (SPEC §8).
    f.write("a.txt", "warnme\n").stage(&["a.txt"]);
    f.valve(&["check", "--worktree"]).assert().code(0); // default: error
    f.valve(&["check", "--worktree"])
        .env("CI", "1")
        .assert()
        .code(1); // ci: warning
    f.valve(&["check", "--worktree"])
        .env("CI", "false")
        .assert()
        .code(0);
    f.valve(&["check", "--worktree", "--fail-on", "never"])
        .env("CI", "1")
        .assert()
        .code(0);
    f.valve(&["check", "--worktree", "--fail-on", "info"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("threshold info from --fail-on"));
}

#[test]
fn on_limits_change_kinds() {
    let f = Fixture::new();
    f.config("personas:\n  New:\n    filters: ['*.txt']\n    on: [added]\n")
        .write("old.txt", "a\n")
        .commit("init");
    f.write("old.txt", "b\n").write("new.txt", "n\n");
    let r = f.json(&["--worktree"]);
    assert_eq!(hits(&r), vec![("New".into(), "new.txt".into(), None)]);
}

#[test]
fn output_is_identical_across_thread_counts() {
    let f = Fixture::new();
    f.config(SECRETS);
    for i in 0..60 {
        f.write(
            &format!("src/m{i:02}.rs"),
            &format!("dbg!(x);\nlet k = \"{KEY}\";\n"),
        );
    }
    let strip = |mut v: serde_json::Value| {
        for finding in v["findings"].as_array_mut().into_iter().flatten() {
            finding["timestamp"] = 0.into();
        }
        v["summary"]["duration_ms"] = 0.into();
        v
    };
    let one = strip(f.json(&["--all", "--threads", "1"]));
    let eight = strip(f.json(&["--all", "--threads", "8"]));
    assert_eq!(one["findings"].as_array().map(Vec::len), Some(120));
    assert_eq!(one, eight);
    // Sorted by path, then line, then persona order.
    assert_eq!(one["findings"][0]["file"], "src/m00.rs");
    assert_eq!(one["findings"][0]["persona"], "Debris");
    assert_eq!(one["findings"][1]["persona"], "Guardian");
}

#[test]
fn every_mode_leaves_index_worktree_and_refs_untouched() {
    let f = repo_with_secrets();
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("src/f.txt", &format!("{KEY}\n")).commit("f");
    f.write("src/a.txt", &format!("staged {KEY}\n"))
        .stage(&["src/a.txt"]);
    f.write("src/a.txt", "unstaged edit\n")
        .write("src/new.txt", "untracked\n");
    // Make the index stat data stale so a careless refresh would rewrite it.
    f.write("src/b.txt", "b\n");
    let before = f.state();
    for args in [
        &["check", "--staged"][..],
        &["check", "--worktree"][..],
        &["check"][..],
        &["check", "--all"][..],
        &["check", "--base", "main"][..],
        &["check", "src"][..],
        &["personas"][..],
        &["explain", "src/a.txt"][..],
        &["test"][..],
    ] {
        let out = f.valve(args).output().expect("runs");
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(before == f.state(), "{args:?} changed the repository");
    }
}

#[test]
fn outside_git_the_default_is_all_and_git_modes_exit_2() {
    let f = Fixture::bare_dir();
    f.config("personas:\n  T:\n    triggers: ['TODO']\n")
        .write("a.txt", "TODO\n");
    let r = f.json(&[]);
    assert_eq!(hits(&r), vec![("T".into(), "a.txt".into(), Some(1))]);
    for mode in ["--staged", "--worktree"] {
        f.valve(&["check", mode])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("needs a git repository"));
    }
}

#[test]
fn all_respects_gitignore_and_config_ignore_but_sees_dotfiles() {
    let f = Fixture::new();
    f.config("ignore: ['vendor/**']\npersonas:\n  T:\n    triggers: ['TODO']\n")
        .write(".gitignore", "build/\n")
        .write("build/out.txt", "TODO\n")
        .write("vendor/lib.txt", "TODO\n")
        .write(".env", "TODO\n")
        .write("src/a.txt", "TODO\n");
    let files: Vec<String> = hits(&f.json(&["--all"])).into_iter().map(|h| h.1).collect();
    assert_eq!(files, vec![".env".to_string(), "src/a.txt".to_string()]);
}

#[test]
fn paths_mode_checks_named_files_and_refuses_outside_paths() {
    let f = Fixture::new();
    f.config("personas:\n  T:\n    triggers: ['TODO']\n")
        .write("a.txt", "TODO\n")
        .write("d/b.txt", "TODO\n")
        .write("c.txt", "TODO\n");
    let files: Vec<String> = hits(&f.json(&["a.txt", "d"]))
        .into_iter()
        .map(|h| h.1)
        .collect();
    assert_eq!(files, vec!["a.txt".to_string(), "d/b.txt".to_string()]);
    f.valve(&["check", "/etc/passwd"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("outside the repository"));
    f.valve(&["check", "missing.txt"]).assert().code(2);
}

#[test]
fn missing_config_names_the_path_and_suggests_init() {
    let f = Fixture::new();
    f.valve(&["check"]).assert().code(2).stderr(
        predicate::str::contains(".sage/valve.yml").and(predicate::str::contains("valve init")),
    );
}

#[test]
fn no_persona_takes_any_file_is_said() {
    let f = Fixture::new();
    f.config("personas:\n  Rs:\n    filters: ['*.rs']\n")
        .write("a.txt", "x\n");
    f.valve(&["check", "--all"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "no persona takes any of the 2 files",
        ));
}

#[test]
fn ndjson_is_one_object_a_line_then_the_summary() {
    let f = repo_with_secrets();
    f.write("src/a.txt", &format!("{KEY}\n{KEY}\n"));
    let out = f
        .valve(&["check", "--format", "ndjson"])
        .output()
        .expect("runs");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is json"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["type"], "finding");
    assert_eq!(lines[2]["type"], "summary");
    assert_eq!(lines[2]["verdict"], "fail");
    assert_eq!(lines[2]["blocking"], 2);
}

#[test]
fn output_file_gets_the_report_and_stderr_the_summary() {
    let f = repo_with_secrets();
    f.write("src/a.txt", &format!("{KEY}\n"));
    f.valve(&["check", "--format", "json", "--output", "report.json"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("1 blocking"));
    let text = std::fs::read_to_string(f.path().join("report.json")).expect("written");
    let r: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(r["version"], 1);
}

#[test]
fn global_flags_work_after_the_subcommand() {
    let f = repo_with_secrets();
    f.write("src/a.txt", &format!("{KEY}\n"));
    f.valve(&["check", "--color", "never", "-q", "--threads", "2"])
        .assert()
        .code(1);
    f.valve(&["--color", "never", "check"]).assert().code(1);
}

#[test]
fn human_output_snapshot() {
    let f = repo_with_secrets();
    f.write("src/a.txt", &format!("clean\nconst k = \"{KEY}\";\n"));
    f.write("src/lib.rs", "fn main() {\n    dbg!(1);\n}\n");
    f.write("src/img.bin", "\0\0");
    let out = f
        .valve(&["check", "--color", "never"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(normalize(&String::from_utf8_lossy(&out.stdout), f.path()));
}

#[test]
fn human_output_snapshot_passing() {
    let f = repo_with_secrets();
    f.write("src/lib.rs", "fn main() {\n    dbg!(1);\n}\n");
    let out = f
        .valve(&["check", "--color", "never", "-v", "--fail-on", "critical"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(normalize(&String::from_utf8_lossy(&out.stdout), f.path()));
}

#[cfg(unix)]
#[test]
fn symlinks_are_never_followed_and_their_link_text_is_judged() {
    let outside = Fixture::bare_dir();
    outside.write("secret.txt", &format!("{KEY}\n"));
    let f = Fixture::new();
    f.config("personas:\n  Key:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n  Links:\n    filters: ['*.lnk']\n")
        .write("keep.txt", "x\n")
        .commit("init");
    // The target holds a key, but the link is never followed.
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), f.path().join("out.lnk"))
        .expect("symlink");
    // The link text itself is a key: a secret cannot hide in a target.
    std::os::unix::fs::symlink(KEY, f.path().join("hidden")).expect("symlink");
    for mode in [
        &["--worktree"][..],
        &["--all"][..],
        &["out.lnk", "hidden"][..],
    ] {
        let r = f.json(mode);
        assert_eq!(
            hits(&r),
            vec![
                ("Key".into(), "hidden".into(), Some(1)),
                ("Links".into(), "out.lnk".into(), None)
            ],
            "{mode:?}"
        );
    }
    f.stage(&["out.lnk", "hidden"]);
    let r = f.json(&["--staged"]);
    assert_eq!(
        hits(&r),
        vec![
            ("Key".into(), "hidden".into(), Some(1)),
            ("Links".into(), "out.lnk".into(), None)
        ]
    );
    f.commit("links");
    let r = f.json(&["--base", "HEAD~1"]);
    assert_eq!(hits(&r).len(), 2);
}

#[test]
fn submodules_are_skipped_and_listed() {
    let sub = Fixture::new();
    sub.write("inner.txt", &format!("{KEY}\n")).commit("sub");
    let f = Fixture::new();
    f.config("personas:\n  Key:\n    triggers: ['AKIA[0-9A-Z]{16}']\n")
        .write("keep.txt", "x\n")
        .commit("init");
    let url = sub.path().display().to_string();
    f.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &url,
        "vendored",
    ]);
    let r = f.json(&["--staged"]);
    assert!(hits(&r).is_empty(), "{r}");
    assert_eq!(r["skipped"][0]["file"], "vendored");
    assert_eq!(r["skipped"][0]["reason"], "submodule");
    f.commit("add submodule");
    let r = f.json(&["--base", "HEAD~1"]);
    assert_eq!(r["skipped"][0]["reason"], "submodule");
}

#[test]
fn colour_rules() {
    let f = repo_with_secrets();
    f.write("src/a.txt", &format!("{KEY}\n"));
    let has_ansi = |args: &[&str], no_color: bool| {
        let mut cmd = f.valve(args);
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().expect("runs");
        String::from_utf8_lossy(&out.stdout).contains('\u{1b}')
    };
    assert!(has_ansi(&["check", "--color", "always"], false));
    assert!(
        has_ansi(&["check", "--color", "always"], true),
        "always beats NO_COLOR"
    );
    assert!(!has_ansi(&["check", "--color", "never"], false));
    assert!(
        !has_ansi(&["check"], false),
        "auto: stdout is not a terminal"
    );
    assert!(!has_ansi(&["check", "--color", "auto"], true));
    // Machine formats never carry colour.
    assert!(!has_ansi(
        &["check", "--color", "always", "--format", "json"],
        false
    ));
}

#[test]
fn json_report_snapshot() {
    let f = repo_with_secrets();
    f.write("src/a.txt", &format!("clean\nconst k = \"{KEY}\";\n"));
    f.write("src/lib.rs", "fn main() { dbg!(1); }\n");
    f.write("src/img.bin", "\0\0");
    let out = f
        .valve(&["check", "--format", "json"])
        .output()
        .expect("runs");
    // Raw text, so the snapshot pins SPEC §5's field order too.
    let text: String = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            match l
                .split_once("\"timestamp\": ")
                .or_else(|| l.split_once("\"duration_ms\": "))
            {
                Some((head, rest)) => {
                    let key = if l.contains("timestamp") {
                        "timestamp"
                    } else {
                        "duration_ms"
                    };
                    let comma = if rest.ends_with(',') { "," } else { "" };
                    format!("{head}\"{key}\": 0{comma}\n")
                }
                None => format!("{l}\n"),
            }
        })
        .collect();
    insta::assert_snapshot!(normalize(&text, f.path()));
}

#[cfg(unix)]
#[test]
fn paths_mode_names_files_relative_to_a_symlinked_root() {
    let f = Fixture::new();
    f.config("personas:\n  T:\n    triggers: ['TODO']\n")
        .write("d/a.txt", "TODO\n");
    let links = Fixture::bare_dir();
    let link = links.path().join("repo-link");
    std::os::unix::fs::symlink(f.path(), &link).expect("symlink");
    // A work tree named through the link (as GIT_WORK_TREE may be) while
    // named paths resolve through it.
    let out = f
        .valve_in(&link, &["check", "--format", "json", "d/a.txt", "d"])
        .env("GIT_DIR", link.join(".git"))
        .env("GIT_WORK_TREE", &link)
        .output()
        .expect("runs");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        hits(&r),
        vec![("T".into(), "d/a.txt".into(), Some(1))],
        "{r}"
    );
}

#[test]
fn config_warnings_reach_stderr_in_every_format_and_json_lists_them() {
    let f = Fixture::new();
    f.config("personas:\n  Seed:\n    filters: ['*.txt']\n    schedule: daily\n")
        .write("a.txt", "x\n");
    for format in ["human", "json", "ndjson", "sarif", "github", "markdown"] {
        f.valve(&["check", "--all", "--format", format])
            .assert()
            .stderr(predicate::str::contains(
                "warning: persona `Seed`: `schedule`",
            ));
    }
    let r = f.json(&["--all"]);
    assert_eq!(r["warnings"].as_array().map(Vec::len), Some(1), "{r}");
}

#[test]
fn max_findings_keeps_the_first_findings_counts_all_and_says_so_everywhere() {
    let f = Fixture::new();
    f.config("max_findings: 5\npersonas:\n  A:\n    triggers: ['x']\n    severity: error\n")
        .write("a.txt", &"x\n".repeat(12))
        .write("b.txt", "x\n");
    let r = f.json(&["--all"]);
    let s = &r["summary"];
    assert_eq!(s["findings"], 13, "{r}");
    assert_eq!(s["truncated"], 8);
    assert_eq!(s["blocking"], 13);
    assert_eq!(s["by_severity"]["error"], 13);
    let lines: Vec<u64> = r["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["line"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(
        lines,
        vec![1, 2, 3, 4, 5],
        "the first five by the report's order"
    );
    for (format, needle) in [
        ("human", "findings truncated: 8 of 13"),
        ("github", "findings truncated: 8 of 13"),
        ("markdown", "findings truncated: 8 of 13"),
        ("sarif", "findings truncated: 8 of 13"),
        ("ndjson", "\"truncated\":8"),
    ] {
        f.valve(&["check", "--all", "--format", format])
            .assert()
            .code(1)
            .stdout(predicate::str::contains(needle));
    }
    // The same findings whatever the thread count.
    let one = f
        .valve(&["--threads", "1", "check", "--all", "--format", "json"])
        .output()
        .expect("runs");
    let two = f
        .valve(&["--threads", "2", "check", "--all", "--format", "json"])
        .output()
        .expect("runs");
    let strip = |o: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(o).unwrap_or_default();
        v["summary"]["duration_ms"] = 0.into();
        if let Some(a) = v["findings"].as_array_mut() {
            for f in a {
                f["timestamp"] = 0.into();
            }
        }
        v
    };
    assert_eq!(strip(&one.stdout), strip(&two.stdout));
}

/// The human output of a run that blocks, its durations blanked.
fn blocked_human(f: &Fixture, args: &[&str]) -> String {
    let out = f.valve(args).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    common::normalize(&String::from_utf8_lossy(&out.stdout), f.path())
}

#[test]
fn quiet_human_output_is_the_tail_of_the_full_one_though_it_keeps_only_blocking_findings() {
    // `-q` keeps only the blocking findings (the verdict names them); the
    // truncation note, the counts and the verdict must not change.
    let f = Fixture::new();
    f.config("max_findings: 5\npersonas:\n  Low:\n    triggers: ['l']\n  High:\n    triggers: ['h']\n    severity: error\n")
        .write("a.txt", "h\nh\n")
        .write("b.txt", &"l\n".repeat(12));
    let quiet = blocked_human(&f, &["-q", "check", "--all"]);
    let full = blocked_human(&f, &["check", "--all"]);
    assert!(quiet.contains("findings truncated: 9 of 14"), "{quiet}");
    assert!(
        quiet.contains("2 blocking findings by High (error), first at a.txt:1"),
        "{quiet}"
    );
    assert!(!quiet.contains("b.txt"), "{quiet}");
    assert!(
        full.len() > quiet.len() && full.ends_with(&quiet),
        "{full}\n---\n{quiet}"
    );
}

#[test]
fn quiet_range_judged_by_two_policies_counts_what_the_full_run_counts() {
    // `--policy both` unites the two policies' findings one by one: each
    // side keeps them all even under `-q`, or the united count would be
    // the blocking ones only.
    let f = Fixture::new();
    f.config("personas:\n  Low:\n    triggers: ['l']\n")
        .write("a.txt", "x\n")
        .commit("base");
    f.git(&["checkout", "-q", "-b", "topic"]);
    f.config("personas:\n  Low:\n    triggers: ['l']\n  High:\n    triggers: ['h']\n    severity: error\n")
        .write("a.txt", "h\nl\nl\n")
        .commit("tighten and add");
    let quiet = blocked_human(&f, &["-q", "check", "--base", "main"]);
    let full = blocked_human(&f, &["check", "--base", "main"]);
    // Both open with the policy note; the summary and verdict end both.
    let tail = quiet.find("valve: ").map_or("", |at| &quiet[at..]);
    assert!(
        tail.starts_with("valve: 3 findings (1 error, 2 info)"),
        "{quiet}"
    );
    assert!(full.ends_with(tail), "{full}\n---\n{quiet}");
}

#[test]
fn all_in_git_judges_tracked_files_even_when_ignored_and_never_applies_a_parent_gitignore() {
    let outer = Fixture::bare_dir();
    // An ignore file above the repository: it must never apply.
    outer.write(".gitignore", "*\n");
    let repo = outer.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let mut git = std::process::Command::new("git");
    common::hermetic(&mut git);
    assert!(
        git.args(["init", "-q", "-b", "main"])
            .current_dir(&repo)
            .status()
            .is_ok_and(|s| s.success())
    );
    let write = |rel: &str, text: &str| {
        let p = repo.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write(
        ".sage/valve.yml",
        "personas:\n  Key:\n    triggers: ['AKIA[0-9A-Z]{16}']\n",
    );
    write(".gitignore", ".env\nbuild/\n");
    write(".env", &format!("{KEY}\n"));
    write("build/out.txt", &format!("{KEY}\n"));
    write("src/a.txt", &format!("{KEY}\n"));
    let mut git = std::process::Command::new("git");
    common::hermetic(&mut git);
    // `git add -f`: a tracked file that an ignore rule matches.
    assert!(
        git.args(["add", "-f", ".env", "src/a.txt", ".gitignore", ".sage"])
            .current_dir(&repo)
            .status()
            .is_ok_and(|s| s.success())
    );
    let out = outer
        .valve_in(&repo, &["check", "--all", "--format", "json"])
        .output()
        .expect("runs");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let files: Vec<String> = hits(&r).into_iter().map(|(_, f, _)| f).collect();
    assert_eq!(
        files,
        vec![".env".to_string(), "src/a.txt".to_string()],
        "{r}"
    );
}

#[test]
fn binary_scan_lets_a_persona_search_binary_files_with_byte_columns() {
    let f = Fixture::new();
    f.config("personas:\n  Secrets:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    binary: scan\n  Text:\n    triggers: ['AKIA']\n")
        .write_bytes("blob.bin", format!("\0\u{e9}{KEY}\n").as_bytes());
    let r = f.json(&["--all"]);
    let found: Vec<(String, u64)> = r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            (
                x["persona"].as_str().unwrap_or("").to_string(),
                x["column"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // NUL + é (two bytes): the match starts at byte column 4.
    assert_eq!(found, vec![("Secrets".to_string(), 4)], "{r}");
    assert_eq!(r["summary"]["files_binary"], 1);
}

#[test]
fn outside_git_an_ignore_file_above_the_root_never_applies() {
    let outer = Fixture::bare_dir();
    outer.write(".gitignore", "*\n").write(".ignore", "*\n");
    outer.write(
        "inner/.sage/valve.yml",
        "personas:\n  Key:\n    triggers: ['AKIA[0-9A-Z]{16}']\n",
    );
    outer.write("inner/a.txt", &format!("{KEY}\n"));
    outer.write("inner/.gitignore", "skip.txt\n");
    outer.write("inner/skip.txt", &format!("{KEY}\n"));
    let out = outer
        .valve_in(&outer.path().join("inner"), &["check", "--format", "json"])
        .env("GIT_CEILING_DIRECTORIES", outer.path())
        .output()
        .expect("runs");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let files: Vec<String> = hits(&r).into_iter().map(|(_, f, _)| f).collect();
    assert_eq!(files, vec!["a.txt".to_string()], "{r}");
}
