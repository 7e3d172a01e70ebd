//! Group commit (DESIGN.md §4): a burst of direct-mode requests lands as a few commits.
//!
//! A request is recorded as pending (its payload stored on its record), then its caller tries
//! to take the store's one commit lease. The holder reads the branch once per batch, plans the
//! pending requests oldest first against the files as the ones before them left them
//! ([`berth_core::batch::plan_batch`]), commits them as one commit with one trailer each,
//! records every outcome, and repeats while requests wait and time allows. A caller without
//! the lease polls its own record until it has an outcome, taking the lease when it is free.
//!
//! Crash safety: a holder that dies (or cannot record) leaves the lease unreleased; the next
//! holder first looks on the branch for the trailers of the requests it is about to commit, and
//! records those it finds as committed instead of committing them again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::batch::{BatchLimits, BatchOutcome, BatchPlan, plan_batch};
use berth_core::plan::read_set;
use berth_core::{RepoFiles, Request, TenantName};
use berth_gitops::{CommitOutcome, CommitRequest, Target};
use berth_store::{RequestRecord, RequestState};
use tokio::time::Instant;

use crate::app::App;
use crate::error::UseCaseError;
use crate::submit::{
    IndexUpdate, Refused, Submitted, index_after, index_at_tip, index_entry, settled,
};
use crate::time::{epoch_seconds_now, now_rfc3339};

/// Default of `BERTH_BATCH_WAIT`.
pub const DEFAULT_BATCH_WAIT: Duration = Duration::from_secs(20);

/// How long a webhook waits for its batch before acknowledging its request as accepted: well
/// inside any sender's timeout (Stripe and Standard Webhooks senders give up after seconds).
pub const WEBHOOK_BATCH_WAIT: Duration = Duration::from_secs(5);

/// A holder starts no new batch with less than this left before its bound: one batch (a read,
/// a commit, the outcomes) must fit in it.
const BATCH_HEADROOM: Duration = Duration::from_secs(5);

/// The first and the longest pause between two looks at a waiting request's record: a burst's
/// waiters poll the store together, so the pause grows fast.
const FIRST_POLL: Duration = Duration::from_millis(10);
const LONGEST_POLL: Duration = Duration::from_millis(400);

/// How often a waiter looks whether the lease is free: the holder settles what waits before it
/// lets go, so this only matters for a request that arrived as the holder was leaving.
const LEASE_LOOK_EVERY: Duration = Duration::from_secs(1);

/// How group commit is configured (`BERTH_GROUP_COMMIT`, `BERTH_BATCH_MAX`, `BERTH_BATCH_WAIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    pub limits: BatchLimits,
    /// How long an API caller waits for its request's outcome before answering 503.
    pub wait: Duration,
    /// How long the commit lease lasts: a holder that died is taken over after it. Longer
    /// than any function's timeout, so a live holder never loses it.
    pub lease: Duration,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            limits: BatchLimits::default(),
            wait: DEFAULT_BATCH_WAIT,
            lease: crate::submit::DEFAULT_CLAIM_LEASE,
        }
    }
}

/// What a caller does when its request has no outcome by the end of its wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUndecided {
    /// Answer 503 with Retry-After (the API: its client retries with the same key).
    Refuse,
    /// Answer with the request as `accepted` after at most [`WEBHOOK_BATCH_WAIT`] (webhooks and
    /// schedules: their request is durable and will be committed once).
    Acknowledge,
}

/// Records `record`'s request as pending and waits for its outcome, leading batches while it
/// can take the commit lease. `until` bounds the whole wait.
pub async fn join(
    app: &App,
    group: &GroupCommit,
    request: &Request,
    mut record: RequestRecord,
    when_undecided: WhenUndecided,
    until: Option<Instant>,
) -> Result<Submitted, Refused> {
    let payload = serde_json::to_string(request).map_err(|e| {
        let error = UseCaseError::unavailable("store_unavailable", e.to_string());
        (error, None)
    })?;
    record.payload = Some(payload);
    match app.store.put_pending(&record).await {
        Ok(true) => {}
        // A retry racing the batch that settled it: that outcome is the answer.
        Ok(false) => return outcome_of(app, &record.id).await,
        Err(e) => return Err((e.into(), None)),
    }
    let wait = match when_undecided {
        WhenUndecided::Refuse => group.wait,
        WhenUndecided::Acknowledge => group.wait.min(WEBHOOK_BATCH_WAIT),
    };
    let give_up = until.map_or(Instant::now() + wait, |u| u.min(Instant::now() + wait));
    let mut pause = FIRST_POLL;
    let mut next_lease_look = Instant::now();
    loop {
        if Instant::now() >= next_lease_look {
            next_lease_look = Instant::now() + LEASE_LOOK_EVERY;
            if let Err(e) = drain(app, group, give_up).await {
                tracing::warn!(request_id = %record.id, error = %e, "could not lead a group commit");
            }
        }
        match app.store.get_request(&record.id).await {
            Ok(Some(stored)) if !stored.is_pending() => {
                if let Some(answer) = settled_for_waiter(&stored) {
                    return answer;
                }
            }
            Ok(_) => {}
            Err(e) => return Err((e.into(), None)),
        }
        let now = Instant::now();
        if now >= give_up {
            // It stays pending, and will be committed once, by a later batch or the sweep.
            return match when_undecided {
                WhenUndecided::Refuse => Err((UseCaseError::still_pending(), Some(record))),
                WhenUndecided::Acknowledge => {
                    record.payload = None;
                    Ok(Submitted { record })
                }
            };
        }
        tokio::time::sleep(pause.min(give_up - now)).await;
        pause = (pause * 2).min(LONGEST_POLL);
    }
}

/// The outcome recorded for request `id`.
async fn outcome_of(app: &App, id: &str) -> Result<Submitted, Refused> {
    match app.store.get_request(id).await {
        Ok(Some(stored)) => match settled_for_waiter(&stored) {
            Some(answer) => answer,
            None => Err((UseCaseError::still_pending(), Some(stored))),
        },
        Ok(None) => Err((UseCaseError::still_pending(), None)),
        Err(e) => Err((e.into(), None)),
    }
}

/// A waiter's answer from its record: like a retry's, except that `failed` is an outcome here
/// (the batch that carried it failed after the waiter recorded it pending).
fn settled_for_waiter(record: &RequestRecord) -> Option<Result<Submitted, Refused>> {
    if record.state == RequestState::Failed {
        let error = record
            .error
            .clone()
            .map(UseCaseError::from_body)
            .unwrap_or_else(UseCaseError::still_pending);
        return Some(Err((error, Some(record.clone()))));
    }
    settled(record)
}

/// Commits what waits when nobody else holds the commit lease: takes it and leads until
/// nothing waits or `until` (less the room one batch needs) comes. Every waiter calls it now and
/// then, and the status sweep does, so a request whose caller gave up is still committed.
/// Returns how many requests it settled.
pub async fn drain(app: &App, group: &GroupCommit, until: Instant) -> Result<usize, UseCaseError> {
    let store = &app.store;
    let now = epoch_seconds_now();
    // A read first: a held lease is the common case, and a failed conditional write costs more.
    if store
        .commit_lease()
        .await?
        .is_some_and(|held| held.lease_until >= now)
    {
        return Ok(0);
    }
    let owner = ulid::Ulid::new().to_string();
    let lease_until = now + group.lease.as_secs() as i64;
    let Some(taken) = store.take_commit_lease(&owner, lease_until).await? else {
        return Ok(0);
    };
    let mut held = HeldLease {
        app,
        owner: Some(owner),
    };
    // Never past the lease: a holder that outlived it could race the one that took it over.
    let until = until.min(Instant::now() + group.lease / 2);
    let mut leader = Leader::new(app, group, taken.after_unreleased);
    let led = leader.lead(until).await;
    held.release(led.is_ok()).await;
    led.map(|()| leader.settled)
}

/// The commit lease while this process holds it. Cut off (its future dropped at a deadline),
/// the holder still lets the lease go, marked unreleased, so the next holder need not wait for
/// it to run out and knows to look on the branch first.
struct HeldLease<'a> {
    app: &'a App,
    owner: Option<String>,
}

impl HeldLease<'_> {
    async fn release(&mut self, clean: bool) {
        let Some(owner) = self.owner.take() else {
            return;
        };
        if let Err(e) = self.app.store.release_commit_lease(&owner, clean).await {
            tracing::warn!(error = %e, "could not release the commit lease; it runs out by itself");
        }
    }
}

impl Drop for HeldLease<'_> {
    fn drop(&mut self) {
        let (Some(owner), Ok(runtime)) = (self.owner.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let store = std::sync::Arc::clone(&self.app.store);
        runtime.spawn(async move {
            if let Err(e) = store.release_commit_lease(&owner, false).await {
                tracing::warn!(error = %e, "could not release the commit lease of a holder cut off; it runs out by itself");
            }
        });
    }
}

/// The holder of the commit lease, for the time it holds it.
pub struct Leader<'a> {
    app: &'a App,
    group: &'a GroupCommit,
    /// The last holder did not release the lease: look for the trailers of the next batch on
    /// the branch before committing it.
    check_branch: bool,
    /// Requests given an outcome so far.
    settled: usize,
}

impl<'a> Leader<'a> {
    pub fn new(app: &'a App, group: &'a GroupCommit, check_branch: bool) -> Self {
        Self {
            app,
            group,
            check_branch,
            settled: 0,
        }
    }

    /// Commits batches while requests wait and at least one batch's time is left before `until`.
    async fn lead(&mut self, until: Instant) -> Result<(), UseCaseError> {
        loop {
            let pending = self
                .app
                .store
                .list_pending(self.group.limits.max_requests)
                .await?;
            if pending.is_empty() {
                return Ok(());
            }
            let (size, started) = (pending.len(), std::time::Instant::now());
            let batch = self.commit_batch(pending).await?;
            let committed = started.elapsed();
            let commit = batch.commit.clone();
            let recorded = batch.record(self.app).await?;
            tracing::info!(
                requests = size,
                settled = recorded,
                commit = commit.as_deref().unwrap_or("none"),
                commit_ms = committed.as_millis() as u64,
                total_ms = started.elapsed().as_millis() as u64,
                "group commit batch"
            );
            self.settled += recorded;
            if until.saturating_duration_since(Instant::now()) < BATCH_HEADROOM {
                return Ok(());
            }
        }
    }

    /// Plans and commits one batch of `pending` records; what is left to do is recording its
    /// outcomes ([`Batch::record`]). A test stops between the two to play a holder that died.
    pub async fn commit_batch(
        &mut self,
        pending: Vec<RequestRecord>,
    ) -> Result<Batch, UseCaseError> {
        let mut batch = Batch::default();
        let mut requests = Vec::with_capacity(pending.len());
        for record in pending {
            match decode(&record) {
                Ok(request) => {
                    batch.records.insert(record.id.clone(), record);
                    requests.push(request);
                }
                Err(error) => batch.settle(record, RequestState::Rejected, Some(error)),
            }
        }
        let after_unreleased = self.check_branch;
        if self.check_branch {
            let ids = requests.iter().map(|r| r.id.clone()).collect();
            let landed = self.app.committer.find_requests(ids, None).await?;
            if !landed.is_empty() {
                tracing::warn!(
                    requests = landed.len(),
                    "the last holder of the commit lease died after committing: recording its batch"
                );
            }
            requests.retain(|r| !landed.contains_key(&r.id));
            batch.found_landed(landed);
            self.check_branch = false;
        }
        if requests.is_empty() {
            return Ok(batch);
        }
        let planned = self.commit(&requests).await;
        batch.planned(planned, &requests);
        if after_unreleased {
            // The last holder's commit may have landed after the look above (its call was
            // still in flight): then its requests plan as done or refused here. Their
            // trailers tell.
            let ids = batch.unlanded();
            if !ids.is_empty() {
                let landed = self.app.committer.find_requests(ids, None).await?;
                batch.found_landed_late(landed);
            }
        }
        Ok(batch)
    }

    /// One commit of `requests`, planned against the tip, and planned again on a lost race.
    async fn commit(&self, requests: &[Request]) -> Planned {
        let reads: BTreeSet<String> = requests.iter().flat_map(|r| read_set(&r.tenant)).collect();
        let slot = Arc::new(Mutex::new(
            None::<(BatchPlan, BTreeMap<String, IndexUpdate>)>,
        ));
        let plan = {
            let (requests, slot, limits) =
                (requests.to_vec(), Arc::clone(&slot), self.group.limits);
            move |files: &RepoFiles| {
                let started = std::time::Instant::now();
                let batch = plan_batch(&requests, files, limits);
                let index = batch_index(&requests, &batch, files);
                tracing::debug!(
                    requests = requests.len(),
                    plan_ms = started.elapsed().as_millis() as u64,
                    "planned a batch"
                );
                let change = batch.change.clone();
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some((batch, index));
                }
                Ok(change)
            }
        };
        let commit_request = CommitRequest {
            request_id: requests.first().map(|r| r.id.clone()).unwrap_or_default(),
            reads: reads.into_iter().collect(),
            target: Target::Branch,
        };
        let outcome = self
            .app
            .committer
            .commit(commit_request, Arc::new(plan))
            .await;
        let last_plan = slot.lock().ok().and_then(|mut s| s.take());
        Planned { outcome, last_plan }
    }
}

/// What one commit attempt left: the committer's outcome and the plan of its last attempt.
struct Planned {
    outcome: Result<CommitOutcome, berth_gitops::CommitError>,
    last_plan: Option<(BatchPlan, BTreeMap<String, IndexUpdate>)>,
}

/// A batch whose Git outcome is known, with the records and the tenant index to write.
#[derive(Debug, Default)]
pub struct Batch {
    /// Pending records by id; those given an outcome are moved to `settled`.
    records: BTreeMap<String, RequestRecord>,
    settled: Vec<RequestRecord>,
    index: BTreeMap<String, (IndexUpdate, RequestRecord)>,
    /// Requests found landed by a holder that died, whose tenant index is read at the tip.
    refresh: Vec<String>,
    /// The commit the batch landed in, if it committed anything.
    pub commit: Option<String>,
    /// Git failed the commit: it may still have landed, so the holder stops and leaves the
    /// lease unreleased for the next one to check.
    failed: bool,
}

impl Batch {
    fn settle(
        &mut self,
        mut record: RequestRecord,
        state: RequestState,
        error: Option<UseCaseError>,
    ) {
        record.state = state;
        record.error = error.map(|e| e.body());
        record.payload = None;
        record.updated_at = now_rfc3339();
        self.settled.push(record);
    }

    fn take(&mut self, id: &str) -> Option<RequestRecord> {
        self.records.remove(id)
    }

    /// Requests a holder that died had committed: committed, with their commit.
    fn found_landed(&mut self, landed: BTreeMap<String, String>) {
        let mut sizes: BTreeMap<&str, u32> = BTreeMap::new();
        for sha in landed.values() {
            *sizes.entry(sha).or_default() += 1;
        }
        for (id, sha) in &landed {
            if let Some(mut record) = self.take(id) {
                record.commit = Some(sha.clone());
                record.batch_size = sizes.get(sha.as_str()).copied();
                self.settle(record, RequestState::Committed, None);
                // Its index update may never have run: read at the tip when recorded.
                self.refresh.push(id.clone());
            }
        }
    }

    /// Requests settled as refused or unchanged: what a late commit of a dead holder makes
    /// of its own requests.
    fn unlanded(&self) -> Vec<String> {
        self.settled
            .iter()
            .filter(|r| matches!(r.state, RequestState::Rejected | RequestState::NoChange))
            .map(|r| r.id.clone())
            .collect()
    }

    /// Among the requests settled as refused or unchanged, those whose trailer is on the branch
    /// after all: committed there.
    fn found_landed_late(&mut self, landed: BTreeMap<String, String>) {
        if landed.is_empty() {
            return;
        }
        let (late, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.settled)
            .into_iter()
            .partition(|r| landed.contains_key(&r.id));
        self.settled = kept;
        for mut record in late {
            record.error = None;
            record.state = RequestState::Accepted;
            self.records.insert(record.id.clone(), record);
        }
        self.found_landed(landed);
    }

    fn planned(&mut self, planned: Planned, requests: &[Request]) {
        let (plan, index) = planned.last_plan.unwrap_or_default();
        let sha = match planned.outcome {
            Ok(CommitOutcome::Committed { sha, .. }) => Some(sha),
            Ok(CommitOutcome::NoChange { .. }) => None,
            Err(e) => {
                // Git failed: every request of the batch failed with it; their retries run
                // them again (finding their commit, if it landed after all).
                let error = UseCaseError::from(e);
                self.failed = true;
                for request in requests {
                    if let Some(record) = self.take(&request.id) {
                        self.settle(record, RequestState::Failed, Some(error.clone()));
                    }
                }
                return;
            }
        };
        let size = plan.included() as u32;
        for (id, outcome) in plan.outcomes {
            let Some(mut record) = self.take(&id) else {
                continue;
            };
            match outcome {
                BatchOutcome::Included => {
                    record.commit = sha.clone();
                    record.batch_size = Some(size);
                    let state = if sha.is_some() {
                        RequestState::Committed
                    } else {
                        RequestState::NoChange
                    };
                    self.settle(record, state, None);
                }
                BatchOutcome::NoChange => self.settle(record, RequestState::NoChange, None),
                BatchOutcome::Refused(e) => {
                    let error = UseCaseError::from(e);
                    let state = if error.is_transient() {
                        RequestState::Failed
                    } else {
                        RequestState::Rejected
                    };
                    self.settle(record, state, Some(error));
                }
                // Stays pending for the next batch.
                BatchOutcome::Deferred => {}
            }
        }
        if sha.is_some() {
            for (tenant, update) in index {
                if let Some(record) = self.settled.iter().rev().find(|r| r.tenant == tenant) {
                    self.index.insert(tenant, (update, record.clone()));
                }
            }
        }
        self.commit = sha;
    }

    /// Writes the tenant index and every outcome; returns how many requests it settled. A
    /// failure leaves the lease unreleased, so the next holder finds on the branch what this
    /// one could not record.
    pub async fn record(self, app: &App) -> Result<usize, UseCaseError> {
        // Requests found landed after a holder died: their index from the tip, one read for
        // all. The batch's own entries, newer, replace them.
        let found: BTreeMap<TenantName, &RequestRecord> = self
            .settled
            .iter()
            .filter(|r| self.refresh.contains(&r.id))
            .filter_map(|r| Some((TenantName::parse("tenant", &r.tenant).ok()?, r)))
            .collect();
        let mut index: BTreeMap<String, (IndexUpdate, &RequestRecord)> = BTreeMap::new();
        if !found.is_empty() {
            let names: Vec<TenantName> = found.keys().cloned().collect();
            for (tenant, update) in index_at_tip(app, &names).await? {
                let record = found[&tenant];
                index.insert(tenant.to_string(), (update, record));
            }
        }
        for (tenant, (update, record)) in &self.index {
            index.insert(tenant.clone(), (update.clone(), record));
        }
        let (mut tenants, mut removed) = (Vec::new(), Vec::new());
        for (tenant, (update, record)) in index {
            match update {
                IndexUpdate::Put(spec, digest) => tenants.push(index_entry(spec, digest, record)),
                IndexUpdate::Remove => removed.push(tenant),
            }
        }
        app.store
            .record_batch(&self.settled, &tenants, &removed)
            .await?;
        for record in &self.settled {
            crate::revert::mark_reverted(app, record).await;
        }
        if self.failed {
            return Err(UseCaseError::unavailable(
                "git_unavailable",
                "the batch's commit failed; its requests are recorded failed",
            ));
        }
        Ok(self.settled.len())
    }
}

/// A stored payload back as the request it was.
fn decode(record: &RequestRecord) -> Result<Request, UseCaseError> {
    let payload = record.payload.as_deref().unwrap_or_default();
    serde_json::from_str(payload).map_err(|e| {
        UseCaseError::new(
            crate::ErrorKind::Invalid,
            "invalid",
            format!("the stored request could not be read back: {e}"),
        )
    })
}

/// Each tenant's index entry after the batch, from its `tenant.yaml` as the commit leaves it.
fn batch_index(
    requests: &[Request],
    batch: &BatchPlan,
    files: &RepoFiles,
) -> BTreeMap<String, IndexUpdate> {
    let included: BTreeSet<&str> = batch
        .outcomes
        .iter()
        .filter(|(_, o)| *o == BatchOutcome::Included)
        .map(|(id, _)| id.as_str())
        .collect();
    let mut index = BTreeMap::new();
    for request in requests.iter().filter(|r| included.contains(r.id.as_str())) {
        if let Some(update) = index_after(&request.tenant, files, &batch.change) {
            index.insert(request.tenant.to_string(), update);
        }
    }
    index
}
