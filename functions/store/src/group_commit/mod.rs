//! Group commit's pending requests, its one commit lease, and the outcomes a batch records at once.

mod dynamo;
mod local;

use async_trait::async_trait;

use crate::StoreError;
use crate::records::{BatchRecords, CommitLease, LeaseTaken, RequestRecord};

#[async_trait]
pub trait GroupCommitStore: Send + Sync {
    /// Writes a group commit's outcomes at once (in batches the backend allows): its request
    /// records, and the tenant index entries it changed.
    async fn record_batch(&self, batch: BatchRecords<'_>) -> Result<(), StoreError>;

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
}
