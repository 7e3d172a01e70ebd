//! The status store of DESIGN.md §6: request records, the tenant index, idempotency claims and
//! statuses, behind one [`Store`] trait with two backends: DynamoDB ([`DynamoStore`]) and an
//! embedded file for local mode ([`LocalStore`]).

mod dynamo;
mod local;
mod records;

use async_trait::async_trait;

pub use dynamo::{DynamoStore, create_table, create_table_without_ttl, dynamodb_client};
pub use local::LocalStore;
pub use records::{
    BillingLink, Claim, ClusterHealth, CommitLease, ErrorBody, HEALTH_ITEM, IdempotencyRecord,
    IndexProblem, IndexTip, LastChange, LeaseTaken, Observation, ObservationKey,
    ObservationsWritten, Registration, RequestRecord, RequestState, ScheduledChange, StatusRecord,
    StoredResponse, TenantEntry, TenantHealth,
};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the call; a retry may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be read back.
    #[error("store item {key} is malformed: {reason}")]
    Malformed { key: String, reason: String },
}

/// The records Berth keeps about requests, tenants and statuses.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates or replaces a request record.
    async fn put_request(&self, record: &RequestRecord) -> Result<(), StoreError>;
    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError>;
    /// Requests whose state [`RequestState::is_open`] and that wait for no group commit: what
    /// the status sweep moves forward.
    async fn list_open_requests(&self) -> Result<Vec<RequestRecord>, StoreError>;
    /// Writes a group commit's outcomes at once (in batches the backend allows): its request
    /// records, and the tenant index entries it changed (`tenants` written, `removed_tenants`
    /// deleted).
    async fn record_batch(
        &self,
        records: &[RequestRecord],
        tenants: &[TenantEntry],
        removed_tenants: &[String],
    ) -> Result<(), StoreError>;

    /// Records `record` ([`RequestRecord::is_pending`]) as waiting for a group commit, unless
    /// its stored record already has an outcome (a retry racing the commit that settled it):
    /// only `accepted`, `failed` and `scheduled` records are replaced. Returns whether it was
    /// written.
    async fn put_pending(&self, record: &RequestRecord) -> Result<bool, StoreError>;
    /// Requests waiting for a group commit, oldest (lowest id) first, at most `limit`.
    async fn list_pending(&self, limit: usize) -> Result<Vec<RequestRecord>, StoreError>;

    /// Takes the commit lease for `owner` until `lease_until` (epoch seconds) when nobody holds
    /// it or its holder's time ran out; `None` while another holds it.
    async fn take_commit_lease(
        &self,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<LeaseTaken>, StoreError>;
    /// Lets the lease go, if `owner` still holds it. `released: false` tells the next holder
    /// that outcomes of this one's commits may be missing.
    async fn release_commit_lease(&self, owner: &str, released: bool) -> Result<(), StoreError>;
    /// The commit lease as stored, for a waiter deciding whether to take it.
    async fn commit_lease(&self) -> Result<Option<CommitLease>, StoreError>;

    /// Creates or replaces a tenant's index entry.
    async fn put_tenant(&self, entry: &TenantEntry) -> Result<(), StoreError>;
    async fn get_tenant(&self, name: &str) -> Result<Option<TenantEntry>, StoreError>;
    async fn delete_tenant(&self, name: &str) -> Result<(), StoreError>;
    /// Every tenant, ordered by name.
    async fn list_tenants(&self) -> Result<Vec<TenantEntry>, StoreError>;

    /// Claims an idempotency key with a conditional create: the first caller gets
    /// [`Claim::Claimed`], every later one the existing record, until it expires.
    async fn claim_idempotency(&self, record: &IdempotencyRecord) -> Result<Claim, StoreError>;
    /// Records the answer given for a claimed key, so replays return it.
    async fn complete_idempotency(
        &self,
        source: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;
    /// Takes over `existing`, an unanswered claim whose lease ran out, by moving its lease to
    /// `lease_expires_at`. The write is conditional on the lease `existing` carries (and on no
    /// answer having been recorded), so among concurrent retries exactly one gets `true`.
    async fn take_over_idempotency(
        &self,
        existing: &IdempotencyRecord,
        lease_expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// Drops a claim, answered or not, so its key can be claimed afresh. The request paths never
    /// do (an unfinished request ends its lease instead, so a retry settles it under its id);
    /// this is for operators forgetting a key, and for tests setting up what a crash leaves.
    async fn release_idempotency(&self, source: &str, key: &str) -> Result<(), StoreError>;

    async fn get_billing(&self, customer: &str) -> Result<Option<BillingLink>, StoreError>;
    /// Writes `link` unless the stored one has applied a newer event (`last_event_at` greater
    /// than `link`'s); returns whether it was written.
    async fn put_billing_unless_newer(&self, link: &BillingLink) -> Result<bool, StoreError>;
    /// Billing links with a scheduled change, due or not.
    async fn list_scheduled_billing(&self) -> Result<Vec<BillingLink>, StoreError>;

    /// Writes statuses (in batches the backend allows).
    async fn put_statuses(&self, records: &[StatusRecord]) -> Result<(), StoreError> {
        let puts: Vec<Observation> = records.iter().cloned().map(Observation::Status).collect();
        self.write_observations(&puts, &[], None).await.map(drop)
    }
    /// A tenant's statuses, ordered by env and module.
    async fn list_statuses(&self, tenant: &str) -> Result<Vec<StatusRecord>, StoreError>;

    /// Writes and removes what a sweep observed, in batches of at most 25, retrying the items
    /// the backend left unprocessed. The observation generation is replaced before the first
    /// item is written and again after the last, so a reader that read it before or during
    /// this write sees it change. `seen` is the generation the caller read its digests at.
    async fn write_observations(
        &self,
        puts: &[Observation],
        removes: &[ObservationKey],
        seen: Option<&str>,
    ) -> Result<ObservationsWritten, StoreError>;
    /// The generation of the stored observations: it changes with every write of them, so a
    /// sweeper holding the digests of a generation knows them current while it stays the same.
    /// `None` before any observation was written.
    async fn observation_generation(&self) -> Result<Option<String>, StoreError>;
    /// The digest of every observation stored, so a sweep writes only what changed. Read from
    /// an index that holds nothing else: the cost follows the fleet, not the table's history.
    async fn observation_digests(
        &self,
    ) -> Result<std::collections::BTreeMap<ObservationKey, String>, StoreError>;
    /// Every tenant's overall health.
    async fn list_tenant_health(&self) -> Result<Vec<TenantHealth>, StoreError>;

    /// The branch tip the tenant index was last brought fully in line with Git at, if any.
    async fn index_tip(&self) -> Result<Option<IndexTip>, StoreError>;
    async fn put_index_tip(&self, tip: &IndexTip) -> Result<(), StoreError>;

    async fn put_cluster_health(&self, health: &ClusterHealth) -> Result<(), StoreError>;
    async fn get_cluster_health(&self) -> Result<Option<ClusterHealth>, StoreError>;
}

/// How long a settled request's record is kept (`BERTH_REQUEST_RETENTION`'s default); Git
/// keeps the request in its commit's trailers for good.
pub const DEFAULT_REQUEST_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(30 * 24 * 60 * 60);

/// Seconds since the Unix epoch, for expiry checks.
pub(crate) fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
