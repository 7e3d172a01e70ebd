//! The webhook Lambda: `/webhooks/*` under `lambda_http` when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise served on `BERTH_LISTEN` (127.0.0.1:8081 by default). An Argo CD notification also
//! moves its tenant's requests from the statuses in the store before it is answered. Secrets
//! given as `<VAR>_ARN` are read from Secrets Manager at run time (see `berth_http::live_router`).

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use berth_http::live_router::live_router;
use berth_http::{Function, Settings, webhook_router};
use berth_status::{AdvanceFromStore, Sweeper, sync_timeout_from_env};
use berth_usecases::settings::ConfigError;
use berth_usecases::settings::live::Live;
use berth_usecases::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    telemetry::init_tracing(on_lambda);
    let live =
        Live::from_process_env(Box::new(webhook_router_from_env)).context("configuration")?;
    let listen = std::env::var("BERTH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".into());
    berth_http::lambda::serve(live_router(Arc::new(live)), on_lambda, listen).await?;
    Ok(())
}

fn webhook_router_from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Router, ConfigError> {
    let mut settings = Settings::from_env(Function::Webhook, var)?;
    let secrets = settings
        .webhooks
        .take()
        .ok_or(ConfigError::Missing("BERTH_WEBHOOK_SECRETS_*"))?;
    let state = settings.into_state()?;
    let mut follow_up =
        Sweeper::new(state.app.clone(), None).with_claim_lease(state.config.claim_lease);
    if let Some(timeout) = sync_timeout_from_env(var)? {
        follow_up = follow_up.with_sync_timeout(timeout);
    }
    let state = state.with_status_refresh(Arc::new(AdvanceFromStore(follow_up)));
    Ok(webhook_router(state, secrets))
}
