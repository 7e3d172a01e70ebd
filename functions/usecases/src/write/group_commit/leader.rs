//! The holder of the commit lease: batch after batch while requests wait and time allows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use berth_core::batch::{BatchPlan, plan_batch};
use berth_core::plan::request_reads;
use berth_core::{RepoFiles, Request};
use berth_gitops::{CommitRequest, Target};
use berth_store::{RequestRecord, RequestState};
use tokio::time::Instant;

use super::batch::{Batch, Planned, batch_index, decode};
use super::config::{BATCH_HEADROOM, GroupCommit};
use crate::app::App;
use crate::error::UseCaseError;
use crate::write::tenant_index::IndexUpdate;

/// The holder of the commit lease, for the time it holds it.
pub struct Leader<'a> {
    app: &'a App,
    group: &'a GroupCommit,
    /// The last holder did not release the lease: look for the trailers of the next batch on
    /// the branch before committing it.
    check_branch: bool,
    /// Requests given an outcome so far.
    pub(super) settled: usize,
    /// When it took the lease: chart indexes read since are used whatever their TTL.
    started: Instant,
}

impl<'a> Leader<'a> {
    pub fn new(app: &'a App, group: &'a GroupCommit, check_branch: bool) -> Self {
        Self {
            app,
            group,
            check_branch,
            settled: 0,
            started: Instant::now(),
        }
    }

    /// Commits batches while requests wait and at least one batch's time is left before `until`.
    pub(super) async fn lead(&mut self, until: Instant) -> Result<(), UseCaseError> {
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
        self.app
            .metrics
            .emit(crate::metrics::MetricEvent::new().count("GroupCommitBatchSize", requests.len()));
        batch.planned(planned, &requests);
        batch.fetch_charts(self.app).await;
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
        let reads: BTreeSet<String> = requests.iter().flat_map(request_reads).collect();
        let slot = Arc::new(Mutex::new(
            None::<(BatchPlan, BTreeMap<String, IndexUpdate>)>,
        ));
        let charts = self.app.charts.shelf_since(self.started);
        let plan = {
            let (requests, slot, limits) =
                (requests.to_vec(), Arc::clone(&slot), self.group.limits);
            move |files: &RepoFiles| {
                let started = std::time::Instant::now();
                let batch = plan_batch(&requests, files, limits, &charts);
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
