//! What the history lookups look for, fed commits newest first by either backend's walk: the
//! rule for what counts as found and when to stop lives here once, not in each backend.

use std::collections::{BTreeMap, BTreeSet};

use crate::LandedCommit;

/// [`crate::Committer::find_requests`]: the commit of each wanted request id.
pub(crate) struct RequestsSearch {
    wanted: BTreeSet<String>,
    pub(crate) found: BTreeMap<String, String>,
}

impl RequestsSearch {
    pub(crate) fn new(request_ids: Vec<String>) -> Self {
        Self {
            wanted: request_ids.into_iter().collect(),
            found: BTreeMap::new(),
        }
    }

    /// Looks at one commit; `false` once every wanted request is found.
    pub(crate) fn visit(&mut self, sha: &str, message: &str) -> bool {
        for id in berth_core::request::trailer_request_ids(message) {
            if self.wanted.contains(id) {
                self.found.insert(id.to_owned(), sha.to_owned());
            }
        }
        self.found.len() < self.wanted.len()
    }
}

/// [`crate::Committer::find_landed`]: the newest commit carrying one request, no older than
/// `since`.
pub(crate) struct LandedSearch {
    request_id: String,
    since: i64,
    pub(crate) found: Option<LandedCommit>,
}

impl LandedSearch {
    pub(crate) fn new(request_id: String, since: i64) -> Self {
        Self {
            request_id,
            since,
            found: None,
        }
    }

    /// Looks at one commit; `false` once found, or once the commits are older than `since`.
    pub(crate) fn visit(&mut self, sha: &str, message: &str, committed_at: i64) -> bool {
        if berth_core::request::carries_request(message, &self.request_id) {
            self.found = Some(LandedCommit {
                sha: sha.to_owned(),
                message: message.to_owned(),
                committed_at,
            });
        }
        self.found.is_none() && committed_at >= self.since
    }
}
