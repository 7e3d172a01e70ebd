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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct UseCaseError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// When a retry can succeed, if known (GitHub's rate limit says).
    pub retry_after: Option<Duration>,
}

impl UseCaseError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut error = Self::new(ErrorKind::Invalid, "invalid", message);
        error.field = Some(field.into());
        error
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, code, message)
    }

    /// A request cut off at its deadline before its commit landed. Its claim is handed to the
    /// retry, which settles it under the same request id.
    pub fn deadline_exceeded() -> Self {
        Self::unavailable(
            "timeout",
            "the request ran out of time before its commit landed; retry with the same Idempotency-Key to settle it",
        )
    }

    /// A request that waits for a group commit that did not come in its caller's wait. It
    /// stays recorded and will be committed once; a retry with the same key learns its outcome.
    pub fn still_pending() -> Self {
        Self::unavailable(
            "pending",
            "the request is recorded and waits for its group commit; retry with the same Idempotency-Key for its outcome",
        )
    }

    /// The refusal a record keeps: the kind follows from the code (see [`Self::from_body`]).
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_owned(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }

    /// A refusal read back from a rejected request's record, answered again as it was first.
    pub fn from_body(body: ErrorBody) -> Self {
        let (kind, code) = match body.code.as_str() {
            "not_found" => (ErrorKind::NotFound, "not_found"),
            "conflict" => (ErrorKind::Conflict, "conflict"),
            "repository_invalid" => (ErrorKind::Invalid, "repository_invalid"),
            "push_rejected" => (ErrorKind::Conflict, "push_rejected"),
            // What a failed request keeps: a retry may succeed.
            "git_unavailable" => (ErrorKind::Unavailable, "git_unavailable"),
            "store_unavailable" => (ErrorKind::Unavailable, "store_unavailable"),
            "github_rate_limited" => (ErrorKind::Unavailable, "github_rate_limited"),
            "catalog_invalid" => (ErrorKind::Unavailable, "catalog_invalid"),
            "timeout" => (ErrorKind::Unavailable, "timeout"),
            "interrupted" => (ErrorKind::Unavailable, "interrupted"),
            _ => (ErrorKind::Invalid, "invalid"),
        };
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
            berth_core::ErrorKind::Invalid => (ErrorKind::Invalid, "invalid"),
            berth_core::ErrorKind::NotFound => (ErrorKind::NotFound, "not_found"),
            berth_core::ErrorKind::Conflict => (ErrorKind::Conflict, "conflict"),
        };
        let mut error = Self::new(kind, code, format!("{}: {}", e.field, e.reason));
        error.field = Some(e.field);
        error
    }
}

impl From<PlanError> for UseCaseError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Field(f) => f.into(),
            PlanError::Catalog(c) => Self::unavailable(
                "catalog_invalid",
                format!("the repository's tenants/catalog.yaml is not usable: {c}"),
            ),
            // 422 naming the file: the same request is refused until a person fixes it.
            PlanError::Repository { path, reason } => {
                let mut error = Self::new(
                    ErrorKind::Invalid,
                    "repository_invalid",
                    format!(
                        "{path} in the repository is not valid ({reason}); fix it with a pull request"
                    ),
                );
                error.field = Some(path);
                error
            }
        }
    }
}

impl From<GitError> for UseCaseError {
    fn from(e: GitError) -> Self {
        match e {
            GitError::PushRejected { reason } => Self::new(
                ErrorKind::Conflict,
                "push_rejected",
                format!("the Git remote rejected the commit: {reason}"),
            ),
            GitError::RateLimited { retry_after } => {
                let retry_after = retry_after.max(Duration::from_secs(1));
                let mut error = Self::unavailable(
                    "github_rate_limited",
                    format!("GitHub's rate limit: retry in {} s", retry_after.as_secs()),
                );
                error.retry_after = Some(retry_after);
                error
            }
            other => Self::unavailable("git_unavailable", other.to_string()),
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
        Self::unavailable("store_unavailable", e.to_string())
    }
}
