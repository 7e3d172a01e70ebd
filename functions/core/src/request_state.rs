//! A request's lifecycle: the states a request moves through, from accepted to ready (or
//! rejected, failed, or nothing to change), and which of them are final. Pure rules the store,
//! the use-cases and the sweep share; the README's "Request lifecycle" section draws them.

use serde::{Deserialize, Serialize};

/// Where a request is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Accepted,
    Committed,
    BranchPushed,
    PrOpened,
    Merged,
    Synced,
    Ready,
    Degraded,
    Failed,
    Rejected,
    NoChange,
    /// Recorded for later: a billing event's suspension or deletion, carried out when due.
    Scheduled,
}

impl RequestState {
    /// States nothing moves on from: the record expires once the request retention has passed
    /// (Git keeps the request in its trailers).
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            RequestState::Ready
                | RequestState::Failed
                | RequestState::Rejected
                | RequestState::NoChange
        )
    }

    /// States the status sweep still moves forward: waiting for a merge, a sync or health, or
    /// (`accepted`) for an outcome, which the sweep settles when the request's lease ran out.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestState::Accepted
                | RequestState::Committed
                | RequestState::BranchPushed
                | RequestState::PrOpened
                | RequestState::Merged
                | RequestState::Synced
                | RequestState::Degraded
        )
    }
}
