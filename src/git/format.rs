//! Which repositories valve can read (SPEC §2.1 "Object formats"), and the
//! errors that say so: fail closed, naming what cannot be read and why.
//!
//! Objects may be SHA-1 or SHA-256. A repository extension is read the way
//! git reads it (`core.repositoryformatversion` and `extensions.*` of the
//! repository's own config): one valve does not know is exit 2 naming it,
//! at once. Refs in the reftable format are not readable by gix: such a
//! repository still opens, and only what needs a ref (`HEAD`, a branch
//! name) is exit 2 naming the format, so `--all` and `--base <id> --head
//! <id>` still work.
//!
//! In a partial clone a missing object is one the promisor remote has:
//! valve never fetches (it neither writes objects nor runs a program), so
//! the error names the object and the `git fetch` that gets it.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;

use super::name;
use crate::error::{Error, Result};

/// The extensions git knows that valve reads; `v1` ones are not allowed in
/// a version 0 repository (git refuses that combination).
const KNOWN: &[(&str, bool)] = &[
    ("noop", false),
    ("preciousobjects", false),
    ("partialclone", false),
    ("worktreeconfig", false),
    ("noop-v1", true),
    ("objectformat", true),
    ("compatobjectformat", true),
    ("refstorage", true),
    ("relativeworktrees", true),
];

/// What of a repository valve cannot read, found when it is opened.
#[derive(Debug, Clone, Default)]
pub(super) struct Limits {
    /// The ref storage format, when it is not `files`.
    pub(super) refs: Option<String>,
}

/// The entries `section.key = value` of the repository's own config file,
/// where git reads the repository format (never global or system config,
/// never an include), keys lowercased.
fn own_values(config: &gix::config::File, section: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let Some(sections) = config.sections_by_name(section) else {
        return out;
    };
    for s in sections {
        if s.header().subsection_name().is_some() {
            continue;
        }
        for key in s.value_names() {
            let value = s.value(&key).map(|v| v.to_str_lossy().into_owned());
            out.push((key.to_ascii_lowercase(), value));
        }
    }
    out
}

/// The repository's own config file, in its common git dir.
fn own_config(common_dir: &Path) -> Result<gix::config::File> {
    let path = common_dir.join("config");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let meta = gix::config::file::Metadata::from(gix::config::Source::Local);
    gix::config::File::from_bytes_no_includes(&bytes, meta, Default::default()).map_err(|e| {
        Error::git(
            format!(
                "cannot read the repository's config {}: {e}",
                path.display()
            ),
            Some("check the file with `git config --list --local`".to_string()),
        )
    })
}

/// The common git dir of the repository that would be opened at `dir`, to
/// name its format when gix cannot open it.
pub(super) fn common_dir_at(dir: &Path) -> Option<PathBuf> {
    let git_dir = match std::env::var_os("GIT_DIR") {
        Some(d) => dir.join(d),
        None => {
            gix::discover::upwards(dir)
                .ok()?
                .0
                .into_repository_and_work_tree_directories()
                .0
        }
    };
    Some(match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(common) => git_dir.join(common.trim_end()),
        Err(_) => git_dir,
    })
}

/// Checks the repository format; exit 2 for what git itself would refuse
/// or valve cannot read.
pub(super) fn check(common_dir: &Path) -> Result<Limits> {
    let config = own_config(common_dir)?;
    let unreadable = |what: String, help: &str| Error::git(what, Some(help.to_string()));
    let version = own_values(&config, "core")
        .into_iter()
        .rev()
        .find(|(k, _)| k == "repositoryformatversion")
        .and_then(|(_, v)| v)
        .map(|v| v.trim().parse::<u32>().unwrap_or(u32::MAX))
        .unwrap_or(0);
    if version > 1 {
        return Err(unreadable(
            format!("the repository format version is {version}: valve reads versions 0 and 1"),
            "this repository was written by a newer git than valve understands",
        ));
    }
    let mut limits = Limits::default();
    for (key, value) in own_values(&config, "extensions") {
        let value = value.unwrap_or_default();
        let Some(&(_, v1_only)) = KNOWN.iter().find(|(k, _)| *k == key) else {
            if version == 0 {
                // git ignores extensions it does not know in a version 0
                // repository.
                continue;
            }
            return Err(unreadable(
                format!(
                    "the repository uses the extension `extensions.{key} = {value}`, which valve cannot read"
                ),
                "git refuses a repository with an extension it does not know too; valve reads the extensions git 2.47 knows",
            ));
        };
        if v1_only && version == 0 {
            return Err(unreadable(
                format!(
                    "the repository format version is 0, but `extensions.{key}` needs version 1"
                ),
                "git refuses this repository too: set `core.repositoryformatversion = 1` if the extension is meant",
            ));
        }
        match key.as_str() {
            "objectformat" | "compatobjectformat"
                if !value.eq_ignore_ascii_case("sha1") && !value.eq_ignore_ascii_case("sha256") =>
            {
                return Err(unreadable(
                    format!(
                        "the repository's objects use the `{value}` format, which valve cannot read"
                    ),
                    "valve reads SHA-1 and SHA-256 repositories",
                ));
            }
            "refstorage" if value.eq_ignore_ascii_case("files") => {}
            "refstorage" => limits.refs = Some(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    Ok(limits)
}

/// The error for a run that needs refs in a format valve cannot read.
pub(super) fn refs_unreadable(format: &str, needs: &str) -> Error {
    Error::git(
        format!(
            "this repository stores its refs in the `{format}` format, which valve cannot read, and {needs} needs them"
        ),
        Some(
            "`valve check --all` and `valve check --base <commit id> --head <commit id>` (full ids) need no refs; or convert the refs with `git refs migrate --ref-format=files` (git 2.46+)"
            .to_string(),
        ),
    )
}

/// The promisor remote of a partial clone, if this is one.
fn promisor(repo: &gix::Repository) -> Option<String> {
    let config = repo.config_snapshot();
    if let Some(remote) = config.string("extensions.partialClone") {
        return Some(remote.to_str_lossy().into_owned());
    }
    let sections = config.plumbing().sections_by_name("remote")?;
    for s in sections {
        let promises = s
            .value("promisor")
            .is_some_and(|v| gix::config::Boolean::try_from(v.as_bstr()).is_ok_and(|b| b.0));
        if promises {
            if let Some(remote) = s.header().subsection_name() {
                return Some(remote.to_str_lossy().into_owned());
            }
        }
    }
    None
}

/// An object valve needs and cannot read: never empty content, never
/// "unchanged" (SPEC §2 "Fail closed"). `what` says what it is for, `path`
/// (raw, may be empty) whose it is.
pub(super) fn unreadable(
    repo: &gix::Repository,
    what: &str,
    path: &[u8],
    id: &gix::oid,
    e: impl Display,
) -> Error {
    let place = if path.is_empty() {
        String::new()
    } else {
        format!(" of `{}`", name::display(path))
    };
    if repo.has_object(id) {
        return Error::git(
            format!("cannot read {what}{place} (object {id}): {e}"),
            None,
        );
    }
    match promisor(repo) {
        Some(remote) => Error::git(
            format!(
                "{what}{place} is object {id}, which this partial clone does not have (its promisor remote `{remote}` does); valve never fetches"
            ),
            Some(format!(
                "fetch it with `git fetch {remote} {id}` and run valve again (or clone without `--filter`)"
            )),
        ),
        None => Error::git(
            format!("{what}{place} is object {id}, which is missing from the repository"),
            Some("the object database is incomplete: `git fsck` lists what is missing".to_string()),
        ),
    }
}
