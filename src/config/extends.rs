//! `extends:` (SPEC §12): a config includes other repository files of the
//! same shape; their personas come first.
//!
//! An entry is a path relative to the folder the config governs (the root
//! for the root config), inside the repository: no URL, no absolute path,
//! no `..` out of it. Each file is read through a `Reader` (the work tree,
//! or one revision's tree) as an own file: a regular file, never through a
//! link, within the size limit. Every problem with an entry (a cycle, a
//! missing file, a link, a folder, a path outside) is a config issue at
//! that entry in the including file; problems inside an included file point
//! into it. An included file gives only `personas` and further `extends`.
//!
//! Order: depth-first, each file's included personas before its own, in
//! `extends` order. A persona defined again later replaces the earlier one
//! in the earlier one's place, so the order never depends on who redefines.

use miette::SourceSpan;

use super::{RawConfig, RawPersona, Source, Spanned, Validator, parse_extended, parse_lenient};
use crate::error::{ConfigIssue, Error, Result};

/// Most files one config may extend, all levels together.
pub const MAX_FILES: usize = 32;
/// Most levels of files extending files.
pub const MAX_DEPTH: usize = 8;

/// What reading one extended file found.
#[derive(Debug)]
pub enum Fetched {
    Bytes(Vec<u8>),
    Missing,
    /// Something other than a regular file is there: `a symlink`, `a folder`.
    Refused(String),
}

/// Own files found at repo-relative paths, with what each holds.
pub type OwnFiles = Vec<(String, Fetched)>;

/// Where extended files come from.
pub struct Reader<'a> {
    /// Put before a repo-relative path to name it in diagnostics
    /// (empty for the work tree, `base:` for a revision).
    pub prefix: String,
    /// The folder the config governs, repo-relative with a trailing `/`
    /// (empty for the root config): entries are relative to it.
    pub dir: String,
    pub fetch: &'a dyn Fn(&str) -> Result<Fetched>,
}

/// A config with every file it extends.
#[derive(Debug)]
pub struct Expanded {
    /// The config's own settings, with every persona in final order.
    pub raw: RawConfig,
    /// The config first, then each extended file read.
    pub sources: Vec<Source>,
    /// Per persona of `raw`: the index of the source it was written in.
    pub origin: Vec<usize>,
    /// The extended files, repo-relative, in reading order, each once.
    pub files: Vec<String>,
    pub issues: Vec<ConfigIssue>,
}

/// The repo-relative file an `extends` entry names, relative to `dir` (the
/// folder the config governs, `""` or `D/`), or why it is refused before
/// anything is read.
fn normalise(dir: &str, entry: &str) -> std::result::Result<String, &'static str> {
    if entry.trim().is_empty() {
        return Err("is empty");
    }
    if entry.contains("://") {
        return Err("is a URL");
    }
    if entry.starts_with('/') || entry.starts_with('\\') {
        return Err("is an absolute path");
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in dir.split('/').chain(entry.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("leaves the repository");
                }
            }
            other => parts.push(other),
        }
    }
    match parts.first() {
        None => Err("names a folder, not a file"),
        Some(&".git") => Err("is inside .git"),
        Some(_) => Ok(parts.join("/")),
    }
}

struct Walk<'r> {
    reader: &'r Reader<'r>,
    sources: Vec<Source>,
    personas: Vec<(RawPersona, usize)>,
    files: Vec<String>,
    issues: Vec<ConfigIssue>,
    /// Files read so far (one extended twice counts twice).
    reads: usize,
    /// The files being expanded, outermost first (a cycle returns to one).
    stack: Vec<String>,
}

impl Walk<'_> {
    fn at(&mut self, from: usize, span: SourceSpan, title: String, label: &str, help: String) {
        let mut v = Validator::new(&self.sources[from], Vec::new());
        v.issue(span, title, label, Some(help));
        self.issues.extend(v.issues);
    }

    fn add(&mut self, persona: RawPersona, origin: usize) {
        let name = persona.name.value.clone();
        match self.personas.iter_mut().find(|(p, _)| p.name.value == name) {
            Some(slot) => *slot = (persona, origin),
            None => self.personas.push((persona, origin)),
        }
    }

    fn include(&mut self, from: usize, extends: &[Spanned<String>], depth: usize) -> Result<()> {
        for entry in extends {
            let rel = match normalise(&self.reader.dir, &entry.value) {
                Ok(rel) => rel,
                Err(why) => {
                    self.at(
                        from,
                        entry.span,
                        format!("`extends` entry {why}"),
                        "not a file inside the repository",
                        "name a YAML file of this repository, relative to the folder this config governs, e.g. `policies/base.yml`".into(),
                    );
                    continue;
                }
            };
            if self.stack.contains(&rel) {
                let chain = format!("{} -> {rel}", self.stack.join(" -> "));
                self.at(
                    from,
                    entry.span,
                    format!("`extends` cycle: {chain}"),
                    "extends a file that extends this one",
                    "remove one `extends` entry of the cycle".into(),
                );
                continue;
            }
            if depth >= MAX_DEPTH {
                self.at(
                    from,
                    entry.span,
                    format!("`extends` nests more than {MAX_DEPTH} files deep"),
                    "one level too many",
                    "extend the deeper files directly from a shallower one".into(),
                );
                continue;
            }
            if self.reads >= MAX_FILES {
                self.at(
                    from,
                    entry.span,
                    format!("a config may extend at most {MAX_FILES} files"),
                    "one file too many",
                    "merge some of the extended files into one".into(),
                );
                continue;
            }
            let shown = format!("{}{rel}", self.reader.prefix);
            let bytes = match (self.reader.fetch)(&rel)? {
                Fetched::Bytes(bytes) => bytes,
                Fetched::Missing => {
                    self.at(
                        from,
                        entry.span,
                        format!("extended file {shown} does not exist"),
                        "no such file",
                        "paths are relative to the folder this config governs (the repository root for .sage/valve.yml)".into(),
                    );
                    continue;
                }
                Fetched::Refused(what) => {
                    self.at(
                        from,
                        entry.span,
                        format!("extended file {shown} is {what}, not a regular file"),
                        "not a regular file",
                        "valve reads extended files only as regular files, never through a link: make it one".into(),
                    );
                    continue;
                }
            };
            self.reads += 1;
            if !self.files.contains(&rel) {
                self.files.push(rel.clone());
            }
            let source = match super::source_from_bytes(bytes, &shown) {
                Ok(source) => source,
                Err(Error::Config(e)) => {
                    self.issues.extend(e.issues);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (raw, issues) = parse_extended(&source);
            self.issues.extend(issues);
            self.sources.push(source);
            let index = self.sources.len() - 1;
            self.stack.push(rel);
            self.include(index, &raw.extends, depth + 1)?;
            self.stack.pop();
            for persona in raw.personas {
                self.add(persona, index);
            }
        }
        Ok(())
    }
}

/// Parses `source` (the config, `self_rel` its repo-relative path when it
/// is inside the repository) with every file it extends.
pub fn expand(source: &Source, self_rel: Option<&str>, reader: &Reader<'_>) -> Result<Expanded> {
    let (mut raw, issues) = parse_lenient(source);
    let mut walk = Walk {
        reader,
        sources: vec![source.clone()],
        personas: Vec::new(),
        files: Vec::new(),
        issues,
        reads: 0,
        stack: self_rel.map(str::to_string).into_iter().collect(),
    };
    let extends = std::mem::take(&mut raw.extends);
    walk.include(0, &extends, 0)?;
    raw.extends = extends;
    for persona in std::mem::take(&mut raw.personas) {
        walk.add(persona, 0);
    }
    let (personas, origin) = walk.personas.into_iter().unzip();
    raw.personas = personas;
    Ok(Expanded {
        raw,
        sources: walk.sources,
        origin,
        files: walk.files,
        issues: walk.issues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn entries_stay_inside_the_repository() {
        assert_eq!(
            normalise("", "policies/base.yml"),
            Ok("policies/base.yml".into())
        );
        assert_eq!(normalise("", "./a//b/../c.yml"), Ok("a/c.yml".into()));
        assert_eq!(normalise("", "../x.yml"), Err("leaves the repository"));
        assert_eq!(normalise("", "a/../../x.yml"), Err("leaves the repository"));
        assert_eq!(normalise("", "/etc/passwd"), Err("is an absolute path"));
        assert_eq!(normalise("", "https://example.com/a.yml"), Err("is a URL"));
        assert_eq!(normalise("", " "), Err("is empty"));
        assert_eq!(normalise("", "a/.."), Err("names a folder, not a file"));
        assert_eq!(normalise("", ".git/config"), Err("is inside .git"));
        // A nested config's entries are relative to its folder, and may
        // climb out of it but not out of the repository.
        assert_eq!(
            normalise("packages/web/", "lint.yml"),
            Ok("packages/web/lint.yml".into())
        );
        assert_eq!(
            normalise("packages/web/", "../../policies/a.yml"),
            Ok("policies/a.yml".into())
        );
        assert_eq!(
            normalise("packages/web/", "../../../a.yml"),
            Err("leaves the repository")
        );
        assert_eq!(
            normalise("packages/web/", "/etc/passwd"),
            Err("is an absolute path")
        );
    }

    fn run(files: &[(&str, &str)], root: &str) -> Expanded {
        let map: HashMap<String, String> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        let fetch = move |rel: &str| -> Result<Fetched> {
            Ok(match map.get(rel) {
                Some(t) => Fetched::Bytes(t.clone().into_bytes()),
                None => Fetched::Missing,
            })
        };
        let reader = Reader {
            prefix: String::new(),
            dir: String::new(),
            fetch: &fetch,
        };
        let source = Source {
            name: ".sage/valve.yml".into(),
            text: root.into(),
        };
        expand(&source, Some(".sage/valve.yml"), &reader).expect("the reader never fails")
    }

    fn names(e: &Expanded) -> Vec<(&str, usize)> {
        e.raw
            .personas
            .iter()
            .zip(&e.origin)
            .map(|(p, o)| (p.name.value.as_str(), *o))
            .collect()
    }

    #[test]
    fn depth_first_and_replaced_in_place() {
        let e = run(
            &[
                (
                    "a.yml",
                    "extends: [b.yml]\npersonas:\n  A: {}\n  Shared: {}\n",
                ),
                ("b.yml", "personas:\n  B: {}\n"),
            ],
            "extends: [a.yml]\npersonas:\n  Shared: {severity: error}\n  Own: {}\n",
        );
        assert!(e.issues.is_empty(), "{:?}", e.issues);
        assert_eq!(names(&e), [("B", 2), ("A", 1), ("Shared", 0), ("Own", 0)]);
        assert_eq!(e.files, ["a.yml", "b.yml"]);
    }

    #[test]
    fn a_cycle_is_an_issue_at_the_entry() {
        let e = run(
            &[("a.yml", "extends: [.sage/valve.yml]\npersonas: {A: {}}\n")],
            "extends: [a.yml]\n",
        );
        assert_eq!(e.issues.len(), 1);
        assert_eq!(e.issues[0].src.name, "a.yml");
        assert!(e.issues[0].title.contains("cycle"), "{}", e.issues[0].title);
        assert_eq!(e.issues[0].span.offset(), 10);
    }

    #[test]
    fn extended_files_take_personas_only() {
        let e = run(
            &[("a.yml", "fail_on: never\npersonas: {A: {}}\n")],
            "extends: [a.yml]\n",
        );
        assert_eq!(e.issues.len(), 1);
        assert_eq!(e.issues[0].src.name, "a.yml");
        assert!(e.issues[0].title.contains("`fail_on`"));
    }

    #[test]
    fn files_and_depth_are_bounded() {
        let chain: Vec<(String, String)> = (0..12)
            .map(|i| {
                (
                    format!("f{i}.yml"),
                    format!("extends: [f{}.yml]\npersonas: {{P{i}: {{}}}}\n", i + 1),
                )
            })
            .collect();
        let files: Vec<(&str, &str)> = chain
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let e = run(&files, "extends: [f0.yml]\n");
        assert_eq!(e.files.len(), MAX_DEPTH);
        assert_eq!(e.issues.len(), 1);
        assert!(e.issues[0].title.contains("deep"));
        let wide: String = (0..40).map(|_| "a.yml, ").collect();
        let e = run(
            &[("a.yml", "personas: {A: {}}\n")],
            &format!("extends: [{wide}]\n"),
        );
        assert_eq!(e.files, ["a.yml"]);
        assert_eq!(e.issues.len(), 40 - MAX_FILES);
        assert_eq!(e.raw.personas.len(), 1);
    }
}
