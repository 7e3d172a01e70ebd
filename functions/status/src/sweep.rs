//! One sweep: Git's desired state, the cluster's objects, the store's digests, the requests in
//! flight and the due billing schedules, in that order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use berth_cluster::observe::wanted_slots;
use berth_cluster::{
    ApplicationState, ClusterConnector, Health, SlotKey, SlotStatus, observe, unknown_everywhere,
};
use berth_core::plan::load_catalog;
use berth_core::{TenantName, desired_state};
use berth_gitops::{GitError, Snapshot};
use berth_store::{
    ClusterHealth, Observation, ObservationKey, ObservationWrite, StatusRecord, StoreError,
};
use berth_usecases::App;
use berth_usecases::git_index::{GitIndex, IndexPass};
use berth_usecases::intake::github::{GithubApi, review_missed};
use berth_usecases::settings::{ConfigError, invalid};
use berth_usecases::time::{Clock, epoch_seconds_now, now_rfc3339};
use berth_usecases::write::timing::DEFAULT_CLAIM_LEASE;

use crate::fleet::{Environment, Fleet};
use crate::health::{fleet_health, mark_unreachable, same_health};
use crate::observations::observations;
pub use crate::report::{IndexReport, PhaseMillis, SweepReport};

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
) -> Result<Option<Duration>, ConfigError> {
    match var("BERTH_SYNC_TIMEOUT").filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(raw) => humantime::parse_duration(raw.trim())
            .map(Some)
            .map_err(|_| invalid("BERTH_SYNC_TIMEOUT", "must be a duration such as 30m or 2h")),
    }
}

/// What [`Sweeper::record_observations`] did.
struct DigestsDiffed {
    writes: usize,
    removes: usize,
    /// Spent learning the stored digests: the generation, and the index when not cached.
    millis: u128,
    cached: bool,
}

/// Sweeps with clients built once and reused by every sweep of a warm process.
pub struct Sweeper {
    pub(crate) app: App,
    /// How long an `accepted` request may be in flight before the sweep settles it.
    pub(crate) claim_lease: Duration,
    pub(crate) fleet: Fleet,
    page_size: u32,
    pub(crate) sync_timeout: Duration,
    /// The digests this process last read or wrote, with their generation: a warm sweeper
    /// reads them again only when another writer changed the generation since.
    digests: tokio::sync::Mutex<Option<KnownDigests>>,
    /// The tenant index as this process last reconciled it with Git.
    index: GitIndex,
    /// GitHub's API for the reviews of pull requests whose delivery failed; `None` without a
    /// GitHub credential.
    github: Option<GithubApi>,
    /// The time rollouts' soaks and deadlines are measured on.
    pub(crate) clock: Clock,
    /// The Argo CD setup as last listed, and when (listed again every few minutes).
    pub(crate) argocd: tokio::sync::Mutex<Option<(std::time::Instant, berth_store::ArgoSetup)>>,
}

/// The stored digests as of one observation generation.
struct KnownDigests {
    generation: String,
    digests: BTreeMap<ObservationKey, String>,
}

impl Sweeper {
    /// `cluster` is the hub, where Argo CD runs; `None` when no cluster is configured:
    /// statuses then read `unknown`. The catalog's clusters are read beside it, their tokens
    /// from the process environment.
    pub fn new(app: App, cluster: Option<Arc<ClusterConnector>>) -> Self {
        let environment: Environment = Arc::new(|name| std::env::var(name).ok());
        Self {
            app,
            claim_lease: DEFAULT_CLAIM_LEASE,
            fleet: Fleet::new(cluster, environment),
            page_size: DEFAULT_PAGE_SIZE,
            sync_timeout: DEFAULT_SYNC_TIMEOUT,
            digests: tokio::sync::Mutex::new(None),
            index: GitIndex::new(),
            github: None,
            clock: Clock::System,
            argocd: tokio::sync::Mutex::new(None),
        }
    }

    /// Measures rollouts' soaks and deadlines on `clock` (a test's manual clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
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

    /// Reads the catalog clusters' tokens through `environment` instead of the process's.
    pub fn with_environment(mut self, environment: Environment) -> Self {
        let hub = self.fleet.hub().cloned();
        self.fleet = Fleet::new(hub, environment);
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
        // A catalog that cannot be read places nothing: its tenants' problems are reported.
        let clusters = load_catalog(&snapshot.files)
            .map(|c| c.clusters)
            .unwrap_or_default();
        millis.git = clock.elapsed().as_millis();
        let revision = snapshot.tip.clone();
        let index = self.reconcile_index(snapshot, &read_at).await;
        millis.index = clock.elapsed().as_millis() - millis.git;
        for problem in &desired.problems {
            tracing::warn!(path = %problem.path, reason = %problem.reason, "tenant folder skipped");
        }
        let mut read = self.fleet.read(&clusters, self.page_size).await;
        millis.cluster = clock.elapsed().as_millis() - millis.git - millis.index;
        let now = now_rfc3339();
        // What the fleet's health says is taken before the objects are merged out of the read.
        let mut health = fleet_health(&read, self.fleet.has_hub(), &clusters, &desired, &now);
        health.argocd = self.argocd_setup(&now, read.hub.objects.is_ok()).await;
        let merged = read.merge();
        let (slots, kube_calls, cluster) = match &merged {
            Ok(objects) => {
                let mut slots = observe(&desired, objects);
                mark_unreachable(&mut slots, &desired, &read.unreachable());
                (slots, objects.calls, "ok".to_owned())
            }
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
            .record_observations(&slots, &now, merged.is_ok())
            .await?;
        millis.digests = diffed.millis;
        report.writes = diffed.writes;
        report.removes = diffed.removes;
        report.digests_cached = diffed.cached;
        if self.record_cluster_health(health).await? {
            report.writes += 1;
        }
        millis.store = clock.elapsed().as_millis() - millis.git - millis.index - millis.cluster;
        let cluster_read = merged.as_ref().ok();
        report.requests_advanced = self
            .advance_requests(
                &desired,
                &slots,
                cluster_read,
                &report.revision,
                None,
                &mut report.flow,
            )
            .await?;
        report.moves_finished = self.finish_moves(&desired, cluster_read).await;
        report.rollouts = self
            .step_rollouts(&slots, merged.as_ref().err().cloned())
            .await?
            .into_iter()
            .map(|(id, stepped)| format!("{id}: {stepped:?}"))
            .collect();
        report.scheduled_carried_out =
            berth_usecases::schedules::carry_out_due(&self.app, epoch_seconds_now()).await?;
        report.pulls_reviewed = self.review_missed_pulls().await;
        millis.requests =
            clock.elapsed().as_millis() - millis.git - millis.index - millis.cluster - millis.store;
        report.millis = millis;
        crate::metrics::emit_sweep(&self.app.metrics, &report, clock.elapsed());
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

    /// Moves `tenant`'s open requests, and the rollouts whose newest wave waits on it, from
    /// the statuses in the store, without reading the cluster: what follows an Argo CD
    /// notification where the cluster is out of reach (the webhook Lambda). Returns how many
    /// moved.
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
        let requests = self
            .advance_requests(
                &desired,
                &slots,
                None,
                &snapshot.tip,
                Some(tenant),
                &mut Default::default(),
            )
            .await?;
        let rollouts = self.step_rollouts_for(tenant, &slots).await?;
        Ok(requests + rollouts)
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
            .write_observations(ObservationWrite {
                puts: &puts,
                removes: &removes,
                seen: generation.as_deref(),
            })
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
    /// Writes the fleet's health when it changed, or when the stored one is older than
    /// [`HEALTH_REFRESH`]: its time then says when a sweep last ran, at one write per interval.
    async fn record_cluster_health(&self, health: ClusterHealth) -> Result<bool, StoreError> {
        let stored = self.app.store.get_cluster_health().await?;
        if stored.is_some_and(|old| same_health(&old, &health)) {
            return Ok(false);
        }
        self.app.store.put_cluster_health(&health).await?;
        Ok(true)
    }
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
        assert!(err.to_string().starts_with("BERTH_SYNC_TIMEOUT"), "{err}");
    }
}
