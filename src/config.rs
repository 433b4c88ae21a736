//! Find `.sage/valve.yml` and read it, strictly, into plain raw structs.
//!
//! Every value keeps its span so that `persona.rs` can point at a bad glob
//! or regex. Validation never stops at the first problem: each one becomes a
//! `ConfigIssue` and all of them are returned together. Nothing here
//! compiles patterns or touches git.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use miette::SourceSpan;

use crate::error::{ConfigErrors, ConfigIssue, ConfigText, Error, Result};
use crate::finding::ChangeKind;
use crate::severity::{SEVERITY_WORDS, Severity, Threshold};
use crate::yaml::{self, Node};

pub const CONFIG_PATHS: [&str; 2] = [".sage/valve.yml", ".sage/valve.yaml"];
pub const BASELINE_PATH: &str = ".sage/valve-baseline.json";
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

const TOP_KEYS: &[&str] = &[
    "version",
    "ignore",
    "max_file_size",
    "max_findings",
    "fail_on",
    "personas",
];
/// Findings kept in a report by default; the rest are counted (SPEC §9).
pub const DEFAULT_MAX_FINDINGS: usize = 10_000;
const PERSONA_KEYS: &[&str] = &[
    "description",
    "tags",
    "security_severity",
    "help_uri",
    "filters",
    "exclude",
    "triggers",
    "response",
    "severity",
    "message",
    "scope",
    "on",
    "redact",
    "allow_ignore",
    "binary",
    "history",
    "examples",
    "schedule",
];
const BINARY_CHOICES: &[&str] = &["skip", "scan"];
const FAIL_ON_KEYS: &[&str] = &["hook", "ci", "watch", "default"];
const EXAMPLE_SETS: &[&str] = &["fires", "quiet"];
const EXAMPLE_KEYS: &[&str] = &["path", "content"];
const SCOPES: &[&str] = &["changed", "file"];

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

/// `fail_on`, either one threshold or one per context.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailOn {
    pub default: Option<Threshold>,
    pub hook: Option<Threshold>,
    pub ci: Option<Threshold>,
    pub watch: Option<Threshold>,
}

#[derive(Debug, Clone)]
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
    pub examples: Examples,
}

#[derive(Debug, Clone)]
pub struct RawConfig {
    pub ignore: Vec<Spanned<String>>,
    pub max_file_size: u64,
    pub max_findings: usize,
    pub fail_on: FailOn,
    pub personas: Vec<RawPersona>,
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
            personas: Vec::new(),
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
        let Some(entries) = self.mapping(&root, "the top level of valve.yml") else {
            return raw;
        };
        let mut seen_personas = false;
        for (key, value) in self.unique_keys(entries, TOP_KEYS, "top-level key") {
            match key.as_str() {
                "version" if !matches!(value, Node::Scalar { value: v, .. } if v == "1") => {
                    self.issue(
                        value.span(),
                        "unsupported config version",
                        "only version 1 exists",
                        Some("write `version: 1` or remove the key".into()),
                    );
                }
                "ignore" => raw.ignore = self.strings(value, "ignore"),
                "max_file_size" => {
                    if let Some(size) = self.size(value) {
                        raw.max_file_size = size;
                    }
                }
                "max_findings" => {
                    if let Some(n) = self.count(value, "max_findings") {
                        raw.max_findings = n;
                    }
                }
                "fail_on" => raw.fail_on = self.fail_on(value),
                "personas" => {
                    seen_personas = true;
                    raw.personas = self.personas(value, &mut raw.warnings);
                }
                _ => {}
            }
        }
        if !seen_personas {
            self.issue(
                root.span(),
                "valve.yml declares no personas",
                "a `personas:` mapping is required",
                Some(
                    "add `personas:` with at least one persona; `valve init` writes an example"
                        .into(),
                ),
            );
        }
        raw
    }

    /// The entries of a mapping, or an issue saying what was expected.
    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match node {
            Node::Map { entries, .. } => Some(entries),
            other => {
                self.issue(
                    other.span(),
                    format!("{what} must be a mapping"),
                    format!("found {}", other.kind()),
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
                    format!("found {}", other.kind()),
                    None,
                );
                None
            }
        }
    }

    fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match node {
            Node::Scalar { value, .. } if !node.is_null() => Some(value.clone()),
            other => {
                self.issue(
                    other.span(),
                    format!("`{key}` must be a string"),
                    format!("found {}", other.kind()),
                    Some(format!("write `{key}: some text`")),
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, key: &str) -> Option<bool> {
        if let Node::Scalar {
            value,
            quoted: false,
            ..
        } = node
        {
            match value.as_str() {
                "true" | "True" | "TRUE" => return Some(true),
                "false" | "False" | "FALSE" => return Some(false),
                _ => {}
            }
        }
        self.issue(
            node.span(),
            format!("`{key}` must be true or false"),
            format!("found {}", describe(node)),
            Some(format!("write `{key}: true` or `{key}: false`")),
        );
        None
    }

    /// A list of strings; a single string is accepted as a one-item list.
    fn strings(&mut self, node: &Node, key: &str) -> Vec<Spanned<String>> {
        match node {
            Node::Seq { items, .. } => items
                .iter()
                .filter_map(|item| match item {
                    Node::Scalar { value, .. } if !item.is_null() => Some(Spanned {
                        value: value.clone(),
                        span: item.span(),
                    }),
                    other => {
                        self.issue(
                            other.span(),
                            format!("every item of `{key}` must be a string"),
                            format!("found {}", other.kind()),
                            Some("quote the pattern: '...'".into()),
                        );
                        None
                    }
                })
                .collect(),
            Node::Scalar { value, .. } if !node.is_null() => vec![Spanned {
                value: value.clone(),
                span: node.span(),
            }],
            n if n.is_null() => Vec::new(),
            other => {
                self.issue(
                    other.span(),
                    format!("`{key}` must be a list of strings"),
                    format!("found {}", other.kind()),
                    Some(format!("write `{key}: [\"pattern\", ...]`")),
                );
                Vec::new()
            }
        }
    }

    /// A positive whole number (`max_findings`).
    fn count(&mut self, node: &Node, key: &str) -> Option<usize> {
        if let Node::Scalar {
            value,
            quoted: false,
            ..
        } = node
        {
            if let Ok(n) = value.replace('_', "").parse::<usize>() {
                if n > 0 {
                    return Some(n);
                }
            }
        }
        self.issue(
            node.span(),
            format!("`{key}` must be a positive whole number"),
            format!("found {}", describe(node)),
            Some(format!("write e.g. `{key}: 10000`")),
        );
        None
    }

    /// A SARIF `security-severity`: a number from 0.0 to 10.0.
    fn score(&mut self, node: &Node) -> Option<f64> {
        if let Node::Scalar {
            value,
            quoted: false,
            ..
        } = node
        {
            if let Ok(n) = value.parse::<f64>() {
                if (0.0..=10.0).contains(&n) {
                    return Some(n);
                }
            }
        }
        self.issue(
            node.span(),
            "`security_severity` must be a number from 0.0 to 10.0",
            format!("found {}", describe(node)),
            Some(
                "write e.g. `security_severity: 9.0` (GitHub: 9+ critical, 7+ high, 4+ medium)"
                    .into(),
            ),
        );
        None
    }

    /// `binary: skip | scan`; true for scan.
    fn binary_choice(&mut self, node: &Node) -> Option<bool> {
        self.choice(
            node,
            "`binary` choice",
            "not skip or scan",
            BINARY_CHOICES,
            "skip or scan",
        )
        .map(|i| BINARY_CHOICES[i] == "scan")
    }

    /// One of `choices`, as its index; otherwise an issue with a
    /// did-you-mean (`what` names the value in the title).
    fn choice(
        &mut self,
        node: &Node,
        what: &str,
        label: &str,
        choices: &[&str],
        valid: &str,
    ) -> Option<usize> {
        let word = match node {
            Node::Scalar { value, .. } => value.as_str(),
            _ => "",
        };
        if let Some(i) = choices.iter().position(|c| *c == word) {
            return Some(i);
        }
        let word = word.to_string();
        self.issue(
            node.span(),
            format!("unknown {what} {}", describe(node)),
            label,
            Some(suggest(&word, choices, valid)),
        );
        None
    }

    fn size(&mut self, node: &Node) -> Option<u64> {
        let text = match node {
            Node::Scalar { value, .. } => value.clone(),
            _ => String::new(),
        };
        match parse_size(&text) {
            Some(n) => Some(n),
            None => {
                self.issue(
                    node.span(),
                    "invalid `max_file_size`",
                    format!("cannot read {} as a size", describe(node)),
                    Some("write a byte count or a number with B, KB, KiB, MB, MiB, GB or GiB, e.g. `10MiB`".into()),
                );
                None
            }
        }
    }

    fn threshold(&mut self, node: &Node) -> Option<Threshold> {
        let word = match node {
            Node::Scalar { value, .. } if !node.is_null() => value.clone(),
            _ => String::new(),
        };
        if let Some(t) = Threshold::parse(&word) {
            return Some(t);
        }
        let mut words: Vec<&str> = SEVERITY_WORDS.to_vec();
        words.push("never");
        self.issue(
            node.span(),
            format!("unknown threshold {}", describe(node)),
            "not a severity",
            Some(suggest(
                &word,
                &words,
                "info, warning, error, critical or never",
            )),
        );
        None
    }

    fn fail_on(&mut self, node: &Node) -> FailOn {
        let mut out = FailOn::default();
        match node {
            Node::Map { entries, .. } => {
                for (key, value) in self.unique_keys(entries, FAIL_ON_KEYS, "`fail_on` context") {
                    let t = self.threshold(value);
                    match key.as_str() {
                        "hook" => out.hook = t,
                        "ci" => out.ci = t,
                        "watch" => out.watch = t,
                        _ => out.default = t,
                    }
                }
            }
            other => out.default = self.threshold(other),
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
            examples: Examples::default(),
        };
        if node.is_null() {
            return Some(p);
        }
        let entries = self.mapping(node, &format!("persona `{}`", p.name.value))?;
        for (key, value) in self.unique_keys(entries, PERSONA_KEYS, "persona key") {
            match key.as_str() {
                "description" => p.description = self.string(value, "description"),
                "filters" => p.filters = self.strings(value, "filters"),
                "exclude" => p.exclude = self.strings(value, "exclude"),
                "triggers" => p.triggers = self.strings(value, "triggers"),
                "response" => p.response = self.string(value, "response"),
                "message" => p.message = self.string(value, "message"),
                "severity" => p.severity = self.severity(value).unwrap_or_default(),
                "scope" => p.scope = self.scope(value).unwrap_or_default(),
                "on" => p.on = Some(self.change_kinds(value)),
                "redact" => p.redact = self.boolean(value, "redact").unwrap_or(false),
                "allow_ignore" => {
                    p.allow_ignore = self.boolean(value, "allow_ignore").unwrap_or(true)
                }
                "binary" => p.scan_binary = self.binary_choice(value).unwrap_or(false),
                "tags" => {
                    p.tags = self
                        .strings(value, "tags")
                        .into_iter()
                        .map(|t| t.value)
                        .collect()
                }
                "security_severity" => p.security_severity = self.score(value),
                "help_uri" => p.help_uri = self.string(value, "help_uri"),
                "history" => p.history = self.boolean(value, "history").unwrap_or(false),
                "examples" => p.examples = self.examples(value),
                "schedule" => warnings.push(format!(
                    "persona `{}`: `schedule` is accepted for the seed format and ignored",
                    p.name.value
                )),
                _ => {}
            }
        }
        Some(p)
    }

    fn severity(&mut self, node: &Node) -> Option<Severity> {
        let word = match node {
            Node::Scalar { value, .. } if !node.is_null() => value.clone(),
            _ => String::new(),
        };
        if let Some(s) = Severity::parse(&word) {
            return Some(s);
        }
        self.issue(
            node.span(),
            format!("unknown severity {}", describe(node)),
            "not a severity",
            Some(suggest(
                &word,
                SEVERITY_WORDS,
                "info, warning, error or critical",
            )),
        );
        None
    }

    fn scope(&mut self, node: &Node) -> Option<Scope> {
        self.choice(node, "scope", "not a scope", SCOPES, "changed or file")
            .map(|i| {
                if SCOPES[i] == "file" {
                    Scope::File
                } else {
                    Scope::Changed
                }
            })
    }

    fn change_kinds(&mut self, node: &Node) -> Vec<ChangeKind> {
        let mut kinds = Vec::new();
        for word in self.strings(node, "on") {
            match ChangeKind::parse(&word.value) {
                Some(k) => kinds.push(k),
                None => self.issue(
                    word.span,
                    format!("unknown change kind `{}`", word.value),
                    "not a change kind",
                    Some(suggest(
                        &word.value,
                        ChangeKind::WORDS,
                        "added, modified, renamed or deleted",
                    )),
                ),
            }
        }
        kinds
    }

    fn examples(&mut self, node: &Node) -> Examples {
        let mut out = Examples::default();
        let Some(entries) = self.mapping(node, "`examples`") else {
            return out;
        };
        for (key, value) in self.unique_keys(entries, EXAMPLE_SETS, "examples key") {
            let list = match value {
                Node::Seq { items, .. } => {
                    items.iter().filter_map(|item| self.example(item)).collect()
                }
                other => {
                    self.issue(
                        other.span(),
                        format!("`{key}` must be a list of examples"),
                        format!("found {}", other.kind()),
                        Some("write `- { path: src/a.ts, content: '...' }`".into()),
                    );
                    Vec::new()
                }
            };
            if key == "fires" {
                out.fires = list;
            } else {
                out.quiet = list;
            }
        }
        out
    }

    fn example(&mut self, node: &Node) -> Option<Example> {
        let entries = self.mapping(node, "an example")?;
        let mut path = None;
        let mut content = None;
        for (key, value) in self.unique_keys(entries, EXAMPLE_KEYS, "example key") {
            let text = self.string(value, &key);
            if key == "path" {
                path = text;
            } else {
                content = text;
            }
        }
        match path {
            Some(path) => Some(Example {
                path,
                content: content.unwrap_or_default(),
            }),
            None => {
                self.issue(
                    node.span(),
                    "example without `path`",
                    "needs a path",
                    Some("add `path: some/file.ext`".into()),
                );
                None
            }
        }
    }
}

/// `"12"`, `"10MiB"`, `"1.5 MB"`: bytes. None when unreadable.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    if !number.is_finite() || number < 0.0 {
        return None;
    }
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
