//! [`super::RequestStore`] on the local file.

use async_trait::async_trait;

use super::RequestStore;
use crate::local::{Data, LocalStore, idempotency_key};
use crate::records::{Claim, IdempotencyRecord, RequestRecord, StoredResponse};
use crate::{StoreError, now_epoch};

#[async_trait]
impl RequestStore for LocalStore {
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
        claim: &IdempotencyRecord,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let (key, response) = (idempotency_key(&claim.source, &claim.key), response.clone());
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
}
