//! The embedded store of local mode: the records of DESIGN.md §6 in one JSON file under the
//! state folder, rewritten atomically (temporary file, fsync, rename) for every group of
//! writes ([`shared_file`]), so it survives a restart and a crash never leaves half a file.

mod shared_file;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use self::shared_file::SharedFile;
use crate::{
    BillingLink, Claim, ClusterHealth, CommitLease, DEFAULT_REQUEST_RETENTION, HEALTH_ITEM,
    IdempotencyRecord, IndexTip, LeaseTaken, Observation, ObservationKey, ObservationsWritten,
    RequestRecord, RequestState, StatusRecord, Store, StoreError, StoredResponse, TenantEntry,
    TenantHealth, now_epoch,
};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    requests: BTreeMap<String, RequestRecord>,
    tenants: BTreeMap<String, TenantEntry>,
    idempotency: BTreeMap<String, IdempotencyRecord>,
    /// Keyed by `<tenant>#<env>#<module|_>`.
    statuses: BTreeMap<String, StatusRecord>,
    #[serde(default)]
    billing: BTreeMap<String, BillingLink>,
    #[serde(default)]
    health: BTreeMap<String, TenantHealth>,
    #[serde(default)]
    cluster: Option<ClusterHealth>,
    #[serde(default)]
    index_tip: Option<IndexTip>,
    #[serde(default)]
    commit_lease: Option<CommitLease>,
    /// Replaced by every write of observations (see [`Store::observation_generation`]).
    #[serde(default)]
    observation_generation: Option<String>,
    /// When each settled request's record expires (epoch seconds), as DynamoDB's TTL would.
    #[serde(default)]
    request_expiry: BTreeMap<String, i64>,
}

impl Data {
    /// Stores `record`; settled, it expires after `retention`. Records already expired go.
    fn insert_request(&mut self, record: &RequestRecord, retention: std::time::Duration) {
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

    fn has_expired(&self, id: &str) -> bool {
        self.request_expiry
            .get(id)
            .is_some_and(|at| *at <= now_epoch())
    }
}

/// The key of a status in [`Data::statuses`] for an observation key (`STATUS#<env>#<module>`).
fn status_key(key: &ObservationKey) -> Option<String> {
    key.item
        .strip_prefix("STATUS#")
        .map(|slot| format!("{}#{slot}", key.tenant))
}

/// A store in a JSON file. Every `LocalStore` opened on the same file in one process shares one
/// copy of the data and one lock, so two writers never overwrite each other's records.
#[derive(Clone)]
pub struct LocalStore {
    file: Arc<SharedFile<Data>>,
    request_retention: std::time::Duration,
}

/// Open files by canonical path: the sharing that makes two instances safe.
fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<SharedFile<Data>>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Arc<SharedFile<Data>>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

fn unavailable(path: &Path, what: &str, e: impl std::fmt::Display) -> StoreError {
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
    async fn write<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut Data) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        self.file.write(change).await
    }

    async fn read<T>(&self, query: impl FnOnce(&Data) -> T) -> T {
        self.file.read(query).await
    }
}

fn idempotency_key(source: &str, key: &str) -> String {
    format!("{source}#{key}")
}

#[async_trait]
impl Store for LocalStore {
    async fn put_request(&self, record: &RequestRecord) -> Result<(), StoreError> {
        let (record, retention) = (record.clone(), self.request_retention);
        self.write(move |d| d.insert_request(&record, retention))
            .await
    }

    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        Ok(self
            .read(|d| d.requests.get(id).filter(|_| !d.has_expired(id)).cloned())
            .await)
    }

    async fn put_tenant(&self, entry: &TenantEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.write(move |d| d.tenants.insert(entry.name.clone(), entry))
            .await
            .map(drop)
    }

    async fn get_tenant(&self, name: &str) -> Result<Option<TenantEntry>, StoreError> {
        Ok(self.read(|d| d.tenants.get(name).cloned()).await)
    }

    async fn delete_tenant(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write(move |d| d.tenants.remove(&name)).await.map(drop)
    }

    async fn list_tenants(&self) -> Result<Vec<TenantEntry>, StoreError> {
        Ok(self.read(|d| d.tenants.values().cloned().collect()).await)
    }

    async fn claim_idempotency(&self, record: &IdempotencyRecord) -> Result<Claim, StoreError> {
        let key = idempotency_key(&record.source, &record.key);
        let now = now_epoch();
        let live = move |d: &Data, key: &str| {
            d.idempotency
                .get(key)
                .filter(|r| r.expires_at > now)
                .cloned()
        };
        if let Some(existing) = self.read(|d| live(d, &key)).await {
            return Ok(Claim::Existing(existing));
        }
        // Decide again under the write's lock: another caller may have claimed in between.
        let record = record.clone();
        self.write(move |d| match live(d, &key) {
            Some(existing) => Claim::Existing(existing),
            None => {
                d.idempotency.insert(key, record);
                Claim::Claimed
            }
        })
        .await
    }

    async fn complete_idempotency(
        &self,
        source: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let (key, response) = (idempotency_key(source, key), response.clone());
        self.write(move |d| {
            if let Some(record) = d.idempotency.get_mut(&key) {
                record.response = Some(response);
            }
        })
        .await
    }

    async fn take_over_idempotency(
        &self,
        existing: &IdempotencyRecord,
        lease_expires_at: i64,
    ) -> Result<bool, StoreError> {
        let key = idempotency_key(&existing.source, &existing.key);
        let seen_lease = existing.lease_expires_at;
        self.write(move |d| match d.idempotency.get_mut(&key) {
            Some(claim) if claim.response.is_none() && claim.lease_expires_at == seen_lease => {
                claim.lease_expires_at = lease_expires_at;
                true
            }
            _ => false,
        })
        .await
    }

    async fn release_idempotency(&self, source: &str, key: &str) -> Result<(), StoreError> {
        let key = idempotency_key(source, key);
        self.write(move |d| d.idempotency.remove(&key))
            .await
            .map(drop)
    }

    async fn get_billing(&self, customer: &str) -> Result<Option<BillingLink>, StoreError> {
        Ok(self.read(|d| d.billing.get(customer).cloned()).await)
    }

    async fn put_billing_unless_newer(&self, link: &BillingLink) -> Result<bool, StoreError> {
        let link = link.clone();
        self.write(move |d| {
            if d.billing
                .get(&link.customer)
                .is_some_and(|old| old.last_event_at > link.last_event_at)
            {
                return false;
            }
            d.billing.insert(link.customer.clone(), link);
            true
        })
        .await
    }

    async fn list_open_requests(&self) -> Result<Vec<RequestRecord>, StoreError> {
        Ok(self
            .read(|d| {
                d.requests
                    .values()
                    .filter(|r| r.state.is_open() && !r.is_pending())
                    .cloned()
                    .collect()
            })
            .await)
    }

    async fn record_batch(
        &self,
        records: &[RequestRecord],
        tenants: &[TenantEntry],
        removed_tenants: &[String],
    ) -> Result<(), StoreError> {
        let retention = self.request_retention;
        let (records, tenants) = (records.to_vec(), tenants.to_vec());
        let removed_tenants = removed_tenants.to_vec();
        self.write(move |d| {
            for entry in tenants {
                d.tenants.insert(entry.name.clone(), entry);
            }
            for name in &removed_tenants {
                d.tenants.remove(name);
            }
            for record in &records {
                d.insert_request(record, retention);
            }
        })
        .await
    }

    async fn put_pending(&self, record: &RequestRecord) -> Result<bool, StoreError> {
        let (record, retention) = (record.clone(), self.request_retention);
        self.write(move |d| {
            let replaceable = d.requests.get(&record.id).is_none_or(|stored| {
                matches!(
                    stored.state,
                    RequestState::Accepted | RequestState::Failed | RequestState::Scheduled
                )
            });
            if replaceable {
                d.insert_request(&record, retention);
            }
            replaceable
        })
        .await
    }

    async fn list_pending(&self, limit: usize) -> Result<Vec<RequestRecord>, StoreError> {
        Ok(self
            .read(|d| {
                d.requests
                    .values()
                    .filter(|r| r.is_pending())
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .await)
    }

    async fn take_commit_lease(
        &self,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<LeaseTaken>, StoreError> {
        let (now, owner) = (now_epoch(), owner.to_owned());
        self.write(move |d| {
            let taken = match &d.commit_lease {
                Some(held) if held.lease_until >= now => return None,
                Some(held) => LeaseTaken {
                    after_unreleased: !held.released,
                },
                None => LeaseTaken {
                    after_unreleased: false,
                },
            };
            d.commit_lease = Some(CommitLease {
                owner,
                lease_until,
                released: false,
            });
            Some(taken)
        })
        .await
    }

    async fn release_commit_lease(&self, owner: &str, released: bool) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        self.write(move |d| {
            if let Some(lease) = d.commit_lease.as_mut().filter(|l| l.owner == owner) {
                lease.lease_until = 0;
                lease.released = released;
            }
        })
        .await
    }

    async fn commit_lease(&self) -> Result<Option<CommitLease>, StoreError> {
        Ok(self.read(|d| d.commit_lease.clone()).await)
    }

    async fn list_scheduled_billing(&self) -> Result<Vec<BillingLink>, StoreError> {
        Ok(self
            .read(|d| {
                d.billing
                    .values()
                    .filter(|b| b.scheduled.is_some())
                    .cloned()
                    .collect()
            })
            .await)
    }

    async fn write_observations(
        &self,
        puts: &[Observation],
        removes: &[ObservationKey],
        seen: Option<&str>,
    ) -> Result<ObservationsWritten, StoreError> {
        let (puts, removes) = (puts.to_vec(), removes.to_vec());
        let seen = seen.map(str::to_owned);
        self.write(move |d| {
            // One write under the lock: nobody writes between the two marks DynamoDB needs.
            let generation = ulid::Ulid::new().to_string();
            let previous = d.observation_generation.replace(generation.clone());
            for key in &removes {
                if let Some(k) = status_key(key) {
                    d.statuses.remove(&k);
                } else {
                    d.health.remove(&key.tenant);
                }
            }
            for put in &puts {
                match put {
                    Observation::Status(r) => {
                        d.statuses
                            .insert(format!("{}#{}", r.tenant, r.slot()), r.clone());
                    }
                    Observation::Health(h) => {
                        d.health.insert(h.tenant.clone(), h.clone());
                    }
                }
            }
            ObservationsWritten {
                generation,
                sole_writer: previous == seen,
            }
        })
        .await
    }

    async fn observation_generation(&self) -> Result<Option<String>, StoreError> {
        Ok(self.read(|d| d.observation_generation.clone()).await)
    }

    async fn observation_digests(&self) -> Result<BTreeMap<ObservationKey, String>, StoreError> {
        Ok(self
            .read(|d| {
                let statuses = d.statuses.values().map(|r| {
                    let put = Observation::Status(r.clone());
                    (put.key(), r.digest.clone())
                });
                let health = d.health.values().map(|h| {
                    let key = ObservationKey {
                        tenant: h.tenant.clone(),
                        item: HEALTH_ITEM.to_owned(),
                    };
                    (key, h.digest.clone())
                });
                statuses.chain(health).collect()
            })
            .await)
    }

    async fn list_tenant_health(&self) -> Result<Vec<TenantHealth>, StoreError> {
        Ok(self.read(|d| d.health.values().cloned().collect()).await)
    }

    async fn index_tip(&self) -> Result<Option<IndexTip>, StoreError> {
        Ok(self.read(|d| d.index_tip.clone()).await)
    }

    async fn put_index_tip(&self, tip: &IndexTip) -> Result<(), StoreError> {
        let tip = tip.clone();
        self.write(move |d| d.index_tip = Some(tip)).await
    }

    async fn put_cluster_health(&self, health: &ClusterHealth) -> Result<(), StoreError> {
        let health = health.clone();
        self.write(move |d| d.cluster = Some(health)).await
    }

    async fn get_cluster_health(&self) -> Result<Option<ClusterHealth>, StoreError> {
        Ok(self.read(|d| d.cluster.clone()).await)
    }

    async fn list_statuses(&self, tenant: &str) -> Result<Vec<StatusRecord>, StoreError> {
        let prefix = format!("{tenant}#");
        Ok(self
            .read(|d| {
                d.statuses
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .await)
    }
}
