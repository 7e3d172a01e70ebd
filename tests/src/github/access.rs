//! What the test server's credentials may do to the repository: read only, and which branches
//! are protected. `GET /repos/{owner}/{repo}` and `GET .../branches/{branch}` answer as GitHub
//! does, the App's minted tokens carry the permissions, and writes are refused as GitHub
//! refuses them (a read-only credential; a protected branch takes changes only through a pull
//! request).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{REPOSITORY, ServerState, github_error};

/// The refusal GitHub gives a credential without write access.
pub(crate) const NOT_ACCESSIBLE: &str = "Resource not accessible by integration";
/// The refusal GitHub gives a direct change to a branch whose rules want pull requests.
pub(crate) const RULE_VIOLATION: &str =
    "Repository rule violations found\n\nChanges must be made through a pull request.";

#[derive(Debug, Clone, Default)]
pub(crate) struct AccessRules {
    pub read_only: bool,
    pub protected: BTreeSet<String>,
}

impl AccessRules {
    /// Why a write to `branch` is refused, if it is: `(status, message)`.
    pub fn refusal(&self, branch: &str) -> Option<(StatusCode, &'static str)> {
        if self.read_only {
            return Some((StatusCode::FORBIDDEN, NOT_ACCESSIBLE));
        }
        self.protected
            .contains(branch)
            .then_some((StatusCode::UNPROCESSABLE_ENTITY, RULE_VIOLATION))
    }

    /// The installation permissions a minted token carries.
    pub fn app_permissions(&self) -> Value {
        let write = if self.read_only { "read" } else { "write" };
        json!({"contents": write, "pull_requests": write, "statuses": write, "issues": write, "metadata": "read"})
    }
}

/// `GET /repos/{owner}/{repo}`: the repository, with what the caller may do.
pub async fn get_repository(State(state): State<ServerState>) -> Response {
    let rules = state.0.access.lock().expect("lock").clone();
    Json(json!({
        "full_name": REPOSITORY,
        "default_branch": "main",
        "permissions": {"admin": false, "maintain": false, "push": !rules.read_only, "triage": true, "pull": true},
    }))
    .into_response()
}

/// `GET /repos/{owner}/{repo}/branches/{branch}`: the branch and whether it is protected.
pub async fn get_branch(
    State(state): State<ServerState>,
    Path((_, _, branch)): Path<(String, String, String)>,
) -> Response {
    let repo = git2::Repository::open_bare(&state.0.repo).expect("open the bare repository");
    let Ok(head) = repo.refname_to_id(&format!("refs/heads/{branch}")) else {
        return github_error(StatusCode::NOT_FOUND, "Branch not found");
    };
    let protected = state
        .0
        .access
        .lock()
        .expect("lock")
        .protected
        .contains(&branch);
    Json(json!({
        "name": branch,
        "commit": {"sha": head.to_string()},
        "protected": protected,
        "protection": {"enabled": protected, "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []}},
    }))
    .into_response()
}
