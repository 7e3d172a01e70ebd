//! Creates a bare repository whose branch holds one commit of the given files: how `berth dev`
//! seeds its local GitOps repository, and how tests make theirs.

use std::path::Path;

use berth_core::RepoFiles;
use git2::{FileMode, Repository, Signature, build::TreeUpdateBuilder};

use crate::GitError;

/// Initialises a bare repository at `path` with one commit of `files` on `branch`, and points
/// HEAD at that branch. Refuses to touch an existing repository.
pub fn seed_bare_repository(
    path: &Path,
    branch: &str,
    files: &RepoFiles,
    message: &str,
) -> Result<String, GitError> {
    let err = |e: git2::Error| GitError::Backend(e.message().to_owned());
    if Repository::open_bare(path).is_ok() {
        return Err(GitError::Backend(format!(
            "{} already holds a repository",
            path.display()
        )));
    }
    let repo = Repository::init_bare(path).map_err(err)?;
    let empty = repo
        .treebuilder(None)
        .and_then(|b| b.write())
        .map_err(err)?;
    let empty = repo.find_tree(empty).map_err(err)?;
    let mut update = TreeUpdateBuilder::new();
    for (file, bytes) in files {
        let blob = repo.blob(bytes).map_err(err)?;
        update.upsert(file, blob, FileMode::Blob);
    }
    let tree = update.create_updated(&repo, &empty).map_err(err)?;
    let tree = repo.find_tree(tree).map_err(err)?;
    let signature = Signature::now("Berth", "berth@localhost").map_err(err)?;
    let refname = format!("refs/heads/{branch}");
    let commit = repo
        .commit(Some(&refname), &signature, &signature, message, &tree, &[])
        .map_err(err)?;
    repo.set_head(&refname).map_err(err)?;
    Ok(commit.to_string())
}
