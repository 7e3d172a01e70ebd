//! Plans that need upstream charts: a plan asks for the indexes and archives its shelf lacks
//! (`PlanError::ChartsNeeded`), they are read, and it plans again. Nothing is written meanwhile.

use berth_core::PlanError;
use berth_core::upstream::ChartShelf;

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
