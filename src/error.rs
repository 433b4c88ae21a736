//! valve's errors: one enum for the run, one diagnostic type for config
//! problems. Every variant says how to fix it; main maps them all to exit 2.

use std::path::PathBuf;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

/// One problem in valve.yml, pointing at the offending key or value.
#[derive(Debug, Error, Diagnostic, Clone)]
#[error("{title}")]
#[diagnostic(code(valve::config))]
pub struct ConfigIssue {
    pub title: String,
    #[source_code]
    pub src: NamedSource<String>,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
    #[help]
    pub help: Option<String>,
}

/// Every problem found in one config file, reported together.
#[derive(Debug, Error, Diagnostic)]
#[error("{path} has {} error{}", issues.len(), if issues.len() == 1 { "" } else { "s" })]
#[diagnostic(
    code(valve::config::invalid),
    help("fix the marked places; the README's config reference lists every key")
)]
pub struct ConfigErrors {
    pub path: String,
    #[related]
    pub issues: Vec<ConfigIssue>,
}

impl ConfigErrors {
    /// Issues in file order.
    pub fn new(path: &str, mut issues: Vec<ConfigIssue>) -> Self {
        issues.sort_by_key(|i| i.span.offset());
        ConfigErrors {
            path: path.to_string(),
            issues,
        }
    }
}

/// Everything that ends a run with exit 2.
#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigErrors),

    #[error("no valve config found at {}", looked_for.display())]
    #[diagnostic(
        code(valve::config::missing),
        help("run `valve init` to write a starter .sage/valve.yml, or pass --config PATH")
    )]
    ConfigMissing { looked_for: PathBuf },

    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(valve::io))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{message}")]
    #[diagnostic(code(valve::git))]
    Git {
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("{message}")]
    #[diagnostic(code(valve::usage))]
    Usage {
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("{message}")]
    #[diagnostic(code(valve::refused))]
    Refused {
        message: String,
        #[help]
        help: Option<String>,
    },
}

impl Error {
    pub fn git(message: impl Into<String>, help: impl Into<Option<String>>) -> Self {
        Error::Git {
            message: message.into(),
            help: help.into(),
        }
    }

    pub fn usage(message: impl Into<String>, help: impl Into<Option<String>>) -> Self {
        Error::Usage {
            message: message.into(),
            help: help.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
