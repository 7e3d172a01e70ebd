//! The api Lambda: the `/v1` router under `lambda_http` when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise served on `BERTH_LISTEN` (127.0.0.1:8080 by default).

use anyhow::{Context, anyhow};
use berth_http::{Function, Settings, api_router, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    telemetry::init_tracing(on_lambda);
    let settings = Settings::from_env(Function::Api, |name| std::env::var(name).ok())
        .context("configuration")?;
    let router = api_router(settings.into_state().context("configuration")?);
    if on_lambda {
        return lambda_http::run(router)
            .await
            .map_err(|e| anyhow!("lambda runtime: {e}"));
    }
    let listen = std::env::var("BERTH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("BERTH_LISTEN: cannot listen on {listen}"))?;
    tracing::info!(%listen, "serving the api");
    axum::serve(listener, router)
        .with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) })
        .await?;
    Ok(())
}
