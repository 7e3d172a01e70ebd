//! The status Lambda: one sweep per invocation (the EventBridge schedule, or an on-demand
//! invoke); outside Lambda, one sweep whose report is printed as JSON.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use berth_cluster::{ClusterConnector, ClusterSource};
use berth_status::{Sweeper, sync_timeout_from_env};
use berth_usecases::intake::github::GithubApi;
use berth_usecases::settings::ServiceSettings;
use berth_usecases::settings::git::{github_api_url, github_credential_from_env};
use berth_usecases::telemetry;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    telemetry::init_tracing(on_lambda);
    let var = |name: &str| std::env::var(name).ok();
    let settings = ServiceSettings::from_env(var).context("configuration")?;
    let claim_lease = settings.claim_lease;
    let source = ClusterSource::from_env(var).context("configuration")?;
    match &source {
        Some(source) => tracing::info!(cluster = ?source, "reading the cluster"),
        None => tracing::warn!("no cluster configured: statuses will read unknown"),
    }
    let cluster = source.map(|s| Arc::new(ClusterConnector::new(s)));
    let app = settings.into_app().context("configuration")?;
    let mut sweeper = Sweeper::new(app, cluster).with_claim_lease(claim_lease);
    // With a GitHub credential, the sweep reviews pull requests whose delivery failed.
    let nonempty = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if let Some(credential) = github_credential_from_env(nonempty).context("configuration")? {
        let url = github_api_url(nonempty("BERTH_GITHUB_API_URL")).context("configuration")?;
        let api = GithubApi::new(&url, Some(credential)).map_err(|e| anyhow!(e))?;
        sweeper = sweeper.with_github_api(api);
    }
    if let Some(timeout) = sync_timeout_from_env(var).map_err(|e| anyhow!(e))? {
        sweeper = sweeper.with_sync_timeout(timeout);
    }
    let sweeper = Arc::new(sweeper);
    if on_lambda {
        let handler = service_fn(move |_: LambdaEvent<serde_json::Value>| {
            let sweeper = Arc::clone(&sweeper);
            async move { sweeper.sweep().await.map_err(|e| e.to_string()) }
        });
        return lambda_runtime::run(handler)
            .await
            .map_err(|e| anyhow!("lambda runtime: {e}"));
    }
    let report = sweeper.sweep().await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
