//! The branch's first-parent line as the cache holds it: each commit with its parent, a
//! commit whose parent the shallow cache lacks, or the end of what it holds.

use git2::{Oid, Repository};

/// One step along a mainline.
pub(super) enum Mainline {
    /// A commit the cache holds, with its first parent (`None` for a root commit).
    Commit { oid: Oid, parent: Option<Oid> },
    /// Commit `at` is not held with its parent (the shallow cache ends): the walk ends here.
    Edge { at: Oid },
}

/// The first-parent line from `start`, read from the commit objects themselves: libgit2 may
/// keep a shallow cache's old edges as parentless grafts after a deepening fetch, so its
/// revwalk would stop there, or show an edge as a root commit. Ends after a root commit, or
/// with [`Mainline::Edge`] where the cache ends.
pub(super) fn mainline(repo: &Repository, start: Oid) -> impl Iterator<Item = Mainline> + '_ {
    let mut next = Some(start);
    std::iter::from_fn(move || {
        let oid = next.take()?;
        let Some(parent) = held_parent(repo, oid) else {
            return Some(Mainline::Edge { at: oid });
        };
        next = parent;
        Some(Mainline::Commit { oid, parent })
    })
}

/// The first `parent` a commit object records, whatever grafts say; `None` for a root commit.
pub(super) fn recorded_first_parent(repo: &Repository, oid: Oid) -> Option<Oid> {
    let odb = repo.odb().ok()?;
    let object = odb.read(oid).ok()?;
    let data = std::str::from_utf8(object.data()).ok()?;
    data.lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix("parent "))
        .and_then(|hex| Oid::from_str(hex.trim()).ok())
}

/// Commit `oid`'s first parent (`Some(None)` for a root commit) when the cache holds both the
/// commit and that parent; `None` when it lacks either. The commit object is read once.
pub(super) fn held_parent(repo: &Repository, oid: Oid) -> Option<Option<Oid>> {
    repo.find_commit(oid).ok()?;
    let parent = recorded_first_parent(repo, oid);
    match parent {
        Some(p) if repo.find_commit(p).is_err() => None,
        _ => Some(parent),
    }
}

/// Whether the cache holds commit `oid` and, unless it is a root commit, its first parent.
pub(super) fn holds_with_parent(repo: &Repository, oid: Oid) -> bool {
    held_parent(repo, oid).is_some()
}
