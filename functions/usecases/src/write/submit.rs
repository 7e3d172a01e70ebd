//! Submitting one request: record it, plan and commit it against the branch tip (or hand it
//! to group commit), record the outcome. [`submit_until`] bounds it by the caller's deadline;
//! [`resume`] settles a request whose first run was interrupted.

use std::sync::{Arc, Mutex};

use berth_core::plan::request_reads;
use berth_core::{RepoFiles, Request};
use berth_gitops::{CommitOutcome, CommitRequest, Target};
use berth_store::RequestState;

use crate::app::{App, Mode};
use crate::error::UseCaseError;
use crate::plan_charts::commit_fetching_charts;
use crate::pull_request::{PlannedChange, open_pull_request, pr_branch};
use crate::time::now_rfc3339;
use crate::write::group_commit::{self, WhenUndecided};
use crate::write::outcome::{
    Landed, Progress, Submitted, Unsettled, new_record, record_landing, reverted_request, settled,
};
use crate::write::settle::{Interrupted, settle_interrupted};
use crate::write::tenant_index::{IndexUpdate, index_after};
use crate::write::timing::RECORD_BUDGET;

pub struct Submission {
    pub request: Request,
    /// `api`, or `webhook:<sender>`.
    pub source: String,
    /// The API caller's identity (`token:<name>`, `jwt:<sub>`); none for webhooks and schedules.
    pub requested_by: Option<String>,
    pub mode: Mode,
    /// What a direct-mode request answers when its group commit has not decided it by the end
    /// of its caller's wait.
    pub when_undecided: WhenUndecided,
}

/// Runs `submission` to its answer, bounded by `deadline`: [`submit`], or [`resume`] when the
/// caller took over an interrupted request's claim. Cut off at the deadline, it answers with the
/// commit when the commit had landed (recording it within [`RECORD_BUDGET`]), else with 503.
pub async fn submit_until(
    app: &App,
    submission: Submission,
    resumed: bool,
    deadline: tokio::time::Instant,
) -> Result<Submitted, Unsettled> {
    let progress = Progress::until(deadline);
    let work = submit_or_resume(app, submission, resumed, &progress);
    match tokio::time::timeout_at(deadline, work).await {
        Ok(outcome) => outcome,
        Err(_) => past_deadline(app, &progress).await,
    }
}

/// [`submit`], or [`resume`] when the caller took over an interrupted request's claim.
pub async fn submit_or_resume(
    app: &App,
    submission: Submission,
    resumed: bool,
    progress: &Progress,
) -> Result<Submitted, Unsettled> {
    if resumed {
        resume(app, submission, progress).await
    } else {
        submit(app, submission, progress).await
    }
}

/// The answer of a request cut off at its deadline.
async fn past_deadline(app: &App, progress: &Progress) -> Result<Submitted, Unsettled> {
    let Some(landed) = progress.take_landed() else {
        tracing::warn!("the request ran out of time before its commit landed");
        return Err(Unsettled::new(UseCaseError::deadline_exceeded(), None));
    };
    let submitted = landed.submitted.clone();
    tracing::warn!(request_id = %submitted.record.id, "the request ran out of time after its commit landed");
    match tokio::time::timeout(RECORD_BUDGET, landed.record(app)).await {
        Ok(Ok(_)) => {}
        // The record stays `accepted`; the status sweep settles it from the commit's trailer.
        Ok(Err(Unsettled { error: e, .. })) => {
            tracing::warn!(error = %e.message, "could not record the landed request")
        }
        Err(_) => tracing::warn!("could not record the landed request in time"),
    }
    Ok(submitted)
}

/// Runs one request to its commit. On failure the request record says why, and the error
/// carries the status to answer. `progress` learns the outcome as soon as Git has it.
pub async fn submit(
    app: &App,
    submission: Submission,
    progress: &Progress,
) -> Result<Submitted, Unsettled> {
    let Submission {
        request,
        source,
        requested_by,
        mode,
        when_undecided,
    } = submission;
    let mut record = new_record(&request, &source);
    record.requested_by = requested_by;
    if mode == Mode::Direct
        && let Some(group) = &app.group_commit
    {
        let until = progress.deadline;
        return group_commit::join(app, group, &request, record, when_undecided, until).await;
    }
    if let Err(e) = app.store.put_request(&record).await {
        return Err(Unsettled::new(e, None));
    }

    let target = match mode {
        Mode::Direct => Target::Branch,
        Mode::Pr => Target::NewBranch(pr_branch(&request.id)),
    };
    let index = Arc::new(Mutex::new(None::<IndexUpdate>));
    let planned = Arc::new(Mutex::new(None::<PlannedChange>));
    let commit_request = CommitRequest {
        request_id: request.id.clone(),
        reads: request_reads(&request),
        target,
    };
    // A plan that needs upstream charts asks for them: they are read (nothing is written
    // meanwhile) and the request is planned again.
    let outcome = commit_fetching_charts(app, commit_request, |charts| {
        let (request, index, planned) = (request.clone(), Arc::clone(&index), Arc::clone(&planned));
        Arc::new(move |files: &RepoFiles| {
            let change = berth_core::plan::plan_with_charts(&request, files, &charts)?;
            if let Ok(mut slot) = index.lock() {
                *slot = index_after(&request.tenant, files, &change);
            }
            if let Ok(mut slot) = planned.lock() {
                *slot = Some(PlannedChange::of(&change));
            }
            Ok(change)
        })
    })
    .await;

    record.updated_at = now_rfc3339();
    match outcome {
        Ok(CommitOutcome::Committed { sha, branch }) => {
            record_landing(&mut record, sha, (mode == Mode::Pr).then_some(branch));
        }
        Ok(CommitOutcome::NoChange { .. }) => record.state = RequestState::NoChange,
        Err(error) => {
            record.state = if error.is_transient() {
                RequestState::Failed
            } else {
                RequestState::Rejected
            };
            record.error = Some(error.body());
            if let Err(store_error) = app.store.put_request(&record).await {
                tracing::warn!(request_id = %record.id, error = %store_error, "could not record the failed request");
            }
            return Err(Unsettled::new(error, Some(record)));
        }
    }

    if mode == Mode::Pr && record.state == RequestState::BranchPushed {
        let planned = planned.lock().ok().and_then(|slot| slot.clone());
        open_pull_request(app, &mut record, planned.as_ref()).await?;
    }

    // The commit has landed. If recording it fails, answering 503 is still right: the retry
    // takes the claim over, finds the commit by its trailer and answers with it.
    let index = match mode {
        Mode::Direct => index.lock().ok().and_then(|slot| slot.clone()),
        Mode::Pr => None,
    };
    let landed = Landed {
        submitted: Submitted { record },
        index,
    };
    progress.landed(&landed);
    landed.record(app).await
}

/// Settles request `submission.request.id`, whose first run was interrupted (a crash, a timeout)
/// before it answered, as that run would have answered:
/// - its record already has an outcome: that outcome;
/// - its `Berth-Request` trailer is on the branch (or on its pull-request branch): committed
///   with that commit, the record and the tenant index brought up to date;
/// - otherwise: run again under the same id, so the record and the trailer still match.
pub async fn resume(
    app: &App,
    submission: Submission,
    progress: &Progress,
) -> Result<Submitted, Unsettled> {
    let id = submission.request.id.clone();
    let recorded = match app.store.get_request(&id).await {
        Ok(recorded) => recorded,
        Err(e) => return Err(Unsettled::new(e, None)),
    };
    if let Some(record) = &recorded
        && let Some(settled) = settled(record)
    {
        return settled;
    }
    let request = &submission.request;
    let mut record = recorded
        .clone()
        .unwrap_or_else(|| new_record(request, &submission.source));
    record.requested_by = record.requested_by.or(submission.requested_by.clone());
    record.reverts = record.reverts.or_else(|| reverted_request(request));
    match settle_interrupted(app, record, Some(submission.mode)).await {
        Ok(Interrupted::Landed(landed)) => {
            progress.landed(&landed);
            landed.record(app).await
        }
        Ok(Interrupted::PullRequestFailed(unsettled)) => Err(unsettled),
        Ok(Interrupted::NotLanded(_)) => {
            tracing::info!(request_id = %id, "the interrupted request did not land: running it again");
            submit(app, submission, progress).await
        }
        Err(e) => Err(Unsettled::new(e, recorded)),
    }
}

#[cfg(test)]
mod tests {
    use berth_gitops::{Git2Committer, Git2Config, RemoteUrl};
    use berth_store::{LocalStore, RequestRecord, RequestStore};

    use super::*;

    /// App whose committer is never reached: these requests are past their Git outcome.
    fn app(dir: &std::path::Path) -> (App, Arc<LocalStore>) {
        let store = Arc::new(LocalStore::open(dir.join("store.json")).unwrap());
        let remote = RemoteUrl::parse(&dir.join("unused.git").display().to_string()).unwrap();
        let committer = Git2Committer::new(Git2Config::new(remote, "main", dir.join("work")));
        (App::new(Arc::new(committer), store.clone()), store)
    }

    #[tokio::test]
    async fn cut_off_after_its_commit_landed_a_request_answers_with_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (app, store) = app(dir.path());
        let mut record = RequestRecord::new(
            "01LANDED",
            "create_tenant",
            "api",
            "acme",
            RequestState::Committed,
            now_rfc3339(),
        );
        record.commit = Some("0123abcd".into());
        let progress = Progress::default();
        progress.landed(&Landed {
            submitted: Submitted {
                record: record.clone(),
            },
            index: Some(IndexUpdate::Remove),
        });

        let answer = past_deadline(&app, &progress).await.unwrap();
        assert!(!answer.changed_nothing());
        assert_eq!(answer.record.commit.as_deref(), Some("0123abcd"));
        let stored = store.get_request("01LANDED").await.unwrap().unwrap();
        assert_eq!(
            stored.state,
            RequestState::Committed,
            "recorded on the way out"
        );
    }

    #[tokio::test]
    async fn cut_off_before_its_commit_landed_a_request_answers_503() {
        let dir = tempfile::tempdir().unwrap();
        let (app, _) = app(dir.path());
        let Unsettled { error, record } =
            past_deadline(&app, &Progress::default()).await.unwrap_err();
        assert_eq!(error.kind, crate::ErrorKind::Unavailable);
        assert_eq!(error.code.as_str(), "timeout");
        assert!(error.is_transient(), "its claim is handed to the retry");
        assert!(record.is_none());
    }
}
