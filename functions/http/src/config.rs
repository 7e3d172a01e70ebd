//! Configuration from environment variables (the README's table lists every one). A function
//! refuses to start with a message naming the variable when something is missing or malformed;
//! no message ever repeats a secret's value.

use std::sync::Arc;

use axum::http::HeaderValue;
use berth_events::SecretSet;
use berth_usecases::settings::git::{github_api_url, github_credential_from_env};
use berth_usecases::settings::invalid;
pub use berth_usecases::settings::{ConfigError, ServiceSettings, StoreSettings};

use crate::AppState;
use crate::auth::{ApiAuth, JwtClaimNames, MIN_TOKEN_LEN, Role, TokenGrant};

pub use berth_usecases::Mode;

/// The secrets of each sender; several per sender may be valid at once.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    pub billing: SecretSet,
    pub signup: SecretSet,
    pub github: SecretSet,
    pub argocd: SecretSet,
    /// Seconds a signed timestamp may be off, either way.
    pub tolerance_seconds: i64,
    /// GitHub's API base URL (`https://api.github.com`, an Enterprise server, a test server).
    pub github_api_url: String,
    /// The credential commit statuses and pull requests are made with; never logged.
    pub github_credential: Option<berth_usecases::ports::GithubCredential>,
}

/// What the HTTP layer needs besides its backends.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// How callers are identified: static tokens, or API Gateway's JWT claims.
    pub auth: ApiAuth,
    pub default_mode: Mode,
    pub cors_origins: Vec<HeaderValue>,
    /// How long a claimed idempotency key or event id is held for its request before a retry
    /// may take it over (`BERTH_CLAIM_LEASE`).
    pub claim_lease: std::time::Duration,
    /// How long a request may work off Lambda, where no invocation deadline bounds it; under
    /// Lambda the invocation's deadline (less a margin) is the bound.
    pub request_budget: std::time::Duration,
    /// Source of the `version` in `/healthz`.
    pub version: &'static str,
    /// With `BERTH_API_AUTH=jwt`, the identity provider's client the console signs in with.
    pub console_oidc: Option<berth_contract::ConsoleOidc>,
}

impl ApiConfig {
    /// Callers identified by static bearer tokens.
    pub fn new(tokens: Vec<TokenGrant>) -> Self {
        Self::with_auth(ApiAuth::Tokens(tokens))
    }

    pub fn with_auth(auth: ApiAuth) -> Self {
        Self {
            auth,
            default_mode: Mode::Direct,
            cors_origins: Vec::new(),
            claim_lease: berth_usecases::write::timing::DEFAULT_CLAIM_LEASE,
            request_budget: crate::deadline::DEFAULT_REQUEST_BUDGET,
            version: env!("CARGO_PKG_VERSION"),
            console_oidc: None,
        }
    }
}

/// Parses `BERTH_API_TOKENS`: comma-separated `[name@]role[:tenant]=token` entries. The name is
/// what request records keep as who asked (default: the role, and the tenant when scoped).
pub fn parse_tokens(raw: &str) -> Result<Vec<TokenGrant>, ConfigError> {
    const VAR: &str = "BERTH_API_TOKENS";
    let mut grants = Vec::new();
    for (i, entry) in raw
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
    {
        let n = i + 1;
        let (grant, token) = entry
            .split_once('=')
            .ok_or_else(|| invalid(VAR, format!("entry {n} is not [name@]role[:tenant]=token")))?;
        let (name, grant) = match grant.split_once('@') {
            Some((name, grant)) => (Some(name), grant),
            None => (None, grant),
        };
        if let Some(name) = name
            && (name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Err(invalid(
                VAR,
                format!("entry {n}: a token's name is letters, digits, '-', '_' or '.'"),
            ));
        }
        let (role, tenant) = match grant.split_once(':') {
            Some((role, tenant)) => (role, Some(tenant)),
            None => (grant, None),
        };
        let role = Role::parse(role).ok_or_else(|| {
            invalid(
                VAR,
                format!("entry {n}: role must be admin, operator or viewer"),
            )
        })?;
        if let Some(tenant) = tenant {
            berth_core::TenantName::parse("tenant", tenant)
                .map_err(|e| invalid(VAR, format!("entry {n}: {e}")))?;
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(invalid(
                VAR,
                format!("entry {n}: tokens must be at least {MIN_TOKEN_LEN} characters"),
            ));
        }
        let mut grant = TokenGrant::new(token, role, tenant.map(str::to_owned));
        if let Some(name) = name {
            grant = grant.named(name);
        }
        grants.push(grant);
    }
    if grants.is_empty() {
        return Err(invalid(VAR, "no tokens configured"));
    }
    Ok(grants)
}

/// Which HTTP function reads the environment: each requires only what it serves. (The status
/// function reads [`ServiceSettings`] alone.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The `/v1` API: needs `BERTH_API_TOKENS`, unless `BERTH_API_AUTH=jwt`.
    Api,
    /// The webhooks: needs `BERTH_WEBHOOK_SECRETS_*`.
    Webhook,
}

/// Everything an HTTP function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Git, the store and the claim lease, as every function reads them.
    pub services: ServiceSettings,
    pub api: ApiConfig,
    /// Set for [`Function::Webhook`].
    pub webhooks: Option<WebhookSecrets>,
}

/// Reads `BERTH_WEBHOOK_SECRETS_*` and `BERTH_WEBHOOK_TOLERANCE_SECONDS`.
pub fn webhook_secrets_from_env(
    var: impl Fn(&str) -> Option<String>,
) -> Result<WebhookSecrets, ConfigError> {
    let secrets = |name: &'static str| -> Result<SecretSet, ConfigError> {
        let raw = var(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or(ConfigError::Missing(name))?;
        SecretSet::parse(&raw).map_err(|e| invalid(name, e.to_string()))
    };
    let tolerance_seconds =
        match var("BERTH_WEBHOOK_TOLERANCE_SECONDS").filter(|v| !v.trim().is_empty()) {
            None => berth_events::DEFAULT_TOLERANCE_SECONDS,
            Some(raw) => raw
                .parse()
                .ok()
                .filter(|n| (1..=86_400).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "BERTH_WEBHOOK_TOLERANCE_SECONDS",
                        "must be a number of seconds from 1 to 86400",
                    )
                })?,
        };
    Ok(WebhookSecrets {
        billing: secrets("BERTH_WEBHOOK_SECRETS_BILLING")?,
        signup: secrets("BERTH_WEBHOOK_SECRETS_SIGNUP")?,
        github: secrets("BERTH_WEBHOOK_SECRETS_GITHUB")?,
        argocd: secrets("BERTH_WEBHOOK_SECRETS_ARGOCD")?,
        tolerance_seconds,
        github_api_url: github_api_url(
            var("BERTH_GITHUB_API_URL").filter(|v| !v.trim().is_empty()),
        )?,
        github_credential: github_credential_from_env(|name| {
            var(name).filter(|v| !v.trim().is_empty())
        })?,
    })
}

impl Settings {
    /// Reads the settings through `var` (the process environment in production, a map in tests).
    pub fn from_env(
        function: Function,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut services = ServiceSettings::from_env(get)?;
        services.metrics = services.metrics.for_function(match function {
            Function::Api => "api",
            Function::Webhook => "webhook",
        });

        let (auth, webhooks) = match function {
            Function::Api => (api_auth_from_env(get)?, None),
            Function::Webhook => (
                ApiAuth::Tokens(Vec::new()),
                Some(webhook_secrets_from_env(get)?),
            ),
        };
        let mut api = ApiConfig::with_auth(auth);
        if let Some(mode) = get("BERTH_DEFAULT_MODE") {
            api.default_mode = Mode::parse(&mode)
                .ok_or_else(|| invalid("BERTH_DEFAULT_MODE", "must be direct or pr"))?;
        }
        api.claim_lease = services.claim_lease;
        if function == Function::Api {
            api.console_oidc = crate::console::console_oidc_from_env(get)?;
            if api.console_oidc.is_some() && matches!(api.auth, ApiAuth::Tokens(_)) {
                return Err(invalid(
                    "BERTH_CONSOLE_CLIENT_ID",
                    "is set, but BERTH_API_AUTH is tokens: the console signs in with a pasted token; unset the BERTH_CONSOLE_* variables or use jwt",
                ));
            }
        }
        if let Some(origins) = get("BERTH_CORS_ORIGINS") {
            api.cors_origins = parse_origins(&origins)?;
        }
        Ok(Self {
            services,
            api,
            webhooks,
        })
    }

    /// Builds the state the routers serve: clients are made once here and reused.
    pub fn into_state(self) -> Result<AppState, ConfigError> {
        Ok(AppState {
            app: self.services.into_app()?,
            config: Arc::new(self.api),
        })
    }
}

/// Reads `BERTH_API_AUTH` (`tokens`, the default, or `jwt`) and what that mode needs: the
/// tokens, or the names of the claims that carry the role and the tenant scope.
fn api_auth_from_env(get: impl Fn(&str) -> Option<String>) -> Result<ApiAuth, ConfigError> {
    let mode = get("BERTH_API_AUTH").unwrap_or_else(|| "tokens".into());
    match mode.as_str() {
        "tokens" => {
            let raw = get("BERTH_API_TOKENS").ok_or(ConfigError::Missing("BERTH_API_TOKENS"))?;
            Ok(ApiAuth::Tokens(parse_tokens(&raw)?))
        }
        "jwt" => {
            if get("BERTH_API_TOKENS").is_some() {
                return Err(invalid(
                    "BERTH_API_TOKENS",
                    "is set, but BERTH_API_AUTH is jwt: behind the JWT authorizer no static token reaches the function; unset one of them",
                ));
            }
            let mut names = JwtClaimNames::default();
            for (var, slot) in [
                ("BERTH_JWT_ROLE_CLAIM", &mut names.role),
                ("BERTH_JWT_TENANT_CLAIM", &mut names.tenant),
            ] {
                if let Some(claim) = get(var) {
                    if claim.trim() != claim || claim.len() > 128 {
                        return Err(invalid(var, "must be a claim name without spaces"));
                    }
                    *slot = claim;
                }
            }
            Ok(ApiAuth::Jwt(names))
        }
        _ => Err(invalid("BERTH_API_AUTH", "must be tokens or jwt")),
    }
}

fn parse_origins(raw: &str) -> Result<Vec<HeaderValue>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.ends_with('/');
            if !ok {
                return Err(invalid(
                    "BERTH_CORS_ORIGINS",
                    format!("{origin:?} is not an origin like https://app.example.com"),
                ));
            }
            HeaderValue::from_str(origin).map_err(|_| {
                invalid(
                    "BERTH_CORS_ORIGINS",
                    format!("{origin:?} is not a valid header value"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_env(Function::Api, |k| map.get(k).cloned())
    }

    const TOKENS: (&str, &str) = (
        "BERTH_API_TOKENS",
        "admin=0123456789abcdef,viewer:acme=fedcba9876543210",
    );

    #[test]
    fn reads_a_complete_environment() {
        let s = settings(&[
            ("BERTH_GIT_REMOTE", "/srv/repo.git"),
            ("BERTH_TABLE", "berth"),
            TOKENS,
            ("BERTH_DEFAULT_MODE", "pr"),
        ])
        .unwrap();
        assert_eq!(s.services.git.branch(), "main");
        assert_eq!(
            s.services.store,
            StoreSettings::Dynamo {
                table: "berth".into(),
                endpoint: None
            }
        );
        let ApiAuth::Tokens(tokens) = &s.api.auth else {
            panic!("tokens expected")
        };
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[1].tenant.as_deref(), Some("acme"));
        assert_eq!(tokens[1].name, "viewer:acme");
        assert_eq!(s.api.default_mode, Mode::Pr);
    }

    #[test]
    fn tokens_may_be_named() {
        let grants = parse_tokens("ci-pipeline@operator:acme=0123456789abcdef").unwrap();
        assert_eq!(grants[0].name, "ci-pipeline");
        assert_eq!(grants[0].tenant.as_deref(), Some("acme"));
        let err = parse_tokens("bad name@admin=0123456789abcdef").unwrap_err();
        assert!(err.to_string().contains("entry 1: a token's name"), "{err}");
    }

    #[test]
    fn jwt_mode_reads_claim_names_and_needs_no_tokens() {
        let base = [("BERTH_GIT_REMOTE", "/r"), ("BERTH_TABLE", "t")];
        let s = settings(&[base[0], base[1], ("BERTH_API_AUTH", "jwt")]).unwrap();
        let ApiAuth::Jwt(names) = s.api.auth else {
            panic!("jwt expected")
        };
        assert_eq!(names, JwtClaimNames::default());
        let s = settings(&[
            base[0],
            base[1],
            ("BERTH_API_AUTH", "jwt"),
            ("BERTH_JWT_ROLE_CLAIM", "cognito:groups"),
            ("BERTH_JWT_TENANT_CLAIM", "custom:tenant"),
        ])
        .unwrap();
        let ApiAuth::Jwt(names) = s.api.auth else {
            panic!("jwt expected")
        };
        assert_eq!(names.role, "cognito:groups");
        assert_eq!(names.tenant, "custom:tenant");
        let err = settings(&[base[0], base[1], ("BERTH_API_AUTH", "jwt"), TOKENS]).unwrap_err();
        assert!(
            err.to_string().starts_with("BERTH_API_TOKENS: is set"),
            "{err}"
        );
        let err = settings(&[base[0], base[1], ("BERTH_API_AUTH", "oidc")]).unwrap_err();
        assert!(err.to_string().starts_with("BERTH_API_AUTH"), "{err}");
    }

    #[test]
    fn the_webhook_function_needs_its_secrets_not_tokens() {
        let map: HashMap<String, String> = [
            ("BERTH_GIT_REMOTE", "/r"),
            ("BERTH_TABLE", "t"),
            ("BERTH_WEBHOOK_SECRETS_BILLING", "whsec_billing_0123456789"),
            (
                "BERTH_WEBHOOK_SECRETS_SIGNUP",
                "whsec_c2lnbnVwLXNlY3JldC0wMTIzNDU2Nzg5",
            ),
            (
                "BERTH_WEBHOOK_SECRETS_GITHUB",
                "github-secret-0123456789,github-secret-next-0123456789",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let err = Settings::from_env(Function::Webhook, |k| map.get(k).cloned()).unwrap_err();
        assert_eq!(err, ConfigError::Missing("BERTH_WEBHOOK_SECRETS_ARGOCD"));
        let mut map = map;
        map.insert("BERTH_WEBHOOK_SECRETS_ARGOCD".into(), "tiny-xyz".into());
        let err = Settings::from_env(Function::Webhook, |k| map.get(k).cloned()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("BERTH_WEBHOOK_SECRETS_ARGOCD: secret 1"),
            "{err}"
        );
        assert!(
            !err.to_string().contains("tiny-xyz"),
            "the secret never appears"
        );
        map.insert(
            "BERTH_WEBHOOK_SECRETS_ARGOCD".into(),
            "argocd-token-0123456789".into(),
        );
        let s = Settings::from_env(Function::Webhook, |k| map.get(k).cloned()).unwrap();
        assert_eq!(s.webhooks.unwrap().github.iter().count(), 2);
    }

    #[test]
    fn names_the_missing_or_bad_variable() {
        assert_eq!(
            settings(&[("BERTH_TABLE", "t"), TOKENS]).unwrap_err(),
            ConfigError::Missing("BERTH_GIT_REMOTE")
        );
        let err = settings(&[
            ("BERTH_GIT_REMOTE", "/r"),
            ("BERTH_TABLE", "t"),
            ("BERTH_API_TOKENS", "root=0123456789abcdef"),
        ])
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("BERTH_API_TOKENS: entry 1: role"),
            "{err}"
        );
        let err = settings(&[
            ("BERTH_GIT_REMOTE", "/r"),
            ("BERTH_TABLE", "t"),
            ("BERTH_API_TOKENS", "admin=short"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("at least 16"), "{err}");
        assert!(
            !err.to_string().contains("short"),
            "the token never appears: {err}"
        );
        let err = settings(&[
            ("BERTH_GIT_REMOTE", "https://u:p@h/r.git"),
            ("BERTH_TABLE", "t"),
            TOKENS,
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("BERTH_GIT_REMOTE"), "{err}");
        assert!(!err.to_string().contains("u:p"), "{err}");
        let err = settings(&[
            ("BERTH_GIT_REMOTE", "/r"),
            ("BERTH_TABLE", "t"),
            TOKENS,
            ("BERTH_CORS_ORIGINS", "*"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("BERTH_CORS_ORIGINS"), "{err}");
        let err = settings(&[("BERTH_GIT_REMOTE", "/r"), TOKENS]).unwrap_err();
        assert!(matches!(err, ConfigError::Missing(_)), "{err}");
    }
}
