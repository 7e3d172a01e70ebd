//! `GET /v1/me` and the console's sign-in settings: who the caller is, as the server sees it, so
//! a client shows only what that caller may do.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The caller, as the server identified them from their token or verified JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallerView {
    /// Who asked, as request records keep it: `token:<name>` or `jwt:<sub>`.
    #[schema(example = "token:admin")]
    pub identity: String,
    /// `admin`, `operator` or `viewer`.
    #[schema(example = "operator")]
    pub role: String,
    /// The one tenant the caller acts on; absent for a caller who sees every tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Whether the role may write (admin and operator).
    pub can_write: bool,
}

/// The files one commit changed in a tenant's folder, each with its unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommitDiffView {
    pub tenant: String,
    pub commit: String,
    pub files: Vec<crate::FileDiffView>,
}

/// How the console signs people in (`GET /console/config.json`, served without a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsoleSettings {
    /// `tokens`: paste a Berth token. `jwt`: sign in at the identity provider (`oidc`).
    pub auth: String,
    /// With `jwt` and a console client configured: the authorization-code flow with PKCE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<ConsoleOidc>,
}

/// The identity provider's public client for the console: no secret, PKCE instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsoleOidc {
    pub client_id: String,
    pub authorize_url: String,
    pub token_url: String,
    /// Space-separated scopes to ask for.
    pub scope: String,
}
