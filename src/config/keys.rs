//! The one table of valve.yml's keys (SPEC §14 "One source of truth").
//!
//! Each row names a key, says what its value must be and describes it in
//! one sentence; word-valued keys list every spelling valve accepts.
//! `config` validates with these rows (names, types, words, did-you-mean
//! candidates) and `schema` prints them as JSON Schema, so the two cannot
//! drift apart. A new key is one row here plus the field it fills.

use crate::config::{
    Example, Examples, FailOn, RawConfig, RawPersona, Scope, Spanned, SuppressionLevels, level,
};
use crate::finding::ChangeKind;
use crate::severity::{Severity, Threshold};

/// A fixed set of words, with the other spellings accepted for them.
#[derive(Debug)]
pub struct Words {
    /// What one word is called in messages (`unknown severity ...`).
    pub name: &'static str,
    /// The canonical words, in the order help lists them.
    pub canonical: &'static [&'static str],
    /// Other spellings and the canonical word each stands for.
    pub aliases: &'static [(&'static str, &'static str)],
    /// Whether case variants (`Warn`, `ERROR`) are accepted too.
    pub any_case: bool,
}

impl Words {
    /// The canonical word `word` stands for, if it is one of these.
    pub fn lookup(&self, word: &str) -> Option<&'static str> {
        let same = |a: &str, b: &str| {
            if self.any_case {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        self.canonical
            .iter()
            .copied()
            .find(|c| same(c, word))
            .or_else(|| {
                self.aliases
                    .iter()
                    .find(|(alias, _)| same(alias, word))
                    .map(|(_, c)| *c)
            })
    }

    /// Every spelling as written here, canonical words first.
    pub fn spellings(&self) -> Vec<&'static str> {
        let mut out = self.canonical.to_vec();
        out.extend(self.aliases.iter().map(|(alias, _)| *alias));
        out
    }

    /// The canonical words as prose: `skip or scan`, `a, b or c`.
    pub fn listing(&self) -> String {
        match self.canonical.split_last() {
            None => String::new(),
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        }
    }
}

const SEVERITY_ALIASES: &[(&str, &str)] = &[
    ("note", "info"),
    ("warn", "warning"),
    ("halt", "critical"),
    ("HALT_EVERYTHING", "critical"),
];

/// Severities (SPEC §1): case-insensitive, with the seed's aliases.
pub static SEVERITIES: Words = Words {
    name: "severity",
    canonical: &["info", "warning", "error", "critical"],
    aliases: SEVERITY_ALIASES,
    any_case: true,
};

/// `fail_on` thresholds: a severity or `never`.
pub static THRESHOLDS: Words = Words {
    name: "threshold",
    canonical: &["info", "warning", "error", "critical", "never"],
    aliases: SEVERITY_ALIASES,
    any_case: true,
};

/// Change kinds of `on`, case-insensitive.
pub static CHANGE_KINDS: Words = Words {
    name: "change kind",
    canonical: &["added", "modified", "renamed", "deleted"],
    aliases: &[],
    any_case: true,
};

/// `scope`, exactly as written.
pub static SCOPES: Words = Words {
    name: "scope",
    canonical: &["changed", "file"],
    aliases: &[],
    any_case: false,
};

/// `binary`, exactly as written.
pub static BINARY: Words = Words {
    name: "`binary` choice",
    canonical: &["skip", "scan"],
    aliases: &[],
    any_case: false,
};

/// The units of a size and their bytes.
pub const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("KiB", 1 << 10),
    ("MB", 1_000_000),
    ("MiB", 1 << 20),
    ("GB", 1_000_000_000),
    ("GiB", 1 << 30),
];

/// A size as text: digits, an optional fraction, spaces, an optional unit
/// of `SIZE_UNITS` (what `config::parse_size` reads).
pub fn size_pattern() -> String {
    let units: Vec<&str> = SIZE_UNITS.iter().map(|(u, _)| *u).collect();
    format!("^[0-9]+(\\.[0-9]+)? *({})?$", units.join("|"))
}

/// What the items of a list of texts are; only the schema tells them apart
/// (a glob must not be blank), the pattern checks are `persona.rs`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Glob,
    Regex,
    Label,
    /// A repo-relative file path (`extends`).
    Path,
}

/// What a key's value must be, and where a valid value goes.
pub enum Value<T: 'static> {
    /// `version`: only 1.
    Version,
    /// A text; a number, boolean, null, list or mapping is a wrong type.
    Text(fn(&mut T, String)),
    /// A list of texts, or one text for a list of one; null is empty.
    Texts(Item, fn(&mut T, Vec<Spanned<String>>)),
    /// One word of a set; the setter gets the canonical word.
    Word(&'static Words, fn(&mut T, &'static str)),
    /// A list of words of a set, or one word; null is empty.
    WordList(&'static Words, fn(&mut T, Vec<&'static str>)),
    /// Bytes: a number, or text with a unit (`10MiB`).
    Size(fn(&mut T, u64)),
    /// A whole number from `min` to `max`.
    Integer {
        min: u64,
        max: u64,
        set: fn(&mut T, u64),
    },
    /// A number from `min` to `max`.
    Number {
        min: f64,
        max: f64,
        set: fn(&mut T, f64),
    },
    /// `true` or `false`.
    Bool(fn(&mut T, bool)),
    /// A threshold, or a mapping of `FAIL_ON_KEYS`.
    FailOn(fn(&mut T, FailOn)),
    /// A mapping of `SUPPRESSION_KEYS`.
    Suppressions(fn(&mut T, SuppressionLevels)),
    /// A date, `YYYY-MM-DD`.
    Date(fn(&mut T, crate::date::Date)),
    /// A mapping of `EXAMPLES_KEYS`.
    Examples(fn(&mut T, Examples)),
    /// A list of mappings of `EXAMPLE_KEYS`.
    ExampleList(fn(&mut T, Vec<Example>)),
    /// A mapping from persona names to mappings of `PERSONA_KEYS`.
    Personas(fn(&mut T, Vec<RawPersona>)),
    /// Any value, accepted and ignored with this warning.
    Ignored(&'static str),
}

/// What to say when a required key is missing.
pub struct Missing {
    pub title: &'static str,
    pub label: &'static str,
    pub help: Option<&'static str>,
    /// Not required when this key of the same mapping is present.
    pub unless: Option<&'static str>,
}

/// One key of a mapping in valve.yml.
pub struct Key<T: 'static> {
    pub name: &'static str,
    /// One sentence for editors and the schema.
    pub about: &'static str,
    pub value: Value<T>,
    /// Set when the mapping must have this key.
    pub required: Option<Missing>,
}

const fn key<T>(name: &'static str, about: &'static str, value: Value<T>) -> Key<T> {
    Key {
        name,
        about,
        value,
        required: None,
    }
}

/// The names of a table's keys, in table order.
pub fn names<T>(table: &[Key<T>]) -> Vec<&'static str> {
    table.iter().map(|k| k.name).collect()
}

/// The top level of valve.yml.
pub static TOP_KEYS: &[Key<RawConfig>] = &[
    key(
        "version",
        "Version of this file's format; only 1 exists.",
        Value::Version,
    ),
    key(
        "ignore",
        "Paths never evaluated by any persona (gitignore-style globs).",
        Value::Texts(Item::Glob, |c, v| c.ignore = v),
    ),
    key(
        "max_file_size",
        "Larger files are not searched by triggers and are reported as skipped: bytes, or a number with B, KB, KiB, MB, MiB, GB or GiB (default 10MiB).",
        Value::Size(|c, n| c.max_file_size = n),
    ),
    key(
        "max_findings",
        "Findings kept in a report (default 10000); the rest are only counted.",
        Value::Integer {
            min: 1,
            max: usize::MAX as u64,
            set: |c, n| c.max_findings = usize::try_from(n).unwrap_or(usize::MAX),
        },
    ),
    key(
        "fail_on",
        "The lowest severity that blocks (or never): one for every context, or one per context hook, ci, watch and default.",
        Value::FailOn(|c, f| c.fail_on = f),
    ),
    key(
        "suppressions",
        "Severities of valve's own findings about inline suppressions: unused (default info) and expired (default warning); never turns one off.",
        Value::Suppressions(|c, s| c.suppressions = s),
    ),
    key(
        "extends",
        "Repository files (relative to the folder this config governs, no `..` out of it) whose personas come first, in order; a persona defined again later replaces the earlier one in place.",
        Value::Texts(Item::Path, |c, v| c.extends = v),
    ),
    Key {
        required: Some(Missing {
            title: "valve.yml declares no personas",
            label: "a `personas:` mapping is required",
            help: Some(
                "add `personas:` with at least one persona (or `extends:` naming files that have them); `valve init` writes an example",
            ),
            unless: Some("extends"),
        }),
        ..key(
            "personas",
            "The personas, by name, in the order they are reported.",
            Value::Personas(|c, p| c.personas = p),
        )
    },
];

/// The keys of one persona.
pub static PERSONA_KEYS: &[Key<RawPersona>] = &[
    key(
        "description",
        "What the persona is for, shown by `valve personas`; the findings' text when `message` is absent.",
        Value::Text(|p, t| p.description = Some(t)),
    ),
    key(
        "tags",
        "Labels carried into the SARIF rule's properties (e.g. security, cwe-798).",
        Value::Texts(Item::Label, |p, v| {
            p.tags = v.into_iter().map(|t| t.value).collect()
        }),
    ),
    key(
        "security_severity",
        "SARIF `security-severity` of the persona's rule, from 0.0 to 10.0 (GitHub: 9+ critical, 7+ high, 4+ medium).",
        Value::Number {
            min: 0.0,
            max: 10.0,
            set: |p, n| p.security_severity = Some(n),
        },
    ),
    key(
        "help_uri",
        "A page about the persona: SARIF helpUri, linked in markdown output.",
        Value::Text(|p, t| p.help_uri = Some(t)),
    ),
    key(
        "filters",
        "Path globs the persona looks at; empty or absent means every path.",
        Value::Texts(Item::Glob, |p, v| p.filters = v),
    ),
    key(
        "exclude",
        "Path globs removed from what `filters` takes.",
        Value::Texts(Item::Glob, |p, v| p.exclude = v),
    ),
    key(
        "triggers",
        "Rust regexes matched against the whole file (multi-line mode); absent means the path alone fires.",
        Value::Texts(Item::Regex, |p, v| p.triggers = v),
    ),
    key(
        "response",
        "A free label for the kind of attention wanted, carried into every finding.",
        Value::Text(|p, t| p.response = Some(t)),
    ),
    key(
        "severity",
        "How serious a finding is: info (default), warning, error or critical; case-insensitive, aliases note, warn, halt and HALT_EVERYTHING.",
        Value::Word(&SEVERITIES, |p, w| {
            if let Some(s) = Severity::parse(w) {
                p.severity = s
            }
        }),
    ),
    key(
        "message",
        "Human text for the persona's findings.",
        Value::Text(|p, t| p.message = Some(t)),
    ),
    key(
        "scope",
        "changed (default): in git modes only matches on added or modified lines fire; file: a match anywhere in a changed file fires.",
        Value::Word(&SCOPES, |p, w| {
            p.scope = if w == "file" {
                Scope::File
            } else {
                Scope::Changed
            }
        }),
    ),
    key(
        "on",
        "Change kinds the persona looks at (added, modified, renamed, deleted; case-insensitive); absent means all.",
        Value::WordList(&CHANGE_KINDS, |p, words| {
            p.on = Some(words.iter().filter_map(|w| ChangeKind::parse(w)).collect())
        }),
    ),
    key(
        "redact",
        "Never print the matched text of this persona's findings.",
        Value::Bool(|p, b| p.redact = b),
    ),
    key(
        "allow_ignore",
        "Whether an inline valve:ignore comment may silence this persona (default true).",
        Value::Bool(|p, b| p.allow_ignore = b),
    ),
    key(
        "binary",
        "skip (default): triggers do not run on binary files; scan: they do, with columns in bytes.",
        Value::Word(&BINARY, |p, w| p.scan_binary = w == "scan"),
    ),
    key(
        "history",
        "In --base mode, judge every commit of the range instead of the net change, so a secret added and removed inside the range is still found.",
        Value::Bool(|p, b| p.history = b),
    ),
    key(
        "require_reason",
        "Only a valve:ignore with a non-empty reason=\"...\" silences this persona.",
        Value::Bool(|p, b| p.require_reason = b),
    ),
    key(
        "enforce_after",
        "A date (YYYY-MM-DD, UTC): before it the persona's findings are reported but never block.",
        Value::Date(|p, d| p.enforce_after = Some(d)),
    ),
    key(
        "owners",
        "Owners of this persona's findings (@user, @org/team or an email), instead of CODEOWNERS.",
        Value::Texts(Item::Label, |p, v| {
            p.owners = Some(v.into_iter().map(|t| t.value).collect())
        }),
    ),
    key(
        "when_changed",
        "Makes the persona a change rule: path globs of changes that need a companion change (it takes no filters, exclude or triggers).",
        Value::Texts(Item::Glob, |p, v| p.when_changed = v),
    ),
    key(
        "require_changed",
        "The companion of a change rule: path globs of which some change must be part of the same change set.",
        Value::Texts(Item::Glob, |p, v| p.require_changed = v),
    ),
    key(
        "examples",
        "Paths and contents the persona must fire on or stay quiet on, checked by `valve test`.",
        Value::Examples(|p, e| p.examples = e),
    ),
    key(
        "schedule",
        "Seed-format field: accepted and ignored, with a warning.",
        Value::Ignored("is accepted for the seed format and ignored"),
    ),
];

/// A change rule's two keys, and the keys a change rule cannot have
/// (SPEC §11); validation and the schema both read them here.
pub const WHEN_CHANGED: &str = "when_changed";
pub const REQUIRE_CHANGED: &str = "require_changed";
pub const NOT_IN_CHANGE_RULES: [&str; 3] = ["filters", "exclude", "triggers"];

/// The contexts of a per-context `fail_on`.
pub static FAIL_ON_KEYS: &[Key<FailOn>] = &[
    key(
        "hook",
        "Threshold in git hooks.",
        Value::Word(&THRESHOLDS, |f, w| f.hook = Threshold::parse(w)),
    ),
    key(
        "ci",
        "Threshold in CI (the CI environment variable is set).",
        Value::Word(&THRESHOLDS, |f, w| f.ci = Threshold::parse(w)),
    ),
    key(
        "watch",
        "Threshold of `valve watch`.",
        Value::Word(&THRESHOLDS, |f, w| f.watch = Threshold::parse(w)),
    ),
    key(
        "default",
        "Threshold everywhere else, and in a context not named here.",
        Value::Word(&THRESHOLDS, |f, w| f.default = Threshold::parse(w)),
    ),
];

/// The levels of `suppressions:`.
pub static SUPPRESSION_KEYS: &[Key<SuppressionLevels>] = &[
    key(
        "unused",
        "Severity of a valve:ignore that silenced nothing (default info; never: not reported).",
        Value::Word(&THRESHOLDS, |s, w| s.unused = level(w)),
    ),
    key(
        "expired",
        "Severity of a valve:ignore past its until date (default warning; never: not reported).",
        Value::Word(&THRESHOLDS, |s, w| s.expired = level(w)),
    ),
];

/// The two lists of `examples`.
pub static EXAMPLES_KEYS: &[Key<Examples>] = &[
    key(
        "fires",
        "Examples the persona must fire on.",
        Value::ExampleList(|e, l| e.fires = l),
    ),
    key(
        "quiet",
        "Examples the persona must not fire on.",
        Value::ExampleList(|e, l| e.quiet = l),
    ),
];

/// One example.
pub static EXAMPLE_KEYS: &[Key<Example>] = &[
    Key {
        required: Some(Missing {
            title: "example without `path`",
            label: "needs a path",
            help: Some("add `path: some/file.ext`"),
            unless: None,
        }),
        ..key(
            "path",
            "The repo-relative path the example pretends to be.",
            Value::Text(|e, t| e.path = t),
        )
    },
    key(
        "content",
        "The file content of the example (default empty).",
        Value::Text(|e, t| e.content = t),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::SEVERITY_WORDS;

    #[test]
    fn severity_words_agree_with_the_severity_parser() {
        // The CLI parses severities with `Severity::parse`; the table must
        // accept exactly the same words, meaning the same thing.
        for word in SEVERITY_WORDS {
            for variant in [
                word.to_string(),
                word.to_ascii_uppercase(),
                word.to_ascii_lowercase(),
            ] {
                let canonical = SEVERITIES.lookup(&variant);
                assert_eq!(
                    canonical.and_then(Severity::parse),
                    Severity::parse(&variant),
                    "{variant}"
                );
                assert!(canonical.is_some(), "{variant}");
            }
        }
        let mut spellings = SEVERITIES.spellings();
        let mut known = SEVERITY_WORDS.to_vec();
        spellings.sort_unstable();
        known.sort_unstable();
        assert_eq!(spellings, known);
        assert_eq!(SEVERITIES.lookup("fatal"), None);
    }

    #[test]
    fn thresholds_and_change_kinds_agree_with_their_parsers() {
        for word in THRESHOLDS.spellings() {
            assert_eq!(
                THRESHOLDS.lookup(word).and_then(Threshold::parse),
                Threshold::parse(word),
                "{word}"
            );
        }
        assert_eq!(CHANGE_KINDS.canonical, ChangeKind::WORDS);
        assert_eq!(CHANGE_KINDS.lookup("DELETED"), Some("deleted"));
    }

    #[test]
    fn exact_words_do_not_take_case_variants() {
        assert_eq!(SCOPES.lookup("file"), Some("file"));
        assert_eq!(SCOPES.lookup("File"), None);
        assert_eq!(BINARY.listing(), "skip or scan");
        assert_eq!(SEVERITIES.listing(), "info, warning, error or critical");
    }

    #[test]
    fn every_key_is_described_once() {
        fn check<T>(table: &[Key<T>]) {
            let names = names(table);
            for (i, k) in table.iter().enumerate() {
                assert!(k.about.ends_with('.'), "{}: one sentence", k.name);
                assert!(!names[..i].contains(&k.name), "{} twice", k.name);
            }
        }
        check(TOP_KEYS);
        check(PERSONA_KEYS);
        check(FAIL_ON_KEYS);
        check(SUPPRESSION_KEYS);
        check(EXAMPLES_KEYS);
        check(EXAMPLE_KEYS);
    }
}
