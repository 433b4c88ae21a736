//! Hostile inputs of SPEC §1, §2 and §9 against the real binary, each run
//! under a timeout and an address-space limit (`support/bounded.rs`):
//! valve exits 0, 1 or 2, never a signal, a hang or a panic, and each case
//! gets the specific outcome the SPEC promises. Every run prints its wall
//! time and peak RSS (`cargo test --test hostile -- --nocapture`).
//!
//! A test collects every broken promise of its runs before failing, so one
//! hang does not hide what the other modes do.

#[path = "support/bounded.rs"]
mod bounded;
mod common;

use std::time::Duration;

use bounded::{Outcome, Run};
use common::Fixture;
use serde_json::Value;

/// SPEC §1: the default of `max_findings`.
const MAX_FINDINGS: u64 = 10_000;
/// What "at once" means for a usage error, with room for a loaded machine.
const AT_ONCE: Duration = Duration::from_secs(5);

/// The broken promises of one test, reported together at its end.
#[derive(Default)]
struct Faults(Vec<String>);

impl Faults {
    fn expect(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    /// Records a run that did not survive; true when it did.
    fn survived(&mut self, out: &Outcome) -> bool {
        match out.broken() {
            Some(why) => {
                self.0.push(why);
                false
            }
            None => true,
        }
    }

    fn done(self) {
        assert!(self.0.is_empty(), "{}", self.0.join("\n\n"));
    }
}

/// Runs valve in the fixture, bounded, and prints the measurement.
fn run(f: &Fixture, case: &str, args: &[&str]) -> Outcome {
    measured(case, Run::new(f.path(), args).go())
}

#[allow(clippy::print_stderr)] // the measurement is the report of the test
fn measured(case: &str, out: Outcome) -> Outcome {
    eprintln!("hostile | {case} | {}", out.describe());
    out
}

/// The json report of a run that exited 0 or 1.
fn report(faults: &mut Faults, out: &Outcome) -> Option<Value> {
    if !faults.survived(out) {
        return None;
    }
    if !matches!(out.code, Some(0 | 1)) {
        faults.0.push(format!(
            "valve {:?}: expected a report (exit 0 or 1), got {}:\n{}",
            out.args,
            out.describe(),
            clip(&out.stderr_text())
        ));
        return None;
    }
    match serde_json::from_slice(&out.stdout) {
        Ok(v) => Some(v),
        Err(e) => {
            faults.0.push(format!(
                "valve {:?}: json does not parse ({e}); {} bytes",
                out.args, out.stdout_len
            ));
            None
        }
    }
}

/// The stderr of a run that must be a config or usage error, exit 2.
fn error_text(faults: &mut Faults, out: &Outcome) -> Option<String> {
    if !faults.survived(out) {
        return None;
    }
    let err = out.stderr_text();
    if out.code != Some(2) {
        faults.0.push(format!(
            "valve {:?}: expected exit 2, got {}:\n{}",
            out.args,
            out.describe(),
            clip(&err)
        ));
        return None;
    }
    Some(err)
}

fn clip(text: &str) -> String {
    text.chars().take(1500).collect()
}

/// The `(line, column)` of every `.sage/valve.yml:L:C` in a diagnostic.
fn places(err: &str) -> Vec<(u64, u64)> {
    let key = ".sage/valve.yml:";
    let mut out = Vec::new();
    let mut rest = err;
    while let Some(i) = rest.find(key) {
        rest = &rest[i + key.len()..];
        let mut nums = rest.splitn(3, ':').map(|n| {
            let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        });
        if let (Some(Some(l)), Some(Some(c))) = (nums.next(), nums.next()) {
            out.push((l, c));
        }
    }
    out
}

fn skipped(report: &Value, file: &str) -> Option<String> {
    report["skipped"]
        .as_array()?
        .iter()
        .find_map(|s| (s["file"] == file).then(|| s["reason"].as_str().unwrap_or("").to_string()))
}

fn finding_files(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["file"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn mkfifo(f: &Fixture, rel: &str) {
    let status = std::process::Command::new("mkfifo")
        .arg(f.path().join(rel))
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {rel}");
}

/// A repository with one committed config.
fn repo(config: &str) -> Fixture {
    let f = Fixture::new();
    f.config(config).write("README", "hello\n").commit("init");
    f
}

/// A repository whose (uncommitted) config is `yaml`, for config errors.
fn config_repo(yaml: &[u8]) -> Fixture {
    let f = Fixture::new();
    f.write("a.txt", "x\n").commit("init");
    f.write_bytes(".sage/valve.yml", yaml);
    f
}

fn config_error(case: &str, yaml: &[u8]) -> (Faults, Option<String>) {
    let f = config_repo(yaml);
    let out = run(&f, case, &["check", "--all", "--color", "never"]);
    let mut faults = Faults::default();
    let err = error_text(&mut faults, &out);
    (faults, err)
}

const EVERY_A: &str = "personas:\n  A:\n    triggers: ['a']\n    severity: error\n";

/// `count` findings were made: `MAX_FINDINGS` kept, the rest counted as
/// truncated, every one of them counted as blocking.
fn assert_truncated(faults: &mut Faults, case: &str, r: &Value, count: u64) {
    let kept = r["findings"].as_array().map_or(0, |a| a.len() as u64);
    faults.expect(kept == MAX_FINDINGS, || {
        format!("{case}: kept {kept} findings, max_findings is {MAX_FINDINGS}")
    });
    let truncated = &r["summary"]["truncated"];
    faults.expect(truncated.as_u64() == Some(count - MAX_FINDINGS), || {
        format!(
            "{case}: summary.truncated is {truncated}, expected {}",
            count - MAX_FINDINGS
        )
    });
    let blocking = &r["summary"]["blocking"];
    faults.expect(blocking.as_u64() == Some(count), || {
        format!("{case}: summary.blocking is {blocking}, expected exactly {count}")
    });
}

#[test]
fn alias_bomb_is_a_config_error_at_an_alias() {
    // Nine levels of nine aliases: 9^9 nodes if expanded, in ~500 bytes.
    let mut yaml = format!("a: &a [{}]\n", ["\"lol\""; 9].join(","));
    let names: Vec<char> = ('a'..='i').collect();
    for w in names.windows(2) {
        let aliases = vec![format!("*{}", w[0]); 9].join(",");
        yaml.push_str(&format!("{}: &{} [{aliases}]\n", w[1], w[1]));
    }
    yaml.push_str("personas:\n  A:\n    filters: *i\n");
    assert!(yaml.len() < 600, "{} bytes", yaml.len());

    let (mut faults, err) = config_error("alias bomb", yaml.as_bytes());
    if let Some(err) = err {
        let lines: Vec<&str> = yaml.lines().collect();
        let at_alias = places(&err)
            .iter()
            .any(|&(l, _)| l >= 1 && lines.get(l as usize - 1).is_some_and(|t| t.contains('*')));
        faults.expect(at_alias && err.to_lowercase().contains("alias"), || {
            format!(
                "the diagnostic should name an alias and point at one:\n{}",
                clip(&err)
            )
        });
    }
    faults.done();
}

#[test]
fn forty_thousand_matches_on_one_line_are_linear_and_bounded() {
    let f = repo(EVERY_A);
    f.write("line.txt", &("a".repeat(40_000) + "\n"));
    let out = run(
        &f,
        "40,000 matches on one line",
        &["check", "--all", "--format", "json"],
    );
    let mut faults = Faults::default();
    if let Some(r) = report(&mut faults, &out) {
        assert_truncated(&mut faults, "40,000 matches", &r, 40_000);
    }
    faults.done();
}

#[test]
fn a_multi_megabyte_line_of_matches_is_linear_and_bounded() {
    const LEN: u64 = 4 << 20;
    let f = repo(EVERY_A);
    f.write("line.txt", &("a".repeat(LEN as usize) + "\n"));
    let out = run(
        &f,
        "4 MiB line, every char a match",
        &["check", "--all", "--format", "json"],
    );
    let mut faults = Faults::default();
    if let Some(r) = report(&mut faults, &out) {
        assert_truncated(&mut faults, "4 MiB line", &r, LEN);
    }
    faults.done();
}

#[test]
fn files_of_nothing_but_markers_give_a_bounded_report() {
    // 20 files of 100,000 marker lines each, some broken, some naming no
    // persona: the markers read and listed stay bounded (SPEC §9, §11).
    let f = repo(EVERY_A);
    let body =
        "a valve:ignore[Nobody] reason=\"x\" until=2020-01-01 valve:ignore[\n".repeat(100_000);
    for i in 0..20 {
        f.write(&format!("m{i}.txt"), &body);
    }
    let out = run(
        &f,
        "2,000,000 marker lines",
        &["check", "--all", "--format", "json"],
    );
    let mut faults = Faults::default();
    if let Some(r) = report(&mut faults, &out) {
        let listed = r["suppressions"].as_array().map_or(0, Vec::len);
        faults.expect(listed <= 10_000, || format!("{listed} markers listed"));
        let warned = r["warnings"].as_array().map_or(0, Vec::len);
        faults.expect(warned <= 10_000, || format!("{warned} warnings"));
    }
    faults.done();
}

#[test]
fn a_file_where_every_line_matches_gives_a_bounded_report() {
    const LINES: u64 = 5 << 20; // "a\n" each: 10 MiB
    let f = repo(&format!("max_file_size: 16MiB\n{EVERY_A}"));
    f.write("every.txt", &"a\n".repeat(LINES as usize));
    let out = run(
        &f,
        "10 MiB, every line matches",
        &["check", "--all", "--format", "json"],
    );
    let mut faults = Faults::default();
    faults.expect(out.stdout_len < 20_000_000, || {
        format!(
            "json report of {} bytes: not bounded by max_findings",
            out.stdout_len
        )
    });
    if let Some(r) = report(&mut faults, &out) {
        assert_truncated(&mut faults, "10 MiB every line", &r, LINES);
    }
    faults.done();
}

#[test]
fn huge_triggers_are_a_config_error_quickly_not_gigabytes() {
    let mut yaml = String::from("personas:\n  A:\n    triggers:\n");
    for _ in 0..200 {
        yaml.push_str("      - '\\w{300}'\n");
    }
    let f = config_repo(yaml.as_bytes());
    let out = run(
        &f,
        "200 triggers of \\w{300}",
        &["check", "--all", "--color", "never"],
    );
    let mut faults = Faults::default();
    if let Some(err) = error_text(&mut faults, &out) {
        let lower = err.to_lowercase();
        faults.expect(lower.contains("trigger") || lower.contains("regex"), || {
            format!(
                "the error should say the triggers are too big:\n{}",
                clip(&err)
            )
        });
    }
    if out.signal.is_none() && !out.timed_out {
        faults.expect(out.secs < 10.0, || {
            format!("compiling the triggers took {:.1} s", out.secs)
        });
    }
    faults.done();
}

#[test]
fn a_trigger_that_matches_the_empty_string_is_a_config_error_at_its_line() {
    let mut faults = Faults::default();
    for trigger in ["TODO|", "a*", "(x?)"] {
        let yaml = format!("personas:\n  A:\n    triggers:\n      - 'fine'\n      - '{trigger}'\n");
        let f = config_repo(yaml.as_bytes());
        let out = run(
            &f,
            &format!("empty-matching trigger {trigger}"),
            &["check", "--all"],
        );
        if let Some(err) = error_text(&mut faults, &out) {
            faults.expect(
                places(&err).contains(&(5, 9)) && err.contains("empty"),
                || {
                    format!(
                        "`{trigger}`: expected an error at 5:9 about the empty match:\n{}",
                        clip(&err)
                    )
                },
            );
        }
    }
    faults.done();
}

#[test]
fn a_fifo_in_the_work_tree_is_skipped_as_special_in_every_mode() {
    let f = repo("personas:\n  T:\n    triggers: ['TODO']\n");
    f.write("a.txt", "clean\n")
        .write("was-file", "x\n")
        .commit("a");
    f.write("a.txt", "TODO\n");
    mkfifo(&f, "pipe");
    // A tracked file replaced by a FIFO: a change of the work tree. An
    // untracked FIFO is no change to `--worktree` (`git add -A` skips it).
    f.remove("was-file");
    mkfifo(&f, "was-file");
    let mut faults = Faults::default();
    for (mode, judged) in [
        (vec!["--all"], true),
        (vec!["--worktree"], true),
        (vec!["pipe", "a.txt"], true),
        (vec!["."], true),
        (vec!["pipe"], false),
    ] {
        let mut args = vec!["check", "--format", "json"];
        args.extend(&mode);
        let out = measured(
            &format!("FIFO, check {}", mode.join(" ")),
            Run::new(f.path(), &args)
                .timeout(Duration::from_secs(10))
                .go(),
        );
        if let Some(r) = report(&mut faults, &out) {
            let fifo = if mode == ["--worktree"] {
                "was-file"
            } else {
                "pipe"
            };
            let reason = skipped(&r, fifo);
            faults.expect(reason.as_deref() == Some("special"), || {
                format!(
                    "check {mode:?}: the FIFO {fifo} should be skipped as special, is {reason:?}"
                )
            });
            if judged {
                faults.expect(finding_files(&r).contains(&"a.txt".to_string()), || {
                    format!("check {mode:?}: the rest (a.txt) should still be judged")
                });
            }
        }
    }
    faults.done();
}

#[test]
fn ignore_files_linked_to_dev_zero_are_never_read() {
    let f = repo("personas:\n  T:\n    triggers: ['TODO']\n");
    f.write("a.txt", "TODO\n")
        .write("sub/b.txt", "TODO\n")
        .commit("files");
    for link in [".gitignore", ".ignore", "sub/.gitignore", "sub/.ignore"] {
        std::os::unix::fs::symlink("/dev/zero", f.path().join(link)).expect("symlink");
    }
    let mut faults = Faults::default();
    for mode in [&["--all"][..], &["--worktree"], &["."]] {
        let mut args = vec!["check", "--format", "json"];
        args.extend(mode);
        let out = run(
            &f,
            &format!(".gitignore -> /dev/zero, check {}", mode.join(" ")),
            &args,
        );
        if let Some(r) = report(&mut faults, &out) {
            let files = finding_files(&r);
            if mode != ["--worktree"] {
                faults.expect(
                    files.contains(&"a.txt".into()) && files.contains(&"sub/b.txt".into()),
                    || format!("check {mode:?}: the rest should be judged, found in {files:?}"),
                );
            }
        }
    }
    faults.done();
}

#[test]
fn threads_outside_1_to_1024_is_a_usage_error_at_once() {
    let f = repo("personas:\n  T:\n    triggers: ['TODO']\n");
    let mut faults = Faults::default();
    for n in [
        "0",
        "1025",
        "100000",
        "18446744073709551615",
        "18446744073709551616",
    ] {
        let out = run(
            &f,
            &format!("--threads {n}"),
            &["check", "--all", "--threads", n],
        );
        if let Some(err) = error_text(&mut faults, &out) {
            faults.expect(err.contains("1 to 1024"), || {
                format!(
                    "--threads {n}: the message should say the range:\n{}",
                    clip(&err)
                )
            });
            faults.expect(out.secs < AT_ONCE.as_secs_f64(), || {
                format!("--threads {n}: took {:.1} s", out.secs)
            });
        }
    }
    faults.done();
}

#[test]
fn threads_1_and_1024_work() {
    let f = repo("personas:\n  T:\n    triggers: ['TODO']\n");
    f.write("a.txt", "TODO\n");
    let mut faults = Faults::default();
    for n in ["1", "1024"] {
        let out = run(
            &f,
            &format!("--threads {n}"),
            &["check", "--all", "--format", "json", "--threads", n],
        );
        if let Some(r) = report(&mut faults, &out) {
            faults.expect(finding_files(&r).contains(&"a.txt".into()), || {
                format!("--threads {n}: a.txt should be judged")
            });
        }
    }
    faults.done();
}

/// No line of a diagnostic prints more than 200 characters of valve.yml.
fn assert_short_lines(faults: &mut Faults, case: &str, err: &str) {
    let longest = err.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    faults.expect(longest <= 250, || {
        format!("{case}: a diagnostic line of {longest} characters")
    });
}

#[test]
fn a_config_error_past_column_65535_is_reported_short() {
    let prefix = format!("personas: {{A: {{filters: [\"{}\"], ", "x".repeat(70_000));
    let col = prefix.chars().count() as u64 + 1;
    let yaml = format!("{prefix}severty: error}}}}\n");
    let (mut faults, err) = config_error("unknown key at column 70,040", yaml.as_bytes());
    if let Some(err) = err {
        faults.expect(
            places(&err).contains(&(1, col)) && err.contains("did you mean `severity`"),
            || format!("expected an unknown key at 1:{col}:\n{}", clip(&err)),
        );
        assert_short_lines(&mut faults, "unknown key at 1:70,040", &err);
    }

    let prefix = format!("personas: {{A: {{triggers: [\"{}\", ", "x".repeat(70_000));
    let col = prefix.chars().count() as u64 + 1;
    let yaml = format!("{prefix}\"(unclosed\"]}}}}\n");
    let (more, err) = config_error("invalid regex at column 70,030", yaml.as_bytes());
    faults.0.extend(more.0);
    if let Some(err) = err {
        faults.expect(places(&err).contains(&(1, col)), || {
            format!("expected an invalid regex at 1:{col}:\n{}", clip(&err))
        });
        assert_short_lines(&mut faults, "invalid regex at 1:70,030", &err);
    }
    let pattern = "y".repeat(70_000);
    let yaml = format!("personas:\n  A:\n    triggers: ['{pattern}(']\n");
    let (more, err) = config_error("invalid 70,000-char regex", yaml.as_bytes());
    faults.0.extend(more.0);
    if let Some(err) = err {
        assert_short_lines(&mut faults, "invalid 70,000-char regex", &err);
    }
    faults.done();
}

#[test]
fn five_hundred_errors_list_a_hundred_then_how_many_more() {
    let mut yaml = String::from("personas:\n");
    for i in 0..500 {
        yaml.push_str(&format!("  P{i}:\n    bogus: 1\n"));
    }
    let (mut faults, err) = config_error("500 config errors", yaml.as_bytes());
    if let Some(err) = err {
        let listed = places(&err).len();
        faults.expect(
            (1..=100).contains(&listed) && err.contains(&format!("and {} more", 500 - listed)),
            || {
                format!(
                    "{listed} errors listed; expected at most 100 then `and {} more`",
                    500 - listed.min(100)
                )
            },
        );
    }
    faults.done();
}

#[test]
fn a_config_that_is_not_utf8_names_the_line_and_column() {
    let (mut faults, err) = config_error(
        "non-UTF-8 config",
        b"personas:\n  A:\n    \xfftriggers: [x]\n",
    );
    if let Some(err) = err {
        let named =
            places(&err).contains(&(3, 5)) || (err.contains("line 3") && err.contains("column 5"));
        faults.expect(named && err.contains("UTF-8"), || {
            format!(
                "expected a UTF-8 diagnostic at line 3, column 5:\n{}",
                clip(&err)
            )
        });
    }
    faults.done();
}

#[test]
fn multi_document_yaml_is_a_config_error_at_the_second_document() {
    let yaml = "personas:\n  A:\n    triggers: [x]\n---\npersonas:\n  B:\n    triggers: [y]\n";
    let (mut faults, err) = config_error("two YAML documents", yaml.as_bytes());
    if let Some(err) = err {
        faults.expect(places(&err).iter().any(|&(l, _)| l == 4 || l == 5), || {
            format!(
                "expected an error at the second document (line 4):\n{}",
                clip(&err)
            )
        });
    }
    faults.done();
}

#[test]
fn explicit_tags_are_a_config_error_at_the_tag() {
    let mut faults = Faults::default();
    for (case, yaml, at) in [
        (
            "tag !!str",
            "personas:\n  A:\n    severity: !!str error\n",
            (3, 15),
        ),
        (
            "tag !custom",
            "personas:\n  A: !custom\n    triggers: [x]\n",
            (2, 6),
        ),
    ] {
        let (more, err) = config_error(case, yaml.as_bytes());
        faults.0.extend(more.0);
        if let Some(err) = err {
            faults.expect(places(&err).contains(&at) && err.contains("tag"), || {
                format!(
                    "{case}: expected an error about the tag at {at:?}:\n{}",
                    clip(&err)
                )
            });
        }
    }
    faults.done();
}

#[test]
fn an_index_that_is_a_fifo_is_exit_2_at_once() {
    let f = repo("personas:\n  T:\n    triggers: ['TODO']\n");
    mkfifo(&f, ".git/fifo-index");
    let out = measured(
        "GIT_INDEX_FILE is a FIFO, --staged",
        Run::new(f.path(), &["check", "--staged"])
            .env("GIT_INDEX_FILE", f.path().join(".git/fifo-index"))
            .timeout(Duration::from_secs(10))
            .go(),
    );
    let mut faults = Faults::default();
    if error_text(&mut faults, &out).is_some() {
        faults.expect(out.secs < AT_ONCE.as_secs_f64(), || {
            format!("exit 2 took {:.1} s", out.secs)
        });
    }
    faults.done();
}

#[test]
fn a_file_over_max_file_size_is_skipped_without_reading_it() {
    let f =
        repo("max_file_size: 1KiB\npersonas:\n  A:\n    filters: ['*.txt']\n    triggers: ['a']\n");
    f.write("small.txt", "a\n");
    let mut faults = Faults::default();
    let before = run(
        &f,
        "max_file_size 1KiB, no big file",
        &["check", "--all", "--format", "json"],
    );
    f.write("big.txt", &"a\n".repeat(5 << 20));
    let out = run(
        &f,
        "max_file_size 1KiB, 10 MiB file",
        &["check", "--all", "--format", "json"],
    );
    if let Some(r) = report(&mut faults, &out) {
        let reason = skipped(&r, "big.txt");
        faults.expect(reason.as_deref() == Some("too_large"), || {
            format!("big.txt should be skipped as too_large, is {reason:?}")
        });
        let n = &r["summary"]["files_too_large"];
        faults.expect(n.as_u64() == Some(1), || format!("files_too_large is {n}"));
        faults.expect(finding_files(&r) == ["small.txt"], || {
            format!("only small.txt should fire: {:?}", finding_files(&r))
        });
    }
    // Reading the file would cost its 10 MiB at least.
    if let (Some(small), Some(big)) = (before.peak_kib, out.peak_kib) {
        faults.expect(big < small + 6 * 1024, || {
            format!("peak RSS grew from {small} KiB to {big} KiB: the big file was read")
        });
    }
    faults.done();
}
