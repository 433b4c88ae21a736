//! A range as history (SPEC §2.2): the commits of `base..head` oldest
//! first in topological order, and each commit's own change against its
//! first parent (a root commit against the empty tree), with renames paired
//! as in every other mode (`Found`, `renames.rs`).
//!
//! The walk holds commit ids, parents and times only; a commit's changes
//! are listed when it is judged, so a long range costs time in proportion
//! to its commits and memory in proportion to the ids.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::{Change, Found, Repo, wrap};
use crate::error::{Error, Result};

/// One commit of a range.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The full id, as findings carry it.
    pub id: String,
    oid: gix::ObjectId,
    /// The first parent, `None` for a root commit.
    parent: Option<gix::ObjectId>,
}

/// Painted on a commit: reachable from the judged head, from the base.
const HEAD_SIDE: u8 = 1;
const BASE_SIDE: u8 = 2;
/// Commits popped past the point where only the base side is queued, so a
/// commit dated before its parent (clock skew) is still painted right.
const SLOP: usize = 5;

struct Node {
    parents: Vec<gix::ObjectId>,
    time: i64,
    flags: u8,
    queued: bool,
}

impl Repo {
    /// `--root --head B`: the net change is `B`'s whole tree, every file
    /// added.
    pub fn root_range(&self, head: &str) -> Result<Vec<Change>> {
        let repo = self.local();
        let head_id = self.commit_id(&repo, head)?;
        diff_commits(&repo, None, head_id)
    }

    /// The commits reachable from `head` and not from `base` (`None`: every
    /// commit reachable from `head`), oldest first: the order of `git
    /// rev-list --topo-order --reverse`, where a commit comes after all its
    /// parents in the range and one line of history is not intermixed with
    /// another.
    ///
    /// A shallow clone whose range reaches a commit without its parents
    /// fails closed: that commit's own change cannot be known.
    pub fn commits(&self, base: Option<&str>, head: &str) -> Result<Vec<Commit>> {
        let repo = self.local();
        let head_id = self.commit_id(&repo, head)?;
        let base_id = base.map(|b| self.commit_id(&repo, b)).transpose()?;
        let shallow: HashSet<gix::ObjectId> = repo
            .shallow_commits()
            .map_err(wrap("cannot read the shallow file"))?
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default();
        let mut walk = Walk {
            repo: &repo,
            shallow: &shallow,
            nodes: HashMap::new(),
            queue: BinaryHeap::new(),
            order: 0,
            head_only_queued: 0,
        };
        walk.push(head_id, HEAD_SIDE)?;
        if let Some(b) = base_id {
            walk.push(b, BASE_SIDE)?;
        }
        walk.paint()?;
        let in_range = |n: &Node| n.flags == HEAD_SIDE;
        if !walk.nodes.get(&head_id).is_some_and(in_range) {
            return Ok(Vec::new());
        }
        if let Some(id) = shallow
            .iter()
            .find(|id| walk.nodes.get(*id).is_some_and(in_range))
        {
            return Err(Error::git(
                format!("commit {id} of the range is at the edge of this shallow clone: its parents are missing"),
                Some("fetch more history, e.g. `git fetch --deepen=100` or `fetch-depth: 0` in actions/checkout".to_string()),
            ));
        }
        // Children within the range, for the topological order.
        let mut children: HashMap<gix::ObjectId, usize> = HashMap::new();
        for node in walk.nodes.values().filter(|n| in_range(n)) {
            for p in &node.parents {
                if walk.nodes.get(p).is_some_and(in_range) {
                    *children.entry(*p).or_default() += 1;
                }
            }
        }
        // `git rev-list --topo-order`: newest first, a commit once all its
        // children are out, the commits that became ready last first (so
        // a merge's last parent's line comes before its first parent's);
        // reversed, oldest first.
        let mut out = Vec::new();
        let mut stack = vec![head_id];
        while let Some(id) = stack.pop() {
            let Some(node) = walk.nodes.get(&id) else {
                continue;
            };
            out.push(Commit {
                id: id.to_string(),
                oid: id,
                parent: node.parents.first().copied(),
            });
            for p in &node.parents {
                if !walk.nodes.get(p).is_some_and(in_range) {
                    continue;
                }
                if let Some(left) = children.get_mut(p) {
                    *left -= 1;
                    if *left == 0 {
                        stack.push(*p);
                    }
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    /// A commit's own change: against its first parent, a root commit
    /// against the empty tree.
    pub fn commit_changes(&self, repo: &gix::Repository, commit: &Commit) -> Result<Vec<Change>> {
        diff_commits(repo, commit.parent, commit.oid)
    }
}

/// The paint of `base..head`: both sides spread to parents newest first
/// until every queued commit is reachable from the base (then a few more,
/// for clock skew); a commit painted by the head side alone is in range.
struct Walk<'a> {
    repo: &'a gix::Repository,
    shallow: &'a HashSet<gix::ObjectId>,
    nodes: HashMap<gix::ObjectId, Node>,
    /// Newest first; among equal times, first queued first.
    queue: BinaryHeap<(i64, Reverse<u64>, gix::ObjectId)>,
    order: u64,
    /// Queued commits painted by the head side only.
    head_only_queued: usize,
}

impl Walk<'_> {
    fn load(&mut self, id: gix::ObjectId) -> Result<&mut Node> {
        if !self.nodes.contains_key(&id) {
            let commit = self.repo.find_commit(id).map_err(|e| {
                Error::git(
                    format!("cannot read commit {id}: {e}"),
                    Some(format!(
                        "the history is incomplete (a shallow or partial clone?): fetch it, e.g. `git fetch --deepen=100`, or check `git cat-file -t {id}`"
                    )),
                )
            })?;
            // A shallow commit's parents are not there: git treats it as
            // a root, and so does the paint.
            let parents = if self.shallow.contains(&id) {
                Vec::new()
            } else {
                commit.parent_ids().map(|p| p.detach()).collect()
            };
            let time = commit
                .time()
                .map_err(|e| Error::git(format!("cannot read commit {id}: {e}"), None))?
                .seconds;
            self.nodes.insert(
                id,
                Node {
                    parents,
                    time,
                    flags: 0,
                    queued: false,
                },
            );
        }
        self.nodes
            .get_mut(&id)
            .ok_or_else(|| Error::git(format!("commit {id} went missing"), None))
    }

    /// Adds `flags` to a commit; queues it when that is news.
    fn push(&mut self, id: gix::ObjectId, flags: u8) -> Result<()> {
        let node = self.load(id)?;
        let before = node.flags;
        let after = before | flags;
        if after == before {
            return Ok(());
        }
        node.flags = after;
        let (time, queued) = (node.time, node.queued);
        if queued {
            if before == HEAD_SIDE {
                self.head_only_queued -= 1;
            }
        } else {
            if let Some(n) = self.nodes.get_mut(&id) {
                n.queued = true;
            }
            self.order += 1;
            self.queue.push((time, Reverse(self.order), id));
        }
        if after == HEAD_SIDE {
            self.head_only_queued += 1;
        }
        Ok(())
    }

    fn paint(&mut self) -> Result<()> {
        let mut slop = SLOP;
        while let Some((_, _, id)) = self.queue.pop() {
            let Some(node) = self.nodes.get_mut(&id) else {
                continue;
            };
            node.queued = false;
            let flags = node.flags;
            if flags == HEAD_SIDE {
                self.head_only_queued -= 1;
            }
            let parents = node.parents.clone();
            for p in parents {
                self.push(p, flags)?;
            }
            if self.head_only_queued == 0 {
                if slop == 0 {
                    break;
                }
                slop -= 1;
            } else {
                slop = SLOP;
            }
        }
        Ok(())
    }
}

/// The change from `old`'s tree (`None`: the empty tree) to `new`'s.
pub(super) fn diff_commits(
    repo: &gix::Repository,
    old: Option<gix::ObjectId>,
    new: gix::ObjectId,
) -> Result<Vec<Change>> {
    let tree_of = |id: gix::ObjectId| -> Result<Vec<u8>> {
        repo.find_commit(id)
            .and_then(|c| c.tree())
            .map(|t| t.detach().data)
            .map_err(wrap("cannot read a commit's tree"))
    };
    let old_tree = old.map(tree_of).transpose()?.unwrap_or_default();
    let new_tree = tree_of(new)?;
    // The plain tree diff: `diff_tree_to_tree` would also read and hash the
    // index to set up attributes that a tree-to-tree diff never uses (half
    // of a large range's time). No rename tracker either: renames are
    // paired as git pairs them.
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        gix::objs::TreeRefIter::from_bytes(&old_tree, repo.object_hash()),
        gix::objs::TreeRefIter::from_bytes(&new_tree, repo.object_hash()),
        gix::diff::tree::State::default(),
        &repo.objects,
        &mut recorder,
    )
    .map_err(|e| Error::git(format!("cannot diff the range: {e}"), None))?;
    let mut found = Found::default();
    for change in recorder.records {
        found.push_tree(detached(change));
    }
    found.paired(repo)
}

/// A change of the plain tree diff in the shape of gix's rewrite-aware one.
pub(super) fn detached(
    change: gix::diff::tree::recorder::Change,
) -> gix::object::tree::diff::ChangeDetached {
    use gix::diff::tree::recorder::Change as R;
    use gix::object::tree::diff::ChangeDetached as C;
    match change {
        R::Addition {
            entry_mode,
            oid,
            path,
            relation,
        } => C::Addition {
            location: path,
            relation,
            entry_mode,
            id: oid,
        },
        R::Deletion {
            entry_mode,
            oid,
            path,
            relation,
        } => C::Deletion {
            location: path,
            relation,
            entry_mode,
            id: oid,
        },
        R::Modification {
            previous_entry_mode,
            previous_oid,
            entry_mode,
            oid,
            path,
        } => C::Modification {
            location: path,
            previous_entry_mode,
            previous_id: previous_oid,
            entry_mode,
            id: oid,
        },
    }
}
