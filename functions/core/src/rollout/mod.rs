//! Fleet rollouts: one request that changes many tenants, committed in waves.
//!
//! Here are the pure parts: what a rollout asks for ([`RolloutSpec`]: which tenants, which
//! change, which waves and gates), how its tenants are split into waves ([`waves`]), and the
//! frozen plan ([`plan::plan_rollout`]): each selected tenant's change computed by the same
//! planner a single request uses, in waves, with no-ops, holds and invalid tenants listed.
//! Committing waves and gating them on health are the use-cases' and the status function's.

pub mod body;
pub mod plan;
pub mod progress;
pub mod revert;
pub mod wave;
pub mod waves;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::files::TenantState;
use crate::names::{EnvName, ModuleName, TenantName, TierName};
use crate::request::{ACTION_TRAILER, TENANT_TRAILER, request_trailer};
pub use waves::Step;

/// Which tenant-envs a rollout changes. Empty lists select everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub tiers: Vec<TierName>,
    pub tenants: Vec<TenantName>,
    pub envs: Vec<EnvName>,
    /// Only tenant-envs where this module is enabled.
    pub has_module: Option<ModuleName>,
    /// The tenants' states; active only by default.
    pub states: Vec<TenantState>,
}

impl Default for Selector {
    fn default() -> Self {
        Self {
            tiers: Vec::new(),
            tenants: Vec::new(),
            envs: Vec::new(),
            has_module: None,
            states: vec![TenantState::Active],
        }
    }
}

/// What a rollout does to each selected tenant-env.
#[derive(Debug, Clone, PartialEq)]
pub enum FleetChange {
    /// A module already enabled: a new version, and a values patch merged into the tenant's
    /// own overrides (Helm's merge: maps key by key, `null` removes).
    Reconfigure {
        module: ModuleName,
        version: Option<String>,
        values: Map<String, Value>,
    },
    /// Enable a module with a version and overrides.
    Enable {
        module: ModuleName,
        version: Option<String>,
        values: Map<String, Value>,
    },
    Disable {
        module: ModuleName,
    },
}

impl FleetChange {
    pub fn module(&self) -> &ModuleName {
        match self {
            FleetChange::Reconfigure { module, .. }
            | FleetChange::Enable { module, .. }
            | FleetChange::Disable { module } => module,
        }
    }
}

/// How tenants are grouped into waves after the canaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WavePolicy {
    /// Cumulative targets, then the rest ([`waves::DEFAULT_STEPS`] unless named).
    Steps(Vec<Step>),
    /// One wave per tier, lowest first.
    ByTier,
}

impl Default for WavePolicy {
    fn default() -> Self {
        WavePolicy::Steps(waves::DEFAULT_STEPS.to_vec())
    }
}

/// What must hold before the next wave is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gates {
    /// How long a wave stays ready before the next one.
    pub soak: Duration,
    /// Failed tenants tolerated: `max(count, percent × tenants so far)`.
    pub failure_budget_count: u32,
    pub failure_budget_percent: u32,
    /// How long a wave may take to become ready before the rollout pauses as unknown.
    pub progress_deadline: Duration,
}

impl Default for Gates {
    fn default() -> Self {
        Self {
            soak: Duration::from_secs(600),
            failure_budget_count: 0,
            failure_budget_percent: 0,
            progress_deadline: Duration::from_secs(1800),
        }
    }
}

/// What happens when the failure budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    #[default]
    Pause,
    Revert,
}

/// A rollout as asked.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutSpec {
    pub selector: Selector,
    pub change: FleetChange,
    /// Tenants that go first, in their own wave, besides those marked `canary: true`.
    pub canaries: Vec<TenantName>,
    pub waves: WavePolicy,
    pub gates: Gates,
    pub on_failure: OnFailure,
    /// On success, make the rolled-out version the catalog's default.
    pub then_set_default: bool,
    /// List tenants whose result fails validation as skipped instead of refusing the rollout.
    pub skip_invalid: bool,
}

/// The trailers of a rollout's commit: its id, the action, the numbered trailer that says
/// which wave it is (`Berth-Rollout-Wave: 2`, `Berth-Rollout-Revert: 2`), and one
/// `Berth-Tenant` per tenant it changes.
pub(crate) fn rollout_trailers(
    id: &str,
    action: &str,
    numbered: (&str, u32),
    tenants: &[TenantName],
) -> String {
    let (trailer, number) = numbered;
    let mut trailers = format!(
        "{}\n{ACTION_TRAILER}: {action}\n{trailer}: {number}\n",
        request_trailer(id)
    );
    for tenant in tenants {
        trailers.push_str(&format!("{TENANT_TRAILER}: {tenant}\n"));
    }
    trailers
}
