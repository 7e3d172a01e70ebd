//! The API and webhook routers served on 127.0.0.1 with the real Git2 committer and a real store, as the
//! api binary and `berth dev` serve it.

use std::path::Path;
use std::sync::Arc;

use berth_events::SecretSet;
use berth_http::auth::{Role, TokenGrant};
use berth_http::{ApiConfig, AppState, WebhookSecrets, api_router, webhook_router};
use berth_store::Store;
use berth_usecases::StatusRefresh;
use tokio::task::JoinHandle;

pub const ADMIN: &str = "admin-token-0123456789";
pub const OPERATOR: &str = "operator-token-0123456789";
pub const VIEWER: &str = "viewer-token-0123456789";
/// An operator token limited to tenant `acme`.
pub const ACME_OPERATOR: &str = "acme-operator-token-0123456789";

/// The webhook secrets the test server accepts (the second of each pair shows rotation).
pub const BILLING_SECRET: &str = "whsec_billing_test_0123456789";
pub const SIGNUP_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const GITHUB_SECRET: &str = "github-test-secret-0123456789";
pub const ARGOCD_TOKEN: &str = "argocd-test-token-0123456789";

fn secrets(primary: &str) -> SecretSet {
    SecretSet::parse(&format!("an-older-secret-still-valid,{primary}")).expect("test secrets")
}

/// The webhook secrets above, with GitHub's API at `github_api_url`.
pub fn webhook_secrets(github_api_url: &str) -> WebhookSecrets {
    WebhookSecrets {
        billing: secrets(BILLING_SECRET),
        signup: secrets(SIGNUP_SECRET),
        github: secrets(GITHUB_SECRET),
        argocd: secrets(ARGOCD_TOKEN),
        tolerance_seconds: berth_events::DEFAULT_TOLERANCE_SECONDS,
        github_api_url: github_api_url.to_owned(),
        github_credential: Some(berth_gitops::GithubCredential::Token(
            "github-test-token".to_owned().into(),
        )),
    }
}

/// The Standard Webhooks headers of delivery `id` of `body`, signed with `secret` at `timestamp`.
pub fn signup_headers(
    id: &str,
    body: &str,
    secret: &str,
    timestamp: i64,
) -> [(&'static str, String); 3] {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use hmac::{Hmac, Mac};
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("a base64 secret");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let signature = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ]
}

pub struct ApiServer {
    pub url: String,
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Serves the API over `remote` (a bare repository path or URL) with `store`.
    pub async fn start(remote: &str, work: &Path, store: Arc<dyn Store>) -> Self {
        Self::start_with_github(remote, work, store, None).await
    }

    /// Like [`ApiServer::start`], with settled request records kept for `retention` only:
    /// `store` must keep them as long.
    pub async fn start_with_request_retention(
        remote: &str,
        work: &Path,
        store: Arc<dyn Store>,
        retention: std::time::Duration,
    ) -> Self {
        let committer = crate::backend::committer(remote, work).await;
        let app = AppState::new(committer, store, api_config()).with_request_retention(retention);
        Self::serve_app(app, None).await
    }

    /// Like [`ApiServer::start`], reading upstream charts through `charts` (a test reads its
    /// counts and sets its TTL), with GitHub's API at `github_api_url` when given.
    pub async fn start_with_charts(
        remote: &str,
        work: &Path,
        store: Arc<dyn Store>,
        charts: Arc<berth_charts::ChartLibrary>,
        github_api_url: Option<&str>,
    ) -> Self {
        let committer = crate::backend::committer(remote, work).await;
        let mut app = AppState::new(committer, store, api_config());
        app.app.charts = charts;
        Self::serve_app(app, github_api_url).await
    }

    /// The API over `committer` (a backend a test set up itself) and `store`.
    pub async fn start_with_committer(
        committer: Arc<dyn berth_gitops::Committer>,
        store: Arc<dyn Store>,
    ) -> Self {
        Self::serve_app(AppState::new(committer, store, api_config()), None).await
    }

    /// Like [`ApiServer::start`], emitting metrics through `metrics`.
    pub async fn start_with_metrics(
        remote: &str,
        work: &Path,
        store: Arc<dyn Store>,
        metrics: berth_usecases::metrics::Metrics,
    ) -> Self {
        let committer = crate::backend::committer(remote, work).await;
        let mut app = AppState::new(committer, store, api_config());
        app.app.metrics = metrics;
        Self::serve_app(app, None).await
    }

    /// Like [`ApiServer::start`], with GitHub's API at `github_api_url` (the test server).
    pub async fn start_with_github(
        remote: &str,
        work: &Path,
        store: Arc<dyn Store>,
        github_api_url: Option<&str>,
    ) -> Self {
        Self::serve(remote, work, store, github_api_url, None).await
    }

    /// Like [`ApiServer::start`], with `refresh` told of every Argo CD notification, as the
    /// webhook Lambda and `berth dev` wire it.
    pub async fn start_with_refresh(
        remote: &str,
        work: &Path,
        store: Arc<dyn Store>,
        refresh: Arc<dyn StatusRefresh>,
    ) -> Self {
        Self::serve(remote, work, store, None, Some(refresh)).await
    }

    async fn serve(
        remote: &str,
        work: &Path,
        store: Arc<dyn Store>,
        github_api_url: Option<&str>,
        refresh: Option<Arc<dyn StatusRefresh>>,
    ) -> Self {
        let committer = crate::backend::committer(remote, work).await;
        let mut app = AppState::new(committer, store, api_config());
        if let Some(refresh) = refresh {
            app = app.with_status_refresh(refresh);
        }
        Self::serve_app(app, github_api_url).await
    }

    async fn serve_app(app: AppState, github_api_url: Option<&str>) -> Self {
        let webhooks = webhook_secrets(github_api_url.unwrap_or("http://127.0.0.1:9"));
        let router = api_router(app.clone()).merge(webhook_router(app, webhooks));
        let (url, task) = crate::serve::serve_loopback(router).await;
        Self { url, task }
    }
}

/// The tokens every test API accepts.
fn api_config() -> ApiConfig {
    ApiConfig::new(vec![
        TokenGrant::new(ADMIN, Role::Admin, None),
        TokenGrant::new(OPERATOR, Role::Operator, None),
        TokenGrant::new(VIEWER, Role::Viewer, None),
        TokenGrant::new(ACME_OPERATOR, Role::Operator, Some("acme".into())),
    ])
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Delivers GitHub's webhook `event` with `payload` to the webhooks served at `base_url`, signed
/// with [`GITHUB_SECRET`] as GitHub signs it; returns the status and the JSON answer.
pub async fn deliver_github_event(
    client: &reqwest::Client,
    base_url: &str,
    event: &str,
    delivery: &str,
    payload: &serde_json::Value,
) -> (reqwest::StatusCode, serde_json::Value) {
    use hmac::{Hmac, Mac};
    let body = payload.to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).expect("a key");
    mac.update(body.as_bytes());
    let response = client
        .post(format!("{base_url}/webhooks/github"))
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header(
            "x-hub-signature-256",
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        )
        .body(body)
        .send()
        .await
        .expect("deliver the event");
    let status = response.status();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Calls Berth's API at `base_url` as `token` (none: unauthenticated) with an optional JSON
/// body; returns the status and the answer, as JSON or, when it is not JSON, as its text.
pub async fn call_api(
    client: &reqwest::Client,
    base_url: &str,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut request = client.request(method, format!("{base_url}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("call the API");
    let status = response.status();
    let text = response.text().await.expect("read the answer");
    let answer = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, answer)
}
