//! A dry run: what a request would change, planned against the branch tip like the real one,
//! with nothing recorded and nothing committed.

use berth_core::file_diff::{FileDiff, diff_change};
use berth_core::plan::{plan_with_charts, read_set};
use berth_core::{PlanError, Request};

use crate::write::submit::CHART_ROUNDS;
use crate::{App, UseCaseError};

/// A request planned but not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The branch tip it was planned against.
    pub revision: String,
    /// The commit message it would have.
    pub message: String,
    pub files: Vec<FileDiff>,
}

/// Plans `request` against the tip and answers the diff it would commit; a refused plan is the
/// same refusal the real request would get.
pub async fn preview(app: &App, request: &Request) -> Result<Preview, UseCaseError> {
    let snapshot = app.committer.read(read_set(&request.tenant)).await?;
    // Upstream charts the plan asks for are read, and it plans again, as the real request.
    let started = tokio::time::Instant::now();
    let mut rounds = 0;
    let change = loop {
        let charts = app.charts.shelf_since(started);
        match plan_with_charts(request, &snapshot.files, &charts) {
            Err(PlanError::ChartsNeeded(wants)) if rounds < CHART_ROUNDS => {
                rounds += 1;
                app.charts.fetch(&wants).await?;
            }
            other => break other?,
        }
    };
    Ok(Preview {
        revision: snapshot.tip,
        files: diff_change(&snapshot.files, &change),
        message: change.message,
    })
}
