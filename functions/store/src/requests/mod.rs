//! Request records and idempotency claims: a request's record through its lifecycle, and the claim of an `Idempotency-Key` or a webhook event id that keeps its first answer.

mod dynamo;
mod local;

use async_trait::async_trait;

use crate::StoreError;
use crate::records::{Claim, IdempotencyRecord, RequestRecord, StoredResponse};

#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Creates or replaces a request record.
    async fn put_request(&self, record: &RequestRecord) -> Result<(), StoreError>;

    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError>;

    /// Requests whose state [`RequestState::is_open`] and that wait for no group commit: what
    /// the status sweep moves forward.
    async fn list_open_requests(&self) -> Result<Vec<RequestRecord>, StoreError>;

    /// Claims an idempotency key with a conditional create: the first caller gets
    /// [`Claim::Claimed`], every later one the existing record, until it expires.
    async fn claim_idempotency(&self, record: &IdempotencyRecord) -> Result<Claim, StoreError>;

    /// Records the answer given for `claim`'s key, so replays return it.
    async fn complete_idempotency(
        &self,
        claim: &IdempotencyRecord,
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
}
