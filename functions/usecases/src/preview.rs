//! A dry run: what a request would change, planned against the branch tip like the real one,
//! with nothing recorded and nothing committed.

use berth_core::Request;
use berth_core::file_diff::{FileDiff, diff_change};
use berth_core::plan::{plan_with_charts, read_set};

use crate::plan_charts::plan_fetching_charts;
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
    let change = plan_fetching_charts(app, |charts| {
        plan_with_charts(request, &snapshot.files, charts)
    })
    .await?;
    Ok(Preview {
        revision: snapshot.tip,
        files: diff_change(&snapshot.files, &change),
        message: change.message,
    })
}
