//! How group commit is configured, and what a caller does when its batch is slow.

use std::time::Duration;

use berth_core::batch::BatchLimits;

use crate::write::timing::{DEFAULT_BATCH_WAIT, DEFAULT_CLAIM_LEASE};

/// A holder starts no new batch with less than this left before its bound: one batch (a read,
/// a commit, the outcomes) must fit in it.
pub(crate) const BATCH_HEADROOM: Duration = Duration::from_secs(5);

/// The first and the longest pause between two looks at a waiting request's record: a burst's
/// waiters poll the store together, so the pause grows fast.
pub(crate) const FIRST_POLL: Duration = Duration::from_millis(10);
pub(crate) const LONGEST_POLL: Duration = Duration::from_millis(400);

/// How often a waiter looks whether the lease is free: the holder settles what waits before it
/// lets go, so this only matters for a request that arrived as the holder was leaving.
pub(crate) const LEASE_LOOK_EVERY: Duration = Duration::from_secs(1);

/// How group commit is configured (`BERTH_GROUP_COMMIT`, `BERTH_BATCH_MAX`, `BERTH_BATCH_WAIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    pub limits: BatchLimits,
    /// How long an API caller waits for its request's outcome before answering 503.
    pub wait: Duration,
    /// How long the commit lease lasts: a holder that died is taken over after it. Longer
    /// than any function's timeout, so a live holder never loses it.
    pub lease: Duration,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            limits: BatchLimits::default(),
            wait: DEFAULT_BATCH_WAIT,
            lease: DEFAULT_CLAIM_LEASE,
        }
    }
}

/// What a caller does when its request has no outcome by the end of its wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUndecided {
    /// Answer 503 with Retry-After (the API: its client retries with the same key).
    Refuse,
    /// Answer with the request as `accepted` after at most [`WEBHOOK_BATCH_WAIT`] (webhooks and
    /// schedules: their request is durable and will be committed once).
    Acknowledge,
}
