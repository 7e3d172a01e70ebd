//! Changes as first-class operations: a tenant's history, the revert of a request and the
//! promotion of modules between environments. Reverts and promotions are writes like any other
//! (idempotency, modes, group commit) through [`crate::api::run_write`].

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_contract::{
    ErrorResponse, FileChangeView, HistoryPage, PlannedChangeView, PromoteBody, RequestView,
};
use berth_core::body::parse_promotion;
use berth_core::file_diff::diff_files;
use berth_core::{Action, Request};
use berth_usecases::history::{
    DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, tenant_history as history_of,
};
use berth_usecases::preview::preview;
use berth_usecases::revert::{RevertAsk, prepare_revert};

use crate::AppState;
use crate::api::{
    Prepared, QueryParams, WriteParts, flag, path_error, query_params, run_write, tenant_from_path,
    write_query,
};
use crate::auth::Principal;
use crate::body::JsonBody;
use crate::contract;
use crate::error::ApiError;
use crate::openapi::WriteAnswers;

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
    path: Result<Path<String>, PathRejection>,
    query: QueryParams,
) -> Result<Json<HistoryPage>, ApiError> {
    let Path(raw) = path.map_err(path_error)?;
    let tenant = tenant_from_path(&raw)?;
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
    let history = history_of(&state.app, &tenant, limit, before).await?;
    Ok(Json(contract::history_page(tenant.as_str(), &history)))
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
    parts: WriteParts,
    path: Result<Path<String>, PathRejection>,
    query: QueryParams,
) -> Response {
    let prepared = prepare_revert_write(&state, &parts.0.0, path, query).await;
    run_write(state, parts, prepared).await
}

async fn prepare_revert_write(
    state: &AppState,
    principal: &Principal,
    path: Result<Path<String>, PathRejection>,
    query: QueryParams,
) -> Result<Prepared, ApiError> {
    let Path(id) = path.map_err(path_error)?;
    let id = ulid::Ulid::from_string(&id)
        .map_err(|_| ApiError::invalid("id", "must be a request id (a ULID)"))?;
    let q = write_query(state, query, &["force", "confirm"])?;
    let ask = RevertAsk {
        id,
        force: flag(&q.params, "force")?,
        confirm: q.params.get("confirm").cloned(),
    };
    let (tenant, action) = prepare_revert(&state.app, &ask, |t| principal.sees(t)).await?;
    Ok(Prepared {
        tenant,
        action,
        mode: q.mode,
        raw_body: Vec::new(),
    })
}

/// What a promotion answers: the request, or with `dry_run=true` the change it would commit.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, clippy::large_enum_variant)]
pub(crate) enum PromoteAnswers {
    /// Committed (or its branch pushed): the request, to follow at `Location`.
    #[response(status = 202)]
    Accepted(RequestView),
    /// `dry_run=true`: the planned change, nothing committed; or the target already matched
    /// (`no_change`).
    #[response(status = 200)]
    Planned(berth_contract::PromoteAnswer),
    #[response(status = 400)]
    Malformed(ErrorResponse),
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    #[response(status = 403)]
    Forbidden(ErrorResponse),
    /// The tenant or an environment does not exist.
    #[response(status = 404)]
    NotFound(ErrorResponse),
    #[response(status = 409)]
    Conflict(ErrorResponse),
    #[response(status = 413)]
    TooLarge(ErrorResponse),
    /// A field is invalid (a module the tier does not allow, one not enabled in `from`):
    /// `field` names it.
    #[response(status = 422)]
    Invalid(ErrorResponse),
    #[response(status = 503)]
    Unavailable(ErrorResponse),
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
    parts: WriteParts,
    path: Result<Path<(String, String)>, PathRejection>,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let mut dry_run = false;
    let prepared = (|| {
        let Path((tenant, env)) = path.map_err(path_error)?;
        let tenant = tenant_from_path(&tenant)?;
        let q = write_query(&state, query, &["dry_run"])?;
        dry_run = flag(&q.params, "dry_run")?;
        let body = body?;
        let promotion = parse_promotion(&env, &body.value)?;
        Ok(Prepared {
            tenant,
            action: Action::Promote(promotion),
            mode: q.mode,
            raw_body: body.raw.to_vec(),
        })
    })();
    match prepared {
        Ok(prepared) if dry_run => dry_run_answer(&state, &parts.0.0, prepared)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        prepared => run_write(state, parts, prepared).await,
    }
}

/// The planned change of `prepared`, committed nowhere and recorded nowhere.
async fn dry_run_answer(
    state: &AppState,
    principal: &Principal,
    prepared: Prepared,
) -> Result<Response, ApiError> {
    principal.require_tenant(prepared.tenant.as_str())?;
    let request = Request {
        id: ulid::Ulid::new().to_string(),
        tenant: prepared.tenant,
        action: prepared.action,
    };
    let planned = preview(&state.app, &request).await?;
    let view: PlannedChangeView = contract::planned_change(request.tenant.as_str(), &planned);
    Ok((StatusCode::OK, Json(view)).into_response())
}

/// The files the request's commit changed in `tenant`'s folder, with their line counts: `None`
/// until its commit is on the branch (a pull request's branch commit is not read: the cache
/// holds the branch's mainline), or when Git cannot say right now (the rest of the answer
/// stands).
pub(crate) async fn diff_summary(
    state: &AppState,
    tenant: &str,
    view: &RequestView,
) -> Option<Vec<FileChangeView>> {
    use berth_contract::RequestState as S;
    let on_branch = matches!(
        view.state,
        S::Committed | S::Merged | S::Synced | S::Ready | S::Degraded | S::Expired
    );
    let commit = view.commit.clone().filter(|_| on_branch)?;
    let tenant = berth_core::TenantName::parse("tenant", tenant).ok()?;
    let folder = berth_core::paths::tenant_dir(&tenant);
    match state.app.committer.commit_files(commit, folder).await {
        Ok(Some(files)) => Some(
            diff_files(&files.before, &files.after)
                .iter()
                .map(contract::file_summary)
                .collect(),
        ),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(request_id = %view.id, error = %e, "could not read the request's commit for its diff summary");
            None
        }
    }
}
