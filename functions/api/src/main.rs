//! The api Lambda: the `/v1` router under `lambda_http` when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise served on `BERTH_LISTEN` (127.0.0.1:8080 by default).

use anyhow::Context;
use berth_http::auth::ApiAuth;
use berth_http::{Function, Settings, api_router};
use berth_usecases::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    telemetry::init_tracing(on_lambda);
    let settings = Settings::from_env(Function::Api, |name| std::env::var(name).ok())
        .context("configuration")?;
    if !on_lambda && matches!(settings.api.auth, ApiAuth::Jwt(_)) {
        anyhow::bail!(
            "configuration: BERTH_API_AUTH=jwt takes callers from API Gateway's JWT authorizer, which only a Lambda invocation carries; serve locally with BERTH_API_AUTH=tokens"
        );
    }
    let router = api_router(settings.into_state().context("configuration")?);
    let listen = std::env::var("BERTH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    berth_http::lambda::serve(router, on_lambda, listen).await?;
    Ok(())
}
