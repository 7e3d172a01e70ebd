//! Plans that need upstream charts: a plan asks for the indexes and archives its shelf lacks
//! (`PlanError::ChartsNeeded`), they are read, and it plans again. Nothing is written meanwhile.

use std::sync::Arc;

use berth_core::PlanError;
use berth_core::upstream::ChartShelf;
use berth_gitops::{CommitError, CommitOutcome, CommitRequest, PlanFn};

use crate::{App, UseCaseError};

/// Times one plan fetches the upstream charts it asked for and plans again: an index, then an
/// archive (an OCI version's manifest first), then a dependency's.
pub const CHART_ROUNDS: usize = 4;

/// Runs `plan` with the charts read so far (indexes read since this call count whatever their
/// TTL, so the rounds end), reading what it asks for, at most [`CHART_ROUNDS`] times.
pub async fn plan_fetching_charts<T>(
    app: &App,
    mut plan: impl FnMut(&ChartShelf) -> Result<T, PlanError>,
) -> Result<T, UseCaseError> {
    let started = tokio::time::Instant::now();
    let mut rounds = 0;
    loop {
        match plan(&app.charts.shelf_since(started)) {
            Err(PlanError::ChartsNeeded(wants)) if rounds < CHART_ROUNDS => {
                rounds += 1;
                app.charts.fetch(&wants).await?;
            }
            other => return Ok(other?),
        }
    }
}

/// Commits with the plan `plan_with` makes from the charts read so far; a plan that needs more
/// charts is refused before anything is written, they are read, and the commit is tried again,
/// at most [`CHART_ROUNDS`] times.
pub async fn commit_fetching_charts(
    app: &App,
    request: CommitRequest,
    plan_with: impl Fn(ChartShelf) -> Arc<PlanFn>,
) -> Result<CommitOutcome, UseCaseError> {
    let started = tokio::time::Instant::now();
    let mut rounds = 0;
    loop {
        let plan = plan_with(app.charts.shelf_since(started));
        match app.committer.commit(request.clone(), plan).await {
            Err(CommitError::Plan(PlanError::ChartsNeeded(wants))) if rounds < CHART_ROUNDS => {
                rounds += 1;
                app.charts.fetch(&wants).await?;
            }
            other => return other.map_err(UseCaseError::from),
        }
    }
}
