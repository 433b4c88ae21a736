//! The ordered severity ladder, its aliases, and the `fail_on` threshold.
//!
//! Owns parsing of severity words only; where a severity came from (a flag,
//! a config key) is the caller's business.

use std::fmt;

/// How serious a persona's finding is. Ordered: info < warning < error < critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    #[default]
    Info,
    Warning,
    Error,
    Critical,
}

/// Every spelling `parse` accepts, for "did you mean" suggestions.
pub const SEVERITY_WORDS: &[&str] = &[
    "info",
    "warning",
    "error",
    "critical",
    "note",
    "warn",
    "halt",
    "HALT_EVERYTHING",
];

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ];

    /// Parses a severity word, case-insensitively, with the seed's aliases.
    pub fn parse(word: &str) -> Option<Severity> {
        match word.to_ascii_lowercase().as_str() {
            "info" | "note" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            "critical" | "halt" | "halt_everything" => Some(Severity::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The blocking threshold: a severity, or `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    AtLeast(Severity),
    Never,
}

impl Threshold {
    pub fn parse(word: &str) -> Option<Threshold> {
        if word.eq_ignore_ascii_case("never") {
            return Some(Threshold::Never);
        }
        Severity::parse(word).map(Threshold::AtLeast)
    }

    /// Lower is stricter: what "the strictest threshold" compares.
    pub fn strictness(self) -> u8 {
        match self {
            Threshold::AtLeast(s) => s as u8,
            Threshold::Never => u8::MAX,
        }
    }

    /// Whether a finding of `severity` blocks; with SPEC §11's
    /// `enforce_after`, only from that date on `today`.
    pub fn blocks_on(
        self,
        severity: Severity,
        enforced_from: Option<crate::date::Date>,
        today: crate::date::Date,
    ) -> bool {
        self.blocks(severity) && enforced_from.is_none_or(|d| today >= d)
    }

    pub fn blocks(self, severity: Severity) -> bool {
        match self {
            Threshold::AtLeast(min) => severity >= min,
            Threshold::Never => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Threshold::AtLeast(s) => s.as_str(),
            Threshold::Never => "never",
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a run happens; `fail_on` may differ per context (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Hook,
    Ci,
    Watch,
    Default,
}

impl Context {
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Hook => "hook",
            Context::Ci => "ci",
            Context::Watch => "watch",
            Context::Default => "default",
        }
    }

    /// `CI` set, non-empty, and not `false`/`0` means a CI run.
    pub fn ci_from_env(value: Option<&str>) -> bool {
        match value {
            None => false,
            Some(v) => {
                let v = v.trim();
                !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_case_are_accepted() {
        assert_eq!(Severity::parse("HALT_EVERYTHING"), Some(Severity::Critical));
        assert_eq!(Severity::parse("halt"), Some(Severity::Critical));
        assert_eq!(Severity::parse("Warn"), Some(Severity::Warning));
        assert_eq!(Severity::parse("NOTE"), Some(Severity::Info));
        assert_eq!(Severity::parse("fatal"), None);
    }

    #[test]
    fn ladder_is_ordered() {
        assert!(Severity::Info < Severity::Warning);
        assert!(Severity::Warning < Severity::Error);
        assert!(Severity::Error < Severity::Critical);
    }

    #[test]
    fn never_blocks_nothing() {
        assert!(!Threshold::Never.blocks(Severity::Critical));
        assert!(Threshold::AtLeast(Severity::Warning).blocks(Severity::Error));
        assert!(!Threshold::AtLeast(Severity::Error).blocks(Severity::Warning));
    }

    #[test]
    fn ci_env_values() {
        assert!(Context::ci_from_env(Some("true")));
        assert!(Context::ci_from_env(Some("1")));
        assert!(!Context::ci_from_env(Some("false")));
        assert!(!Context::ci_from_env(Some("0")));
        assert!(!Context::ci_from_env(Some("")));
        assert!(!Context::ci_from_env(None));
    }
}
