//! Bearer tokens with roles. Tokens come from configuration and are compared in constant time:
//! every configured token's digest is compared with the presented one's, whichever matches.

use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

/// The shortest token accepted in configuration.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn can_write(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }
}

/// A configured token: its digest, never the token itself, so it cannot end up in a log.
#[derive(Clone)]
pub struct TokenGrant {
    digest: [u8; 32],
    pub role: Role,
    /// When set, the token acts on this tenant only.
    pub tenant: Option<String>,
}

impl TokenGrant {
    pub fn new(token: &str, role: Role, tenant: Option<String>) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
            role,
            tenant,
        }
    }
}

impl fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGrant")
            .field("role", &self.role)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub role: Role,
    pub tenant: Option<String>,
}

impl Principal {
    /// Refuses a token scoped to another tenant.
    pub fn require_tenant(&self, tenant: &str) -> Result<(), ApiError> {
        match &self.tenant {
            Some(scope) if scope != tenant => Err(ApiError::forbidden(format!(
                "this token is limited to tenant {scope}"
            ))),
            _ => Ok(()),
        }
    }

    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this token may only read; writes need an admin or operator token",
            ))
        }
    }

    pub fn sees(&self, tenant: &str) -> bool {
        self.tenant.as_deref().is_none_or(|scope| scope == tenant)
    }
}

/// Finds the grant for a presented token, comparing against every grant so the time taken
/// does not depend on which one (if any) matched.
pub fn authenticate(grants: &[TokenGrant], presented: &str) -> Option<Principal> {
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for grant in grants {
        if bool::from(grant.digest.ct_eq(&digest)) && found.is_none() {
            found = Some(Principal {
                role: grant.role,
                tenant: grant.tenant.clone(),
            });
        }
    }
    found
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthenticated)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthenticated)?;
        authenticate(&state.config.tokens, token).ok_or_else(ApiError::unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_matching_grant_only() {
        let grants = vec![
            TokenGrant::new("admin-token-0123456789", Role::Admin, None),
            TokenGrant::new("viewer-token-0123456789", Role::Viewer, Some("acme".into())),
        ];
        assert_eq!(
            authenticate(&grants, "viewer-token-0123456789"),
            Some(Principal {
                role: Role::Viewer,
                tenant: Some("acme".into())
            })
        );
        assert_eq!(
            authenticate(&grants, "admin-token-0123456789").map(|p| p.role),
            Some(Role::Admin)
        );
        assert_eq!(authenticate(&grants, "admin-token-012345678"), None);
        assert_eq!(authenticate(&grants, ""), None);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let grant = TokenGrant::new("secret-token-0123456789", Role::Admin, None);
        assert!(!format!("{grant:?}").contains("secret"));
    }
}

/// A caller allowed to write: authenticated (401 otherwise) with a writing role (403 otherwise),
/// checked before the body is even read.
#[derive(Debug, Clone)]
pub struct Writer(pub Principal);

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.require_write()?;
        Ok(Writer(principal))
    }
}
