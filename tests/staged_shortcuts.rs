//! `--staged` settles a directory by its cache-tree node alone when the
//! node is valid and equals `HEAD`'s tree, and skips whole runs of index
//! entries by binary search. These shortcuts must never hide what git
//! lists or refuses: a collapsed directory of a sparse index that differs
//! from `HEAD`, an unmerged entry, an intent-to-add entry, files directly
//! inside a directory next to changed subdirectories. git is the oracle.

mod common;

use std::collections::BTreeSet;

use common::Fixture;

const EVERY: &str = "personas:\n  Every: {}\n";

/// `git diff --cached -M --name-status` in the same form.
fn git_staged(f: &Fixture) -> BTreeSet<String> {
    common::name_status(&f.git(&["diff", "--cached", "-M", "--name-status"]))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Where the entries of an uncompressed (version 2 or 3) index end.
fn entries_end(index: &[u8]) -> usize {
    let be16 = |at: usize| usize::from(u16::from_be_bytes([index[at], index[at + 1]]));
    let count = u32::from_be_bytes(index[8..12].try_into().expect("count")) as usize;
    let mut pos = 12;
    for _ in 0..count {
        let flags = be16(pos + 60);
        let fixed = if flags & 0x4000 != 0 { 64 } else { 62 };
        let len = flags & 0x0fff;
        assert!(len < 0x0fff, "short paths only");
        pos += (fixed + len + 8) & !7;
    }
    pos
}

#[test]
fn a_collapsed_directory_that_differs_from_head_is_listed() {
    let f = Fixture::new();
    f.config(EVERY);
    for dir in ["b", "c"] {
        for i in 1..=2 {
            f.write(&format!("{dir}/f{i}.txt"), &format!("{dir} {i}\n"));
        }
    }
    f.commit("base");
    f.write("b/f1.txt", "b 1 changed\n");
    f.write("b/new.txt", "new\n");
    f.commit("second");
    f.git(&["sparse-checkout", "set", "--sparse-index", "c", ".sage"]);
    // `HEAD` moves back; the index keeps `b/` collapsed at the second
    // commit's tree, its cache-tree node valid but not `HEAD`'s.
    f.git(&["reset", "-q", "--soft", "HEAD~1"]);
    let sparse = f.git(&["ls-files", "--sparse", "-s"]);
    assert!(
        sparse
            .lines()
            .any(|l| l.starts_with("040000") && l.ends_with("\tb/")),
        "{sparse}"
    );
    let git = git_staged(&f);
    assert_eq!(git, set(&["M b/f1.txt", "A b/new.txt"]));
    assert_eq!(f.judged_changes(&["--staged"]), git);
}

#[test]
fn an_unmerged_entry_under_a_cache_tree_equal_to_head_is_refused() {
    let f = Fixture::new();
    f.config(EVERY);
    f.write("c.txt", "base\n");
    f.write("d/other.txt", "other\n");
    f.commit("base");
    f.git(&["checkout", "-q", "-b", "side"]);
    f.write("c.txt", "side\n");
    f.commit("side");
    f.git(&["checkout", "-q", "main"]);
    f.write("c.txt", "main\n");
    f.commit("main");
    f.git(&["write-tree"]);
    let clean = std::fs::read(f.path().join(".git/index")).expect("index");
    let mut merge = std::process::Command::new("git");
    common::hermetic(&mut merge);
    let out = merge
        .args(["merge", "-q", "side"])
        .current_dir(f.path())
        .output()
        .expect("git runs");
    assert!(!out.status.success(), "the merge conflicts");
    // The conflicted entries, followed by the clean index's extensions:
    // a cache-tree whose root is valid and equals `HEAD`'s tree.
    let conflicted = std::fs::read(f.path().join(".git/index")).expect("index");
    let end = entries_end(&conflicted);
    let mut spliced = conflicted[..end].to_vec();
    spliced.extend_from_slice(&clean[entries_end(&clean)..clean.len() - 20]);
    assert_eq!(&spliced[end..end + 4], b"TREE");
    // The root node: an empty name, "<entries> <subtrees>\n", its id.
    let body = &spliced[end + 8..];
    let nl = body.iter().position(|b| *b == b'\n').expect("root node");
    let hex: String = body[nl + 1..nl + 21]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, f.git(&["rev-parse", "HEAD^{tree}"]).trim());
    spliced.extend_from_slice(&[0; 20]);
    std::fs::write(f.path().join(".git/index"), &spliced).expect("write index");
    let out = f.valve(&["check", "--staged"]).assert().code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("unmerged"), "{stderr}");
    assert!(stderr.contains("c.txt"), "{stderr}");
}

#[test]
fn an_intent_to_add_entry_under_a_cache_tree_equal_to_head_is_not_staged() {
    let f = Fixture::new();
    f.config(EVERY);
    f.write("a.txt", "a\n");
    f.write("d/e/f.txt", "f\n");
    f.commit("base");
    f.write("n.txt", "intent\n");
    f.write("d/e/g.txt", "intent deeper\n");
    f.git(&["add", "-N", "n.txt", "d/e/g.txt"]);
    // write-tree leaves intent-to-add entries out: the cache-tree is
    // valid again and equals `HEAD`'s.
    let tree = f.git(&["write-tree"]);
    assert_eq!(tree, f.git(&["rev-parse", "HEAD^{tree}"]));
    assert!(git_staged(&f).is_empty());
    assert!(f.judged_changes(&["--staged"]).is_empty());
    // With a real change beside them, only that change is staged.
    f.write("a.txt", "a changed\n");
    f.git(&["add", "a.txt"]);
    let git = git_staged(&f);
    assert_eq!(git, set(&["M a.txt"]));
    assert_eq!(f.judged_changes(&["--staged"]), git);
}

#[test]
fn files_directly_in_a_dirty_directory_are_found_between_its_subdirectories() {
    let f = Fixture::new();
    f.config(EVERY);
    for dir in ["", "p/", "p/a/", "p/b/", "p/b/c/", "p/z/"] {
        for name in ["0.txt", "m.txt", "zz.txt"] {
            f.write(&format!("{dir}{name}"), &format!("{dir}{name}\n"));
        }
    }
    f.commit("base");
    // Changes directly in `p/` and in `p/b/`, before, between and after
    // their subdirectories' runs of entries; `p/a/` and `p/z/` untouched.
    f.write("p/0.txt", "edited\n");
    f.write("p/m.txt", "edited\n");
    f.write("p/n.txt", "new between\n");
    f.write("p/zz.txt", "edited\n");
    f.write("p/b/m.txt", "edited\n");
    f.remove("p/b/zz.txt");
    f.write("p/b/c/m.txt", "edited deeper\n");
    f.git(&["add", "-A"]);
    let git = git_staged(&f);
    assert_eq!(git.len(), 7, "{git:?}");
    assert_eq!(f.judged_changes(&["--staged"]), git);
}
