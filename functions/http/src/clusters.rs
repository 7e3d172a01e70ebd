//! The clusters as the status function's last sweep saw them: `GET /v1/cluster/health` sums
//! them up (the hub, where Argo CD runs, and whether every catalog cluster answered), and
//! `GET /v1/clusters` lists each catalog cluster. Both read the store, never a cluster.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_contract::{ClusterHealthResponse, ClusterList, ClusterView, ErrorDetail, ErrorResponse};
use berth_usecases::read;
use berth_usecases::records::{ClusterHealth, MemberHealth};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

/// `GET /v1/cluster/health`: what the status function saw on its last sweep (from the store,
/// never from the cluster): 200 `{"status": "ok", "version"}`; 200 `{"status":
/// "not_configured"}` with the reason when the deployment has no cluster to read (a fact, not an
/// outage a retry would cure); or 503 `{"status": "error"}` with the reason.
#[utoipa::path(get, path = "/v1/cluster/health", tag = "cluster",
    responses(
        (status = 200, description = "The cluster was read on the last sweep (`degraded` when some catalog clusters were not, named in `unreachable`), or none is configured (`not_configured`, with the reason)", body = ClusterHealthResponse),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 503, description = "The cluster could not be read, or has not been yet", body = ClusterHealthResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn cluster_health(
    State(state): State<AppState>,
    _: Principal,
) -> Result<Response, ApiError> {
    let (status, body) = cluster_health_answer(read::cluster_health(&state.app).await?);
    Ok((status, Json(body)).into_response())
}

fn cluster_health_answer(health: Option<ClusterHealth>) -> (StatusCode, ClusterHealthResponse) {
    let unreadable = |code: &str, message: String, observed_at| ClusterHealthResponse {
        status: "error".into(),
        version: None,
        message: Some(message.clone()),
        observed_at,
        unreachable: Vec::new(),
        error: Some(ErrorDetail {
            code: code.into(),
            message,
            field: None,
        }),
    };
    match health {
        Some(h) if h.status == "ok" => {
            let unreachable: Vec<String> = h
                .clusters
                .iter()
                .filter(|c| c.status != "ok")
                .map(|c| c.name.clone())
                .collect();
            let (status, message) = match unreachable.as_slice() {
                [] => ("ok", None),
                names => (
                    "degraded",
                    Some(format!(
                        "the hub was read; {} of {} catalog clusters could not be: {}",
                        names.len(),
                        h.clusters.len(),
                        names.join(", ")
                    )),
                ),
            };
            (
                StatusCode::OK,
                ClusterHealthResponse {
                    status: status.into(),
                    version: h.version,
                    message,
                    observed_at: Some(h.observed_at),
                    unreachable,
                    error: None,
                },
            )
        }
        Some(h) if h.status == "not_configured" => (
            StatusCode::OK,
            ClusterHealthResponse {
                status: h.status,
                version: None,
                message: h.message,
                observed_at: Some(h.observed_at),
                unreachable: Vec::new(),
                error: None,
            },
        ),
        Some(h) => {
            let message = format!(
                "the cluster could not be read: {}",
                h.message.as_deref().unwrap_or("no reason given")
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                unreadable("cluster_unreachable", message, Some(h.observed_at)),
            )
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            unreadable(
                "cluster_not_observed",
                "the status function has not read the cluster yet".into(),
                None,
            ),
        ),
    }
}

#[utoipa::path(get, path = "/v1/clusters", tag = "cluster", description = "Each cluster of the catalog: whether it answered the last sweep, its version, its labels and environments, its capacity and the tenant-envs Git places on it.",
    responses(
        (status = 200, description = "The clusters as the last sweep read them; empty when the catalog has none", body = ClusterList),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 503, description = "The status function has not swept yet", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_clusters(
    State(state): State<AppState>,
    _: Principal,
) -> Result<Json<ClusterList>, ApiError> {
    let Some(health) = read::cluster_health(&state.app).await? else {
        return Err(ApiError::unavailable(
            "cluster_not_observed",
            "the status function has not read the clusters yet",
        ));
    };
    Ok(Json(ClusterList {
        clusters: health.clusters.into_iter().map(cluster_view).collect(),
        observed_at: health.observed_at,
    }))
}

fn cluster_view(member: MemberHealth) -> ClusterView {
    ClusterView {
        reachable: member.status == "ok",
        name: member.name,
        version: member.version,
        message: member.message,
        environments: member.environments,
        labels: member.labels,
        capacity: member.capacity,
        placed: member.placed,
    }
}
