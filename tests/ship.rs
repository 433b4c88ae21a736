//! Shipping (SPEC §13): the names the release workflow builds are the names
//! the action downloads and `cargo binstall` asks for; the release profile
//! carries no debug info; `checksums/` is in `sha256sum` format; and the
//! wheel maturin builds from `pyproject.toml` installs a `valve` that runs
//! from a fresh virtualenv.

#[path = "support/workflow.rs"]
mod workflow;

use std::path::Path;
use std::process::Command as Std;

use workflow::{here, package_version, release_targets};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(rel: &str) -> String {
    std::fs::read_to_string(here().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The lines of one `[section]` of a TOML file, as `key = value` pairs
/// (enough of TOML for Cargo.toml's flat tables).
fn section(toml: &str, name: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == format!("[{name}]");
        } else if inside && !line.starts_with('#') {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_string(), v.trim().trim_matches('"').to_string()));
            }
        }
    }
    out
}

fn value(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn archive(target: &str) -> String {
    let ext = if target.contains("windows") {
        "zip"
    } else {
        "tar.gz"
    };
    format!("valve-{VERSION}-{target}.{ext}")
}

#[test]
fn the_release_builds_the_five_targets_the_action_and_binstall_ask_for() {
    let targets = release_targets();
    assert_eq!(
        targets,
        [
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
            "x86_64-apple-darwin",
            "aarch64-apple-darwin",
            "x86_64-pc-windows-msvc",
        ]
    );
    let release = read(".github/workflows/release.yml");
    assert!(release.contains(r#"name="valve-$VERSION-$TARGET""#));
    assert!(release.contains(r#"tar -czf "$name.tar.gz" "$name""#));
    assert!(release.contains(r#"7z a -tzip -bd "$name.zip" "$name""#));
    assert!(release.contains(r#"cp "$bin" README.md LICENSE "dist/$name/""#));

    let action = read("action.yml");
    for target in &targets {
        assert!(
            action.contains(&format!("target={target} ;;")),
            "action.yml never picks {target}"
        );
    }
    assert!(action.contains(r#"name="valve-$VERSION-$target""#));
    assert!(action.contains(r#"url="$base/v$VERSION/$archive""#));

    // cargo binstall: the same URL and the binary inside the same folder.
    let cargo = read("Cargo.toml");
    let repo = value(&section(&cargo, "package"), "repository").expect("repository");
    let binstall = section(&cargo, "package.metadata.binstall");
    let windows = section(
        &cargo,
        "package.metadata.binstall.overrides.x86_64-pc-windows-msvc",
    );
    for target in &targets {
        let table = if target.contains("windows") {
            &windows
        } else {
            &binstall
        };
        let fill = |template: &str, bin: &str| {
            template
                .replace("{ repo }", &repo)
                .replace("{ version }", VERSION)
                .replace("{ target }", target)
                .replace("{ bin }", bin)
                .replace(
                    "{ binary-ext }",
                    if target.contains("windows") {
                        ".exe"
                    } else {
                        ""
                    },
                )
        };
        let url = fill(&value(table, "pkg-url").expect("pkg-url"), "valve");
        assert_eq!(
            url,
            format!("{repo}/releases/download/v{VERSION}/{}", archive(target))
        );
        let bin_dir = fill(&value(&binstall, "bin-dir").expect("bin-dir"), "valve");
        let exe = if target.contains("windows") {
            ".exe"
        } else {
            ""
        };
        assert_eq!(bin_dir, format!("valve-{VERSION}-{target}/valve{exe}"));
    }
    assert_eq!(value(&binstall, "pkg-fmt").as_deref(), Some("tgz"));
    assert_eq!(value(&windows, "pkg-fmt").as_deref(), Some("zip"));
    assert_eq!(package_version(&cargo).as_deref(), Some(VERSION));
}

#[test]
fn the_release_profile_carries_no_debug_info() {
    let profile = section(&read("Cargo.toml"), "profile.release");
    assert_eq!(value(&profile, "debug").as_deref(), Some("false"));
    assert_eq!(value(&profile, "strip").as_deref(), Some("true"));
    assert_eq!(value(&profile, "lto").as_deref(), Some("fat"));
    assert_eq!(value(&profile, "panic").as_deref(), Some("abort"));
}

#[test]
fn checksums_are_in_sha256sum_format_for_released_archives() {
    let targets = release_targets();
    let dir = here().join("checksums");
    assert!(dir.join("README.md").is_file());
    for entry in std::fs::read_dir(&dir).expect("checksums/").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "README.md" {
            continue;
        }
        let version = name
            .strip_prefix('v')
            .and_then(|n| n.strip_suffix(".txt"))
            .unwrap_or_else(|| panic!("checksums/{name} is not v<version>.txt"));
        let text = std::fs::read_to_string(entry.path()).expect("readable");
        for line in text.lines() {
            let (hex, file) = line
                .split_once("  ")
                .unwrap_or_else(|| panic!("{name}: `{line}` is not `<hex>  <archive>`"));
            assert!(
                hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{name}: `{hex}` is not a SHA-256"
            );
            assert!(
                targets.iter().any(|t| {
                    let ext = if t.contains("windows") {
                        "zip"
                    } else {
                        "tar.gz"
                    };
                    file == format!("valve-{version}-{t}.{ext}")
                }),
                "{name}: `{file}` is no archive of release {version}"
            );
        }
    }
}

#[test]
fn the_pip_package_is_sage_valve_with_the_binary() {
    let py = read("pyproject.toml");
    assert!(py.contains("name = \"sage-valve\""));
    assert!(py.contains("bindings = \"bin\""));
    assert!(py.contains("build-backend = \"maturin\""));
    assert!(
        py.contains("dynamic = [\"version\"]"),
        "the version is Cargo.toml's"
    );
}

/// Runs a command, panicking with its output when it fails.
fn ok(cmd: &mut Std, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} runs (pip install maturin; .ci/run does it): {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs maturin and python3 with venv (.ci/run installs maturin); builds valve"]
fn the_wheel_installs_a_valve_that_runs_from_a_fresh_virtualenv() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let wheels = tmp.path().join("wheels");
    // The release profile as the action's `version: source` test builds it
    // (same target dir, no LTO, opt-level 0): a test-only speed-up of the
    // same wheel, which reuses that build.
    ok(
        Std::new("maturin")
            .args(["build", "--release", "--locked", "--quiet", "--out"])
            .arg(&wheels)
            .current_dir(here())
            .env("CARGO_TARGET_DIR", here().join("target/ship-build"))
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
        "maturin build",
    );
    let wheel = std::fs::read_dir(&wheels)
        .expect("wheels")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("maturin wrote a wheel");
    let name = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(
        name.starts_with(&format!("sage_valve-{VERSION}-")),
        "{name}"
    );

    let venv = tmp.path().join("venv");
    ok(
        Std::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    );
    let bin = venv.join("bin");
    ok(
        Std::new(bin.join("pip"))
            .args([
                "install",
                "--quiet",
                "--no-index",
                "--disable-pip-version-check",
            ])
            .arg(&wheel),
        "pip install the wheel",
    );
    let valve = bin.join("valve");
    assert!(valve.is_file(), "the wheel put valve in the venv's bin/");
    let version = ok(Std::new(&valve).arg("--version"), "valve --version");
    assert_eq!(version.trim(), format!("valve {VERSION}"));
    // And it judges: outside git, `valve check` is --all over a tree.
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join(".sage")).expect("mkdir");
    std::fs::write(
        tree.join(".sage/valve.yml"),
        "personas:\n  Todo:\n    triggers: [TODO]\n    severity: error\n",
    )
    .expect("write");
    std::fs::write(tree.join("a.txt"), "TODO\n").expect("write");
    let out = Std::new(&valve)
        .arg("check")
        .current_dir(&tree)
        .env_remove("CI")
        .output()
        .expect("valve runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(Path::new(&valve).starts_with(&venv));
}
