//! Fleet rollouts: a rollout's state (`ROLLOUT#<id> / META`) and its waves' tenants, in pages
//! of their own (`ROLLOUT#<id> / WAVE#<n>#<page>`): a 5,000-tenant plan does not fit one item.
//! The state is written with a version, so two status steps racing on one rollout cannot both
//! move it (the loser reads it again).

mod dynamo;
mod local;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Tenants per wave page: about 100 KB, well inside DynamoDB's 400 KB per item.
pub const WAVE_PAGE: usize = 1_000;

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    Running,
    Paused,
    Done,
    Aborted,
    Reverting,
    Reverted,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Done => "done",
            Self::Aborted => "aborted",
            Self::Reverting => "reverting",
            Self::Reverted => "reverted",
        }
    }
}

impl RolloutState {
    /// Whether the status function still has something to do for it.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Running | Self::Paused | Self::Reverting)
    }
}

/// A tenant named with why, in a wave's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantNote {
    pub tenant: String,
    pub reason: String,
}

/// A committed wave, and what its tenants were last seen doing. Only the tenants that are
/// not simply on their way (skipped, failed, degraded before) are named: a 2,500-tenant wave
/// fits the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CommittedWave {
    /// From 1.
    pub number: u32,
    /// The wave's commit; `None` when every tenant of the wave was skipped at its turn.
    #[serde(default)]
    pub commit: Option<String>,
    /// Epoch seconds.
    pub committed_at: i64,
    /// How many tenants the commit changed.
    #[serde(default)]
    pub tenants: u32,
    /// How many of them passed at the last step.
    #[serde(default)]
    pub ready: u32,
    /// When the whole wave was first seen ready (epoch seconds): the soak runs from here.
    #[serde(default)]
    pub ready_at: Option<i64>,
    /// Degraded before the commit: reported, not counted against the change.
    #[serde(default)]
    pub degraded_before: Vec<String>,
    /// Left out at the wave's turn (held since, changed so the change no longer applies).
    #[serde(default)]
    pub skipped: Vec<TenantNote>,
    /// Failed for the wave's commit, as last seen, with why.
    #[serde(default)]
    pub failed: Vec<TenantNote>,
    /// Not synced or not ready yet, as last seen.
    #[serde(default)]
    pub waiting: Vec<String>,
    /// In `pr` mode, the wave's branch and pull request.
    #[serde(default)]
    pub pull: Option<WavePull>,
}

/// A wave committed onto a branch of its own for approval (`mode: pr`): it counts once the
/// branch is merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WavePull {
    pub branch: String,
    /// The pull request, when one could be opened (a GitHub credential is configured).
    #[serde(default)]
    pub number: Option<u64>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub merged: bool,
}

/// A wave undone by a revert commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevertedWave {
    pub number: u32,
    /// `None` when nothing was left to restore.
    #[serde(default)]
    pub commit: Option<String>,
    pub reverted_at: i64,
    /// Tenants changed since the wave, left as they are (a revert without `force`).
    #[serde(default)]
    pub conflicts: Vec<TenantNote>,
}

/// A commit one status step is making for the rollout: claimed with a versioned write so a
/// racing step does not make it too; after `since` + the lease, another step looks for it
/// in Git and makes it if it is not there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitClaim {
    /// `wave`, `revert` or `default`.
    pub kind: String,
    /// The wave's number (for `default`, 0).
    pub number: u32,
    /// Epoch seconds.
    pub since: i64,
}

/// `ROLLOUT#<id> / META`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutRecord {
    pub id: String,
    /// The body as asked (JSON): `berth_core::rollout::body` reads it again.
    pub spec: String,
    /// The commit the plan was made against, and the plan's hash.
    pub base: String,
    pub hash: String,
    pub waves: u32,
    /// Each wave's number of tenants, as planned.
    #[serde(default)]
    pub wave_sizes: Vec<u32>,
    pub state: RolloutState,
    #[serde(default)]
    pub pause_reason: Option<String>,
    #[serde(default)]
    pub committed: Vec<CommittedWave>,
    /// Raised by every update; an update names the version it read.
    pub version: u64,
    pub updated_at: String,
    #[serde(default)]
    pub created_at: String,
    /// Who asked: `token:<name>` or `jwt:<sub>`.
    #[serde(default)]
    pub requested_by: Option<String>,
    /// Selected tenants in no wave, from the plan (no change, held, invalid).
    #[serde(default)]
    pub left_out: Vec<TenantNote>,
    #[serde(default)]
    pub claim: Option<CommitClaim>,
    /// Waves undone, newest first.
    #[serde(default)]
    pub reverted: Vec<RevertedWave>,
    /// Restore over later changes when reverting.
    #[serde(default)]
    pub force_revert: bool,
    /// The commit that made the version the catalog's default (`then_set_default`).
    #[serde(default)]
    pub default_commit: Option<String>,
    /// `direct` (each wave committed onto the branch) or `pr` (each wave a pull request to
    /// approve).
    #[serde(default = "direct")]
    pub mode: String,
}

fn direct() -> String {
    "direct".into()
}

/// One planned tenant of a wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedTenant {
    pub tenant: String,
    pub envs: Vec<String>,
    /// The tenant folder's digest at the base commit: another at the wave's turn means a re-plan.
    pub digest: String,
}

/// `ROLLOUT#<id> / WAVE#<n>#<page>`: up to [`WAVE_PAGE`] of a wave's tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WavePage {
    pub rollout: String,
    pub wave: u32,
    pub page: u32,
    pub tenants: Vec<PlannedTenant>,
}

/// Splits waves (tenants in order, per wave from 1) into their pages.
pub fn wave_pages(rollout: &str, waves: &[Vec<PlannedTenant>]) -> Vec<WavePage> {
    waves
        .iter()
        .enumerate()
        .flat_map(|(w, tenants)| {
            tenants
                .chunks(WAVE_PAGE)
                .enumerate()
                .map(move |(p, chunk)| WavePage {
                    rollout: rollout.to_owned(),
                    wave: w as u32 + 1,
                    page: p as u32,
                    tenants: chunk.to_vec(),
                })
        })
        .collect()
}

/// Newest first: by creation time, then id (ids sort by time too).
/// One page of finished rollouts, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClosedRollouts {
    pub rollouts: Vec<RolloutRecord>,
    /// Whether older ones may follow the last of `rollouts`.
    pub more: bool,
}

#[async_trait]
pub trait RolloutStore: Send + Sync {
    /// Writes a new rollout (at version 1) and its wave pages; `false`, writing nothing, when
    /// one with its id exists.
    async fn create_rollout(
        &self,
        rollout: &RolloutRecord,
        pages: &[WavePage],
    ) -> Result<bool, StoreError>;

    /// Writes `rollout` when the stored one is at `read_version`, raising the version by one;
    /// `false` when another write came first (read it again).
    async fn update_rollout(
        &self,
        rollout: &RolloutRecord,
        read_version: u64,
    ) -> Result<bool, StoreError>;

    async fn get_rollout(&self, id: &str) -> Result<Option<RolloutRecord>, StoreError>;

    /// Wave `wave`'s tenants (from 1), its pages in order.
    async fn get_wave(&self, id: &str, wave: u32) -> Result<Vec<PlannedTenant>, StoreError>;

    /// Rollouts the status function still drives (running, paused, reverting).
    async fn list_open_rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError>;

    /// Finished rollouts (done, aborted, reverted), newest first by id, older than `before`
    /// when given, `limit` at most: they pile up over the years, so they come in pages.
    async fn list_closed_rollouts(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> Result<ClosedRollouts, StoreError>;
}
