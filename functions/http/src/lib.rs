//! Berth's HTTP edge: the `/v1` API router, the webhook routes, bearer-token auth, the
//! contract's types on the wire and error mapping. What a request does is `berth-usecases`';
//! this crate parses, authenticates and answers. Shared by the api and webhook Lambdas, and by
//! `berth dev`, which serves the same routers on a local port.

pub mod answers;
pub mod auth;
pub mod body;
mod caller;
mod clusters;
pub mod config;
mod console;
pub mod deadline;
mod doctor;
pub mod error;
mod etag;
pub mod extract;
pub mod lambda;
pub mod live_router;
mod moves;
pub mod openapi;
pub mod reads;
mod rollout_views;
mod rollouts;
mod routes;
pub mod views;
pub mod webhooks;
pub mod writes;

use std::sync::Arc;

use berth_usecases::ports::{Committer, GithubPulls, Store};
use berth_usecases::{App, StatusRefresh};

pub use config::{ApiConfig, Function, Mode, Settings, WebhookSecrets};
pub use error::ApiError;
pub use routes::api_router;
pub use webhooks::webhook_router;

/// What every handler needs: the use-cases' services and the HTTP configuration. Cheap to
/// clone; built once per process and reused by warm invocations.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub config: Arc<ApiConfig>,
}

impl AppState {
    pub fn new(committer: Arc<dyn Committer>, store: Arc<dyn Store>, config: ApiConfig) -> Self {
        Self {
            app: App::new(committer, store),
            config: Arc::new(config),
        }
    }

    /// Opens a pull request for every `?mode=pr` request through `pulls`.
    pub fn with_pull_requests(mut self, pulls: Arc<GithubPulls>) -> Self {
        self.app.pulls = Some(pulls);
        self
    }

    pub fn with_status_refresh(mut self, refresh: Arc<dyn StatusRefresh>) -> Self {
        self.app.status_refresh = Some(refresh);
        self
    }

    /// How long the store keeps settled request records (it must be told the same): older
    /// request ids are looked up in Git.
    pub fn with_request_retention(mut self, retention: std::time::Duration) -> Self {
        self.app.request_retention = retention;
        self
    }
}
