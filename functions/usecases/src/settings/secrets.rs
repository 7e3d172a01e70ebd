//! Secrets read at run time from AWS Secrets Manager, not copied into a function's
//! configuration at deploy time (where `lambda:GetFunctionConfiguration` would show them).
//!
//! Each secret variable (`BERTH_API_TOKENS`, `BERTH_WEBHOOK_SECRETS_*`, the Git and GitHub
//! credentials, `BERTH_CHART_CREDENTIALS`) may instead be given as `<VAR>_ARN`: a secret's ARN
//! or name, with `#key` to take one key of a JSON secret. The values are read on first use,
//! kept, and read again after `BERTH_SECRETS_TTL` (5 minutes by default), so a rotation takes
//! effect within the TTL without a redeploy. A caller that sees a sign of rotation (a webhook
//! signature the kept secrets refuse) may ask for one early read a minute.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::config::BehaviorVersion;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use berth_store::AwsEnv;

use super::{ConfigError, duration_from_env, invalid};
use crate::time::Clock;

/// The variables that hold a secret, each of which may be given as `<VAR>_ARN` instead.
pub const SECRET_VARS: &[&str] = &[
    "BERTH_API_TOKENS",
    "BERTH_WEBHOOK_SECRETS_BILLING",
    "BERTH_WEBHOOK_SECRETS_SIGNUP",
    "BERTH_WEBHOOK_SECRETS_GITHUB",
    "BERTH_WEBHOOK_SECRETS_ARGOCD",
    "BERTH_GIT_TOKEN",
    "BERTH_GITHUB_TOKEN",
    "BERTH_GITHUB_APP_PRIVATE_KEY",
    "BERTH_CHART_CREDENTIALS",
];

pub const DEFAULT_SECRETS_TTL: Duration = Duration::from_secs(300);
/// At most one early read per this interval, however many callers ask.
pub const EARLY_READ_INTERVAL: Duration = Duration::from_secs(60);

/// Where one variable's secret lives: a Secrets Manager id (ARN or name), and the key of a JSON
/// secret, if one is named. Neither is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub var: &'static str,
    pub id: String,
    pub key: Option<String>,
}

/// The secret references of a function's environment, and how long values are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRefs {
    pub refs: Vec<SecretRef>,
    pub ttl: Duration,
}

impl SecretRefs {
    /// Reads every `<VAR>_ARN` and `BERTH_SECRETS_TTL`. A variable given both as a value and as
    /// an ARN is refused, naming which to drop.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut refs = Vec::new();
        for &var in SECRET_VARS {
            let arn_var = arn_var(var);
            let Some(raw) = get(&arn_var) else { continue };
            if get(var).is_some() {
                return Err(invalid(
                    var,
                    format!(
                        "is set, and so is {arn_var}: the secret is read from Secrets Manager by {arn_var}; drop {var} from the environment (or drop {arn_var} to keep the value there)"
                    ),
                ));
            }
            refs.push(parse_ref(var, raw.trim())?);
        }
        let ttl = duration_from_env(
            get,
            "BERTH_SECRETS_TTL",
            1..=86_400,
            "must be a duration from 1s to 24h, like 5m",
        )?
        .unwrap_or(DEFAULT_SECRETS_TTL);
        Ok(Self { refs, ttl })
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }
}

/// The variable that names `var`'s secret: `<VAR>_ARN`.
fn arn_var(var: &'static str) -> String {
    format!("{var}_ARN")
}

fn parse_ref(var: &'static str, raw: &str) -> Result<SecretRef, ConfigError> {
    let (id, key) = match raw.split_once('#') {
        Some((id, key)) => (id, Some(key)),
        None => (raw, None),
    };
    let fine = |s: &str| {
        !s.is_empty()
            && s.len() <= 2048
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-:".contains(c))
    };
    if !fine(id) || key.is_some_and(|k| !fine(k)) {
        return Err(invalid(
            var,
            format!(
                "{var}_ARN must be a secret's ARN or name, with #key for one key of a JSON secret"
            ),
        ));
    }
    Ok(SecretRef {
        var,
        id: id.to_owned(),
        key: key.map(str::to_owned),
    })
}

/// Why a secret could not be had. Never carries a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretReadError {
    #[error("{var}: Secrets Manager did not answer for {id}: {reason}")]
    Unavailable {
        var: &'static str,
        id: String,
        reason: String,
    },
    #[error("{var}: {reason}")]
    Malformed { var: &'static str, reason: String },
}

/// Reads a secret's string by id. Errors say why, never what the secret holds.
#[async_trait]
pub trait SecretReader: Send + Sync {
    async fn secret_string(&self, id: &str) -> Result<String, String>;
}

/// [`SecretReader`] over AWS Secrets Manager; the endpoint may be moved with
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER` (tests, VPC endpoints).
pub struct SecretsManagerReader(aws_sdk_secretsmanager::Client);

impl SecretsManagerReader {
    pub fn from_env() -> Self {
        Self::new(berth_store::aws_env::env(
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        ))
    }

    /// A reader of the Secrets Manager at `endpoint` (AWS's when `None`).
    pub fn new(endpoint: Option<String>) -> Self {
        let aws = AwsEnv::from_env();
        let mut config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws.region)
            .timeout_config(aws.timeouts);
        if let Some(credentials) = aws.credentials {
            config = config.credentials_provider(credentials);
        }
        if let Some(url) = endpoint {
            config = config.endpoint_url(url);
        }
        Self(aws_sdk_secretsmanager::Client::from_conf(config.build()))
    }
}

#[async_trait]
impl SecretReader for SecretsManagerReader {
    async fn secret_string(&self, id: &str) -> Result<String, String> {
        let answer = self
            .0
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        answer
            .secret_string
            .ok_or_else(|| "the secret holds binary data, not a string".to_owned())
    }
}

/// The values read, by variable. `Debug` names the variables only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues(BTreeMap<&'static str, String>);

impl SecretValues {
    pub fn get(&self, var: &str) -> Option<&str> {
        self.0.get(var).map(String::as_str)
    }
}

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// One reading of every secret: `generation` moves on only when a value changed, so what is
/// built from the secrets is rebuilt only then.
#[derive(Debug)]
pub struct SecretSnapshot {
    pub generation: u64,
    pub values: SecretValues,
}

struct Cache {
    current: Option<Arc<SecretSnapshot>>,
    /// When the next ordinary read is due, in clock seconds.
    read_due: i64,
    last_early_read: Option<i64>,
}

/// The secrets of a function, read on first use and kept for the TTL.
pub struct RuntimeSecrets {
    refs: SecretRefs,
    reader: Arc<dyn SecretReader>,
    clock: Clock,
    cache: tokio::sync::Mutex<Cache>,
}

/// After a failed read with values in hand, the kept values serve this long before the next try.
const RETRY_AFTER_FAILED_READ: i64 = 60;

impl RuntimeSecrets {
    pub fn new(refs: SecretRefs, reader: Arc<dyn SecretReader>, clock: Clock) -> Self {
        Self {
            refs,
            reader,
            clock,
            cache: tokio::sync::Mutex::new(Cache {
                current: None,
                read_due: 0,
                last_early_read: None,
            }),
        }
    }

    /// The secrets, read now if none are kept or the TTL has passed. When a read fails with
    /// values in hand, those keep serving (rotation waits; requests do not fail) and the read is
    /// tried again a minute later. Concurrent callers wait for one read.
    pub async fn current(&self) -> Result<Arc<SecretSnapshot>, SecretReadError> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now();
        if let Some(current) = &cache.current
            && now < cache.read_due
        {
            return Ok(Arc::clone(current));
        }
        match self.read_all().await {
            Ok(values) => {
                cache.read_due = now + self.refs.ttl.as_secs() as i64;
                Ok(install(&mut cache, values))
            }
            Err(e) => {
                let kept = cache.current.clone().ok_or(e.clone())?;
                tracing::warn!(error = %e, "secrets not read again: the kept ones still serve");
                cache.read_due = now + RETRY_AFTER_FAILED_READ;
                Ok(kept)
            }
        }
    }

    /// Reads the secrets before the TTL, at most once per [`EARLY_READ_INTERVAL`]: the new
    /// snapshot when a value changed, `None` when nothing changed or an early read was too
    /// recent.
    pub async fn read_early(&self) -> Option<Arc<SecretSnapshot>> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now();
        if cache
            .last_early_read
            .is_some_and(|at| now - at < EARLY_READ_INTERVAL.as_secs() as i64)
        {
            return None;
        }
        cache.last_early_read = Some(now);
        let values = match self.read_all().await {
            Ok(values) => values,
            Err(e) => {
                tracing::warn!(error = %e, "an early read of the secrets failed");
                return None;
            }
        };
        let before = cache.current.as_ref().map(|c| c.generation);
        cache.read_due = now + self.refs.ttl.as_secs() as i64;
        let snapshot = install(&mut cache, values);
        (before != Some(snapshot.generation)).then_some(snapshot)
    }

    /// Every referenced secret, each id read once (several variables may take keys of one).
    async fn read_all(&self) -> Result<SecretValues, SecretReadError> {
        let mut strings: BTreeMap<&str, String> = BTreeMap::new();
        let mut values = BTreeMap::new();
        for secret in &self.refs.refs {
            if !strings.contains_key(secret.id.as_str()) {
                let string = self
                    .reader
                    .secret_string(&secret.id)
                    .await
                    .map_err(|reason| SecretReadError::Unavailable {
                        var: secret.var,
                        id: secret.id.clone(),
                        reason,
                    })?;
                strings.insert(&secret.id, string);
            }
            let string = &strings[secret.id.as_str()];
            values.insert(secret.var, value_of(secret, string)?);
        }
        Ok(SecretValues(values))
    }
}

/// Keeps `values`, moving the generation on only when they changed.
fn install(cache: &mut Cache, values: SecretValues) -> Arc<SecretSnapshot> {
    if let Some(current) = &cache.current
        && current.values == values
    {
        return Arc::clone(current);
    }
    let generation = cache.current.as_ref().map_or(1, |c| c.generation + 1);
    let snapshot = Arc::new(SecretSnapshot { generation, values });
    cache.current = Some(Arc::clone(&snapshot));
    snapshot
}

/// The whole secret string, or one key of it when it is a JSON object.
fn value_of(secret: &SecretRef, string: &str) -> Result<String, SecretReadError> {
    let Some(key) = &secret.key else {
        return Ok(string.to_owned());
    };
    let malformed = |reason: String| SecretReadError::Malformed {
        var: secret.var,
        reason,
    };
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(string).map_err(|_| {
            malformed(format!(
                "{} is not a JSON object, so #{key} names nothing",
                secret.id
            ))
        })?;
    match object.get(key) {
        Some(serde_json::Value::String(value)) => Ok(value.clone()),
        Some(_) => Err(malformed(format!("{}#{key} is not a string", secret.id))),
        None => Err(malformed(format!("{} has no key {key}", secret.id))),
    }
}
