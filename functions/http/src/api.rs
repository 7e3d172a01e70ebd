//! The `/v1` API and `/healthz` (DESIGN.md §5). Reads come from the store or from Git at the
//! branch tip; writes go through [`crate::submit`].

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use berth_contract::{
    CatalogResponse, ClusterHealthResponse, CreateTenantBody, EnvDetail, ErrorDetail,
    ErrorResponse, ModuleChangeBody, ModuleDetail, PatchTenantBody, RequestView, ServiceHealth,
    TenantDetail, TenantList, TenantStatusResponse, TenantSummary,
};
use berth_core::body::{parse_create_tenant, parse_module_change, parse_tenant_patch};
use berth_core::catalog::CATALOG_PATH;
use berth_core::plan::{TenantModel, load_catalog, read_set};
use berth_core::tenant_index::index_tenant;
use berth_core::{Action, EnvName, ModuleName, Request, TenantName};
use serde_json::Value;
use tower_http::cors::CorsLayer;
use tracing::Instrument;

use crate::AppState;
use crate::auth::{Principal, Writer};
use crate::body::JsonBody;
use crate::config::Mode;
use crate::contract;
use crate::deadline::Deadline;
use crate::error::{ApiError, RETRY_AFTER_SECONDS};
use crate::idempotency::{self, Begin, Finish};
use crate::openapi::WriteAnswers;
use berth_usecases::group_commit::WhenUndecided;
use berth_usecases::lookup::{RequestLookup, look_up_request};
use berth_usecases::submit::{Submission, submit_by};

/// The API router with its state; serve it with axum locally or under `lambda_http::run`.
pub fn api_router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/catalog", get(get_catalog))
        .route("/cluster/health", get(cluster_health))
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
        .route("/requests/{id}", get(get_request))
        .route(
            "/requests/{id}/revert",
            post(crate::changes::revert_request),
        )
        .route(
            "/tenants/{tenant}/history",
            get(crate::changes::tenant_history),
        )
        .route(
            "/tenants/{tenant}/envs/{env}/promote",
            post(crate::changes::promote),
        )
        .route("/openapi.json", get(crate::openapi::serve_openapi));
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .nest("/v1", v1)
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
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
                    header::HeaderName::from_static(idempotency::HEADER),
                ]),
        );
    }
    router.with_state(state)
}

#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The function answers", body = ServiceHealth)))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Json<ServiceHealth> {
    Json(ServiceHealth {
        status: "ok".into(),
        version: state.config.version.to_string(),
    })
}

/// `GET /v1/cluster/health`: what the status function saw on its last sweep (from the store,
/// never from the cluster): 200 `{"status": "ok", "version"}`; 200 `{"status":
/// "not_configured"}` with the reason when the deployment has no cluster to read (a fact, not an
/// outage a retry would cure); or 503 `{"status": "error"}` with the reason.
#[utoipa::path(get, path = "/v1/cluster/health", tag = "cluster",
    responses(
        (status = 200, description = "The cluster was read on the last sweep, or none is configured (`not_configured`, with the reason)", body = ClusterHealthResponse),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 503, description = "The cluster could not be read, or has not been yet", body = ClusterHealthResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn cluster_health(
    State(state): State<AppState>,
    _: Principal,
) -> Result<Response, ApiError> {
    let health = state.app.store.get_cluster_health().await?;
    let unreadable = |code: &str, message: String, observed_at| ClusterHealthResponse {
        status: "error".into(),
        version: None,
        message: Some(message.clone()),
        observed_at,
        error: Some(ErrorDetail {
            code: code.into(),
            message,
            field: None,
        }),
    };
    let (status, body) = match health {
        Some(h) if h.status == "ok" => (
            StatusCode::OK,
            ClusterHealthResponse {
                status: "ok".into(),
                version: h.version,
                message: None,
                observed_at: Some(h.observed_at),
                error: None,
            },
        ),
        Some(h) if h.status == "not_configured" => (
            StatusCode::OK,
            ClusterHealthResponse {
                status: h.status,
                version: None,
                message: h.message,
                observed_at: Some(h.observed_at),
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
    };
    Ok((status, Json(body)).into_response())
}

#[utoipa::path(get, path = "/v1/catalog", tag = "catalog",
    responses(
        (status = 200, description = "The catalog at the branch tip", body = CatalogResponse),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 409, description = "The repository's catalog is invalid", body = ErrorResponse),
        (status = 503, description = "Git could not be read", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_catalog(
    State(state): State<AppState>,
    _: Principal,
) -> Result<Json<CatalogResponse>, ApiError> {
    let snapshot = state
        .app
        .committer
        .read(vec![CATALOG_PATH.to_owned()])
        .await?;
    let catalog = load_catalog(&snapshot.files)?;
    Ok(Json(CatalogResponse {
        revision: snapshot.tip,
        catalog: contract::catalog(&catalog)?,
    }))
}

#[utoipa::path(get, path = "/v1/tenants", tag = "tenants",
    responses(
        (status = 200, description = "The tenants the caller may see", body = TenantList),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 503, description = "The store could not be read", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_tenants(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<TenantList>, ApiError> {
    let health: std::collections::HashMap<String, String> = state
        .app
        .store
        .list_tenant_health()
        .await?
        .into_iter()
        .map(|h| (h.tenant, h.health))
        .collect();
    let tenants = state
        .app
        .store
        .list_tenants()
        .await?
        .into_iter()
        .filter(|t| principal.sees(&t.name))
        .map(|t| TenantSummary {
            health: health
                .get(&t.name)
                .cloned()
                .unwrap_or_else(|| "unknown".into()),
            last_change: t.last_change.as_ref().map(contract::last_change),
            problems: t.problems.iter().map(contract::tenant_problem).collect(),
            name: t.name,
            tier: t.tier,
            state: t.state,
            display_name: t.display_name,
            owner: t.owner,
            last_request: t.last_request,
            updated_at: t.updated_at,
        })
        .collect();
    Ok(Json(TenantList { tenants }))
}

pub(crate) fn tenant_from_path(raw: &str) -> Result<TenantName, ApiError> {
    Ok(TenantName::parse("tenant", raw)?)
}

pub(crate) fn path_error(e: PathRejection) -> ApiError {
    ApiError::malformed(format!("bad path: {}", e.body_text()))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses(
        (status = 200, description = "The tenant as Git has it, with its last observed health", body = TenantDetail),
        (status = 400, description = "The path is malformed", body = ErrorResponse),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 403, description = "The caller may not see this tenant", body = ErrorResponse),
        (status = 404, description = "No such tenant", body = ErrorResponse),
        (status = 422, description = "The tenant's name is not a valid name", body = ErrorResponse),
        (status = 503, description = "Git or the store could not be read", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_tenant(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<TenantDetail>, ApiError> {
    let Path(raw) = path.map_err(path_error)?;
    let tenant = tenant_from_path(&raw)?;
    principal.require_tenant(tenant.as_str())?;
    let snapshot = state.app.committer.read(read_set(&tenant)).await?;
    let dir = berth_core::paths::tenant_dir(&tenant);
    if !snapshot.files.keys().any(|p| p.starts_with(&dir)) {
        return Err(
            ApiError::not_found(format!("tenant {tenant} does not exist")).with_field("tenant"),
        );
    }
    // A tenant broken in Git is shown as such, with what can be read of it, never refused.
    let reviewer = berth_core::review::Reviewer::new(&snapshot.files);
    let indexed = index_tenant(&reviewer, &tenant, &snapshot.files);
    let model = TenantModel::read(&tenant, &snapshot.files).ok().flatten();
    let statuses = state.app.store.list_statuses(tenant.as_str()).await?;
    let entry = state.app.store.get_tenant(tenant.as_str()).await?;
    let envs = model
        .iter()
        .flat_map(|m| m.envs.keys().map(move |env| (m, env)))
        .map(|(model, env)| {
            let modules = model
                .modules
                .iter()
                .filter(|((e, _), _)| e == env)
                .map(|((_, m), v)| {
                    let detail = ModuleDetail {
                        version: v.module.version.clone(),
                        values: serde_json::to_value(&v.overrides).unwrap_or(Value::Null),
                    };
                    (m.to_string(), detail)
                })
                .collect();
            let detail = EnvDetail {
                namespace: format!("{tenant}-{env}"),
                modules,
            };
            (env.to_string(), detail)
        })
        .collect();
    let mut urls: Vec<String> = statuses.iter().flat_map(|s| s.urls.clone()).collect();
    urls.sort();
    urls.dedup();
    Ok(Json(TenantDetail {
        name: tenant.to_string(),
        display_name: indexed.display_name,
        owner: indexed.owner,
        tier: indexed.tier,
        state: indexed.state,
        created_by: indexed.created_by.unwrap_or_default(),
        last_change: entry
            .as_ref()
            .and_then(|e| e.last_change.as_ref())
            .map(contract::last_change),
        problems: indexed
            .problems
            .iter()
            .map(contract::review_problem)
            .collect(),
        revision: snapshot.tip,
        envs,
        health: overall_health(&statuses).to_owned(),
        statuses: statuses.iter().map(contract::module_status).collect(),
        urls,
    }))
}

/// The worst health among the parts of a tenant Git wants; `unknown` when none was observed.
fn overall_health(statuses: &[berth_store::StatusRecord]) -> &'static str {
    berth_cluster::overall(
        statuses
            .iter()
            .map(|s| berth_cluster::Health::parse(&s.health)),
    )
    .as_str()
}

/// `GET /v1/tenants/{t}/status`: read from the store, never from the cluster; an `ETag` lets a
/// polling frontend get 304 while nothing changed.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/status", tag = "tenants",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the last answer"),
    ),
    responses(
        (status = 200, description = "The tenant's parts as the status function last saw them", body = TenantStatusResponse,
            headers(("ETag" = String, description = "Changes only when the statuses do"))),
        (status = 304, description = "Nothing changed since the ETag given"),
        (status = 400, description = "The path is malformed", body = ErrorResponse),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 403, description = "The caller may not see this tenant", body = ErrorResponse),
        (status = 404, description = "No such tenant", body = ErrorResponse),
        (status = 422, description = "The tenant's name is not a valid name", body = ErrorResponse),
        (status = 503, description = "The store could not be read", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_tenant_status(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = path.map_err(path_error)?;
    let tenant = tenant_from_path(&raw)?;
    principal.require_tenant(tenant.as_str())?;
    let statuses = state.app.store.list_statuses(tenant.as_str()).await?;
    if statuses.is_empty() && state.app.store.get_tenant(tenant.as_str()).await?.is_none() {
        return Err(
            ApiError::not_found(format!("tenant {tenant} does not exist")).with_field("tenant"),
        );
    }
    let answer = TenantStatusResponse {
        tenant: tenant.to_string(),
        health: overall_health(&statuses).to_owned(),
        statuses: statuses.iter().map(contract::module_status).collect(),
    };
    let body = serde_json::to_string(&answer).unwrap_or_default();
    let etag = format!(
        "\"{}\"",
        &idempotency::fingerprint("GET", "status", body.as_bytes())[..32]
    );
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag_header =
        HeaderValue::from_str(&etag).map_err(|_| ApiError::unavailable("internal", "bad etag"))?;
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_header)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (header::ETAG, etag_header),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "The request's id (a ULID)", pattern = "^[0-9A-HJKMNP-TV-Z]{26}$")),
    responses(
        (status = 200, description = "The request and where it is in its life; `expired` with what Git holds once its record outlived the request retention", body = RequestView),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 404, description = "No such request the caller may see, or one that expired and that no commit found carries", body = ErrorResponse),
        (status = 422, description = "The id is not a ULID", body = ErrorResponse),
        (status = 503, description = "The store or Git could not be read", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_request(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<RequestView>, ApiError> {
    let Path(id) = path.map_err(path_error)?;
    let Ok(ulid) = ulid::Ulid::from_string(&id) else {
        return Err(ApiError::invalid("id", "must be a request id (a ULID)"));
    };
    match look_up_request(&state.app, ulid).await? {
        RequestLookup::Recorded(record) if principal.sees(&record.tenant) => {
            let mut view = contract::request_view(&record);
            view.changes = crate::changes::diff_summary(&state, &record.tenant, &view).await;
            Ok(Json(view))
        }
        // A commit naming no tenant may carry anyone's request: only callers who see every
        // tenant get it.
        RequestLookup::Landed(landed)
            if landed
                .tenant
                .as_deref()
                .map_or(principal.sees_every_tenant(), |t| principal.sees(t)) =>
        {
            let mut view = contract::landed_view(&landed);
            view.changes = crate::changes::diff_summary(&state, &view.tenant, &view).await;
            Ok(Json(view))
        }
        RequestLookup::Expired => Err(ApiError::not_found(format!(
            "request {id} has expired: its record is kept {} after it settles, and no commit \
             on the branch since it was made carries it",
            humantime::format_duration(state.app.request_retention)
        ))),
        _ => Err(ApiError::not_found(format!("no request {id}"))),
    }
}

/// The query of a write: `mode` always allowed, plus the names in `extra`.
pub(crate) struct WriteQuery {
    pub(crate) mode: Mode,
    pub(crate) params: HashMap<String, String>,
}

pub(crate) fn write_query(
    state: &AppState,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    extra: &[&str],
) -> Result<WriteQuery, ApiError> {
    let allowed: Vec<&str> = std::iter::once("mode")
        .chain(extra.iter().copied())
        .collect();
    let params = query_params(query, &allowed)?;
    let mode = match params.get("mode") {
        None => state.config.default_mode,
        Some(raw) => {
            Mode::parse(raw).ok_or_else(|| ApiError::invalid("mode", "must be direct or pr"))?
        }
    };
    Ok(WriteQuery { mode, params })
}

/// A query string's parameters, each one of `allowed` (else 422 naming it).
pub(crate) fn query_params(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    allowed: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
    let Query(params) =
        query.map_err(|e| ApiError::malformed(format!("bad query string: {}", e.body_text())))?;
    if let Some(unknown) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            unknown.as_str(),
            "unknown query parameter",
        ));
    }
    Ok(params)
}

/// A `true`/`false` query parameter; absent is `false`.
pub(crate) fn flag(params: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match params.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid(name, "must be true or false")),
    }
}

/// A write whose path, query and body have been checked: ready to run.
pub(crate) struct Prepared {
    pub(crate) tenant: TenantName,
    pub(crate) action: Action,
    pub(crate) mode: Mode,
    pub(crate) raw_body: Vec<u8>,
}

/// Who asks and how: the parts of a write request the shared tail needs.
pub(crate) type WriteParts = (Writer, Deadline, Method, OriginalUri, HeaderMap);

/// Names the request a write created, on every answer after its id was given, errors included.
const REQUEST_ID_HEADER: &str = "x-request-id";

/// The shared tail of every write: tenant scope, idempotency, submission, the answer.
pub(crate) async fn run_write(
    state: AppState,
    parts: WriteParts,
    prepared: Result<Prepared, ApiError>,
) -> Response {
    let (Writer(principal), deadline, method, uri, headers) = parts;
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let request_id = ulid::Ulid::new().to_string();
    let span = tracing::info_span!("write", request_id = %request_id);
    async move {
        if let Err(e) = principal.require_tenant(prepared.tenant.as_str()) {
            return e.into_response();
        }
        let key = match idempotency::key_from(&headers) {
            Ok(k) => k,
            Err(e) => return e.into_response(),
        };
        let path = uri.0.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let fingerprint = idempotency::fingerprint(method.as_str(), path, &prepared.raw_body);
        let (held, request_id, resumed) = match idempotency::begin(&state, "api", key, fingerprint, &request_id).await {
            Ok(Begin::Proceed(held)) => (held, request_id, false),
            // An interrupted first call: settled under its own request id.
            Ok(Begin::Resume { held, request_id }) => (Some(held), request_id, true),
            Ok(Begin::Replay(stored)) => return replay(stored),
            Err(e) => return e.into_response(),
        };
        let request = Request { id: request_id.clone(), tenant: prepared.tenant, action: prepared.action };
        let submission = Submission {
            request,
            source: "api".into(),
            requested_by: Some(principal.identity.clone()),
            mode: prepared.mode,
            when_undecided: WhenUndecided::Refuse,
        };
        let outcome = submit_by(&state.app, submission, resumed, deadline.0).await;
        let (status, body, retry_after, location) = match outcome {
            Ok(done) => {
                tracing::info!(action = %done.record.action, tenant = %done.record.tenant, state = ?done.record.state, "request done");
                let body = serde_json::to_string(&contract::request_view(&done.record)).unwrap_or_default();
                // 200 when the desired state already held, 202 when a change is on its way.
                let status = if done.changed_nothing() { StatusCode::OK } else { StatusCode::ACCEPTED };
                (status, body, None, Some(format!("/v1/requests/{}", done.record.id)))
            }
            Err((error, _record)) => {
                let error = ApiError::from(error);
                tracing::info!(code = error.code, status = error.status.as_u16(), "request refused or failed");
                let body = serde_json::to_string(&error.response_body()).unwrap_or_default();
                let retry_after = error.is_transient().then(|| error.retry_after.unwrap_or(RETRY_AFTER_SECONDS));
                (error.status, body, retry_after, None)
            }
        };
        let transient = retry_after.is_some();
        let finish = if transient { Finish::Unanswered } else { Finish::Answered { status, body: &body } };
        idempotency::finish(&state, held, finish).await;
        let mut response = json_response(status, body);
        if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Ok(id) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
        }
        response
    }
    .instrument(span)
    .await
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn replay(stored: berth_store::StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = json_response(status, stored.body);
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

pub(crate) type QueryParams = Result<Query<HashMap<String, String>>, QueryRejection>;

#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", description = "Creates a tenant: its folder, values files and namespaces, in one commit.",
    params(
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits onto the branch, `pr` opens a pull request; default `BERTH_DEFAULT_MODE`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the same request once: a retry gets the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    request_body = CreateTenantBody,
    responses(WriteAnswers),
    security(("bearer" = [])))]
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    parts: WriteParts,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let prepared = (|| {
        let mode = write_query(&state, query, &[])?.mode;
        let body = body?;
        let (tenant, new) = parse_create_tenant(&body.value)?;
        Ok(Prepared {
            tenant,
            action: Action::CreateTenant(new),
            mode,
            raw_body: body.raw.to_vec(),
        })
    })();
    run_write(state, parts, prepared).await
}

#[utoipa::path(patch, path = "/v1/tenants/{tenant}", tag = "tenants", description = "Changes a tenant's tier, names, or suspends or resumes it.",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits onto the branch, `pr` opens a pull request; default `BERTH_DEFAULT_MODE`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the same request once: a retry gets the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    request_body = PatchTenantBody,
    responses(WriteAnswers),
    security(("bearer" = [])))]
pub(crate) async fn patch_tenant(
    State(state): State<AppState>,
    parts: WriteParts,
    path: Result<Path<String>, PathRejection>,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let prepared = (|| {
        let Path(raw) = path.map_err(path_error)?;
        let tenant = tenant_from_path(&raw)?;
        let mode = write_query(&state, query, &[])?.mode;
        let body = body?;
        let action = Action::UpdateTenant(parse_tenant_patch(&body.value)?);
        Ok(Prepared {
            tenant,
            action,
            mode,
            raw_body: body.raw.to_vec(),
        })
    })();
    run_write(state, parts, prepared).await
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}", tag = "tenants", description = "Deletes a tenant: its files go, and Argo CD prunes what they made.",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("confirm" = String, Query, description = "The tenant's name again: deleting is destructive", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits onto the branch, `pr` opens a pull request; default `BERTH_DEFAULT_MODE`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the same request once: a retry gets the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    responses(WriteAnswers),
    security(("bearer" = [])))]
pub(crate) async fn delete_tenant(
    State(state): State<AppState>,
    parts: WriteParts,
    path: Result<Path<String>, PathRejection>,
    query: QueryParams,
) -> Response {
    let prepared = (|| {
        let Path(raw) = path.map_err(path_error)?;
        let tenant = tenant_from_path(&raw)?;
        let q = write_query(&state, query, &["confirm"])?;
        if q.params.get("confirm").map(String::as_str) != Some(tenant.as_str()) {
            return Err(ApiError::invalid(
                "confirm",
                format!("deleting is destructive: add ?confirm={tenant}"),
            ));
        }
        Ok(Prepared {
            tenant,
            action: Action::DeleteTenant,
            mode: q.mode,
            raw_body: Vec::new(),
        })
    })();
    run_write(state, parts, prepared).await
}

type ModulePath = Result<Path<(String, String, String)>, PathRejection>;

#[utoipa::path(put, path = "/v1/tenants/{tenant}/envs/{env}/modules/{module}", tag = "modules", description = "Enables a module in an environment, or changes its version and values.",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("env" = String, Path, description = "An environment of the tenant", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("module" = String, Path, description = "A module of the catalog", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits onto the branch, `pr` opens a pull request; default `BERTH_DEFAULT_MODE`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the same request once: a retry gets the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    request_body = ModuleChangeBody,
    responses(WriteAnswers),
    security(("bearer" = [])))]
pub(crate) async fn enable_module(
    State(state): State<AppState>,
    parts: WriteParts,
    path: ModulePath,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let prepared = (|| {
        let Path((tenant, env, module)) = path.map_err(path_error)?;
        let tenant = tenant_from_path(&tenant)?;
        let mode = write_query(&state, query, &[])?.mode;
        let body = body?;
        let action = Action::EnableModule(parse_module_change(&env, &module, &body.value)?);
        Ok(Prepared {
            tenant,
            action,
            mode,
            raw_body: body.raw.to_vec(),
        })
    })();
    run_write(state, parts, prepared).await
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/envs/{env}/modules/{module}", tag = "modules", description = "Disables a module in an environment; its data goes with it.",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("env" = String, Path, description = "An environment of the tenant", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("module" = String, Path, description = "A module of the catalog", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits onto the branch, `pr` opens a pull request; default `BERTH_DEFAULT_MODE`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the same request once: a retry gets the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    responses(WriteAnswers),
    security(("bearer" = [])))]
pub(crate) async fn disable_module(
    State(state): State<AppState>,
    parts: WriteParts,
    path: ModulePath,
    query: QueryParams,
) -> Response {
    let prepared = (|| {
        let Path((tenant, env, module)) = path.map_err(path_error)?;
        let tenant = tenant_from_path(&tenant)?;
        let env = EnvName::parse("env", &env)?;
        let module = ModuleName::parse("module", &module)?;
        let mode = write_query(&state, query, &[])?.mode;
        Ok(Prepared {
            tenant,
            action: Action::DisableModule { env, module },
            mode,
            raw_body: Vec::new(),
        })
    })();
    run_write(state, parts, prepared).await
}
