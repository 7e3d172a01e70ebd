//! The embedded store of local mode: the store's records in one JSON file under the state
//! folder, rewritten atomically (temporary file, fsync, rename) for every group of
//! writes ([`shared_file`]), so it survives a restart and a crash never leaves half a file.

mod shared_file;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use self::shared_file::SharedFile;
use crate::{
    BillingLink, ClusterHealth, CommitLease, DEFAULT_REQUEST_RETENTION, IdempotencyRecord,
    IndexTip, ObservationKey, RequestRecord, StatusRecord, StoreError, TenantEntry, TenantHealth,
    now_epoch,
};

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Data {
    pub(crate) requests: BTreeMap<String, RequestRecord>,
    pub(crate) tenants: BTreeMap<String, TenantEntry>,
    pub(crate) idempotency: BTreeMap<String, IdempotencyRecord>,
    /// Keyed by `<tenant>#<env>#<module|_>`.
    pub(crate) statuses: BTreeMap<String, StatusRecord>,
    #[serde(default)]
    pub(crate) billing: BTreeMap<String, BillingLink>,
    #[serde(default)]
    pub(crate) health: BTreeMap<String, TenantHealth>,
    #[serde(default)]
    pub(crate) cluster: Option<ClusterHealth>,
    #[serde(default)]
    pub(crate) index_tip: Option<IndexTip>,
    #[serde(default)]
    pub(crate) commit_lease: Option<CommitLease>,
    /// Replaced by every write of observations (see [`crate::ObservationStore::observation_generation`]).
    #[serde(default)]
    pub(crate) observation_generation: Option<String>,
    /// When each settled request's record expires (epoch seconds), as DynamoDB's TTL would.
    #[serde(default)]
    pub(crate) request_expiry: BTreeMap<String, i64>,
    #[serde(default)]
    pub(crate) rollouts: BTreeMap<String, crate::RolloutRecord>,
    /// Keyed by `<rollout>#<wave:04>#<page:04>`.
    #[serde(default)]
    pub(crate) wave_pages: BTreeMap<String, crate::WavePage>,
}

impl Data {
    /// Stores `record`; settled, it expires after `retention`. Records already expired go.
    pub(crate) fn insert_request(
        &mut self,
        record: &RequestRecord,
        retention: std::time::Duration,
    ) {
        let now = now_epoch();
        if record.state.is_settled() {
            let at = now.saturating_add_unsigned(retention.as_secs());
            self.request_expiry.insert(record.id.clone(), at);
        } else {
            self.request_expiry.remove(&record.id);
        }
        self.requests.insert(record.id.clone(), record.clone());
        let expired: Vec<String> = self
            .request_expiry
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.request_expiry.remove(&id);
            self.requests.remove(&id);
        }
    }

    pub(crate) fn has_expired(&self, id: &str) -> bool {
        self.request_expiry
            .get(id)
            .is_some_and(|at| *at <= now_epoch())
    }
}

/// The key of a status in [`Data::statuses`] for an observation key (`STATUS#<env>#<module>`).
pub(crate) fn status_key(key: &ObservationKey) -> Option<String> {
    key.item
        .strip_prefix("STATUS#")
        .map(|slot| format!("{}#{slot}", key.tenant))
}

/// A store in a JSON file. Every `LocalStore` opened on the same file in one process shares one
/// copy of the data and one lock, so two writers never overwrite each other's records.
#[derive(Clone)]
pub struct LocalStore {
    file: Arc<SharedFile<Data>>,
    pub(crate) request_retention: std::time::Duration,
}

/// Open files by canonical path: the sharing that makes two instances safe.
fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<SharedFile<Data>>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Arc<SharedFile<Data>>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

pub(crate) fn unavailable(path: &Path, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what} {}: {e}", path.display()))
}

impl LocalStore {
    /// Opens (or creates) the store file at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| unavailable(dir, "create", e))?;
        }
        let canonical = match path.canonicalize() {
            Ok(p) => p,
            Err(_) => {
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let dir = dir
                    .canonicalize()
                    .map_err(|e| unavailable(dir, "open", e))?;
                dir.join(path.file_name().unwrap_or_default())
            }
        };
        let mut open = registry()
            .lock()
            .map_err(|_| StoreError::Unavailable("store registry poisoned".into()))?;
        let file = match open.get(&canonical) {
            Some(file) => Arc::clone(file),
            None => {
                let file = Arc::new(SharedFile::open(canonical.clone())?);
                open.insert(canonical, Arc::clone(&file));
                file
            }
        };
        Ok(Self {
            file,
            request_retention: DEFAULT_REQUEST_RETENTION,
        })
    }

    /// How long a settled request's record is kept.
    pub fn with_request_retention(mut self, retention: std::time::Duration) -> Self {
        self.request_retention = retention;
        self
    }

    /// Applies `change` to the data; answers once the file holding it is on disk.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut Data) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        self.file.write(change).await
    }

    pub(crate) async fn read<T>(&self, query: impl FnOnce(&Data) -> T) -> T {
        self.file.read(query).await
    }
}

pub(crate) fn idempotency_key(source: &str, key: &str) -> String {
    format!("{source}#{key}")
}
