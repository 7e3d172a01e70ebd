//! What one sweep did, phase by phase: printed by the binary and by `scripts/bench status`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use berth_store::{RequestRecord, RequestState};
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
    pub flow: RequestFlow,
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

/// The open requests as one sweep found and left them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestFlow {
    /// Open requests by state, as found.
    pub in_flight: BTreeMap<String, usize>,
    /// Seconds since the oldest open request was made.
    pub oldest_in_flight_seconds: Option<u64>,
    /// For each request this sweep moved to `synced` (`ready`): seconds since it was made.
    pub synced_after_seconds: Vec<u64>,
    pub ready_after_seconds: Vec<u64>,
}

impl RequestFlow {
    /// Counts `open` and finds the oldest.
    pub(crate) fn found(&mut self, open: &[RequestRecord]) {
        for record in open {
            // The state's name as the API writes it (`committed`, `pr_opened`, ...).
            let state = serde_json::to_value(record.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *self.in_flight.entry(state).or_default() += 1;
            let age = age_seconds(record);
            self.oldest_in_flight_seconds =
                Some(self.oldest_in_flight_seconds.unwrap_or(0).max(age));
        }
    }

    /// Notes a request this sweep moved to `state`.
    pub(crate) fn moved(&mut self, record: &RequestRecord, state: RequestState) {
        match state {
            RequestState::Synced => self.synced_after_seconds.push(age_seconds(record)),
            RequestState::Ready => self.ready_after_seconds.push(age_seconds(record)),
            _ => {}
        }
    }
}

/// Seconds since the request was made (its record's creation; the commit follows within the
/// commit latency, measured on its own).
fn age_seconds(record: &RequestRecord) -> u64 {
    humantime::parse_rfc3339(&record.created_at)
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .map_or(0, |d| d.as_secs())
}
