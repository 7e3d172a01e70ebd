//! The sweep's part in fleet rollouts: each tenant of a rollout's newest wave judged for the
//! wave's own commit from this sweep's slots, by the request lifecycle's own rules (synced to a
//! revision containing the commit, healthy after it, workloads ready), and the rollouts stepped
//! on from there. Reads only the wave's tenants: a tick costs O(wave), never O(fleet).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use berth_cluster::{Health, SlotStatus};
use berth_store::{PlannedTenant, RequestRecord, RequestState};
use berth_usecases::UseCaseError;
use berth_usecases::rollouts::step::{
    FleetHealth, StepScope, Stepped, TenantHealth, step_rollout, step_rollouts,
};

use crate::lifecycle::{Evidence, advance};
use crate::sweep::{SweepError, Sweeper};

/// The slots of one sweep, by tenant, as the rollout step asks about them.
pub(crate) struct SweepHealth<'a> {
    pub(crate) sweeper: &'a Sweeper,
    pub(crate) by_tenant: HashMap<&'a str, Vec<&'a SlotStatus>>,
    /// Why the cluster could not be read at all, when it could not.
    pub(crate) unreadable: Option<String>,
}

impl<'a> SweepHealth<'a> {
    pub(crate) fn new(
        sweeper: &'a Sweeper,
        slots: &'a [SlotStatus],
        unreadable: Option<String>,
    ) -> Self {
        let mut by_tenant: HashMap<&str, Vec<&SlotStatus>> = HashMap::new();
        for slot in slots {
            by_tenant
                .entry(slot.key.tenant.as_str())
                .or_default()
                .push(slot);
        }
        Self {
            sweeper,
            by_tenant,
            unreadable,
        }
    }

    /// The slots of the wave's envs of `tenant`.
    fn slots_of(&self, tenant: &PlannedTenant) -> Vec<&'a SlotStatus> {
        self.by_tenant
            .get(tenant.tenant.as_str())
            .into_iter()
            .flatten()
            .filter(|s| tenant.envs.contains(&s.key.env))
            .copied()
            .collect()
    }
}

#[async_trait]
impl FleetHealth for SweepHealth<'_> {
    async fn health(
        &self,
        tenants: &[PlannedTenant],
        commit: &str,
    ) -> Result<Vec<TenantHealth>, UseCaseError> {
        if let Some(reason) = &self.unreadable {
            let unknown = TenantHealth::Unknown(format!("the cluster could not be read: {reason}"));
            return Ok(vec![unknown; tenants.len()]);
        }
        let revisions: BTreeSet<String> = tenants
            .iter()
            .flat_map(|t| self.slots_of(t))
            .filter_map(|s| s.application.as_ref())
            .flat_map(|a| [&a.revision, &a.operation_revision])
            .flatten()
            .cloned()
            .collect();
        let pairs: Vec<(String, String)> = revisions
            .into_iter()
            .map(|r| (commit.to_owned(), r))
            .collect();
        let answers = self.sweeper.app.committer.contains(pairs.clone()).await?;
        let contains: BTreeMap<String, bool> =
            pairs.into_iter().map(|(_, r)| r).zip(answers).collect();
        let contains = |revision: &str| contains.get(revision).copied().unwrap_or(false);
        Ok(tenants
            .iter()
            .map(|t| tenant_health(&self.slots_of(t), commit, &contains))
            .collect())
    }

    fn degraded(&self, tenants: &[PlannedTenant]) -> Vec<String> {
        tenants
            .iter()
            .filter(|t| {
                self.slots_of(t).iter().any(|s| {
                    matches!(s.health, Health::Degraded | Health::Unhealthy)
                        || s.application.as_ref().is_some_and(|a| a.sync_failed())
                })
            })
            .map(|t| t.tenant.clone())
            .collect()
    }
}

/// An Argo CD notification's view of a wave: the notified tenant judged afresh from its
/// recorded statuses, every other tenant as the last sweep left it in the rollout's record.
struct NotifiedHealth<'a> {
    fresh: SweepHealth<'a>,
    tenant: &'a str,
    waiting: BTreeSet<String>,
    failed: BTreeMap<String, String>,
}

#[async_trait]
impl FleetHealth for NotifiedHealth<'_> {
    async fn health(
        &self,
        tenants: &[PlannedTenant],
        commit: &str,
    ) -> Result<Vec<TenantHealth>, UseCaseError> {
        let mut health = Vec::with_capacity(tenants.len());
        for t in tenants {
            let judged = if t.tenant == self.tenant {
                let fresh = self.fresh.health(std::slice::from_ref(t), commit).await?;
                fresh.into_iter().next().unwrap_or(TenantHealth::Waiting)
            } else if let Some(reason) = self.failed.get(&t.tenant) {
                TenantHealth::Failed(reason.clone())
            } else if self.waiting.contains(&t.tenant) {
                TenantHealth::Waiting
            } else {
                TenantHealth::Ready
            };
            health.push(judged);
        }
        Ok(health)
    }

    /// Never asked: a notification commits no wave.
    fn degraded(&self, _tenants: &[PlannedTenant]) -> Vec<String> {
        Vec::new()
    }
}

/// One tenant's health for `commit`: a request of the wave's commit, as the lifecycle would
/// move it from `committed` on this evidence.
fn tenant_health(
    slots: &[&SlotStatus],
    commit: &str,
    contains: &(dyn Fn(&str) -> bool + Sync),
) -> TenantHealth {
    // Unobserved (its cluster could not be read), not Argo CD's own passing "Unknown".
    if let Some(slot) = slots
        .iter()
        .find(|s| s.health == Health::Unknown && s.application.is_none())
    {
        return TenantHealth::Unknown(format!(
            "{}/{}: {}",
            slot.key.tenant, slot.key.env, slot.reason
        ));
    }
    let mut record = RequestRecord::new(
        "rollout",
        "rollout",
        "rollout",
        "",
        RequestState::Committed,
        String::new(),
    );
    record.commit = Some(commit.to_owned());
    let evidence = Evidence {
        slots: slots.to_vec(),
        cluster_runs_tenant: true,
        merged: true,
        contains,
        waited: Duration::ZERO,
        // The rollout's progress deadline decides how long a wave may take.
        sync_timeout: Duration::MAX,
    };
    match advance(&record, &evidence) {
        Some((RequestState::Ready, _)) => TenantHealth::Ready,
        Some((RequestState::Degraded | RequestState::Failed, error)) => {
            TenantHealth::Failed(error.map_or_else(|| "failed".to_owned(), |e| e.message))
        }
        _ => TenantHealth::Waiting,
    }
}

impl Sweeper {
    /// After an Argo CD notification for `tenant`: the running rollouts whose newest wave waits
    /// on it move at once (a failure pauses, the last readiness starts the soak); no wave is
    /// committed here. Costs the open rollouts' query and, per such rollout, its wave's pages.
    pub(crate) async fn step_rollouts_for(
        &self,
        tenant: &str,
        slots: &[SlotStatus],
    ) -> Result<usize, SweepError> {
        let mut moved = 0;
        for record in self.app.store.list_open_rollouts().await? {
            let Some(newest) = record.committed.last() else {
                continue;
            };
            if record.state != berth_store::RolloutState::Running
                || !newest.waiting.iter().any(|t| t == tenant)
            {
                continue;
            }
            let health = NotifiedHealth {
                fresh: SweepHealth::new(self, slots, None),
                tenant,
                waiting: newest.waiting.iter().cloned().collect(),
                failed: newest
                    .failed
                    .iter()
                    .map(|n| (n.tenant.clone(), n.reason.clone()))
                    .collect(),
            };
            let id = record.id.clone();
            match step_rollout(
                &self.app,
                &health,
                record,
                self.clock.now(),
                StepScope::ObserveOnly,
            )
            .await
            {
                Ok(stepped) => {
                    tracing::info!(rollout = %id, ?stepped, "rollout moved by a notification");
                    moved += 1;
                }
                Err(e) => tracing::warn!(rollout = %id, error = %e.message, "rollout step failed"),
            }
        }
        Ok(moved)
    }

    /// Steps every open rollout on this sweep's slots; a failure is logged, never fatal.
    pub(crate) async fn step_rollouts(
        &self,
        slots: &[SlotStatus],
        unreadable: Option<String>,
    ) -> Result<Vec<(String, Stepped)>, SweepError> {
        let health = SweepHealth::new(self, slots, unreadable);
        Ok(step_rollouts(&self.app, &health, self.clock.now()).await?)
    }
}
