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
    /// `create_tenant`, `update_tenant`, `suspend_tenant`, `resume_tenant`, `delete_tenant`,
    /// `enable_module`, `disable_module`, `revert`, `promote`.
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
    /// For a revert, the request it undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverts: Option<String>,
    /// The revert that undid this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
    /// The files its commit changed in the tenant's folder, once it has one (`GET` only; a
    /// write's answer leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<FileChangeView>>,
    /// What the caller must know of the change beyond its state (a write's answer only): a move
    /// says which modules' data Berth does not copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// How a commit changed a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One file a change touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileChangeView {
    #[schema(example = "tenants/acme/dev/modules/postgres.yaml")]
    pub path: String,
    pub change: FileChangeKind,
    /// Lines added and removed, where counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines_added: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines_removed: Option<u64>,
}

/// One file of a planned change, with its unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileDiffView {
    pub path: String,
    pub change: FileChangeKind,
    pub lines_added: u64,
    pub lines_removed: u64,
    /// `--- a/<path>` / `+++ b/<path>` with three lines of context.
    pub diff: String,
}

/// A dry run's answer: what the write would commit, planned against the branch tip, with
/// nothing recorded or committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlannedChangeView {
    pub tenant: String,
    /// The branch tip it was planned against.
    pub revision: String,
    /// The commit message it would carry.
    pub message: String,
    /// Empty when the write would change nothing.
    pub files: Vec<FileDiffView>,
}

/// One commit that changed a tenant's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub commit: String,
    /// RFC 3339, the commit's time.
    pub committed_at: String,
    /// `Name <email>` of the commit's author.
    pub author: String,
    /// The commit message's first line.
    pub title: String,
    /// `false` for a commit people made without Berth (no `Berth-Request` trailer for this
    /// tenant).
    pub by_berth: bool,
    /// The tenant's requests the commit carried (several for a group commit).
    pub requests: Vec<HistoryRequest>,
    pub files: Vec<FileChangeView>,
}

/// A request of a history entry: from the commit's trailers, with who asked and its state
/// while its record exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryRequest {
    pub id: String,
    pub action: Option<String>,
    /// `api`, or `webhook:<sender>`; unknown once the record expired.
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    pub state: Option<RequestState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
}

/// `GET /v1/tenants/{tenant}/history`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryPage {
    pub tenant: String,
    pub entries: Vec<HistoryEntry>,
    /// Pass as `?before=` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<String>,
}

/// A promotion's 200 answer: the planned change of a dry run, or the request when the target
/// already matched (`no_change`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PromoteAnswer {
    Planned(PlannedChangeView),
    Request(Box<RequestView>),
}

#[cfg(test)]
mod tests {
    use super::RequestState;

    /// Every state, one after another: a new variant does not compile until it is placed here.
    fn after(state: RequestState) -> Option<RequestState> {
        use RequestState::*;
        match state {
            Accepted => Some(Committed),
            Committed => Some(BranchPushed),
            BranchPushed => Some(PrOpened),
            PrOpened => Some(Merged),
            Merged => Some(Synced),
            Synced => Some(Ready),
            Ready => Some(NoChange),
            NoChange => Some(Rejected),
            Rejected => Some(Failed),
            Failed => Some(Degraded),
            Degraded => Some(Scheduled),
            Scheduled => Some(Expired),
            Expired => None,
        }
    }

    #[test]
    fn a_states_name_is_its_json() {
        let states = std::iter::successors(Some(RequestState::Accepted), |s| after(*s));
        for state in states {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
    }
}
