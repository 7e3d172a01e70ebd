//! The bare cache under the work folder: opened (or made) once per process, with the lock
//! files a writer killed mid-update leaves behind cleared.

use std::path::Path;
use std::time::Duration;

use git2::Repository;
use sha2::{Digest, Sha256};

use super::Git2Config;
use super::errors::backend;
use crate::GitError;

/// A ref's lock is held for the instant of one update; one older than this was left by a
/// writer that died (a crash, a function killed at its timeout).
pub(super) const STALE_LOCK_AGE: Duration = Duration::from_secs(10);

/// Removes `lock` when it is older than [`STALE_LOCK_AGE`].
pub(super) fn remove_stale_lock(lock: &Path) {
    let age = std::fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok());
    if age.is_some_and(|age| age > STALE_LOCK_AGE) && std::fs::remove_file(lock).is_ok() {
        tracing::warn!(lock = %lock.display(), "removed a lock a dead writer left behind");
    }
}

/// Removes every lock file in the cache at `path`. Only this committer uses its cache, one
/// operation at a time, and none has started: any lock there was left by a process that died
/// mid-fetch (on Lambda, `/tmp` outlives a function killed at its timeout), and would fail
/// every fetch from now on.
pub(super) fn clear_cache_locks(path: &Path) {
    let mut folders = vec![path.to_path_buf()];
    // Bounded: a cache holds a handful of folders (refs/heads, refs/berth/fetched, ...).
    for _ in 0..1_000 {
        let Some(folder) = folders.pop() else {
            break;
        };
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("objects") {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "lock")
                && std::fs::remove_file(&path).is_ok()
            {
                tracing::warn!(lock = %path.display(), "removed a lock a dead process left in the cache");
            }
        }
    }
}

/// Opens (or creates) the bare cache for this remote under the work folder.
pub(super) fn open_cache(config: &Git2Config) -> Result<Repository, GitError> {
    let digest = Sha256::digest(config.remote.as_str().as_bytes());
    let path = config
        .work_dir
        .join(format!("cache-{}.git", hex::encode(&digest[..8])));
    std::fs::create_dir_all(&config.work_dir)
        .map_err(|e| GitError::Backend(format!("work folder: {e}")))?;
    clear_cache_locks(&path);
    match Repository::open_bare(&path) {
        Ok(repo) => Ok(repo),
        Err(_) => Repository::init_bare(&path).map_err(backend),
    }
}
