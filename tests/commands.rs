//! `init`, `personas`, `explain`, `test` and `baseline` as a user runs them.

mod common;

use common::Fixture;
use predicates::prelude::*;

#[test]
fn init_writes_a_config_that_loads_and_never_overwrites() {
    let f = Fixture::new();
    f.valve(&["init"]).assert().success();
    let text = std::fs::read_to_string(f.path().join(".sage/valve.yml")).expect("written");
    // Every field is documented in the starter.
    for key in [
        "version",
        "ignore",
        "max_file_size",
        "fail_on",
        "personas",
        "description",
        "filters",
        "exclude",
        "triggers",
        "response",
        "severity",
        "message",
        "scope",
        "on",
        "redact",
        "allow_ignore",
        "history",
        "examples",
    ] {
        assert!(text.contains(&format!("{key}:")), "starter lacks `{key}`");
    }
    f.valve(&["personas"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Guardian"));
    f.valve(&["test"]).assert().success();
    // A second init refuses and leaves the file alone.
    f.write(".sage/valve.yml", "personas: {}\n");
    f.valve(&["init"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    let after = std::fs::read_to_string(f.path().join(".sage/valve.yml")).expect("still there");
    assert_eq!(after, "personas: {}\n");
}

#[test]
fn personas_lists_filters_triggers_severity_and_response() {
    let f = Fixture::new();
    f.config("personas:\n  Guard:\n    description: keys\n    message: Rotate it\n    filters: ['src/**']\n    exclude: ['*.md']\n    triggers: ['AKIA']\n    severity: HALT_EVERYTHING\n    response: paranoid\n    scope: file\n    on: [added]\n    allow_ignore: false\n    redact: true\n    examples:\n      fires: [{ path: src/a, content: AKIA }]\n  Any: {}\n");
    let out = f.valve(&["personas"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    insta::assert_snapshot!(text);
}

#[test]
fn explain_names_the_glob_and_the_exclude() {
    let f = Fixture::new();
    f.config("ignore: ['vendor/**']\npersonas:\n  Docs:\n    filters: ['docs/**']\n    exclude: ['*.png']\n  Rust:\n    filters: ['*.rs']\n");
    f.valve(&[
        "explain",
        "docs/a.md",
        "docs/b.png",
        "vendor/x.rs",
        "src/main.rs",
    ])
    .assert()
    .success()
    .stdout(
        predicate::str::contains("takes  Docs: filter `docs/**` matches")
            .and(predicate::str::contains(
                "skips  Docs: filter `docs/**` matches but exclude `*.png` removes it",
            ))
            .and(predicate::str::contains("ignored: `vendor/**`"))
            .and(predicate::str::contains(
                "takes  Rust: filter `*.rs` matches",
            )),
    );
}

#[test]
fn test_command_fails_on_a_wrong_example() {
    let f = Fixture::new();
    f.config("personas:\n  K:\n    filters: ['*.ts']\n    triggers: ['AKIA']\n    examples:\n      fires: [{ path: a.ts, content: 'AKIA' }, { path: a.py, content: 'AKIA' }]\n      quiet: [{ path: a.ts, content: 'ok' }]\n");
    f.valve(&["test"]).assert().code(1).stdout(
        predicate::str::contains("FAIL K: expected to fire on a.py but it stayed quiet")
            .and(predicate::str::contains("2 passed, 1 failed")),
    );
}

#[test]
fn baseline_accepts_a_mode_and_an_output_file() {
    let f = Fixture::new();
    f.config("personas:\n  T:\n    triggers: ['TODO']\n    severity: error\n")
        .write("a.txt", "ok\n")
        .commit("init");
    f.write("a.txt", "TODO one\n")
        .write("b.txt", "TODO two\n")
        .commit("two");
    f.valve(&["baseline", "--base", "HEAD~1", "--output", "bl.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote 2 fingerprints"));
    f.valve(&["check", "--all"]).assert().code(1);
    f.valve(&["check", "--all", "--baseline", "bl.json"])
        .assert()
        .code(0);
    f.write("bl.json", "not json");
    f.valve(&["check", "--all", "--baseline", "bl.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a valve baseline"));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let f = Fixture::new();
    f.valve(&["check", "--staged", "--all"]).assert().code(2);
    f.valve(&["check", "--fail-on", "severe"]).assert().code(2);
    f.valve(&["--help"]).assert().code(0);
    f.valve(&["check", "--help"]).assert().code(0);
}

#[test]
fn explain_applies_git_ignore_rules_and_names_their_source() {
    let f = Fixture::new();
    f.config("personas:\n  Logs:\n    filters: ['*.log']\n")
        .write(".gitignore", "# build output\n*.log\nbuild/\n")
        .write("sub/.gitignore", "!keep.log\n")
        .write("tracked.log", "x\n")
        .write("build/out.txt", "x\n")
        .write(".git/info/exclude", "secret.txt\n");
    f.git(&["add", "-f", "tracked.log"]);
    f.valve(&[
        "explain",
        "new.log",
        "build/out.txt",
        "tracked.log",
        "sub/keep.log",
        "secret.txt",
    ])
    .assert()
    .success()
    .stdout(
        predicate::str::contains(
            "new.log\n  ignored by .gitignore:2 `*.log`: --worktree and --all skip it (`valve check PATH` judges it)\n  takes  Logs",
        )
        .and(predicate::str::contains(
            "build/out.txt\n  ignored by .gitignore:3 `build/` (its folder build)",
        ))
        .and(predicate::str::contains(
            "tracked.log\n  tracked, so judged although .gitignore:2 `*.log` matches it",
        ))
        .and(predicate::str::contains("sub/keep.log\n  takes  Logs"))
        .and(predicate::str::contains(
            "secret.txt\n  ignored by .git/info/exclude:1 `secret.txt`",
        )),
    );
}

#[test]
fn explain_outside_git_applies_the_walks_ignore_files() {
    let f = Fixture::bare_dir();
    f.config("ignore: ['vendor/**']\npersonas:\n  All: {}\n")
        .write(".gitignore", "*.log\n")
        .write(".ignore", "\n\ngen/\n");
    f.valve(&["explain", "a.log", "gen/x.rs", "vendor/y.js", "src/z.rs"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("a.log\n  ignored by .gitignore:1 `*.log`")
                .and(predicate::str::contains(
                    "gen/x.rs\n  ignored by .ignore:3 `gen/`",
                ))
                .and(predicate::str::contains(
                    "vendor/y.js\n  ignored: `vendor/**` (config `ignore`)",
                ))
                .and(predicate::str::contains("src/z.rs\n  takes  All")),
        );
}

#[test]
fn test_command_says_why_each_example_failed() {
    let f = Fixture::new();
    f.config(concat!(
        "personas:\n",
        "  K:\n",
        "    filters: ['*.ts']\n",
        "    exclude: ['gen/**']\n",
        "    triggers: ['AKIA', 'SECRET']\n",
        "    examples:\n",
        "      fires:\n",
        "        - { path: a.ts, content: 'AKIA' }\n",
        "        - { path: a.py, content: 'AKIA' }\n",
        "        - { path: gen/a.ts, content: 'AKIA' }\n",
        "        - { path: b.ts, content: 'nothing' }\n",
        "        - { path: c.ts, content: 'AKIA // valve:ignore' }\n",
        "      quiet: [{ path: a.ts, content: \"ok\\n  x SECRET\" }]\n",
        "  Paths:\n",
        "    filters: ['docs/**']\n",
        "    examples:\n",
        "      quiet: [{ path: docs/a.md, content: 'x' }]\n",
        "  Modified:\n",
        "    on: [modified]\n",
        "    triggers: [x]\n",
        "    examples:\n",
        "      fires: [{ path: a, content: x }]\n",
        "  Bare: {}\n",
        "  Bare2: {}\n",
    ));
    let out = f.valve(&["test"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    insta::assert_snapshot!(text);
}

#[test]
fn test_command_warns_about_globs_matching_no_tracked_file() {
    let f = Fixture::new();
    f.config("personas:\n  Rust:\n    filters: ['src/**/*.rs', 'crates/**']\n    exclude: ['*.md', '*.txt']\n    triggers: ['x']\n    examples:\n      fires: [{ path: src/a.rs, content: x }]\n")
        .write("src/main.rs", "fn main() {}\n")
        .write("README.md", "x\n")
        // Untracked files are not tracked ones.
        .write("crates/a/lib.rs", "x\n");
    f.stage(&[".sage/valve.yml", "src/main.rs", "README.md"]);
    f.valve(&["test"]).assert().code(0).stdout(
        predicate::str::contains("warn Rust: no tracked file matches filter `crates/**`\n")
            .and(predicate::str::contains(
                "warn Rust: no tracked file matches exclude `*.txt`\n",
            ))
            .and(predicate::str::contains("src/**/*.rs").not())
            .and(predicate::str::contains("1 passed, 0 failed")),
    );
    // Outside git the check is skipped, and that is said once.
    let g = Fixture::bare_dir();
    g.config("personas:\n  Rust:\n    filters: ['nothing/**']\n");
    g.valve(&["test"]).assert().code(0).stdout(
        predicate::str::contains(
            "note: not in a git repository: globs are not checked against tracked files",
        )
        .and(predicate::str::contains("warn").not())
        .and(predicate::str::contains("note: no examples: Rust")),
    );
}

#[test]
fn each_help_shows_its_own_options_first_then_global_ones_and_exit_codes() {
    let f = Fixture::bare_dir();
    for (args, codes) in [
        (
            vec!["check", "--help"],
            vec![
                "0  no unsuppressed finding",
                "1  a blocking finding",
                "2  usage",
            ],
        ),
        (
            vec!["test", "--help"],
            vec!["0  every example", "1  an example failed", "2  usage"],
        ),
        (
            vec!["doctor", "--help"],
            vec!["0  every check", "1  a check failed", "2  usage"],
        ),
        (vec!["hook", "status", "--help"], vec!["1  `status` only"]),
        (vec!["personas", "--help"], vec!["0  done", "2  usage"]),
        (vec!["watch", "--help"], vec!["0  stopped by Ctrl-C"]),
        (vec!["--help"], vec!["1  check, merge: a blocking finding"]),
    ] {
        let out = f.valve(&args).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        let own = text.find("\nOptions:\n");
        let global = text.find("\nGlobal options:\n");
        assert!(
            matches!((own, global), (Some(o), Some(g)) if o < g),
            "{args:?}: {text}"
        );
        let exit = text.find("\nExit codes:\n");
        assert!(
            exit.is_some_and(|e| global.is_some_and(|g| g < e)),
            "{args:?}: {text}"
        );
        for c in codes {
            assert!(text.contains(c), "{args:?} lacks {c:?}: {text}");
        }
        let globals = &text[global.unwrap_or(0)..];
        assert!(globals.contains("--config <PATH>") && globals.contains("--threads <N>"));
    }
}

#[test]
fn severity_flags_take_every_alias_in_any_case() {
    let f = Fixture::new();
    f.config("personas:\n  T:\n    triggers: ['TODO']\n    severity: warning\n")
        .write("a.txt", "TODO\n")
        .commit("init");
    for word in [
        "info",
        "WARNING",
        "Warn",
        "note",
        "halt",
        "HALT_EVERYTHING",
        "never",
    ] {
        f.valve(&["check", "--all", "--fail-on", word])
            .assert()
            .code(predicate::in_iter([0, 1]));
    }
    f.valve(&["check", "--all", "--fail-on", "warn"])
        .assert()
        .code(1);
    f.valve(&["check", "--all", "--fail-on", "halt"])
        .assert()
        .code(0);
    for word in ["note", "Error", "critical"] {
        f.valve(&["check", "--all", "--min-severity", word, "--persona", "T"])
            .assert()
            .code(predicate::in_iter([0, 1]));
    }
    f.valve(&["check", "--all", "--min-severity", "never"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "[possible values: info, warning, error, critical]",
        ));
    f.valve(&[
        "baseline",
        "--persona",
        "T",
        "--min-severity",
        "warn",
        "-o",
        "b.json",
    ])
    .assert()
    .success();
}

/// A typical JavaScript project as cloned: its own code, a lockfile, a
/// vendored yarn release (a minified bundle full of base64 runs), an
/// inlined image. None of it is a credential.
fn typical_project(f: &Fixture) {
    // A run of base64 that holds `AKIA` + 16 capitals and digits: what the
    // unanchored `AKIA[0-9A-Z]{16}` fired on inside bundles and hashes.
    let blob = "kVn3AKIAQZ7XK2M4PLR9WT5Bq0";
    f.write("package.json", "{\n  \"name\": \"shop\",\n  \"packageManager\": \"yarn@3.6.4\"\n}\n")
        .write(".gitignore", "node_modules/\n")
        .write(".yarnrc.yml", "yarnPath: .yarn/releases/yarn-3.6.4.cjs\n")
        .write(
            ".yarn/releases/yarn-3.6.4.cjs",
            &format!("#!/usr/bin/env node\n/* eslint-disable */\nvar Fz=Object.create;var wasm=\"AGFzbQEAAAAB{blob}Yg8AYAF/AX9gAn9/\";console.log(1);debugger;\n"),
        )
        .write(
            "yarn.lock",
            &format!("\"left-pad@npm:1.3.0\":\n  checksum: 5a2b{blob}e9\n  integrity: sha512-{blob}==\n"),
        )
        .write(
            "src/logo.ts",
            &format!("export const logo = \"data:image/png;base64,iVBORw0KGgo{blob}AAAANSUhEUg\";\n"),
        )
        .write("src/index.ts", "import { logo } from \"./logo\";\nexport const key = process.env.AWS_ACCESS_KEY_ID;\nconsole.log(logo);\n")
        .write("node_modules/left-pad/index.js", &format!("module.exports = \"{blob}\";\n"))
        .write("README.md", "# shop\n");
}

#[test]
fn starter_config_is_quiet_on_a_typical_project_and_fires_on_a_real_key() {
    let f = Fixture::new();
    typical_project(&f);
    f.valve(&["init"]).assert().success();
    f.commit("clone");
    let report = f.json(&["--all"]);
    assert_eq!(report["findings"], serde_json::json!([]), "{report}");
    f.valve(&["check", "--all"]).assert().code(0);
    f.valve(&["test"]).assert().code(0);
    // The same project with the unanchored pattern the starter used to
    // have fires: the test would notice the anchors going.
    let starter = std::fs::read_to_string(f.path().join(".sage/valve.yml")).expect("written");
    let loose = starter.replace("'\\bAKIA[0-9A-Z]{16}\\b'", "'AKIA[0-9A-Z]{16}'");
    assert_ne!(loose, starter, "the starter's AWS pattern changed");
    f.write("loose.yml", &loose);
    let loose_report = f.json(&["--all", "--config", "loose.yml"]);
    assert!(
        common::hits(&loose_report)
            .iter()
            .any(|(p, file, _)| p == "Guardian" && file == "src/logo.ts"),
        "{loose_report}"
    );
    f.remove("loose.yml");
    // A real AWS-style key in the project's own code is caught.
    let key = ["AKIA", "IOSFODNN7EXAMPLE"].concat();
    f.write("src/aws.ts", &format!("const id = \"{key}\";\n"))
        .commit("key");
    let report = f.json(&["--all"]);
    assert_eq!(
        common::hits(&report),
        vec![("Guardian".to_string(), "src/aws.ts".to_string(), Some(1))]
    );
    f.valve(&["check", "--all"]).assert().code(1);
}
