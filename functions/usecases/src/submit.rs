//! The write path every source shares (API now, webhooks later): record the request, plan and
//! commit it against the branch tip, record the outcome, and update the tenant index.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use berth_core::plan::read_set;
use berth_core::{Change, RepoFiles, Request, TenantName, TenantSpec};
use berth_gitops::{CommitOutcome, CommitRequest, Target};
use berth_store::{LastChange, RequestRecord, RequestState, TenantEntry};

use crate::app::{App, Mode};
use crate::error::UseCaseError;
use crate::group_commit::{self, WhenUndecided};
use crate::pull_request::{self, PlannedChange};
use crate::time::now_rfc3339;

/// What recording a landed request may take once the request's deadline has passed: the Lambda
/// keeps this much in hand for it (see `berth-http`'s deadline).
pub const RECORD_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a request may run before a retry (or the sweep) takes it over as interrupted:
/// longer than the functions' timeout in the SAM template (29 s), which a test checks.
pub const DEFAULT_CLAIM_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// A refusal, with the request's record when it got that far.
pub type Refused = (UseCaseError, Option<RequestRecord>);

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

/// The branch a pull-request-mode request commits to; its pull request merges it.
pub fn pr_branch(request_id: &str) -> String {
    format!("berth/{request_id}")
}

/// The `accepted` record of a request about to be committed.
fn new_record(request: &Request, source: &str) -> RequestRecord {
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
fn reverted_request(request: &Request) -> Option<String> {
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

/// What the tenant index should say after the commit.
#[derive(Debug, Clone)]
pub(crate) enum IndexUpdate {
    /// The spec, and the digest of the tenant's folder when the whole folder was known.
    Put(TenantSpec, Option<String>),
    Remove,
}

/// A request whose Git outcome is final (committed, pushed, or nothing to change), with what is
/// left to record about it.
#[derive(Debug, Clone)]
struct Landed {
    submitted: Submitted,
    /// For direct commits: the tenant index after the commit.
    index: Option<IndexUpdate>,
}

impl Landed {
    /// Updates the tenant index and the request record.
    async fn record(self, app: &App) -> Result<Submitted, Refused> {
        let Landed { submitted, index } = self;
        if let Some(update) = index
            && let Err(e) = update_index(app, &submitted.record, update).await
        {
            return Err((e, Some(submitted.record)));
        }
        if let Err(e) = app.store.put_request(&submitted.record).await {
            return Err((e.into(), Some(submitted.record)));
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
    deadline: Option<tokio::time::Instant>,
}

impl Progress {
    /// The progress of a request whose work must be over by `deadline`.
    pub fn until(deadline: tokio::time::Instant) -> Self {
        Self {
            landed: Arc::default(),
            deadline: Some(deadline),
        }
    }

    fn landed(&self, landed: &Landed) {
        if let Ok(mut slot) = self.landed.lock() {
            *slot = Some(landed.clone());
        }
    }

    fn take_landed(&self) -> Option<Landed> {
        self.landed.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Runs `submission` to its answer, bounded by `deadline`: [`submit`], or [`resume`] when the
/// caller took over an interrupted request's claim. Cut off at the deadline, it answers with the
/// commit when the commit had landed (recording it within [`RECORD_BUDGET`]), else with 503.
pub async fn submit_by(
    app: &App,
    submission: Submission,
    resumed: bool,
    deadline: tokio::time::Instant,
) -> Result<Submitted, Refused> {
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
) -> Result<Submitted, Refused> {
    if resumed {
        resume(app, submission, progress).await
    } else {
        submit(app, submission, progress).await
    }
}

/// The answer of a request cut off at its deadline.
async fn past_deadline(app: &App, progress: &Progress) -> Result<Submitted, Refused> {
    let Some(landed) = progress.take_landed() else {
        tracing::warn!("the request ran out of time before its commit landed");
        return Err((UseCaseError::deadline_exceeded(), None));
    };
    let submitted = landed.submitted.clone();
    tracing::warn!(request_id = %submitted.record.id, "the request ran out of time after its commit landed");
    match tokio::time::timeout(RECORD_BUDGET, landed.record(app)).await {
        Ok(Ok(_)) => {}
        // The record stays `accepted`; the status sweep settles it from the commit's trailer.
        Ok(Err((e, _))) => {
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
) -> Result<Submitted, Refused> {
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
        return Err((e.into(), None));
    }

    let target = match mode {
        Mode::Direct => Target::Branch,
        Mode::Pr => Target::NewBranch(pr_branch(&request.id)),
    };
    let index = Arc::new(Mutex::new(None::<IndexUpdate>));
    let planned = Arc::new(Mutex::new(None::<PlannedChange>));
    let plan = {
        let (request, index, planned) = (request.clone(), Arc::clone(&index), Arc::clone(&planned));
        move |files: &RepoFiles| {
            let change = berth_core::plan(&request, files)?;
            if let Ok(mut slot) = index.lock() {
                *slot = index_after(&request.tenant, files, &change);
            }
            if let Ok(mut slot) = planned.lock() {
                *slot = Some(PlannedChange::of(&change));
            }
            Ok(change)
        }
    };
    let commit_request = CommitRequest {
        request_id: request.id.clone(),
        reads: read_set(&request.tenant),
        target,
    };
    let outcome = app.committer.commit(commit_request, Arc::new(plan)).await;

    record.updated_at = now_rfc3339();
    match outcome {
        Ok(CommitOutcome::Committed { sha, branch }) => {
            record_landing(&mut record, sha, (mode == Mode::Pr).then_some(branch));
        }
        Ok(CommitOutcome::NoChange { .. }) => record.state = RequestState::NoChange,
        Err(e) => {
            let error = UseCaseError::from(e);
            record.state = if error.is_transient() {
                RequestState::Failed
            } else {
                RequestState::Rejected
            };
            record.error = Some(error.body());
            if let Err(store_error) = app.store.put_request(&record).await {
                tracing::warn!(request_id = %record.id, error = %store_error, "could not record the failed request");
            }
            return Err((error, Some(record)));
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
) -> Result<Submitted, Refused> {
    let id = submission.request.id.clone();
    let recorded = match app.store.get_request(&id).await {
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
        Mode::Pr => Some(pr_branch(&id)),
    };
    let landed = match app.committer.find_request(id.clone(), branch.clone()).await {
        Ok(landed) => landed,
        Err(e) => return Err((e.into(), recorded)),
    };
    let Some(sha) = landed else {
        tracing::info!(request_id = %id, "the interrupted request did not land: running it again");
        return submit(app, submission, progress).await;
    };
    tracing::info!(request_id = %id, commit = %sha, "the interrupted request had landed");
    let request = &submission.request;
    let mut record = recorded.unwrap_or_else(|| new_record(request, &submission.source));
    record.requested_by = record.requested_by.or(submission.requested_by);
    record.reverts = record.reverts.or_else(|| reverted_request(request));
    record.updated_at = now_rfc3339();
    let direct = branch.is_none();
    record_landing(&mut record, sha, branch);
    if !direct {
        open_pull_request(app, &mut record, None).await?;
    }
    let mut landed = Landed {
        submitted: Submitted { record },
        index: None,
    };
    progress.landed(&landed);
    if direct {
        // Its own index update may never have run: read the tenant's spec at the tip.
        match tenant_index_at_tip(app, &request.tenant).await {
            Ok(update) => landed.index = update,
            Err(e) => return Err((e, Some(landed.submitted.record))),
        }
    }
    landed.record(app).await
}

/// Opens the pull request of a request whose branch is pushed; when GitHub cannot, records
/// the request `failed` (its retry finds the branch and opens the pull request then).
async fn open_pull_request(
    app: &App,
    record: &mut RequestRecord,
    planned: Option<&PlannedChange>,
) -> Result<(), Refused> {
    let Err(error) = pull_request::open_for(app, record, planned).await else {
        return Ok(());
    };
    if let Err(store_error) = app.store.put_request(record).await {
        tracing::warn!(request_id = %record.id, error = %store_error, "could not record the failed request");
    }
    Err((error, Some(record.clone())))
}

/// The answer a record with an outcome stands for; `None` while it has none (`accepted`, or a
/// transient failure a retry may fix).
pub(crate) fn settled(record: &RequestRecord) -> Option<Result<Submitted, Refused>> {
    match record.state {
        RequestState::Accepted | RequestState::Failed | RequestState::Scheduled => None,
        RequestState::Rejected => {
            let error = UseCaseError::from_body(record.error.clone()?);
            Some(Err((error, Some(record.clone()))))
        }
        _ => Some(Ok(Submitted {
            record: record.clone(),
        })),
    }
}

/// Brings `record.tenant`'s index entry in line with its spec at the branch tip: for a request
/// found landed after an interruption, whose own index update may never have run.
pub async fn refresh_tenant_index(app: &App, record: &RequestRecord) -> Result<(), UseCaseError> {
    let tenant = TenantName::parse("tenant", &record.tenant)?;
    match tenant_index_at_tip(app, &tenant).await? {
        Some(update) => update_index(app, record, update).await,
        None => Ok(()),
    }
}

/// What the tenant index should say given `tenant`'s spec at the branch tip; `None` when the
/// spec cannot be read as one.
async fn tenant_index_at_tip(
    app: &App,
    tenant: &TenantName,
) -> Result<Option<IndexUpdate>, UseCaseError> {
    let mut index = index_at_tip(app, std::slice::from_ref(tenant)).await?;
    Ok(index.remove(tenant))
}

/// What the tenant index should say for each of `tenants`, from their specs at the branch tip
/// read at once: removed when the spec is gone, left out when it cannot be read as one.
pub(crate) async fn index_at_tip(
    app: &App,
    tenants: &[TenantName],
) -> Result<BTreeMap<TenantName, IndexUpdate>, UseCaseError> {
    let paths = tenants.iter().map(berth_core::paths::tenant_spec).collect();
    let snapshot = app.committer.read(paths).await?;
    let mut index = BTreeMap::new();
    for tenant in tenants {
        let path = berth_core::paths::tenant_spec(tenant);
        let update = match snapshot.files.get(&path) {
            None => Some(IndexUpdate::Remove),
            Some(bytes) => berth_core::files::parse::<TenantSpec>(&path, bytes)
                .ok()
                .map(|spec| IndexUpdate::Put(spec, None)),
        };
        if let Some(update) = update {
            index.insert(tenant.clone(), update);
        }
    }
    Ok(index)
}

/// `tenant`'s index entry as `change` leaves it: from the `tenant.yaml` it writes, gone when it
/// deletes it, else as it was in `files`; `None` when the spec cannot be read as one.
pub(crate) fn index_after(
    tenant: &TenantName,
    files: &RepoFiles,
    change: &Change,
) -> Option<IndexUpdate> {
    let path = berth_core::paths::tenant_spec(tenant);
    let bytes = match change.writes.get(&path) {
        Some(bytes) => bytes,
        None if change.deletes.contains(&path) => return Some(IndexUpdate::Remove),
        None => files.get(&path)?,
    };
    let spec = berth_core::files::parse::<TenantSpec>(&path, bytes).ok()?;
    Some(IndexUpdate::Put(
        spec,
        folder_digest_after(tenant, files, change),
    ))
}

/// The digest of `tenant`'s folder once `change` is committed on `files` (which hold the whole
/// folder, as a plan reads it), so the reconciliation with Git finds the entry current.
fn folder_digest_after(tenant: &TenantName, files: &RepoFiles, change: &Change) -> Option<String> {
    let dir = berth_core::paths::tenant_dir(tenant);
    let mut folder: RepoFiles = files
        .range(dir.clone()..)
        .take_while(|(p, _)| p.starts_with(&dir))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    // The catalog is part of the digest (it decides the tenant's validity).
    let catalog = berth_core::catalog::CATALOG_PATH;
    if let Some(bytes) = files.get(catalog) {
        folder.insert(catalog.to_owned(), bytes.clone());
    }
    for path in &change.deletes {
        folder.remove(path);
    }
    for (path, bytes) in change.writes.iter().filter(|(p, _)| p.starts_with(&dir)) {
        folder.insert(path.clone(), bytes.clone());
    }
    berth_core::tenant_index::folder_digests(&folder).remove(tenant)
}

/// The index entry of a tenant with `spec`, last changed by `record`'s request.
pub(crate) fn index_entry(
    spec: TenantSpec,
    git_digest: Option<String>,
    record: &RequestRecord,
) -> TenantEntry {
    TenantEntry {
        name: spec.name.to_string(),
        tier: spec.tier.to_string(),
        state: spec.state.as_str().to_owned(),
        display_name: spec.display_name,
        customer_id: spec.customer_id,
        last_request: record.id.clone(),
        updated_at: record.updated_at.clone(),
        owner: spec.owner,
        git_digest,
        last_change: record.commit.as_ref().map(|commit| LastChange {
            commit: commit.clone(),
            author: record
                .requested_by
                .clone()
                .unwrap_or_else(|| record.source.clone()),
            at: record.updated_at.clone(),
            source: "berth".into(),
            request: Some(record.id.clone()),
        }),
        problems: Vec::new(),
    }
}

pub(crate) async fn update_index(
    app: &App,
    record: &RequestRecord,
    update: IndexUpdate,
) -> Result<(), UseCaseError> {
    match update {
        IndexUpdate::Remove => app.store.delete_tenant(&record.tenant).await?,
        IndexUpdate::Put(spec, digest) => {
            app.store
                .put_tenant(&index_entry(spec, digest, record))
                .await?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use berth_gitops::{Git2Committer, Git2Config, RemoteUrl};
    use berth_store::{LocalStore, Store};

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
        let (error, record) = past_deadline(&app, &Progress::default()).await.unwrap_err();
        assert_eq!(error.kind, crate::ErrorKind::Unavailable);
        assert_eq!(error.code, "timeout");
        assert!(error.is_transient(), "its claim is handed to the retry");
        assert!(record.is_none());
    }
}
