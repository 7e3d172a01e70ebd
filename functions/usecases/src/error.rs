//! Why a use-case did not go through, in the product's terms: a kind, a stable code, a message
//! and the field at fault. The edges map the kind onto their own answers (HTTP statuses in
//! `berth-http`); the libraries' typed errors map onto it here (the README's "Errors").

use std::time::Duration;

use berth_core::{FieldError, PlanError};
use berth_gitops::{CommitError, GitError};
use berth_store::{ErrorBody, StoreError};

/// What kind of refusal, which decides whether a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input breaks a rule; the same input will be refused again.
    Invalid,
    /// Something the request names does not exist.
    NotFound,
    /// The request contradicts the repository as it is (a tenant that exists, a file that
    /// does not parse).
    Conflict,
    /// The caller may not see or change what the request names.
    Forbidden,
    /// Git, GitHub or the store could not be reached, or time ran out: a retry may succeed.
    Unavailable,
}

/// Every code a use-case's refusal or failure carries, spelled on the wire and in request
/// records as [`ErrorCode::as_str`] says. A code read back from a record is parsed into one of
/// these, so a new code is a new variant, never a string to keep in step by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Invalid,
    NotFound,
    Conflict,
    Forbidden,
    RepositoryInvalid,
    PushRejected,
    IdempotencyKeyReused,
    RequestInProgress,
    GitUnavailable,
    StoreUnavailable,
    GithubUnavailable,
    GithubRateLimited,
    CatalogInvalid,
    ChartRepositoryUnavailable,
    ChartInvalid,
    Timeout,
    Pending,
    Interrupted,
    PrClosed,
    SyncFailed,
    SyncTimeout,
    Degraded,
}

impl ErrorCode {
    const ALL: [ErrorCode; 22] = [
        ErrorCode::Invalid,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::Forbidden,
        ErrorCode::RepositoryInvalid,
        ErrorCode::PushRejected,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::RequestInProgress,
        ErrorCode::GitUnavailable,
        ErrorCode::StoreUnavailable,
        ErrorCode::GithubUnavailable,
        ErrorCode::GithubRateLimited,
        ErrorCode::CatalogInvalid,
        ErrorCode::ChartRepositoryUnavailable,
        ErrorCode::ChartInvalid,
        ErrorCode::Timeout,
        ErrorCode::Pending,
        ErrorCode::Interrupted,
        ErrorCode::PrClosed,
        ErrorCode::SyncFailed,
        ErrorCode::SyncTimeout,
        ErrorCode::Degraded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RepositoryInvalid => "repository_invalid",
            ErrorCode::PushRejected => "push_rejected",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::RequestInProgress => "request_in_progress",
            ErrorCode::GitUnavailable => "git_unavailable",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::GithubUnavailable => "github_unavailable",
            ErrorCode::GithubRateLimited => "github_rate_limited",
            ErrorCode::CatalogInvalid => "catalog_invalid",
            ErrorCode::ChartRepositoryUnavailable => "chart_repository_unavailable",
            ErrorCode::ChartInvalid => "chart_invalid",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Pending => "pending",
            ErrorCode::Interrupted => "interrupted",
            ErrorCode::PrClosed => "pr_closed",
            ErrorCode::SyncFailed => "sync_failed",
            ErrorCode::SyncTimeout => "sync_timeout",
            ErrorCode::Degraded => "degraded",
        }
    }

    /// The code spelled `text`; `None` for one Berth never wrote.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// The kind a refusal with this code, read back from a record, is answered as again. The
    /// codes the sweep writes (`pr_closed`, `sync_failed`, ...) are outcomes, not answers:
    /// they read back as refusals.
    fn kind(self) -> ErrorKind {
        match self {
            ErrorCode::Invalid => ErrorKind::Invalid,
            ErrorCode::NotFound => ErrorKind::NotFound,
            ErrorCode::Conflict => ErrorKind::Conflict,
            ErrorCode::Forbidden => ErrorKind::Forbidden,
            ErrorCode::RepositoryInvalid => ErrorKind::Invalid,
            ErrorCode::PushRejected => ErrorKind::Conflict,
            ErrorCode::IdempotencyKeyReused => ErrorKind::Invalid,
            ErrorCode::RequestInProgress => ErrorKind::Conflict,
            ErrorCode::GitUnavailable => ErrorKind::Unavailable,
            ErrorCode::StoreUnavailable => ErrorKind::Unavailable,
            ErrorCode::GithubUnavailable => ErrorKind::Unavailable,
            ErrorCode::GithubRateLimited => ErrorKind::Unavailable,
            ErrorCode::CatalogInvalid => ErrorKind::Unavailable,
            ErrorCode::ChartRepositoryUnavailable => ErrorKind::Unavailable,
            ErrorCode::ChartInvalid => ErrorKind::Invalid,
            ErrorCode::Timeout => ErrorKind::Unavailable,
            ErrorCode::Pending => ErrorKind::Unavailable,
            ErrorCode::Interrupted => ErrorKind::Unavailable,
            ErrorCode::PrClosed => ErrorKind::Invalid,
            ErrorCode::SyncFailed => ErrorKind::Invalid,
            ErrorCode::SyncTimeout => ErrorKind::Invalid,
            ErrorCode::Degraded => ErrorKind::Invalid,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct UseCaseError {
    pub kind: ErrorKind,
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// When a retry can succeed, if known (GitHub's rate limit says).
    pub retry_after: Option<Duration>,
}

impl UseCaseError {
    pub fn new(kind: ErrorKind, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// The same error, naming the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, ErrorCode::Invalid, message).with_field(field)
    }

    pub fn unavailable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, code, message)
    }

    /// A request cut off at its deadline before its commit landed. Its claim is handed to the
    /// retry, which settles it under the same request id.
    pub fn deadline_exceeded() -> Self {
        Self::unavailable(
            ErrorCode::Timeout,
            "the request ran out of time before its commit landed; retry with the same Idempotency-Key to settle it",
        )
    }

    /// A request that waits for a group commit that did not come in its caller's wait. It
    /// stays recorded and will be committed once; a retry with the same key learns its outcome.
    pub fn still_pending() -> Self {
        Self::unavailable(
            ErrorCode::Pending,
            "the request is recorded and waits for its group commit; retry with the same Idempotency-Key for its outcome",
        )
    }

    /// The refusal a record keeps: the kind follows from the code (see [`Self::from_body`]).
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.as_str().to_owned(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }

    /// A refusal read back from a rejected request's record, answered again as it was first.
    pub fn from_body(body: ErrorBody) -> Self {
        // A code Berth never wrote reads back as a plain refusal.
        let code = ErrorCode::parse(&body.code).unwrap_or(ErrorCode::Invalid);
        let kind = code.kind();
        let mut error = Self::new(kind, code, body.message);
        error.field = body.field;
        error
    }

    /// True when a retry of the same request may succeed (the caller should not remember it).
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }

    /// The same refusal with its field named from `prefix` (`data.tier` inside an event).
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.field = self.field.map(|f| format!("{prefix}.{f}"));
        self
    }
}

impl From<FieldError> for UseCaseError {
    fn from(e: FieldError) -> Self {
        let (kind, code) = match e.kind {
            berth_core::ErrorKind::Invalid => (ErrorKind::Invalid, ErrorCode::Invalid),
            berth_core::ErrorKind::NotFound => (ErrorKind::NotFound, ErrorCode::NotFound),
            berth_core::ErrorKind::Conflict => (ErrorKind::Conflict, ErrorCode::Conflict),
        };
        Self::new(kind, code, format!("{}: {}", e.field, e.reason)).with_field(e.field)
    }
}

impl From<PlanError> for UseCaseError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Field(f) => f.into(),
            PlanError::Catalog(c) => Self::unavailable(
                ErrorCode::CatalogInvalid,
                format!("the repository's tenants/catalog.yaml is not usable: {c}"),
            ),
            // 422 naming the file: the same request is refused until a person fixes it.
            PlanError::Repository { path, reason } => {
                let mut error = Self::new(
                    ErrorKind::Invalid,
                    ErrorCode::RepositoryInvalid,
                    format!(
                        "{path} in the repository is not valid ({reason}); fix it with a pull request"
                    ),
                );
                error.field = Some(path);
                error
            }
            // The write path fetches what a plan asks for and plans again; reaching a caller
            // means the repository could not give it in time.
            PlanError::ChartsNeeded(_) => Self::unavailable(
                ErrorCode::ChartRepositoryUnavailable,
                "the chart repository this change needs could not be read; retry".to_owned(),
            ),
        }
    }
}

impl From<berth_charts::ChartError> for UseCaseError {
    fn from(e: berth_charts::ChartError) -> Self {
        match e {
            // 503 with Retry-After: nothing was written, the same request may be sent again.
            berth_charts::ChartError::Unavailable { retry_after, .. } => {
                let mut error =
                    Self::unavailable(ErrorCode::ChartRepositoryUnavailable, e.to_string());
                error.retry_after = Some(retry_after);
                error
            }
            berth_charts::ChartError::Refused { .. } => Self::new(
                ErrorKind::Invalid,
                ErrorCode::ChartInvalid,
                format!("version: {e}"),
            )
            .with_field("version"),
        }
    }
}

impl From<GitError> for UseCaseError {
    fn from(e: GitError) -> Self {
        match e {
            GitError::PushRejected { reason } => Self::new(
                ErrorKind::Conflict,
                ErrorCode::PushRejected,
                format!("the Git remote rejected the commit: {reason}"),
            ),
            GitError::RateLimited { retry_after } => {
                let retry_after = retry_after.max(Duration::from_secs(1));
                let mut error = Self::unavailable(
                    ErrorCode::GithubRateLimited,
                    format!("GitHub's rate limit: retry in {} s", retry_after.as_secs()),
                );
                error.retry_after = Some(retry_after);
                error
            }
            other => Self::unavailable(ErrorCode::GitUnavailable, other.to_string()),
        }
    }
}

impl From<CommitError> for UseCaseError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Plan(p) => p.into(),
            CommitError::Git(g) => g.into(),
        }
    }
}

impl From<StoreError> for UseCaseError {
    fn from(e: StoreError) -> Self {
        Self::unavailable(ErrorCode::StoreUnavailable, e.to_string())
    }
}
