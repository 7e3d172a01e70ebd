//! Walking the branch's first-parent line: a folder's history, the mainline through a
//! shallow cache (deepened as the walk needs), and what a commit's message and author say.

use std::path::Path;

use berth_core::RepoFiles;
use git2::{Oid, Repository};

use super::errors::backend;
use super::mainline::{Mainline, mainline};
use super::tree::read_files;
use crate::GitError;

/// Up to `limit` commits of the first-parent line from `start` that changed `folder`, looking
/// through at most [`crate::HISTORY_SEARCH_DEPTH`] commits.
pub(super) fn folder_history(
    repo: &Repository,
    start: Oid,
    folder: &str,
    limit: usize,
    deepen: &mut dyn FnMut(Oid) -> Result<bool, GitError>,
) -> Result<crate::FolderHistory, GitError> {
    let dir = Path::new(folder.trim_end_matches('/'));
    let folder_oid = |oid: Oid| {
        repo.find_commit(oid)
            .and_then(|c| c.tree())
            .ok()
            .and_then(|tree| tree.get_path(dir).ok())
            .map(|entry| entry.id())
    };
    let mut history = crate::FolderHistory {
        commits: Vec::new(),
        next_before: None,
    };
    let paths = [folder.to_owned()];
    let (mut last_seen, mut seen, mut deepened) = (None, 0, 0);
    let mut known: Option<(Oid, Option<Oid>)> = None;
    let mut steps = mainline(repo, start);
    while let Some(step) = steps.next() {
        let (oid, parent) = match step {
            Mainline::Commit { oid, parent } => (oid, parent),
            // The cache ends here: fetch deeper and go on from the same commit, a bounded
            // number of times; else the next page goes on from here.
            Mainline::Edge { at } if deepened < DEEPENINGS_PER_WALK && deepen(at)? => {
                deepened += 1;
                steps = mainline(repo, at);
                continue;
            }
            Mainline::Edge { .. } => {
                history.next_before = last_seen.map(|oid: Oid| oid.to_string());
                break;
            }
        };
        if history.commits.len() == limit || seen == crate::HISTORY_SEARCH_DEPTH {
            // More may follow: the next page starts after the last commit looked at.
            history.next_before = last_seen.map(|oid: Oid| oid.to_string());
            break;
        }
        seen += 1;
        last_seen = Some(oid);
        // Each commit's folder is read once: as the parent of the one before, then as itself.
        let mine = match known {
            Some((commit, folder)) if commit == oid => folder,
            _ => folder_oid(oid),
        };
        let theirs = parent.and_then(folder_oid);
        known = parent.map(|p| (p, theirs));
        if mine == theirs {
            continue;
        }
        let commit = repo.find_commit(oid).map_err(backend)?;
        let before = match parent {
            Some(p) => read_files(repo, p, &paths)?,
            None => RepoFiles::new(),
        };
        let after = read_files(repo, oid, &paths)?;
        history.commits.push(crate::FolderCommit {
            sha: oid.to_string(),
            message: mainline_message(repo, &commit),
            committed_at: commit.committer().when().seconds(),
            author: author(&commit.author()),
            files: crate::file_changes(&before, &after),
        });
    }
    Ok(history)
}

/// How many times one walk of a folder's history fetches deeper when it reaches the cache's
/// edge.
pub(super) const DEEPENINGS_PER_WALK: usize = 2;

/// A commit's message; for a merge whose own message carries no request, the merged commit's
/// message follows it (Berth's pull-request commits carry the trailers).
pub(super) fn mainline_message(repo: &Repository, commit: &git2::Commit<'_>) -> String {
    let own = String::from_utf8_lossy(commit.message_bytes()).into_owned();
    if berth_core::request::trailer_request_ids(&own)
        .next()
        .is_some()
    {
        return own;
    }
    // A shallow cache may lack the merged side; then the merge speaks for itself.
    match commit.parent_id(1).and_then(|id| repo.find_commit(id)) {
        Ok(merged) => format!("{own}\n{}", String::from_utf8_lossy(merged.message_bytes())),
        Err(_) => own,
    }
}

pub(super) fn author(signature: &git2::Signature<'_>) -> String {
    format!(
        "{} <{}>",
        String::from_utf8_lossy(signature.name_bytes()),
        String::from_utf8_lossy(signature.email_bytes())
    )
}

/// Visits the commits from `tip`, newest first, until `visit` answers `false`, `depth` commits
/// were seen, or the history ends (a shallow cache ends where its history does).
pub(super) fn walk_commits(
    repo: &Repository,
    tip: Oid,
    depth: usize,
    mut visit: impl FnMut(&git2::Commit<'_>) -> bool,
) -> Result<(), GitError> {
    let mut walk = repo.revwalk().map_err(backend)?;
    walk.push(tip).map_err(backend)?;
    for oid in walk.take(depth) {
        let Ok(commit) = oid.and_then(|oid| repo.find_commit(oid)) else {
            break;
        };
        if !visit(&commit) {
            break;
        }
    }
    Ok(())
}

/// Whether commit `descendant` is `ancestor` or descends from it, as far as `repo` knows.
pub(super) fn contains(repo: &Repository, ancestor: &str, descendant: &str) -> bool {
    let (Ok(a), Ok(d)) = (Oid::from_str(ancestor), Oid::from_str(descendant)) else {
        return false;
    };
    if a.is_zero() || d.is_zero() || repo.find_commit(a).is_err() || repo.find_commit(d).is_err() {
        return false;
    }
    a == d || repo.graph_descendant_of(d, a).unwrap_or(false)
}

/// Paths that differ between the trees of two commits.
pub(super) fn changed_paths(
    repo: &Repository,
    base: Oid,
    head: Oid,
) -> Result<Vec<String>, GitError> {
    let tree = |oid: Oid| {
        repo.find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(backend)
    };
    let diff = repo
        .diff_tree_to_tree(Some(&tree(base)?), Some(&tree(head)?), None)
        .map_err(backend)?;
    let mut paths: Vec<String> = diff
        .deltas()
        .flat_map(|d| [d.old_file().path(), d.new_file().path()])
        .flatten()
        .filter_map(|p| p.to_str().map(str::to_owned))
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}
