//! The answers the OpenAPI document lists for the writes, the promotion and the webhooks.
//! Documentation only: the handlers build these same bodies through the use-cases' one write
//! path (`berth_usecases::write::run`).

use berth_contract::{ErrorResponse, RequestView, RolloutPlanView, WebhookAnswer};

/// The answers every write documents. Documentation only: the writes answer through
/// `writes::run_write`, which builds these same bodies.
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

/// What a rollout's plan or start answers. Documentation only: `rollouts::post_rollout`
/// builds them.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, clippy::large_enum_variant)]
pub(crate) enum RolloutPlanAnswers {
    /// `dry_run=true`: the plan against the branch tip; nothing recorded or committed.
    #[response(status = 200)]
    Planned(RolloutPlanView),
    /// The rollout, recorded with its plan; the status function commits its waves.
    #[response(status = 202)]
    Started(berth_contract::RolloutView),
    /// The body is not JSON.
    #[response(status = 400)]
    Malformed(ErrorResponse),
    /// No valid credentials.
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    /// A read-only token, or a tenant-scoped one selecting other tenants.
    #[response(status = 403)]
    Forbidden(ErrorResponse),
    /// The body is over 1 MiB.
    #[response(status = 413)]
    TooLarge(ErrorResponse),
    /// A field of the body, or a tenant's result (`tenants.<tenant>.<field>`), is invalid.
    #[response(status = 422)]
    Invalid(ErrorResponse),
    /// The `Idempotency-Key` started another rollout with another body.
    #[response(status = 409)]
    Conflict(ErrorResponse),
    /// Git or a chart repository could not be read; retry after `Retry-After`.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    Unavailable(ErrorResponse),
}
