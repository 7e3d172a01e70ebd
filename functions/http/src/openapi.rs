//! The OpenAPI 3.1 document of the API, generated from the contract's types and the routes'
//! annotations, served without a token at `GET /v1/openapi.json` and kept in the repository as
//! `openapi.json` (a test fails when it is stale).

use axum::Json;
use berth_contract::{ErrorResponse, RequestView, WebhookAnswer};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth",
        description = "Tenants and their modules as Helm values in a GitOps repository: every write is validated, then committed (or opened as a pull request) and followed to ready. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`.",
    ),
    paths(
        crate::api::healthz,
        crate::api::get_catalog,
        crate::api::cluster_health,
        crate::api::list_tenants,
        crate::api::create_tenant,
        crate::api::get_tenant,
        crate::api::patch_tenant,
        crate::api::delete_tenant,
        crate::api::get_tenant_status,
        crate::api::enable_module,
        crate::api::disable_module,
        crate::api::get_request,
        crate::changes::revert_request,
        crate::changes::tenant_history,
        crate::changes::promote,
        crate::webhooks::signup,
        crate::webhooks::billing,
        crate::webhooks::github,
        crate::webhooks::argocd,
    ),
    // Schemas named only by parameters or by `IntoResponses` answers are not collected from
    // the paths.
    components(schemas(
        berth_contract::WriteMode,
        berth_contract::WebhookAnswer,
        berth_contract::ReviewVerdict,
        berth_contract::ReviewProblem,
        berth_contract::PromoteAnswer,
        berth_contract::PlannedChangeView,
        berth_contract::FileDiffView,
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "tenants", description = "Tenants and their environments"),
        (name = "modules", description = "Modules enabled per tenant and environment"),
        (name = "requests", description = "Every write is a request, followed to ready"),
        (name = "catalog", description = "What tenants can be made of"),
        (name = "cluster", description = "What the status function saw"),
        (name = "service", description = "The function itself"),
        (name = "webhooks", description = "Signed events from billing, signup, GitHub and Argo CD"),
    ),
)]
pub struct ApiDoc;

/// Every `/v1` route but this document takes `Authorization: Bearer <token>` (a static token, or
/// a JWT API Gateway verified); each webhook its sender's signature.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer =
            || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("bearer", bearer());
        // The webhooks authenticate by signing their raw body with a shared secret.
        let signed = |header: &str, form: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                header,
                &format!("{form}, keyed with a BERTH_WEBHOOK_SECRETS_* secret"),
            )))
        };
        components.add_security_scheme(
            "billing_signature",
            signed(
                "Stripe-Signature",
                "`t=<timestamp>,v1=<hex HMAC-SHA256 of timestamp.body>`",
            ),
        );
        components.add_security_scheme(
            "signup_signature",
            signed(
                "webhook-signature",
                "Standard Webhooks: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`",
            ),
        );
        components.add_security_scheme(
            "github_signature",
            signed(
                "X-Hub-Signature-256",
                "`sha256=<hex HMAC-SHA256 of the body>`",
            ),
        );
        components.add_security_scheme("argocd_token", bearer());
    }
}

/// The document, as served and as kept in `openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    // The version is Berth's, not the crate's that happens to generate it.
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document
}

/// `GET /v1/openapi.json`, without a token: the contract is public.
pub(crate) async fn serve_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
}

/// The answers every write documents. Documentation only: the writes answer through
/// `api::run_write`, which builds these same bodies.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub(crate) enum WriteAnswers {
    /// Committed (or its branch pushed): the request, to follow at `Location`.
    #[response(status = 202, headers(
        ("Location" = String, description = "`/v1/requests/{id}`"),
        ("X-Request-Id" = String, description = "The request's id"),
    ))]
    Accepted(RequestView),
    /// The repository already said so: nothing committed (`no_change`).
    #[response(status = 200)]
    NoChange(RequestView),
    /// The body is not JSON, or the path is malformed.
    #[response(status = 400)]
    Malformed(ErrorResponse),
    /// No valid credentials.
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    /// The caller may not write, or not to this tenant.
    #[response(status = 403)]
    Forbidden(ErrorResponse),
    /// The tenant, environment or module does not exist.
    #[response(status = 404)]
    NotFound(ErrorResponse),
    /// Conflicts with the repository (exists, a dependency, a refused push), or the
    /// Idempotency-Key is in use by a running request.
    #[response(status = 409)]
    Conflict(ErrorResponse),
    /// The body is over 1 MiB.
    #[response(status = 413)]
    TooLarge(ErrorResponse),
    /// A field is invalid: `field` names it.
    #[response(status = 422)]
    Invalid(ErrorResponse),
    /// Git or the store is unavailable, or the deadline passed; retry after `Retry-After`.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    Unavailable(ErrorResponse),
}

/// The answers every webhook documents. Documentation only: deliveries answer through
/// `webhooks::deliver`.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, clippy::large_enum_variant)]
pub(crate) enum WebhookAnswers {
    /// Settled, whatever the outcome: the sender stops retrying.
    #[response(status = 200)]
    Settled(WebhookAnswer),
    /// The body is not JSON.
    #[response(status = 400)]
    Malformed(ErrorResponse),
    /// The signature does not verify, or its timestamp is too old.
    #[response(status = 401)]
    Unsigned(ErrorResponse),
    /// The body is over 1 MiB.
    #[response(status = 413)]
    TooLarge(ErrorResponse),
    /// Not settled: the sender should deliver it again.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    Unavailable(ErrorResponse),
}
