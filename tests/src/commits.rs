//! Requests planned and committed the way the API does, for the committer suites of either
//! backend.

use std::sync::Arc;

use berth_core::body::parse_create_tenant;
use berth_core::{Action, Request, plan};
use berth_gitops::{CommitError, CommitOutcome, CommitRequest, Committer, Target};
use serde_json::json;

/// Creating tenant `name` (standard tier, dev, postgres) as request `id`.
pub fn create_request(id: &str, name: &str) -> Request {
    let (tenant, new) = parse_create_tenant(
        &json!({"name": name, "tier": "standard", "envs": ["dev"], "modules": ["postgres"]}),
    )
    .expect("a valid tenant");
    Request {
        id: id.into(),
        tenant,
        action: Action::CreateTenant(new),
    }
}

/// Plans and commits `request` to `target` through `committer`, reading what the API reads.
pub async fn commit_to(
    committer: &dyn Committer,
    request: Request,
    target: Target,
) -> Result<CommitOutcome, CommitError> {
    let reads = berth_core::plan::read_set(&request.tenant);
    committer
        .commit(
            CommitRequest {
                request_id: request.id.clone(),
                reads,
                target,
            },
            Arc::new(move |files| plan(&request, files)),
        )
        .await
}

/// The commit of an outcome that must be one.
pub fn sha(outcome: &CommitOutcome) -> String {
    match outcome {
        CommitOutcome::Committed { sha, .. } => sha.clone(),
        other => panic!("expected a commit, got {other:?}"),
    }
}
