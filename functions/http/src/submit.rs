//! The write path every source shares (API now, webhooks later): record the request, plan and
//! commit it against the branch tip, record the outcome, and update the tenant index.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use berth_core::plan::read_set;
use berth_core::{Action, Change, RepoFiles, Request, TenantSpec, TenantState};
use berth_gitops::{CommitOutcome, CommitRequest, Target};
use berth_store::{RequestRecord, RequestState, TenantEntry};

use crate::AppState;
use crate::config::Mode;
use crate::error::ApiError;
use crate::time::now_rfc3339;

pub struct Submission {
    pub request: Request,
    /// `api`, or `webhook:<sender>`.
    pub source: String,
    /// The API caller's identity (`token:<name>`, `jwt:<sub>`); none for webhooks and schedules.
    pub requested_by: Option<String>,
    pub mode: Mode,
}

/// A request that went through: 202 when it committed or pushed a branch, 200 when the desired
/// state already held.
pub struct Submitted {
    pub status: StatusCode,
    pub record: RequestRecord,
}

/// What the tenant index should say after the commit.
#[derive(Clone)]
enum IndexUpdate {
    Put(TenantSpec),
    Remove,
}

/// Runs one request to its commit. On failure the request record says why, and the error
/// carries the status to answer.
pub async fn submit(
    state: &AppState,
    submission: Submission,
) -> Result<Submitted, (ApiError, Option<RequestRecord>)> {
    let Submission {
        request,
        source,
        requested_by,
        mode,
    } = submission;
    let mut record = RequestRecord::new(
        &request.id,
        request.action.name(),
        &source,
        request.tenant.as_str(),
        RequestState::Accepted,
        now_rfc3339(),
    );
    record.requested_by = requested_by;
    if let Err(e) = state.store.put_request(&record).await {
        return Err((e.into(), None));
    }

    let target = match mode {
        Mode::Direct => Target::Branch,
        Mode::Pr => Target::NewBranch(format!("berth/{}", request.id)),
    };
    let index = Arc::new(Mutex::new(None::<IndexUpdate>));
    let plan = {
        let (request, index) = (request.clone(), Arc::clone(&index));
        move |files: &RepoFiles| {
            let change = berth_core::plan(&request, files)?;
            if let Ok(mut slot) = index.lock() {
                *slot = index_after(&request, files, &change);
            }
            Ok(change)
        }
    };
    let commit_request = CommitRequest {
        request_id: request.id.clone(),
        reads: read_set(&request.tenant),
        target,
    };
    let outcome = state.committer.commit(commit_request, Arc::new(plan)).await;

    record.updated_at = now_rfc3339();
    let status = match outcome {
        Ok(CommitOutcome::Committed { sha, branch }) => {
            record.commit = Some(sha);
            if mode == Mode::Pr {
                record.state = RequestState::BranchPushed;
                record.branch = Some(branch);
            } else {
                record.state = RequestState::Committed;
            }
            StatusCode::ACCEPTED
        }
        Ok(CommitOutcome::NoChange { .. }) => {
            record.state = RequestState::NoChange;
            StatusCode::OK
        }
        Err(e) => {
            let error = ApiError::from(e);
            record.state = if error.is_transient() {
                RequestState::Failed
            } else {
                RequestState::Rejected
            };
            record.error = Some(error.body());
            if let Err(store_error) = state.store.put_request(&record).await {
                tracing::warn!(request_id = %record.id, error = %store_error, "could not record the failed request");
            }
            return Err((error, Some(record)));
        }
    };

    // The commit has landed. If recording it fails, answering 503 is still right: the retry
    // plans against the new tip, finds the desired state in place, and answers no_change.
    let update = index.lock().ok().and_then(|slot| slot.clone());
    if mode == Mode::Direct
        && let Some(update) = update
        && let Err(e) = update_index(state, &request, &record, update).await
    {
        return Err((e, Some(record)));
    }
    if let Err(e) = state.store.put_request(&record).await {
        return Err((e.into(), Some(record)));
    }
    Ok(Submitted { status, record })
}

/// Settles request `submission.request.id`, whose first run was interrupted (a crash, a timeout)
/// before it answered, as that run would have answered:
/// - its record already has an outcome: that outcome;
/// - its `Berth-Request` trailer is on the branch (or on its pull-request branch): committed
///   with that commit, the record and the tenant index brought up to date;
/// - otherwise: run again under the same id, so the record and the trailer still match.
pub async fn resume(
    state: &AppState,
    submission: Submission,
) -> Result<Submitted, (ApiError, Option<RequestRecord>)> {
    let id = submission.request.id.clone();
    let recorded = match state.store.get_request(&id).await {
        Ok(recorded) => recorded,
        Err(e) => return Err((e.into(), None)),
    };
    if let Some(record) = &recorded
        && let Some(settled) = settled(record)
    {
        return settled;
    }
    let branch = match submission.mode {
        Mode::Direct => None,
        Mode::Pr => Some(format!("berth/{id}")),
    };
    let landed = match state
        .committer
        .find_request(id.clone(), branch.clone())
        .await
    {
        Ok(landed) => landed,
        Err(e) => return Err((e.into(), recorded)),
    };
    let Some(sha) = landed else {
        tracing::info!(request_id = %id, "the interrupted request did not land: running it again");
        return submit(state, submission).await;
    };
    tracing::info!(request_id = %id, commit = %sha, "the interrupted request had landed");
    let request = &submission.request;
    let mut record = recorded.unwrap_or_else(|| {
        RequestRecord::new(
            &id,
            request.action.name(),
            &submission.source,
            request.tenant.as_str(),
            RequestState::Accepted,
            now_rfc3339(),
        )
    });
    record.requested_by = record.requested_by.or(submission.requested_by);
    record.commit = Some(sha);
    record.updated_at = now_rfc3339();
    match branch {
        Some(branch) => {
            record.state = RequestState::BranchPushed;
            record.branch = Some(branch);
        }
        None => {
            record.state = RequestState::Committed;
            if let Err(e) = refresh_index(state, request, &record).await {
                return Err((e, Some(record)));
            }
        }
    }
    if let Err(e) = state.store.put_request(&record).await {
        return Err((e.into(), Some(record)));
    }
    Ok(Submitted {
        status: StatusCode::ACCEPTED,
        record,
    })
}

/// The answer a record with an outcome stands for; `None` while it has none (`accepted`, or a
/// transient failure a retry may fix).
fn settled(record: &RequestRecord) -> Option<Result<Submitted, (ApiError, Option<RequestRecord>)>> {
    let status = match record.state {
        RequestState::Accepted | RequestState::Failed | RequestState::Scheduled => return None,
        RequestState::NoChange => StatusCode::OK,
        RequestState::Rejected => {
            let body = record.error.clone()?;
            let (status, code) = match body.code.as_str() {
                "not_found" => (StatusCode::NOT_FOUND, "not_found"),
                "conflict" => (StatusCode::CONFLICT, "conflict"),
                "repository_invalid" => (StatusCode::CONFLICT, "repository_invalid"),
                "push_rejected" => (StatusCode::CONFLICT, "push_rejected"),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            };
            let mut error = ApiError::new(status, code, body.message);
            error.field = body.field;
            return Some(Err((error, Some(record.clone()))));
        }
        _ => StatusCode::ACCEPTED,
    };
    Some(Ok(Submitted {
        status,
        record: record.clone(),
    }))
}

/// Brings the tenant index in line with the tenant's spec at the branch tip, after finding that
/// an interrupted request had landed (its own index update may never have run).
async fn refresh_index(
    state: &AppState,
    request: &Request,
    record: &RequestRecord,
) -> Result<(), ApiError> {
    let path = berth_core::paths::tenant_spec(&request.tenant);
    let snapshot = state.committer.read(vec![path.clone()]).await?;
    let update = match snapshot.files.get(&path) {
        None => IndexUpdate::Remove,
        Some(bytes) => match berth_core::files::parse::<TenantSpec>(&path, bytes) {
            Ok(spec) => IndexUpdate::Put(spec),
            Err(_) => return Ok(()),
        },
    };
    update_index(state, request, record, update).await
}

/// The tenant's spec after `change`: from the new `tenant.yaml` when the change writes one, else
/// as it was.
fn index_after(request: &Request, files: &RepoFiles, change: &Change) -> Option<IndexUpdate> {
    if matches!(request.action, Action::DeleteTenant) {
        return Some(IndexUpdate::Remove);
    }
    let path = berth_core::paths::tenant_spec(&request.tenant);
    let bytes = change.writes.get(&path).or_else(|| files.get(&path))?;
    berth_core::files::parse::<TenantSpec>(&path, bytes)
        .ok()
        .map(IndexUpdate::Put)
}

async fn update_index(
    state: &AppState,
    request: &Request,
    record: &RequestRecord,
    update: IndexUpdate,
) -> Result<(), ApiError> {
    match update {
        IndexUpdate::Remove => state.store.delete_tenant(request.tenant.as_str()).await?,
        IndexUpdate::Put(spec) => {
            let entry = TenantEntry {
                name: spec.name.to_string(),
                tier: spec.tier.to_string(),
                state: match spec.state {
                    TenantState::Active => "active".into(),
                    TenantState::Suspended => "suspended".into(),
                },
                display_name: spec.display_name,
                customer_id: spec.customer_id,
                last_request: record.id.clone(),
                updated_at: record.updated_at.clone(),
            };
            state.store.put_tenant(&entry).await?
        }
    }
    Ok(())
}
