//! [`super::GroupCommitStore`] on the DynamoDB table.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, WriteRequest,
};

use super::GroupCommitStore;
use crate::dynamo::{
    COMMIT_LEASE_PK, DynamoStore, Item, KIND_INDEX, PENDING_KIND, attr_s, build_error,
    is_condition_failure, unavailable, written,
};
use crate::records::{BatchRecords, CommitLease, LeaseTaken, RequestRecord};
use crate::{StoreError, now_epoch};

#[async_trait]
impl GroupCommitStore for DynamoStore {
    async fn record_batch(&self, batch: BatchRecords<'_>) -> Result<(), StoreError> {
        let put = |item: Item| -> Result<WriteRequest, StoreError> {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(build_error)?;
            Ok(WriteRequest::builder().put_request(put).build())
        };
        let mut index = Vec::with_capacity(batch.tenants.len() + batch.removed_tenants.len());
        for entry in batch.tenants {
            index.push(put(Self::tenant_item(entry)?)?);
        }
        for name in batch.removed_tenants {
            let delete = DeleteRequest::builder()
                .key("PK", attr_s(format!("TENANT#{name}")))
                .key("SK", attr_s("META"))
                .build()
                .map_err(build_error)?;
            index.push(WriteRequest::builder().delete_request(delete).build());
        }
        let records = batch
            .requests
            .iter()
            .map(|record| put(self.request_item(record)?))
            .collect::<Result<Vec<_>, _>>()?;
        // The index first, as a lone request writes it: a record read as settled has its
        // tenant indexed. Within each, the chunks go out side by side.
        self.write_chunks(index).await?;
        self.write_chunks(records).await
    }

    async fn put_pending(&self, record: &RequestRecord) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.request_item(record)?))
            .condition_expression(
                "attribute_not_exists(PK) OR #state IN (:accepted, :failed, :scheduled)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":accepted", attr_s("accepted"))
            .expression_attribute_values(":failed", attr_s("failed"))
            .expression_attribute_values(":scheduled", attr_s("scheduled"))
            .send()
            .await;
        written(put)
    }

    async fn list_pending(&self, limit: usize) -> Result<Vec<RequestRecord>, StoreError> {
        let limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(KIND_INDEX)
            .key_condition_expression("kind = :kind")
            .expression_attribute_values(":kind", attr_s(PENDING_KIND))
            .limit(limit)
            .send()
            .await
            .map_err(unavailable)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(Self::record)
            .collect()
    }

    async fn take_commit_lease(
        &self,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<LeaseTaken>, StoreError> {
        let lease = CommitLease {
            owner: owner.to_owned(),
            lease_until,
            released: false,
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(COMMIT_LEASE_PK.into(), "META", &lease)?))
            .condition_expression("attribute_not_exists(PK) OR lease_until < :now")
            .expression_attribute_values(":now", AttributeValue::N(now_epoch().to_string()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match put {
            Ok(out) => {
                let before: Option<CommitLease> = out
                    .attributes
                    .filter(|item| !item.is_empty())
                    .map(Self::record)
                    .transpose()?;
                Ok(Some(LeaseTaken {
                    after_unreleased: before.is_some_and(|b| !b.released),
                }))
            }
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_commit_lease(&self, owner: &str, released: bool) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", attr_s(COMMIT_LEASE_PK))
            .key("SK", attr_s("META"))
            .update_expression("SET lease_until = :zero, released = :released")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", attr_s(owner))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":released", AttributeValue::Bool(released))
            .send()
            .await;
        // Taken over already: the lease is someone else\'s to release.
        written(update).map(drop)
    }

    async fn commit_lease(&self) -> Result<Option<CommitLease>, StoreError> {
        self.get(COMMIT_LEASE_PK.into(), "META").await
    }
}
