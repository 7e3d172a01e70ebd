//! A dry run: what a request would change, planned against the branch tip like the real one,
//! with nothing recorded and nothing committed.

use berth_core::file_diff::{FileDiff, diff_change};
use berth_core::plan::read_set;
use berth_core::{Request, plan};

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
    let change = plan(request, &snapshot.files)?;
    Ok(Preview {
        revision: snapshot.tip,
        files: diff_change(&snapshot.files, &change),
        message: change.message,
    })
}
