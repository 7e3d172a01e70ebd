//! What one sweep did, phase by phase: printed by the binary and by `scripts/bench status`.

use berth_usecases::git_index::IndexPass;
use serde::Serialize;

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
    /// Moves between clusters whose last phase this sweep committed.
    pub moves_finished: usize,
    /// What the step did to each open rollout.
    pub rollouts: Vec<String>,
    /// People's pull requests whose review was missed (their delivery failed), reviewed now.
    pub pulls_reviewed: usize,
    /// The digests diffed against were this process's own, confirmed current by the
    /// observation generation alone (a warm sweeper), rather than read from the store.
    pub digests_cached: bool,
    /// Tenant folders Git holds that could not be read.
    pub problems: Vec<String>,
    /// What reconciling the tenant index with Git did.
    pub index: IndexReport,
    /// The open requests as this sweep found and left them.
    pub flow: crate::metrics::RequestFlow,
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
