//! The console: a few static pages, embedded at compile time, that call only `/v1` from the
//! browser. Served without a token (the pages hold no data; every call they make carries the
//! caller's own credentials), each answer with a strict Content-Security-Policy: scripts and
//! styles from this origin only, no inline script, no framing.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_contract::{ConsoleOidc, ConsoleSettings};
use berth_usecases::settings::{ConfigError, invalid};

use crate::auth::ApiAuth;
use crate::error::ApiError;
use crate::{ApiConfig, AppState};

/// One embedded file and the type it is served as.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $type:expr),* $(,)?) => {
        &[$(Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../console/", $path)),
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console; nothing else under `/console/` answers.
static ASSETS: &[Asset] = assets![
    "index.html" => "text/html; charset=utf-8",
    "console.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "app.js" => JS,
    "api.js" => JS,
    "auth.js" => JS,
    "dom.js" => JS,
    "poll.js" => JS,
    "format.js" => JS,
    "pages/signin.js" => JS,
    "pages/fleet.js" => JS,
    "pages/tenant.js" => JS,
    "pages/tenant_actions.js" => JS,
    "pages/request.js" => JS,
    "pages/rollouts.js" => JS,
];

/// The console's routes, each answer tagged for `If-None-Match` and carrying the security
/// headers (outermost, so a 304 carries them too).
pub fn console_router(config: &ApiConfig) -> Router<AppState> {
    let policy = policy_header(config.console_oidc.as_ref());
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/config.json", get(settings))
        .route("/console/{*path}", get(asset))
        .layer(axum::middleware::from_fn(crate::etag::tag_answers))
        .layer(axum::middleware::map_response(move |response: Response| {
            let policy = policy.clone();
            async move { with_security_headers(response, policy) }
        }))
}

async fn index() -> Response {
    serve("index.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

/// Looks the path up among the embedded files: a path is only ever compared, never opened.
fn serve(path: &str) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                // Revalidated on every load (the ETag makes that a 304): a new deployment's
                // console is never mixed with an old one's modules.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            asset.body,
        )
            .into_response(),
        None => ApiError::not_found(format!("no console file {path}")).into_response(),
    }
}

/// `GET /console/config.json`: how the console signs people in.
async fn settings(State(state): State<AppState>) -> Json<ConsoleSettings> {
    Json(match &state.config.auth {
        ApiAuth::Tokens(_) => ConsoleSettings {
            auth: "tokens".into(),
            oidc: None,
        },
        ApiAuth::Jwt(_) => ConsoleSettings {
            auth: "jwt".into(),
            oidc: state.config.console_oidc.clone(),
        },
    })
}

/// The policy with no identity provider: every fetch goes to this origin only.
const SELF_ONLY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The Content-Security-Policy, built once per router: `connect-src` names the identity
/// provider's token endpoint too when the console exchanges a code there. A value no header
/// can carry (the settings reader refuses every such URL) falls back to the self-only policy:
/// stricter, never none.
fn policy_header(oidc: Option<&ConsoleOidc>) -> HeaderValue {
    let origin = oidc.and_then(|o| origin_of(&o.token_url));
    origin
        .and_then(|origin| HeaderValue::from_str(&content_security_policy(Some(&origin))).ok())
        .unwrap_or_else(|| HeaderValue::from_static(SELF_ONLY_POLICY))
}

/// Sets the security headers on a console answer, the not-found ones and 304s included.
fn with_security_headers(mut response: Response, policy: HeaderValue) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn content_security_policy(token_origin: Option<&str>) -> String {
    match token_origin {
        Some(origin) => SELF_ONLY_POLICY.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {origin}"),
        ),
        None => SELF_ONLY_POLICY.to_owned(),
    }
}

/// `scheme://host[:port]` of an URL already checked by [`console_oidc_from_env`].
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{host}"))
}

/// Reads the console's sign-in for `BERTH_API_AUTH=jwt`: `BERTH_CONSOLE_CLIENT_ID`,
/// `BERTH_CONSOLE_AUTHORIZE_URL` and `BERTH_CONSOLE_TOKEN_URL` together, or none of them (the
/// console then says sign-in is not set up). `BERTH_CONSOLE_SCOPE` defaults to `openid`.
pub fn console_oidc_from_env(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<ConsoleOidc>, ConfigError> {
    const CLIENT: &str = "BERTH_CONSOLE_CLIENT_ID";
    const AUTHORIZE: &str = "BERTH_CONSOLE_AUTHORIZE_URL";
    const TOKEN: &str = "BERTH_CONSOLE_TOKEN_URL";
    let (client_id, authorize, token) = match (get(CLIENT), get(AUTHORIZE), get(TOKEN)) {
        (None, None, None) => return Ok(None),
        (Some(c), Some(a), Some(t)) => (c, a, t),
        (None, _, _) => return Err(ConfigError::Missing(CLIENT)),
        (_, None, _) => return Err(ConfigError::Missing(AUTHORIZE)),
        (_, _, None) => return Err(ConfigError::Missing(TOKEN)),
    };
    if !client_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(invalid(CLIENT, "must be letters, digits, '-', '_' or '.'"));
    }
    let scope = get("BERTH_CONSOLE_SCOPE").unwrap_or_else(|| "openid".into());
    if !scope.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(invalid(
            "BERTH_CONSOLE_SCOPE",
            "must be visible ASCII scopes",
        ));
    }
    Ok(Some(ConsoleOidc {
        client_id,
        authorize_url: endpoint(AUTHORIZE, authorize)?,
        token_url: endpoint(TOKEN, token)?,
        scope,
    }))
}

/// An https URL (http only on loopback, for tests), with no character a CSP or a header would
/// take as a separator.
fn endpoint(var: &'static str, url: String) -> Result<String, ConfigError> {
    let loopback = url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:");
    if !(url.starts_with("https://") || loopback) {
        return Err(invalid(var, "must be an https:// URL"));
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || ";,'\"".contains(c))
    {
        return Err(invalid(
            var,
            "must be a plain URL (no spaces, quotes, ';' or ',')",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_console_sign_in_is_all_three_settings_or_none() {
        assert_eq!(console_oidc_from_env(env(&[])).unwrap(), None);
        let err = console_oidc_from_env(env(&[("BERTH_CONSOLE_CLIENT_ID", "abc")])).unwrap_err();
        assert!(
            err.to_string().contains("BERTH_CONSOLE_AUTHORIZE_URL"),
            "{err}"
        );
        let full = [
            ("BERTH_CONSOLE_CLIENT_ID", "abc"),
            (
                "BERTH_CONSOLE_AUTHORIZE_URL",
                "https://auth.example.com/oauth2/authorize",
            ),
            (
                "BERTH_CONSOLE_TOKEN_URL",
                "https://auth.example.com/oauth2/token",
            ),
        ];
        let oidc = console_oidc_from_env(env(&full)).unwrap().unwrap();
        assert_eq!(oidc.scope, "openid");
        assert_eq!(
            origin_of(&oidc.token_url).as_deref(),
            Some("https://auth.example.com")
        );
    }

    #[test]
    fn a_console_endpoint_must_be_https_and_cannot_widen_the_policy() {
        for bad in [
            "http://auth.example.com/token",
            "https://auth.example.com/token; script-src *",
            "https://a.example.com/t 'unsafe-inline'",
        ] {
            let pairs = [
                ("BERTH_CONSOLE_CLIENT_ID", "abc"),
                ("BERTH_CONSOLE_AUTHORIZE_URL", "https://auth.example.com/a"),
                ("BERTH_CONSOLE_TOKEN_URL", bad),
            ];
            let err = console_oidc_from_env(env(&pairs)).unwrap_err();
            assert!(
                err.to_string().contains("BERTH_CONSOLE_TOKEN_URL"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_policy_allows_only_this_origin_and_the_token_endpoint() {
        let policy = content_security_policy(Some("https://auth.example.com"));
        assert!(policy.contains("default-src 'self'"));
        assert!(content_security_policy(None).contains("connect-src 'self';"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("connect-src 'self' https://auth.example.com;"));
        assert!(!policy.contains("unsafe"));
    }
}
