//! What every AWS client of Berth's reads from the environment, the same way for DynamoDB and
//! Secrets Manager: region from `AWS_REGION` (or `AWS_DEFAULT_REGION`), credentials from
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` (what Lambda provides),
//! and short timeouts, so a stalled call fails within a request's budget.

use std::time::Duration;

use aws_sdk_dynamodb::config::{Credentials, Region, timeout::TimeoutConfig};

/// The region, credentials and timeouts of an AWS client.
pub struct AwsEnv {
    pub region: Region,
    /// `None` when the environment names none (the SDK's default chain is then not consulted:
    /// Lambda always sets these).
    pub credentials: Option<Credentials>,
    pub timeouts: TimeoutConfig,
}

impl AwsEnv {
    pub fn from_env() -> Self {
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(key), Some(secret)) => Some(Credentials::new(
                key,
                secret,
                env("AWS_SESSION_TOKEN"),
                None,
                "environment",
            )),
            _ => None,
        };
        Self {
            region: Region::new(region),
            credentials,
            timeouts: TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(10))
                .build(),
        }
    }
}

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
