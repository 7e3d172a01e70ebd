//! Who is calling, from one of two sources that a caller cannot forge:
//! - static bearer tokens from configuration (`berth dev`, local serving, a deployment that
//!   chooses them), compared in constant time: every configured token's digest is compared with
//!   the presented one's, whichever matches;
//! - behind API Gateway's JWT authorizer, the claims the authorizer verified, which reach the
//!   function in the Lambda event's request context (never from a header or the body): the
//!   Lambda edge copies them into [`AuthorizerClaims`].

use std::collections::HashMap;
use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use berth_usecases::Visibility;

use crate::AppState;
use crate::error::ApiError;

/// The shortest token accepted in configuration.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
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

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn can_write(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }
}

/// How the api function learns who calls (`BERTH_API_AUTH`).
#[derive(Debug, Clone)]
pub enum ApiAuth {
    /// Static bearer tokens (`BERTH_API_TOKENS`).
    Tokens(Vec<TokenGrant>),
    /// The claims of API Gateway's JWT authorizer; the names of the claims that carry the role
    /// and the tenant scope.
    Jwt(JwtClaimNames),
}

/// Which claims of a verified JWT carry Berth's role and tenant scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtClaimNames {
    /// `BERTH_JWT_ROLE_CLAIM`: a string, or an array such as Cognito's `cognito:groups`.
    pub role: String,
    /// `BERTH_JWT_TENANT_CLAIM`: when present, the caller acts on that tenant only.
    pub tenant: String,
}

impl Default for JwtClaimNames {
    fn default() -> Self {
        Self {
            role: "berth_role".into(),
            tenant: "berth_tenant".into(),
        }
    }
}

/// The claims API Gateway's JWT authorizer verified, as the Lambda event's request context
/// carries them. Only the Lambda edge inserts this extension; no header or body can.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerClaims(pub HashMap<String, String>);

/// A configured token: its digest, never the token itself, so it cannot end up in a log.
#[derive(Clone)]
pub struct TokenGrant {
    digest: [u8; 32],
    /// Who this token is, recorded on every request it makes.
    pub name: String,
    pub role: Role,
    /// When set, the token acts on this tenant only.
    pub tenant: Option<String>,
}

impl TokenGrant {
    pub fn new(token: &str, role: Role, tenant: Option<String>) -> Self {
        let name = match &tenant {
            Some(t) => format!("{}:{t}", role.as_str()),
            None => role.as_str().to_owned(),
        };
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
            name,
            role,
            tenant,
        }
    }

    /// The same grant under another name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

impl fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGrant")
            .field("name", &self.name)
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
    /// Who asked, as request records keep it: `token:<name>`, or `jwt:<sub>`.
    pub identity: String,
}

impl Principal {
    /// Refuses a token scoped to another tenant (the use-cases' rule, [`Visibility::require`]).
    pub fn require_tenant(&self, tenant: &str) -> Result<(), ApiError> {
        Ok(self.visibility().require(tenant)?)
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

    /// Refuses anyone but an admin, naming `field` and what only an admin may do: choosing a
    /// cluster overrides the placement policy, and with it capacity planning.
    pub fn require_admin(&self, field: &str, what: &str) -> Result<(), ApiError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("{field}: only an admin may {what}")).with_field(field))
        }
    }

    /// The tenants the caller may see, as the use-cases take it.
    pub fn visibility(&self) -> Visibility {
        match &self.tenant {
            Some(scope) => Visibility::only(scope.clone()),
            None => Visibility::every_tenant(),
        }
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
                identity: format!("token:{}", grant.name),
            });
        }
    }
    found
}

/// The caller an authorizer's verified claims describe: the most privileged known role among
/// the role claim's values (403 naming the claim when there is none), the tenant scope when the
/// tenant claim is present, the `sub` claim as the identity.
pub fn principal_from_claims(
    names: &JwtClaimNames,
    claims: &AuthorizerClaims,
) -> Result<Principal, ApiError> {
    let role = claims
        .0
        .get(&names.role)
        .into_iter()
        .flat_map(|raw| claim_values(raw))
        .filter_map(Role::parse)
        .max()
        .ok_or_else(|| {
            ApiError::forbidden(format!(
                "the token's claim {} names no Berth role (admin, operator or viewer)",
                names.role
            ))
            .with_field(names.role.clone())
        })?;
    let tenant = match claims.0.get(&names.tenant).map(|t| t.trim()) {
        None | Some("") => None,
        Some(raw) => {
            let tenant = berth_core::TenantName::parse(&names.tenant, raw).map_err(|_| {
                ApiError::forbidden(format!(
                    "the token's claim {} is not a tenant name",
                    names.tenant
                ))
                .with_field(names.tenant.clone())
            })?;
            Some(tenant.to_string())
        }
    };
    let subject = claims.0.get("sub").map(|s| s.trim()).unwrap_or_default();
    Ok(Principal {
        role,
        tenant,
        identity: if subject.is_empty() {
            "jwt".into()
        } else {
            format!("jwt:{subject}")
        },
    })
}

/// The values of one claim as API Gateway's HTTP API passes it: every claim is a string, and an
/// array claim is written Go-style as `[a b c]`. A JSON array and a comma-separated list are read
/// too, so a claim mapped by another authorizer still works.
fn claim_values(raw: &str) -> Vec<&str> {
    let raw = raw.trim();
    let inner = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    inner
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|v| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
        .collect()
}

/// The bearer token of the `Authorization` header, if any.
fn bearer_token(parts: &Parts) -> Option<&str> {
    let header = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match &state.config.auth {
            ApiAuth::Tokens(grants) => {
                let token = bearer_token(parts).ok_or_else(ApiError::unauthenticated)?;
                authenticate(grants, token).ok_or_else(ApiError::unauthenticated)
            }
            // API Gateway refuses a request without a valid JWT before it reaches the function;
            // claims missing here mean the function was reached some other way.
            ApiAuth::Jwt(names) => {
                let claims = parts
                    .extensions
                    .get::<AuthorizerClaims>()
                    .filter(|c| !c.0.is_empty())
                    .ok_or_else(|| {
                        ApiError::new(
                            axum::http::StatusCode::UNAUTHORIZED,
                            "unauthenticated",
                            "no verified JWT claims: this API is served behind API Gateway's JWT authorizer",
                        )
                    })?;
                principal_from_claims(names, claims)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_matching_grant_only() {
        let grants = vec![
            TokenGrant::new("admin-token-0123456789", Role::Admin, None).named("ci"),
            TokenGrant::new("viewer-token-0123456789", Role::Viewer, Some("acme".into())),
        ];
        assert_eq!(
            authenticate(&grants, "viewer-token-0123456789"),
            Some(Principal {
                role: Role::Viewer,
                tenant: Some("acme".into()),
                identity: "token:viewer:acme".into(),
            })
        );
        let admin = authenticate(&grants, "admin-token-0123456789").unwrap();
        assert_eq!(
            (admin.role, admin.identity.as_str()),
            (Role::Admin, "token:ci")
        );
        assert_eq!(authenticate(&grants, "admin-token-012345678"), None);
        assert_eq!(authenticate(&grants, ""), None);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let grant = TokenGrant::new("secret-token-0123456789", Role::Admin, None);
        assert!(!format!("{grant:?}").contains("secret"));
    }

    fn claims(pairs: &[(&str, &str)]) -> AuthorizerClaims {
        AuthorizerClaims(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_string_role_claim_with_a_tenant_scope() {
        let p = principal_from_claims(
            &JwtClaimNames::default(),
            &claims(&[
                ("berth_role", "operator"),
                ("berth_tenant", "acme"),
                ("sub", "u-1"),
            ]),
        )
        .unwrap();
        assert_eq!(
            p,
            Principal {
                role: Role::Operator,
                tenant: Some("acme".into()),
                identity: "jwt:u-1".into()
            }
        );
    }

    #[test]
    fn an_array_claim_counts_its_most_privileged_known_role() {
        let names = JwtClaimNames {
            role: "cognito:groups".into(),
            tenant: "custom:tenant".into(),
        };
        for raw in [
            "[viewer staff admin]",
            r#"["viewer","admin"]"#,
            "viewer,admin",
        ] {
            let p = principal_from_claims(&names, &claims(&[("cognito:groups", raw)])).unwrap();
            assert_eq!(p.role, Role::Admin, "{raw}");
            assert_eq!(p.tenant, None);
        }
        let p = principal_from_claims(&names, &claims(&[("cognito:groups", "[staff viewer]")]))
            .unwrap();
        assert_eq!(p.role, Role::Viewer);
    }

    #[test]
    fn no_known_role_is_forbidden_naming_the_claim() {
        for c in [
            claims(&[("sub", "u-1")]),
            claims(&[("berth_role", "[staff root]"), ("sub", "u-1")]),
            claims(&[("berth_role", "Admin")]),
        ] {
            let e = principal_from_claims(&JwtClaimNames::default(), &c).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::FORBIDDEN);
            assert_eq!(e.field.as_deref(), Some("berth_role"));
            assert!(e.message.contains("berth_role"), "{}", e.message);
        }
    }

    #[test]
    fn a_tenant_claim_that_is_no_tenant_name_is_forbidden() {
        let e = principal_from_claims(
            &JwtClaimNames::default(),
            &claims(&[("berth_role", "admin"), ("berth_tenant", "../etc")]),
        )
        .unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::FORBIDDEN);
        assert_eq!(e.field.as_deref(), Some("berth_tenant"));
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
