//! What a write ends as: [`Submitted`] when it went through, [`Unsettled`] when it was refused
//! or could not finish; the record's own answer once it has an outcome ([`settled`]); and, for
//! a request whose commit landed, what is left to record ([`Landed`]) and how far it got when
//! its deadline cut it off ([`Progress`]).

use std::sync::{Arc, Mutex};

use berth_core::Request;
use berth_store::{RequestRecord, RequestState};

use crate::app::App;
use crate::error::UseCaseError;
use crate::time::now_rfc3339;
use crate::write::tenant_index::{IndexUpdate, update_index};

/// A request that went through: it committed, pushed a branch or opened a pull request, or the
/// desired state already held (`no_change`).
#[derive(Debug, Clone)]
pub struct Submitted {
    pub record: RequestRecord,
}

impl Submitted {
    /// True when the desired state already held and nothing was committed.
    pub fn changed_nothing(&self) -> bool {
        self.record.state == RequestState::NoChange
    }
}

/// A write that did not go through: refused for good, or failed in a way a retry may fix
/// ([`UseCaseError::is_transient`]), with the request's record when it got that far.
#[derive(Debug, Clone)]
pub struct Unsettled {
    pub error: UseCaseError,
    pub record: Option<RequestRecord>,
}

impl Unsettled {
    pub fn new(error: impl Into<UseCaseError>, record: Option<RequestRecord>) -> Self {
        Self {
            error: error.into(),
            record,
        }
    }
}

/// The `accepted` record of a request about to be committed.
pub(crate) fn new_record(request: &Request, source: &str) -> RequestRecord {
    let mut record = RequestRecord::new(
        &request.id,
        request.action.name(),
        source,
        request.tenant.as_str(),
        RequestState::Accepted,
        now_rfc3339(),
    );
    record.reverts = reverted_request(request);
    record
}

/// The request `request` reverts, when it is a revert.
pub(crate) fn reverted_request(request: &Request) -> Option<String> {
    match &request.action {
        berth_core::Action::Revert(restore) => Some(restore.reverts.clone()),
        _ => None,
    }
}

/// Records that `record`'s request landed in commit `sha`: on the configured branch it is
/// `committed`; on its pull-request branch `pr_branch`, that branch is pushed.
pub fn record_landing(record: &mut RequestRecord, sha: String, pr_branch: Option<String>) {
    record.commit = Some(sha);
    match pr_branch {
        Some(branch) => {
            record.state = RequestState::BranchPushed;
            record.branch = Some(branch);
        }
        None => record.state = RequestState::Committed,
    }
}

/// The answer a record with an outcome stands for; `None` while it has none (`accepted`, or a
/// transient failure a retry may fix).
pub(crate) fn settled(record: &RequestRecord) -> Option<Result<Submitted, Unsettled>> {
    match record.state {
        RequestState::Accepted | RequestState::Failed | RequestState::Scheduled => None,
        RequestState::Rejected => {
            let error = UseCaseError::from_body(record.error.clone()?);
            Some(Err(Unsettled::new(error, Some(record.clone()))))
        }
        _ => Some(Ok(Submitted {
            record: record.clone(),
        })),
    }
}

/// A request whose Git outcome is final (committed, pushed, or nothing to change), with what is
/// left to record about it.
#[derive(Debug, Clone)]
pub struct Landed {
    pub(crate) submitted: Submitted,
    /// For direct commits: the tenant index after the commit.
    pub(crate) index: Option<IndexUpdate>,
}

impl Landed {
    /// Updates the tenant index and the request record.
    pub async fn record(self, app: &App) -> Result<Submitted, Unsettled> {
        let Landed { submitted, index } = self;
        if let Some(update) = index
            && let Err(e) = update_index(&*app.store, &submitted.record, update).await
        {
            return Err(Unsettled::new(e, Some(submitted.record)));
        }
        if let Err(e) = app.store.put_request(&submitted.record).await {
            return Err(Unsettled::new(e, Some(submitted.record)));
        }
        crate::revert::mark_reverted(app, &submitted.record).await;
        Ok(submitted)
    }
}

/// How far a request got, readable after its future was dropped at the deadline: once its Git
/// outcome is final, the answer is that outcome, whatever happens to the bookkeeping after it.
/// It also carries the deadline, which bounds a group commit's wait.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    landed: Arc<Mutex<Option<Landed>>>,
    pub(crate) deadline: Option<tokio::time::Instant>,
}

impl Progress {
    /// The progress of a request whose work must be over by `deadline`.
    pub fn until(deadline: tokio::time::Instant) -> Self {
        Self {
            landed: Arc::default(),
            deadline: Some(deadline),
        }
    }

    pub(crate) fn landed(&self, landed: &Landed) {
        if let Ok(mut slot) = self.landed.lock() {
            *slot = Some(landed.clone());
        }
    }

    pub(crate) fn take_landed(&self) -> Option<Landed> {
        self.landed.lock().ok().and_then(|mut slot| slot.take())
    }
}
