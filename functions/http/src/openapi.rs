//! The OpenAPI 3.1 document of the API, generated from the contract's types and the routes'
//! annotations, served without a token at `GET /v1/openapi.json` and kept in the repository as
//! `openapi.json` (a test fails when it is stale).

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth",
        description = "Tenants and their modules as Helm values in a GitOps repository: every write is validated, then committed (or opened as a pull request) and followed to ready. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`.",
    ),
    paths(
        crate::reads::healthz,
        crate::reads::get_catalog,
        crate::clusters::cluster_health,
        crate::clusters::list_clusters,
        crate::doctor::doctor,
        crate::reads::list_tenants,
        crate::writes::create_tenant,
        crate::reads::get_tenant,
        crate::writes::patch_tenant,
        crate::writes::delete_tenant,
        crate::reads::get_tenant_status,
        crate::writes::enable_module,
        crate::writes::disable_module,
        crate::reads::get_request,
        crate::writes::revert_request,
        crate::reads::tenant_history,
        crate::reads::commit_diff,
        crate::caller::me,
        crate::writes::promote,
        crate::moves::start_move,
        crate::moves::abort_move,
        crate::rollouts::post_rollout,
        crate::rollouts::list_rollouts,
        crate::rollouts::get_rollout,
        crate::rollouts::steer_rollout,
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
        berth_contract::RolloutPlanView,
        berth_contract::WavePlanView,
        berth_contract::TenantPlanView,
        berth_contract::LeftOutView,
        berth_contract::RolloutView,
        berth_contract::RolloutWaveView,
        berth_contract::RolloutTenantView,
        berth_contract::ConsoleSettings,
        berth_contract::ConsoleOidc,
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "tenants", description = "Tenants and their environments"),
        (name = "modules", description = "Modules enabled per tenant and environment"),
        (name = "requests", description = "Every write is a request, followed to ready"),
        (name = "catalog", description = "What tenants can be made of"),
        (name = "cluster", description = "What the status function saw"),
        (name = "rollouts", description = "One change to many tenants, in waves"),
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
