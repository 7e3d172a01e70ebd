//! Talking to the remote: fetches (the tip, a ref, ever deeper), pushes (over the network
//! or to a repository by path), credentials, and the bounds on every call.

use std::cell::Cell;

use git2::{AutotagOption, Cred, ErrorCode, FetchOptions, Oid, RemoteCallbacks, Repository};
use sha2::{Digest, Sha256};

use super::errors::{backend, remote_error};
use super::mainline::{Mainline, holds_with_parent, mainline};
use super::{Inner, MAX_HISTORY_DEPTH};
use crate::GitError;

/// Bounds on each Git network call, so a stalled remote fails a call well inside a request's
/// deadline (26 s) rather than holding the cache until the function is killed.
pub(super) const CONNECT_TIMEOUT_MS: i32 = 5_000;
pub(super) const READ_WRITE_TIMEOUT_MS: i32 = 10_000;

/// Sets libgit2's process-wide network timeouts, once.
pub(super) fn set_network_timeouts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: these options are plain integers libgit2 reads when it opens a connection.
        // `Once` makes this the only write, and it happens while the first committer is built,
        // before that committer has opened any connection.
        let set = unsafe {
            git2::opts::set_server_connect_timeout_in_milliseconds(CONNECT_TIMEOUT_MS).and(
                git2::opts::set_server_timeout_in_milliseconds(READ_WRITE_TIMEOUT_MS),
            )
        };
        if let Err(e) = set {
            tracing::warn!(error = %e, "could not set Git network timeouts");
        }
    });
}

impl Inner {
    /// Makes the cache hold the mainline past commit `edge` (held without its parent, or not
    /// held): one fetch as deep as `edge`'s distance from the tip plus a walk's bound when the
    /// cache can count that distance, else ever deeper fetches ([`Self::mainline_distance`]).
    /// Whether the cache now holds `edge` with its parent.
    pub(super) fn deepen_past(&self, repo: &Repository, edge: Oid) -> Result<bool, GitError> {
        if self.config.remote.is_local() {
            // A remote by path is fetched whole: there is nothing deeper.
            return Ok(false);
        }
        let tip = repo.refname_to_id(&self.tracking_ref()).ok();
        let distance = tip.and_then(|tip| {
            mainline(repo, tip)
                .take(MAX_HISTORY_DEPTH)
                .position(|step| match step {
                    Mainline::Commit { oid, .. } => oid == edge,
                    Mainline::Edge { at } => at == edge,
                })
        });
        match distance {
            Some(distance) => {
                let depth = distance + crate::HISTORY_SEARCH_DEPTH + 1;
                self.fetch_tip(repo, i32::try_from(depth).unwrap_or(i32::MAX))?;
                Ok(holds_with_parent(repo, edge))
            }
            None => Ok(self.mainline_distance(repo, edge)?.is_some()),
        }
    }

    /// How many first-parent steps commit `target` is from the branch tip, deepening the cache
    /// (each time four times deeper, up to [`MAX_HISTORY_DEPTH`]) until it holds `target` and
    /// its parent; `None` when the mainline that deep does not hold it.
    pub(super) fn mainline_distance(
        &self,
        repo: &Repository,
        target: Oid,
    ) -> Result<Option<usize>, GitError> {
        let mut depth = crate::HISTORY_SEARCH_DEPTH;
        loop {
            let tip = self.fetch_tip(repo, i32::try_from(depth).unwrap_or(i32::MAX))?;
            let position = mainline(repo, tip)
                .take(depth)
                .position(|step| matches!(step, Mainline::Commit { oid, .. } if oid == target));
            if let Some(distance) = position {
                return Ok(Some(distance));
            }
            if depth >= MAX_HISTORY_DEPTH || self.config.remote.is_local() {
                return Ok(None);
            }
            depth = (depth * 4).min(MAX_HISTORY_DEPTH);
        }
    }

    /// Fetches the branch tip into the cache and returns it.
    pub(super) fn fetch_tip(&self, repo: &Repository, depth: i32) -> Result<Oid, GitError> {
        self.fetch(
            repo,
            &format!("+{}:{}", self.branch_ref(), self.tracking_ref()),
            depth,
        )?;
        match repo.refname_to_id(&self.tracking_ref()) {
            Ok(oid) => Ok(oid),
            Err(e) if e.code() == ErrorCode::NotFound => Err(GitError::MissingBranch {
                branch: self.config.branch.clone(),
            }),
            Err(e) => Err(backend(e)),
        }
    }

    /// One fetch of `refspec`, `depth` commits deep on network transports (the local transport
    /// cannot fetch shallow), without tags, with the bounded credentials handler.
    pub(super) fn fetch(
        &self,
        repo: &Repository,
        refspec: &str,
        depth: i32,
    ) -> Result<(), GitError> {
        let mut remote = repo
            .remote_anonymous(self.config.remote.as_str())
            .map_err(backend)?;
        let credential_calls = Cell::new(0);
        let mut options = FetchOptions::new();
        options.remote_callbacks(self.callbacks(&credential_calls));
        options.download_tags(AutotagOption::None);
        if !self.config.remote.is_local() {
            options.depth(depth);
        }
        remote
            .fetch(&[refspec], Some(&mut options), None)
            .map_err(remote_error)
    }

    /// Fetches `reference` (one commit deep over the network) and returns its commit.
    pub(super) fn fetch_ref(&self, repo: &Repository, reference: &str) -> Result<Oid, GitError> {
        let digest = Sha256::digest(reference.as_bytes());
        let local = format!("refs/berth/fetched/{}", hex::encode(&digest[..8]));
        self.fetch(repo, &format!("+{reference}:{local}"), 1)?;
        repo.refname_to_id(&local)
            .map_err(|_| GitError::Backend(format!("{reference} does not exist on the remote")))
    }

    /// Callbacks with a bounded credentials handler: libgit2 asks again after every refusal,
    /// so the second ask in one operation means the token was refused.
    pub(super) fn callbacks<'a>(&'a self, calls: &'a Cell<u32>) -> RemoteCallbacks<'a> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(move |_url, username, _allowed| {
            calls.set(calls.get() + 1);
            match (&self.config.token, calls.get()) {
                (Some(token), 1) => {
                    Cred::userpass_plaintext(username.unwrap_or("x-access-token"), token)
                }
                _ => Err(git2::Error::from_str("credentials refused")),
            }
        });
        callbacks
    }
}
