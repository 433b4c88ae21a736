//! Reading GitHub Actions YAML (action.yml, workflows) with valve's own YAML
//! reader, for the tests that execute or lint what the files say.

// Each test crate that includes this file uses a part of it.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use valve::yaml::{self, Node};

pub fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scalar(node: &Node) -> Option<String> {
    match node {
        Node::Scalar { value, .. } => Some(value.clone()),
        _ => None,
    }
}

pub fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match node {
        Node::Map { entries, .. } => entries
            .iter()
            .find(|(k, _)| scalar(k).as_deref() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

pub fn entries(node: Option<&Node>) -> Vec<(String, &Node)> {
    match node {
        Some(Node::Map { entries, .. }) => entries
            .iter()
            .filter_map(|(k, v)| Some((scalar(k)?, v)))
            .collect(),
        _ => Vec::new(),
    }
}

pub fn items(node: Option<&Node>) -> &[Node] {
    match node {
        Some(Node::Seq { items, .. }) => items,
        _ => &[],
    }
}

pub fn load(path: &Path) -> Node {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()));
    yaml::parse(&text)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{} parses", path.display()))
}

/// A step as the runner sees it.
pub struct Step {
    pub name: String,
    pub id: Option<String>,
    pub uses: Option<String>,
    pub run: Option<String>,
    pub env: Vec<(String, String)>,
    /// The step's `if:` expression, as written.
    pub when: Option<String>,
}

pub fn step(node: &Node, fallback: String) -> Step {
    Step {
        name: get(node, "name").and_then(scalar).unwrap_or(fallback),
        id: get(node, "id").and_then(scalar),
        uses: get(node, "uses").and_then(scalar),
        run: get(node, "run").and_then(scalar),
        env: entries(get(node, "env"))
            .into_iter()
            .filter_map(|(k, v)| Some((k, scalar(v)?)))
            .collect(),
        when: get(node, "if").and_then(scalar),
    }
}

/// The steps of a composite action.
pub fn action_steps(action: &Path) -> Vec<Step> {
    let root = load(action);
    let runs = get(&root, "runs");
    assert_eq!(
        runs.and_then(|r| get(r, "using"))
            .and_then(scalar)
            .as_deref(),
        Some("composite")
    );
    items(runs.and_then(|r| get(r, "steps")))
        .iter()
        .enumerate()
        .map(|(i, s)| step(s, format!("step {i}")))
        .collect()
}

/// Every step of every job of a workflow, named `job/step`.
pub fn workflow_steps(workflow: &Path) -> Vec<Step> {
    let root = load(workflow);
    let mut out = Vec::new();
    for (job, body) in entries(get(&root, "jobs")) {
        for (i, s) in items(get(body, "steps")).iter().enumerate() {
            let mut st = step(s, format!("step {i}"));
            st.name = format!("{job}/{}", st.name);
            out.push(st);
        }
    }
    out
}

/// The action's inputs and their defaults.
pub fn action_inputs(action: &Path) -> Vec<(String, String)> {
    let root = load(action);
    entries(get(&root, "inputs"))
        .into_iter()
        .map(|(k, v)| (k, get(v, "default").and_then(scalar).unwrap_or_default()))
        .collect()
}

/// The package version in a Cargo.toml.
pub fn package_version(cargo_toml: &str) -> Option<String> {
    let mut in_package = false;
    for line in cargo_toml.lines() {
        if line.starts_with('[') {
            in_package = line.trim() == "[package]";
        } else if in_package {
            if let Some(rest) = line.strip_prefix("version") {
                let value = rest.trim_start().strip_prefix('=')?.trim();
                return Some(value.trim_matches('"').to_string());
            }
        }
    }
    None
}

/// The release targets of release.yml's build matrix.
pub fn release_targets() -> Vec<String> {
    let root = load(&here().join(".github/workflows/release.yml"));
    let build = get(&root, "jobs").and_then(|j| get(j, "build"));
    let include = build
        .and_then(|b| get(b, "strategy"))
        .and_then(|s| get(s, "matrix"))
        .and_then(|m| get(m, "include"));
    items(include)
        .iter()
        .filter_map(|i| get(i, "target").and_then(scalar))
        .collect()
}

/// The release target the action picks on this machine, with the
/// RUNNER_OS and RUNNER_ARCH the runner would set.
pub fn runner_target() -> (&'static str, &'static str, &'static str) {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => ("Linux", "X64", "x86_64-unknown-linux-musl"),
        ("linux", "aarch64") => ("Linux", "ARM64", "aarch64-unknown-linux-musl"),
        ("macos", "x86_64") => ("macOS", "X64", "x86_64-apple-darwin"),
        ("macos", "aarch64") => ("macOS", "ARM64", "aarch64-apple-darwin"),
        (os, arch) => panic!("no valve release for {os}/{arch}"),
    }
}

/// `sha256sum FILE`'s hex.
pub fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .or_else(|_| {
            std::process::Command::new("shasum")
                .args(["-a", "256"])
                .arg(path)
                .output()
        })
        .expect("sha256sum or shasum runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A node as plain text, without positions: `a`, `[a, b]`, `{k: v}`.
pub fn plain(node: &Node) -> String {
    match node {
        Node::Scalar { value, .. } => value.clone(),
        Node::Seq { items, .. } => {
            let parts: Vec<String> = items.iter().map(plain).collect();
            format!("[{}]", parts.join(", "))
        }
        Node::Map { entries, .. } => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", plain(k), plain(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}
