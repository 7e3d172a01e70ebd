//! Trees without a work tree: the files a plan reads, read from a commit's tree, and the new
//! tree a change makes, built from the old one.

use std::path::Path;

use berth_core::{Change, RepoFiles};
use git2::{
    FileMode, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult, build::TreeUpdateBuilder,
};

use super::errors::backend;
use crate::GitError;

/// Reads files and folders (ending in `/`) from the tree of `tip`; missing paths are skipped.
pub(super) fn read_files(
    repo: &Repository,
    tip: Oid,
    paths: &[String],
) -> Result<RepoFiles, GitError> {
    let tree = repo
        .find_commit(tip)
        .and_then(|c| c.tree())
        .map_err(backend)?;
    let mut files = RepoFiles::new();
    for path in paths {
        let Some(dir) = path.strip_suffix('/') else {
            if let Ok(entry) = tree.get_path(Path::new(path))
                && let Ok(blob) = repo.find_blob(entry.id())
            {
                files.insert(path.clone(), blob.content().to_vec());
            }
            continue;
        };
        let Ok(entry) = tree.get_path(Path::new(dir)) else {
            continue;
        };
        if entry.kind() != Some(ObjectType::Tree) {
            continue;
        }
        let subtree = repo.find_tree(entry.id()).map_err(backend)?;
        let mut failure = None;
        subtree
            .walk(TreeWalkMode::PreOrder, |parent, entry| {
                if entry.kind() != Some(ObjectType::Blob) {
                    return TreeWalkResult::Ok;
                }
                let Ok(name) = entry.name() else {
                    return TreeWalkResult::Skip;
                };
                match repo.find_blob(entry.id()) {
                    Ok(blob) => {
                        files.insert(format!("{dir}/{parent}{name}"), blob.content().to_vec());
                        TreeWalkResult::Ok
                    }
                    Err(e) => {
                        failure = Some(backend(e));
                        TreeWalkResult::Abort
                    }
                }
            })
            .map_err(backend)?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(files)
}

/// Builds the new tree from the old one: only the changed paths' trees are rewritten.
pub(super) fn build_tree(
    repo: &Repository,
    base: &git2::Tree<'_>,
    change: &Change,
) -> Result<Oid, GitError> {
    let mut update = TreeUpdateBuilder::new();
    for path in &change.deletes {
        update.remove(path);
    }
    for (path, bytes) in &change.writes {
        let blob = repo.blob(bytes).map_err(backend)?;
        update.upsert(path, blob, FileMode::Blob);
    }
    update.create_updated(repo, base).map_err(backend)
}
