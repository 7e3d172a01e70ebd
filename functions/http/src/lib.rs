//! Berth's HTTP surface: the `/v1` API router, bearer-token auth, error mapping. Shared by the
//! api Lambda, and by `berth dev`, which serves the same router on a local port.

pub mod api;
pub mod auth;
mod billing;
pub mod body;
pub mod config;
pub mod contract;
pub mod deadline;
pub mod error;
pub mod git_settings;
pub mod github;
pub mod idempotency;
pub mod lambda;
pub mod openapi;
pub mod pull_request;
pub mod submit;
pub mod telemetry;
pub mod time;
pub mod webhooks;

use std::sync::Arc;

use berth_gitops::{Committer, GithubPulls};
use berth_store::Store;

pub use api::api_router;
pub use config::{ApiConfig, Function, Mode, Settings};
pub use error::ApiError;
pub use webhooks::{WebhookSecrets, webhook_router};

/// What every handler needs: the Git committer, the store, and the configuration. Cheap to
/// clone; built once per process and reused by warm invocations.
#[derive(Clone)]
pub struct AppState {
    pub committer: Arc<dyn Committer>,
    pub store: Arc<dyn Store>,
    pub config: Arc<ApiConfig>,
    /// Told of every Argo CD notification once it is recorded, so request lifecycles move
    /// now rather than at the next scheduled sweep.
    pub status_refresh: Option<Arc<dyn StatusRefresh>>,
    /// Opens and follows pull requests for `?mode=pr` when a GitHub credential is configured;
    /// without one, pull-request mode stops at the pushed branch.
    pub pulls: Option<Arc<GithubPulls>>,
}

/// What follows an Argo CD notification: `berth dev` wakes its sweeper; the webhook Lambda
/// moves the tenant's requests from the statuses in the store.
#[async_trait::async_trait]
pub trait StatusRefresh: Send + Sync {
    /// Called after `tenant`'s status was recorded; failures are the implementation's to log.
    async fn refresh(&self, tenant: &str);
}

impl AppState {
    pub fn new(committer: Arc<dyn Committer>, store: Arc<dyn Store>, config: ApiConfig) -> Self {
        Self {
            committer,
            store,
            config: Arc::new(config),
            status_refresh: None,
            pulls: None,
        }
    }

    /// Opens a pull request for every `?mode=pr` request through `pulls`.
    pub fn with_pull_requests(mut self, pulls: Arc<GithubPulls>) -> Self {
        self.pulls = Some(pulls);
        self
    }

    pub fn with_status_refresh(mut self, refresh: Arc<dyn StatusRefresh>) -> Self {
        self.status_refresh = Some(refresh);
        self
    }
}
