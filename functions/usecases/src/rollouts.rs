//! Fleet rollouts as use-cases. So far the plan: the selector resolved against the branch tip
//! and every selected tenant's change computed, with nothing recorded or committed (the dry
//! run). Committing waves, gated on health, is still to come (issue 27).

use berth_core::PlanError;
use berth_core::catalog::CATALOG_PATH;
use berth_core::paths::TENANTS_DIR;
use berth_core::rollout::RolloutSpec;
use berth_core::rollout::plan::{RolloutPlan, plan_rollout};
use berth_core::schema::CHART_READS;

use crate::time::now_rfc3339;
use crate::write::submit::CHART_ROUNDS;
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
    let started = tokio::time::Instant::now();
    let mut rounds = 0;
    let plan = loop {
        let charts = app.charts.shelf_since(started);
        match plan_rollout(spec, &snapshot.files, &charts, &now) {
            Err(PlanError::ChartsNeeded(wants)) if rounds < CHART_ROUNDS => {
                rounds += 1;
                app.charts.fetch(&wants).await?;
            }
            other => break other?,
        }
    };
    Ok(PlannedRollout {
        revision: snapshot.tip,
        plan,
    })
}
