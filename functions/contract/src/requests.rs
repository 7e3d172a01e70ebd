//! A request: what every write answers with, and `GET /v1/requests/{id}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ErrorDetail;

/// Where a request is in its life: `accepted` while it runs; `committed` on the branch, or
/// `branch_pushed` / `pr_opened` then `merged` in pull-request mode; `synced` once Argo CD
/// applied it, `ready` once healthy; `no_change`, `rejected`, `failed`, `degraded`, `scheduled`;
/// `expired` when its record outlived the request retention and the answer is what Git holds
/// (the commit that carried it, and its tenant and action when the commit's trailers name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Accepted,
    Committed,
    BranchPushed,
    PrOpened,
    Merged,
    Synced,
    Ready,
    NoChange,
    Rejected,
    Failed,
    Degraded,
    Scheduled,
    Expired,
}

impl RequestState {
    /// The state's name, as the JSON says it: `committed`, `pr_opened`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Accepted => "accepted",
            RequestState::Committed => "committed",
            RequestState::BranchPushed => "branch_pushed",
            RequestState::PrOpened => "pr_opened",
            RequestState::Merged => "merged",
            RequestState::Synced => "synced",
            RequestState::Ready => "ready",
            RequestState::NoChange => "no_change",
            RequestState::Rejected => "rejected",
            RequestState::Failed => "failed",
            RequestState::Degraded => "degraded",
            RequestState::Scheduled => "scheduled",
            RequestState::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestView {
    /// A ULID.
    pub id: String,
    /// `create_tenant`, `update_tenant`, `delete_tenant`, `enable_module`, `disable_module`, ...
    pub action: String,
    /// `api`, or `webhook:<sender>`; empty when the request `expired` (Git does not say).
    pub source: String,
    /// For the API, which caller: `token:<name>` or `jwt:<sub>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// Empty only for an `expired` request whose commit names no tenant (one made before
    /// commits carried `Berth-Tenant`).
    pub tenant: String,
    pub state: RequestState,
    /// The commit it landed in (a merge commit once merged).
    pub commit: Option<String>,
    /// Its pull-request branch, `berth/<id>`.
    pub branch: Option<String>,
    /// Its pull request's web address.
    pub pr_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<u64>,
    /// How many requests landed in the same commit: more than 1 when a burst was committed
    /// together (group commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    pub error: Option<ErrorDetail>,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::RequestState;

    #[test]
    fn a_states_name_is_its_json() {
        use RequestState::*;
        for state in [
            Accepted,
            Committed,
            BranchPushed,
            PrOpened,
            Merged,
            Synced,
            Ready,
            NoChange,
            Rejected,
            Failed,
            Degraded,
            Scheduled,
            Expired,
        ] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
    }
}
