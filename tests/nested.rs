//! SPEC §12 nested configs: a `D/.sage/valve.yml` adds personas `D/:Name`
//! for the paths under `D/`, with globs and `ignore` relative to `D/`; root
//! personas still judge `D/`; root-only keys are errors at the key; nested
//! configs are found where the root config is for each mode; every error
//! names its file.

mod common;

use common::{Fixture, hits};

const ROOT: &str = "personas:\n  Todo:\n    triggers: ['TODO']\n    severity: warning\n";

const WEB: &str = "ignore: [\"dist/**\"]\npersonas:\n  NoConsole:\n    filters: [\"*.js\", \"src/**/*.ts\"]\n    triggers: ['console\\.log']\n    severity: error\n";

const NO_CONSOLE: &str = "packages/web/:NoConsole";

/// A repository with a root config and `packages/web/.sage/valve.yml`.
fn repo() -> Fixture {
    let f = Fixture::new();
    f.config(ROOT)
        .write("packages/web/.sage/valve.yml", WEB)
        .write("README.md", "hello\n")
        .commit("base");
    f
}

/// `(persona, file)` of every finding, sorted.
fn who(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = hits(report).into_iter().map(|(p, f, _)| (p, f)).collect();
    out.sort();
    out.dedup();
    out
}

fn pair(p: &str, f: &str) -> (String, String) {
    (p.to_string(), f.to_string())
}

/// Writes the files every mode judges: a console.log under the folder (in
/// a `.js` anywhere below it, in an anchored `src/**/*.ts`, in ignored
/// `dist/`), one outside it, one `.ts` outside `src/`.
fn write_cases(f: &Fixture) {
    f.write("packages/web/lib/a.js", "console.log(1) // TODO\n")
        .write("packages/web/src/deep/b.ts", "console.log(2)\n")
        .write("packages/web/c.ts", "console.log(3)\n")
        .write("packages/web/dist/d.js", "console.log(4) // TODO\n")
        .write("other/e.js", "console.log(5)\n");
}

fn expected() -> Vec<(String, String)> {
    let mut out = vec![
        pair(NO_CONSOLE, "packages/web/lib/a.js"),
        pair(NO_CONSOLE, "packages/web/src/deep/b.ts"),
        pair("Todo", "packages/web/dist/d.js"),
        pair("Todo", "packages/web/lib/a.js"),
    ];
    out.sort();
    out
}

#[test]
fn nested_personas_judge_their_folder_in_every_mode() {
    let f = repo();
    write_cases(&f);
    assert_eq!(who(&f.json(&["--worktree"])), expected(), "--worktree");
    assert_eq!(who(&f.json(&[])), expected(), "default mode");
    assert_eq!(who(&f.json(&["--all"])), expected(), "--all");
    assert_eq!(
        who(&f.json(&["packages", "other"])),
        expected(),
        "PATH folders"
    );
    let files = [
        "packages/web/lib/a.js",
        "packages/web/src/deep/b.ts",
        "packages/web/c.ts",
        "packages/web/dist/d.js",
        "other/e.js",
    ];
    let mut args = vec![];
    args.extend(files);
    assert_eq!(who(&f.json(&args)), expected(), "PATH files");
    f.git(&["add", "-A"]);
    assert_eq!(who(&f.json(&["--staged"])), expected(), "--staged");
    f.git(&["commit", "-q", "--no-verify", "-m", "cases"]);
    assert_eq!(who(&f.json(&["--base", "HEAD~1"])), expected(), "--base");
    for policy in ["base", "head", "both"] {
        let r = f.json(&["--base", "HEAD~1", "--policy", policy]);
        assert_eq!(who(&r), expected(), "--policy {policy}");
    }
    let r = f.json(&["--all"]);
    let names: Vec<&str> = r["personas"]
        .as_array()
        .expect("personas")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&NO_CONSOLE), "{names:?}");
}

#[test]
fn outside_git_nested_configs_judge_all_and_paths() {
    let f = Fixture::bare_dir();
    f.config(ROOT).write("packages/web/.sage/valve.yml", WEB);
    write_cases(&f);
    assert_eq!(who(&f.json(&["--all"])), expected(), "--all outside git");
    assert_eq!(who(&f.json(&[])), expected(), "default outside git");
    assert_eq!(
        who(&f.json(&["packages/web/lib/a.js"])),
        vec![
            pair("Todo", "packages/web/lib/a.js"),
            pair(NO_CONSOLE, "packages/web/lib/a.js"),
        ]
    );
}

#[test]
fn deeper_configs_add_to_shallower_ones_and_the_root() {
    let f = repo();
    f.write(
        "packages/web/app/.sage/valve.yml",
        "personas:\n  NoDebugger:\n    triggers: ['debugger']\n",
    )
    .write(
        "packages/web/app/x.js",
        "debugger; console.log(1) // TODO\n",
    )
    .write("packages/web/y.js", "debugger;\n");
    let r = f.json(&["--worktree"]);
    assert_eq!(
        who(&r),
        vec![
            pair("Todo", "packages/web/app/x.js"),
            pair(NO_CONSOLE, "packages/web/app/x.js"),
            pair("packages/web/app/:NoDebugger", "packages/web/app/x.js"),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
}

#[test]
fn a_nested_config_is_an_own_file_and_a_policy_change() {
    let f = repo();
    f.write(
        "packages/web/.sage/valve.yml",
        &format!("{WEB}# TODO: console.log is fine here\n"),
    );
    let r = f.json(&["--worktree"]);
    assert!(
        who(&r).is_empty(),
        "a config is never judged by triggers: {r}"
    );
    let files = r["summary"]["policy"]["files"].to_string();
    assert!(
        files.contains("packages/web/.sage/valve.yml"),
        "the change edits the policy: {}",
        r["summary"]["policy"]
    );
}

#[test]
fn the_worktree_finds_untracked_configs_unless_git_ignores_them() {
    let f = Fixture::new();
    f.config(ROOT)
        .write(".gitignore", "ignored/\n")
        .write("README.md", "x\n")
        .commit("base");
    let cfg = "personas:\n  Leak:\n    triggers: ['secret']\n";
    f.write("fresh/.sage/valve.yml", cfg)
        .write("fresh/a.txt", "secret\n")
        .write("ignored/.sage/valve.yml", cfg)
        .write("ignored/b.txt", "secret\n");
    // `ignored/b.txt` is not listed by git either; named, it is judged by
    // the root only: an ignored folder's config is not one.
    let r = f.json(&["--worktree"]);
    assert_eq!(who(&r), vec![pair("fresh/:Leak", "fresh/a.txt")]);
    let r = f.json(&["fresh/a.txt", "ignored/b.txt"]);
    assert_eq!(who(&r), vec![pair("fresh/:Leak", "fresh/a.txt")]);
    // --staged: the untracked config is not among the staged files.
    f.stage(&["fresh/a.txt"]);
    assert!(who(&f.json(&["--staged"])).is_empty());
    f.stage(&["fresh/.sage/valve.yml"]);
    assert_eq!(
        who(&f.json(&["--staged"])),
        vec![pair("fresh/:Leak", "fresh/a.txt")]
    );
}

#[test]
fn staged_mode_reads_the_config_the_index_holds() {
    let f = repo();
    f.write("packages/web/a.js", "console.log(1)\n")
        .stage(&["packages/web/a.js"]);
    assert_eq!(
        who(&f.json(&["--staged"])),
        vec![pair(NO_CONSOLE, "packages/web/a.js")]
    );
    // Unstaged edit that drops the persona: the index still has it.
    f.write("packages/web/.sage/valve.yml", "personas: {}\n");
    assert_eq!(
        who(&f.json(&["--staged"])),
        vec![pair(NO_CONSOLE, "packages/web/a.js")]
    );
    // Staged, it counts.
    f.stage(&["packages/web/.sage/valve.yml"]);
    assert!(who(&f.json(&["--staged"])).is_empty());
    // Staged for deletion: gone from the index, gone from the run.
    f.git(&["reset", "-q"]);
    f.git(&["checkout", "--", "packages/web/.sage/valve.yml"]);
    f.git(&["rm", "-q", "--cached", "packages/web/.sage/valve.yml"]);
    f.stage(&["packages/web/a.js"]);
    assert!(who(&f.json(&["--staged"])).is_empty());
}

#[test]
fn a_pull_request_can_add_a_nested_persona_but_not_remove_one() {
    let f = repo();
    f.git(&["checkout", "-q", "-b", "feature"]);
    // The head deletes the base's nested config and adds another.
    f.remove("packages/web/.sage/valve.yml")
        .write(
            "api/.sage/valve.yml",
            "personas:\n  NoPrint:\n    triggers: ['print\\(']\n",
        )
        .write("api/x.py", "print(1)\n")
        .write("packages/web/a.js", "console.log(1)\n")
        .commit("head");
    let both = who(&f.json(&["--base", "main"]));
    assert_eq!(
        both,
        vec![
            pair("api/:NoPrint", "api/x.py"),
            pair(NO_CONSOLE, "packages/web/a.js")
        ],
        "--policy both keeps the base's and adds the head's"
    );
    assert_eq!(
        who(&f.json(&["--base", "main", "--policy", "base"])),
        vec![pair(NO_CONSOLE, "packages/web/a.js")]
    );
    assert_eq!(
        who(&f.json(&["--base", "main", "--policy", "head"])),
        vec![pair("api/:NoPrint", "api/x.py")]
    );
}

#[test]
fn a_nested_ignore_hides_paths_from_its_own_personas_only() {
    let f = repo();
    f.write("packages/web/dist/x.js", "console.log(1) // TODO\n");
    assert_eq!(
        who(&f.json(&["--worktree"])),
        vec![pair("Todo", "packages/web/dist/x.js")]
    );
    let out = f
        .valve(&["explain", "packages/web/dist/x.js"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("skips  packages/web/:NoConsole: filter `*.js` matches but exclude `dist/** (`ignore` in packages/web/.sage/valve.yml)` removes it"),
        "{text}"
    );
    assert!(text.contains("takes  Todo"), "{text}");
    let out = f.valve(&["explain", "other/x.js"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("skips  packages/web/:NoConsole: outside its folder `packages/web/`"),
        "{text}"
    );
}

#[test]
fn a_config_in_a_folder_the_root_ignores_is_not_read() {
    let f = Fixture::new();
    f.config(&format!("ignore: [\"vendor/**\"]\n{ROOT}"))
        .write(
            "vendor/lib/.sage/valve.yml",
            "fail_on: never\npersonas: {bad\n",
        )
        .write("vendor/lib/a.txt", "TODO\n")
        .write("src/a.txt", "TODO\n");
    let r = f.json(&["--worktree"]);
    assert_eq!(who(&r), vec![pair("Todo", "src/a.txt")]);
}

#[test]
fn root_only_keys_are_errors_at_the_key_of_the_nested_file() {
    let f = repo();
    f.write(
        "packages/web/.sage/valve.yml",
        "max_findings: 5\nsuppressions: { unused: never }\npersonas:\n  NoConsole:\n    triggers: ['console\\.log(']\n",
    )
    .write("packages/web/a.js", "console.log(1)\n");
    for args in [
        vec!["check", "--worktree"],
        vec!["check", "--all"],
        vec!["check", "packages/web/a.js"],
    ] {
        let err = f.config_error(&args);
        assert!(
            err.contains("packages/web/.sage/valve.yml has 3 errors"),
            "{err}"
        );
        assert!(err.contains("[packages/web/.sage/valve.yml:1:1]"), "{err}");
        assert!(err.contains("[packages/web/.sage/valve.yml:2:1]"), "{err}");
        assert!(
            err.contains("`max_findings` cannot be set in a nested config"),
            "{err}"
        );
        assert!(
            err.contains("[packages/web/.sage/valve.yml:5:16]"),
            "bad regex: {err}"
        );
    }
    f.stage(&["packages/web/.sage/valve.yml", "packages/web/a.js"]);
    let err = f.config_error(&["check", "--staged"]);
    assert!(
        err.contains("[packages/web/.sage/valve.yml:1:1]"),
        "--staged: {err}"
    );
    f.commit("bad nested");
    f.write("packages/web/b.js", "x\n").commit("more");
    let err = f.config_error(&["check", "--base", "HEAD~1", "--policy", "head"]);
    assert!(err.contains("head "), "{err}");
    assert!(err.contains(":packages/web/.sage/valve.yml:1:1]"), "{err}");
}

#[test]
fn a_nested_config_extends_relative_to_its_folder() {
    let f = Fixture::new();
    f.config(ROOT)
        .write(
            "packages/web/.sage/valve.yml",
            "extends: [lint.yml, ../../policies/shared.yml]\npersonas:\n  Own:\n    triggers: ['own']\n",
        )
        .write("packages/web/lint.yml", "personas:\n  Lint:\n    filters: ['src/*']\n    triggers: ['lint']\n")
        .write("policies/shared.yml", "personas:\n  Shared:\n    triggers: ['shared']\n")
        .write("packages/web/src/a.txt", "lint shared own\n")
        .write("packages/web/b.txt", "lint\n")
        .commit("base");
    let r = f.json(&["--all"]);
    assert_eq!(
        who(&r),
        vec![
            pair("packages/web/:Lint", "packages/web/src/a.txt"),
            pair("packages/web/:Own", "packages/web/src/a.txt"),
            pair("packages/web/:Shared", "packages/web/src/a.txt"),
        ]
    );
    // An error inside the extended file points into it.
    f.write(
        "packages/web/lint.yml",
        "personas:\n  Lint:\n    severity: loud\n",
    );
    let err = f.config_error(&["check", "--all"]);
    assert!(err.contains("[packages/web/lint.yml:3:15]"), "{err}");
    // A missing one is an error at the entry of the nested file.
    f.write(
        "packages/web/.sage/valve.yml",
        "extends: [nope.yml]\npersonas: {}\n",
    );
    let err = f.config_error(&["check", "--all"]);
    assert!(
        err.contains("extended file packages/web/nope.yml does not exist"),
        "{err}"
    );
    assert!(err.contains("[packages/web/.sage/valve.yml:1:11]"), "{err}");
}

#[test]
fn nested_change_rules_see_paths_relative_to_their_folder() {
    let f = Fixture::new();
    f.config(ROOT)
        .write(
            "svc/.sage/valve.yml",
            "personas:\n  Migrations:\n    when_changed: ['db/*.sql']\n    require_changed: ['CHANGELOG.md']\n    severity: error\n",
        )
        .write("README.md", "x\n")
        .commit("base");
    f.write("svc/db/1.sql", "create table t;\n");
    let r = f.json(&["--worktree"]);
    assert_eq!(who(&r), vec![pair("svc/:Migrations", "svc/db/1.sql")]);
    // Satisfied only by the folder's own CHANGELOG.md.
    f.write("CHANGELOG.md", "root\n");
    assert_eq!(who(&f.json(&["--worktree"])).len(), 1);
    f.write("svc/CHANGELOG.md", "svc\n");
    assert!(who(&f.json(&["--worktree"])).is_empty());
}

#[test]
fn shards_of_a_nested_run_merge_to_the_unsharded_report() {
    let f = repo();
    write_cases(&f);
    let whole = f.json(&["--all"]);
    let dir = tempfile::tempdir().expect("tmp");
    let mut files = Vec::new();
    for i in 1..=3 {
        let path = dir.path().join(format!("s{i}.json"));
        let shard = format!("{i}/3");
        let out = f
            .valve(&["check", "--all", "--shard", &shard, "--format", "json"])
            .output()
            .expect("runs");
        std::fs::write(&path, &out.stdout).expect("write");
        files.push(path.to_string_lossy().into_owned());
    }
    let mut args = vec!["merge", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let out = f.valve(&args).output().expect("runs");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let strip = |r: &serde_json::Value| {
        let mut f = r["findings"].clone();
        for x in f.as_array_mut().expect("findings") {
            x.as_object_mut().expect("object").remove("timestamp");
        }
        f
    };
    assert_eq!(strip(&merged), strip(&whole));
    assert_eq!(merged["findings"].as_array().map(Vec::len), Some(4));
    assert_eq!(merged["changeset"]["config"], whole["changeset"]["config"]);
}

#[test]
fn personas_and_test_see_nested_configs_with_examples_relative_to_the_folder() {
    let f = Fixture::new();
    f.config(ROOT)
        .write(
            "packages/web/.sage/valve.yml",
            "personas:\n  NoConsole:\n    filters: ['src/*.js']\n    triggers: ['console\\.log']\n    examples:\n      fires: [{ path: src/a.js, content: 'console.log(1)' }]\n      quiet: [{ path: lib/a.js, content: 'console.log(1)' }]\n",
        )
        .commit("base");
    let out = f.valve(&["personas"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(NO_CONSOLE), "{text}");
    let out = f.valve(&["test"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A fires example outside the folder's `src/` would stay quiet.
    f.write(
        "packages/web/.sage/valve.yml",
        "personas:\n  NoConsole:\n    filters: ['src/*.js']\n    triggers: ['console\\.log']\n    examples:\n      fires: [{ path: lib/a.js, content: 'console.log(1)' }]\n",
    );
    let out = f.valve(&["test"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("packages/web/:NoConsole: expected to fire on lib/a.js"),
        "{text}"
    );
}

#[test]
fn a_marker_names_a_nested_persona_by_its_full_name() {
    let f = repo();
    f.write(
        "packages/web/a.js",
        "console.log(1) // valve:ignore[packages/web/:NoConsole] reason=\"demo\"\nconsole.log(2) // valve:ignore[NoConsole]\n",
    );
    // The short name is no persona: it silences nothing and is reported.
    let r = f.json(&["--worktree"]);
    let at = |p: &str| (p.to_string(), "packages/web/a.js".to_string(), Some(2));
    assert_eq!(
        hits(&r),
        vec![at(NO_CONSOLE), at("valve:unused-suppression")]
    );
    assert_eq!(r["summary"]["suppressed"], 1, "{}", r["summary"]);
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("valve:ignore[NoConsole] names no persona of the config; did you mean packages/web/:NoConsole?"),
        "{warnings}"
    );
}

#[test]
fn persona_narrows_to_a_nested_persona_by_its_full_name() {
    let f = repo();
    write_cases(&f);
    for args in [vec!["--worktree"], vec!["--all"], vec!["packages"]] {
        let mut all = args.clone();
        all.extend(["--persona", NO_CONSOLE]);
        let r = f.json(&all);
        assert!(
            who(&r).iter().all(|(p, _)| p == NO_CONSOLE) && who(&r).len() == 2,
            "{args:?}: {r}"
        );
    }
    let out = f
        .valve(&["check", "--worktree", "--persona", "NoConsole"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did you mean `--persona packages/web/:NoConsole`?"),
        "{err}"
    );
}

#[test]
fn a_linked_nested_config_or_sage_folder_is_refused_in_every_mode() {
    let f = repo();
    std::fs::create_dir_all(f.path().join("elsewhere")).expect("mkdir");
    f.write("elsewhere/valve.yml", "personas: {}\n")
        .write("lib/a.js", "x\n");
    std::os::unix::fs::symlink("../elsewhere", f.path().join("lib/.sage")).expect("link");
    for args in [
        vec!["check", "--worktree"],
        vec!["check", "--all"],
        vec!["check", "lib/a.js"],
    ] {
        let err = f.config_error(&args);
        assert!(
            err.contains("lib/.sage/valve.yml is under a symlinked .sage folder"),
            "{args:?}: {err}"
        );
    }
    f.commit("linked");
    f.write("lib/b.js", "x\n").commit("more");
    let err = f.config_error(&["check", "--base", "HEAD~1"]);
    assert!(
        err.contains("lib/.sage/valve.yml is under a symlinked .sage folder"),
        "{err}"
    );
    // A linked config file in a real `.sage` folder too.
    std::fs::remove_file(f.path().join("lib/.sage")).expect("rm");
    std::fs::create_dir_all(f.path().join("api/.sage")).expect("mkdir");
    std::os::unix::fs::symlink("/etc/passwd", f.path().join("api/.sage/valve.yml")).expect("link");
    f.write("api/x.js", "x\n");
    let err = f.config_error(&["check", "--worktree"]);
    assert!(err.contains("api/.sage/valve.yml is a symlink"), "{err}");
    assert!(
        !err.contains("root:"),
        "nothing of the target is printed: {err}"
    );
}

#[test]
fn the_result_cache_never_answers_for_a_different_set_of_nested_configs() {
    let f = repo();
    write_cases(&f);
    let cache = tempfile::tempdir().expect("tmp");
    let dir = cache.path().to_string_lossy().into_owned();
    let cached = |f: &Fixture| f.json(&["--all", "--cache", &dir, "--cache-min", "0"]);
    assert_eq!(who(&cached(&f)), expected(), "cold");
    assert_eq!(who(&cached(&f)), expected(), "warm");
    // A new nested config: the same contents are judged again.
    f.write(
        "packages/web/lib/.sage/valve.yml",
        "personas:\n  Log:\n    triggers: ['log']\n",
    );
    let mut more = expected();
    more.push(pair("packages/web/lib/:Log", "packages/web/lib/a.js"));
    more.sort();
    assert_eq!(who(&cached(&f)), more, "after adding a nested config");
    assert_eq!(who(&f.json(&["--all"])), more, "uncached");
}

#[test]
fn staged_mode_reads_a_nested_config_inside_a_collapsed_sparse_directory() {
    let f = Fixture::new();
    f.config(ROOT)
        .write("b/f1.txt", "one\n")
        .write("c/f.txt", "c\n")
        .commit("base");
    f.write("b/f1.txt", "one secret\n")
        .write(
            "b/.sage/valve.yml",
            "personas:\n  Leak:\n    triggers: ['secret']\n",
        )
        .commit("second");
    f.git(&["sparse-checkout", "set", "--sparse-index", "c", ".sage"]);
    // HEAD moves back; the index keeps `b/` collapsed at the second
    // commit's tree: its config and edit are staged, inside that entry.
    f.git(&["reset", "-q", "--soft", "HEAD~1"]);
    let sparse = f.git(&["ls-files", "--sparse", "-s"]);
    assert!(
        sparse
            .lines()
            .any(|l| l.starts_with("040000") && l.ends_with("\tb/")),
        "{sparse}"
    );
    let r = f.json(&["--staged"]);
    assert_eq!(who(&r), vec![pair("b/:Leak", "b/f1.txt")], "{r}");
}

/// `--all` judges while it walks, with the nested configs the index has;
/// when the work tree lists others (a new one not yet added, a tracked
/// one deleted or made a link), the run is git's list all the same.
#[test]
fn all_judges_by_the_nested_configs_the_work_tree_lists_not_the_index() {
    let f = repo();
    let cfg = "personas:\n  Leak:\n    triggers: ['secret']\n";
    f.write("packages/web/a.js", "console.log(1)\n")
        .write("fresh/a.txt", "secret\n")
        .write(".gitignore", "ignored/\n")
        .write("ignored/.sage/valve.yml", cfg)
        .commit("files");
    let web = pair(NO_CONSOLE, "packages/web/a.js");
    for threads in ["1", "3"] {
        let all = ["--all", "--threads", threads];
        assert_eq!(
            who(&f.json(&all)),
            vec![web.clone()],
            "as the index has them"
        );
        // Untracked and not ignored: it is one, and `--persona` may name
        // its personas.
        f.write("fresh/.sage/valve.yml", cfg);
        assert_eq!(
            who(&f.json(&all)),
            vec![pair("fresh/:Leak", "fresh/a.txt"), web.clone()],
            "an untracked nested config, {threads} threads"
        );
        let mut only = all.to_vec();
        only.extend(["--persona", "fresh/:Leak"]);
        assert_eq!(
            who(&f.json(&only)),
            vec![pair("fresh/:Leak", "fresh/a.txt")],
            "--persona of an untracked nested config"
        );
        f.remove("fresh/.sage/valve.yml");
        // Tracked, deleted from the work tree: it no longer judges.
        f.remove("packages/web/.sage/valve.yml");
        assert!(who(&f.json(&all)).is_empty(), "a deleted nested config");
        // Tracked, a link now: refused, as a linked config always is.
        let link = f.path().join("packages/web/.sage/valve.yml");
        std::os::unix::fs::symlink("../../../README.md", &link).expect("link");
        let mut args = vec!["check"];
        args.extend(all);
        let err = f.config_error(&args);
        assert!(
            err.contains("packages/web/.sage/valve.yml is a symlink"),
            "{err}"
        );
        f.remove("packages/web/.sage/valve.yml");
        f.git(&["checkout", "--", "packages/web/.sage/valve.yml"]);
    }
    // A nested config the index has that does not load, fixed in the work
    // tree: the work tree's is judged.
    f.write("packages/web/.sage/valve.yml", "personas: [\n")
        .commit("broken");
    f.write("packages/web/.sage/valve.yml", WEB);
    assert_eq!(who(&f.json(&["--all"])), vec![web]);
}

/// `valve.yml` before `valve.yaml` in one folder, as for the root config,
/// in every mode (a listing sorts `.yaml` first).
#[test]
fn in_a_folder_with_both_valve_yml_wins_in_every_mode() {
    let f = Fixture::new();
    f.config(ROOT)
        .write(
            "d/.sage/valve.yml",
            "personas:\n  Yml:\n    triggers: ['secret']\n",
        )
        .write(
            "d/.sage/valve.yaml",
            "personas:\n  Yaml:\n    triggers: ['secret']\n",
        )
        .write("d/a.txt", "secret\n")
        .commit("base");
    let want = vec![pair("d/:Yml", "d/a.txt")];
    assert_eq!(who(&f.json(&["--all"])), want, "--all");
    assert_eq!(who(&f.json(&["d/a.txt"])), want, "PATH");
    assert_eq!(who(&f.json(&["--root"])), want, "--root");
    f.write("d/a.txt", "secret again\n");
    assert_eq!(who(&f.json(&["--worktree"])), want, "--worktree");
    f.stage(&["d/a.txt"]);
    assert_eq!(who(&f.json(&["--staged"])), want, "--staged");
}
