//! The webhook Lambda: `/webhooks/*` under `lambda_http` when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise served on `BERTH_LISTEN` (127.0.0.1:8081 by default).

use anyhow::{Context, anyhow};
use berth_http::{Function, Settings, telemetry, webhook_router};

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
    let router = webhook_router(settings.into_state().context("configuration")?, secrets);
    if on_lambda {
        return lambda_http::run(router)
            .await
            .map_err(|e| anyhow!("lambda runtime: {e}"));
    }
    let listen = std::env::var("BERTH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("BERTH_LISTEN: cannot listen on {listen}"))?;
    tracing::info!(%listen, "serving the webhooks");
    axum::serve(listener, router)
        .with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) })
        .await?;
    Ok(())
}
