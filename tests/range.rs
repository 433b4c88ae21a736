//! `--base A --head B` on real repositories: the range's diff, split across
//! threads, lists what one walk lists, nested configs included; and what
//! is judged is `B`'s blobs, never the work tree, even when `B` is checked
//! out (SPEC §2).

mod common;

use common::{Fixture, hits};

const CONFIG: &str = r#"
personas:
  Debris:
    triggers: ['dbg!\(']
    severity: warning
    scope: changed
  Every:
    filters: ["**"]
    severity: info
"#;

/// The report without what differs between two runs of one check.
fn stable(mut report: serde_json::Value) -> serde_json::Value {
    report["summary"]["duration_ms"] = serde_json::Value::Null;
    if let Some(findings) = report["findings"].as_array_mut() {
        for f in findings {
            f["timestamp"] = serde_json::Value::Null;
        }
    }
    report
}

/// A range with changes at several depths: edits, additions, deletions,
/// a renamed file, a folder that became a file and one that is new, and a
/// nested config deep down whose persona judges its folder.
fn layered() -> (Fixture, String, String) {
    let f = Fixture::new();
    f.config(CONFIG);
    for i in 0..6 {
        for j in 0..4 {
            f.write(&format!("p{i}/m{j}/a.rs"), "fn a() {}\n");
            f.write(&format!("p{i}/m{j}/b.rs"), "fn b() {}\n");
        }
    }
    f.write("p0/m0/deep/er/x.rs", "fn x() {}\n")
        .write(
            "p0/m0/deep/er/.sage/valve.yml",
            "personas:\n  Inner:\n    triggers: ['inner!']\n",
        )
        .write("flip/inside.rs", "fn f() {}\n")
        .write(
            "moved/from.rs",
            "fn long_enough_to_be_paired() {}\nfn and_more() {}\nfn still() {}\n",
        )
        .write("top.rs", "fn top() {}\n")
        .commit("base");
    let base = f.git(&["rev-parse", "HEAD"]).trim().to_string();
    for i in 0..6 {
        for j in 0..4 {
            f.write(&format!("p{i}/m{j}/a.rs"), "fn a() {}\ndbg!(1);\n");
        }
    }
    std::fs::remove_file(f.path().join("p3/m1/b.rs")).expect("rm");
    std::fs::remove_dir_all(f.path().join("flip")).expect("rm");
    std::fs::remove_file(f.path().join("moved/from.rs")).expect("rm");
    f.write("p0/m0/deep/er/x.rs", "fn x() {}\ninner!\ndbg!(2);\n")
        .write("flip", "dbg!(3);\n")
        .write("p5/new/one/two.rs", "dbg!(4);\n")
        .write(
            "p2/to.rs",
            "fn long_enough_to_be_paired() {}\nfn and_more() {}\nfn still() {}\ndbg!(5);\n",
        )
        .write("top.rs", "fn top() {}\ndbg!(6);\n")
        .commit("head");
    let head = f.git(&["rev-parse", "HEAD"]).trim().to_string();
    (f, base, head)
}

#[test]
fn the_split_diff_reports_what_one_thread_does() {
    let (f, base, head) = layered();
    let run = |threads: &str| {
        stable(f.json(&[
            "--base",
            &base,
            "--head",
            &head,
            "--fail-on",
            "never",
            "--threads",
            threads,
        ]))
    };
    let one = run("1");
    let found = hits(&one);
    // Every kind of change is there, the nested persona judged its folder.
    assert!(
        found
            .iter()
            .any(|(p, file, _)| p == "Every" && file == "p2/to.rs")
    );
    let every: Vec<_> = one["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|x| x["persona"] == "Every")
        .map(|x| {
            format!(
                "{} {}",
                x["change"].as_str().unwrap_or(""),
                x["file"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in [
        "renamed p2/to.rs",
        "deleted p3/m1/b.rs",
        "deleted flip/inside.rs",
        "added flip",
        "added p5/new/one/two.rs",
        "modified p0/m0/deep/er/x.rs",
        "modified top.rs",
    ] {
        assert!(every.iter().any(|e| e == expected), "{expected}: {every:?}");
    }
    assert!(
        found
            .iter()
            .any(|(p, file, _)| p == "p0/m0/deep/er/:Inner" && file == "p0/m0/deep/er/x.rs"),
        "{found:?}"
    );
    assert_eq!(one["summary"]["files_changed"], 31, "{}", one["summary"]);
    for threads in ["2", "4", "16"] {
        assert_eq!(run(threads), one, "--threads {threads}");
    }
}

#[test]
fn a_checked_out_head_is_judged_from_its_blobs_not_the_work_tree() {
    let (f, base, head) = layered();
    let args = [
        "--base",
        base.as_str(),
        "--head",
        head.as_str(),
        "--fail-on",
        "never",
    ];
    let clean = stable(f.json(&args));
    // Touched, same bytes: nothing changes.
    let top = f.path().join("top.rs");
    let bytes = std::fs::read(&top).expect("read");
    std::fs::write(&top, &bytes).expect("touch");
    assert_eq!(stable(f.json(&args)), clean);
    // Edited and not committed: the head's blob is still what is judged,
    // its finding kept, the work tree's new line not seen.
    f.write("top.rs", "fn top() {}\n// dbg! gone\n");
    f.write("p1/m1/a.rs", "fn a() {}\ndbg!(1);\ndbg!(7);\n");
    let edited = stable(f.json(&args));
    assert_eq!(edited, clean);
    let found = hits(&edited);
    assert!(found.contains(&("Debris".to_string(), "top.rs".to_string(), Some(2))));
    assert!(!found.contains(&("Debris".to_string(), "p1/m1/a.rs".to_string(), Some(3))));
}

#[test]
fn a_file_git_converts_is_judged_from_its_blob() {
    let f = Fixture::new();
    f.config("personas:\n  CarriageReturn:\n    triggers: ['\\r']\n")
        .write(".gitattributes", "*.txt text eol=crlf\n")
        .write("a.txt", "one\n")
        .commit("base");
    let base = f.git(&["rev-parse", "HEAD"]).trim().to_string();
    f.write("a.txt", "one\ntwo\n").commit("head");
    let head = f.git(&["rev-parse", "HEAD"]).trim().to_string();
    // The checkout wrote CRLF; the blob holds LF.
    std::fs::remove_file(f.path().join("a.txt")).expect("rm");
    f.git(&["checkout", "--", "a.txt"]);
    let on_disk = std::fs::read(f.path().join("a.txt")).expect("read");
    assert_eq!(on_disk, b"one\r\ntwo\r\n", "the work tree is converted");
    let report = f.json(&["--base", &base, "--head", &head, "--fail-on", "never"]);
    assert_eq!(hits(&report), vec![], "{report}");
    assert_eq!(
        report["summary"]["files_scanned"], 1,
        "{}",
        report["summary"]
    );
}
