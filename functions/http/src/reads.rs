//! The reads of `/v1`: the service's health, the catalog, the tenants, a
//! tenant, its status and its history, a request. What each reads is `berth_usecases::read`'s; this maps it
//! onto the contract.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use berth_contract::{
    CatalogResponse, CommitDiffView, EnvDetail, ErrorResponse, HistoryPage, ModuleDetail,
    RequestView, ServiceHealth, TenantDetail, TenantList, TenantStatusResponse, TenantSummary,
};
use berth_core::health::Health;
use berth_usecases::history::{DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT};
use berth_usecases::lookup::{RequestLookup, look_up_request};
use berth_usecases::read;
use berth_usecases::tenant_page::{TenantQuery, tenant_page};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{
    QueryParams, RequestIdPath, TenantCommitPath, TenantPath, page_limit, query_params,
};
use crate::views;

#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The function answers", body = ServiceHealth)))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Json<ServiceHealth> {
    Json(ServiceHealth {
        status: "ok".into(),
        version: state.config.version.to_string(),
    })
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
    let at_tip = read::catalog(&state.app).await?;
    Ok(Json(CatalogResponse {
        revision: at_tip.revision,
        catalog: views::catalog_with_charts(&at_tip.catalog, &at_tip.charts)?,
    }))
}

#[utoipa::path(get, path = "/v1/tenants", tag = "tenants",
    params(
        ("limit" = Option<u32>, Query, description = "Tenants per page, 1 to 1000; every tenant when left out", minimum = 1, maximum = 1000),
        ("after" = Option<String>, Query, description = "The `next_after` of the previous page: tenants named after it"),
        ("q" = Option<String>, Query, description = "Text in the name, display name or owner, any case (at most 100 characters)"),
        ("health" = Option<String>, Query, description = "Only tenants of this health"),
        ("tier" = Option<String>, Query, description = "Only tenants of this tier"),
        ("state" = Option<String>, Query, description = "Only `active`, `suspended` or `invalid` tenants"),
    ),
    responses(
        (status = 200, description = "The tenants the caller may see, in name order, with the total and the counts by health", body = TenantList),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 422, description = "A query parameter is invalid: `field` names it", body = ErrorResponse),
        (status = 503, description = "The store could not be read", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_tenants(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryParams,
) -> Result<Json<TenantList>, ApiError> {
    let query = tenant_query(query_params(
        query,
        &["limit", "after", "q", "health", "tier", "state"],
    )?)?;
    let listed = read::tenants(&state.app, &principal.visibility()).await?;
    let page = tenant_page(listed, &query);
    let tenants = page
        .tenants
        .into_iter()
        .map(|listed| {
            let t = listed.entry;
            TenantSummary {
                health: listed.health,
                last_change: t.last_change.as_ref().map(views::last_change),
                problems: t.problems.iter().map(views::tenant_problem).collect(),
                name: t.name,
                tier: t.tier,
                state: t.state,
                display_name: t.display_name,
                owner: t.owner,
                last_request: t.last_request,
                updated_at: t.updated_at,
            }
        })
        .collect();
    Ok(Json(TenantList {
        tenants,
        total: page.total,
        counts: page.counts,
        next_after: page.next_after,
    }))
}

/// The largest page of tenants.
const MAX_TENANT_PAGE: usize = 1000;

/// Reads the tenant list's query, refusing a malformed part by name.
fn tenant_query(mut params: HashMap<String, String>) -> Result<TenantQuery, ApiError> {
    let limit = params
        .remove("limit")
        .map(|raw| page_limit(&raw, MAX_TENANT_PAGE))
        .transpose()?;
    let health = params.remove("health");
    if let Some(health) = &health
        && Health::parse(health).as_str() != health
    {
        return Err(ApiError::invalid(
            "health",
            "must be healthy, progressing, degraded, unhealthy, missing, suspended, orphaned or unknown",
        ));
    }
    let state = params.remove("state");
    if let Some(state) = &state
        && !["active", "suspended", "invalid"].contains(&state.as_str())
    {
        return Err(ApiError::invalid(
            "state",
            "must be active, suspended or invalid",
        ));
    }
    let bounded = |name: &'static str, value: Option<String>, max: usize| match value {
        Some(v) if v.chars().count() > max => Err(ApiError::invalid(
            name,
            format!("must be at most {max} characters"),
        )),
        other => Ok(other.filter(|v| !v.is_empty())),
    };
    Ok(TenantQuery {
        text: bounded("q", params.remove("q"), 100)?,
        tier: bounded("tier", params.remove("tier"), 63)?,
        after: bounded("after", params.remove("after"), 63)?,
        health,
        state,
        limit,
    })
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
    TenantPath(tenant): TenantPath,
) -> Result<Json<TenantDetail>, ApiError> {
    let read = read::tenant(&state.app, &principal.visibility(), &tenant).await?;
    let envs = read
        .envs
        .into_iter()
        .map(|(env, e)| {
            let modules = e
                .modules
                .into_iter()
                .map(|(m, v)| {
                    (
                        m,
                        ModuleDetail {
                            version: v.version,
                            values: v.values,
                        },
                    )
                })
                .collect();
            (
                env,
                EnvDetail {
                    namespace: e.namespace,
                    modules,
                    cluster: e.placement.as_ref().map(|p| p.cluster.to_string()),
                    moving_to: e.placement.and_then(|p| p.moving_to).map(|c| c.to_string()),
                },
            )
        })
        .collect();
    let indexed = read.indexed;
    Ok(Json(TenantDetail {
        name: tenant.to_string(),
        display_name: indexed.display_name,
        owner: indexed.owner,
        tier: indexed.tier,
        state: indexed.state,
        created_by: indexed.created_by.unwrap_or_default(),
        last_change: read
            .entry
            .as_ref()
            .and_then(|e| e.last_change.as_ref())
            .map(views::last_change),
        problems: indexed.problems.iter().map(views::review_problem).collect(),
        revision: read.revision,
        envs,
        health: read.health.as_str().to_owned(),
        statuses: read.statuses.iter().map(views::module_status).collect(),
        urls: read.urls,
    }))
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
    TenantPath(tenant): TenantPath,
) -> Result<Json<TenantStatusResponse>, ApiError> {
    // The ETag and the 304 are every GET's (`crate::etag`).
    let read = read::tenant_statuses(&state.app, &principal.visibility(), &tenant).await?;
    Ok(Json(TenantStatusResponse {
        tenant: tenant.to_string(),
        health: read.health.as_str().to_owned(),
        statuses: read.statuses.iter().map(views::module_status).collect(),
    }))
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
    RequestIdPath(id): RequestIdPath,
) -> Result<Json<RequestView>, ApiError> {
    let visibility = principal.visibility();
    match look_up_request(&state.app, id).await? {
        RequestLookup::Recorded(record) if visibility.sees(&record.tenant) => {
            let mut view = views::request_view(&record);
            view.changes = diff_summary(&state, &view).await;
            Ok(Json(view))
        }
        // A commit naming no tenant may carry anyone's request: only callers who see every
        // tenant get it.
        RequestLookup::Landed(landed)
            if landed
                .tenant
                .as_deref()
                .map_or(visibility.sees_every_tenant(), |t| visibility.sees(t)) =>
        {
            let mut view = views::landed_view(&landed);
            view.changes = diff_summary(&state, &view).await;
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

/// The files the request's commit changed in its tenant's folder, with their line counts:
/// `None` until its commit is on the branch (a pull request's branch commit is not read: the
/// cache holds the branch's mainline), or when Git cannot say right now (the rest of the
/// answer stands).
async fn diff_summary(
    state: &AppState,
    view: &RequestView,
) -> Option<Vec<berth_contract::FileChangeView>> {
    use berth_contract::RequestState as S;
    let on_branch = matches!(
        view.state,
        S::Committed | S::Merged | S::Synced | S::Ready | S::Degraded | S::Expired
    );
    let commit = view.commit.clone().filter(|_| on_branch)?;
    let diffs = read::commit_diff(&state.app, &view.tenant, commit).await?;
    Some(diffs.iter().map(views::file_summary).collect())
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/history", tag = "tenants",
    description = "The commits that changed the tenant's folder, newest first: the requests each carried (who asked, its state while its record exists) and the files it changed. Commits people made without Berth are listed with `by_berth: false`.",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("limit" = Option<u32>, Query, description = "Entries per page, 1 to 100; default 20", minimum = 1, maximum = 100),
        ("before" = Option<String>, Query, description = "The `next_before` of the previous page: entries older than that commit", pattern = "^[0-9a-f]{40}$"),
    ),
    responses(
        (status = 200, description = "A page of the tenant's history", body = HistoryPage),
        (status = 400, description = "The path or query is malformed", body = ErrorResponse),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 403, description = "The caller may not see this tenant", body = ErrorResponse),
        (status = 422, description = "A query parameter is invalid: `field` names it", body = ErrorResponse),
        (status = 503, description = "Git or the store could not be read", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn tenant_history(
    State(state): State<AppState>,
    principal: Principal,
    path: TenantPath,
    query: QueryParams,
) -> Result<Json<HistoryPage>, ApiError> {
    let tenant = path.0;
    principal.require_tenant(tenant.as_str())?;
    let params = query_params(query, &["limit", "before"])?;
    let limit = match params.get("limit") {
        None => DEFAULT_HISTORY_LIMIT,
        Some(raw) => page_limit(raw, MAX_HISTORY_LIMIT)?,
    };
    let before = match params.get("before") {
        None => None,
        Some(sha) if is_commit_id(sha) => Some(sha.clone()),
        Some(_) => {
            return Err(ApiError::invalid(
                "before",
                "must be a commit id (40 lowercase hex digits), as `next_before` gives it",
            ));
        }
    };
    let history =
        berth_usecases::history::tenant_history(&state.app, &tenant, limit, before).await?;
    Ok(Json(views::history_page(tenant.as_str(), &history)))
}

fn is_commit_id(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/history/{commit}", tag = "tenants",
    description = "The files one commit changed in the tenant's folder, each with its unified diff: what a history entry's `files` summarise.",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("commit" = String, Path, description = "A commit of the branch, as history entries name it", pattern = "^[0-9a-f]{40}$"),
    ),
    responses(
        (status = 200, description = "The commit's files under the tenant's folder (empty when it changed none)", body = CommitDiffView),
        (status = 401, description = "No valid credentials", body = ErrorResponse),
        (status = 403, description = "The caller may not see this tenant", body = ErrorResponse),
        (status = 404, description = "No such commit on the branch", body = ErrorResponse),
        (status = 422, description = "The tenant or commit is malformed: `field` names it", body = ErrorResponse),
        (status = 503, description = "Git could not be read; retry", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn commit_diff(
    State(state): State<AppState>,
    principal: Principal,
    TenantCommitPath { tenant, commit }: TenantCommitPath,
) -> Result<Json<CommitDiffView>, ApiError> {
    principal.require_tenant(tenant.as_str())?;
    if !is_commit_id(&commit) {
        return Err(ApiError::invalid(
            "commit",
            "must be a commit id (40 lowercase hex digits), as history entries give it",
        ));
    }
    let files = read::tenant_commit_diff(&state.app, &tenant, commit.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no commit {commit} on the branch")))?;
    Ok(Json(CommitDiffView {
        tenant: tenant.to_string(),
        commit,
        files: files.iter().map(views::file_diff_view).collect(),
    }))
}
