//! `GET /v1/doctor`: the server's checks of its deployment, for `berth doctor` (admin only: the
//! answer describes the deployment's credentials and setup).

use axum::Json;
use axum::extract::State;
use berth_contract::{DoctorCheck, DoctorReport, ErrorResponse};
use berth_usecases::doctor::check_deployment;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;

#[utoipa::path(get, path = "/v1/doctor", tag = "service", description = "Checks the deployment as its operator would: Git read and write (and on GitHub the App's permissions and the branch's protection), the catalog and every module's chart and values schema, the store's table and indexes, the cluster and Argo CD's ApplicationSets and AppProject as the status function last saw them. Each check is ok, warning or failed, with what to do.",
    responses(
        (status = 200, description = "Every check, in order", body = DoctorReport),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn doctor(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<DoctorReport>, ApiError> {
    if principal.role != Role::Admin {
        return Err(ApiError::forbidden(format!(
            "the doctor's checks need an admin token; this one's role is {}",
            principal.role.as_str()
        )));
    }
    let mut checks = vec![DoctorCheck::ok(
        "auth",
        format!("{} is an admin", principal.identity),
    )];
    checks.extend(check_deployment(&state.app, state.config.default_mode).await);
    Ok(Json(DoctorReport { checks }))
}
