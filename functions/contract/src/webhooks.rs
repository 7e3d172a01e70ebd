//! What every webhook delivery is answered with.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ErrorDetail, ModuleStatus, RequestView};

/// A delivery's answer: 200 once it is settled, whatever its outcome, so the sender stops
/// retrying; a delivery that may succeed later is answered 503 with the error shape instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookAnswer {
    /// The sender's event (delivery) id.
    pub event: String,
    /// The request's state (`committed`, `no_change`, `scheduled`, ...), or `rejected`,
    /// `recorded`, `reviewed`, `ignored`, `merged`, `closed`, `pong`.
    pub outcome: String,
    /// The request the event became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestView>,
    /// Why it was rejected; `field` is the path inside the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    /// The status an Argo CD notification recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ModuleStatus>,
    /// A pull request's review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewVerdict>,
    /// Why nothing was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl WebhookAnswer {
    /// An answer with `outcome` and nothing else yet.
    pub fn new(event: &str, outcome: impl Into<String>) -> Self {
        Self {
            event: event.to_owned(),
            outcome: outcome.into(),
            request: None,
            error: None,
            status: None,
            review: None,
            reason: None,
        }
    }
}

/// A person's pull request reviewed with Berth's rules: the `berth/validate` commit status set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewVerdict {
    /// `success` or `failure`.
    pub state: String,
    /// The status's description, as GitHub shows it.
    pub description: String,
    pub problems: Vec<ReviewProblem>,
}

/// One thing wrong in a reviewed pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewProblem {
    pub path: String,
    /// The field inside the file; empty for the file as a whole.
    pub field: String,
    pub message: String,
}
