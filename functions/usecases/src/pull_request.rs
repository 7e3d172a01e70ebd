//! The pull request of a pull-request-mode request: what it says (title from the commit, body naming
//! the request, its action, every file it touches and the validation it passed) and opening it
//! once the branch is pushed, so the record can say `pr_opened` with its address.

use berth_core::Change;
use berth_gitops::{PullRequestDraft, PullRequestState};
use berth_store::{ErrorBody, RequestRecord, RequestState};

use crate::app::App;
use crate::error::{ErrorCode, UseCaseError};
use crate::time::now_rfc3339;
use crate::write::outcome::Unsettled;

/// What the plan knew about the change, kept for the pull request's text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlannedChange {
    /// The commit's headline.
    pub title: String,
    /// Every path written or deleted.
    pub files: Vec<String>,
}

impl PlannedChange {
    pub fn of(change: &Change) -> Self {
        let title = change.message.lines().next().unwrap_or_default().to_owned();
        let mut files: Vec<String> = change
            .writes
            .keys()
            .chain(change.deletes.iter())
            .cloned()
            .collect();
        files.sort();
        files.dedup();
        Self { title, files }
    }
}

/// The pull request of `record`'s branch. Without the plan (a request settled after a crash),
/// the title says the action and the body points to the diff.
pub fn draft(record: &RequestRecord, planned: Option<&PlannedChange>) -> PullRequestDraft {
    let branch = record
        .branch
        .clone()
        .unwrap_or_else(|| pr_branch(&record.id));
    let title = match planned {
        Some(planned) if !planned.title.is_empty() => planned.title.clone(),
        _ => format!("{} for {}", record.action.replace('_', " "), record.tenant),
    };
    let files = match planned {
        Some(planned) => planned
            .files
            .iter()
            .map(|f| format!("- `{f}`"))
            .collect::<Vec<_>>()
            .join("\n"),
        None => "See this pull request's changes.".to_owned(),
    };
    let body = format!(
        "Opened by Berth for request `{id}`.\n\n\
         | | |\n|---|---|\n| Request | `{id}` |\n| Action | `{action}` |\n| Tenant | `{tenant}` |\n| Requested by | {by} |\n\n\
         **Files**\n{files}\n\n\
         **Validation**: passed. Berth checked the tenant against the catalog and every values \
         file against its chart's `values.schema.json` before committing.\n",
        id = record.id,
        action = record.action,
        tenant = record.tenant,
        by = record.requested_by.as_deref().unwrap_or(&record.source),
    );
    PullRequestDraft {
        branch,
        title,
        body,
    }
}

/// Opens (or, for a repeated request, finds) the pull request of `record`'s pushed branch and
/// records it: `pr_opened` with its address and number. Without a GitHub credential the record
/// stays `branch_pushed`. When GitHub cannot open it, the record is `failed` (a retry of the
/// request finds the pushed branch and opens it then) and the error is returned.
pub async fn open_for(
    app: &App,
    record: &mut RequestRecord,
    planned: Option<&PlannedChange>,
) -> Result<(), UseCaseError> {
    let Some(pulls) = &app.pulls else {
        return Ok(());
    };
    match pulls.open(&draft(record, planned)).await {
        Ok(opened) => {
            record.state = RequestState::PrOpened;
            record.pr_url = Some(opened.url);
            record.pr_number = Some(opened.number);
            Ok(())
        }
        Err(e) => {
            let error = UseCaseError::from(e);
            record.state = RequestState::Failed;
            record.error = Some(error.body());
            Err(error)
        }
    }
}

/// Moves a request whose pull request GitHub reports merged or closed: merged, with the commit
/// the base branch got (with a squash or rebase merge the branch's own commit never reaches it,
/// so `synced` is judged by this one); closed unmerged, `failed` with `pr_closed`. Only a request
/// still waiting on its pull request moves; returns whether it did.
pub fn follow(record: &mut RequestRecord, pull: &PullRequestState) -> bool {
    if !matches!(
        record.state,
        RequestState::BranchPushed | RequestState::PrOpened
    ) {
        return false;
    }
    match pull {
        PullRequestState::Merged { merge_commit } => {
            record.state = RequestState::Merged;
            record.commit = Some(merge_commit.clone());
        }
        PullRequestState::Closed => {
            record.state = RequestState::Failed;
            record.error = Some(ErrorBody {
                code: ErrorCode::PrClosed.as_str().into(),
                message: "the pull request was closed without merging".into(),
                field: None,
            });
        }
        PullRequestState::Open | PullRequestState::Missing => return false,
    }
    record.updated_at = now_rfc3339();
    true
}

/// The branch a pull-request-mode request commits to; its pull request merges it.
pub fn pr_branch(request_id: &str) -> String {
    format!("berth/{request_id}")
}

/// Opens the pull request of a request whose branch is pushed; when GitHub cannot, records
/// the request `failed` (its retry finds the branch and opens the pull request then).
pub async fn open_pull_request(
    app: &App,
    record: &mut RequestRecord,
    planned: Option<&PlannedChange>,
) -> Result<(), Unsettled> {
    let Err(error) = open_for(app, record, planned).await else {
        return Ok(());
    };
    if let Err(store_error) = app.store.put_request(record).await {
        tracing::warn!(request_id = %record.id, error = %store_error, "could not record the failed request");
    }
    Err(Unsettled::new(error, Some(record.clone())))
}
