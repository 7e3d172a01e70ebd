//! Berth's HTTP surface: the `/v1` API router, bearer-token auth, error mapping. Shared by the
//! api Lambda, and by `berth dev`, which serves the same router on a local port.

pub mod api;
pub mod auth;
mod billing;
pub mod body;
pub mod config;
pub mod error;
pub mod github;
pub mod idempotency;
pub mod submit;
pub mod telemetry;
mod time;
pub mod webhooks;

use std::sync::Arc;

use berth_gitops::Committer;
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
    /// Woken by an Argo CD notification, where a status sweep runs in the same process
    /// (`berth dev`), so the sweep reads the cluster now rather than at its next tick.
    pub sweep_trigger: Option<Arc<tokio::sync::Notify>>,
}

impl AppState {
    pub fn new(committer: Arc<dyn Committer>, store: Arc<dyn Store>, config: ApiConfig) -> Self {
        Self {
            committer,
            store,
            config: Arc::new(config),
            sweep_trigger: None,
        }
    }

    pub fn with_sweep_trigger(mut self, trigger: Arc<tokio::sync::Notify>) -> Self {
        self.sweep_trigger = Some(trigger);
        self
    }
}
