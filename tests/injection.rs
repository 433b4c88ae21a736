//! Inert output (SPEC §9): hostile file names, contents, persona names,
//! messages and responses, through all six formats, stderr, the other
//! commands and `watch`. What a stranger's pull request puts in the tree
//! must not start a workflow command, reach the terminal as a control
//! sequence, become markdown markup, or break json.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command as Std, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;

use common::{Fixture, hermetic, valve_bin};
use regex::Regex;
use serde_json::Value;

/// A persona whose name, message and response are hostile, that fires on
/// every path; one whose triggers fire on the hostile lines of `content.txt`.
const CONFIG: &str = r#"max_file_size: 1KiB
personas:
  "Evil\e[31m\n::error::name\x9b ##[error]p <b>@everyone":
    filters: ["**"]
    severity: error
    message: "m\r\n::warning::msg \e]0;t\x07 <b>x</b> [a](http://e) ![i](http://e/i.png) @everyone </details> | ##[warning]m"
    response: "r\n::notice::resp"
    examples:
      quiet: [{ path: "q\n::error::ex.txt", content: "x" }]
  Ctl:
    triggers: ['title', 'set-output', 'crlone', 'legacy', '<img[^>]*>', 'details>']
    severity: warning
"#;

/// Hostile names, each a plain text file that the first persona judges.
const NAMES: &[&str] = &[
    "x\n::error::x.txt",
    "cr\r::error::cr.txt",
    "esc\x1b[31mred.txt",
    "c1\u{9b}31m.txt",
    "osc\x1b]0;t\x07.txt",
    "pipe|name.txt",
    "<img src=x>.txt",
    "[a](e).txt",
    "![i](e).txt",
    "@everyone.txt",
    "</details>",
    "::error::lead.txt",
    " \u{a0}::warning::space.txt",
    "##[error]legacy.txt",
    "a`b``c.txt",
    // Long with spaces: miette wraps its help line, and a wrapped line
    // would begin (after the indent) with `::`.
    "wrapaaaaaaaa ::error::w ::error::w ::error::w ::error::w ::error::w ::error::w ::error::w ::error::w ::error::w ::error::w ::error::w.txt",
];

/// Lines of `content.txt`, each hostile in the matched text or around it.
const CONTENT: &str = "before\nosc \x1b]0;title\x07 here\n::set-output name=x::pwned\nleft\r::error::crlone\n##[error]legacy\n<img src=x> [a](http://e) @everyone </details> \u{9b}x\ncrlf title\r\n";

const OLD: &str = "old\n::error::old.txt";

fn hostile_repo() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG)
        .write(OLD, "one\ntwo\nthree\nfour\n")
        .commit("init");
    f.git(&["mv", "--", OLD, "renamed.txt"]);
    for name in NAMES {
        f.write(name, "plain\n");
    }
    f.write("content.txt", CONTENT);
    f.write_bytes("bin\n::error::skip.bin", b"\0\x1b[31m");
    f.write("##[warning]big\x1b[31m.txt", &"y".repeat(2048));
    f.git(&["add", "-A"]);
    f
}

const FORMATS: &[&str] = &["human", "json", "ndjson", "sarif", "github", "markdown"];

/// Runs valve; returns (exit code, stdout, stderr).
fn run(f: &Fixture, args: &[&str]) -> (i32, String, String) {
    let out = f.valve(args).output().expect("valve runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The lines the GitHub runner reads: it splits on CR, LF and CRLF.
fn runner_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\r', '\n'])
}

/// A workflow command exactly as valve builds one: kind, escaped
/// properties (no raw `:` or `,`), then the message.
fn valve_command() -> Regex {
    Regex::new(
        r"^::(error|warning|notice) (file=[^,:]*(,line=\d+,col=\d+,endLine=\d+,endColumn=\d+)?,)?title=[^,:]*::",
    )
    .expect("regex")
}

/// No line the runner could read as a workflow command, except, when
/// `github`, the annotations valve wrote itself; and no legacy `##[` form
/// anywhere (the runner finds that one mid-line).
fn assert_no_forged_commands(what: &str, text: &str, github: bool) {
    let ours = valve_command();
    for line in runner_lines(text) {
        // The runner trims leading whitespace (.NET's rules, which Rust's
        // `trim_start` shares) before it looks for `::`.
        let t = line.trim_start();
        if t.starts_with("::") {
            assert!(
                github && t == line && ours.is_match(line),
                "{what}: a line starts a workflow command valve did not write: {line:?}\n{text}"
            );
        }
    }
    assert!(
        !text.contains("##["),
        "{what}: holds a legacy workflow command `##[`:\n{text}"
    );
}

/// No C0 (but tab and line feed), DEL or C1 character, once valve's own
/// colour codes are taken out when `color`.
fn assert_no_controls(what: &str, text: &str, color: bool) {
    let text = if color {
        Regex::new("\x1b\\[[0-9;]*m")
            .expect("regex")
            .replace_all(text, "")
            .into_owned()
    } else {
        text.to_string()
    };
    let bad: Vec<char> = text
        .chars()
        .filter(|c| matches!(*c, '\0'..='\x08' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}'))
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: raw control characters {bad:?} in:\n{text}"
    );
}

/// Removes the inline code spans valve writes (a run of backticks up to the
/// next run of the same length), where markup is inert.
fn outside_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let run = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let after = &rest[start + run..];
        let fence = "`".repeat(run);
        let mut close = None;
        let mut from = 0;
        while let Some(i) = after[from..].find(&fence) {
            let at = from + i;
            let len = after[at..].len() - after[at..].trim_start_matches('`').len();
            if len == run {
                close = Some(at);
                break;
            }
            from = at + len;
        }
        match close {
            Some(at) => rest = &after[at + run..],
            None => {
                out.push_str(&rest[start..start + run]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Pipes that end a GFM table cell: those not directly after a backslash.
fn cell_breaks(line: &str) -> usize {
    let b = line.as_bytes();
    (0..b.len())
        .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
        .count()
}

/// Markdown from data is never markup: no HTML, link, image, autolink or
/// mention outside code spans, no heading, no table row with a cell too
/// many, and the `<details>` block opened and closed once, by valve.
fn assert_inert_markdown(text: &str) {
    let mention = Regex::new("@[A-Za-z0-9]").expect("regex");
    let autolink = Regex::new("[A-Za-z]://").expect("regex");
    let mut header_breaks = None;
    let mut details = (0, 0);
    for line in text.lines() {
        if line.starts_with("<details><summary>") && line.ends_with("not searched</summary>") {
            details.0 += 1;
            continue;
        }
        if line == "</details>" {
            details.1 += 1;
            continue;
        }
        if line.starts_with('#') {
            assert!(
                line == "## valve" || line == "### Findings",
                "a heading from data: {line:?}"
            );
        }
        if line.starts_with('|') {
            let n = cell_breaks(line);
            let expected = *header_breaks.get_or_insert(n);
            assert_eq!(
                n, expected,
                "a table row with a cell break from data: {line:?}"
            );
        } else {
            header_breaks = None;
        }
        let prose = outside_code_spans(line);
        for bad in ["<", "](", "![", "@everyone", "www."] {
            assert!(
                !prose.contains(bad),
                "markdown markup {bad:?} from data in {line:?}"
            );
        }
        assert!(!mention.is_match(&prose), "a mention in {line:?}");
        assert!(!autolink.is_match(&prose), "an autolink in {line:?}");
    }
    assert_eq!(details, (1, 1), "one <details> block, valve's own:\n{text}");
}

#[test]
fn every_format_and_stderr_stay_inert() {
    let f = hostile_repo();
    for format in FORMATS {
        let (code, out, err) = run(&f, &["check", "--staged", "--format", format]);
        assert_eq!(code, 1, "{format}: the error persona blocks\n{err}");
        assert_no_forged_commands(format, &out, *format == "github");
        assert_no_forged_commands(&format!("{format} stderr"), &err, false);
        assert_no_controls(&format!("{format} stderr"), &err, false);
        if matches!(*format, "human" | "github" | "markdown") {
            assert_no_controls(format, &out, false);
        }
    }
}

#[test]
fn human_output_escapes_data_in_headers_diagnostics_snippets_and_lists() {
    let f = hostile_repo();
    let sgr = Regex::new("\x1b\\[[0-9;]*m").expect("regex");
    for color in ["never", "always"] {
        let (code, out, err) = run(&f, &["check", "--staged", "-v", "--color", color]);
        assert_eq!(code, 1, "{err}");
        let what = format!("human --color {color}");
        assert_no_forged_commands(&what, &out, false);
        assert_no_controls(&what, &out, color == "always");
        // The data is there, shown escaped: one datum, one line (valve's
        // own colour, which highlights a match, taken out).
        let out = sgr.replace_all(&out, "").into_owned();
        for shown in [
            "x\\x0a::error::x.txt (added)",
            "cr\\x0d::error::cr.txt",
            "esc\\x1b[31mred.txt",
            "c1\\x9b31m.txt",
            "\\x3a:error::lead.txt (added)",
            " \u{a0}\\x3a:warning::space.txt",
            "##\\x5berror]legacy.txt",
            "(renamed from old\\x0a::error::old.txt)",
            "Evil\\x1b[31m\\x0a::error::name\\x9b ##\\x5berror]p",
            "m\\x0d\\x0a::warning::msg",
            "osc \\x1b]0;title\\x07 here",
            "left\\x0d::error::crlone",
            "  bin\\x0a::error::skip.bin",
        ] {
            assert!(out.contains(shown), "{what}: no {shown:?} in:\n{out}");
        }
        // A help line that wrapping began with `::`, defused.
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with("\\x3a:error::w ::error::w")),
            "{what}: the wrapped line is gone:\n{out}"
        );
    }
}

#[test]
fn the_stderr_summary_and_the_report_file_are_inert() {
    let f = hostile_repo();
    let report = "out\n::error::o\x1b[31m.md";
    let (code, out, err) = run(
        &f,
        &[
            "check", "--staged", "--format", "markdown", "--output", report,
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("out\\x0a::error::o\\x1b[31m.md"), "{err}");
    assert_no_forged_commands("stderr summary", &err, false);
    assert_no_controls("stderr summary", &err, false);
    let written = std::fs::read_to_string(f.path().join(report)).expect("report written");
    assert_inert_markdown(&written);
}

#[test]
fn github_commands_carry_escaped_data_and_plain_lines_are_inert() {
    // Few findings, so none is beyond the budget.
    let f = Fixture::new();
    f.config(CONFIG);
    for name in [
        "x\n::error::x.txt",
        "cr\r::error::cr.txt",
        "::error::lead.txt",
    ] {
        f.write(name, "plain\n");
    }
    f.write_bytes("bin\n::error::skip.bin", b"\0\x1b[31m");
    f.write("##[warning]big\x1b[31m.txt", &"y".repeat(2048));
    f.git(&["add", "-A"]);
    let (_, out, _) = run(&f, &["check", "--staged", "--format", "github"]);
    assert_no_forged_commands("github", &out, true);
    assert_no_controls("github", &out, false);
    assert!(
        out.contains("::error file=%3A%3Aerror%3A%3Alead.txt,title=valve Evil"),
        "{out}"
    );
    assert!(
        out.contains("::error file=x%0A%3A%3Aerror%3A%3Ax.txt,title=valve Evil\\x1b[31m%0A%3A%3Aerror%3A%3Aname\\x9b ##\\x5berror]p <b>@everyone::error: m%0D%0A::warning::msg \\x1b]0;t\\x07"),
        "{out}"
    );
    assert!(out.contains("file=cr%0D%3A%3Aerror%3A%3Acr.txt,"), "{out}");
    // The skipped-files line names the hostile files, defused.
    let skipped = out
        .lines()
        .find(|l| l.contains("not searched:"))
        .unwrap_or_default();
    assert!(skipped.starts_with("valve: "), "{out}");
    assert!(
        skipped.contains("bin\\x0a::error::skip.bin (binary)")
            && skipped.contains("##\\x5bwarning]big\\x1b[31m.txt (too_large)"),
        "{skipped}"
    );
}

#[test]
fn markdown_from_data_is_never_markup() {
    let f = hostile_repo();
    let (_, out, _) = run(&f, &["check", "--staged", "--format", "markdown"]);
    assert_inert_markdown(&out);
    // The hostile names are there, in code spans.
    for shown in [
        "`<img src=x>.txt`",
        "`[a](e).txt`",
        "`@everyone.txt`",
        "`pipe\\|name.txt`",
        "`x\\x0a::error::x.txt`",
        "```a`b``c.txt```",
        "| `</details>` |",
        "- `bin\\x0a::error::skip.bin` — binary",
    ] {
        assert!(out.contains(shown), "no {shown:?} in:\n{out}");
    }
    assert!(out.contains("&lt;b&gt;x&lt;/b&gt;"), "{out}");
}

/// Each hostile datum comes back from the parsed report exactly.
#[test]
fn json_ndjson_and_sarif_stay_valid_and_exact() {
    let f = hostile_repo();
    let (_, out, _) = run(&f, &["check", "--staged", "--format", "json"]);
    let doc: Value = serde_json::from_str(&out).expect("json parses");
    let files: Vec<&str> = doc["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["file"].as_str())
        .collect();
    for name in NAMES {
        assert!(files.contains(name), "{name:?} not in {files:?}");
    }
    assert!(doc["findings"].as_array().into_iter().flatten().any(|f| {
        f["old_file"] == OLD
            && f["persona"]
                .as_str()
                .is_some_and(|p| p.starts_with("Evil\x1b[31m\n"))
    }));
    assert!(
        doc["skipped"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["file"] == "bin\n::error::skip.bin")
    );

    let (_, out, _) = run(&f, &["check", "--staged", "--format", "ndjson"]);
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(
        events.last().map(|e| &e["type"]),
        Some(&Value::from("summary"))
    );
    assert!(events.iter().any(|e| e["file"] == "##[error]legacy.txt"));
    assert!(events.iter().any(|e| e["match"] == "legacy"));

    let (_, out, _) = run(&f, &["check", "--staged", "--format", "sarif"]);
    let sarif: Value = serde_json::from_str(&out).expect("sarif parses");
    let run = &sarif["runs"][0];
    assert!(
        run["tool"]["driver"]["rules"][0]["id"]
            .as_str()
            .is_some_and(|id| id.contains("\n::error::name\u{9b} ##[error]p"))
    );
    assert!(
        run["invocations"][0]["toolExecutionNotifications"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["message"]["text"] == "skipped bin\n::error::skip.bin (binary)")
    );
}

#[test]
fn personas_explain_and_test_output_is_inert() {
    let f = hostile_repo();
    let (code, out, err) = run(&f, &["personas"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Evil\\x1b[31m\\x0a::error::name\\x9b"),
        "{out}"
    );
    assert!(out.contains("response:    r\\x0a::notice::resp"), "{out}");
    let (code, out, err) = run(&f, &["explain", "x\n::error::x.txt", "::error::lead.txt"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("x\\x0a::error::x.txt\n"), "{out}");
    assert!(out.contains("\\x3a:error::lead.txt\n"), "{out}");
    let (code, test_out, err) = run(&f, &["test"]);
    assert_eq!(code, 1, "the quiet example fires: {err}");
    assert!(test_out.contains("q\\x0a::error::ex.txt"), "{test_out}");
    for (what, text) in [("personas", &out), ("test", &test_out), ("stderr", &err)] {
        assert_no_forged_commands(what, text, false);
        assert_no_controls(what, text, false);
    }
}

#[test]
fn config_errors_on_stderr_are_inert() {
    let f = Fixture::new();
    f.config("personas:\n  P:\n    triggers: ['x']\n    \"bad\\e[31m\\n::error::key\": 1\n");
    let (code, _, err) = run(&f, &["check", "--all"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad\\x1b[31m\\x0a::error::key"), "{err}");
    assert_no_forged_commands("config error", &err, false);
    assert_no_controls("config error", &err, false);
    // A lone CR and escape sequences in the source shown under the error.
    f.config("personas:\n  P:\n    triggers: ['x']\n# c\r::error::cr \x1b]0;t\x07\n  :\n");
    let (code, _, err) = run(&f, &["check", "--all"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("# c\\x0d::error::cr \\x1b]0;t\\x07"), "{err}");
    assert_no_forged_commands("config source", &err, false);
    assert_no_controls("config source", &err, false);
}

#[test]
fn watch_human_lines_are_inert() {
    let f = hostile_repo();
    let mut cmd = Std::new(valve_bin());
    hermetic(&mut cmd);
    let mut child = cmd
        .args(["watch", "--debounce", "30"])
        .current_dir(f.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("valve watch starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            text.push_str(&String::from_utf8_lossy(&line));
            line.clear();
            // The first evaluation ends with its summary line.
            if text.contains(" now, ") {
                break;
            }
        }
        let _ = tx.send(text);
    });
    let text = rx.recv_timeout(Duration::from_secs(15));
    let _ = child.kill();
    let _ = child.wait();
    let text = text.expect("the first evaluation within 15 s");
    assert!(text.contains("x\\x0a::error::x.txt"), "{text}");
    assert!(text.contains("\\x3a:error::lead.txt"), "{text}");
    assert_no_forged_commands("watch", &text, false);
    assert_no_controls("watch", &text, false);
}
