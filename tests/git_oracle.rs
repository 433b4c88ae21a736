//! valve's change set must equal git's (SPEC §2.1), renames included: the
//! real `valve` binary is compared with the real `git` CLI on seeded random
//! histories full of the cases where rename pairing is subtle (identical
//! copies, shared file names, edits around the 50% and 75% thresholds,
//! `.js → .ts` conversions, case-only renames, symlinks, CRLF, empty and
//! binary files, files replaced by directories), with names git stores as
//! bytes (not UTF-8, newlines, tabs, quotes, a leading dash, spaces).
//!
//! - `--staged` against `git diff --cached -M --name-status -z`;
//! - `--base A --head B` against `git diff -M --name-status -z $(git merge-base A B) B`;
//! - `--worktree` against `git add -A && git diff --cached -M --name-status -z`
//!   run in a copy, so the repository valve judges is never touched.
//!
//! `--worktree` seeds also vary `core.autocrlf` and `text`/`eol`
//! attributes, so what `git add` would store decides "unchanged?" and
//! rename ids. `--staged` and `--worktree` each seed also pick an index format git
//! writes (SPEC §2.1): version 4, a split index, the untracked cache,
//! `index.skipHash`, a sparse checkout with and without a sparse index
//! (then `git add -A --sparse`, so files present outside the cone count, as
//! in `git status`), or a plain version 2 index.
//!
//! A failure names the seed; `VALVE_ORACLE_SEED=n` reruns just that one,
//! `VALVE_ORACLE_SEEDS=n` hunts over seeds 1..=n.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command as Std;

use common::Fixture;

const SEEDS: u64 = 60;
const CONFIG: &str = "personas:\n  Every: {}\n";

/// xorshift64*: tiny, deterministic, good enough to shuffle histories.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    File {
        lines: Vec<String>,
        crlf: bool,
        /// The last line ends with a newline.
        newline_at_end: bool,
        exec: bool,
    },
    Link(String),
}

impl Node {
    fn file(lines: Vec<String>) -> Node {
        Node::File {
            lines,
            crlf: false,
            newline_at_end: true,
            exec: false,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Node::Link(target) => target.as_bytes().to_vec(),
            Node::File {
                lines,
                crlf,
                newline_at_end,
                ..
            } => {
                let eol = if *crlf { "\r\n" } else { "\n" };
                let mut out = lines.join(eol);
                if *newline_at_end && !lines.is_empty() {
                    out.push_str(eol);
                }
                out.into_bytes()
            }
        }
    }
}

const DIRS: &[&str] = &[
    "",
    "src/",
    "src/app/",
    "lib/",
    "lib/util/",
    "docs/",
    "test/",
    "pkg/a/",
    "pkg/b/",
];
/// File names that occur in several folders, as in real trees.
const COMMON: &[&str] = &["index.js", "Makefile", "README.md", "mod.rs", "util.ts"];
const EXTS: &[&str] = &["txt", "js", "ts", "md", "rs"];
/// Names git stores as bytes: in the model a char U+F7xx is the raw byte
/// 0xxx, which is not UTF-8 on its own (`fs_name`).
const ODD: &[&str] = &[
    "with space.txt",
    "tab\there.txt",
    "new\nline.txt",
    "quo\"te.txt",
    "apo'strophe.md",
    "-leading-dash.txt",
    "café.txt",
    "caf\u{F7E8}.txt",
    "caf\u{F7E9}.txt",
    "\u{F7FF}raw.txt",
    "mixé\u{F7C3}.js",
];

/// A model name as the file system and git have it.
fn fs_name(model: &str) -> OsString {
    let mut out = Vec::with_capacity(model.len());
    for c in model.chars() {
        match c as u32 {
            raw @ 0xF700..=0xF7FF => out.push((raw - 0xF700) as u8),
            _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    OsString::from_vec(out)
}

/// A raw name as the model writes it (the inverse of `fs_name`).
fn model_name(raw: &[u8]) -> String {
    let mut out = String::new();
    for chunk in raw.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push(char::from_u32(0xF700 + u32::from(*b)).expect("private use"));
        }
    }
    out
}

/// A raw name as SPEC §2.1 says valve shows it: each byte that is not
/// part of valid UTF-8 as `\xNN`, lowercase. Written here from the SPEC,
/// not shared with valve, so the two are checked against each other.
fn shown(raw: &[u8]) -> String {
    let mut out = String::new();
    for chunk in raw.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The index formats git writes, one per seed (SPEC §2.1).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Plain,
    Version4,
    Split,
    UntrackedCache,
    SkipHash,
    Sparse,
    SparseIndex,
}

const FORMATS: &[Format] = &[
    Format::Plain,
    Format::Version4,
    Format::Split,
    Format::UntrackedCache,
    Format::SkipHash,
    Format::Sparse,
    Format::SparseIndex,
];

/// Folders a sparse checkout may keep (with `.sage`, and every file at the
/// top, as cone mode does).
const CONES: &[&str] = &["src", "lib", "docs", "test", "pkg", "same"];

/// A repository and the model of its work tree.
struct World {
    f: Fixture,
    rng: Rng,
    files: BTreeMap<String, Node>,
    families: Vec<Vec<String>>,
    serial: u32,
    /// Tracked files a sparse checkout left out of the work tree.
    absent: BTreeMap<String, Node>,
    format: Format,
}

impl World {
    fn new(seed: u64) -> World {
        let mut rng = Rng::new(seed);
        let families = (0..6)
            .map(|fam| {
                let n = 6 + rng.below(30);
                (0..n)
                    .map(|i| {
                        let width = if rng.chance(10) {
                            70 + rng.below(80)
                        } else {
                            0
                        };
                        format!(
                            "family {fam} line {i} {}{}",
                            rng.below(1000),
                            "=".repeat(width)
                        )
                    })
                    .collect()
            })
            .collect();
        let f = repository();
        f.config(CONFIG);
        f.write(".gitignore", "*.log\nbuild/\n");
        World {
            f,
            rng,
            files: BTreeMap::new(),
            families,
            serial: 0,
            absent: BTreeMap::new(),
            format: Format::Plain,
        }
    }

    fn sparse(&self) -> bool {
        matches!(self.format, Format::Sparse | Format::SparseIndex)
    }

    /// `git add -A`, outside the sparse cone too (what `git status` sees).
    fn add_all(&self) {
        if self.sparse() {
            self.git(&["add", "-A", "--sparse"]);
        } else {
            self.git(&["add", "-A"]);
        }
    }

    /// Switches the index to `format` (after the first commit).
    fn use_format(&mut self, format: Format) {
        self.format = format;
        let config = |key: &str, value: &str| {
            self.git(&["config", key, value]);
        };
        match format {
            Format::Plain => {}
            Format::Version4 => {
                config("index.version", "4");
                self.git(&["update-index", "--index-version", "4"]);
            }
            Format::Split => {
                config("core.splitIndex", "true");
                self.git(&["update-index", "--split-index"]);
            }
            Format::UntrackedCache => {
                config("core.untrackedCache", "true");
                self.git(&["update-index", "--untracked-cache"]);
                self.git(&["status", "--porcelain"]);
            }
            Format::SkipHash => {
                config("index.skipHash", "true");
                self.git(&["update-index", "--force-write-index"]);
            }
            Format::Sparse | Format::SparseIndex => {
                let mut args = vec![
                    "sparse-checkout",
                    "set",
                    if format == Format::SparseIndex {
                        "--sparse-index"
                    } else {
                        "--no-sparse-index"
                    },
                    ".sage",
                ];
                let first = self.rng.below(CONES.len());
                args.push(CONES[first]);
                if self.rng.chance(50) {
                    args.push(CONES[(first + 1 + self.rng.below(CONES.len() - 1)) % CONES.len()]);
                }
                self.git(&args);
                let gone: Vec<String> = self
                    .files
                    .keys()
                    .filter(|p| std::fs::symlink_metadata(self.abs(p)).is_err())
                    .cloned()
                    .collect();
                for path in gone {
                    let node = self.files.remove(&path).expect("known path");
                    self.absent.insert(path, node);
                }
            }
        }
    }

    fn abs(&self, path: &str) -> PathBuf {
        self.f.path().join(fs_name(path))
    }

    /// git with `path` (a model name) as the last argument, as raw bytes.
    fn git_path(&self, args: &[&str], path: &str) -> Vec<u8> {
        let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
        all.push(fs_name(path));
        git_bytes(self.f.path(), &all)
    }

    fn fresh(&mut self) -> u32 {
        self.serial += 1;
        self.serial
    }

    /// Lines of one family, lightly varied so copies are near, not equal.
    fn body(&mut self) -> Vec<String> {
        let fam = self.rng.below(self.families.len());
        let mut lines = self.families[fam].clone();
        let tweaks = self.rng.below(3);
        for _ in 0..tweaks {
            let i = self.rng.below(lines.len());
            let n = self.fresh();
            lines[i] = format!("variant {n}");
        }
        lines
    }

    /// Rewrites about `percent`% of the lines, sometimes growing or shrinking.
    fn edit(&mut self, lines: &mut Vec<String>, percent: u64) {
        for line in lines.iter_mut() {
            if self.rng.chance(percent) {
                let n = self.fresh();
                *line = format!("edited {n} {}", self.rng.below(100));
            }
        }
        if self.rng.chance(30) {
            let n = self.fresh();
            lines.push(format!("appended {n}"));
        }
        if self.rng.chance(20) && lines.len() > 2 {
            let i = self.rng.below(lines.len());
            lines.remove(i);
        }
    }

    fn conflicts(&self, path: &str) -> bool {
        let known = |p: &str| self.files.contains_key(p) || self.absent.contains_key(p);
        if known(path) || path.starts_with(".sage") {
            return true;
        }
        let mut prefix = String::new();
        for part in path.split('/') {
            prefix.push_str(part);
            if prefix.len() < path.len() && known(&prefix) {
                return true;
            }
            prefix.push('/');
        }
        let dir = format!("{path}/");
        self.files
            .keys()
            .chain(self.absent.keys())
            .any(|k| k.starts_with(&dir))
    }

    fn new_path(&mut self, ext: Option<&str>) -> String {
        loop {
            let dir = if self.rng.chance(20) {
                format!("moved{}/", self.rng.below(4))
            } else {
                self.rng.pick(DIRS).to_string()
            };
            let name = match ext {
                Some(ext) => format!("f{}.{ext}", self.fresh()),
                None if self.rng.chance(8) => self.rng.pick(ODD).to_string(),
                None if self.rng.chance(30) => self.rng.pick(COMMON).to_string(),
                None => format!("f{}.{}", self.fresh(), self.rng.pick(EXTS)),
            };
            let path = format!("{dir}{name}");
            if !self.conflicts(&path) {
                return path;
            }
        }
    }

    fn put(&mut self, path: &str, node: Node) {
        let abs = self.abs(path);
        if let Some(parent) = abs.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        let _ = std::fs::remove_file(&abs);
        match &node {
            Node::Link(target) => std::os::unix::fs::symlink(target, &abs).expect("symlink"),
            Node::File { exec, .. } => {
                std::fs::write(&abs, node.bytes()).expect("write");
                set_exec(&abs, *exec);
            }
        }
        self.files.insert(path.to_string(), node);
    }

    fn take(&mut self, path: &str) -> Node {
        let node = self.files.remove(path).expect("known path");
        let abs = self.abs(path);
        std::fs::remove_file(&abs).expect("rm");
        // Empty folders would block a file of the same name later.
        let mut dir = abs.parent();
        while let Some(d) = dir {
            if d == self.f.path() || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        node
    }

    fn any_path(&mut self, filter: impl Fn(&str, &Node) -> bool) -> Option<String> {
        let paths: Vec<String> = self
            .files
            .iter()
            .filter(|(p, n)| filter(p, n))
            .map(|(p, _)| p.clone())
            .collect();
        (!paths.is_empty()).then(|| self.rng.pick(&paths).clone())
    }

    fn populate(&mut self) {
        let n = 18 + self.rng.below(20);
        for _ in 0..n {
            let path = self.new_path(None);
            let node = match self.rng.below(20) {
                0 => Node::file(Vec::new()),
                1 => Node::Link(format!("../target{}", self.rng.below(3))),
                2 => {
                    // An identical copy of an existing file.
                    match self.any_path(|_, n| matches!(n, Node::File { .. })) {
                        Some(p) => self.files[&p].clone(),
                        None => Node::file(self.body()),
                    }
                }
                3 => {
                    let mut lines = self.body();
                    lines[0] = format!("bin\0ary {}", lines[0]);
                    Node::File {
                        lines,
                        crlf: self.rng.chance(50),
                        newline_at_end: true,
                        exec: false,
                    }
                }
                4 => Node::File {
                    lines: self.body(),
                    crlf: true,
                    newline_at_end: self.rng.chance(70),
                    exec: false,
                },
                _ => Node::File {
                    lines: self.body(),
                    crlf: false,
                    newline_at_end: self.rng.chance(90),
                    exec: self.rng.chance(5),
                },
            };
            self.put(&path, node);
        }
        // Identical twins sharing a file name across folders, and a third
        // copy under another name that sorts first: ties for git's
        // tie-breaks once they are edited.
        let twins = self.body();
        for path in ["lib/other.txt", "pkg/a/twin.txt", "pkg/b/twin.txt"] {
            if !self.conflicts(path) {
                self.put(path, Node::file(twins.clone()));
            }
        }
        // Several identical copies of one file, in one folder.
        let copies = self.body();
        for i in 0..2 + self.rng.below(3) {
            let path = format!("same/copy{i}.txt");
            if !self.conflicts(&path) {
                self.put(&path, Node::file(copies.clone()));
            }
        }
    }

    /// One random change to the work tree.
    fn mutate(&mut self) {
        let is_file = |_: &str, n: &Node| matches!(n, Node::File { .. });
        if !self.absent.is_empty() && self.rng.chance(20) {
            // A file outside the sparse cone comes back, as it was or edited.
            let paths: Vec<String> = self.absent.keys().cloned().collect();
            let path = self.rng.pick(&paths).clone();
            let mut node = self.absent.remove(&path).expect("absent path");
            if self.rng.chance(50) {
                if let Node::File { lines, .. } = &mut node {
                    let percent = 10 + self.rng.below(50) as u64;
                    self.edit(lines, percent);
                }
            }
            if self.conflicts(&path) {
                self.absent.insert(path, node);
            } else {
                self.put(&path, node);
            }
            return;
        }
        match self.rng.below(18) {
            // identical twins deleted, one or two edited copies added
            17 => {
                let twins: Vec<String> = ["lib/other.txt", "pkg/a/twin.txt", "pkg/b/twin.txt"]
                    .iter()
                    .filter(|p| self.files.contains_key(**p))
                    .map(|p| p.to_string())
                    .collect();
                let Some(first) = twins.first() else { return };
                let mut node = self.files[first].clone();
                for p in &twins {
                    self.take(p);
                }
                if let Node::File { lines, .. } = &mut node {
                    let percent = 15 + self.rng.below(40) as u64;
                    self.edit(lines, percent);
                }
                for _ in 0..1 + self.rng.below(2) {
                    let to = format!("moved{}/twin.txt", self.fresh());
                    self.put(&to, node.clone());
                }
            }
            // exact rename, anywhere
            0 | 1 => {
                if let Some(from) = self.any_path(|_, _| true) {
                    let node = self.take(&from);
                    let to = self.new_path(None);
                    self.put(&to, node);
                }
            }
            // rename with edits of 10–70% of the lines
            2 | 3 => {
                if let Some(from) = self.any_path(is_file) {
                    let mut node = self.take(&from);
                    if let Node::File { lines, .. } = &mut node {
                        let percent = 10 + self.rng.below(61) as u64;
                        self.edit(lines, percent);
                    }
                    let to = self.new_path(None);
                    self.put(&to, node);
                }
            }
            // move to another folder, same file name, maybe edited
            4 => {
                if let Some(from) = self.any_path(is_file) {
                    let name = from.rsplit('/').next().unwrap_or(&from).to_string();
                    let mut node = self.take(&from);
                    if self.rng.chance(60) {
                        if let Node::File { lines, .. } = &mut node {
                            let percent = 5 + self.rng.below(50) as u64;
                            self.edit(lines, percent);
                        }
                    }
                    let dir = format!("{}{}", self.rng.pick(DIRS), self.rng.pick(&["", "sub/"]));
                    let to = format!("{dir}{name}");
                    let to = if self.conflicts(&to) {
                        self.new_path(None)
                    } else {
                        to
                    };
                    self.put(&to, node);
                }
            }
            // case-only rename
            5 => {
                if let Some(from) = self.any_path(|_, _| true) {
                    let (dir, name) = match from.rfind('/') {
                        Some(i) => (&from[..=i], &from[i + 1..]),
                        None => ("", from.as_str()),
                    };
                    let to = format!("{dir}{}", name.to_uppercase());
                    if to != from && !self.conflicts(&to) {
                        let node = self.take(&from);
                        self.put(&to, node);
                    }
                }
            }
            // .js → .ts conversion with edits
            6 => {
                let from = match self.any_path(|p, n| p.ends_with(".js") && is_file(p, n)) {
                    Some(p) => p,
                    None => {
                        let p = self.new_path(Some("js"));
                        let lines = self.body();
                        self.put(&p, Node::file(lines));
                        return;
                    }
                };
                let mut node = self.take(&from);
                if let Node::File { lines, .. } = &mut node {
                    let percent = 5 + self.rng.below(40) as u64;
                    self.edit(lines, percent);
                }
                let to = format!("{}.ts", &from[..from.len() - 3]);
                let to = if self.conflicts(&to) {
                    self.new_path(Some("ts"))
                } else {
                    to
                };
                self.put(&to, node);
            }
            // move a folder of identical copies together
            7 => {
                let dest = format!("moved{}/", self.fresh());
                let group: Vec<String> = self
                    .files
                    .keys()
                    .filter(|p| p.starts_with("same/"))
                    .cloned()
                    .collect();
                for from in group {
                    let node = self.take(&from);
                    let to = format!("{dest}{}", &from["same/".len()..]);
                    self.put(&to, node);
                }
            }
            8 | 9 => {
                if let Some(p) = self.any_path(|_, _| true) {
                    self.take(&p);
                }
            }
            // an addition: new, a copy of a file, or empty
            10 => {
                let node = match self.rng.below(3) {
                    0 => Node::file(Vec::new()),
                    1 => match self.any_path(is_file) {
                        Some(p) => self.files[&p].clone(),
                        None => Node::file(self.body()),
                    },
                    _ => Node::file(self.body()),
                };
                let to = self.new_path(None);
                self.put(&to, node);
            }
            // an edit in place, or a file emptied
            11 | 12 => {
                if let Some(p) = self.any_path(is_file) {
                    let mut node = self.files[&p].clone();
                    if let Node::File { lines, .. } = &mut node {
                        if self.rng.chance(15) {
                            lines.clear();
                        } else {
                            let percent = 5 + self.rng.below(60) as u64;
                            self.edit(lines, percent);
                        }
                    }
                    self.put(&p, node);
                }
            }
            // symlinks: retarget, or rename with a new target
            13 => {
                if let Some(from) = self.any_path(|_, n| matches!(n, Node::Link(_))) {
                    let target = format!("../elsewhere{}", self.fresh());
                    if self.rng.chance(50) {
                        self.put(&from, Node::Link(target));
                    } else {
                        self.take(&from);
                        let to = self.new_path(None);
                        self.put(&to, Node::Link(target));
                    }
                }
            }
            // rename converting the line endings
            14 => {
                if let Some(from) = self.any_path(is_file) {
                    let mut node = self.take(&from);
                    if let Node::File { crlf, .. } = &mut node {
                        *crlf = !*crlf;
                    }
                    let to = self.new_path(None);
                    self.put(&to, node);
                }
            }
            // a file replaced by a folder that holds it
            15 => {
                if let Some(from) = self.any_path(is_file) {
                    let node = self.take(&from);
                    let to = format!("{from}/inner.txt");
                    if self.conflicts(&to) {
                        self.put(&from, node);
                    } else {
                        self.put(&to, node);
                    }
                }
            }
            // mode change, or a file turned into a symlink
            _ => {
                if let Some(p) = self.any_path(is_file) {
                    let mut node = self.files[&p].clone();
                    if self.rng.chance(50) {
                        if let Node::File { exec, .. } = &mut node {
                            *exec = !*exec;
                        }
                    } else {
                        node = Node::Link(format!("../to{}", self.fresh()));
                    }
                    self.put(&p, node);
                }
            }
        }
    }

    fn mutations(&mut self) {
        let n = 3 + self.rng.below(10);
        for _ in 0..n {
            self.mutate();
        }
    }

    fn git(&self, args: &[&str]) -> String {
        self.f.git(args)
    }
}

/// A fresh repository on `main`. Without fsync and background maintenance,
/// which cost more than everything else here and change no answer.
fn repository() -> Fixture {
    let f = Fixture::bare_dir();
    f.git(&["init", "-q", "-b", "main", "--template="]);
    for (key, value) in [
        ("core.fsync", "none"),
        ("maintenance.auto", "false"),
        ("gc.auto", "0"),
    ] {
        f.git(&["config", key, value]);
    }
    f
}

fn commit(f: &Fixture, message: &str) {
    f.git(&["add", "-A"]);
    f.git(&["commit", "-q", "--no-verify", "-m", message]);
}

fn set_exec(path: &Path, exec: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if exec { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// One entry of `git diff --name-status -z`: the status letters and the
/// path(s) as valve shows them, and whether a name is not UTF-8.
struct Record {
    status: String,
    paths: Vec<String>,
    not_utf8: bool,
}

/// `git diff --name-status -z` output (no quoting: names are raw bytes).
fn records(out: &[u8]) -> Vec<Record> {
    let mut tokens = out.split(|b| *b == 0);
    let mut all = Vec::new();
    while let Some(status) = tokens.next() {
        if status.is_empty() {
            break;
        }
        let status = String::from_utf8(status.to_vec()).expect("status letters");
        let count = if status.starts_with('R') || status.starts_with('C') {
            2
        } else {
            1
        };
        let raw: Vec<&[u8]> = (0..count)
            .map(|_| tokens.next().expect("a path after the status"))
            .collect();
        all.push(Record {
            status,
            not_utf8: raw.iter().any(|p| std::str::from_utf8(p).is_err()),
            paths: raw.iter().map(|p| shown(p)).collect(),
        });
    }
    all
}

/// git's entries as "K path" / "R old new".
fn parse_git(records: &[Record]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| match (r.status.as_bytes()[0], r.paths.as_slice()) {
            (b'R', [old, new]) => format!("R {old} {new}"),
            (b'T', [path]) => format!("M {path}"),
            (_, [path]) => format!("{} {path}", &r.status[..1]),
            _ => panic!("unexpected git entry {:?} {:?}", r.status, r.paths),
        })
        .collect()
}

fn git_bytes(dir: &Path, args: &[OsString]) -> Vec<u8> {
    let mut cmd = Std::new("git");
    common::hermetic(&mut cmd);
    let out = cmd.args(args).current_dir(dir).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// git's change set from `git diff <args> -M --name-status -z` in `dir`.
fn git_diff(dir: &Path, args: &[&str]) -> Vec<Record> {
    let mut all: Vec<OsString> = vec!["diff".into()];
    all.extend(args.iter().map(OsString::from));
    all.extend(["-M", "--name-status", "-z"].map(OsString::from));
    records(&git_bytes(dir, &all))
}

/// valve's change set from the findings of a path-only persona.
fn valve_changes(f: &Fixture, args: &[&str]) -> BTreeSet<String> {
    let mut all = args.to_vec();
    all.extend(["--fail-on", "never"]);
    let report = f.json(&all);
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        // What only the index holds is no part of the change set (SPEC §8).
        .filter(|x| x["stage"] != "index_only")
        .map(|x| {
            let file = x["file"].as_str().expect("file");
            match x["change"].as_str().expect("change") {
                "renamed" => format!("R {} {file}", x["old_file"].as_str().expect("old_file")),
                "added" => format!("A {file}"),
                "deleted" => format!("D {file}"),
                "modified" => format!("M {file}"),
                other => panic!("unknown change {other}"),
            }
        })
        .collect()
}

fn hermetic_git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Std::new("git");
    common::hermetic(&mut cmd);
    let out = cmd.args(args).current_dir(dir).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies a repository with its links and modes, to run `git add` on.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().expect("type");
        if kind.is_symlink() {
            let target = std::fs::read_link(&src).expect("readlink");
            std::os::unix::fs::symlink(target, &dst).expect("symlink");
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// `VALVE_ORACLE_SEED=n` runs seed n alone; `VALVE_ORACLE_SEEDS=n` runs
/// seeds 1..=n (a longer hunt than the default).
fn seeds() -> Vec<u64> {
    let number = |var: &str| {
        std::env::var(var)
            .ok()
            .map(|s| s.parse::<u64>().expect("a seed number"))
    };
    match (number("VALVE_ORACLE_SEED"), number("VALVE_ORACLE_SEEDS")) {
        (Some(seed), _) => vec![seed],
        (None, Some(count)) => (1..=count).collect(),
        (None, None) => (1..=SEEDS).collect(),
    }
}

/// What git's answers covered, so a generator that drifts into testing
/// nothing fails loudly.
#[derive(Default)]
struct Coverage(BTreeMap<&'static str, usize>);

impl Coverage {
    fn add(&mut self, records: &[Record]) {
        for record in records {
            let mut hit = |k| *self.0.entry(k).or_default() += 1;
            if record.not_utf8 {
                hit("name that is not UTF-8");
            }
            let s = &record.status;
            match record.paths.as_slice() {
                [old, new] if s.starts_with('R') => {
                    hit(if s == "R100" {
                        "exact rename"
                    } else {
                        "inexact rename"
                    });
                    let name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
                    if name(old) == name(new) && old != new {
                        hit("same file name, other folder");
                    }
                    if old.to_lowercase() == new.to_lowercase() {
                        hit("case-only rename");
                    }
                    if old.ends_with(".js") && new.ends_with(".ts") {
                        hit(".js to .ts");
                    }
                    if new.ends_with("/inner.txt") {
                        hit("file replaced by a folder");
                    }
                }
                [_] => hit(match &s[..1] {
                    "A" => "added",
                    "D" => "deleted",
                    "M" => "modified",
                    _ => "type change",
                }),
                _ => {}
            }
        }
    }

    fn check(&self, mode: &str) {
        if std::env::var("VALVE_ORACLE_SEED").is_ok() {
            return;
        }
        for kind in [
            "exact rename",
            "inexact rename",
            "same file name, other folder",
            "case-only rename",
            ".js to .ts",
            "file replaced by a folder",
            "added",
            "deleted",
            "modified",
            "name that is not UTF-8",
        ] {
            assert!(
                self.0.get(kind).is_some_and(|&n| n > 0),
                "{mode}: the random histories never produced a {kind}: {:?}",
                self.0
            );
        }
    }
}

fn report(mode: &str, mismatches: &[String]) {
    assert!(
        mismatches.is_empty(),
        "{mode}: valve and git disagree on {} seed(s):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn difference(seed: u64, valve: &BTreeSet<String>, git: &BTreeSet<String>) -> Option<String> {
    (valve != git).then(|| {
        let only_valve: Vec<&String> = valve.difference(git).collect();
        let only_git: Vec<&String> = git.difference(valve).collect();
        format!("seed {seed}: only valve {only_valve:?}, only git {only_git:?}")
    })
}

#[test]
fn staged_changes_equal_git_diff_cached() {
    let mut mismatches = Vec::new();
    let mut coverage = Coverage::default();
    for seed in seeds() {
        let mut w = World::new(seed);
        w.populate();
        commit(&w.f, "base");
        w.use_format(FORMATS[seed as usize % FORMATS.len()]);
        w.mutations();
        w.add_all();
        // Unstaged noise must not matter: --staged reads the index.
        w.mutations();
        let out = git_diff(w.f.path(), &["--cached"]);
        coverage.add(&out);
        let valve = valve_changes(&w.f, &["--staged"]);
        mismatches.extend(difference(seed, &valve, &parse_git(&out)));
    }
    report("--staged", &mismatches);
    coverage.check("--staged");
}

#[test]
fn range_changes_equal_git_diff_from_the_merge_base() {
    let mut mismatches = Vec::new();
    let mut coverage = Coverage::default();
    for seed in seeds() {
        let mut w = World::new(seed);
        w.populate();
        commit(&w.f, "base");
        w.git(&["checkout", "-q", "-b", "feature"]);
        w.mutations();
        commit(&w.f, "feature 1");
        if w.rng.chance(50) {
            w.mutations();
            commit(&w.f, "feature 2");
        }
        // main moves on too, so the merge base is not main's tip.
        let feature = w.files.clone();
        w.git(&["checkout", "-q", "main"]);
        w.files = model_of(&w.f);
        w.mutations();
        commit(&w.f, "main moves");
        w.git(&["checkout", "-q", "feature"]);
        w.files = feature;
        let base = w.git(&["merge-base", "main", "feature"]);
        let out = git_diff(w.f.path(), &[base.trim(), "feature"]);
        coverage.add(&out);
        let valve = valve_changes(&w.f, &["--base", "main", "--head", "feature"]);
        mismatches.extend(difference(seed, &valve, &parse_git(&out)));
    }
    report("--base", &mismatches);
    coverage.check("--base");
}

#[test]
fn worktree_changes_equal_git_add_all_then_diff_cached() {
    let mut mismatches = Vec::new();
    let mut coverage = Coverage::default();
    for seed in seeds() {
        let mut w = World::new(seed);
        if seed % 3 == 0 {
            // What `git add` stores depends on these (SPEC §2.1).
            w.f.write(
                ".gitattributes",
                "*.md text\n*.js -text\n*.ts text=auto eol=crlf\n",
            );
        }
        w.populate();
        commit(&w.f, "base");
        match seed % 4 {
            0 => w.git(&["config", "core.autocrlf", "true"]),
            1 => w.git(&["config", "core.autocrlf", "input"]),
            _ => String::new(),
        };
        w.use_format(FORMATS[seed as usize % FORMATS.len()]);
        w.mutations();
        // Outside the cone too; nothing changes in a full checkout.
        let sparse = "--sparse";
        // Part of the work is staged, part not, part untracked or ignored.
        match w.rng.below(3) {
            0 => w.add_all(),
            1 => {
                if let Some(p) = w.any_path(|_, _| true) {
                    w.git_path(&["add", sparse, "--"], &p);
                }
            }
            _ => {
                if let Some(p) = w.any_path(|_, _| true) {
                    let tracked = !w.git_path(&["ls-files", "--"], &p).is_empty();
                    if tracked {
                        w.git_path(&["rm", "-q", sparse, "--cached", "--"], &p);
                    }
                }
            }
        }
        w.mutations();
        let ignored = w
            .any_path(|_, n| matches!(n, Node::File { .. }))
            .map(|p| w.files[&p].clone());
        if let Some(node) = ignored {
            // A copy that git ignores is never a rename destination.
            w.f.write_bytes("build/ignored.txt", &node.bytes());
            w.f.write_bytes("notes.log", &node.bytes());
        }
        let before = w.f.state();
        let valve = valve_changes(&w.f, &["--worktree"]);
        assert_eq!(
            before,
            w.f.state(),
            "seed {seed}: valve changed the repository"
        );
        let copy = tempfile::tempdir().expect("temp dir");
        copy_tree(w.f.path(), copy.path());
        hermetic_git(copy.path(), &["add", "-A", sparse]);
        let out = git_diff(copy.path(), &["--cached"]);
        coverage.add(&out);
        mismatches.extend(difference(seed, &valve, &parse_git(&out)));
    }
    report("--worktree", &mismatches);
    coverage.check("--worktree");
}

/// `--all` lists what git tracks or would add that is in the work tree:
/// `git ls-files --cached --others --exclude-standard`, less what is not
/// on disk as a file, a link or a special file (deleted, a folder now, left
/// out of a sparse checkout, or beyond a link that replaced a folder).
#[test]
fn all_lists_what_git_tracks_or_would_add_that_is_on_disk() {
    let mut mismatches = Vec::new();
    let mut formats = BTreeSet::new();
    for seed in seeds() {
        let mut w = World::new(seed);
        w.f.write(".gitignore", "build/\n*.log\n");
        w.populate();
        // Tracked though ignored: listed, as git lists them.
        w.f.write("build/kept.txt", "kept\n")
            .write("build/sub/deep.txt", "kept\n")
            .write("kept.log", "kept\n");
        w.git(&["add", "-f", "build", "kept.log"]);
        commit(&w.f, "base");
        let format = FORMATS[seed as usize % FORMATS.len()];
        formats.insert(format!("{format:?}"));
        w.use_format(format);
        w.mutations();
        // Untracked, ignored, and a tracked folder replaced by a link.
        w.f.write("build/new.txt", "ignored\n")
            .write("notes.log", "ignored\n")
            .write("fresh.txt", "untracked\n");
        // A tracked folder replaced by a link to a folder outside that has
        // the same files: none of them is listed, whether the link is
        // ignored (`build`) or inside an ignored folder (`build/sub`).
        let linked = match seed % 4 {
            0 => Some("build"),
            2 => Some("build/sub"),
            _ => None,
        };
        if let Some(linked) = linked {
            let outside = tempfile::tempdir().expect("temp dir");
            for name in ["kept.txt", "deep.txt", "sub/deep.txt"] {
                let path = outside.path().join(name);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(path, "outside\n").expect("write");
            }
            // Left out of a sparse checkout, it may not be there.
            let _ = std::fs::remove_dir_all(w.abs(linked));
            let parent = w.abs(linked).parent().expect("parent").to_path_buf();
            std::fs::create_dir_all(parent).expect("mkdir");
            std::os::unix::fs::symlink(outside.path(), w.abs(linked)).expect("symlink");
            std::mem::forget(outside);
        }
        let report = w.f.json(&["--all", "--fail-on", "never"]);
        let valve: BTreeSet<String> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|x| x["file"].as_str().expect("file").to_string())
            .chain(
                report["skipped"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| x["file"].as_str().expect("file").to_string()),
            )
            .collect();
        let listed = git_bytes(
            w.f.path(),
            &[
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ]
            .map(OsString::from),
        );
        let on_disk = |raw: &[u8]| {
            let mut at = w.f.path().to_path_buf();
            let parts: Vec<&[u8]> = raw.split(|&b| b == b'/').collect();
            for (i, part) in parts.iter().enumerate() {
                at.push(OsStr::from_bytes(part));
                let Ok(meta) = std::fs::symlink_metadata(&at) else {
                    return false;
                };
                let last = i + 1 == parts.len();
                if !last && !meta.file_type().is_dir() {
                    return false;
                }
                if last {
                    return !meta.file_type().is_dir();
                }
            }
            false
        };
        let git: BTreeSet<String> = listed
            .split(|&b| b == 0)
            .filter(|raw| !raw.is_empty() && on_disk(raw))
            .map(shown)
            .collect();
        mismatches.extend(difference(seed, &valve, &git));
    }
    report("--all", &mismatches);
    if std::env::var("VALVE_ORACLE_SEED").is_err() {
        assert_eq!(
            formats.len(),
            FORMATS.len(),
            "every index format: {formats:?}"
        );
    }
}

/// The model of a checked-out tree, read back from disk (after checkout).
fn model_of(f: &Fixture) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let listed = git_bytes(f.path(), &["ls-files".into(), "-s".into(), "-z".into()]);
    for line in listed.split(|b| *b == 0).filter(|l| !l.is_empty()) {
        let tab = line
            .iter()
            .position(|b| *b == b'\t')
            .expect("ls-files line");
        let (meta, raw) = (&line[..tab], &line[tab + 1..]);
        let path = model_name(raw);
        if path.starts_with(".sage") || path == ".gitignore" {
            continue;
        }
        let abs = f.path().join(OsStr::from_bytes(raw));
        let node = if meta.starts_with(b"120000") {
            Node::Link(
                std::fs::read_link(&abs)
                    .expect("readlink")
                    .to_string_lossy()
                    .into_owned(),
            )
        } else {
            // Content as bytes split back into lines; only used for choosing
            // and re-writing paths, so exact line endings do not matter.
            let data = std::fs::read(&abs).expect("read");
            let text = String::from_utf8_lossy(&data);
            let crlf = text.contains("\r\n");
            let newline_at_end = text.ends_with('\n');
            let lines: Vec<String> = text
                .lines()
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect();
            Node::File {
                lines,
                crlf,
                newline_at_end,
                exec: meta.starts_with(b"100755"),
            }
        };
        out.insert(path, node);
    }
    out
}

/// Beyond git's rename limit (1000² candidate pairs left after exact and
/// same-name matches) git skips inexact detection and warns; valve lists
/// the same additions and deletions, and keeps the exact and same-name
/// renames, as git does.
#[test]
fn beyond_the_rename_limit_valve_lists_what_git_lists() {
    let f = repository();
    f.config(CONFIG);
    let body = |i: usize| -> String { (0..8).map(|l| format!("file {i} line {l}\n")).collect() };
    for i in 0..1002 {
        f.write(&format!("a/f{i}.txt"), &body(i));
    }
    f.write("a/exact.txt", "exactly this\n");
    commit(&f, "base");
    std::fs::remove_dir_all(f.path().join("a")).expect("rm");
    for i in 0..1001 {
        f.write(&format!("b/g{i}.txt"), &format!("{}extra\n", body(i)));
    }
    f.write("b/f1001.txt", &format!("{}extra\n", body(1001)));
    f.write("b/exact2.txt", "exactly this\n");
    f.git(&["add", "-A"]);
    let git = parse_git(&git_diff(f.path(), &["--cached"]));
    assert!(git.contains("R a/exact.txt b/exact2.txt"));
    assert!(git.contains("R a/f1001.txt b/f1001.txt"));
    assert!(git.contains("A b/g0.txt"));
    assert_eq!(valve_changes(&f, &["--staged"]), git);
}

/// valve pairs with git's defaults whatever the repository's `diff.*`
/// settings say: here they would switch renames off and limit them to 2².
#[test]
fn repository_diff_settings_do_not_change_the_renames() {
    let f = repository();
    f.config(CONFIG);
    let body = |i: usize| -> String { (0..10).map(|l| format!("file {i} line {l}\n")).collect() };
    for i in 0..3 {
        f.write(&format!("old/a{i}.txt"), &body(i));
    }
    commit(&f, "base");
    std::fs::remove_dir_all(f.path().join("old")).expect("rm");
    for i in 0..3 {
        f.write(&format!("new/b{i}.txt"), &format!("{}one more\n", body(i)));
    }
    f.git(&["add", "-A"]);
    for (key, value) in [("diff.renames", "false"), ("diff.renameLimit", "2")] {
        f.git(&["config", key, value]);
    }
    let configured = parse_git(&git_diff(f.path(), &["--cached"]));
    assert!(
        !configured.iter().any(|c| c.starts_with('R')),
        "{configured:?}"
    );
    let defaults = parse_git(&records(&git_bytes(
        f.path(),
        &[
            "-c",
            "diff.renameLimit=1000",
            "diff",
            "--cached",
            "-M",
            "--name-status",
            "-z",
        ]
        .map(OsString::from),
    )));
    assert_eq!(defaults.iter().filter(|c| c.starts_with('R')).count(), 3);
    assert_eq!(valve_changes(&f, &["--staged"]), defaults);
}
