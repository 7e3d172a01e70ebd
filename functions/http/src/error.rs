//! The API's error shape, `{"error": {"code", "message", "field"}}`, and the mapping from the
//! libraries' typed errors onto HTTP statuses (DESIGN.md §5).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_core::{ErrorKind, FieldError, PlanError};
use berth_gitops::{CommitError, GitError};
use berth_store::{ErrorBody, StoreError};

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECONDS: &str = "5";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds to send as `Retry-After`; a 503 without it says [`RETRY_AFTER_SECONDS`].
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Tells the client when a retry can succeed.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a valid bearer token is required",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).with_field(field)
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// A request cut off at its deadline before its commit landed. Its claim is handed to the
    /// retry, which settles it under the same request id.
    pub fn deadline_exceeded() -> Self {
        Self::unavailable(
            "timeout",
            "the request ran out of time before its commit landed; retry with the same Idempotency-Key to settle it",
        )
    }

    /// The error as a request record keeps it.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_owned(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }

    /// The body this error answers with: `{"error": {"code", "message", "field"}}`.
    pub fn response_body(&self) -> berth_contract::ErrorResponse {
        berth_contract::ErrorResponse {
            error: berth_contract::ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                field: self.field.clone(),
            },
        }
    }

    /// True when a retry of the same request may succeed (the caller should not remember it).
    pub fn is_transient(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        let (status, code) = match e.kind {
            ErrorKind::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
        };
        let message = format!("{}: {}", e.field, e.reason);
        Self::new(status, code, message).with_field(e.field)
    }
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Field(f) => f.into(),
            PlanError::Catalog(c) => Self::unavailable(
                "catalog_invalid",
                format!("the repository's tenants/catalog.yaml is not usable: {c}"),
            ),
            PlanError::Repository { path, reason } => Self::new(
                StatusCode::CONFLICT,
                "repository_invalid",
                format!(
                    "{path} in the repository is not valid ({reason}); fix it with a pull request"
                ),
            ),
        }
    }
}

impl From<GitError> for ApiError {
    fn from(e: GitError) -> Self {
        match e {
            GitError::PushRejected { reason } => Self::new(
                StatusCode::CONFLICT,
                "push_rejected",
                format!("the Git remote rejected the commit: {reason}"),
            ),
            GitError::RateLimited { retry_after } => {
                Self::unavailable("github_rate_limited", rate_limit_message(retry_after))
                    .with_retry_after(retry_after.as_secs())
            }
            other => Self::unavailable("git_unavailable", other.to_string()),
        }
    }
}

fn rate_limit_message(retry_after: std::time::Duration) -> String {
    format!(
        "GitHub's rate limit: retry in {} s",
        retry_after.as_secs().max(1)
    )
}

impl From<CommitError> for ApiError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Plan(p) => p.into(),
            CommitError::Git(g) => g.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::unavailable("store_unavailable", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.response_body())).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
