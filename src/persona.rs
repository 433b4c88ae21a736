//! Compile one raw persona: gitignore-style globs and byte regexes.
//!
//! Bad patterns become config issues at the pattern's span; compilation goes
//! on so that every bad pattern in the file is reported in one run.

use globset::{Glob, GlobBuilder};
use regex::bytes::{Regex, RegexBuilder};

use crate::config::{Examples, RawPersona, Scope, Spanned, Validator};
use crate::finding::ChangeKind;
use crate::severity::Severity;

/// Compiled regexes may not grow past this (SPEC §9: a config error, not OOM).
pub const REGEX_SIZE_LIMIT: usize = 16 * 1024 * 1024;

/// A trigger as written; its automaton lives in `ruleset::Matchers`.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub pattern: String,
    /// Where the pattern is in valve.yml, for a compile error.
    pub span: miette::SourceSpan,
}

/// A persona ready to run: the hot loop sees only this.
#[derive(Debug, Clone)]
pub struct Persona {
    pub name: String,
    pub description: Option<String>,
    pub filters: Vec<String>,
    pub exclude: Vec<String>,
    pub triggers: Vec<Trigger>,
    pub response: Option<String>,
    pub severity: Severity,
    pub message: Option<String>,
    pub scope: Scope,
    /// Bit set of `ChangeKind::bit`.
    pub on: u8,
    pub redact: bool,
    pub allow_ignore: bool,
    pub examples: Examples,
}

impl Persona {
    pub fn is_path_only(&self) -> bool {
        self.triggers.is_empty()
    }

    pub fn wants(&self, kind: ChangeKind) -> bool {
        self.on & kind.bit() != 0
    }

    /// The finding text: `message`, else `description`, else what matched.
    pub fn message_text(&self, trigger: Option<usize>) -> String {
        if let Some(m) = self.message.as_ref().or(self.description.as_ref()) {
            return m.clone();
        }
        match trigger.and_then(|t| self.triggers.get(t)) {
            Some(t) => format!("matched `{}`", t.pattern),
            None => format!("path is in {}'s filters", self.name),
        }
    }
}

/// Rewrites a gitignore-style pattern into globset patterns (SPEC §1):
/// no `/` matches the name at any depth, a `/` anchors at the root, a
/// trailing `/` means a directory, and a match on a directory covers
/// everything under it.
pub fn gitignore_globs(pattern: &str) -> Vec<String> {
    let mut p = pattern.trim_end_matches('/');
    let anchored = p.starts_with('/');
    p = p.trim_start_matches('/');
    let base = if anchored || p.contains('/') {
        p.to_string()
    } else {
        format!("**/{p}")
    };
    if base.ends_with("/**") {
        vec![base]
    } else {
        let under = format!("{base}/**");
        vec![base, under]
    }
}

/// Builds a glob with valve's semantics: `*` and `?` never cross `/`.
pub fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .case_insensitive(false)
        .build()
}

/// Checks one user pattern and returns its globset forms.
pub(crate) fn compile_glob(v: &mut Validator<'_>, pattern: &Spanned<String>) -> Vec<Glob> {
    if pattern.value.trim().is_empty() {
        v.issue(
            pattern.span,
            "empty glob",
            "matches nothing",
            Some("remove it, or write a pattern like `**/*.rs`".into()),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for form in gitignore_globs(&pattern.value) {
        match glob(&form) {
            Ok(g) => out.push(g),
            Err(e) => {
                v.issue(
                    pattern.span,
                    format!("invalid glob `{}`", pattern.value),
                    e.kind().to_string(),
                    Some("globs use *, ?, **, [abc] and {a,b}; escape a literal with \\".into()),
                );
                return Vec::new();
            }
        }
    }
    out
}

pub(crate) fn compile_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .multi_line(true)
        .crlf(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Compiles one trigger, or the issue to report at its span.
pub(crate) fn compile_trigger(v: &mut Validator<'_>, persona: &str, t: &Trigger) -> Option<Regex> {
    match compile_regex(&t.pattern) {
        Ok(regex) => Some(regex),
        Err(e) => {
            let detail = match &e {
                regex::Error::CompiledTooBig(limit) => {
                    format!("compiled regex exceeds the {limit}-byte size limit")
                }
                other => other
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim_start_matches("error: ")
                    .to_string(),
            };
            v.issue(
                t.span,
                format!("invalid regex in persona `{persona}`"),
                detail,
                Some("triggers use Rust regex syntax; in YAML, single quotes keep backslashes as written".into()),
            );
            None
        }
    }
}

pub(crate) fn compile(raw: &RawPersona) -> Persona {
    let triggers = raw
        .triggers
        .iter()
        .map(|t| Trigger {
            pattern: t.value.clone(),
            span: t.span,
        })
        .collect();
    let on = match &raw.on {
        None => 0b1111,
        Some(kinds) => kinds.iter().fold(0, |acc, k| acc | k.bit()),
    };
    Persona {
        name: raw.name.value.clone(),
        description: raw.description.clone(),
        filters: raw.filters.iter().map(|s| s.value.clone()).collect(),
        exclude: raw.exclude.iter().map(|s| s.value.clone()).collect(),
        triggers,
        response: raw.response.clone(),
        severity: raw.severity,
        message: raw.message.clone(),
        scope: raw.scope,
        on,
        redact: raw.redact,
        allow_ignore: raw.allow_ignore,
        examples: raw.examples.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        gitignore_globs(pattern)
            .iter()
            .filter_map(|g| glob(g).ok())
            .any(|g| g.compile_matcher().is_match(path))
    }

    #[test]
    fn name_patterns_match_at_any_depth() {
        assert!(matches("*.ts", "a.ts"));
        assert!(matches("*.ts", "src/deep/a.ts"));
        assert!(!matches("*.ts", "a.tsx"));
    }

    #[test]
    fn slash_anchors_at_the_root() {
        assert!(matches("src/*.rs", "src/main.rs"));
        assert!(!matches("src/*.rs", "lib/src/main.rs"));
        assert!(matches("/build", "build/out.o"));
        assert!(!matches("/build", "x/build/out.o"));
    }

    #[test]
    fn star_never_crosses_a_slash_but_double_star_does() {
        assert!(!matches("src/*.rs", "src/a/b.rs"));
        assert!(matches("src/**/*.rs", "src/a/b.rs"));
        assert!(matches("src/**/*.rs", "src/b.rs"));
        assert!(matches("**/auth/**", "x/auth/y/z.ts"));
        assert!(matches("**/*secret*", "config/my-secret.txt"));
        // gitignore semantics: a matched directory covers its contents.
        assert!(matches("**/*secret*", "secrets/plain.txt"));
        assert!(!matches("**/*secret*", "src/plain.txt"));
    }

    #[test]
    fn directory_pattern_covers_its_contents() {
        assert!(matches("vendor/", "vendor/lib/a.js"));
        assert!(matches("node_modules", "web/node_modules/x/index.js"));
        assert!(matches("vendor/**", "vendor/a.js"));
    }

    #[test]
    fn globs_are_case_sensitive() {
        assert!(!matches("*.TS", "a.ts"));
    }

    #[test]
    fn regex_is_multiline_and_crlf_aware() {
        let r = compile_regex("foo$").ok();
        assert!(r.as_ref().is_some_and(|r| r.is_match(b"a foo\r\nb")));
        let r = compile_regex("^b").ok();
        assert!(r.is_some_and(|r| r.is_match(b"a\nb")));
    }
}
