//! The api Lambda: the `/v1` router under `lambda_http` when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise served on `BERTH_LISTEN` (127.0.0.1:8080 by default). Secrets given as `<VAR>_ARN`
//! are read from Secrets Manager on the first request and again after `BERTH_SECRETS_TTL`.

use std::sync::Arc;

use anyhow::Context;
use berth_http::auth::ApiAuth;
use berth_http::live_router::live_router;
use berth_http::{Function, Settings, api_router};
use berth_usecases::settings::invalid;
use berth_usecases::settings::live::Live;
use berth_usecases::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    telemetry::init_tracing(on_lambda);
    let live = Live::from_process_env(Box::new(move |var| {
        let settings = Settings::from_env(Function::Api, var)?;
        if !on_lambda && matches!(settings.api.auth, ApiAuth::Jwt(_)) {
            return Err(invalid(
                "BERTH_API_AUTH",
                "jwt takes callers from API Gateway's JWT authorizer, which only a Lambda invocation carries; serve locally with BERTH_API_AUTH=tokens",
            ));
        }
        Ok(api_router(settings.into_state()?))
    }))
    .context("configuration")?;
    let listen = std::env::var("BERTH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    berth_http::lambda::serve(live_router(Arc::new(live)), on_lambda, listen).await?;
    Ok(())
}
