//! `/v1/rollouts`: one change to many tenants, in waves. `POST` plans it against the branch
//! tip (`dry_run=true` answers the plan and commits nothing) and records it; the status
//! function then commits each wave once the one before passed its gates. `GET` shows rollouts
//! and their tenants; `pause`, `resume`, `abort` and `revert` steer one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_contract::{
    LeftOutView, RolloutList, RolloutPlanView, RolloutView, TenantPlanView, WavePlanView,
};
use berth_core::rollout::RolloutSpec;
use berth_core::rollout::body::parse_rollout;
use berth_core::rollout::plan::LeftOut;
use berth_usecases::records::RolloutRecord;
use berth_usecases::rollouts::control::{Control, control};
use berth_usecases::rollouts::start::{StartAsk, start};
use berth_usecases::time::epoch_seconds_now;

use crate::AppState;
use crate::auth::{Principal, Writer};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::extract::{
    QueryParams, WriteQuery, flag, idempotency_key, page_limit, query_params, write_query,
};
use crate::rollout_views::rollout_view;
use crate::views::file_diff_view;

#[utoipa::path(post, path = "/v1/rollouts", tag = "rollouts",
    description = "One change to many tenants in waves: the selector resolved against the branch tip, each tenant's change checked exactly as a single request's (tier rules, dependencies, chart schemas), canaries first, then the growth steps. `dry_run=true` answers the plan and commits nothing. Otherwise the plan is recorded (202) and the status function commits each wave once the one before is ready and soaked, within the failure budget. A tenant whose result is invalid refuses the rollout (422 naming `tenants.<tenant>.<field>`) unless `skip_invalid`. A token scoped to a tenant may select only that tenant.",
    params(
        ("dry_run" = Option<bool>, Query, description = "Answer the plan; record and commit nothing"),
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits each wave onto the branch; `pr` opens a pull request per wave, and a wave counts once it is merged (the service's default mode when absent)"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the rollout its first call started", pattern = "^[!-~]{1,255}$"),
    ),
    request_body = berth_contract::RolloutBody,
    responses(crate::answers::RolloutPlanAnswers),
    security(("bearer" = [])))]
pub(crate) async fn post_rollout(
    State(state): State<AppState>,
    Writer(principal): Writer,
    headers: HeaderMap,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let answer = async {
        let WriteQuery { mode, params } = write_query(&state, query, &["dry_run"])?;
        let key = idempotency_key(&headers)?;
        let body = body?.value;
        let spec = parse_rollout(&body)?;
        require_scope(&principal, &spec)?;
        if flag(&params, "dry_run")? {
            let planned = berth_usecases::rollouts::plan(&state.app, &spec).await?;
            return Ok::<_, ApiError>((StatusCode::OK, Json(plan_view(&planned))).into_response());
        }
        let started = start(
            &state.app,
            StartAsk {
                body: &body,
                spec: &spec,
                requested_by: Some(principal.identity.clone()),
                idempotency_key: key,
                mode,
            },
        )
        .await?;
        let view = rollout_view(&started.record, None, epoch_seconds_now());
        Ok((StatusCode::ACCEPTED, Json(view)).into_response())
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// A rollout id is a ULID; anything else is refused before the store is asked.
fn rollout_id(id: &str) -> Result<&str, ApiError> {
    ulid::Ulid::from_string(id)
        .map(|_| id)
        .map_err(|_| ApiError::invalid("id", "not a rollout id (a ULID)"))
}

/// A token scoped to a tenant may name only that tenant.
fn require_scope(principal: &Principal, spec: &RolloutSpec) -> Result<(), ApiError> {
    let Some(scope) = &principal.tenant else {
        return Ok(());
    };
    if selects_only(spec, scope) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "selector.tenants: this token is scoped to {scope}; select only it"
    ))
    .with_field("selector.tenants"))
}

/// Whether `spec` names tenants, and only `tenant`.
fn selects_only(spec: &RolloutSpec, tenant: &str) -> bool {
    !spec.selector.tenants.is_empty() && spec.selector.tenants.iter().all(|t| t.as_str() == tenant)
}

/// Whether `principal` may see `record`: every rollout, or for a tenant-scoped token those
/// that select only its tenant.
fn sees(principal: &Principal, record: &RolloutRecord) -> bool {
    let Some(scope) = &principal.tenant else {
        return true;
    };
    berth_usecases::rollouts::stored_spec(record).is_ok_and(|spec| selects_only(&spec, scope))
}

/// Finished rollouts per page when the caller names no `limit`, and at most.
const DEFAULT_ROLLOUT_LIMIT: usize = 50;
const MAX_ROLLOUT_LIMIT: usize = 200;

#[utoipa::path(get, path = "/v1/rollouts", tag = "rollouts",
    description = "The rollouts the caller may see, newest first, with each wave's state and counts (no per-tenant lists): every open rollout on the first page, then finished ones, `limit` a page. A tenant-scoped caller's page holds only its own, so it may hold fewer than `limit`.",
    params(
        ("limit" = Option<u32>, Query, description = "Finished rollouts per page, 1 to 200; default 50", minimum = 1, maximum = 200),
        ("before" = Option<String>, Query, description = "The `next_before` of the previous page: finished rollouts older than that one"),
    ),
    responses(
        (status = 200, description = "A page of rollouts", body = RolloutList),
        (status = 400, description = "The query is malformed", body = berth_contract::ErrorResponse),
        (status = 401, description = "No valid credentials", body = berth_contract::ErrorResponse),
        (status = 422, description = "A query parameter is invalid: `field` names it", body = berth_contract::ErrorResponse),
        (status = 503, description = "The store could not be read", body = berth_contract::ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_rollouts(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryParams,
) -> Result<Json<RolloutList>, ApiError> {
    let params = query_params(query, &["limit", "before"])?;
    let limit = match params.get("limit") {
        None => DEFAULT_ROLLOUT_LIMIT,
        Some(raw) => page_limit(raw, MAX_ROLLOUT_LIMIT)?,
    };
    let before = match params.get("before") {
        None => None,
        Some(id) if ulid::Ulid::from_string(id).is_ok() => Some(id.as_str()),
        Some(_) => {
            return Err(ApiError::invalid(
                "before",
                "must be a rollout id (a ULID), as `next_before` gives it",
            ));
        }
    };
    let now = epoch_seconds_now();
    let page = berth_usecases::rollouts::list(&state.app, before, limit).await?;
    let rollouts = page
        .rollouts
        .iter()
        .filter(|r| sees(&principal, r))
        .map(|r| rollout_view(r, None, now))
        .collect();
    Ok(Json(RolloutList {
        rollouts,
        next_before: page.next_before,
    }))
}

#[utoipa::path(get, path = "/v1/rollouts/{id}", tag = "rollouts",
    description = "One rollout: its waves, each tenant's state (`planned`, `committed`, `syncing`, `ready`, `soaking`, `failed`, `skipped`, `held` or `reverted`), counts by state, the pause reason, the commits and when each wave was committed, ready and reverted.",
    params(("id" = String, Path, description = "The rollout's id")),
    responses(
        (status = 200, description = "The rollout", body = RolloutView),
        (status = 401, description = "No valid credentials", body = berth_contract::ErrorResponse),
        (status = 404, description = "No such rollout the caller may see", body = berth_contract::ErrorResponse),
        (status = 422, description = "The id is not a ULID", body = berth_contract::ErrorResponse),
        (status = 503, description = "The store could not be read", body = berth_contract::ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_rollout(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<RolloutView>, ApiError> {
    let (record, waves) = berth_usecases::rollouts::show(&state.app, rollout_id(&id)?).await?;
    if !sees(&principal, &record) {
        return Err(ApiError::not_found(format!("no rollout {id}")));
    }
    Ok(Json(rollout_view(
        &record,
        Some(&waves),
        epoch_seconds_now(),
    )))
}

#[utoipa::path(post, path = "/v1/rollouts/{id}/{action}", tag = "rollouts",
    description = "Steers a rollout: `pause` (no wave is committed while paused), `resume`, `abort` (applied waves stay), or `revert` (the status function commits one inverse change per applied wave, newest first, restoring each tenant's files byte for byte; a tenant changed since is reported and left as it is unless `force=true`). Asking for the state it is in changes nothing.",
    params(
        ("id" = String, Path, description = "The rollout's id"),
        ("action" = String, Path, description = "`pause`, `resume`, `abort` or `revert`"),
        ("force" = Option<bool>, Query, description = "revert only: restore over later changes"),
    ),
    responses(
        (status = 200, description = "The rollout as it is now", body = RolloutView),
        (status = 401, description = "No valid credentials", body = berth_contract::ErrorResponse),
        (status = 403, description = "A read-only token", body = berth_contract::ErrorResponse),
        (status = 404, description = "No such rollout, or no such action", body = berth_contract::ErrorResponse),
        (status = 409, description = "The rollout's state does not allow it (`state`)", body = berth_contract::ErrorResponse),
        (status = 422, description = "The id is not a ULID", body = berth_contract::ErrorResponse),
        (status = 503, description = "The store could not be written", body = berth_contract::ErrorResponse),
    ),
    security(("bearer" = [])))]
pub(crate) async fn steer_rollout(
    State(state): State<AppState>,
    Writer(principal): Writer,
    Path((id, action)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Json<RolloutView>, ApiError> {
    let params = query_params(query, &["force"])?;
    let force = flag(&params, "force")?;
    let asked = match action.as_str() {
        "pause" => Control::Pause,
        "resume" => Control::Resume,
        "abort" => Control::Abort,
        "revert" => Control::Revert { force },
        _ => return Err(ApiError::not_found("no such route")),
    };
    let record = berth_usecases::rollouts::get(&state.app, rollout_id(&id)?).await?;
    if !sees(&principal, &record) {
        return Err(ApiError::not_found(format!("no rollout {id}")));
    }
    let record = control(&state.app, &id, asked, &principal.identity).await?;
    Ok(Json(rollout_view(&record, None, epoch_seconds_now())))
}

fn plan_view(planned: &berth_usecases::rollouts::PlannedRollout) -> RolloutPlanView {
    let plan = &planned.plan;
    RolloutPlanView {
        revision: planned.revision.clone(),
        hash: plan.hash.clone(),
        tenants: plan.tenants() as u64,
        waves: plan
            .waves
            .iter()
            .enumerate()
            .map(|(i, wave)| WavePlanView {
                number: i as u64 + 1,
                tenants: wave
                    .iter()
                    .map(|t| TenantPlanView {
                        tenant: t.tenant.to_string(),
                        envs: t.envs.iter().map(|e| e.to_string()).collect(),
                        files: t.files.iter().map(file_diff_view).collect(),
                    })
                    .collect(),
            })
            .collect(),
        left_out: plan
            .left_out
            .iter()
            .map(|(tenant, why)| {
                let (reason, detail) = match why {
                    LeftOut::NoChange => ("no_change", None),
                    LeftOut::Held { until } => ("held", Some(format!("until {until}"))),
                    LeftOut::Invalid { field, reason } => {
                        ("invalid", Some(format!("{field}: {reason}")))
                    }
                };
                LeftOutView {
                    tenant: tenant.to_string(),
                    reason: reason.into(),
                    detail,
                }
            })
            .collect(),
    }
}
