//! Settling a request whose run was interrupted (a crash, a timeout) before it recorded an
//! outcome, whoever finds it: the retry that takes its claim over ([`super::submit::resume`]),
//! or the status sweep once its lease has run out with no retry. Git decides: a commit with its
//! `Berth-Request` trailer on the branch (or on its pull-request branch) means it landed.

use berth_core::TenantName;
use berth_store::{ErrorBody, RequestRecord, RequestState};

use crate::app::{App, Mode};
use crate::error::{ErrorCode, UseCaseError};
use crate::pull_request::{open_pull_request, pr_branch};
use crate::time::now_rfc3339;
use crate::write::outcome::{Landed, Submitted, Unsettled, record_landing};
use crate::write::tenant_index::tenant_index_at_tip;

/// What Git says of an interrupted request.
#[derive(Debug)]
pub enum Interrupted {
    /// It landed: its record says so, with what is left to record (see [`Landed::record`]).
    Landed(Landed),
    /// It landed on its pull-request branch, but GitHub could not open the pull request: the
    /// record is `failed` and stored, and a retry of the request opens it.
    PullRequestFailed(Unsettled),
    /// No commit carries it: it never committed.
    NotLanded(RequestRecord),
}

/// Looks for `record`'s commit where its `mode` commits (on the branch for direct mode, on its
/// own branch for pull-request mode; both, in that order, when the mode is not known) and
/// brings the record up to date with what it finds. A direct commit's tenant index entry is
/// read at the tip, since its own update may never have run; when that read fails the entry is
/// left to the sweep's reconciliation with Git.
pub async fn settle_interrupted(
    app: &App,
    mut record: RequestRecord,
    mode: Option<Mode>,
) -> Result<Interrupted, UseCaseError> {
    let Some((sha, branch)) = find_landing(app, &record.id, mode).await? else {
        return Ok(Interrupted::NotLanded(record));
    };
    tracing::info!(request_id = %record.id, commit = %sha, "the interrupted request had landed");
    record.updated_at = now_rfc3339();
    let direct = branch.is_none();
    record_landing(&mut record, sha, branch);
    if !direct {
        if let Err(unsettled) = open_pull_request(app, &mut record, None).await {
            return Ok(Interrupted::PullRequestFailed(unsettled));
        }
        return Ok(Interrupted::Landed(Landed {
            submitted: Submitted { record },
            index: None,
        }));
    }
    let index = match TenantName::parse("tenant", &record.tenant) {
        Ok(tenant) => tenant_index_at_tip(app, &tenant)
            .await
            .inspect_err(|e| {
                tracing::warn!(request_id = %record.id, error = %e.message, "could not read the tenant's index entry at the tip");
            })
            .ok()
            .flatten(),
        Err(_) => None,
    };
    Ok(Interrupted::Landed(Landed {
        submitted: Submitted { record },
        index,
    }))
}

/// The commit carrying request `id`'s trailer, and the pull-request branch it is on (`None`
/// for the branch itself).
async fn find_landing(
    app: &App,
    id: &str,
    mode: Option<Mode>,
) -> Result<Option<(String, Option<String>)>, UseCaseError> {
    if mode != Some(Mode::Pr)
        && let Some(sha) = app.committer.find_request(id.to_owned(), None).await?
    {
        return Ok(Some((sha, None)));
    }
    if mode == Some(Mode::Direct) {
        return Ok(None);
    }
    let branch = pr_branch(id);
    let found = app
        .committer
        .find_request(id.to_owned(), Some(branch.clone()))
        .await?;
    Ok(found.map(|sha| (sha, Some(branch))))
}

/// `record`'s request as `failed`, `interrupted`: it never committed and no retry came for it
/// within its lease. A retry of it runs it again.
pub fn mark_interrupted(record: &mut RequestRecord) {
    record.state = RequestState::Failed;
    record.error = Some(ErrorBody {
        code: ErrorCode::Interrupted.as_str().into(),
        message: "the request was interrupted (a crash or a timeout) before it committed; \
                  retrying it runs it again"
            .into(),
        field: None,
    });
    record.updated_at = now_rfc3339();
}
