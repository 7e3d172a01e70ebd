//! Fleet rollouts as use-cases. So far the plan: the selector resolved against the branch tip
//! and every selected tenant's change computed, with nothing recorded or committed (the dry
//! run). Committing waves, gated on health, is still to come (issue 27).

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
