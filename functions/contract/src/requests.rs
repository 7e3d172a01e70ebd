//! A request: what every write answers with, and `GET /v1/requests/{id}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ErrorDetail;

/// Where a request is in its life: `accepted` while it runs; `committed` on the branch, or
/// `branch_pushed` / `pr_opened` then `merged` in pull-request mode; `synced` once Argo CD
/// applied it, `ready` once healthy; `no_change`, `rejected`, `failed`, `degraded`, `scheduled`.
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestView {
    /// A ULID.
    pub id: String,
    /// `create_tenant`, `update_tenant`, `delete_tenant`, `enable_module`, `disable_module`, ...
    pub action: String,
    /// `api`, or `webhook:<sender>`.
    pub source: String,
    /// For the API, which caller: `token:<name>` or `jwt:<sub>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
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
    pub error: Option<ErrorDetail>,
    pub created_at: String,
    pub updated_at: String,
}
