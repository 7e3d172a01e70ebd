//! `GET /v1/me`: who the server takes the caller to be, so a client (the console, a script)
//! shows only what that caller may do. The server still checks every request on its own.

use axum::Json;
use berth_contract::{CallerView, ErrorResponse};

use crate::auth::Principal;

#[utoipa::path(get, path = "/v1/me", tag = "service",
    description = "The caller as the server identified them: identity, role, and the one tenant a scoped caller acts on.",
    responses(
        (status = 200, description = "The caller", body = CallerView),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 403, description = "A JWT whose claims name no Berth role", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn me(principal: Principal) -> Json<CallerView> {
    Json(CallerView {
        identity: principal.identity.clone(),
        role: principal.role.as_str().to_owned(),
        tenant: principal.tenant.clone(),
        can_write: principal.role.can_write(),
    })
}
