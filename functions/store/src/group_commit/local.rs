//! [`super::GroupCommitStore`] on the local file.

use async_trait::async_trait;

use super::GroupCommitStore;
use crate::local::LocalStore;
use crate::records::{BatchRecords, CommitLease, LeaseTaken, RequestRecord, RequestState};
use crate::{StoreError, now_epoch};

#[async_trait]
impl GroupCommitStore for LocalStore {
    async fn record_batch(&self, batch: BatchRecords<'_>) -> Result<(), StoreError> {
        let retention = self.request_retention;
        let (records, tenants) = (batch.requests.to_vec(), batch.tenants.to_vec());
        let removed_tenants = batch.removed_tenants.to_vec();
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
}
