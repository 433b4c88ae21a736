//! Questions the everyday commands ask of a repository, answered read-only:
//! which files git tracks (`valve test` warns about globs that match none),
//! whether git ignores a path and by which rule (`valve explain`), and
//! whether HEAD and the index can be read at all (`valve doctor`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;

use super::index::{head_tree, read_index};
use super::{Repo, name, wrap};
use crate::error::{Error, Result};

/// The files of the index, as their names are shown (and globs match them).
#[derive(Debug, Clone)]
pub struct Tracked {
    pub paths: Vec<String>,
    /// The index is sparse: files under a sparse directory entry are not
    /// listed one by one.
    pub sparse: bool,
}

/// One ignore rule of git's, as written where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    /// The file that holds the rule: repo-relative when it is in the work
    /// tree (`.gitignore`, `src/.gitignore`), else as found
    /// (`.git/info/exclude`, `core.excludesFile`); `None` when gix had the
    /// rule from no file.
    pub source: Option<PathBuf>,
    /// 1-based line of the rule in `source`.
    pub line: usize,
    pub pattern: String,
    /// The folder above the path that the rule ignores, when it is a
    /// folder's rule and not the path's own (git never looks inside an
    /// ignored folder).
    pub folder: Option<String>,
}

/// What git's ignore rules say of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitIgnore {
    /// No rule ignores it.
    No,
    /// git ignores it: `--worktree` and `--all` never list it.
    Ignored(IgnoreRule),
    /// A rule matches, but the file is tracked, and git (and valve) judge
    /// tracked files whatever the rules say.
    Tracked(IgnoreRule),
}

/// What `valve doctor` could read of the repository.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The commit HEAD is at; `None` when HEAD is unborn (no commit yet).
    pub head: Option<String>,
    /// The index's entries; `None` in a bare repository.
    pub index_entries: Option<usize>,
    /// `sha1` or `sha256`.
    pub object_format: &'static str,
}

impl Repo {
    /// The files of the index (every stage once), sorted as the index is.
    pub fn tracked(&self) -> Result<Tracked> {
        let repo = self.local();
        let index = read_index(&repo)?;
        let mut paths: Vec<String> = Vec::with_capacity(index.entries().len());
        let mut sparse = false;
        for entry in index.entries() {
            if entry.mode == gix::index::entry::Mode::DIR {
                sparse = true;
                continue;
            }
            let shown = name::display(entry.path(&index)).into_owned();
            if paths.last() != Some(&shown) {
                paths.push(shown);
            }
        }
        Ok(Tracked { paths, sparse })
    }

    /// For each repo-relative path (raw bytes, `/`-separated), what git's
    /// ignore rules say: `.gitignore` files of the work tree, `info/exclude`
    /// and `core.excludesFile`, as `--worktree` and `--all` apply them. A
    /// folder above the path that a rule ignores ignores the path too.
    pub fn git_ignored(&self, paths: &[Vec<u8>]) -> Result<Vec<GitIgnore>> {
        let repo = self.local();
        let Some(workdir) = self.workdir.clone() else {
            return Ok(vec![GitIgnore::No; paths.len()]);
        };
        let index = read_index(&repo)?;
        let fail = || wrap("cannot read the ignore rules");
        let mut stack = repo
            .excludes(&index, None, Default::default())
            .map_err(fail())?;
        let mut out = Vec::with_capacity(paths.len());
        for raw in paths {
            let raw = raw.as_slice();
            let tracked = index.entry_by_path(raw.as_bstr()).is_some();
            let mut found = None;
            // Each folder from the top, then the path itself.
            let ends = memchr::memchr_iter(b'/', raw).chain(std::iter::once(raw.len()));
            for end in ends {
                let part = &raw[..end];
                if part.is_empty() {
                    continue;
                }
                let is_path = end == raw.len();
                let dir = !is_path || workdir.join(OsStr::from_bytes(part)).is_dir();
                let mode = dir.then_some(gix::index::entry::Mode::DIR);
                let platform = stack
                    .at_path(Path::new(OsStr::from_bytes(part)), mode)
                    .map_err(|e| Error::git(format!("cannot read the ignore rules: {e}"), None))?;
                if let Some(m) = platform
                    .matching_exclude_pattern()
                    .filter(|m| !m.pattern.is_negative())
                {
                    let source = m.source.map(|s| {
                        s.strip_prefix(&workdir)
                            .map(Path::to_path_buf)
                            .unwrap_or_else(|_| s.to_path_buf())
                    });
                    found = Some(IgnoreRule {
                        source,
                        line: m.sequence_number,
                        pattern: m.pattern.to_string(),
                        folder: (!is_path).then(|| name::display(part).into_owned()),
                    });
                    break;
                }
            }
            out.push(match found {
                None => GitIgnore::No,
                Some(rule) if tracked => GitIgnore::Tracked(rule),
                Some(rule) => GitIgnore::Ignored(rule),
            });
        }
        Ok(out)
    }

    /// Reads what every check needs of the repository: its refs (HEAD),
    /// HEAD's commit and tree, and the index. An error names what could
    /// not be read.
    pub fn probe(&self) -> Result<Probe> {
        self.needs_refs("reading HEAD")?;
        let repo = self.local();
        let head = repo.head().map_err(wrap("cannot read HEAD"))?;
        let head = if head.is_unborn() {
            None
        } else {
            let tree = head_tree(&repo)?;
            if let Some(tree) = tree {
                repo.find_tree(tree)
                    .map_err(|e| super::unreadable(&repo, "HEAD's tree", b"", &tree, e))?;
            }
            repo.head_id().ok().map(|id| id.to_string())
        };
        let index_entries = if self.is_bare() {
            None
        } else {
            Some(read_index(&repo)?.entries().len())
        };
        let object_format = match repo.object_hash() {
            gix::hash::Kind::Sha256 => "sha256",
            _ => "sha1",
        };
        Ok(Probe {
            head,
            index_entries,
            object_format,
        })
    }
}
