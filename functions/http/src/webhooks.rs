//! `/webhooks/*`: signed deliveries from signup and billing systems, GitHub and Argo CD. Each is
//! verified on the raw body before anything is parsed; its event id is claimed in the store
//! before any effect, so a duplicate answers 200 with the first outcome and does nothing; a
//! failure before the claim and the effect are durable answers 5xx, so senders retry.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use berth_core::body::parse_create_tenant;
use berth_core::{Action, Request};
use berth_store::{BillingLink, RequestRecord, RequestState, StatusRecord};
use berth_webhooks::billing::parse_billing_event;
use berth_webhooks::events::{ArgocdEvent, parse_argocd_event};
use berth_webhooks::{
    SecretSet, verify_bearer, verify_github, verify_standard_webhooks, verify_stripe,
};
use serde_json::Value;
use tracing::Instrument;

use crate::AppState;
use crate::body::read_limited;
use crate::contract;
use crate::deadline::Deadline;
use crate::error::ApiError;
use crate::idempotency::{self, Begin, Finish};
use crate::submit::{Progress, Submission, submit_or_resume};
use crate::time::now_rfc3339;
use berth_contract::WebhookAnswer;

/// The secrets of each sender; several per sender may be valid at once.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    pub billing: SecretSet,
    pub signup: SecretSet,
    pub github: SecretSet,
    pub argocd: SecretSet,
    /// Seconds a signed timestamp may be off, either way.
    pub tolerance_seconds: i64,
    /// GitHub's API base URL (`https://api.github.com`, an Enterprise server, a test server).
    pub github_api_url: String,
    /// The credential commit statuses and pull requests are made with; never logged.
    pub github_credential: Option<berth_gitops::GithubCredential>,
}

#[derive(Clone)]
pub(crate) struct WebhookState {
    app: AppState,
    secrets: Arc<WebhookSecrets>,
    /// Built once per process; `None` when the URL cannot be used (reported per event).
    github: Option<crate::github::GithubApi>,
}

impl axum::extract::FromRef<WebhookState> for AppState {
    fn from_ref(state: &WebhookState) -> Self {
        state.app.clone()
    }
}

/// The webhook routes, to merge beside the API router.
pub fn webhook_router(app: AppState, secrets: WebhookSecrets) -> Router {
    Router::new()
        .route("/webhooks/signup", post(signup))
        .route("/webhooks/argocd", post(argocd))
        .route("/webhooks/billing", post(billing))
        .route("/webhooks/github", post(github))
        .with_state(WebhookState {
            app,
            github: github_api(&secrets),
            secrets: Arc::new(secrets),
        })
}

fn github_api(secrets: &WebhookSecrets) -> Option<crate::github::GithubApi> {
    match crate::github::GithubApi::new(&secrets.github_api_url, secrets.github_credential.clone())
    {
        Ok(api) => Some(api),
        Err(e) => {
            tracing::error!(error = %e, "BERTH_GITHUB_API_URL: GitHub events will answer 503");
            None
        }
    }
}

/// What a verified event asks for.
pub(crate) enum Effect {
    /// A request through the same validation, planner and committer as the API. Fields the
    /// planner names are inside the event at `prefix` (`data` for a signup). `link` is written
    /// once the request went through (billing's customer record).
    Submit {
        request: Request,
        prefix: &'static str,
        link: Option<BillingLink>,
    },
    /// No commit now: a billing record to keep (a registration, a scheduled change), and the
    /// request record that says so.
    Link {
        link: BillingLink,
        record: RequestRecord,
    },
    /// A status to record in the store.
    Record(StatusRecord),
    /// Nothing: an event type Berth does not act on.
    Ignore(String),
    /// Done while deciding: a ping answered (no request), or a request moved and recorded.
    Reported {
        outcome: &'static str,
        request: Option<RequestRecord>,
    },
    /// A pull request reviewed: the record of the review and its verdict.
    Reviewed {
        record: RequestRecord,
        verdict: berth_contract::ReviewVerdict,
    },
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn raw_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let declared = header(headers, CONTENT_LENGTH.as_str()).and_then(|v| v.parse().ok());
    Ok(read_limited(body, declared).await?.to_vec())
}

fn unauthenticated(e: berth_webhooks::SignatureError) -> ApiError {
    // Says which check failed, never what was sent.
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string())
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))
}

/// `POST /webhooks/signup`: Standard Webhooks; `tenant.signup` creates a tenant.
#[utoipa::path(post, path = "/webhooks/signup", tag = "webhooks", description = "A signup system's `tenant.signup` creates a tenant (Standard Webhooks).",
    params(
        ("webhook-id" = Option<String>, Header, description = "The event id, covered by the signature: a redelivery is answered as the first delivery"),
        ("webhook-timestamp" = Option<String>, Header, description = "Seconds since the epoch, covered by the signature"),
    ),
    security(("signup_signature" = [])),
    request_body(content = Object, description = "The sender's event, verified on its raw bytes before it is read"),
    responses(crate::openapi::WebhookAnswers),
)]
pub(crate) async fn signup(
    State(state): State<WebhookState>,
    deadline: Deadline,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let body = raw_body(&headers, body).await?;
        verify_standard_webhooks(
            header(&headers, "webhook-id"),
            header(&headers, "webhook-timestamp"),
            header(&headers, "webhook-signature"),
            &body,
            &state.secrets.signup,
            crate::time::epoch_seconds_now(),
            state.secrets.tolerance_seconds,
        )
        .map_err(unauthenticated)?;
        let event_id = header(&headers, "webhook-id")
            .unwrap_or_default()
            .to_owned();
        let event = parse_json(&body)?;
        Ok::<_, ApiError>((event_id, body, event))
    }
    .await;
    let (event_id, body, event) = match result {
        Ok(parts) => parts,
        Err(e) => return e.into_response(),
    };
    deliver(
        &state,
        "signup",
        event_id,
        &body,
        deadline,
        |id| async move { signup_effect(id, &event) },
    )
    .await
}

fn signup_effect(request_id: String, event: &Value) -> Result<Effect, ApiError> {
    match event["type"].as_str() {
        Some("tenant.signup") => {
            let (tenant, new) =
                parse_create_tenant(&event["data"]).map_err(|e| prefixed("data", e))?;
            let request = Request {
                id: request_id,
                tenant,
                action: Action::CreateTenant(new),
            };
            Ok(Effect::Submit {
                request,
                prefix: "data",
                link: None,
            })
        }
        other => Ok(Effect::Ignore(format!(
            "event type {} is not one Berth acts on",
            other.unwrap_or("<none>")
        ))),
    }
}

/// A field error inside an event, named from the event's root: `data.tier`.
fn prefixed(prefix: &'static str, e: berth_core::FieldError) -> ApiError {
    let field = if e.field == "body" {
        prefix.to_owned()
    } else {
        format!("{prefix}.{}", e.field)
    };
    ApiError::from(berth_core::FieldError { field, ..e })
}

/// `POST /webhooks/github`: `X-Hub-Signature-256`; the delivery id is the event id.
#[utoipa::path(post, path = "/webhooks/github", tag = "webhooks", description = "GitHub's pull requests: reviewed with Berth's rules (`berth/validate`), and Berth's own followed to merged or closed.",
    params(
        ("X-GitHub-Event" = Option<String>, Header, description = "`pull_request` or `ping`"),
        ("X-GitHub-Delivery" = Option<String>, Header, description = "The delivery id: a redelivery is answered as the first"),
    ),
    security(("github_signature" = [])),
    request_body(content = Object, description = "The sender's event, verified on its raw bytes before it is read"),
    responses(crate::openapi::WebhookAnswers),
)]
pub(crate) async fn github(
    State(state): State<WebhookState>,
    deadline: Deadline,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let body = raw_body(&headers, body).await?;
        verify_github(
            header(&headers, "x-hub-signature-256"),
            &body,
            &state.secrets.github,
        )
        .map_err(unauthenticated)?;
        let delivery = header(&headers, "x-github-delivery")
            .filter(|d| !d.is_empty())
            .ok_or_else(|| ApiError::malformed("X-GitHub-Delivery is missing"))?;
        let event = header(&headers, "x-github-event")
            .unwrap_or_default()
            .to_owned();
        parse_json(&body)?;
        Ok::<_, ApiError>((delivery.to_owned(), event, body))
    }
    .await;
    let (delivery, event, body) = match result {
        Ok(parts) => parts,
        Err(e) => return e.into_response(),
    };
    let Some(api) = state.github.clone() else {
        return ApiError::unavailable(
            "github_not_configured",
            "BERTH_GITHUB_API_URL is not usable",
        )
        .into_response();
    };
    let (app, payload) = (state.app.clone(), body.clone());
    deliver(
        &state,
        "github",
        delivery,
        &body,
        deadline,
        |id| async move { crate::github::github_effect(&app, &api, id, &event, &payload).await },
    )
    .await
}

/// `POST /webhooks/billing`: Stripe-style signatures; subscriptions and invoices drive the
/// tenant's creation, tier, suspension and deletion (see [`crate::billing`]).
#[utoipa::path(post, path = "/webhooks/billing", tag = "webhooks", description = "Subscriptions and invoices drive a tenant's creation, tier, suspension and deletion.",
    security(("billing_signature" = [])),
    request_body(content = Object, description = "The sender's event, verified on its raw bytes before it is read"),
    responses(crate::openapi::WebhookAnswers),
)]
pub(crate) async fn billing(
    State(state): State<WebhookState>,
    deadline: Deadline,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let body = raw_body(&headers, body).await?;
        verify_stripe(
            header(&headers, "stripe-signature"),
            &body,
            &state.secrets.billing,
            crate::time::epoch_seconds_now(),
            state.secrets.tolerance_seconds,
        )
        .map_err(unauthenticated)?;
        let event = parse_billing_event(&body)
            .map_err(|e| ApiError::malformed(e.to_string()).with_field(e.field))?;
        Ok::<_, ApiError>((body, event))
    }
    .await;
    let (body, event) = match result {
        Ok(parts) => parts,
        Err(e) => return e.into_response(),
    };
    let app = state.app.clone();
    deliver(
        &state,
        "billing",
        event.id.clone(),
        &body,
        deadline,
        |id| async move { crate::billing::billing_effect(&app, id, event).await },
    )
    .await
}

/// `POST /webhooks/argocd`: an Application's health, sync status and revision, recorded for its
/// tenant, env and module right away.
#[utoipa::path(post, path = "/webhooks/argocd", tag = "webhooks", description = "An Argo CD notification: an Application's health, sync status and revision.",
    security(("argocd_token" = [])),
    request_body(content = Object, description = "The sender's event, verified on its raw bytes before it is read"),
    responses(crate::openapi::WebhookAnswers),
)]
pub(crate) async fn argocd(
    State(state): State<WebhookState>,
    deadline: Deadline,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let body = raw_body(&headers, body).await?;
        verify_bearer(header(&headers, "authorization"), &state.secrets.argocd)
            .map_err(unauthenticated)?;
        parse_json(&body)?;
        Ok::<_, ApiError>(body)
    }
    .await;
    let body = match result {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    // Notifications carry no id: the same application in the same state is the same event.
    let event_id = idempotency::fingerprint("argocd", "", &body);
    let payload = body.clone();
    let app = state.app.clone();
    deliver(
        &state,
        "argocd",
        event_id,
        &body,
        deadline,
        |_| async move {
            let status = argocd_effect(&payload)?;
            Ok(Effect::Record(keep_sweep_counts(&app, status).await))
        },
    )
    .await
}

/// A notification knows the Application, not its workloads: it keeps the replica counts, URLs
/// and reason the last sweep recorded for the slot. Its digest differs from any the sweep
/// makes, so the next sweep writes its own view again.
async fn keep_sweep_counts(app: &AppState, mut status: StatusRecord) -> StatusRecord {
    let Ok(recorded) = app.store.list_statuses(&status.tenant).await else {
        return status; // the write that follows reports the store's trouble
    };
    if let Some(previous) = recorded.into_iter().find(|r| r.slot() == status.slot()) {
        status.ready = previous.ready;
        status.desired = previous.desired;
        status.urls = previous.urls;
        status.reason = previous.reason;
    }
    status
}

fn argocd_effect(body: &[u8]) -> Result<StatusRecord, ApiError> {
    let event = parse_argocd_event(body).map_err(|e| ApiError::invalid(e.field, e.reason))?;
    berth_core::TenantName::parse("tenant", &event.tenant)?;
    berth_core::EnvName::parse("env", &event.env)?;
    if let Some(m) = &event.module {
        berth_core::ModuleName::parse("module", m)?;
    }
    let ArgocdEvent {
        tenant,
        env,
        module,
        health,
        sync,
        revision,
    } = event;
    let digest = idempotency::fingerprint(
        &health,
        sync.as_deref().unwrap_or(""),
        revision.as_deref().unwrap_or("").as_bytes(),
    );
    Ok(StatusRecord {
        tenant,
        env,
        module,
        health: health.to_ascii_lowercase(),
        sync,
        revision,
        // Replica counts come from the status sweep, which reads the workloads themselves.
        ready: 0,
        desired: 0,
        urls: Vec::new(),
        reason: None,
        observed_at: now_rfc3339(),
        digest,
    })
}

/// The record of an event that did not become a commit.
pub(crate) fn event_record(
    request_id: &str,
    action: &str,
    tenant: &str,
    state: RequestState,
) -> RequestRecord {
    // The source is filled in by `deliver`, which knows the sender.
    RequestRecord::new(request_id, action, "", tenant, state, now_rfc3339())
}

/// The record of an event refused before it became a request.
fn rejected_record(request_id: &str, source: &str, error: &ApiError) -> RequestRecord {
    let mut record = event_record(request_id, "webhook_event", "", RequestState::Rejected);
    record.source = source.to_owned();
    record.error = Some(error.body());
    record
}

/// Claims the event id, runs the effect once by `deadline`, and answers; a duplicate gets the
/// first answer. An effect that fails transiently or runs out of time answers 503 and ends its
/// claim's lease: the redelivery takes the claim over and settles the effect under the same
/// request id, finding its commit if it had landed.
async fn deliver<F: Future<Output = Result<Effect, ApiError>>>(
    state: &WebhookState,
    sender: &'static str,
    event_id: String,
    body: &[u8],
    Deadline(deadline): Deadline,
    effect: impl FnOnce(String) -> F,
) -> Response {
    let source = format!("webhook:{sender}");
    let request_id = ulid::Ulid::new().to_string();
    let span =
        tracing::info_span!("webhook", %sender, event_id = %event_id, request_id = %request_id);
    async move {
        let app = &state.app;
        let fingerprint = idempotency::fingerprint("POST", &source, body);
        let (held, request_id, resumed) = match idempotency::begin(
            app,
            &source,
            Some(event_id.clone()),
            fingerprint,
            &request_id,
        )
        .await
        {
            Ok(Begin::Proceed(held)) => (held, request_id, false),
            // A delivery interrupted before it answered: settled under its own request id.
            Ok(Begin::Resume { held, request_id }) => (Some(held), request_id, true),
            Ok(Begin::Replay(stored)) => {
                tracing::info!("duplicate delivery: answering as the first time");
                return (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    stored.body,
                )
                    .into_response();
            }
            Err(e) => return e.into_response(),
        };
        let work = carry_out(
            app,
            &source,
            &event_id,
            effect(request_id.clone()),
            &request_id,
            resumed,
        );
        let (status, body, transient) = match tokio::time::timeout_at(deadline, work).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::warn!("the delivery ran out of time: the redelivery settles it");
                let error = ApiError::deadline_exceeded();
                (error.status, Answer::Failed(error.response_body()), true)
            }
        };
        let body = body.to_json();
        let finish = if transient {
            Finish::Unanswered
        } else {
            Finish::Answered {
                status,
                body: &body,
            }
        };
        idempotency::finish(app, held, finish).await;
        let mut response = (status, [("content-type", "application/json")], body).into_response();
        if transient {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        response
    }
    .instrument(span)
    .await
}

/// Decides and carries out a delivery's effect: the status, the body, and whether the failure
/// is transient (the sender should retry).
async fn carry_out(
    app: &AppState,
    source: &str,
    event_id: &str,
    effect: impl Future<Output = Result<Effect, ApiError>>,
    request_id: &str,
    resumed: bool,
) -> (StatusCode, Answer, bool) {
    let transient = |error: ApiError| (error.status, Answer::Failed(error.response_body()), true);
    let settled =
        |answer: WebhookAnswer| (StatusCode::OK, Answer::Settled(Box::new(answer)), false);
    match effect.await {
        Ok(Effect::Link { link, mut record }) => {
            record.source = source.to_owned();
            let written = async {
                app.store.put_request(&record).await?;
                app.store.put_billing_unless_newer(&link).await
            };
            match written.await {
                Ok(_) => settled(with_request(event_id, outcome_of(&record), &record)),
                Err(e) => transient(e.into()),
            }
        }
        Ok(Effect::Submit {
            request,
            prefix,
            link,
        }) => {
            let submission = Submission {
                request,
                source: source.to_owned(),
                requested_by: None,
                mode: app.config.default_mode,
            };
            match submit_or_resume(app, submission, resumed, &Progress::default()).await {
                Ok(done) => {
                    let linked = match &link {
                        Some(link) => app.store.put_billing_unless_newer(link).await.map(|_| ()),
                        None => Ok(()),
                    };
                    match linked {
                        Ok(()) => settled(with_request(
                            event_id,
                            outcome_of(&done.record),
                            &done.record,
                        )),
                        // The commit stands; the redelivery finds it and writes the link.
                        Err(e) => transient(e.into()),
                    }
                }
                Err((error, record)) if !error.is_transient() => {
                    // Refused for good: recorded on the request, answered 200 so the sender stops.
                    let mut answer = WebhookAnswer::new(event_id, "rejected");
                    let mut detail = error.response_body().error;
                    detail.field = detail.field.map(|f| format!("{prefix}.{f}"));
                    answer.error = Some(detail);
                    answer.request = record.as_ref().map(contract::request_view);
                    settled(answer)
                }
                Err((error, _)) => transient(error),
            }
        }
        Ok(Effect::Record(status)) => {
            match app.store.put_statuses(std::slice::from_ref(&status)).await {
                Ok(()) => {
                    if let Some(refresh) = &app.status_refresh {
                        refresh.refresh(&status.tenant).await;
                    }
                    let mut answer = WebhookAnswer::new(event_id, "recorded");
                    answer.status = Some(contract::module_status(&status));
                    settled(answer)
                }
                Err(e) => transient(e.into()),
            }
        }
        Ok(Effect::Reported { outcome, request }) => {
            let mut answer = WebhookAnswer::new(event_id, outcome);
            answer.request = request.as_ref().map(contract::request_view);
            settled(answer)
        }
        Ok(Effect::Reviewed {
            mut record,
            verdict,
        }) => {
            record.source = source.to_owned();
            match app.store.put_request(&record).await {
                Ok(()) => {
                    let mut answer = with_request(event_id, "reviewed".into(), &record);
                    answer.review = Some(verdict);
                    settled(answer)
                }
                Err(e) => transient(e.into()),
            }
        }
        Ok(Effect::Ignore(reason)) => {
            tracing::info!(%reason, "event ignored");
            let mut answer = WebhookAnswer::new(event_id, "ignored");
            answer.reason = Some(reason);
            settled(answer)
        }
        // A signed event that does not make sense will not make sense on a retry either: it
        // is recorded as a rejected request, and answered 200 so the sender stops.
        Err(error) if !error.is_transient() => {
            let record = rejected_record(request_id, source, &error);
            match app.store.put_request(&record).await {
                Ok(()) => {
                    let mut answer = with_request(event_id, "rejected".into(), &record);
                    answer.error = Some(error.response_body().error);
                    settled(answer)
                }
                Err(e) => transient(e.into()),
            }
        }
        Err(error) => transient(error),
    }
}

/// A delivery's answer: settled (200), or a failure the sender should retry.
enum Answer {
    Settled(Box<WebhookAnswer>),
    Failed(berth_contract::ErrorResponse),
}

impl Answer {
    fn to_json(&self) -> String {
        match self {
            Answer::Settled(answer) => serde_json::to_string(answer),
            Answer::Failed(error) => serde_json::to_string(error),
        }
        .unwrap_or_default()
    }
}

fn with_request(event_id: &str, outcome: String, record: &RequestRecord) -> WebhookAnswer {
    let mut answer = WebhookAnswer::new(event_id, outcome);
    answer.request = Some(contract::request_view(record));
    answer
}

/// The request's state, as its outcome: `committed`, `no_change`, `scheduled`, ...
fn outcome_of(record: &RequestRecord) -> String {
    contract::request_state(record.state).as_str().to_owned()
}
