//! Files of a revision, read as valve's own files: the policy of `--base`
//! mode comes from the merge base and the judged revision (SPEC §9), and a
//! policy file there must be a regular blob, never a link.

use super::trees::{Seen, Side};
use super::{BlobId, Repo, wrap};
use crate::config::CONFIG_PATHS;
use crate::config::extends::Fetched;
use crate::error::{Error, Result};

impl Repo {
    /// The full id of `merge-base(base, head)`, failing closed with the fix.
    pub fn merge_base_id(&self, base: &str, head: &str) -> Result<String> {
        let repo = self.local();
        self.merge_base(&repo, base, head)
            .map(|(merge_base, _)| merge_base.to_string())
    }

    /// `merge-base(base, head)` and `head`'s commit id; a shallow clone
    /// that lacks the merge base says how to fetch it (`fetch-depth: 0`).
    pub(super) fn merge_base(
        &self,
        repo: &gix::Repository,
        base: &str,
        head: &str,
    ) -> Result<(gix::ObjectId, gix::ObjectId)> {
        let base_id = self.commit_id(repo, base)?;
        let head_id = self.commit_id(repo, head)?;
        let shallow_help = || {
            Some(format!(
                "the history between `{base}` and `{head}` is incomplete (shallow clone): fetch more history, e.g. `git fetch --deepen=100` or `fetch-depth: 0` in actions/checkout"
            ))
        };
        match repo.merge_base(base_id, head_id) {
            Ok(Some(id)) => Ok((id.detach(), head_id)),
            Ok(None) if repo.is_shallow().unwrap_or(false) => Err(Error::git(
                format!("no merge base of `{base}` and `{head}` in this shallow clone"),
                shallow_help(),
            )),
            Ok(None) => Err(Error::git(
                format!("`{base}` and `{head}` have no common history"),
                Some("pass a --base that shares history with --head".to_string()),
            )),
            Err(e) => Err(Error::git(
                format!("cannot find the merge base of `{base}` and `{head}`: {e}"),
                shallow_help(),
            )),
        }
    }

    /// The full commit id `rev` resolves to.
    pub fn resolve_commit(&self, rev: &str) -> Result<String> {
        let repo = self.local();
        self.commit_id(&repo, rev).map(|id| id.to_string())
    }

    /// Whether `rev` is the commit checked out in the work tree.
    pub fn is_checked_out(&self, rev: &str) -> bool {
        let repo = self.local();
        let Ok(id) = self.commit_id(&repo, rev) else {
            return false;
        };
        !self.is_bare() && repo.head_id().is_ok_and(|h| h.detach() == id)
    }

    /// An own file at a revision: its bytes when it is a regular blob of at
    /// most `max` bytes, `None` when absent; a link, folder or submodule
    /// there is an error naming `rev:path`, and nothing of it is read.
    pub fn own_file_at(&self, rev: &str, path: &str, max: u64) -> Result<Option<Vec<u8>>> {
        match self.file_at(rev, path, max)? {
            Fetched::Bytes(b) => Ok(Some(b)),
            Fetched::Missing => Ok(None),
            Fetched::Refused(what) => Err(Error::Refused {
                message: format!("{rev}:{path} is {what}, not a regular file"),
                help: Some(
                    "valve reads its own files only as regular files: make it one".to_string(),
                ),
            }),
        }
    }

    /// A file named by `extends` at a revision (SPEC §12): what is there,
    /// for a diagnostic at the entry; only a regular blob is read.
    pub fn extended_file_at(&self, rev: &str, path: &str, max: u64) -> Result<Fetched> {
        self.file_at(rev, path, max)
    }

    fn file_at(&self, rev: &str, path: &str, max: u64) -> Result<Fetched> {
        let repo = self.local();
        let id = self.commit_id(&repo, rev)?;
        let tree = repo
            .find_commit(id)
            .and_then(|c| c.tree())
            .map_err(wrap("cannot read a commit's tree"))?;
        let Some(entry) = tree
            .lookup_entry_by_path(path)
            .map_err(wrap("cannot read a tree"))?
        else {
            return Ok(Fetched::Missing);
        };
        self.entry_file(&repo, rev, path, entry.mode(), entry.object_id(), max)
    }

    /// What a tree entry holds, as an own file: only a regular blob within
    /// `max` bytes is read.
    fn entry_file(
        &self,
        repo: &gix::Repository,
        rev: &str,
        path: &str,
        mode: gix::object::tree::EntryMode,
        id: gix::ObjectId,
        max: u64,
    ) -> Result<Fetched> {
        if !mode.is_blob() {
            let what = if mode.is_link() {
                "a symlink"
            } else if mode.is_tree() {
                "a folder"
            } else {
                "a submodule"
            };
            return Ok(Fetched::Refused(what.to_string()));
        }
        match self.blob_within(repo, BlobId(id), path, max)? {
            super::Sized::Bytes(b) => Ok(Fetched::Bytes(b)),
            super::Sized::TooLarge => Err(Error::Refused {
                message: format!("{rev}:{path} is larger than {max} bytes"),
                help: Some(
                    "valve's own files are small; check what was committed there".to_string(),
                ),
            }),
        }
    }

    /// The nested configs (SPEC §12) that `rev`'s tree holds in the folders
    /// `dirs` (repo-relative, each with a trailing `/`): per folder that has
    /// one, its path and what is there (`valve.yml` before `valve.yaml`).
    /// Each folder's tree is read once, through its parent's.
    pub fn configs_at(
        &self,
        rev: &str,
        dirs: &[String],
        max: u64,
    ) -> Result<Vec<(String, Fetched)>> {
        let repo = self.local();
        let id = self.commit_id(&repo, rev)?;
        self.configs_in(&repo, rev, id, dirs, max, None)
    }

    /// `configs_at` of commit `id` (named `rev` in messages); with `known`,
    /// the folders' trees and their `.sage` entries come from what a
    /// range's diff noted on that side of `id`, and only what it did not
    /// note is read.
    pub(super) fn configs_in(
        &self,
        repo: &gix::Repository,
        rev: &str,
        id: gix::ObjectId,
        dirs: &[String],
        max: u64,
        known: Option<(&Seen, Side)>,
    ) -> Result<Vec<(String, Fetched)>> {
        let root = repo
            .find_commit(id)
            .and_then(|c| c.tree())
            .map_err(wrap("cannot read a commit's tree"))?
            .id;
        let mut trees: std::collections::HashMap<String, Option<gix::ObjectId>> =
            std::collections::HashMap::new();
        trees.insert(String::new(), Some(root));
        let mut out = Vec::new();
        for dir in dirs {
            let folder = match known.and_then(|(seen, side)| seen.folder(dir, side)) {
                Some(folder) => folder,
                None => tree_of(repo, &mut trees, dir)?,
            };
            let Some(tree) = folder else {
                continue;
            };
            let sage = match known.and_then(|(seen, _)| seen.sage(&tree)) {
                Some(sage) => sage,
                None => child(repo, tree, ".sage")?,
            };
            let sage = match sage {
                Some((mode, id)) if mode.is_tree() => id,
                // As for the root's: a linked `.sage` is refused.
                Some((mode, _)) if mode.is_link() => {
                    let what = "under a symlinked .sage folder".to_string();
                    out.push((format!("{dir}{}", CONFIG_PATHS[0]), Fetched::Refused(what)));
                    continue;
                }
                _ => continue,
            };
            for config in CONFIG_PATHS {
                let name = config.strip_prefix(".sage/").unwrap_or(config);
                if let Some((mode, id)) = child(repo, sage, name)? {
                    let path = format!("{dir}{config}");
                    let fetched = self.entry_file(repo, rev, &path, mode, id, max)?;
                    out.push((path, fetched));
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// The tree of folder `dir` (`a/b/`), through its parents' (memoised in
/// `trees`); `None` when the revision has no such folder.
fn tree_of(
    repo: &gix::Repository,
    trees: &mut std::collections::HashMap<String, Option<gix::ObjectId>>,
    dir: &str,
) -> Result<Option<gix::ObjectId>> {
    if let Some(known) = trees.get(dir) {
        return Ok(*known);
    }
    let inner = dir.strip_suffix('/').unwrap_or(dir);
    let (parent, name) = match inner.rfind('/') {
        Some(i) => (&dir[..=i], &inner[i + 1..]),
        None => ("", inner),
    };
    let found = match tree_of(repo, trees, parent)? {
        Some(parent) => child(repo, parent, name)?
            .filter(|(mode, _)| mode.is_tree())
            .map(|(_, id)| id),
        None => None,
    };
    trees.insert(dir.to_string(), found);
    Ok(found)
}

/// The entry `name` of tree `tree`: its mode and object.
fn child(
    repo: &gix::Repository,
    tree: gix::ObjectId,
    name: &str,
) -> Result<Option<(gix::object::tree::EntryMode, gix::ObjectId)>> {
    let tree = repo
        .find_tree(tree)
        .map_err(|e| super::unreadable(repo, "a tree", name.as_bytes(), &tree, e))?;
    Ok(tree
        .find_entry(name.as_bytes())
        .map(|e| (e.mode(), e.object_id())))
}
