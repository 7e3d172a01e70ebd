//! `/webhooks/*`: signed deliveries from signup and billing systems, GitHub and Argo CD. Each is
//! verified on the raw body before anything is parsed; its event id is claimed in the store
//! before any effect, so a duplicate answers 200 with the first outcome and does nothing; a
//! failure before the claim and the effect are durable answers 5xx, so senders retry.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use berth_events::billing::parse_billing_event;
use berth_events::{verify_bearer, verify_github, verify_standard_webhooks, verify_stripe};
use berth_usecases::UseCaseError;
use berth_usecases::fingerprint::fingerprint;
use berth_usecases::intake::github::GithubApi;
use berth_usecases::intake::{
    self, Delivery, Effect, Settlement, argocd::argocd_effect, billing::billing_effect,
    github::github_effect, signup::signup_effect,
};
use berth_usecases::metrics::{MetricEvent, Metrics};
use berth_usecases::time::epoch_seconds_now;
use berth_usecases::write::claim::ClaimAsk;
use berth_usecases::write::run::{Answer, Started, WriteAnswer, run};
use serde_json::Value;
use tracing::Instrument;

use crate::AppState;
use crate::body::{parse_json, read_limited};
use crate::config::WebhookSecrets;
use crate::deadline::Deadline;
use crate::error::{ApiError, RETRY_AFTER_SECONDS};
use crate::views;

#[derive(Clone)]
pub(crate) struct WebhookState {
    app: AppState,
    secrets: Arc<WebhookSecrets>,
    /// Built once per process; `None` when the URL cannot be used (reported per event).
    github: Option<GithubApi>,
}

impl axum::extract::FromRef<WebhookState> for AppState {
    fn from_ref(state: &WebhookState) -> Self {
        state.app.clone()
    }
}

/// The webhook routes, to merge beside the API router.
pub fn webhook_router(app: AppState, secrets: WebhookSecrets) -> Router {
    let metrics = app.app.metrics.clone();
    Router::new()
        .route("/webhooks/signup", post(signup))
        .route("/webhooks/argocd", post(argocd))
        .route("/webhooks/billing", post(billing))
        .route("/webhooks/github", post(github))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            count_refused_signatures,
        ))
        .with_state(WebhookState {
            app,
            github: github_api(&secrets),
            secrets: Arc::new(secrets),
        })
}

/// The senders, as the `source` dimension names them (a closed set: never the raw path).
const SENDERS: [&str; 4] = ["signup", "argocd", "billing", "github"];

/// Counts `SignatureFailures` by sender: every 401 of these routes is a refused signature.
async fn count_refused_signatures(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let sender = request
        .uri()
        .path()
        .strip_prefix("/webhooks/")
        .and_then(|s| SENDERS.into_iter().find(|sender| *sender == s));
    let response = next.run(request).await;
    if let Some(sender) = sender
        && response.status() == StatusCode::UNAUTHORIZED
    {
        metrics.emit(
            MetricEvent::new()
                .dimension("source", format!("webhook:{sender}"))
                .count("SignatureFailures", 1),
        );
    }
    response
}

fn github_api(secrets: &WebhookSecrets) -> Option<GithubApi> {
    match GithubApi::new(&secrets.github_api_url, secrets.github_credential.clone()) {
        Ok(api) => Some(api),
        Err(e) => {
            tracing::error!(error = %e, "BERTH_GITHUB_API_URL: GitHub events will answer 503");
            None
        }
    }
}

/// A delivery as it arrived: its headers, its raw body (read within the body limit before
/// anything is verified or parsed) and its deadline.
pub(crate) struct Received {
    headers: HeaderMap,
    body: Bytes,
    deadline: Deadline,
}

impl FromRequest<WebhookState> for Received {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &WebhookState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let Ok(deadline) = Deadline::from_request_parts(&mut parts, state).await;
        let body = read_limited(&parts.headers, body).await?;
        Ok(Self {
            headers: parts.headers,
            body,
            deadline,
        })
    }
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Result<Value, ApiError> {
        parse_json(&self.body)
    }
}

fn unauthenticated(e: berth_events::SignatureError) -> ApiError {
    // Says which check failed, never what was sent.
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string())
}

/// `POST /webhooks/signup`: Standard Webhooks; `tenant.signup` creates a tenant.
#[utoipa::path(post, path = "/webhooks/signup", tag = "webhooks", description = "A signup system's `tenant.signup` creates a tenant (Standard Webhooks).",
    params(
        ("webhook-id" = Option<String>, Header, description = "The event id, covered by the signature: a redelivery is answered as the first delivery"),
        ("webhook-timestamp" = Option<String>, Header, description = "Seconds since the epoch, covered by the signature"),
    ),
    security(("signup_signature" = [])),
    request_body(content = Object, description = "The sender's event, verified on its raw bytes before it is read"),
    responses(crate::answers::WebhookAnswers),
)]
pub(crate) async fn signup(State(state): State<WebhookState>, received: Received) -> Response {
    match signup_event(&state.secrets, &received) {
        Ok((event_id, event)) => {
            let effect = |id| async move { signup_effect(id, &event) };
            deliver(&state, "signup", event_id, &received, effect).await
        }
        Err(e) => e.into_response(),
    }
}

/// A signup event, verified: its id and its body.
fn signup_event(
    secrets: &WebhookSecrets,
    received: &Received,
) -> Result<(String, Value), ApiError> {
    let id = received.header("webhook-id");
    verify_standard_webhooks(
        id,
        received.header("webhook-timestamp"),
        received.header("webhook-signature"),
        &received.body,
        &secrets.signup,
        epoch_seconds_now(),
        secrets.tolerance_seconds,
    )
    .map_err(unauthenticated)?;
    Ok((id.unwrap_or_default().to_owned(), received.json()?))
}

/// `POST /webhooks/github`: `X-Hub-Signature-256`; the delivery id is the event id.
#[utoipa::path(post, path = "/webhooks/github", tag = "webhooks", description = "GitHub's pull requests: reviewed with Berth's rules (`berth/validate`), and Berth's own followed to merged or closed.",
    params(
        ("X-GitHub-Event" = Option<String>, Header, description = "`pull_request` or `ping`"),
        ("X-GitHub-Delivery" = Option<String>, Header, description = "The delivery id: a redelivery is answered as the first"),
    ),
    security(("github_signature" = [])),
    request_body(content = Object, description = "The sender's event, verified on its raw bytes before it is read"),
    responses(crate::answers::WebhookAnswers),
)]
pub(crate) async fn github(State(state): State<WebhookState>, received: Received) -> Response {
    let (delivery, event) = match github_event(&state.secrets, &received) {
        Ok(verified) => verified,
        Err(e) => return e.into_response(),
    };
    let Some(api) = state.github.clone() else {
        return ApiError::unavailable(
            "github_not_configured",
            "BERTH_GITHUB_API_URL is not usable",
        )
        .into_response();
    };
    let (app, payload) = (state.app.clone(), received.body.clone());
    let effect = |id| async move { github_effect(&app.app, &api, id, &event, &payload).await };
    deliver(&state, "github", delivery, &received, effect).await
}

/// A GitHub event, verified: its delivery id and its kind (`X-GitHub-Event`).
fn github_event(
    secrets: &WebhookSecrets,
    received: &Received,
) -> Result<(String, String), ApiError> {
    let signature = received.header("x-hub-signature-256");
    verify_github(signature, &received.body, &secrets.github).map_err(unauthenticated)?;
    let delivery = received
        .header("x-github-delivery")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::malformed("X-GitHub-Delivery is missing"))?;
    let event = received.header("x-github-event").unwrap_or_default();
    received.json()?;
    Ok((delivery.to_owned(), event.to_owned()))
}

/// `POST /webhooks/billing`: Stripe-style signatures; subscriptions and invoices drive the
/// tenant's creation, tier, suspension and deletion (see `berth_usecases::intake::billing`).
#[utoipa::path(post, path = "/webhooks/billing", tag = "webhooks", description = "Subscriptions and invoices drive a tenant's creation, tier, suspension and deletion.",
    summary = "`POST /webhooks/billing`: Stripe-style signatures; subscriptions and invoices drive the\ntenant's creation, tier, suspension and deletion (see [`crate::billing`]).",
    security(("billing_signature" = [])),
    request_body(content = Object, description = "The sender's event, verified on its raw bytes before it is read"),
    responses(crate::answers::WebhookAnswers),
)]
pub(crate) async fn billing(State(state): State<WebhookState>, received: Received) -> Response {
    let event = match billing_event(&state.secrets, &received) {
        Ok(event) => event,
        Err(e) => return e.into_response(),
    };
    let app = state.app.clone();
    let event_id = event.id.clone();
    let effect = |id| async move { billing_effect(&app.app, id, event).await };
    deliver(&state, "billing", event_id, &received, effect).await
}

/// A billing event, verified and read.
fn billing_event(
    secrets: &WebhookSecrets,
    received: &Received,
) -> Result<berth_events::billing::BillingEvent, ApiError> {
    verify_stripe(
        received.header("stripe-signature"),
        &received.body,
        &secrets.billing,
        epoch_seconds_now(),
        secrets.tolerance_seconds,
    )
    .map_err(unauthenticated)?;
    parse_billing_event(&received.body)
        .map_err(|e| ApiError::malformed(e.to_string()).with_field(e.field))
}

/// `POST /webhooks/argocd`: an Application's health, sync status and revision, recorded for its
/// tenant, env and module right away.
#[utoipa::path(post, path = "/webhooks/argocd", tag = "webhooks", description = "An Argo CD notification: an Application's health, sync status and revision.",
    security(("argocd_token" = [])),
    request_body(content = Object, description = "The sender's event, verified on its raw bytes before it is read"),
    responses(crate::answers::WebhookAnswers),
)]
pub(crate) async fn argocd(State(state): State<WebhookState>, received: Received) -> Response {
    let verified = verify_bearer(received.header("authorization"), &state.secrets.argocd)
        .map_err(unauthenticated)
        .and_then(|()| received.json());
    if let Err(e) = verified {
        return e.into_response();
    }
    // Notifications carry no id: the same application in the same state is the same event.
    let event_id = fingerprint("argocd", "", &received.body);
    let (app, payload) = (state.app.clone(), received.body.clone());
    let effect = |_| async move { argocd_effect(&app.app, &payload).await };
    deliver(&state, "argocd", event_id, &received, effect).await
}

/// Claims the event id, runs the effect once by `deadline`, and answers; a duplicate gets the
/// first answer. An effect that fails transiently or runs out of time answers 503 and ends its
/// claim's lease: the redelivery takes the claim over and settles the effect under the same
/// request id, finding its commit if it had landed.
async fn deliver<F: Future<Output = Result<Effect, UseCaseError>>>(
    state: &WebhookState,
    sender: &'static str,
    event_id: String,
    received: &Received,
    effect: impl FnOnce(String) -> F,
) -> Response {
    let (body, Deadline(deadline)) = (&received.body, received.deadline);
    let source = format!("webhook:{sender}");
    let request_id = ulid::Ulid::new().to_string();
    let span =
        tracing::info_span!("webhook", %sender, event_id = %event_id, request_id = %request_id);
    async move {
        let app = &state.app;
        let ask = ClaimAsk {
            source: source.clone(),
            key: Some(event_id.clone()),
            fingerprint: fingerprint("POST", &source, body),
            request_id,
            lease: app.config.claim_lease,
        };
        let carry_out = |started: Started| async move {
            let delivery = Delivery {
                source: &source,
                request_id: &started.request_id,
                resumed: started.resumed,
                mode: app.config.default_mode,
            };
            let work = async {
                intake::apply(&app.app, delivery, effect(started.request_id.clone()).await).await
            };
            match tokio::time::timeout_at(deadline, work).await {
                Ok(settled) => settled,
                Err(_) => {
                    tracing::warn!("the delivery ran out of time: the redelivery settles it");
                    Err(UseCaseError::deadline_exceeded())
                }
            }
        };
        match run(&app.app, ask, carry_out, |settled| {
            delivery_answer(&event_id, settled)
        })
        .await
        {
            WriteAnswer::Replay(stored) => {
                tracing::info!("duplicate delivery: answering as the first time");
                views::json_response(StatusCode::OK, stored.body)
            }
            WriteAnswer::ClaimRefused(error) => ApiError::from(error).into_response(),
            WriteAnswer::Ran { answer, .. } => views::answer_response(answer),
        }
    }
    .instrument(span)
    .await
}

/// A delivery's answer: 200 with how it settled, whatever the outcome (the refusals are settled
/// by `intake::apply`, so the sender stops); any failure is one the sender should retry.
fn delivery_answer(event_id: &str, settled: &Result<Settlement, UseCaseError>) -> Answer {
    match settled {
        Ok(settlement) => Answer {
            status: StatusCode::OK.as_u16(),
            body: views::to_json(&views::webhook_answer(event_id, settlement.clone())),
            retry_after: None,
        },
        Err(error) => {
            let error = ApiError::from(error.clone());
            let wait = error.retry_after.unwrap_or(RETRY_AFTER_SECONDS);
            Answer {
                status: error.status.as_u16(),
                body: views::to_json(&error.response_body()),
                retry_after: Some(Duration::from_secs(wait)),
            }
        }
    }
}
