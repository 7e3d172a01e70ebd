//! The writes of `/v1`: create, change and delete a tenant, enable and disable its modules,
//! revert a request, promote an environment's modules (reverts and promotions are writes like
//! any other: idempotency, modes, group commit). Each handler checks its path, query and body into a [`WriteIntent`]; [`run_write`]
//! hands it to the use-cases' one write path and maps the answer onto HTTP.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_contract::{
    CreateTenantBody, ModuleChangeBody, PatchTenantBody, PlannedChangeView, PromoteBody,
};
use berth_core::body::parse_promotion;
use berth_core::body::{parse_create_tenant, parse_module_change, parse_tenant_patch};
use berth_core::{Action, EnvName, ModuleName, Request, TenantName};
use berth_usecases::preview::preview;
use berth_usecases::records::StoredResponse;
use berth_usecases::revert::{RevertAsk, prepare_revert};
use berth_usecases::write::claim::ClaimAsk;
use berth_usecases::write::group_commit::WhenUndecided;
use berth_usecases::write::measure::requests_event;
use berth_usecases::write::run::{Answer, Started, WriteAnswer, run};
use berth_usecases::write::{Submission, Submitted, Unsettled, submit_until};
use tracing::Instrument;

use crate::AppState;
use crate::answers::{PromoteAnswers, WriteAnswers};
use crate::auth::{Principal, Writer};
use crate::body::JsonBody;
use crate::config::Mode;
use crate::error::{ApiError, RETRY_AFTER_SECONDS};
use crate::extract::{
    EnvPath, ModulePath, QueryParams, RequestIdPath, TenantPath, WriteContext, flag,
    idempotency_key, write_query,
};
use crate::views;

/// A write whose path, query and body have been checked: ready to run.
pub(crate) struct WriteIntent {
    pub(crate) tenant: TenantName,
    pub(crate) action: Action,
    pub(crate) mode: Mode,
    /// The body as sent, for the request's fingerprint.
    pub(crate) raw_body: Vec<u8>,
    /// Said in the answer of a write that went through.
    pub(crate) notice: Option<String>,
}

/// Names the request a write created, on every answer after its id was given, errors included.
const REQUEST_ID_HEADER: &str = "x-request-id";

/// Runs a checked write under the caller's tenant scope and deadline: the use-cases claim its
/// `Idempotency-Key`, submit it (or settle its interrupted first run) and keep its answer.
pub(crate) async fn run_write(
    state: AppState,
    context: WriteContext,
    intent: Result<WriteIntent, ApiError>,
) -> Response {
    let WriteContext {
        writer: Writer(principal),
        deadline,
        method,
        uri,
        headers,
    } = context;
    let intent = match intent {
        Ok(intent) => intent,
        Err(e) => {
            // Refused before it became a request: still a request the caller made.
            state
                .app
                .metrics
                .emit(requests_event("none", "api", "rejected"));
            return e.into_response();
        }
    };
    let request_id = ulid::Ulid::new().to_string();
    let span = tracing::info_span!("write", request_id = %request_id);
    async move {
        if let Err(e) = principal.require_tenant(intent.tenant.as_str()) {
            return e.into_response();
        }
        let key = match idempotency_key(&headers) {
            Ok(key) => key,
            Err(e) => return e.into_response(),
        };
        let path = uri.0.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let ask = ClaimAsk {
            source: "api".into(),
            key,
            fingerprint: berth_usecases::fingerprint::fingerprint(
                method.as_str(),
                path,
                &intent.raw_body,
            ),
            request_id,
            lease: state.config.claim_lease,
        };
        let WriteIntent {
            tenant,
            action,
            mode,
            notice,
            ..
        } = intent;
        let submit = |started: Started| {
            let submission = Submission {
                request: Request {
                    id: started.request_id,
                    tenant,
                    action,
                },
                source: "api".into(),
                requested_by: Some(principal.identity.clone()),
                mode,
                when_undecided: WhenUndecided::Refuse,
            };
            submit_until(&state.app, submission, started.resumed, deadline.0)
        };
        let answer_of = |outcome: &_| write_answer(outcome, notice);
        match run(&state.app, ask, submit, answer_of).await {
            WriteAnswer::Replay(stored) => replay(stored),
            WriteAnswer::ClaimRefused(error) => ApiError::from(error).into_response(),
            WriteAnswer::Ran {
                request_id,
                outcome,
                answer,
            } => respond(&request_id, outcome.as_ref().ok(), answer),
        }
    }
    .instrument(span)
    .await
}

/// The answer of a submitted write: 202 when a change is on its way, 200 when the desired state
/// already held; a refusal as its error, to retry when it is transient.
fn write_answer(outcome: &Result<Submitted, Unsettled>, notice: Option<String>) -> Answer {
    match outcome {
        Ok(done) => {
            tracing::info!(action = %done.record.action, tenant = %done.record.tenant, state = ?done.record.state, "request done");
            let status = if done.changed_nothing() {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            let view = berth_contract::RequestView {
                notice,
                ..views::request_view(&done.record)
            };
            Answer {
                status: status.as_u16(),
                body: views::to_json(&view),
                retry_after: None,
            }
        }
        Err(unsettled) => {
            let error = ApiError::from(unsettled.error.clone());
            tracing::info!(
                code = error.code,
                status = error.status.as_u16(),
                "request refused or failed"
            );
            Answer {
                status: error.status.as_u16(),
                body: views::to_json(&error.response_body()),
                retry_after: error
                    .is_transient()
                    .then(|| Duration::from_secs(error.retry_after.unwrap_or(RETRY_AFTER_SECONDS))),
            }
        }
    }
}

/// The HTTP answer of a write that ran: its status and body, `Location` when it went through,
/// `Retry-After` when a retry should come, and the request's id.
fn respond(request_id: &str, done: Option<&Submitted>, answer: Answer) -> Response {
    let mut response = views::answer_response(answer);
    let headers = response.headers_mut();
    if let Some(location) =
        done.and_then(|d| HeaderValue::from_str(&format!("/v1/requests/{}", d.record.id)).ok())
    {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, id);
    }
    response
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = views::json_response(status, stored.body);
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

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
    context: WriteContext,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let intent = async {
        let mode = write_query(&state, query, &[])?.mode;
        let body = body?;
        let (tenant, new) = parse_create_tenant(&body.value)?;
        if !new.clusters.is_empty() {
            context
                .writer
                .0
                .require_admin("clusters", "choose a tenant's clusters")?;
        }
        Ok(WriteIntent::new(
            tenant,
            Action::CreateTenant(new),
            mode,
            body,
        ))
    };
    let intent = intent.await;
    run_write(state, context, intent).await
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
    context: WriteContext,
    TenantPath(tenant): TenantPath,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let intent = async {
        let mode = write_query(&state, query, &[])?.mode;
        let body = body?;
        let action = Action::UpdateTenant(parse_tenant_patch(&body.value)?);
        Ok(WriteIntent::new(tenant, action, mode, body))
    };
    let intent = intent.await;
    run_write(state, context, intent).await
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
    context: WriteContext,
    TenantPath(tenant): TenantPath,
    query: QueryParams,
) -> Response {
    let intent = async {
        let q = write_query(&state, query, &["confirm"])?;
        if q.params.get("confirm").map(String::as_str) != Some(tenant.as_str()) {
            return Err(ApiError::invalid(
                "confirm",
                format!("deleting is destructive: add ?confirm={tenant}"),
            ));
        }
        Ok(WriteIntent::without_body(
            tenant,
            Action::DeleteTenant,
            q.mode,
        ))
    };
    let intent = intent.await;
    run_write(state, context, intent).await
}

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
    context: WriteContext,
    path: ModulePath,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let intent = async {
        let mode = write_query(&state, query, &[])?.mode;
        let body = body?;
        let change = parse_module_change(&path.env, &path.module, &body.value)?;
        Ok(WriteIntent::new(
            path.tenant,
            Action::EnableModule(change),
            mode,
            body,
        ))
    };
    let intent = intent.await;
    run_write(state, context, intent).await
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
    context: WriteContext,
    path: ModulePath,
    query: QueryParams,
) -> Response {
    let intent = async {
        let env = EnvName::parse("env", &path.env)?;
        let module = ModuleName::parse("module", &path.module)?;
        let mode = write_query(&state, query, &[])?.mode;
        let action = Action::DisableModule { env, module };
        Ok(WriteIntent::without_body(path.tenant, action, mode))
    };
    let intent = intent.await;
    run_write(state, context, intent).await
}

impl WriteIntent {
    pub(crate) fn new(tenant: TenantName, action: Action, mode: Mode, body: JsonBody) -> Self {
        Self {
            tenant,
            action,
            mode,
            raw_body: body.raw.to_vec(),
            notice: None,
        }
    }

    pub(crate) fn without_body(tenant: TenantName, action: Action, mode: Mode) -> Self {
        Self {
            tenant,
            action,
            mode,
            raw_body: Vec::new(),
            notice: None,
        }
    }

    /// Says `notice` in the answer, when the write goes through.
    pub(crate) fn with_notice(mut self, notice: Option<String>) -> Self {
        self.notice = notice;
        self
    }
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
