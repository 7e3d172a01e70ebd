//! What never changes on GitHub, kept for the life of the process: blob contents by oid (a
//! chart's files, read by every plan), whether one commit contains another, and a folder as a
//! commit changed it (read by every poll of a request's diff summary).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Beyond this many entries a map starts afresh: plenty for a repository's charts, and a bound
/// on what a long-lived process holds.
const MAX_ENTRIES: usize = 10_000;
/// Folder readings hold files, not oids: fewer of them.
const MAX_COMMIT_FILES: usize = 1_000;

#[derive(Default)]
pub struct AnswerCache {
    blobs: Mutex<HashMap<String, Arc<[u8]>>>,
    ancestry: Mutex<HashMap<(String, String), bool>>,
    commit_files: Mutex<HashMap<(String, String), Arc<crate::CommitFiles>>>,
}

impl AnswerCache {
    /// The oids of `oids` not held, each once.
    pub fn missing_blobs(&self, oids: &[String]) -> Vec<String> {
        let blobs = lock(&self.blobs);
        let mut missing: Vec<String> = oids
            .iter()
            .filter(|oid| !blobs.contains_key(*oid))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    pub fn blob(&self, oid: &str) -> Option<Arc<[u8]>> {
        lock(&self.blobs).get(oid).cloned()
    }

    pub fn put_blob(&self, oid: &str, bytes: Vec<u8>) {
        insert_bounded(&mut lock(&self.blobs), oid.to_owned(), bytes.into());
    }

    pub fn ancestry(&self, ancestor: &str, descendant: &str) -> Option<bool> {
        lock(&self.ancestry)
            .get(&(ancestor.to_owned(), descendant.to_owned()))
            .copied()
    }

    pub fn put_ancestry(&self, ancestor: &str, descendant: &str, contains: bool) {
        let key = (ancestor.to_owned(), descendant.to_owned());
        insert_bounded(&mut lock(&self.ancestry), key, contains);
    }

    /// `folder` as commit `sha` changed it, when read before.
    pub fn commit_files(&self, sha: &str, folder: &str) -> Option<Arc<crate::CommitFiles>> {
        lock(&self.commit_files)
            .get(&(sha.to_owned(), folder.to_owned()))
            .cloned()
    }

    pub fn put_commit_files(&self, folder: &str, files: crate::CommitFiles) {
        let mut map = lock(&self.commit_files);
        if map.len() >= MAX_COMMIT_FILES {
            map.clear();
        }
        map.insert((files.sha.clone(), folder.to_owned()), Arc::new(files));
    }
}

fn insert_bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

/// A cache whose lock was poisoned still holds only whole entries: use it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
