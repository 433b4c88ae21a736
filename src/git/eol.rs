//! What `git add` would store for a work-tree file (SPEC §2.1 "Line
//! endings"): the `text`, `crlf` and `eol` attributes with `core.autocrlf`
//! and `core.eol`, `ident`, and `working-tree-encoding`, applied with gix's
//! own conversions.
//!
//! No filter driver is ever involved: the attributes are read here and only
//! the built-in, in-process conversions are called, so no `filter=` in a
//! stranger's `.gitattributes` can start a program (SPEC §9), even apart
//! from `inert.rs` having removed every driver from the configuration.
//!
//! A [`Conversion`] is worked out once per listed file (attributes, and for
//! `text=auto` whether the index's copy already has CRLF, as git checks)
//! and applied when the bytes are hashed ("unchanged?", rename ids) and
//! before the line diff of `scope: changed`. Triggers run on the file as
//! it is.

use std::borrow::Cow;

use gix::bstr::BStr;
use gix::filter::plumbing as filter;
use gix::filter::plumbing::eol::AttributesDigest;

use crate::error::{Error, Result};

/// How a file's bytes become what `git add` stores.
#[derive(Debug, Clone, Copy)]
pub struct Conversion {
    digest: AttributesDigest,
    config: filter::eol::Configuration,
    ident: bool,
    encoding: Option<&'static filter::encoding::Encoding>,
    /// `text=auto` and the index's copy has CRLF: git leaves CRLF alone.
    index_has_crlf: bool,
}

impl Conversion {
    /// What `git add` would store for `raw`; `raw` itself when nothing
    /// applies (or a conversion fails, as git would refuse the add).
    pub fn apply<'a>(&self, raw: &'a [u8]) -> Cow<'a, [u8]> {
        let mut data: Cow<'a, [u8]> = Cow::Borrowed(raw);
        let mut buf = Vec::new();
        if let Some(encoding) = self.encoding {
            if filter::worktree::encode_to_git(
                &data,
                encoding,
                &mut buf,
                filter::worktree::encode_to_git::RoundTripCheck::Skip,
            )
            .is_ok()
            {
                data = Cow::Owned(std::mem::take(&mut buf));
            }
        }
        let index_has_crlf = self.index_has_crlf;
        let converted = filter::eol::convert_to_git(
            &data,
            self.digest,
            &mut buf,
            &mut |index_copy: &mut Vec<u8>| {
                // Only asked for `text=auto` with CRLF in the input.
                Ok(index_has_crlf.then(|| {
                    index_copy.clear();
                    index_copy.extend_from_slice(b"\r\n");
                }))
            },
            filter::eol::convert_to_git::Options {
                round_trip_check: None,
                config: self.config,
            },
        );
        if converted.unwrap_or(false) {
            data = Cow::Owned(std::mem::take(&mut buf));
        }
        if self.ident && filter::ident::undo(&data, &mut buf).unwrap_or(false) {
            data = Cow::Owned(buf);
        }
        data
    }

    /// Whether a conversion can change anything at all.
    fn is_identity(&self) -> bool {
        self.digest == AttributesDigest::Binary && !self.ident && self.encoding.is_none()
    }
}

/// The attributes that decide a conversion, in this order.
const NAMES: [&str; 5] = ["text", "crlf", "eol", "ident", "working-tree-encoding"];

/// Those of `NAMES` that convert more than line endings.
const NOT_LINE_ENDINGS: [&str; 2] = ["ident", "working-tree-encoding"];

/// Works out conversions for the files of one work tree.
#[derive(Clone)]
pub(super) struct Conversions {
    stack: gix::worktree::Stack,
    outcome: gix::attrs::search::Outcome,
    config: filter::eol::Configuration,
}

impl Conversions {
    /// Attributes as `git add` reads them: `.gitattributes` in the work
    /// tree (else as the index has it), `info/attributes`,
    /// `core.attributesFile`.
    pub(super) fn new(repo: &gix::Repository, index: &gix::index::State) -> Result<Conversions> {
        let stack = repo
            .attributes_only(
                index,
                gix::worktree::stack::state::attributes::Source::WorktreeThenIdMapping,
            )
            .map_err(|e| Error::git(format!("cannot read the attributes: {e}"), None))?
            .detach();
        let outcome = stack.selected_attribute_matches(NAMES);
        let options = gix::filter::Pipeline::options(repo).map_err(|e| {
            Error::git(
                format!("cannot read core.autocrlf / core.eol: {e}"),
                Some("check `git config core.autocrlf` and `git config core.eol`".to_string()),
            )
        })?;
        Ok(Conversions {
            stack,
            outcome,
            config: options.eol_config,
        })
    }

    /// Whether no attribute file read so far (the global ones, and those
    /// of the folders `at` went into) names an attribute that converts
    /// more than line endings: until one does, every conversion there is
    /// of line endings alone (`text`, `crlf`, `eol`, `core.autocrlf`).
    pub(super) fn only_line_endings(&self) -> bool {
        !self
            .stack
            .attributes_collection()
            .iter()
            .any(|(name, _)| NOT_LINE_ENDINGS.contains(&name))
    }

    /// The conversion of the file at `path`, or `None` when `git add`
    /// would store its bytes as they are. `index_copy` reads the index's
    /// blob of the path, needed only to decide `text=auto`.
    pub(super) fn at(
        &mut self,
        repo: &gix::Repository,
        path: &BStr,
        index_copy: impl FnOnce() -> Result<Option<Vec<u8>>>,
    ) -> Result<Option<Conversion>> {
        use gix::attrs::StateRef;
        let platform = self
            .stack
            .at_entry(path, Some(gix::index::entry::Mode::FILE), &repo.objects)
            .map_err(|e| Error::git(format!("cannot read the attributes of {path}: {e}"), None))?;
        // No pattern matches the path (the usual case): every attribute is
        // unspecified, and the selection need not be gone through.
        let mut states = [StateRef::Unspecified; NAMES.len()];
        if platform.matching_attributes(&mut self.outcome) {
            for (state, m) in states.iter_mut().zip(self.outcome.iter_selected()) {
                *state = m.assignment.state;
            }
        }
        let value = |i: usize| match states.get(i) {
            Some(StateRef::Value(v)) => Some(v.as_bstr()),
            _ => None,
        };
        // `text` first, the older `crlf` when `text` says nothing (git's
        // convert.c order).
        let text = |state: Option<&StateRef<'_>>| match state {
            Some(StateRef::Set) => Some(AttributesDigest::Text),
            Some(StateRef::Unset) => Some(AttributesDigest::Binary),
            Some(StateRef::Value(v)) if v.as_bstr() == "input" => Some(AttributesDigest::TextInput),
            Some(StateRef::Value(v)) if v.as_bstr() == "auto" => Some(AttributesDigest::TextAuto),
            _ => None,
        };
        let mut digest = text(states.first()).or_else(|| text(states.get(1)));
        if digest != Some(AttributesDigest::Binary) {
            let eol = value(2).and_then(|v| {
                if v == "lf" {
                    Some(filter::eol::Mode::Lf)
                } else if v == "crlf" {
                    Some(filter::eol::Mode::CrLf)
                } else {
                    None
                }
            });
            digest = match (digest, eol) {
                (Some(AttributesDigest::TextAuto), Some(filter::eol::Mode::Lf)) => {
                    Some(AttributesDigest::TextAutoInput)
                }
                (Some(AttributesDigest::TextAuto), Some(filter::eol::Mode::CrLf)) => {
                    Some(AttributesDigest::TextAutoCrlf)
                }
                (_, Some(filter::eol::Mode::CrLf)) => Some(AttributesDigest::TextCrlf),
                (_, Some(filter::eol::Mode::Lf)) => Some(AttributesDigest::TextInput),
                (digest, None) => digest,
            };
        }
        let digest = match digest {
            None => self.config.auto_crlf.into(),
            Some(AttributesDigest::Text) => self.config.to_eol().into(),
            Some(digest) => digest,
        };
        let ident = matches!(states.get(3), Some(StateRef::Set));
        // An encoding git does not know makes `git add` fail; UTF-8 is
        // stored as it is.
        let encoding = value(4)
            .and_then(|label| filter::encoding::Encoding::for_label(label))
            .filter(|e| *e != filter::encoding::UTF_8);
        let mut conversion = Conversion {
            digest,
            config: self.config,
            ident,
            encoding,
            index_has_crlf: false,
        };
        if conversion.is_identity() {
            return Ok(None);
        }
        if digest.is_auto_text() {
            conversion.index_has_crlf = index_copy()?.is_some_and(|copy| has_crlf_text(&copy));
        }
        Ok(Some(conversion))
    }
}

/// git's "the index already has CRLF" test: a text blob with a CRLF.
fn has_crlf_text(data: &[u8]) -> bool {
    if memchr::memchr(b'\r', data).is_none() {
        return false;
    }
    let stats = filter::eol::Stats::from_bytes(data);
    !stats.is_binary() && stats.crlf > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversion(digest: AttributesDigest, auto_crlf: filter::eol::AutoCrlf) -> Conversion {
        Conversion {
            digest,
            config: filter::eol::Configuration {
                auto_crlf,
                eol: None,
            },
            ident: false,
            encoding: None,
            index_has_crlf: false,
        }
    }

    #[test]
    fn autocrlf_stores_lf() {
        let c = conversion(
            filter::eol::AutoCrlf::Enabled.into(),
            filter::eol::AutoCrlf::Enabled,
        );
        assert_eq!(c.apply(b"a\r\nb\r\n").as_ref(), b"a\nb\n");
    }

    #[test]
    fn auto_leaves_binary_and_index_crlf_alone() {
        let c = conversion(AttributesDigest::TextAuto, filter::eol::AutoCrlf::Disabled);
        assert_eq!(c.apply(b"a\0\r\n").as_ref(), b"a\0\r\n");
        let kept = Conversion {
            index_has_crlf: true,
            ..c
        };
        assert_eq!(kept.apply(b"a\r\n").as_ref(), b"a\r\n");
        assert_eq!(c.apply(b"a\r\n").as_ref(), b"a\n");
    }

    #[test]
    fn text_converts_even_binary_looking_content() {
        let c = conversion(AttributesDigest::TextInput, filter::eol::AutoCrlf::Disabled);
        assert_eq!(c.apply(b"x\r\n").as_ref(), b"x\n");
    }

    #[test]
    fn ident_is_collapsed() {
        let c = Conversion {
            ident: true,
            ..conversion(AttributesDigest::Binary, filter::eol::AutoCrlf::Disabled)
        };
        assert_eq!(c.apply(b"$Id: 1234 $\n").as_ref(), b"$Id$\n");
    }

    #[test]
    fn crlf_in_the_index_copy_is_text_crlf_only() {
        assert!(has_crlf_text(b"a\r\nb"));
        assert!(!has_crlf_text(b"a\rb\n"));
        assert!(!has_crlf_text(b"\0a\r\n"));
    }
}
