//! The settings every function reads from its environment (the README's table lists every
//! variable): Git, the store, the claim lease. A function refuses to start with a message
//! naming the variable when something is missing or malformed; no message ever repeats a
//! secret's value. The edges read their own settings (API auth, webhook secrets) beside these.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_charts::{ChartLibrary, ChartSettings, Credentials, DEFAULT_INDEX_TTL};
use berth_store::{DEFAULT_REQUEST_RETENTION, DynamoStore, LocalStore, Store, dynamodb_client};

pub mod error;
pub mod git;
pub mod live;
pub mod secrets;

use crate::app::App;
use crate::metrics::Metrics;
use crate::write::group_commit::GroupCommit;
use crate::write::timing::DEFAULT_CLAIM_LEASE;
pub use error::{ConfigError, invalid};
pub use git::GitSettings;

/// Which store backend to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    Dynamo {
        table: String,
        endpoint: Option<String>,
    },
    Local {
        path: PathBuf,
    },
}

impl StoreSettings {
    /// `BERTH_TABLE` (with `AWS_ENDPOINT_URL_DYNAMODB`), or `BERTH_STORE_FILE`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match (get("BERTH_TABLE"), get("BERTH_STORE_FILE")) {
            (Some(table), None) => Ok(Self::Dynamo {
                table,
                endpoint: get("AWS_ENDPOINT_URL_DYNAMODB"),
            }),
            (None, Some(path)) => Ok(Self::Local { path: path.into() }),
            (Some(_), Some(_)) => Err(invalid(
                "BERTH_TABLE",
                "set either BERTH_TABLE or BERTH_STORE_FILE, not both",
            )),
            (None, None) => Err(ConfigError::Missing(
                "BERTH_TABLE (or BERTH_STORE_FILE for a local store)",
            )),
        }
    }

    /// The store's client, made once and reused; settled request records are kept for
    /// `request_retention`.
    pub fn open(self, request_retention: Duration) -> Result<Arc<dyn Store>, ConfigError> {
        Ok(match self {
            Self::Dynamo { table, endpoint } => Arc::new(
                DynamoStore::new(dynamodb_client(endpoint.as_deref()), table)
                    .with_request_retention(request_retention),
            ),
            Self::Local { path } => Arc::new(
                LocalStore::open(path)
                    .map_err(|e| invalid("BERTH_STORE_FILE", e.to_string()))?
                    .with_request_retention(request_retention),
            ),
        })
    }
}

/// What the use-cases need, read from the environment.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    pub git: GitSettings,
    pub store: StoreSettings,
    /// `BERTH_CLAIM_LEASE`: how long a request may run before a retry or the sweep takes it
    /// over as interrupted.
    pub claim_lease: Duration,
    /// `BERTH_GROUP_COMMIT` (`on` or `off`), `BERTH_BATCH_MAX`, `BERTH_BATCH_WAIT`; the commit
    /// lease lasts as long as the claim lease.
    pub group_commit: Option<GroupCommit>,
    /// `BERTH_REQUEST_RETENTION`: how long a settled request's record is kept.
    pub request_retention: Duration,
    /// `BERTH_CHART_INDEX_TTL`, `BERTH_CHART_CACHE_DIR`, `BERTH_CHART_CACHE_MAX_MB`,
    /// `BERTH_CHART_CREDENTIALS`: reading upstream charts.
    pub charts: ChartSettings,
    /// `BERTH_METRICS`: `emf` (the default on Lambda) or `off`.
    pub metrics: Metrics,
}

impl ServiceSettings {
    /// Reads the settings through `var` (the process environment in production, a map in
    /// tests); a blank value counts as unset.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let claim_lease = claim_lease_from_env(get)?.unwrap_or(DEFAULT_CLAIM_LEASE);
        Ok(Self {
            git: GitSettings::from_env(get)?,
            store: StoreSettings::from_env(get)?,
            claim_lease,
            group_commit: group_commit_from_env(get, claim_lease)?,
            request_retention: request_retention_from_env(get)?,
            charts: chart_settings_from_env(get)?,
            metrics: metrics_from_env(get)?,
        })
    }

    /// Builds the app: clients are made once here and reused.
    pub fn into_app(self) -> Result<App, ConfigError> {
        let store = self.store.open(self.request_retention)?;
        let git = self.git.into_parts()?;
        let mut app = App::new(git.committer, store);
        app.pulls = git.pulls;
        app.group_commit = self.group_commit;
        app.request_retention = self.request_retention;
        app.charts = Arc::new(ChartLibrary::new(self.charts));
        app.metrics = self.metrics;
        Ok(app)
    }
}

/// `BERTH_METRICS`: `emf` or `off`; by default on under Lambda (`AWS_LAMBDA_FUNCTION_NAME` is
/// set) and off elsewhere, so `berth dev` prints none.
pub fn metrics_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Metrics, ConfigError> {
    let on = match get("BERTH_METRICS").as_deref().map(str::trim) {
        None | Some("") => get("AWS_LAMBDA_FUNCTION_NAME").is_some(),
        Some("emf") => true,
        Some("off") => false,
        Some(_) => return Err(invalid("BERTH_METRICS", "must be emf or off")),
    };
    Ok(if on {
        Metrics::stdout()
    } else {
        Metrics::off()
    })
}

/// Reads how upstream charts are read: the index TTL (default 10 minutes), where archives are
/// kept on disk (default `/tmp/berth-charts`, which a warm Lambda keeps) and how much, and the
/// credentials of private repositories (a secret: never echoed).
pub fn chart_settings_from_env(
    get: impl Fn(&str) -> Option<String>,
) -> Result<ChartSettings, ConfigError> {
    let index_ttl = duration_from_env(
        &get,
        "BERTH_CHART_INDEX_TTL",
        0..=86_400,
        "must be a duration up to 24h, such as 10m or 0s",
    )?
    .unwrap_or(DEFAULT_INDEX_TTL);
    let disk_bytes = match get("BERTH_CHART_CACHE_MAX_MB") {
        Some(raw) => {
            raw.trim()
                .parse::<u64>()
                .ok()
                .filter(|mb| (1..=10_240).contains(mb))
                .ok_or_else(|| {
                    invalid(
                        "BERTH_CHART_CACHE_MAX_MB",
                        "must be a whole number of MB from 1 to 10240",
                    )
                })?
                * 1024
                * 1024
        }
        None => berth_charts::library::DEFAULT_DISK_BYTES,
    };
    let credentials = match get("BERTH_CHART_CREDENTIALS") {
        Some(raw) => Credentials::parse(&raw).map_err(|e| {
            invalid(
                "BERTH_CHART_CREDENTIALS",
                format!("entry {}: {}", e.entry, e.reason),
            )
        })?,
        None => Credentials::default(),
    };
    Ok(ChartSettings {
        index_ttl,
        disk_dir: Some(
            get("BERTH_CHART_CACHE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("berth-charts")),
        ),
        disk_bytes,
        credentials,
    })
}

/// Reads `BERTH_CLAIM_LEASE`: how long a claimed request may run before a retry takes it over
/// (default [`DEFAULT_CLAIM_LEASE`]).
pub fn claim_lease_from_env(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, ConfigError> {
    duration_from_env(
        get,
        "BERTH_CLAIM_LEASE",
        1..=86_400,
        "must be a duration from 1s to 24h, such as 60s or 2m",
    )
}

/// Reads `BERTH_REQUEST_RETENTION`: how long a settled request's record is kept (default
/// [`DEFAULT_REQUEST_RETENTION`], 30 days).
pub fn request_retention_from_env(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Duration, ConfigError> {
    Ok(duration_from_env(
        get,
        "BERTH_REQUEST_RETENTION",
        3_600..=10 * 365 * 86_400,
        "must be a duration from 1h to 10 years, such as 30days or 90d",
    )?
    .unwrap_or(DEFAULT_REQUEST_RETENTION))
}

/// Reads duration `var` (`20s`, `2m`), whose whole seconds must lie in `seconds`; `None` when
/// unset or blank, and `refusal` as the reason when malformed or out of range.
pub(crate) fn duration_from_env(
    get: impl Fn(&str) -> Option<String>,
    var: &'static str,
    seconds: std::ops::RangeInclusive<u64>,
    refusal: &str,
) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = get(var).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    humantime::parse_duration(raw.trim())
        .ok()
        .filter(|d| seconds.contains(&d.as_secs()))
        .map(Some)
        .ok_or_else(|| invalid(var, refusal))
}

/// Reads `BERTH_GROUP_COMMIT` (`on`, the default, or `off`), `BERTH_BATCH_MAX` (requests per
/// commit, 1 to 1000, default 100) and `BERTH_BATCH_WAIT` (how long an API caller waits for
/// its batch, 1 s to 10 min, default 20 s).
pub fn group_commit_from_env(
    get: impl Fn(&str) -> Option<String>,
    lease: Duration,
) -> Result<Option<GroupCommit>, ConfigError> {
    match get("BERTH_GROUP_COMMIT").as_deref().map(str::trim) {
        None | Some("on") => {}
        Some("off") => return Ok(None),
        Some(_) => return Err(invalid("BERTH_GROUP_COMMIT", "must be on or off")),
    }
    let mut group = GroupCommit {
        lease,
        ..GroupCommit::default()
    };
    if let Some(raw) = get("BERTH_BATCH_MAX") {
        group.limits.max_requests = raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| invalid("BERTH_BATCH_MAX", "must be a whole number from 1 to 1000"))?;
    }
    if let Some(wait) = duration_from_env(
        &get,
        "BERTH_BATCH_WAIT",
        1..=600,
        "must be a duration from 1s to 10m, such as 20s",
    )? {
        group.wait = wait;
    }
    Ok(Some(group))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<GroupCommit>, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        group_commit_from_env(|k| vars.get(k).cloned(), Duration::from_secs(60))
    }

    #[test]
    fn group_commit_is_on_by_default_and_each_setting_is_checked() {
        let default = read(&[]).unwrap().unwrap();
        assert_eq!(default.limits.max_requests, 100);
        assert_eq!(default.wait, Duration::from_secs(20));
        assert_eq!(default.lease, Duration::from_secs(60));
        assert_eq!(read(&[("BERTH_GROUP_COMMIT", "off")]).unwrap(), None);
        let tuned = read(&[("BERTH_BATCH_MAX", "25"), ("BERTH_BATCH_WAIT", "5s")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (tuned.limits.max_requests, tuned.wait),
            (25, Duration::from_secs(5))
        );
        for (var, value) in [
            ("BERTH_GROUP_COMMIT", "yes"),
            ("BERTH_BATCH_MAX", "0"),
            ("BERTH_BATCH_MAX", "many"),
            ("BERTH_BATCH_WAIT", "1h"),
        ] {
            let Err(ConfigError::Invalid { var: named, .. }) = read(&[(var, value)]) else {
                panic!("{var}={value} is refused");
            };
            assert_eq!(named, var);
        }
    }

    #[test]
    fn metrics_are_off_unless_on_lambda_or_asked() {
        let env = |pairs: &'static [(&str, &str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!metrics_from_env(env(&[])).unwrap().is_on());
        assert!(
            metrics_from_env(env(&[("AWS_LAMBDA_FUNCTION_NAME", "api")]))
                .unwrap()
                .is_on()
        );
        const OFF: [(&str, &str); 2] = [
            ("AWS_LAMBDA_FUNCTION_NAME", "api"),
            ("BERTH_METRICS", "off"),
        ];
        assert!(!metrics_from_env(env(&OFF)).unwrap().is_on());
        let err = metrics_from_env(env(&[("BERTH_METRICS", "statsd")])).unwrap_err();
        assert!(err.to_string().starts_with("BERTH_METRICS"), "{err}");
    }
}
