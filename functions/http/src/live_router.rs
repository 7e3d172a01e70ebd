//! Serving from secrets read at run time: each request goes to the router built from the
//! current secrets ([`Live`]), rebuilt when they rotate. Secrets Manager down before anything
//! was read answers 503, never a crash. A webhook whose signature the kept secrets refuse
//! (every 401 of `/webhooks/*` is one) asks for one early read, at most once a minute, and is
//! tried again once if the secrets changed: a sender that rotated first is not refused for the
//! whole TTL.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_usecases::settings::live::Live;
use tower::ServiceExt;

use crate::body::read_limited;
use crate::error::{ApiError, RETRY_AFTER_SECONDS};

/// A router that serves each request with `live`'s current router.
pub fn live_router(live: Arc<Live<Router>>) -> Router {
    Router::new().fallback_service(tower::service_fn(move |request: Request| {
        let live = Arc::clone(&live);
        async move { Ok::<_, Infallible>(route(&live, request).await) }
    }))
}

async fn route(live: &Live<Router>, request: Request) -> Response {
    let router = match live.current().await {
        Ok(router) => router,
        Err(e) => {
            // The reason names variables and secret ids: for the operator's log, not the caller.
            tracing::error!(error = %e, "no secrets to serve with");
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "secrets_unavailable",
                "the function's secrets cannot be read now; retry later",
            )
            .with_retry_after(RETRY_AFTER_SECONDS)
            .into_response();
        }
    };
    if !(live.reads_secrets() && request.uri().path().starts_with("/webhooks/")) {
        return serve(&router, request).await;
    }
    let (parts, body) = request.into_parts();
    let body = match read_limited(&parts.headers, body).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let again = Request::from_parts(parts.clone(), Body::from(body.clone()));
    let first = serve(&router, Request::from_parts(parts, Body::from(body))).await;
    if first.status() != StatusCode::UNAUTHORIZED {
        return first;
    }
    match live.read_early().await {
        Some(rotated) => {
            tracing::info!("a refused signature found the secrets rotated: tried again");
            serve(&rotated, again).await
        }
        None => first,
    }
}

async fn serve(router: &Router, request: Request<Body>) -> Response {
    match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
