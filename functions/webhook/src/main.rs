//! The webhook Lambda: `/webhooks/*` under `lambda_http` when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise served on `BERTH_LISTEN` (127.0.0.1:8081 by default). An Argo CD notification also
//! moves its tenant's requests from the statuses in the store before it is answered.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use berth_http::{Function, Settings, webhook_router};
use berth_status::{AdvanceFromStore, Sweeper, sync_timeout_from_env};
use berth_usecases::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    telemetry::init_tracing(on_lambda);
    let mut settings = Settings::from_env(Function::Webhook, |name| std::env::var(name).ok())
        .context("configuration")?;
    let secrets = settings
        .webhooks
        .take()
        .context("configuration: webhook secrets")?;
    let state = settings.into_state().context("configuration")?;
    let mut follow_up =
        Sweeper::new(state.app.clone(), None).with_claim_lease(state.config.claim_lease);
    if let Some(timeout) =
        sync_timeout_from_env(|k| std::env::var(k).ok()).map_err(|e| anyhow!(e))?
    {
        follow_up = follow_up.with_sync_timeout(timeout);
    }
    let state = state.with_status_refresh(Arc::new(AdvanceFromStore(follow_up)));
    let router = webhook_router(state, secrets);
    let listen = std::env::var("BERTH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".into());
    berth_http::lambda::serve(router, on_lambda, listen).await?;
    Ok(())
}
