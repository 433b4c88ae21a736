//! Compile one raw persona: gitignore-style globs and byte regexes.
//!
//! Bad patterns become config issues at the pattern's span; compilation goes
//! on so that every bad pattern in the file is reported in one run.

use globset::{Glob, GlobBuilder};
use regex::bytes::{Regex, RegexBuilder};

use crate::config::{Examples, RawPersona, Scope, Spanned, Validator};
use crate::finding::ChangeKind;
use crate::severity::Severity;

/// One compiled regex may not grow past this (SPEC §9: a config error, not OOM).
pub const REGEX_SIZE_LIMIT: usize = 16 * 1024 * 1024;
/// Every trigger of every persona together may compile to at most this.
pub const TRIGGERS_SIZE_LIMIT: usize = 64 * 1024 * 1024;
/// The lazy DFA cache of all triggers together (per searching thread).
const DFA_CACHE_TOTAL: usize = 32 * 1024 * 1024;

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
    /// `binary: scan`: triggers also run on binary files (columns in bytes).
    pub scan_binary: bool,
    pub tags: Vec<String>,
    pub security_severity: Option<f64>,
    pub help_uri: Option<String>,
    /// `history: true`: in `--base` mode judged on every commit of the
    /// range, not on the net change (SPEC §2.2).
    pub history: bool,
    /// SPEC §11: only a suppression with a reason silences it.
    pub require_reason: bool,
    /// SPEC §11: its findings block only from this date.
    pub enforce_after: Option<crate::date::Date>,
    /// SPEC §11: the owners of its findings, instead of CODEOWNERS.
    pub owners: Option<Vec<String>>,
    /// SPEC §11 change rule: `when_changed` and `require_changed` globs
    /// (empty for a persona that judges files).
    pub when_changed: Vec<String>,
    pub require_changed: Vec<String>,
    pub examples: Examples,
}

impl Persona {
    /// A change rule judges the change set, not files (SPEC §11).
    pub fn is_change_rule(&self) -> bool {
        !self.when_changed.is_empty()
    }

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

fn compile_regex_sized(pattern: &str, size: usize, cache: usize) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .multi_line(true)
        .crlf(true)
        .size_limit(size)
        .dfa_size_limit(cache)
        .build()
}

/// Trigger compilation across all personas: what the compiled triggers
/// have used of `TRIGGERS_SIZE_LIMIT`, and each one's share of the cache.
pub(crate) struct Budget {
    left: usize,
    cache_each: usize,
}

impl Budget {
    pub(crate) fn new(triggers: usize) -> Self {
        Budget {
            left: TRIGGERS_SIZE_LIMIT,
            cache_each: (DFA_CACHE_TOTAL / triggers.max(1)).clamp(256 * 1024, 2 * 1024 * 1024),
        }
    }
}

/// The compiled automaton's size (Thompson NFA, as the regex crate builds
/// it), or `None` when it does not fit in `limit`.
fn compiled_size(pattern: &str, limit: usize) -> Option<usize> {
    use regex_automata::nfa::thompson;
    let syntax = regex_automata::util::syntax::Config::new()
        .multi_line(true)
        .crlf(true);
    thompson::Compiler::new()
        .syntax(syntax)
        .configure(thompson::Config::new().nfa_size_limit(Some(limit)))
        .build(pattern)
        .ok()
        .map(|nfa| nfa.memory_usage())
}

/// Whether a pattern can match the empty string somewhere (`TODO|`, `a*`,
/// `^$`): such a trigger would fire at every position of every file.
fn matches_empty(pattern: &str) -> bool {
    regex_automata::util::syntax::parse(pattern)
        .map(|hir| hir.properties().minimum_len() == Some(0))
        .unwrap_or(false)
}

/// Compiles one trigger, or the issue to report at its span.
pub(crate) fn compile_trigger(
    v: &mut Validator<'_>,
    persona: &str,
    t: &Trigger,
    budget: &mut Budget,
) -> Option<Regex> {
    let limit = REGEX_SIZE_LIMIT.min(budget.left);
    let compiled = compile_regex_sized(&t.pattern, limit, budget.cache_each);
    if let Ok(regex) = &compiled {
        if matches_empty(&t.pattern) {
            v.issue(
                t.span,
                format!("trigger of persona `{persona}` can match the empty string"),
                "matches at every position of every file",
                Some("require at least one character, e.g. `TODO` instead of `TODO|`, `a+` instead of `a*`".into()),
            );
            return None;
        }
        match compiled_size(&t.pattern, limit) {
            Some(size) => budget.left = budget.left.saturating_sub(size),
            None => {
                budget.left = 0;
                v.issue(
                    t.span,
                    format!("the triggers compile to more than {} MiB together", TRIGGERS_SIZE_LIMIT >> 20),
                    "this trigger does not fit in what is left",
                    Some("shorten the largest triggers: bounded repeats like `\\w{300}` of Unicode classes are large; `(?-u:\\w)` is much smaller".into()),
                );
                return None;
            }
        }
        return Some(regex.clone());
    }
    match compiled {
        Ok(regex) => Some(regex),
        Err(e) => {
            let detail = match &e {
                regex::Error::CompiledTooBig(_) if limit < REGEX_SIZE_LIMIT => {
                    format!(
                        "the triggers compile to more than {} MiB together; this one does not fit in what is left",
                        TRIGGERS_SIZE_LIMIT >> 20
                    )
                }
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
            if matches!(e, regex::Error::CompiledTooBig(_)) {
                budget.left = 0;
            }
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
        scan_binary: raw.scan_binary,
        tags: raw.tags.clone(),
        security_severity: raw.security_severity,
        help_uri: raw.help_uri.clone(),
        history: raw.history,
        require_reason: raw.require_reason,
        enforce_after: raw.enforce_after,
        owners: raw.owners.clone(),
        when_changed: raw.when_changed.iter().map(|s| s.value.clone()).collect(),
        require_changed: raw
            .require_changed
            .iter()
            .map(|s| s.value.clone())
            .collect(),
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
        let r = compile_regex_sized("foo$", REGEX_SIZE_LIMIT, 1 << 20).ok();
        assert!(r.as_ref().is_some_and(|r| r.is_match(b"a foo\r\nb")));
        let r = compile_regex_sized("^b", REGEX_SIZE_LIMIT, 1 << 20).ok();
        assert!(r.is_some_and(|r| r.is_match(b"a\nb")));
    }
}
