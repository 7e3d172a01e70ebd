//! One batch: its plan against the tip, its commit, and the records and tenant index it
//! leaves.

use std::collections::{BTreeMap, BTreeSet};

use berth_core::batch::{BatchOutcome, BatchPlan};
use berth_core::upstream::ChartWant;
use berth_core::{RepoFiles, Request, TenantName};
use berth_gitops::CommitOutcome;
use berth_store::{BatchRecords, RequestRecord, RequestState};

use crate::app::App;
use crate::error::{ErrorCode, UseCaseError};
use crate::time::now_rfc3339;
use crate::write::tenant_index::{IndexUpdate, index_after, index_at_tip, index_entry};

/// What one commit attempt left: the committer's outcome and the plan of its last attempt.
pub(super) struct Planned {
    pub(super) outcome: Result<CommitOutcome, berth_gitops::CommitError>,
    pub(super) last_plan: Option<(BatchPlan, BTreeMap<String, IndexUpdate>)>,
}

/// A batch whose Git outcome is known, with the records and the tenant index to write.
#[derive(Debug, Default)]
pub struct Batch {
    /// Pending records by id; those given an outcome are moved to `settled`.
    pub(super) records: BTreeMap<String, RequestRecord>,
    settled: Vec<RequestRecord>,
    index: BTreeMap<String, (IndexUpdate, RequestRecord)>,
    /// Requests found landed by a holder that died, whose tenant index is read at the tip.
    refresh: Vec<String>,
    /// The commit the batch landed in, if it committed anything.
    pub commit: Option<String>,
    /// Git failed the commit: it may still have landed, so the holder stops and leaves the
    /// lease unreleased for the next one to check.
    failed: bool,
    /// Requests left pending until the chart reads their plan asked for are done.
    pub(super) chart_waits: Vec<(String, Vec<ChartWant>)>,
}

impl Batch {
    pub(super) fn settle(
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

    /// Reads the charts the waiting requests asked for; a request whose read fails is settled
    /// with that failure (503 to retry, or refused), the others plan in the next batch.
    pub(super) async fn fetch_charts(&mut self, app: &App) {
        for (id, wants) in std::mem::take(&mut self.chart_waits) {
            let Err(e) = app.charts.fetch(&wants).await else {
                continue;
            };
            let error = UseCaseError::from(e);
            if let Some(record) = self.take(&id) {
                let state = if error.is_transient() {
                    RequestState::Failed
                } else {
                    RequestState::Rejected
                };
                self.settle(record, state, Some(error));
            }
        }
    }

    pub(super) fn take(&mut self, id: &str) -> Option<RequestRecord> {
        self.records.remove(id)
    }

    /// Requests a holder that died had committed: committed, with their commit.
    pub(super) fn found_landed(&mut self, landed: BTreeMap<String, String>) {
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
    pub(super) fn unlanded(&self) -> Vec<String> {
        self.settled
            .iter()
            .filter(|r| matches!(r.state, RequestState::Rejected | RequestState::NoChange))
            .map(|r| r.id.clone())
            .collect()
    }

    /// Among the requests settled as refused or unchanged, those whose trailer is on the branch
    /// after all: committed there.
    pub(super) fn found_landed_late(&mut self, landed: BTreeMap<String, String>) {
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

    pub(super) fn planned(&mut self, planned: Planned, requests: &[Request]) {
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
            if matches!(
                outcome,
                BatchOutcome::Deferred | BatchOutcome::NeedsCharts(_)
            ) {
                if let BatchOutcome::NeedsCharts(wants) = outcome {
                    self.chart_waits.push((id, wants));
                }
                continue;
            }
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
                BatchOutcome::Deferred | BatchOutcome::NeedsCharts(_) => {}
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
                IndexUpdate::Put(spec, digest) => tenants.push(index_entry(*spec, digest, record)),
                IndexUpdate::Remove => removed.push(tenant),
            }
        }
        app.store
            .record_batch(BatchRecords {
                requests: &self.settled,
                tenants: &tenants,
                removed_tenants: &removed,
            })
            .await?;
        for record in &self.settled {
            crate::revert::mark_reverted(app, record).await;
        }
        if self.failed {
            return Err(UseCaseError::unavailable(
                ErrorCode::GitUnavailable,
                "the batch's commit failed; its requests are recorded failed",
            ));
        }
        Ok(self.settled.len())
    }
}

/// A stored payload back as the request it was.
pub(super) fn decode(record: &RequestRecord) -> Result<Request, UseCaseError> {
    let payload = record.payload.as_deref().unwrap_or_default();
    serde_json::from_str(payload).map_err(|e| {
        UseCaseError::new(
            crate::ErrorKind::Invalid,
            ErrorCode::Invalid,
            format!("the stored request could not be read back: {e}"),
        )
    })
}

/// Each tenant's index entry after the batch, from its `tenant.yaml` as the commit leaves it.
pub(super) fn batch_index(
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
