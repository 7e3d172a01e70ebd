//! libgit2's errors as Berth's: a refused credential, a network failure worth a retry, or a
//! backend failure.

use git2::{ErrorClass, ErrorCode};

use crate::{CommitError, GitError};

/// The Git failure of cache work that plans nothing (reads, ancestry, lookups).
pub(super) fn git_error(e: CommitError) -> GitError {
    match e {
        CommitError::Git(g) => g,
        CommitError::Plan(p) => GitError::Backend(p.to_string()),
    }
}

pub(super) fn backend(e: git2::Error) -> GitError {
    GitError::Backend(e.message().to_owned())
}

/// Sorts a failure talking to the remote: refused credentials, a network failure worth a
/// retry, or anything else.
pub(super) fn remote_error(e: git2::Error) -> GitError {
    if e.code() == ErrorCode::Auth || e.message().contains("credentials refused") {
        return GitError::Authentication;
    }
    match e.class() {
        ErrorClass::Net | ErrorClass::Os | ErrorClass::Http | ErrorClass::Ssl | ErrorClass::Ssh => {
            GitError::Transport(e.message().to_owned())
        }
        _ => backend(e),
    }
}
