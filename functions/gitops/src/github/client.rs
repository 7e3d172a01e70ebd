//! One GitHub call at a time, as the committer needs them: a GraphQL document or a REST route,
//! with the credential's token, GitHub's rate limits waited out within a bound, and every
//! failure sorted into what a retry may and may not assume. Only reads are sent again when no
//! answer came (a reset connection, a timeout, GitHub's 502/504 on a slow query): a mutation
//! that may have landed is settled by the committer, never sent again blindly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{ACCEPT, AUTHORIZATION, HeaderMap, USER_AGENT};
use http::{Method, Request};
use octocrab::Octocrab;
use octocrab::models::{AppId, InstallationId};
use octocrab::secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::answer::{ErrorMeaning, GraphqlAnswer, GraphqlError, error_meaning, rate_limit_wait};

/// The bound on connecting, within a call's bound.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The waits before a read that got no answer is sent again, one per retry. Short: a read sits
/// on a request path, and a GitHub that stays silent past them is down for this request.
const READ_RETRY_WAITS: [Duration; 2] = [Duration::from_millis(250), Duration::from_secs(1)];

/// How Berth proves itself to GitHub. Never printed.
#[derive(Clone)]
pub enum GithubCredential {
    /// A personal access token or any other bearer token.
    Token(SecretString),
    /// A GitHub App's installation: tokens are minted on first use and again before they
    /// expire (an hour), from a JWT signed with the App's private key.
    App {
        app_id: u64,
        private_key_pem: SecretString,
        installation_id: u64,
    },
}

impl std::fmt::Debug for GithubCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("GithubCredential::Token(<redacted>)"),
            Self::App {
                app_id,
                installation_id,
                ..
            } => f
                .debug_struct("GithubCredential::App")
                .field("app_id", app_id)
                .field("installation_id", installation_id)
                .field("private_key_pem", &"<redacted>")
                .finish(),
        }
    }
}

/// Why a call did not give an answer to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No answer, or one that says nothing (a timeout, a reset connection, 502, 504): a
    /// mutation may have been applied.
    #[error("GitHub did not answer: {0}")]
    NoAnswer(String),
    /// GitHub asks to wait longer than the caller's bound.
    #[error("GitHub's rate limit: retry in {} s", .retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// GitHub refused the credential (401), or minting an App token failed.
    #[error("GitHub refused the credentials: {0}")]
    Credential(String),
    /// A refusal: nothing was applied. `status` is GitHub's HTTP status.
    #[error("GitHub answered {status}: {message}")]
    Refused { status: u16, message: String },
}

/// An HTTP answer with its status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

pub struct GithubClient {
    /// Sends every call; holds no credential of its own.
    http: Octocrab,
    /// Mints and caches a GitHub App's installation tokens.
    minter: Option<Octocrab>,
    /// The App itself (authenticated by its JWT) and its installation: asked for the
    /// installation's permissions.
    app: Option<(Octocrab, u64)>,
    credential: GithubCredential,
    rest_url: String,
    graphql_url: String,
    /// The longest rate-limit wait a call sits out before giving up with
    /// [`CallError::RateLimited`].
    rate_limit_budget: Duration,
    /// Where each answer's rate-limit headers are noted.
    gauges: std::sync::Arc<crate::gauges::CommitterGauges>,
}

impl GithubClient {
    /// A client for `config`'s API, credential and bounds.
    pub fn for_config(config: &super::GithubConfig) -> Result<Self, CallError> {
        Self::new(
            &config.api_url,
            &config.graphql_url(),
            config.credential.clone(),
            config.rate_limit_budget,
            config.io_timeout,
        )
    }

    pub fn new(
        rest_url: &str,
        graphql_url: &str,
        credential: GithubCredential,
        rate_limit_budget: Duration,
        io_timeout: Option<Duration>,
    ) -> Result<Self, CallError> {
        let rest_url = rest_url.trim_end_matches('/').to_owned();
        let invalid = |e: octocrab::Error| {
            CallError::Credential(format!("cannot build the GitHub client: {e}"))
        };
        let builder = || -> Result<_, CallError> {
            Ok(Octocrab::builder()
                .base_uri(rest_url.as_str())
                .map_err(|e| CallError::Credential(format!("{rest_url:?} is not a URL: {e}")))?
                .set_connect_timeout(io_timeout.map(|t| t.min(CONNECT_TIMEOUT)))
                .set_read_timeout(io_timeout)
                .set_write_timeout(io_timeout))
        };
        // Calls go through a client without credentials, carrying the token this module
        // chooses: an App's installation client would, on a 401, clear its token and resend the
        // call by itself.
        let http = builder()?.build().map_err(invalid)?;
        let (minter, app) = match &credential {
            GithubCredential::Token(_) => (None, None),
            GithubCredential::App {
                app_id,
                private_key_pem,
                installation_id,
            } => {
                // The key's own error says what is wrong with its format, never its content.
                let key = octocrab::EncodingKey::from_rsa_pem(
                    private_key_pem.expose_secret().as_bytes(),
                )
                .map_err(|e| {
                    CallError::Credential(format!(
                        "BERTH_GITHUB_APP_PRIVATE_KEY is not an RSA private key in PEM form ({e})"
                    ))
                })?;
                let app = builder()?
                    .app(AppId(*app_id), key)
                    .build()
                    .map_err(invalid)?;
                let minter = app
                    .installation(InstallationId(*installation_id))
                    .map_err(invalid)?;
                (Some(minter), Some((app, *installation_id)))
            }
        };
        Ok(Self {
            http,
            minter,
            app,
            credential,
            rest_url,
            graphql_url: graphql_url.to_owned(),
            rate_limit_budget,
            gauges: Default::default(),
        })
    }

    /// The rate limit and races this client's calls saw.
    pub fn gauges(&self) -> &std::sync::Arc<crate::gauges::CommitterGauges> {
        &self.gauges
    }

    /// The permissions GitHub grants the App's installation, from the answer that mints an
    /// installation token (the token itself is dropped); `None` for a token credential.
    pub async fn installation_permissions(&self) -> Result<Option<Value>, CallError> {
        let Some((app, installation)) = &self.app else {
            return Ok(None);
        };
        let minted: Value = app
            .post(
                format!("/app/installations/{installation}/access_tokens"),
                None::<&()>,
            )
            .await
            .map_err(|e| CallError::Credential(octocrab_message(&e)))?;
        Ok(Some(minted["permissions"].clone()))
    }

    /// Sends a GraphQL document. Errors GitHub answers with HTTP 200 come back in the answer,
    /// except its primary rate limit, which is waited out like a REST one.
    pub async fn graphql(&self, query: &str, variables: Value) -> Result<GraphqlAnswer, CallError> {
        let read = !is_mutation(query);
        let body = serde_json::json!({"query": query, "variables": variables});
        let answer = self
            .call(Method::POST, self.graphql_url.clone(), Some(body), read)
            .await?;
        if answer.status != 200 {
            return Err(refusal(&answer));
        }
        serde_json::from_value(answer.body)
            .map_err(|e| CallError::NoAnswer(format!("GraphQL answer not understood: {e}")))
    }

    /// Calls a REST route (`/repos/...`) of the API.
    pub async fn rest(
        &self,
        method: Method,
        route: &str,
        body: Option<Value>,
    ) -> Result<Answer, CallError> {
        let read = method == Method::GET;
        self.call(method, format!("{}{route}", self.rest_url), body, read)
            .await
    }

    /// One call; a `read` that got no answer is sent again after each of [`READ_RETRY_WAITS`].
    async fn call(
        &self,
        method: Method,
        url: String,
        body: Option<Value>,
        read: bool,
    ) -> Result<Answer, CallError> {
        let mut waits = READ_RETRY_WAITS.iter().filter(|_| read);
        loop {
            match self.call_within_limits(&method, &url, body.as_ref()).await {
                Err(CallError::NoAnswer(reason)) => {
                    let Some(wait) = waits.next() else {
                        return Err(CallError::NoAnswer(reason));
                    };
                    tracing::warn!(%reason, wait_ms = wait.as_millis() as u64, "GitHub read unanswered; sending it again");
                    tokio::time::sleep(*wait).await;
                }
                other => return other,
            }
        }
    }

    /// One call, sent again after each rate-limit wait while the waits fit the budget.
    async fn call_within_limits(
        &self,
        method: &Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let mut waited = Duration::ZERO;
        let mut fresh_token = false;
        loop {
            let (answer, headers) = self.send(method.clone(), url, body, fresh_token).await?;
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            self.gauges
                .saw_rate_limit(header("x-ratelimit-remaining"), header("x-ratelimit-limit"));
            // An App's token GitHub no longer honours (revoked, or its hour is up early by our
            // clock): mint a new one and send again, once.
            if answer.status == 401
                && !fresh_token
                && matches!(self.credential, GithubCredential::App { .. })
            {
                fresh_token = true;
                continue;
            }
            let Some(wait) = limit_wait(&answer, &headers, epoch_seconds()) else {
                return match answer.status {
                    401 => Err(CallError::Credential(message(&answer.body))),
                    502 | 504 => Err(CallError::NoAnswer(format!(
                        "{} from GitHub",
                        answer.status
                    ))),
                    _ => Ok(answer),
                };
            };
            if waited + wait > self.rate_limit_budget {
                return Err(CallError::RateLimited { retry_after: wait });
            }
            tracing::warn!(wait_s = wait.as_secs(), "GitHub rate limit; waiting");
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        fresh_token: bool,
    ) -> Result<(Answer, HeaderMap), CallError> {
        let token = self.token(fresh_token).await?;
        let request = Request::builder()
            .method(method)
            .uri(url)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()))
            .header(ACCEPT, "application/vnd.github+json")
            .header(USER_AGENT, "berth")
            .header("x-github-api-version", "2022-11-28");
        let request = self
            .http
            .build_request(request, body)
            .map_err(|e| CallError::NoAnswer(format!("cannot build the request: {e}")))?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| CallError::NoAnswer(transport_message(&e)))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = self
            .http
            .body_to_string(response)
            .await
            .map_err(|e| CallError::NoAnswer(transport_message(&e)))?;
        // A gateway's HTML page is no answer; GitHub's own answers are JSON.
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        if body.is_null() && status < 300 {
            return Err(CallError::NoAnswer(format!("{status} without a JSON body")));
        }
        Ok((Answer { status, body }, headers))
    }

    /// The bearer token: the configured one, or the App installation's current token, minted
    /// anew when `fresh` (octocrab renews it by itself 30 s before it expires).
    async fn token(&self, fresh: bool) -> Result<SecretString, CallError> {
        // A buffer longer than a token's hour makes octocrab mint one.
        let buffer = chrono::Duration::seconds(if fresh { 7_200 } else { 30 });
        match (&self.credential, &self.minter) {
            (GithubCredential::Token(token), _) => Ok(token.clone()),
            (GithubCredential::App { .. }, None) => Err(CallError::Credential(
                "the GitHub App's installation client is missing".into(),
            )),
            (GithubCredential::App { .. }, Some(minter)) => minter
                .installation_token_with_buffer(buffer)
                .await
                .map_err(|e| {
                    CallError::Credential(format!(
                        "minting a GitHub App installation token failed: {}",
                        octocrab_message(&e)
                    ))
                }),
        }
    }
}

/// Whether a GraphQL document changes anything: only a `mutation` operation does.
fn is_mutation(document: &str) -> bool {
    document.trim_start().starts_with("mutation")
}

/// How long GitHub asks to wait before this call is sent again, if it is a rate limit: REST's
/// 403/429, or GraphQL's `RATE_LIMITED` inside a 200.
fn limit_wait(answer: &Answer, headers: &HeaderMap, now: i64) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Only refusals are read for their wording, and only a 200's `errors`, never its data: a
    // read's answer can be large and this runs on every call.
    if matches!(answer.status, 403 | 429) {
        return rate_limit_wait(answer.status, header, &answer.body.to_string(), now);
    }
    let errors = answer.body.get("errors").filter(|_| answer.status == 200)?;
    let errors: Vec<GraphqlError> = serde_json::from_value(errors.clone()).ok()?;
    (error_meaning(&errors) == ErrorMeaning::RateLimited).then(|| {
        // The primary limit: the reset says when, else GitHub's advice of a minute.
        rate_limit_wait(429, header, "", now).unwrap_or(Duration::from_secs(60))
    })
}

/// A refusal as an error, with GitHub's message.
pub fn refusal(answer: &Answer) -> CallError {
    CallError::Refused {
        status: answer.status,
        message: message(&answer.body),
    }
}

/// GitHub's `message`, with the first of its `errors` when it gives them (a 422's reason).
pub fn message(body: &Value) -> String {
    let main = body["message"].as_str().unwrap_or("no message");
    match body["errors"][0]["message"].as_str() {
        Some(detail) => format!("{main}: {detail}"),
        None => main.to_owned(),
    }
}

fn epoch_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A transport failure, by its kind only: octocrab's errors may carry the request.
fn transport_message(e: &octocrab::Error) -> String {
    match e {
        octocrab::Error::Hyper { .. } | octocrab::Error::Service { .. } => {
            "the connection to GitHub failed or timed out".to_owned()
        }
        other => octocrab_message(other),
    }
}

/// Octocrab's message for `e`: GitHub's own message for its errors, a kind otherwise.
fn octocrab_message(e: &octocrab::Error) -> String {
    match e {
        octocrab::Error::GitHub { source, .. } => source.message.clone(),
        octocrab::Error::JWT { .. } => "the App's JWT could not be signed".to_owned(),
        _ => "unexpected failure talking to GitHub".to_owned(),
    }
}
