//! Find `.sage/valve.yml` and read it, strictly, into plain raw structs.
//!
//! Every value keeps its span so that `persona.rs` can point at a bad glob
//! or regex. Validation never stops at the first problem: each one becomes a
//! `ConfigIssue` and all of them are returned together. Nothing here
//! compiles patterns or touches git. Which keys exist, what their values
//! must be and which words they take is `keys.rs`'s table; this module
//! walks the YAML tree by it.

pub mod extends;
pub mod keys;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::SourceSpan;

use crate::error::{ConfigErrors, ConfigIssue, ConfigText, Error, Result};
use crate::finding::ChangeKind;
use crate::severity::{Severity, Threshold};
use crate::yaml::{self, Node};
use keys::{Key, Value, Words};

pub const CONFIG_PATHS: [&str; 2] = [".sage/valve.yml", ".sage/valve.yaml"];
pub const BASELINE_PATH: &str = ".sage/valve-baseline.json";
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;
/// Findings kept in a report by default; the rest are counted (SPEC §9).
pub const DEFAULT_MAX_FINDINGS: usize = 10_000;

/// A value and where it was written.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: SourceSpan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    Changed,
    File,
}

/// `suppressions:` (SPEC §11): the severities of valve's own findings
/// about suppressions; `None` is `never` (the finding is off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuppressionLevels {
    pub unused: Option<Severity>,
    pub expired: Option<Severity>,
}

impl Default for SuppressionLevels {
    fn default() -> Self {
        SuppressionLevels {
            unused: Some(Severity::Info),
            expired: Some(Severity::Warning),
        }
    }
}

/// A threshold word as a level of `suppressions:`: `never` is off.
pub(crate) fn level(word: &str) -> Option<Severity> {
    match Threshold::parse(word) {
        Some(Threshold::AtLeast(s)) => Some(s),
        _ => None,
    }
}

/// `fail_on`, either one threshold or one per context.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailOn {
    pub default: Option<Threshold>,
    pub hook: Option<Threshold>,
    pub ci: Option<Threshold>,
    pub watch: Option<Threshold>,
}

#[derive(Debug, Clone, Default)]
pub struct Example {
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone, Default)]
pub struct Examples {
    pub fires: Vec<Example>,
    pub quiet: Vec<Example>,
}

#[derive(Debug, Clone)]
pub struct RawPersona {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub filters: Vec<Spanned<String>>,
    pub exclude: Vec<Spanned<String>>,
    pub triggers: Vec<Spanned<String>>,
    pub response: Option<String>,
    pub severity: Severity,
    pub message: Option<String>,
    pub scope: Scope,
    pub on: Option<Vec<ChangeKind>>,
    pub redact: bool,
    pub allow_ignore: bool,
    /// `binary: scan`: triggers also run on binary files.
    pub scan_binary: bool,
    /// SARIF rule metadata (§13).
    pub tags: Vec<String>,
    pub security_severity: Option<f64>,
    pub help_uri: Option<String>,
    /// `history: true`: in `--base` mode judged on every commit of the range.
    pub history: bool,
    /// SPEC §11: a `valve:ignore` silences it only with a reason.
    pub require_reason: bool,
    /// SPEC §11: findings block only from this date (UTC).
    pub enforce_after: Option<crate::date::Date>,
    /// SPEC §11: owners of its findings, instead of CODEOWNERS.
    pub owners: Option<Vec<String>>,
    /// SPEC §11 change rule: fires when a change matches `when_changed`
    /// and none matches `require_changed`.
    pub when_changed: Vec<Spanned<String>>,
    pub require_changed: Vec<Spanned<String>>,
    pub examples: Examples,
}

#[derive(Debug, Clone)]
pub struct RawConfig {
    pub ignore: Vec<Spanned<String>>,
    pub max_file_size: u64,
    pub max_findings: usize,
    pub fail_on: FailOn,
    pub suppressions: SuppressionLevels,
    pub personas: Vec<RawPersona>,
    /// `extends:` (SPEC §12): files whose personas come first, as written.
    pub extends: Vec<Spanned<String>>,
    /// Accepted-but-ignored fields (the seed's `schedule`).
    pub warnings: Vec<String>,
}

/// The config text and where it came from, kept for diagnostics.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    /// The text for diagnostics (shared, long lines windowed).
    pub fn code(&self) -> ConfigText {
        ConfigText {
            name: self.name.clone(),
            text: Arc::from(self.text.as_str()),
        }
    }
}

/// Finds and reads the config: `--config` wins (any regular file the user
/// names), then the two fixed names under the root, read as own files
/// (regular files only, never through a link; SPEC §9).
pub fn load(root: &Path, explicit: Option<&Path>) -> Result<(PathBuf, Source)> {
    if let Some(path) = explicit {
        if !crate::ownfile::is_regular_input(path)? {
            return Err(Error::ConfigMissing {
                looked_for: path.to_path_buf(),
            });
        }
        let display = display_name(root, path);
        return Ok((path.to_path_buf(), read(path, &display)?));
    }
    for candidate in CONFIG_PATHS {
        if let Some(bytes) = crate::ownfile::read_own(root, candidate)? {
            return Ok((root.join(candidate), source_from_bytes(bytes, candidate)?));
        }
    }
    Err(Error::ConfigMissing {
        looked_for: root.join(CONFIG_PATHS[0]),
    })
}

/// A config path as diagnostics name it: relative to the root when inside.
fn display_name(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

/// Reads a config file from disk (validation is `Ruleset::from_source`).
pub fn read(path: &Path, display_name: &str) -> Result<Source> {
    let bytes = crate::ownfile::read_input(path)?;
    source_from_bytes(bytes, display_name)
}

/// Config bytes as text; bytes that are not UTF-8 are a diagnostic at the
/// line and column of the first invalid byte (SPEC §1).
pub fn source_from_bytes(bytes: Vec<u8>, display_name: &str) -> Result<Source> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source {
            name: display_name.to_string(),
            text,
        }),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let source = Source {
                name: display_name.to_string(),
                text: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
            let mut v = Validator::new(&source, Vec::new());
            v.issue(
                SourceSpan::new(at.into(), 1),
                "valve.yml is not UTF-8",
                "this byte is not valid UTF-8",
                Some(
                    "save the file as UTF-8; write other characters as \\xNN escapes in regexes"
                        .into(),
                ),
            );
            Err(Error::Config(ConfigErrors::new(&source.name, v.issues)))
        }
    }
}

/// Validates config text; all problems come back at once.
pub fn parse(source: &Source) -> Result<RawConfig, ConfigErrors> {
    let (raw, issues) = parse_lenient(source);
    if issues.is_empty() {
        Ok(raw)
    } else {
        Err(ConfigErrors::new(&source.name, issues))
    }
}

/// Validates config text, keeping every valid part, so that patterns can
/// still be compiled (and their errors reported) in the same run.
pub fn parse_lenient(source: &Source) -> (RawConfig, Vec<ConfigIssue>) {
    let mut v = Validator::new(source, Vec::new());
    let raw = v.config();
    (raw, v.issues)
}

/// The top-level keys a file named by `extends` may set: it adds personas
/// (and may extend further files); everything else belongs to the config
/// that extends it (SPEC §12).
pub const EXTENDED_KEYS: [&str; 3] = ["version", "extends", "personas"];

/// Validates an extended file like a config, then refuses every top-level
/// key but `EXTENDED_KEYS` at that key.
pub fn parse_extended(source: &Source) -> (RawConfig, Vec<ConfigIssue>) {
    let (raw, mut issues) = parse_lenient(source);
    issues.extend(refuse_top_keys(
        source,
        |key| !EXTENDED_KEYS.contains(&key),
        "cannot be set in an extended file",
        "only `personas` and `extends` are taken from a file named by `extends`",
        "in the config that extends this file",
    ));
    (raw, issues)
}

/// The keys only the root config may set (SPEC §12): they govern the
/// whole run, not one folder.
pub const ROOT_ONLY_KEYS: [&str; 4] = ["fail_on", "max_file_size", "max_findings", "suppressions"];

/// A nested config's issues beyond a config's: each root-only key it sets,
/// at that key.
pub fn nested_issues(source: &Source) -> Vec<ConfigIssue> {
    refuse_top_keys(
        source,
        |key| ROOT_ONLY_KEYS.contains(&key),
        "cannot be set in a nested config",
        "it governs the whole run, so only the root config sets it",
        "in the root .sage/valve.yml",
    )
}

/// An issue at each known top-level key of `source` that `refused` names.
fn refuse_top_keys(
    source: &Source,
    refused: impl Fn(&str) -> bool,
    title: &str,
    label: &str,
    set_it: &str,
) -> Vec<ConfigIssue> {
    let Ok(Some(Node::Map { entries, .. })) = yaml::parse(&source.text) else {
        return Vec::new();
    };
    let mut v = Validator::new(source, Vec::new());
    for (key, _) in &entries {
        if let Node::Scalar { value, .. } = key {
            if keys::names(keys::TOP_KEYS).contains(&value.as_str()) && refused(value) {
                v.issue(
                    key.span(),
                    format!("`{value}` {title}"),
                    label,
                    Some(format!("set `{value}` {set_it}")),
                );
            }
        }
    }
    v.issues
}

/// Whether `path` (repo-relative) is a valve config: the root's or a
/// nested one's (`D/.sage/valve.yml`, SPEC §12).
pub fn is_config_path(path: &str) -> bool {
    CONFIG_PATHS.iter().any(|c| {
        path.strip_suffix(c)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('/'))
    })
}

/// Collects issues while walking the tree.
pub(crate) struct Validator<'a> {
    pub(crate) source: &'a Source,
    pub(crate) issues: Vec<ConfigIssue>,
    /// The shared diagnostic text, made on the first issue.
    pub(crate) code: Option<ConfigText>,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(source: &'a Source, issues: Vec<ConfigIssue>) -> Self {
        Validator {
            source,
            issues,
            code: None,
        }
    }
}

impl Validator<'_> {
    pub(crate) fn issue(
        &mut self,
        span: SourceSpan,
        title: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        if self.code.is_none() {
            self.code = Some(self.source.code());
        }
        let Some(code) = self.code.clone() else {
            return;
        };
        self.issues.push(ConfigIssue {
            title: title.into(),
            span: code.clamp(span),
            src: code,
            label: label.into(),
            help,
        });
    }

    fn config(&mut self) -> RawConfig {
        let mut raw = RawConfig {
            ignore: Vec::new(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_findings: DEFAULT_MAX_FINDINGS,
            fail_on: FailOn::default(),
            suppressions: SuppressionLevels::default(),
            personas: Vec::new(),
            extends: Vec::new(),
            warnings: Vec::new(),
        };
        let root = match yaml::parse(&self.source.text) {
            Ok(Some(root)) => root,
            Ok(None) => {
                self.issue(
                    SourceSpan::new(0.into(), 0),
                    "valve.yml is empty",
                    "expected a `personas:` mapping",
                    Some("run `valve init` elsewhere to see a starter file".into()),
                );
                return raw;
            }
            Err(e) => {
                self.issue(
                    SourceSpan::new(e.offset.into(), 0),
                    format!("invalid YAML: {}", e.message),
                    "here",
                    Some(
                        "check indentation and quoting; regexes are safest in single quotes".into(),
                    ),
                );
                return raw;
            }
        };
        let mut warnings = Vec::new();
        let top = Table {
            what: "the top level of valve.yml",
            key_what: "top-level key",
            owner: "",
        };
        self.table(&root, &top, keys::TOP_KEYS, &mut raw, &mut warnings);
        raw.warnings = warnings;
        raw
    }

    /// Validates a mapping against a table of keys into `target`: unknown
    /// and duplicate keys, each value by its row's type, then the required
    /// keys. False when `node` is not a mapping or lacks a required key.
    fn table<T>(
        &mut self,
        node: &Node,
        at: &Table<'_>,
        table: &'static [Key<T>],
        target: &mut T,
        warnings: &mut Vec<String>,
    ) -> bool {
        let Some(entries) = self.mapping(node, at.what) else {
            return false;
        };
        let present = self.unique_keys(entries, &keys::names(table), at.key_what);
        for (name, value) in &present {
            if let Some(key) = table.iter().find(|k| k.name == name) {
                self.value(key, value, target, at.owner, warnings);
            }
        }
        let mut complete = true;
        for key in table {
            let Some(missing) = &key.required else {
                continue;
            };
            let has = |n: &str| present.iter().any(|(name, _)| name == n);
            if !has(key.name) && !missing.unless.is_some_and(has) {
                self.issue(
                    node.span(),
                    missing.title,
                    missing.label,
                    missing.help.map(str::to_string),
                );
                complete = false;
            }
        }
        complete
    }

    /// Checks one value by its key's type and hands a valid one to the
    /// row's setter.
    fn value<T>(
        &mut self,
        key: &Key<T>,
        node: &Node,
        target: &mut T,
        owner: &str,
        warnings: &mut Vec<String>,
    ) {
        let name = key.name;
        match &key.value {
            Value::Version => self.version(node),
            Value::Text(set) => {
                if let Some(text) = self.text(node, name) {
                    set(target, text);
                }
            }
            Value::Texts(_, set) => {
                let items = self.texts(node, name);
                set(target, items);
            }
            Value::Word(words, set) => {
                if let Some(word) = self.word(node, words) {
                    set(target, word);
                }
            }
            Value::WordList(words, set) => {
                let mut out = Vec::new();
                for item in self.texts(node, name) {
                    match words.lookup(&item.value) {
                        Some(word) => out.push(word),
                        None => self.unknown_word(
                            item.span,
                            &format!("`{}`", item.value),
                            &item.value,
                            words,
                        ),
                    }
                }
                set(target, out);
            }
            Value::Size(set) => {
                if let Some(n) = self.size(node, name) {
                    set(target, n);
                }
            }
            Value::Integer { min, max, set } => {
                if let Some(n) = self.integer(node, key, *min, *max) {
                    set(target, n);
                }
            }
            Value::Number { min, max, set } => {
                if let Some(n) = self.number(node, key, *min, *max) {
                    set(target, n);
                }
            }
            Value::Bool(set) => {
                if let Some(b) = self.boolean(node, name) {
                    set(target, b);
                }
            }
            Value::FailOn(set) => {
                let fail_on = self.fail_on(node, owner, warnings);
                set(target, fail_on);
            }
            Value::Suppressions(set) => {
                let mut levels = SuppressionLevels::default();
                let at = Table {
                    what: "`suppressions`",
                    key_what: "`suppressions` key",
                    owner,
                };
                self.table(node, &at, keys::SUPPRESSION_KEYS, &mut levels, warnings);
                set(target, levels);
            }
            Value::Date(set) => {
                if let Some(text) = self.text(node, name) {
                    match crate::date::Date::parse(text.trim()) {
                        Ok(date) => set(target, date),
                        Err(e) => self.issue(
                            node.span(),
                            format!("`{name}` is not a date"),
                            e.to_string(),
                            Some("write the date as YYYY-MM-DD, e.g. 2027-01-31".into()),
                        ),
                    }
                }
            }
            Value::Examples(set) => {
                let mut examples = Examples::default();
                let at = Table {
                    what: "`examples`",
                    key_what: "examples key",
                    owner,
                };
                self.table(node, &at, keys::EXAMPLES_KEYS, &mut examples, warnings);
                set(target, examples);
            }
            Value::ExampleList(set) => {
                let list = self.example_list(node, name, owner, warnings);
                set(target, list);
            }
            Value::Personas(set) => {
                let personas = self.personas(node, warnings);
                set(target, personas);
            }
            Value::Ignored(why) => warnings.push(if owner.is_empty() {
                format!("`{name}` {why}")
            } else {
                format!("{owner}: `{name}` {why}")
            }),
        }
    }

    /// The entries of a mapping, or an issue saying what was expected.
    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match node {
            Node::Map { entries, .. } => Some(entries),
            other => {
                self.issue(
                    other.span(),
                    format!("{what} must be a mapping"),
                    format!("found {}", found(other)),
                    Some("write `key: value` pairs, indented under the parent key".into()),
                );
                None
            }
        }
    }

    /// Checks keys against `allowed` (did-you-mean for near misses) and
    /// duplicates (reported at the second occurrence); yields the good ones.
    fn unique_keys<'n>(
        &mut self,
        entries: &'n [(Node, Node)],
        allowed: &[&str],
        what: &str,
    ) -> Vec<(String, &'n Node)> {
        let mut out: Vec<(String, &Node)> = Vec::new();
        for (key, value) in entries {
            let Some(name) = self.scalar(key, what) else {
                continue;
            };
            if !allowed.contains(&name.as_str()) {
                let help = match did_you_mean(&name, allowed) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("valid keys here: {}", allowed.join(", ")),
                };
                self.issue(
                    key.span(),
                    format!("unknown {what} `{name}`"),
                    "not a valve setting",
                    Some(help),
                );
                continue;
            }
            if out.iter().any(|(k, _)| *k == name) {
                self.issue(
                    key.span(),
                    format!("duplicate key `{name}`"),
                    "this key was already set above",
                    Some("remove one of the two; YAML keeps only one".into()),
                );
                continue;
            }
            out.push((name, value));
        }
        out
    }

    fn scalar(&mut self, node: &Node, what: &str) -> Option<String> {
        match node {
            Node::Scalar { value, .. } if !node.is_null() => Some(value.clone()),
            other => {
                self.issue(
                    other.span(),
                    format!("{what} must be a string"),
                    format!("found {}", found(other)),
                    None,
                );
                None
            }
        }
    }

    fn version(&mut self, node: &Node) {
        let one = match typed(node) {
            Some(Typed::Int(n)) => n == 1,
            Some(Typed::Float(f)) => f == 1.0,
            Some(Typed::Text(t)) => t == "1",
            _ => false,
        };
        if !one {
            self.issue(
                node.span(),
                "unsupported config version",
                "only version 1 exists",
                Some("write `version: 1` or remove the key".into()),
            );
        }
    }

    /// Text: a quoted scalar, or a plain one that YAML reads as a string
    /// (not a number, boolean or null; SPEC §1 `message: 42`).
    fn text(&mut self, node: &Node, key: &str) -> Option<String> {
        if let Some(Typed::Text(text)) = typed(node) {
            return Some(text.to_string());
        }
        let help = match node {
            Node::Scalar { value, .. } if !node.is_null() => {
                format!("quote it to make it text: `{key}: '{value}'`")
            }
            _ => format!("write `{key}: some text`"),
        };
        self.issue(
            node.span(),
            format!("`{key}` must be a string"),
            format!("found {}", found(node)),
            Some(help),
        );
        None
    }

    /// A list of texts; a single text is a list of one, null is empty.
    fn texts(&mut self, node: &Node, key: &str) -> Vec<Spanned<String>> {
        match node {
            Node::Seq { items, .. } => {
                let mut out = Vec::new();
                for item in items {
                    match typed(item) {
                        Some(Typed::Text(text)) => out.push(Spanned {
                            value: text.to_string(),
                            span: item.span(),
                        }),
                        _ => self.issue(
                            item.span(),
                            format!("every item of `{key}` must be a string"),
                            format!("found {}", found(item)),
                            Some("quote the pattern: '...'".into()),
                        ),
                    }
                }
                out
            }
            n if n.is_null() => Vec::new(),
            _ => {
                if let Some(Typed::Text(text)) = typed(node) {
                    return vec![Spanned {
                        value: text.to_string(),
                        span: node.span(),
                    }];
                }
                let help = if matches!(node, Node::Scalar { .. }) {
                    format!("quote it to make it text: `{key}: ['...']`")
                } else {
                    format!("write `{key}: [\"pattern\", ...]`")
                };
                self.issue(
                    node.span(),
                    format!("`{key}` must be a list of strings"),
                    format!("found {}", found(node)),
                    Some(help),
                );
                Vec::new()
            }
        }
    }

    fn boolean(&mut self, node: &Node, key: &str) -> Option<bool> {
        if let Some(Typed::Bool(b)) = typed(node) {
            return Some(b);
        }
        self.issue(
            node.span(),
            format!("`{key}` must be true or false"),
            format!("found {}", describe(node)),
            Some(format!("write `{key}: true` or `{key}: false`")),
        );
        None
    }

    /// A whole number from `min` to `max`; `1e3` and `2.0` are whole too,
    /// as JSON Schema's `integer` counts them.
    fn integer<T>(&mut self, node: &Node, key: &Key<T>, min: u64, max: u64) -> Option<u64> {
        let n = match typed(node) {
            Some(Typed::Int(n)) => Some(n),
            Some(Typed::Float(f)) if f.is_finite() && f.fract() == 0.0 => Some(f as i128),
            _ => None,
        };
        if let Some(n) = n.filter(|n| (i128::from(min)..=i128::from(max)).contains(n)) {
            return u64::try_from(n).ok();
        }
        let range = match (min, max) {
            (1, u64::MAX) => "a positive whole number".to_string(),
            (_, u64::MAX) => format!("a whole number of at least {min}"),
            _ => format!("a whole number from {min} to {max}"),
        };
        self.issue(
            node.span(),
            format!("`{}` must be {range}", key.name),
            format!("found {}", found(node)),
            Some(number_help(node, key.about)),
        );
        None
    }

    /// A number from `min` to `max`.
    fn number<T>(&mut self, node: &Node, key: &Key<T>, min: f64, max: f64) -> Option<f64> {
        let n = match typed(node) {
            Some(Typed::Int(n)) => Some(n as f64),
            Some(Typed::Float(f)) => Some(f),
            _ => None,
        };
        if let Some(n) = n.filter(|n| (min..=max).contains(n)) {
            return Some(n);
        }
        self.issue(
            node.span(),
            format!("`{}` must be a number from {min:.1} to {max:.1}", key.name),
            format!("found {}", found(node)),
            Some(number_help(node, key.about)),
        );
        None
    }

    /// Bytes: a number, or text like `10MiB` (`parse_size`).
    fn size(&mut self, node: &Node, key: &str) -> Option<u64> {
        let bytes = match typed(node) {
            Some(Typed::Int(n)) => u64::try_from(n).ok(),
            Some(Typed::Float(f)) if (0.0..SIZE_LIMIT).contains(&f) => Some(f as u64),
            Some(Typed::Text(text)) => parse_size(text),
            _ => None,
        };
        if bytes.is_none() {
            let units: Vec<&str> = keys::SIZE_UNITS.iter().map(|(u, _)| *u).collect();
            self.issue(
                node.span(),
                format!("invalid `{key}`"),
                format!("cannot read {} as a size", describe(node)),
                Some(format!(
                    "write a byte count or a number with {}, e.g. `10MiB`",
                    units.join(", ")
                )),
            );
        }
        bytes
    }

    /// One word of `words`, as its canonical word.
    fn word(&mut self, node: &Node, words: &Words) -> Option<&'static str> {
        let Some(Typed::Text(text)) = typed(node) else {
            self.issue(
                node.span(),
                format!("expected a {}, found {}", words.name, found(node)),
                format!("not a {}", words.name),
                Some(format!("valid values: {}", words.listing())),
            );
            return None;
        };
        if let Some(word) = words.lookup(text) {
            return Some(word);
        }
        self.unknown_word(node.span(), &describe(node), text, words);
        None
    }

    /// An issue for a word that is not one of `words`, with did-you-mean;
    /// `shown` is the value as messages show it (`` `critcal` ``, `null`).
    fn unknown_word(&mut self, span: SourceSpan, shown: &str, word: &str, words: &Words) {
        self.issue(
            span,
            format!("unknown {} {shown}", words.name),
            format!("not a {}", words.name),
            Some(suggest(word, &words.spellings(), &words.listing())),
        );
    }

    fn fail_on(&mut self, node: &Node, owner: &str, warnings: &mut Vec<String>) -> FailOn {
        let mut out = FailOn::default();
        if matches!(node, Node::Map { .. }) {
            let at = Table {
                what: "`fail_on`",
                key_what: "`fail_on` context",
                owner,
            };
            self.table(node, &at, keys::FAIL_ON_KEYS, &mut out, warnings);
        } else if let Some(word) = self.word(node, &keys::THRESHOLDS) {
            out.default = Threshold::parse(word);
        }
        out
    }

    fn personas(&mut self, node: &Node, warnings: &mut Vec<String>) -> Vec<RawPersona> {
        let Some(entries) = self.mapping(node, "`personas`") else {
            return Vec::new();
        };
        let mut out: Vec<RawPersona> = Vec::new();
        for (key, value) in entries {
            let Some(name) = self.scalar(key, "a persona name") else {
                continue;
            };
            if name.trim().is_empty() {
                self.issue(
                    key.span(),
                    "empty persona name",
                    "a persona needs a name",
                    None,
                );
                continue;
            }
            if out.iter().any(|p| p.name.value == name) {
                self.issue(
                    key.span(),
                    format!("duplicate persona `{name}`"),
                    "a persona with this name is declared above",
                    Some("rename one of them or merge their settings".into()),
                );
                continue;
            }
            let name = Spanned {
                value: name,
                span: key.span(),
            };
            if let Some(p) = self.persona(name, value, warnings) {
                out.push(p);
            }
        }
        out
    }

    fn persona(
        &mut self,
        name: Spanned<String>,
        node: &Node,
        warnings: &mut Vec<String>,
    ) -> Option<RawPersona> {
        let owner = format!("persona `{}`", name.value);
        let mut p = RawPersona {
            name,
            description: None,
            filters: Vec::new(),
            exclude: Vec::new(),
            triggers: Vec::new(),
            response: None,
            severity: Severity::Info,
            message: None,
            scope: Scope::Changed,
            on: None,
            redact: false,
            allow_ignore: true,
            scan_binary: false,
            tags: Vec::new(),
            security_severity: None,
            help_uri: None,
            history: false,
            require_reason: false,
            enforce_after: None,
            owners: None,
            when_changed: Vec::new(),
            require_changed: Vec::new(),
            examples: Examples::default(),
        };
        if node.is_null() {
            return Some(p);
        }
        let at = Table {
            what: &owner,
            key_what: "persona key",
            owner: &owner,
        };
        let complete = self.table(node, &at, keys::PERSONA_KEYS, &mut p, warnings);
        self.change_rule(&p);
        complete.then_some(p)
    }

    /// A change rule (SPEC §11) takes both globs lists and judges the change
    /// set, never files: no `filters`, `exclude` or `triggers`.
    fn change_rule(&mut self, p: &RawPersona) {
        let name = &p.name.value;
        match (p.when_changed.first(), p.require_changed.first()) {
            (None, None) => return,
            (Some(_), None) => self.issue(
                p.name.span,
                format!("change rule `{name}` has no `require_changed`"),
                "`when_changed` needs a companion",
                Some(
                    "add `require_changed: [globs]`: the changes one of which must come along"
                        .into(),
                ),
            ),
            (None, Some(r)) => self.issue(
                r.span,
                "`require_changed` without `when_changed`",
                "this is only half of a change rule",
                Some("add `when_changed: [globs]`: the changes that need the companion".into()),
            ),
            (Some(_), Some(_)) => {}
        }
        let lists = [&p.filters, &p.exclude, &p.triggers];
        for (key, list) in keys::NOT_IN_CHANGE_RULES.into_iter().zip(lists) {
            if let Some(first) = list.first() {
                self.issue(
                    first.span,
                    format!("change rule `{name}` cannot have `{key}`"),
                    "a change rule judges the change set, not files",
                    Some(format!(
                        "move `{key}` to a persona of its own, or remove `when_changed`/`require_changed`"
                    )),
                );
            }
        }
    }

    fn example_list(
        &mut self,
        node: &Node,
        key: &str,
        owner: &str,
        warnings: &mut Vec<String>,
    ) -> Vec<Example> {
        let Node::Seq { items, .. } = node else {
            self.issue(
                node.span(),
                format!("`{key}` must be a list of examples"),
                format!("found {}", found(node)),
                Some("write `- { path: src/a.ts, content: '...' }`".into()),
            );
            return Vec::new();
        };
        let at = Table {
            what: "an example",
            key_what: "example key",
            owner,
        };
        let mut out = Vec::new();
        for item in items {
            let mut example = Example::default();
            if self.table(item, &at, keys::EXAMPLE_KEYS, &mut example, warnings) {
                out.push(example);
            }
        }
        out
    }
}

/// Where a mapping sits, for messages: what it is (`persona `A``), what
/// its keys are called, and whose warnings they are.
struct Table<'a> {
    what: &'a str,
    key_what: &'a str,
    owner: &'a str,
}

/// Sizes up to (not including) 2^64 bytes.
const SIZE_LIMIT: f64 = 18_446_744_073_709_551_616.0;

/// A scalar's type as YAML 1.2 reads it. Quoted scalars are text; a plain
/// one may be null, a boolean, a whole number or a number, by the patterns
/// of ruamel.yaml (which check-jsonschema uses), so that valve and the
/// schema see the same types.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Typed<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Text(&'a str),
    /// `=`, `<<` as a value, `0x_`: not a value YAML loaders agree on.
    Other,
}

fn typed(node: &Node) -> Option<Typed<'_>> {
    match node {
        Node::Scalar {
            value,
            quoted: true,
            ..
        } => Some(Typed::Text(value)),
        Node::Scalar { value, .. } => Some(plain(value)),
        _ => None,
    }
}

fn plain(value: &str) -> Typed<'_> {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => Typed::Null,
        "true" | "True" | "TRUE" => Typed::Bool(true),
        "false" | "False" | "FALSE" => Typed::Bool(false),
        "=" | "<<" => Typed::Other,
        _ if is_float(value.as_bytes()) => float_value(value),
        // YAML only tries numbers on a scalar starting with a sign or digit.
        _ if value.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
            && is_int(value.as_bytes()) =>
        {
            int_value(value)
        }
        _ => Typed::Text(value),
    }
}

/// ruamel.yaml's float pattern, whole-scalar:
/// `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+]?[0-9]+)?`,
/// `[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+`, `[-+]?\.[0-9_]+([eE][-+][0-9]+)?`,
/// `[-+]?\.(inf|Inf|INF)`, `\.(nan|NaN|NAN)`. Matched by hand: compiling
/// it as a regex cost more than the rest of reading a config.
fn is_float(s: &[u8]) -> bool {
    if matches!(s, b".nan" | b".NaN" | b".NAN") {
        return true;
    }
    let s = unsigned(s);
    if matches!(s, b".inf" | b".Inf" | b".INF") {
        return true;
    }
    let run = |x: &[u8]| {
        x.iter()
            .take_while(|&&c| c.is_ascii_digit() || c == b'_')
            .count()
    };
    // `[eE]`, a sign (required or optional), one or more digits, the end.
    let exponent = |x: &[u8], sign_required: bool| match x {
        [b'e' | b'E', rest @ ..] => {
            let digits = match rest {
                [b'-' | b'+', digits @ ..] => digits,
                _ if sign_required => return false,
                digits => digits,
            };
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    match s {
        [c, rest @ ..] if c.is_ascii_digit() => {
            let after = &rest[run(rest)..];
            match after {
                [b'.', fraction @ ..] => {
                    let tail = &fraction[run(fraction)..];
                    tail.is_empty() || exponent(tail, false)
                }
                _ => exponent(after, false),
            }
        }
        [b'.', fraction @ ..] => {
            let n = run(fraction);
            let tail = &fraction[n..];
            n > 0 && (tail.is_empty() || exponent(tail, true))
        }
        _ => false,
    }
}

/// ruamel.yaml's int pattern, whole-scalar:
/// `[-+]?(0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9_]+)`.
fn is_int(s: &[u8]) -> bool {
    let s = unsigned(s);
    let all = |x: &[u8], ok: fn(u8) -> bool| !x.is_empty() && x.iter().all(|&c| ok(c));
    let radix =
        |prefix: &[u8], ok: fn(u8) -> bool| s.strip_prefix(prefix).is_some_and(|r| all(r, ok));
    radix(b"0b", |c| matches!(c, b'0' | b'1' | b'_'))
        || radix(b"0o", |c| matches!(c, b'0'..=b'7' | b'_'))
        || radix(b"0x", |c| c.is_ascii_hexdigit() || c == b'_')
        || all(s, |c| c.is_ascii_digit() || c == b'_')
}

/// `s` without one leading `-` or `+`.
fn unsigned(s: &[u8]) -> &[u8] {
    match s {
        [b'-' | b'+', rest @ ..] => rest,
        _ => s,
    }
}

fn int_value(value: &str) -> Typed<'_> {
    let digits = value.replace('_', "");
    let (negative, digits) = match digits.as_bytes().first() {
        Some(b'-') => (true, &digits[1..]),
        Some(b'+') => (false, &digits[1..]),
        _ => (false, digits.as_str()),
    };
    let (radix, digits) = [("0b", 2), ("0o", 8), ("0x", 16)]
        .iter()
        .find_map(|(prefix, radix)| digits.strip_prefix(prefix).map(|d| (*radix, d)))
        .unwrap_or((10, digits));
    if digits.is_empty() {
        return Typed::Other;
    }
    // Digits were checked by INT: an error means too large for any range.
    let n = i128::from_str_radix(digits, radix).unwrap_or(i128::MAX);
    Typed::Int(if negative { -n } else { n })
}

fn float_value(value: &str) -> Typed<'_> {
    let text = value.replace('_', "").to_ascii_lowercase();
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text.as_str()),
    };
    let n = match text {
        ".inf" => f64::INFINITY,
        ".nan" => f64::NAN,
        _ => match text.parse::<f64>() {
            Ok(n) => n,
            Err(_) => return Typed::Other,
        },
    };
    Typed::Float(if negative { -n } else { n })
}

/// `"12"`, `"10MiB"`, `"1.5 MB"`: bytes, by the grammar the schema's
/// `SIZE_PATTERN` states (digits, an optional fraction, spaces, a unit of
/// `SIZE_UNITS`). None when unreadable.
pub fn parse_size(text: &str) -> Option<u64> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let whole = digits(text);
    if whole == 0 {
        return None;
    }
    let mut end = whole;
    if let Some(after) = text[whole..].strip_prefix('.') {
        let fraction = digits(after);
        if fraction == 0 {
            return None;
        }
        end += 1 + fraction;
    }
    let number: f64 = text[..end].parse().ok()?;
    let unit = text[end..].trim_start_matches(' ');
    let factor = if unit.is_empty() {
        1
    } else {
        keys::SIZE_UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, f)| *f)?
    };
    // Saturates at u64::MAX.
    Some((number * factor as f64) as u64)
}

/// The closest candidate, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn suggest(word: &str, candidates: &[&str], valid: &str) -> String {
    match did_you_mean(word, candidates) {
        Some(s) => format!("did you mean `{s}`? valid values: {valid}"),
        None => format!("valid values: {valid}"),
    }
}

fn describe(node: &Node) -> String {
    match node {
        Node::Scalar { value, .. } if !node.is_null() => format!("`{value}`"),
        other => other.kind().to_string(),
    }
}

/// Help for a value that is not a number in range: quoted numbers are
/// text in YAML; otherwise what the key is.
fn number_help(node: &Node, about: &str) -> String {
    match node {
        Node::Scalar {
            value,
            quoted: true,
            ..
        } if matches!(plain(value), Typed::Int(_) | Typed::Float(_)) => {
            format!("remove the quotes: a quoted `{value}` is text")
        }
        _ => about.to_string(),
    }
}

/// A node as "found ..." names it: its YAML type, and a scalar's text.
fn found(node: &Node) -> String {
    match typed(node) {
        Some(Typed::Null) | None => node.kind().to_string(),
        Some(Typed::Bool(_)) => format!("the boolean {}", describe(node)),
        Some(Typed::Int(_) | Typed::Float(_)) => format!("the number {}", describe(node)),
        Some(Typed::Text(_)) => format!("the text {}", describe(node)),
        Some(Typed::Other) => describe(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source {
            name: "valve.yml".into(),
            text: text.into(),
        }
    }

    fn errors(text: &str) -> Vec<ConfigIssue> {
        match parse(&src(text)) {
            Ok(_) => Vec::new(),
            Err(e) => e.issues,
        }
    }

    fn line_of(text: &str, issue: &ConfigIssue) -> usize {
        text[..issue.span.offset()].matches('\n').count() + 1
    }

    #[test]
    fn seed_file_loads() {
        let seed = "personas:\n  Guardian:\n    filters: [\"**/*secret*\"]\n    response: \"security-paranoid\"\n    severity: \"HALT_EVERYTHING\"\n    schedule: daily\n";
        let raw = parse(&src(seed)).ok();
        let raw = raw.as_ref();
        assert_eq!(
            raw.map(|r| r.personas[0].severity),
            Some(Severity::Critical)
        );
        assert_eq!(raw.map(|r| r.warnings.len()), Some(1));
    }

    #[test]
    fn misspelled_key_suggests_the_right_one() {
        let text = "personas:\n  A:\n    triger: ['x']\n";
        let errs = errors(text);
        assert_eq!(errs.len(), 1);
        assert_eq!(line_of(text, &errs[0]), 3);
        assert!(errs[0].help.as_deref().unwrap_or("").contains("`triggers`"));
    }

    #[test]
    fn all_errors_are_reported_together() {
        let text = "personas:\n  A:\n    severity: hgih\n    scope: lines\n  B:\n    on: [added, modifed]\n    redact: maybe\n";
        let errs = errors(text);
        assert_eq!(errs.len(), 4);
        let lines: Vec<usize> = errs.iter().map(|e| line_of(text, e)).collect();
        assert_eq!(lines, vec![3, 4, 6, 7]);
        assert!(errs[2].help.as_deref().unwrap_or("").contains("`modified`"));
    }

    #[test]
    fn duplicate_persona_is_reported_at_its_second_occurrence() {
        let text = "personas:\n  A: {}\n  B: {}\n  A: {}\n";
        let errs = errors(text);
        assert_eq!(errs.len(), 1);
        assert_eq!(line_of(text, &errs[0]), 4);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("1KB"), Some(1000));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("2 GiB"), Some(2 << 30));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("10XB"), None);
        assert_eq!(parse_size("1.5 MB"), Some(1_500_000));
        // The grammar of the schema's pattern, exactly.
        assert_eq!(parse_size("1."), None);
        assert_eq!(parse_size(".5"), None);
        assert_eq!(parse_size(" 10"), None);
        assert_eq!(parse_size("10mib"), None);
    }

    /// The hand-written matchers accept exactly what ruamel.yaml's patterns
    /// do, on every scalar of up to five characters from the characters
    /// the patterns care about (and one they do not).
    #[test]
    fn number_matchers_equal_ruamels_patterns() {
        let float = regex::Regex::new(
            r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        )
        .expect("float pattern");
        let int = regex::Regex::new(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9_]+)$")
            .expect("int pattern");
        let alphabet = [
            "0", "1", "7", "8", "_", ".", "e", "E", "-", "+", "b", "o", "x", "f", "z", "é",
        ];
        let mut scalars: Vec<String> = vec![String::new()];
        let mut last = scalars.clone();
        for _ in 0..5 {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            scalars.extend(last.iter().cloned());
        }
        for word in [
            "inf", "Inf", "INF", "nan", "NaN", "NAN", "iNf", "nAn", "infx",
        ] {
            for prefix in ["", ".", "-.", "+.", "1.", "-"] {
                scalars.push(format!("{prefix}{word}"));
            }
        }
        scalars.extend(["1.5e+10", "-1_0.0_1e-99", ".5E+3", "0x_Ff", "0o_7"].map(String::from));
        let mut accepted = (0, 0);
        for s in &scalars {
            assert_eq!(is_float(s.as_bytes()), float.is_match(s), "float {s:?}");
            assert_eq!(is_int(s.as_bytes()), int.is_match(s), "int {s:?}");
            accepted.0 += usize::from(float.is_match(s));
            accepted.1 += usize::from(int.is_match(s));
        }
        // The generated scalars exercise both sides of both patterns.
        assert!(accepted.0 > 1000 && accepted.1 > 1000, "{accepted:?}");
    }

    #[test]
    fn plain_scalars_are_typed_as_yaml_1_2_reads_them() {
        for (text, want) in [
            ("42", Typed::Int(42)),
            ("-7", Typed::Int(-7)),
            ("1_000", Typed::Int(1000)),
            ("0x10", Typed::Int(16)),
            ("0o17", Typed::Int(15)),
            ("0b101", Typed::Int(5)),
            ("010", Typed::Int(10)),
            ("1.5", Typed::Float(1.5)),
            ("1e3", Typed::Float(1000.0)),
            (".5", Typed::Float(0.5)),
            ("-.inf", Typed::Float(f64::NEG_INFINITY)),
            (".5e3", Typed::Text(".5e3")),
            ("_1", Typed::Text("_1")),
            ("yes", Typed::Text("yes")),
            ("2024-01-31", Typed::Text("2024-01-31")),
            ("10MiB", Typed::Text("10MiB")),
            ("True", Typed::Bool(true)),
            ("FALSE", Typed::Bool(false)),
            ("~", Typed::Null),
            ("=", Typed::Other),
            ("0x_", Typed::Other),
        ] {
            assert_eq!(plain(text), want, "{text}");
        }
        assert!(matches!(plain(".nan"), Typed::Float(n) if n.is_nan()));
    }

    #[test]
    fn numbers_and_booleans_are_not_text() {
        let text = "personas:\n  A:\n    message: 42\n    filters: 3\n    tags: [a, true]\n    response: '42'\n";
        let errs = errors(text);
        let lines: Vec<usize> = errs.iter().map(|e| line_of(text, e)).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(
            errs[0].label.contains("the number `42`"),
            "{}",
            errs[0].label
        );
        assert!(errs[2].label.contains("the boolean `true`"));
    }

    #[test]
    fn whole_numbers_in_any_yaml_form() {
        let raw = parse(&src(
            "version: 1.0\nmax_findings: 1e3\nmax_file_size: 0x400\npersonas: {}\n",
        ))
        .ok();
        assert_eq!(raw.as_ref().map(|r| r.max_findings), Some(1000));
        assert_eq!(raw.as_ref().map(|r| r.max_file_size), Some(1024));
        assert_eq!(errors("max_findings: 2.5\npersonas: {}\n").len(), 1);
        assert_eq!(errors("max_findings: '100'\npersonas: {}\n").len(), 1);
    }

    #[test]
    fn fail_on_per_context() {
        let raw = parse(&src(
            "fail_on: { hook: error, ci: warning, watch: never }\npersonas: {}\n",
        ));
        let f = raw.map(|r| r.fail_on).ok();
        assert_eq!(
            f.and_then(|f| f.ci),
            Some(Threshold::AtLeast(Severity::Warning))
        );
        assert_eq!(f.and_then(|f| f.watch), Some(Threshold::Never));
    }
}
