//! One sweep: Git's desired state, the cluster's objects, the store's digests, the requests in
//! flight and the due billing schedules, in that order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use berth_cluster::observe::wanted_slots;
use berth_cluster::{
    ApplicationState, ClusterConnector, ClusterError, ClusterObjects, ClusterReader, Health,
    SlotKey, SlotStatus, observe, unknown_everywhere,
};
use berth_core::{DesiredState, TenantName, desired_state};
use berth_gitops::{GitError, Snapshot};
use berth_store::{
    ClusterHealth, Observation, ObservationKey, RequestRecord, RequestState, StatusRecord,
    StoreError,
};
use berth_usecases::App;
use berth_usecases::git_index::{GitIndex, IndexPass};
use berth_usecases::intake::github::{GithubApi, review_missed};
use berth_usecases::pull_request::follow;
use berth_usecases::time::{epoch_seconds_now, now_rfc3339};
use berth_usecases::write::settle::{Interrupted, mark_interrupted, settle_interrupted};
use berth_usecases::write::timing::DEFAULT_CLAIM_LEASE;
use serde::Serialize;

use crate::lifecycle::{Evidence, advance};
use crate::observations::observations;

/// Objects per list page: large pages, few calls, bounded memory per page.
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// How long a committed request may wait for Argo CD before it is failed.
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("reading the desired state from Git: {0}")]
    Git(#[from] GitError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    UseCase(#[from] berth_usecases::UseCaseError),
}

/// `BERTH_SYNC_TIMEOUT` (a duration such as `30m` or `2h`), when set.
pub fn sync_timeout_from_env(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, String> {
    match var("BERTH_SYNC_TIMEOUT").filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(raw) => humantime::parse_duration(raw.trim())
            .map(Some)
            .map_err(|_| "BERTH_SYNC_TIMEOUT: must be a duration such as 30m or 2h".to_owned()),
    }
}

/// What one sweep did: printed by the binary and by `scripts/bench status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    /// The commit the desired state was read at.
    pub revision: String,
    pub tenants: usize,
    pub slots: usize,
    /// `ok`, or why the cluster could not be read.
    pub cluster: String,
    pub kube_calls: u32,
    /// Items written and removed in the store (status, tenant health, cluster health).
    pub writes: usize,
    pub removes: usize,
    /// Requests moved on, including those left `accepted` by a crash and settled now.
    pub requests_advanced: usize,
    /// Requests that waited for a group commit (their callers gave up waiting) and that this
    /// sweep committed or otherwise settled as the commit lease's holder.
    pub pending_settled: usize,
    pub scheduled_carried_out: usize,
    /// People's pull requests whose review was missed (their delivery failed), reviewed now.
    pub pulls_reviewed: usize,
    /// The digests diffed against were this process's own, confirmed current by the
    /// observation generation alone (a warm sweeper), rather than read from the store.
    pub digests_cached: bool,
    /// Tenant folders Git holds that could not be read.
    pub problems: Vec<String>,
    /// What reconciling the tenant index with Git did.
    pub index: IndexReport,
    /// Milliseconds spent reading Git, reconciling the tenant index, reading the cluster,
    /// diffing and writing the store, and moving requests (with due schedules).
    pub millis: PhaseMillis,
}

/// A pass of the tenant index over Git, or why it failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexReport {
    #[serde(flatten)]
    pub pass: IndexPass,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What [`Sweeper::record_observations`] did.
struct DigestsDiffed {
    writes: usize,
    removes: usize,
    /// Spent learning the stored digests: the generation, and the index when not cached.
    millis: u128,
    cached: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseMillis {
    pub git: u128,
    /// Bringing the tenant index in line with Git (reads and writes of the index included).
    pub index: u128,
    pub cluster: u128,
    /// Learning the stored digests (included in `store`).
    pub digests: u128,
    pub store: u128,
    pub requests: u128,
}

/// Sweeps with clients built once and reused by every sweep of a warm process.
pub struct Sweeper {
    app: App,
    /// How long an `accepted` request may be in flight before the sweep settles it.
    claim_lease: Duration,
    cluster: Option<Arc<ClusterConnector>>,
    page_size: u32,
    sync_timeout: Duration,
    /// The digests this process last read or wrote, with their generation: a warm sweeper
    /// reads them again only when another writer changed the generation since.
    digests: tokio::sync::Mutex<Option<KnownDigests>>,
    /// The tenant index as this process last reconciled it with Git.
    index: GitIndex,
    /// GitHub's API for the reviews of pull requests whose delivery failed; `None` without a
    /// GitHub credential.
    github: Option<GithubApi>,
}

/// The stored digests as of one observation generation.
struct KnownDigests {
    generation: String,
    digests: BTreeMap<ObservationKey, String>,
}

/// What the cluster said, or why it said nothing.
struct ClusterRead {
    objects: Result<ClusterObjects, String>,
    version: Option<String>,
}

impl Sweeper {
    /// `cluster` is `None` when no cluster is configured: statuses then read `unknown`.
    pub fn new(app: App, cluster: Option<Arc<ClusterConnector>>) -> Self {
        Self {
            app,
            claim_lease: DEFAULT_CLAIM_LEASE,
            cluster,
            page_size: DEFAULT_PAGE_SIZE,
            sync_timeout: DEFAULT_SYNC_TIMEOUT,
            digests: tokio::sync::Mutex::new(None),
            index: GitIndex::new(),
            github: None,
        }
    }

    /// The API's claim lease: a request younger than it may still be running.
    pub fn with_claim_lease(mut self, claim_lease: Duration) -> Self {
        self.claim_lease = claim_lease;
        self
    }

    pub fn with_sync_timeout(mut self, sync_timeout: Duration) -> Self {
        self.sync_timeout = sync_timeout;
        self
    }

    /// Reviews the pull requests whose review was missed, through `api`.
    pub fn with_github_api(mut self, api: GithubApi) -> Self {
        self.github = Some(api);
        self
    }

    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    pub async fn sweep(&self) -> Result<SweepReport, SweepError> {
        let clock = std::time::Instant::now();
        let mut millis = PhaseMillis::default();
        // First, so the desired state read next already holds what waited.
        let pending_settled = self.commit_pending().await;
        // Before the read: an index entry written after it may be newer than these files.
        let read_at = now_rfc3339();
        let snapshot = self.app.committer.read(vec!["tenants/".into()]).await?;
        let desired = desired_state(&snapshot.files);
        millis.git = clock.elapsed().as_millis();
        let revision = snapshot.tip.clone();
        let index = self.reconcile_index(snapshot, &read_at).await;
        millis.index = clock.elapsed().as_millis() - millis.git;
        for problem in &desired.problems {
            tracing::warn!(path = %problem.path, reason = %problem.reason, "tenant folder skipped");
        }
        let read = self.read_cluster().await;
        millis.cluster = clock.elapsed().as_millis() - millis.git - millis.index;
        let now = now_rfc3339();
        let (slots, kube_calls, cluster) = match &read.objects {
            Ok(objects) => (observe(&desired, objects), objects.calls, "ok".to_owned()),
            Err(reason) => (unknown_everywhere(&desired, reason), 0, reason.clone()),
        };
        let mut report = SweepReport {
            revision,
            index,
            tenants: desired.tenants.len(),
            slots: slots.len(),
            cluster,
            kube_calls,
            problems: desired
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.reason))
                .collect(),
            pending_settled,
            ..Default::default()
        };
        // Leftovers are only known to be gone when the cluster was read.
        let diffed = self
            .record_observations(&slots, &now, read.objects.is_ok())
            .await?;
        millis.digests = diffed.millis;
        report.writes = diffed.writes;
        report.removes = diffed.removes;
        report.digests_cached = diffed.cached;
        if self.record_cluster_health(&read, &now).await? {
            report.writes += 1;
        }
        millis.store = clock.elapsed().as_millis() - millis.git - millis.index - millis.cluster;
        let cluster_read = read.objects.as_ref().ok();
        report.requests_advanced = self
            .advance_requests(&desired, &slots, cluster_read, &report.revision, None)
            .await?;
        report.scheduled_carried_out =
            berth_usecases::schedules::carry_out_due(&self.app, epoch_seconds_now()).await?;
        report.pulls_reviewed = self.review_missed_pulls().await;
        millis.requests =
            clock.elapsed().as_millis() - millis.git - millis.index - millis.cluster - millis.store;
        report.millis = millis;
        Ok(report)
    }

    /// Brings the tenant index in line with the `tenants/` tree just read. A failure is logged
    /// and reported, never fatal: the statuses still matter, and the next sweep tries again.
    async fn reconcile_index(&self, snapshot: Snapshot, read_at: &str) -> IndexReport {
        match self
            .index
            .reconcile(&self.app, &snapshot.tip, snapshot.files, read_at)
            .await
        {
            Ok(pass) => IndexReport { pass, error: None },
            Err(e) => {
                tracing::warn!(error = %e.message, "could not bring the tenant index in line with Git");
                IndexReport {
                    pass: IndexPass::default(),
                    error: Some(e.message),
                }
            }
        }
    }

    /// Reviews the open pull requests whose delivery failed; GitHub being unreachable must not
    /// stop the sweep: the next one asks again.
    async fn review_missed_pulls(&self) -> usize {
        let Some(api) = &self.github else {
            return 0;
        };
        match review_missed(&self.app, api).await {
            Ok(reviewed) => reviewed,
            Err(e) => {
                tracing::warn!(error = %e.message, "could not look for pull requests whose review was missed");
                0
            }
        }
    }

    /// Moves `tenant`'s open requests from the statuses in the store, without reading the
    /// cluster: what follows an Argo CD notification where the cluster is out of reach (the
    /// webhook Lambda). Returns how many moved.
    pub async fn advance_tenant(&self, tenant: &str) -> Result<usize, SweepError> {
        let Ok(name) = TenantName::parse("tenant", tenant) else {
            return Ok(0);
        };
        let snapshot = self
            .app
            .committer
            .read(vec![berth_core::paths::tenant_dir(&name)])
            .await?;
        let desired = desired_state(&snapshot.files);
        let mut stored: HashMap<SlotKey, StatusRecord> = self
            .app
            .store
            .list_statuses(tenant)
            .await?
            .into_iter()
            .map(|r| (slot_key(&r), r))
            .collect();
        let slots: Vec<SlotStatus> = wanted_slots(&desired)
            .into_iter()
            .map(|key| match stored.remove(&key) {
                Some(record) => slot_from_record(key, record),
                None => SlotStatus::unobserved(key, Health::Missing, "no status recorded yet"),
            })
            .collect();
        self.advance_requests(&desired, &slots, None, &snapshot.tip, Some(tenant))
            .await
    }

    /// Commits the requests that still wait for a group commit (their callers stopped waiting)
    /// when nobody holds the commit lease. A failure is logged: the next sweep tries again.
    async fn commit_pending(&self) -> usize {
        let Some(group) = &self.app.group_commit else {
            return 0;
        };
        let until = tokio::time::Instant::now() + group.wait;
        match berth_usecases::write::group_commit::drain(&self.app, group, until).await {
            Ok(settled) => settled,
            Err(e) => {
                tracing::warn!(error = %e.message, "could not commit the requests waiting for a group commit");
                0
            }
        }
    }

    async fn read_cluster(&self) -> ClusterRead {
        let Some(connector) = &self.cluster else {
            return ClusterRead {
                objects: Err("no cluster is configured (no BERTH_KUBE_SERVER, KUBECONFIG or in-cluster service account)".into()),
                version: None,
            };
        };
        let result: Result<(ClusterObjects, String), ClusterError> = async {
            let client = connector.client().await?;
            let version = client
                .apiserver_version()
                .await
                .map_err(|e| ClusterError::Unreachable(e.to_string()))?;
            let objects = ClusterReader::new(client, self.page_size)
                .read_all()
                .await?;
            Ok((objects, version.git_version))
        }
        .await;
        match result {
            Ok((objects, version)) => ClusterRead {
                objects: Ok(objects),
                version: Some(version),
            },
            Err(e) => {
                tracing::warn!(error = %e, "the cluster could not be read; statuses are unknown");
                ClusterRead {
                    objects: Err(e.to_string()),
                    version: None,
                }
            }
        }
    }

    /// Writes the observations whose digest changed; removes stored ones nothing reports any
    /// more (when `complete`).
    async fn record_observations(
        &self,
        slots: &[SlotStatus],
        now: &str,
        complete: bool,
    ) -> Result<DigestsDiffed, StoreError> {
        let clock = std::time::Instant::now();
        // Held for the whole diff and write: two sweeps of one process never interleave here.
        let mut known = self.digests.lock().await;
        let generation = self.app.store.observation_generation().await?;
        // Taken out: a failure below leaves no cache, and the next sweep reads afresh.
        let (mut stored, cached) = match known.take() {
            Some(k) if generation.as_deref() == Some(k.generation.as_str()) => (k.digests, true),
            _ => (self.app.store.observation_digests().await?, false),
        };
        let millis = clock.elapsed().as_millis();
        let fresh = observations(slots, now);
        let keys: BTreeSet<_> = fresh.iter().map(Observation::key).collect();
        let puts: Vec<Observation> = fresh
            .into_iter()
            .filter(|o| stored.get(&o.key()).map(String::as_str) != Some(o.digest()))
            .collect();
        let removes: Vec<_> = if complete {
            stored
                .keys()
                .filter(|k| !keys.contains(*k))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let diffed = DigestsDiffed {
            writes: puts.len(),
            removes: removes.len(),
            millis,
            cached,
        };
        if puts.is_empty() && removes.is_empty() {
            *known = generation.map(|generation| KnownDigests {
                generation,
                digests: stored,
            });
            return Ok(diffed);
        }
        let written = self
            .app
            .store
            .write_observations(&puts, &removes, generation.as_deref())
            .await?;
        // Another writer's items may be missing from ours: then the next sweep reads afresh.
        if written.sole_writer {
            for key in &removes {
                stored.remove(key);
            }
            for put in puts {
                stored.insert(put.key(), put.digest().to_owned());
            }
            *known = Some(KnownDigests {
                generation: written.generation,
                digests: stored,
            });
        }
        Ok(diffed)
    }

    /// Records whether the cluster answered, when that changed; returns whether it wrote.
    async fn record_cluster_health(
        &self,
        read: &ClusterRead,
        now: &str,
    ) -> Result<bool, StoreError> {
        let status = match (&read.objects, &self.cluster) {
            (Ok(_), _) => "ok",
            // A fact about the deployment, not an outage: the API answers it with 200.
            (Err(_), None) => "not_configured",
            (Err(_), Some(_)) => "error",
        };
        let health = ClusterHealth {
            status: status.into(),
            version: read.version.clone(),
            message: read.objects.as_ref().err().cloned(),
            observed_at: now.to_owned(),
        };
        let same = |old: &ClusterHealth| {
            (&old.status, &old.version, &old.message)
                == (&health.status, &health.version, &health.message)
        };
        if self
            .app
            .store
            .get_cluster_health()
            .await?
            .as_ref()
            .is_some_and(same)
        {
            return Ok(false);
        }
        self.app.store.put_cluster_health(&health).await?;
        Ok(true)
    }

    /// Moves every open request as far as this sweep's evidence allows; returns how many moved.
    async fn advance_requests(
        &self,
        desired: &DesiredState,
        slots: &[SlotStatus],
        cluster: Option<&ClusterObjects>,
        tip: &str,
        only_tenant: Option<&str>,
    ) -> Result<usize, SweepError> {
        let mut open = self.app.store.list_open_requests().await?;
        if let Some(tenant) = only_tenant {
            open.retain(|r| r.tenant == tenant);
        }
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
    async fn settle_unfinished(&self, records: Vec<RequestRecord>) -> Result<usize, SweepError> {
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

fn slot_key(record: &StatusRecord) -> SlotKey {
    SlotKey {
        tenant: record.tenant.clone(),
        env: record.env.clone(),
        module: record.module.clone(),
    }
}

/// A stored status as the lifecycle reads it: the Application as last recorded.
fn slot_from_record(key: SlotKey, record: StatusRecord) -> SlotStatus {
    let application =
        (record.sync.is_some() || record.revision.is_some()).then(|| ApplicationState {
            health: Some(record.health.clone()),
            sync: record.sync,
            revision: record.revision,
            ..Default::default()
        });
    SlotStatus {
        key,
        health: Health::parse(&record.health),
        ready: i32::try_from(record.ready).unwrap_or(i32::MAX),
        desired: i32::try_from(record.desired).unwrap_or(i32::MAX),
        application,
        urls: record.urls,
        reason: record.reason.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_timeout_is_a_duration_or_a_clear_error() {
        let env = |value: &'static str| {
            move |k: &str| (k == "BERTH_SYNC_TIMEOUT").then(|| value.to_owned())
        };
        assert_eq!(sync_timeout_from_env(env("")), Ok(None));
        assert_eq!(
            sync_timeout_from_env(env("2h")),
            Ok(Some(Duration::from_secs(7200)))
        );
        assert_eq!(
            sync_timeout_from_env(env(" 30m ")),
            Ok(Some(Duration::from_secs(1800)))
        );
        let err = sync_timeout_from_env(env("soon")).unwrap_err();
        assert!(err.starts_with("BERTH_SYNC_TIMEOUT"), "{err}");
    }
}
