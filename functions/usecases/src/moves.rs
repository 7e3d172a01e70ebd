//! What a move of a tenant-env between clusters needs beyond the write path: the stateful
//! modules whose data it leaves behind (the answer names them), and phase 3, committed when
//! the status sweep finds the new cluster ready.

use berth_core::plan::{TenantModel, load_catalog, read_set};
use berth_core::{Action, ClusterName, EnvName, Request, TenantName};

use crate::app::{App, Mode};
use crate::error::UseCaseError;
use crate::write::group_commit::WhenUndecided;
use crate::write::outcome::{Progress, Submitted, Unsettled};
use crate::write::submit::{Submission, submit};

/// Who asks for phase 3, as request records show it.
pub const FINISH_SOURCE: &str = "sweep:move";

/// The modules enabled in `tenant`'s `env` that the catalog marks stateful, at the tip.
pub async fn stateful_modules(
    app: &App,
    tenant: &TenantName,
    env: &EnvName,
) -> Result<Vec<String>, UseCaseError> {
    let snapshot = app.committer.read(read_set(tenant)).await?;
    let catalog = load_catalog(&snapshot.files).map_err(UseCaseError::from)?;
    let Some(model) = TenantModel::read(tenant, &snapshot.files).map_err(UseCaseError::from)?
    else {
        return Ok(Vec::new());
    };
    Ok(berth_core::moves::stateful_modules(&catalog, &model, env)
        .into_iter()
        .map(|m| m.to_string())
        .collect())
}

/// The notice a move's answer carries when it leaves data behind.
pub fn data_notice(modules: &[String], to: &ClusterName) -> Option<String> {
    (!modules.is_empty()).then(|| {
        format!(
            "Berth moves Helm values, not data: {} start empty on {to}; copy their data before the move's last phase removes the old cluster's",
            modules.join(", ")
        )
    })
}

/// Commits phase 3 of `tenant`'s move of `env` to `to`: Git then places it on `to` alone. A
/// move already finished (or aborted) by the time it is planned changes nothing.
pub async fn finish_move(
    app: &App,
    tenant: TenantName,
    env: EnvName,
    to: ClusterName,
) -> Result<Submitted, Unsettled> {
    let request = Request {
        id: ulid::Ulid::new().to_string(),
        tenant,
        action: Action::FinishMove { env, to },
    };
    let submission = Submission {
        request,
        source: FINISH_SOURCE.into(),
        requested_by: None,
        mode: Mode::Direct,
        when_undecided: WhenUndecided::Acknowledge,
    };
    submit(app, submission, &Progress::default()).await
}
