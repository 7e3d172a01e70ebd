//! Changes as first-class operations: a tenant's history, the revert of a request and the
//! promotion of modules between environments. Reverts and promotions are writes like any other
//! (idempotency, modes, group commit) through [`crate::writes::run_write`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_contract::{ErrorResponse, HistoryPage, PlannedChangeView, PromoteBody};
use berth_core::body::parse_promotion;
use berth_core::{Action, Request};
use berth_usecases::history::{DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT};
use berth_usecases::preview::preview;
use berth_usecases::revert::{RevertAsk, prepare_revert};

use crate::AppState;
use crate::answers::{PromoteAnswers, WriteAnswers};
use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::extract::{
    EnvPath, QueryParams, RequestIdPath, TenantPath, WriteContext, flag, query_params, write_query,
};
use crate::views;
use crate::writes::{WriteIntent, run_write};

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
    TenantPath(tenant): TenantPath,
    query: QueryParams,
) -> Result<Json<HistoryPage>, ApiError> {
    principal.require_tenant(tenant.as_str())?;
    let params = query_params(query, &["limit", "before"])?;
    let limit = match params.get("limit") {
        None => DEFAULT_HISTORY_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_HISTORY_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("must be a number from 1 to {MAX_HISTORY_LIMIT}"),
                )
            })?,
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

#[utoipa::path(post, path = "/v1/requests/{id}/revert", tag = "requests",
    description = "Restores the files the request changed in its tenant's folder to what they were before it, as a new request (`reverts` names the original; the original shows `reverted_by`). A later change to those files is a 409 naming it and the file, unless `force=true`.",
    params(
        ("id" = String, Path, description = "The request to revert (a ULID)", pattern = "^[0-9A-HJKMNP-TV-Z]{26}$"),
        ("force" = Option<bool>, Query, description = "Restore over later changes to the same files (the commit message says so)"),
        ("confirm" = Option<String>, Query, description = "The tenant's name: required to revert its creation, which deletes it", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits onto the branch, `pr` opens a pull request; default `BERTH_DEFAULT_MODE`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the same request once: a retry gets the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    responses(WriteAnswers),
    security(("bearer" = [])))]
pub(crate) async fn revert_request(
    State(state): State<AppState>,
    context: WriteContext,
    RequestIdPath(id): RequestIdPath,
    query: QueryParams,
) -> Response {
    let intent = revert_intent(&state, &context.writer.0, id, query).await;
    run_write(state, context, intent).await
}

async fn revert_intent(
    state: &AppState,
    principal: &Principal,
    id: ulid::Ulid,
    query: QueryParams,
) -> Result<WriteIntent, ApiError> {
    let q = write_query(state, query, &["force", "confirm"])?;
    let ask = RevertAsk {
        id,
        force: flag(&q.params, "force")?,
        confirm: q.params.get("confirm").cloned(),
    };
    let visibility = principal.visibility();
    let (tenant, action) = prepare_revert(&state.app, &ask, |t| visibility.sees(t)).await?;
    Ok(WriteIntent::without_body(tenant, action, q.mode))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/envs/{env}/promote", tag = "modules",
    description = "Copies the module versions and value overrides of environment `from` onto `env`, as one commit checked like any enable (the tier's rules, the charts' schemas). `dry_run=true` answers the planned diff and commits nothing.",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("env" = String, Path, description = "The environment promoted to", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("dry_run" = Option<bool>, Query, description = "Answer the planned diff; commit nothing"),
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits onto the branch, `pr` opens a pull request; default `BERTH_DEFAULT_MODE`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the same request once: a retry gets the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    request_body = PromoteBody,
    responses(PromoteAnswers),
    security(("bearer" = [])))]
pub(crate) async fn promote(
    State(state): State<AppState>,
    context: WriteContext,
    path: EnvPath,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let mut dry_run = false;
    let intent = async {
        let q = write_query(&state, query, &["dry_run"])?;
        dry_run = flag(&q.params, "dry_run")?;
        let body = body?;
        let promotion = parse_promotion(&path.env, &body.value)?;
        Ok(WriteIntent::new(
            path.tenant,
            Action::Promote(promotion),
            q.mode,
            body,
        ))
    };
    match intent.await {
        Ok(intent) if dry_run => dry_run_answer(&state, &context.writer.0, intent)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        intent => run_write(state, context, intent).await,
    }
}

/// The planned change of `intent`, committed nowhere and recorded nowhere.
async fn dry_run_answer(
    state: &AppState,
    principal: &Principal,
    intent: WriteIntent,
) -> Result<Response, ApiError> {
    principal.require_tenant(intent.tenant.as_str())?;
    let request = Request {
        id: ulid::Ulid::new().to_string(),
        tenant: intent.tenant,
        action: intent.action,
    };
    let planned = preview(&state.app, &request).await?;
    let view: PlannedChangeView = views::planned_change(request.tenant.as_str(), &planned);
    Ok((StatusCode::OK, Json(view)).into_response())
}
