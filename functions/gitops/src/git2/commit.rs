//! One commit attempt: fetch the tip, read, plan, build the tree, commit, and push without
//! force, or find that an earlier attempt's push had landed.

use std::cell::Cell;
use std::io::Write;
use std::path::Path;

use git2::{ErrorCode, Oid, PushOptions, Repository, Signature};

use super::cache::remove_stale_lock;
use super::errors::{backend, remote_error};
use super::tree::{build_tree, read_files};
use super::{Attempt, Inner, LANDED_CHECK_DEPTH};
use crate::{CommitError, CommitOutcome, CommitRequest, GitError, PlanFn, Target};

impl Inner {
    pub(super) fn branch_ref(&self) -> String {
        format!("refs/heads/{}", self.config.branch)
    }

    pub(super) fn tracking_ref(&self) -> String {
        format!("refs/remotes/origin/{}", self.config.branch)
    }

    /// One fetch, read, plan, commit and push. `pending` is a commit from an earlier attempt
    /// whose push failed mid-way: if it landed, the request is done; a new branch gets the
    /// same commit pushed again.
    pub(super) fn attempt(
        &self,
        repo: &Repository,
        request: &CommitRequest,
        plan: &PlanFn,
        pending: Option<Oid>,
    ) -> Result<Attempt, CommitError> {
        let depth = if pending.is_some() {
            LANDED_CHECK_DEPTH
        } else {
            1
        };
        let started = std::time::Instant::now();
        let tip = match self.fetch_tip(repo, depth) {
            Ok(tip) => tip,
            Err(error @ GitError::Transport(_)) => {
                return Ok(Attempt::Transport {
                    error,
                    pushed: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(ours) = pending {
            match &request.target {
                Target::Branch
                    if tip == ours || repo.graph_descendant_of(tip, ours).unwrap_or(false) =>
                {
                    return Ok(Attempt::Done(CommitOutcome::Committed {
                        sha: ours.to_string(),
                        branch: self.config.branch.clone(),
                    }));
                }
                Target::NewBranch(name) => {
                    return self.push_commit(repo, request, ours, tip, name, None);
                }
                Target::Branch => {}
            }
        }
        tracing::debug!(request_id = %request.request_id, elapsed_ms = started.elapsed().as_millis() as u64, "fetched the tip");
        let files = read_files(repo, tip, &request.reads)?;
        let change = plan(&files)?;
        let parent = repo.find_commit(tip).map_err(backend)?;
        let base_tree = parent.tree().map_err(backend)?;
        let tree_id = build_tree(repo, &base_tree, &change)?;
        if tree_id == base_tree.id() {
            return Ok(Attempt::Done(CommitOutcome::NoChange {
                tip: tip.to_string(),
            }));
        }
        let tree = repo.find_tree(tree_id).map_err(backend)?;
        let signature =
            Signature::now(&self.config.author_name, &self.config.author_email).map_err(backend)?;
        let commit = repo
            .commit(
                None,
                &signature,
                &signature,
                &change.message,
                &tree,
                &[&parent],
            )
            .map_err(backend)?;
        match &request.target {
            Target::Branch => {
                self.push_commit(repo, request, commit, tip, &self.config.branch, Some(tip))
            }
            Target::NewBranch(name) => self.push_commit(repo, request, commit, tip, name, None),
        }
    }

    pub(super) fn push_commit(
        &self,
        repo: &Repository,
        request: &CommitRequest,
        commit: Oid,
        base: Oid,
        branch: &str,
        expected: Option<Oid>,
    ) -> Result<Attempt, CommitError> {
        match self.push(repo, &request.request_id, commit, base, branch, expected) {
            Ok(None) => Ok(Attempt::Done(CommitOutcome::Committed {
                sha: commit.to_string(),
                branch: branch.to_owned(),
            })),
            Ok(Some(reason)) => Ok(Attempt::LostRace(reason)),
            Err(error @ GitError::Transport(_)) => Ok(Attempt::Transport {
                error,
                pushed: Some(commit),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Pushes `commit`, built on `base`, to `branch`. `expected` is the branch's old tip (`None`
    /// for a new branch). Returns the reason when the push lost a race; a permanent refusal is
    /// an error.
    pub(super) fn push(
        &self,
        repo: &Repository,
        request_id: &str,
        commit: Oid,
        base: Oid,
        branch: &str,
        expected: Option<Oid>,
    ) -> Result<Option<String>, GitError> {
        if let Some(path) = self.config.remote.local_path() {
            return self.push_local(repo, Path::new(path), commit, base, branch, expected);
        }
        // libgit2 pushes references, not object ids: name the commit for the push's duration.
        let local_ref = format!("refs/berth/outgoing/{request_id}");
        repo.reference(&local_ref, commit, true, "berth: outgoing")
            .map_err(backend)?;
        let result = self.push_network(repo, &format!("{local_ref}:refs/heads/{branch}"));
        if let Ok(mut r) = repo.find_reference(&local_ref) {
            let _ = r.delete();
        }
        result
    }

    pub(super) fn push_network(
        &self,
        repo: &Repository,
        refspec: &str,
    ) -> Result<Option<String>, GitError> {
        let mut remote = repo
            .remote_anonymous(self.config.remote.as_str())
            .map_err(backend)?;
        let rejection = std::cell::RefCell::new(None::<String>);
        let credential_calls = Cell::new(0);
        let mut callbacks = self.callbacks(&credential_calls);
        callbacks.push_update_reference(|_refname, status| {
            if let Some(message) = status {
                *rejection.borrow_mut() = Some(message.to_owned());
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        match remote.push(&[refspec], Some(&mut options)) {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::NotFastForward => {
                return Ok(Some("not a fast-forward".into()));
            }
            Err(e) => return Err(remote_error(e)),
        }
        drop(options);
        match rejection.into_inner() {
            None => Ok(None),
            Some(reason) if is_race(&reason) => Ok(Some(reason)),
            Some(reason) => Err(GitError::PushRejected { reason }),
        }
    }

    /// libgit2's local transport moves the target ref without checking its old value, so two
    /// writers could overwrite each other. For a path remote, write the new objects into its
    /// object database as a pack, then move the branch with a compare-and-swap on the tip the
    /// commit was built on (or create it, for a new branch).
    pub(super) fn push_local(
        &self,
        repo: &Repository,
        path: &Path,
        commit: Oid,
        base: Oid,
        branch: &str,
        expected: Option<Oid>,
    ) -> Result<Option<String>, GitError> {
        let target = Repository::open_bare(path).map_err(backend)?;
        let mut walk = repo.revwalk().map_err(backend)?;
        walk.push(commit).map_err(backend)?;
        walk.hide(base).map_err(backend)?;
        let mut pack = repo.packbuilder().map_err(backend)?;
        pack.insert_walk(&mut walk).map_err(backend)?;
        let odb = target.odb().map_err(backend)?;
        let mut writer = odb.packwriter().map_err(backend)?;
        let mut write_error = None;
        pack.foreach(|chunk| match writer.write_all(chunk) {
            Ok(()) => true,
            Err(e) => {
                write_error = Some(e);
                false
            }
        })
        .map_err(backend)?;
        if let Some(e) = write_error {
            return Err(GitError::Backend(format!("writing the pack: {e}")));
        }
        writer.commit().map_err(backend)?;

        let target_ref = format!("refs/heads/{branch}");
        let moved = match expected {
            Some(old) => target.reference_matching(&target_ref, commit, true, old, "berth: push"),
            None => target.reference(&target_ref, commit, false, "berth: push"),
        };
        match moved {
            Ok(_) => Ok(None),
            // A new branch already holding this very commit: an earlier attempt's push landed.
            Err(e)
                if e.code() == ErrorCode::Exists
                    && target.refname_to_id(&target_ref).ok() == Some(commit) =>
            {
                Ok(None)
            }
            Err(e) if e.code() == ErrorCode::Locked => {
                // Either another writer is moving the branch this instant (a lost race), or a
                // writer died holding the lock, which would refuse every push from now on.
                remove_stale_lock(&path.join(format!("{target_ref}.lock")));
                Ok(Some(format!("{target_ref} is locked: {}", e.message())))
            }
            Err(e) if matches!(e.code(), ErrorCode::Modified | ErrorCode::Exists) => {
                Ok(Some(format!("{target_ref} moved: {}", e.message())))
            }
            Err(e) => Err(backend(e)),
        }
    }
}

/// Server messages that mean someone else updated the ref first.
pub(super) fn is_race(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    [
        "non-fast-forward",
        "fetch first",
        "stale info",
        "failed to lock",
        "cannot lock",
        "failed to update ref",
    ]
    .iter()
    .any(|m| r.contains(m))
}
