//! The `/v1` API's routes, `/healthz` and the console, with CORS for the browsers of the origins allowed.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::routing::{get, post, put};
use tower_http::cors::CorsLayer;

use crate::AppState;
use crate::clusters::{cluster_health, list_clusters};
use crate::error::ApiError;
use crate::extract::IDEMPOTENCY_KEY;
use crate::moves::{abort_move, start_move};
use crate::reads::{
    commit_diff, get_catalog, get_request, get_tenant, get_tenant_status, healthz, list_tenants,
    tenant_history,
};
use crate::writes::{
    create_tenant, delete_tenant, disable_module, enable_module, patch_tenant, promote,
    revert_request,
};

/// Reads (and drops) a refused request's body, within the body limit: a connection whose
/// request body was left unread is closed after the answer, and a client that reuses it at
/// that moment sees it closed without an answer.
async fn drain(body: Body) {
    let _ = axum::body::to_bytes(body, crate::body::BODY_LIMIT).await;
}

/// The API router with its state; serve it with axum locally or under `lambda_http::run`.
pub fn api_router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/catalog", get(get_catalog))
        .route("/cluster/health", get(cluster_health))
        .route("/clusters", get(list_clusters))
        .route("/doctor", get(crate::doctor::doctor))
        .route("/tenants", get(list_tenants).post(create_tenant))
        .route(
            "/tenants/{tenant}",
            get(get_tenant).patch(patch_tenant).delete(delete_tenant),
        )
        .route("/tenants/{tenant}/status", get(get_tenant_status))
        .route(
            "/tenants/{tenant}/envs/{env}/modules/{module}",
            put(enable_module).delete(disable_module),
        )
        .route(
            "/rollouts",
            get(crate::rollouts::list_rollouts).post(crate::rollouts::post_rollout),
        )
        .route("/rollouts/{id}", get(crate::rollouts::get_rollout))
        .route(
            "/rollouts/{id}/{action}",
            post(crate::rollouts::steer_rollout),
        )
        .route("/requests/{id}", get(get_request))
        .route("/requests/{id}/revert", post(revert_request))
        .route("/tenants/{tenant}/history", get(tenant_history))
        .route("/tenants/{tenant}/history/{commit}", get(commit_diff))
        .route("/me", get(crate::caller::me))
        .route("/tenants/{tenant}/envs/{env}/promote", post(promote))
        .route(
            "/tenants/{tenant}/envs/{env}/move",
            post(start_move).delete(abort_move),
        )
        .route("/openapi.json", get(crate::openapi::serve_openapi))
        .layer(axum::middleware::from_fn(crate::etag::tag_answers));
    let console = crate::console::console_router(&state.config);
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .nest("/v1", v1)
        .merge(console)
        .fallback(|body: Body| async {
            drain(body).await;
            ApiError::not_found("no such route")
        })
        .method_not_allowed_fallback(|body: Body| async {
            drain(body).await;
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        });
    if !state.config.cors_origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(state.config.cors_origins.clone())
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PATCH,
                    Method::PUT,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::HeaderName::from_static(IDEMPOTENCY_KEY),
                ]),
        );
    }
    router.with_state(state)
}
