//! Fleet rollouts as use-cases: the plan (the dry run), starting one (the plan recorded with
//! its waves, nothing committed yet), the status function's step that commits each wave once
//! the one before passed its gates, pause / resume / abort / revert, and the reverts.

mod commits;
pub mod control;
mod merge;
pub mod start;
pub mod step;
mod versioned;

use berth_core::catalog::CATALOG_PATH;
use berth_core::paths::TENANTS_DIR;
use berth_core::rollout::RolloutSpec;
use berth_core::rollout::plan::{RolloutPlan, plan_rollout};
use berth_core::schema::CHART_READS;

use crate::plan_charts::plan_fetching_charts;
use crate::time::now_rfc3339;
use crate::{App, UseCaseError};

/// A rollout's plan and the commit it was made against.
#[derive(Debug, Clone)]
pub struct PlannedRollout {
    pub revision: String,
    pub plan: RolloutPlan,
}

/// Plans `spec` against the branch tip: one read of the tenants' tree, the catalog and the
/// charts, then the upstream charts the plan asks for.
pub async fn plan(app: &App, spec: &RolloutSpec) -> Result<PlannedRollout, UseCaseError> {
    let mut reads = vec![CATALOG_PATH.to_owned(), format!("{TENANTS_DIR}/")];
    reads.extend(CHART_READS.iter().map(|p| p.to_string()));
    let snapshot = app.committer.read(reads).await?;
    let now = now_rfc3339();
    let plan = plan_fetching_charts(app, |charts| {
        plan_rollout(spec, &snapshot.files, charts, &now)
    })
    .await?;
    Ok(PlannedRollout {
        revision: snapshot.tip,
        plan,
    })
}

/// The rollout's spec as its record keeps it (the body as asked).
pub fn stored_spec(record: &berth_store::RolloutRecord) -> Result<RolloutSpec, UseCaseError> {
    let body: serde_json::Value = serde_json::from_str(&record.spec).map_err(|e| {
        UseCaseError::invalid("spec", format!("rollout {}: stored spec: {e}", record.id))
    })?;
    Ok(berth_core::rollout::body::parse_rollout(&body)?)
}

/// The rollout `id`, or 404.
pub async fn get(app: &App, id: &str) -> Result<berth_store::RolloutRecord, UseCaseError> {
    app.store.get_rollout(id).await?.ok_or_else(|| {
        UseCaseError::new(
            crate::ErrorKind::NotFound,
            crate::error::ErrorCode::NotFound,
            format!("no rollout {id}"),
        )
        .with_field("id")
    })
}

/// A rollout with every wave's tenants, as planned: what `GET /v1/rollouts/{id}` shows.
pub async fn show(
    app: &App,
    id: &str,
) -> Result<
    (
        berth_store::RolloutRecord,
        Vec<Vec<berth_store::PlannedTenant>>,
    ),
    UseCaseError,
> {
    let record = get(app, id).await?;
    let mut waves = Vec::with_capacity(record.waves as usize);
    for number in 1..=record.waves {
        waves.push(app.store.get_wave(id, number).await?);
    }
    Ok((record, waves))
}

/// A page of rollouts, newest first.
#[derive(Debug, Clone, Default)]
pub struct RolloutPage {
    pub rollouts: Vec<berth_store::RolloutRecord>,
    /// The `before` of the next page, when older finished rollouts may follow.
    pub next_before: Option<String>,
}

/// The first page holds every open rollout (the few the status function drives, which a
/// person watches) and then the newest finished ones; each later page, `limit` finished ones
/// older than `before`.
pub async fn list(
    app: &App,
    before: Option<&str>,
    limit: usize,
) -> Result<RolloutPage, UseCaseError> {
    let mut rollouts = match before {
        Some(_) => Vec::new(),
        None => app.store.list_open_rollouts().await?,
    };
    rollouts.sort_by(|a, b| b.id.cmp(&a.id));
    let closed = app.store.list_closed_rollouts(before, limit).await?;
    let next_before = closed
        .more
        .then(|| closed.rollouts.last().map(|r| r.id.clone()))
        .flatten();
    rollouts.extend(closed.rollouts);
    Ok(RolloutPage {
        rollouts,
        next_before,
    })
}

/// What one step did to a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stepped {
    /// Nothing to do yet (or another step holds the commit).
    Waiting,
    /// Wave `n` committed (`None`: every tenant of it was skipped).
    Committed {
        wave: u32,
        commit: Option<String>,
    },
    /// A claimed commit found in Git after its step died, and recorded.
    Recovered {
        wave: u32,
    },
    /// Wave `n`'s pull request was merged: its gates start now.
    Merged {
        wave: u32,
    },
    Paused {
        reason: String,
    },
    Reverted {
        waves: Vec<u32>,
    },
    Done,
    /// Another writer moved the record first; the next step goes on.
    Raced,
}
