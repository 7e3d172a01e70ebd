//! `POST /v1/rollouts`: one change to many tenants, in waves. The body is read by
//! `berth-core`'s parser (`berth_core::rollout::body`), which names every bad field by its path.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::requests::FileDiffView;

/// A rollout as asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<RolloutSelector>,
    pub change: FleetChangeBody,
    /// Tenants that go first, in a wave of their own (besides those marked `canary: true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canaries: Vec<String>,
    /// `"by_tier"`, or cumulative steps: a number of tenants or `"<n>%"`; default
    /// `["10%", "50%"]`, then the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, example = json!(["10%", "50%"]))]
    pub waves: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<RolloutGates>,
    /// `pause` (default) or `revert` when the failure budget is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    /// On success, make the version the catalog's default (a reconfigure naming a version).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub then_set_default: bool,
    /// List tenants whose result fails validation as skipped instead of refusing the rollout.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_invalid: bool,
}

/// Which tenant-envs change; empty lists select every one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct RolloutSelector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub envs: Vec<String>,
    /// Only tenant-envs where this module is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_module: Option<String>,
    /// `active` (default) and/or `suspended`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
}

/// Exactly one change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FleetChangeBody {
    /// A new version, and values merged into each tenant's own overrides, where the module is.
    Reconfigure(ModuleRolloutChange),
    Enable(ModuleRolloutChange),
    Disable {
        module: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModuleRolloutChange {
    pub module: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
}

/// What must hold between waves.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct RolloutGates {
    /// How long a ready wave soaks before the next (`10m` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_budget: Option<FailureBudget>,
    /// How long a wave may take to be ready before the rollout pauses (`30m` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline: Option<String>,
}

/// Failed tenants tolerated: `max(count, percent × tenants so far)`; none by default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct FailureBudget {
    #[serde(default)]
    pub count: u32,
    #[serde(default)]
    pub percent: u32,
}

/// A rollout's plan, made against the branch tip; nothing committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutPlanView {
    /// The commit the plan was made against.
    pub revision: String,
    /// Two plans with the same hash commit the same bytes.
    pub hash: String,
    /// Tenants in waves.
    pub tenants: u64,
    pub waves: Vec<WavePlanView>,
    /// Selected tenants in no wave, with why.
    pub left_out: Vec<LeftOutView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WavePlanView {
    /// From 1; the canaries' wave first when there are canaries.
    pub number: u64,
    pub tenants: Vec<TenantPlanView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantPlanView {
    pub tenant: String,
    pub envs: Vec<String>,
    pub files: Vec<FileDiffView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeftOutView {
    pub tenant: String,
    /// `no_change`, `held` or `invalid`.
    pub reason: String,
    /// The hold's end, or the field and reason the tenant's result fails on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A rollout: its waves, each tenant's state in them, and counts by state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutView {
    /// A ULID.
    pub id: String,
    /// `running`, `paused`, `done`, `aborted`, `reverting` or `reverted`.
    pub state: String,
    /// `direct` or `pr` (a pull request per wave).
    pub mode: String,
    /// Why it is paused (a failure beyond the budget, no data, a person), or why it reverted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
    /// The body as asked.
    pub spec: RolloutBody,
    /// The commit the plan was made against, and the plan's hash.
    pub base: String,
    pub hash: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// Tenants by state: `planned`, `committed`, `syncing`, `ready`, `soaking`, `failed`,
    /// `skipped`, `held` or `reverted`.
    pub counts: std::collections::BTreeMap<String, u64>,
    pub waves: Vec<RolloutWaveView>,
    /// Selected tenants in no wave (no change, held, invalid with `skip_invalid`).
    pub left_out: Vec<LeftOutView>,
    /// The commit that made the version the catalog's default (`then_set_default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_commit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutWaveView {
    /// From 1.
    pub number: u64,
    /// `planned`, `awaiting_merge` (`pr` mode: its pull request is open), `syncing`,
    /// `soaking`, `ready`, `failed`, `skipped` (nothing left to change at its turn) or
    /// `reverted`.
    pub state: String,
    /// `pr` mode: the wave's pull request (its address, or its branch without GitHub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// The wave's commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_at: Option<String>,
    /// When every tenant of the wave was first seen ready: the soak runs from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<String>,
    /// The commit that reverted the wave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_at: Option<String>,
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Every tenant of the wave (left out of the list of rollouts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<RolloutTenantView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutTenantView {
    pub tenant: String,
    pub state: String,
    /// Why it failed, was skipped, or is not counted (degraded before its wave).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Rollouts, newest first, without their tenants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutList {
    pub rollouts: Vec<RolloutView>,
    /// The `before` of the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<String>,
}
