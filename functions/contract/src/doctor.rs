//! `GET /v1/doctor`: the server's checks of its own deployment, for `berth doctor`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How one check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    /// Works, but something will bite: a branch protection in pull-request mode, a chart
    /// without a schema of its own.
    Warning,
    /// Berth cannot work as deployed; `hint` says what to do.
    Failed,
}

/// One check: what was checked, how it went, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DoctorCheck {
    /// `git.read`, `git.write`, `git.branch`, `catalog`, `module.<name>`, `store`, `cluster`,
    /// `argocd`, `api`, `auth`, `clock`.
    #[schema(example = "git.write")]
    pub name: String,
    pub status: CheckStatus,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl DoctorCheck {
    pub fn ok(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(name, CheckStatus::Ok, message, None)
    }

    pub fn warning(
        name: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(name, CheckStatus::Warning, message, Some(hint.into()))
    }

    pub fn failed(
        name: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(name, CheckStatus::Failed, message, Some(hint.into()))
    }

    fn new(
        name: impl Into<String>,
        status: CheckStatus,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        Self {
            name: name.into(),
            status,
            message: message.into(),
            hint,
        }
    }
}

/// The server's checks, in the order they ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DoctorReport {
    pub checks: Vec<DoctorCheck>,
}
