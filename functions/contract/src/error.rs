//! The one error shape every route answers with.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code: `invalid`, `not_found`, `conflict`, `unauthorized`,
    /// `forbidden`, `timeout`, `git_unavailable`, ...
    #[schema(example = "invalid")]
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The field of the request the error is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "tier")]
    pub field: Option<String>,
}
