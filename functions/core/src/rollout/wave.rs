//! One wave's commit, planned against the branch tip when the wave's turn comes. Each tenant's
//! change is planned again from the rollout's change: for a tenant whose folder is as it was
//! at the plan's commit, that gives the frozen plan's bytes (the planner is deterministic and
//! the version is the one the plan named); a tenant changed since is re-planned, and skipped
//! and reported when the change no longer applies; a tenant held since the plan is skipped as
//! held. One commit, with the rollout's
//! id, the wave's number and one `Berth-Tenant` trailer per tenant it changes.

use std::collections::BTreeSet;

use super::RolloutSpec;
use super::plan::{plan_tenant_at, shared_files, tenant_view};
use crate::error::PlanError;
use crate::model::{Change, RepoFiles, TenantModel};
use crate::names::{EnvName, TenantName};
use crate::tenant_index::folder_digests;
use crate::upstream::ChartShelf;

/// The trailer that numbers a rollout's wave commits (1-based).
pub const WAVE_TRAILER: &str = "Berth-Rollout-Wave";

/// A tenant of a wave as the frozen plan has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveTenant {
    pub tenant: TenantName,
    pub envs: Vec<EnvName>,
    /// Its folder's digest at the plan's commit.
    pub digest: String,
}

impl From<&super::plan::TenantPlan> for WaveTenant {
    fn from(plan: &super::plan::TenantPlan) -> Self {
        Self {
            tenant: plan.tenant.clone(),
            envs: plan.envs.clone(),
            digest: plan.digest.clone(),
        }
    }
}

/// A wave, planned for its commit.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveCommit {
    pub change: Change,
    /// The tenants the commit changes.
    pub tenants: Vec<TenantName>,
    /// Tenants of the wave left out, and why.
    pub skipped: Vec<(TenantName, String)>,
}

/// Plans wave `number` (1-based) of rollout `id` against `files` at the tip, at `now`.
pub fn plan_wave(
    id: &str,
    number: usize,
    spec: &RolloutSpec,
    wave: &[WaveTenant],
    files: &RepoFiles,
    charts: &ChartShelf,
    now: &str,
) -> Result<WaveCommit, PlanError> {
    let mut change = Change::default();
    let mut tenants = Vec::new();
    let mut skipped = Vec::new();
    let digests = folder_digests(files);
    let shared = shared_files(files);
    for planned in wave {
        let tenant = &planned.tenant;
        let Some(model) = TenantModel::read(tenant, files)? else {
            skipped.push((
                tenant.clone(),
                "the tenant was deleted since the plan".into(),
            ));
            continue;
        };
        if let Some(until) = model.spec.held_until(now) {
            skipped.push((tenant.clone(), format!("held until {until}")));
            continue;
        }
        let unchanged = digests.get(tenant) == Some(&planned.digest);
        let view = tenant_view(&shared, files, tenant);
        let tenant_change =
            match plan_tenant_at(tenant, &planned.envs, &spec.change, &model, view, charts)? {
                Ok(change) => change,
                Err(e) => {
                    let since = if unchanged {
                        "the repository changed since the plan"
                    } else {
                        "changed since the plan"
                    };
                    skipped.push((
                        tenant.clone(),
                        format!(
                            "{since}, and the change no longer applies: {}: {}",
                            e.field, e.reason
                        ),
                    ));
                    continue;
                }
            };
        if tenant_change.is_empty() {
            skipped.push((
                tenant.clone(),
                "changed since the plan to what the rollout sets".into(),
            ));
            continue;
        }
        change.writes.extend(tenant_change.writes);
        change.deletes.extend(tenant_change.deletes);
        tenants.push(tenant.clone());
    }
    change.message = wave_message(id, number, &tenants, &skipped);
    Ok(WaveCommit {
        change,
        tenants,
        skipped,
    })
}

fn wave_message(
    id: &str,
    number: usize,
    tenants: &[TenantName],
    skipped: &[(TenantName, String)],
) -> String {
    let mut message = format!("Rollout {id}, wave {number}: {} tenant(s)\n", tenants.len());
    if !skipped.is_empty() {
        let names: BTreeSet<String> = skipped.iter().map(|(t, _)| t.to_string()).collect();
        message.push_str(&format!(
            "\nSkipped: {}\n",
            names.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    message.push('\n');
    message.push_str(&super::rollout_trailers(
        id,
        "rollout",
        (WAVE_TRAILER, number as u32),
        tenants,
    ));
    message
}
