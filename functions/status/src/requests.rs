//! The sweep's part in each request's life: moving open requests on from what Git and the
//! cluster show, following Berth's pull requests, and settling requests whose run was
//! interrupted and that no retry came for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use berth_cluster::{ClusterObjects, SlotStatus};
use berth_core::DesiredState;
use berth_gitops::GitError;
use berth_store::{RequestRecord, RequestState};
use berth_usecases::pull_request::follow;
use berth_usecases::time::now_rfc3339;
use berth_usecases::write::settle::{Interrupted, mark_interrupted, settle_interrupted};

use crate::lifecycle::{Evidence, advance};
use crate::report::RequestFlow;
use crate::sweep::{SweepError, Sweeper};

impl Sweeper {
    /// Moves every open request as far as this sweep's evidence allows; returns how many moved.
    pub(crate) async fn advance_requests(
        &self,
        desired: &DesiredState,
        slots: &[SlotStatus],
        cluster: Option<&ClusterObjects>,
        tip: &str,
        only_tenant: Option<&str>,
        flow: &mut RequestFlow,
    ) -> Result<usize, SweepError> {
        let mut open = self.app.store.list_open_requests().await?;
        if let Some(tenant) = only_tenant {
            open.retain(|r| r.tenant == tenant);
        }
        flow.found(&open);
        let (unfinished, mut open): (Vec<_>, Vec<_>) = open
            .into_iter()
            .partition(|r| r.state == RequestState::Accepted);
        let followed = self.follow_pull_requests(&mut open).await?;
        // Left to the scheduled sweep: the webhook's refresh of one tenant stays quick, and
        // settling may rewrite the tenant index, which that function has no right to.
        let settled = match only_tenant {
            None => self.settle_unfinished(unfinished).await?,
            Some(_) => 0,
        };
        if open.is_empty() {
            return Ok(settled + followed);
        }
        let mut by_tenant: HashMap<&str, Vec<&SlotStatus>> = HashMap::new();
        let mut running: BTreeSet<&str> = BTreeSet::new();
        for slot in slots {
            if desired.wants(&slot.key.tenant, &slot.key.env, slot.key.module.as_deref()) {
                by_tenant
                    .entry(slot.key.tenant.as_str())
                    .or_default()
                    .push(slot);
            }
            if slot.application.is_some() || slot.desired > 0 || slot.ready > 0 {
                running.insert(slot.key.tenant.as_str());
            }
        }
        let answers = self.ancestry(&open, &by_tenant, tip).await?;
        let mut moved = 0;
        for mut record in open {
            let Some(commit) = record.commit.clone() else {
                continue;
            };
            let contains = |revision: &str| {
                answers
                    .get(&(commit.clone(), revision.to_owned()))
                    .copied()
                    .unwrap_or(false)
            };
            let evidence = Evidence {
                slots: by_tenant
                    .get(record.tenant.as_str())
                    .cloned()
                    .unwrap_or_default(),
                // Without a cluster read, nobody can say the tenant is gone.
                cluster_runs_tenant: cluster.is_none() || running.contains(record.tenant.as_str()),
                merged: contains(tip),
                contains: &contains,
                waited: waited_since_update(&record),
                sync_timeout: self.sync_timeout,
            };
            if let Some((state, error)) = advance(&record, &evidence) {
                tracing::info!(request_id = %record.id, from = ?record.state, to = ?state, "request moved");
                flow.moved(&record, state);
                record.state = state;
                record.error = error;
                record.updated_at = now_rfc3339();
                self.app.store.put_request(&record).await?;
                moved += 1;
            }
        }
        Ok(settled + followed + moved)
    }

    /// Moves the requests whose pull request was merged or closed, read from GitHub in one
    /// query: its webhooks are not redelivered, so a missed one would leave them waiting.
    /// Merged requests stay in `open` for this sweep to judge their sync; failed ones leave it.
    async fn follow_pull_requests(
        &self,
        open: &mut Vec<RequestRecord>,
    ) -> Result<usize, SweepError> {
        let Some(pulls) = &self.app.pulls else {
            return Ok(0);
        };
        let waiting: Vec<usize> = (0..open.len())
            .filter(|&i| open[i].state == RequestState::PrOpened && open[i].pr_number.is_some())
            .collect();
        if waiting.is_empty() {
            return Ok(0);
        }
        let numbers: Vec<u64> = waiting.iter().filter_map(|&i| open[i].pr_number).collect();
        // GitHub being unreachable must not stop the sweep: the next one asks again.
        let states = match pulls.states(&numbers).await {
            Ok(states) => states,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the state of Berth's pull requests");
                return Ok(0);
            }
        };
        let mut moved = 0;
        for (&i, pull) in waiting.iter().zip(&states) {
            let record = &mut open[i];
            if follow(record, pull) {
                tracing::info!(request_id = %record.id, to = ?record.state, "pull request closed; its webhook was missed");
                self.app.store.put_request(record).await?;
                moved += 1;
            }
        }
        open.retain(|r| r.state != RequestState::Failed);
        Ok(moved)
    }

    /// Settles the requests left `accepted` for longer than a claim's lease: whatever ran them
    /// crashed or was killed before recording an outcome, and no retry came to settle them.
    /// Their trailer on the branch (or on their pull-request branch) says they committed;
    /// without one they failed as `interrupted`, and a retry runs them again.
    pub(crate) async fn settle_unfinished(
        &self,
        records: Vec<RequestRecord>,
    ) -> Result<usize, SweepError> {
        let mut settled = 0;
        for record in records {
            if waited_since_update(&record) < self.claim_lease {
                continue; // still within its lease: its holder may be running it
            }
            let id = record.id.clone();
            match settle_interrupted(&self.app, record, None).await? {
                Interrupted::Landed(landed) => {
                    landed.record(&self.app).await.map_err(|u| u.error)?;
                }
                // Recorded `failed` already; a retry of the request opens it.
                Interrupted::PullRequestFailed(u) => {
                    tracing::warn!(request_id = %id, error = %u.error.message, "could not open the pull request");
                }
                Interrupted::NotLanded(mut record) => {
                    mark_interrupted(&mut record);
                    self.app.store.put_request(&record).await?;
                }
            }
            tracing::info!(request_id = %id, "unfinished request settled");
            settled += 1;
        }
        Ok(settled)
    }

    /// One batched ancestry check for every (commit, revision) pair the open requests need.
    async fn ancestry(
        &self,
        open: &[RequestRecord],
        by_tenant: &HashMap<&str, Vec<&SlotStatus>>,
        tip: &str,
    ) -> Result<BTreeMap<(String, String), bool>, GitError> {
        let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
        for record in open {
            let Some(commit) = &record.commit else {
                continue;
            };
            pairs.insert((commit.clone(), tip.to_owned()));
            for slot in by_tenant.get(record.tenant.as_str()).into_iter().flatten() {
                let app = slot.application.iter();
                for revision in app
                    .flat_map(|a| [&a.revision, &a.operation_revision])
                    .flatten()
                {
                    pairs.insert((commit.clone(), revision.clone()));
                }
            }
        }
        let pairs: Vec<_> = pairs.into_iter().collect();
        let answers = self.app.committer.contains(pairs.clone()).await?;
        Ok(pairs.into_iter().zip(answers).collect())
    }
}

/// How long ago `record` last changed.
fn waited_since_update(record: &RequestRecord) -> Duration {
    humantime::parse_rfc3339(&record.updated_at)
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .unwrap_or_default()
}
