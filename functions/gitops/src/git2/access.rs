//! The Git2 backend's access: a path remote is writable when a file can be made among its
//! objects; a network remote when it accepts a push connection with the credential (smart HTTP
//! asks for credentials at that point; `git daemon` refuses unless receive-pack is enabled).
//! Plain Git says nothing of branch protection.

use std::cell::Cell;
use std::path::Path;

use git2::Direction;

use super::{Git2Committer, Inner};
use crate::access::WriteAccess;

impl Git2Committer {
    pub(super) async fn read_access(&self) -> WriteAccess {
        let checked = match self.inner.config.remote.local_path() {
            Some(path) => {
                let path = path.to_owned();
                tokio::task::spawn_blocking(move || path_access(Path::new(&path)))
                    .await
                    .map_err(|e| e.to_string())
            }
            None => self
                .with_cache(|inner, repo| Ok(connect_for_push(inner, repo)))
                .await
                .map_err(|e| e.to_string()),
        };
        match checked {
            Ok(Ok(())) => WriteAccess {
                can_push: Some(true),
                detail: "the remote accepts a push with the credential".into(),
                ..WriteAccess::default()
            },
            Ok(Err(reason)) => WriteAccess {
                can_push: Some(false),
                detail: format!("the remote refuses a push: {reason}"),
                ..WriteAccess::default()
            },
            Err(e) => WriteAccess::unknown(format!("the remote could not be read: {e}")),
        }
    }
}

/// Opens a push connection to the remote with the credential, and closes it.
fn connect_for_push(inner: &Inner, repo: &git2::Repository) -> Result<(), String> {
    let mut remote = repo
        .remote_anonymous(inner.config.remote.as_str())
        .map_err(|e| e.message().to_owned())?;
    let calls = Cell::new(0);
    remote
        .connect_auth(Direction::Push, Some(inner.callbacks(&calls)), None)
        .map(drop)
        .map_err(|e| e.message().to_owned())
}

/// Whether a file can be made (and removed) among a bare repository's objects.
fn path_access(path: &Path) -> Result<(), String> {
    let probe = path
        .join("objects")
        .join(format!(".berth-access-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("{} cannot be written: {e}", path.display()))?;
    std::fs::remove_file(&probe).map_err(|e| e.to_string())
}
