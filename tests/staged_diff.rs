//! `--staged` must list exactly the changes `git diff --cached -M` lists,
//! whatever mix of nested additions, deletions, edits and renames is
//! staged. valve prunes with the index cache-tree; this compares it with
//! git on many seeded random histories.

mod common;

use std::collections::BTreeSet;

use common::Fixture;

/// A tiny deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn body(seed: u64) -> String {
    (0..12)
        .map(|i| format!("line {i} of file {seed}\n"))
        .collect()
}

fn valve_changes(f: &Fixture) -> BTreeSet<String> {
    let r = f.json(&["--staged", "--fail-on", "never"]);
    r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| match x["change"].as_str() {
            Some("renamed") => format!(
                "R {} {}",
                x["old_file"].as_str().unwrap_or(""),
                x["file"].as_str().unwrap_or("")
            ),
            Some(kind) => format!(
                "{} {}",
                &kind[..1].to_uppercase(),
                x["file"].as_str().unwrap_or("")
            ),
            None => String::new(),
        })
        .collect()
}

fn git_changes(f: &Fixture) -> BTreeSet<String> {
    f.git(&[
        "-c",
        "diff.renames=true",
        "diff",
        "--cached",
        "--name-status",
        "-M",
        "--no-ext-diff",
    ])
    .lines()
    .filter(|l| !l.ends_with(".sage/valve.yml"))
    .map(|l| {
        let parts: Vec<&str> = l.split('\t').collect();
        match parts.as_slice() {
            [s, old, new] if s.starts_with('R') => format!("R {old} {new}"),
            [s, path] => format!("{} {path}", &s[..1]),
            _ => l.to_string(),
        }
    })
    .collect()
}

#[test]
fn staged_changes_match_git_on_random_histories() {
    let dirs = ["", "a/", "a/b/", "a/b/c/", "d/", "d/e/", "f/"];
    for seed in 1..=30u64 {
        let mut rng = Lcg(seed);
        let f = Fixture::new();
        f.config("personas:\n  Every: {}\n");
        let mut files: Vec<String> = Vec::new();
        for i in 0..30 {
            let path = format!("{}f{i}.txt", dirs[rng.next(dirs.len() as u64) as usize]);
            f.write(&path, &body(i));
            files.push(path);
        }
        f.commit("base");
        // Commit a second round so the cache-tree is written by a real commit.
        let p = files[rng.next(files.len() as u64) as usize].clone();
        f.write(&p, &format!("{}changed\n", body(99)));
        f.commit("second");
        let steps = 2 + rng.next(6);
        for next in 100..100 + steps {
            let i = rng.next(files.len() as u64) as usize;
            match rng.next(4) {
                0 => {
                    // modify
                    f.write(&files[i], &format!("{}edit {next}\n", body(i as u64)));
                }
                1 => {
                    // delete
                    let _ = std::fs::remove_file(f.path().join(&files[i]));
                }
                2 => {
                    // add, sometimes in a brand-new directory
                    let dir = if rng.next(2) == 0 {
                        format!("new{next}/deep/")
                    } else {
                        dirs[rng.next(dirs.len() as u64) as usize].to_string()
                    };
                    let path = format!("{dir}n{next}.txt");
                    f.write(&path, &body(next));
                    files.push(path);
                }
                _ => {
                    // rename (content kept) into another directory
                    let to = format!("{}r{next}.txt", dirs[rng.next(dirs.len() as u64) as usize]);
                    if f.path().join(&files[i]).exists() && !f.path().join(&to).exists() {
                        f.git(&["mv", &files[i], &to]);
                        files.push(to);
                    }
                }
            }
        }
        f.git(&["add", "-A"]);
        assert_eq!(valve_changes(&f), git_changes(&f), "seed {seed}");
    }
}
