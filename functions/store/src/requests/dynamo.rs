//! [`super::RequestStore`] on the DynamoDB table.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::RequestStore;
use crate::dynamo::{
    DynamoStore, Item, OPEN_REQUEST_KIND, attr_s, build_error, idempotency_pk,
    is_condition_failure, unavailable, written,
};
use crate::records::{Claim, IdempotencyRecord, RequestRecord, StoredResponse};
use crate::{StoreError, now_epoch};

#[async_trait]
impl RequestStore for DynamoStore {
    async fn put_request(&self, record: &RequestRecord) -> Result<(), StoreError> {
        self.put(self.request_item(record)?).await
    }

    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        // TTL deletes expired items within days, not at once: until then they read as gone.
        let expired = |item: &Item| {
            item.get("expires_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .is_some_and(|at| at <= now_epoch())
        };
        self.get_item(format!("REQUEST#{id}"), "META")
            .await?
            .filter(|item| !expired(item))
            .map(Self::record)
            .transpose()
    }

    async fn list_open_requests(&self) -> Result<Vec<RequestRecord>, StoreError> {
        self.query_kind(OPEN_REQUEST_KIND).await
    }

    async fn claim_idempotency(&self, record: &IdempotencyRecord) -> Result<Claim, StoreError> {
        let pk = idempotency_pk(&record.source, &record.key);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(pk.clone(), "META", record)?))
            // An expired claim that TTL has not removed yet counts as absent.
            .condition_expression("attribute_not_exists(PK) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now_epoch().to_string()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Claimed),
            Err(e) if is_condition_failure(&e) => {
                match self.get::<IdempotencyRecord>(pk, "META").await? {
                    Some(existing) => Ok(Claim::Existing(existing)),
                    // Released between our write and our read: report it as in flight.
                    None => Ok(Claim::Existing(record.clone())),
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn complete_idempotency(
        &self,
        claim: &IdempotencyRecord,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let value = serde_dynamo::to_attribute_value(response).map_err(build_error)?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("PK", attr_s(idempotency_pk(&claim.source, &claim.key)))
            .key("SK", attr_s("META"))
            .update_expression("SET #response = :response")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":response", value)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn take_over_idempotency(
        &self,
        existing: &IdempotencyRecord,
        lease_expires_at: i64,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                "PK",
                attr_s(idempotency_pk(&existing.source, &existing.key)),
            )
            .key("SK", attr_s("META"))
            .update_expression("SET #lease = :lease")
            // A compare-and-swap on the lease the caller saw: one concurrent retry wins. An
            // unanswered claim stores its response as NULL; a claim from before leases existed
            // has no lease attribute (read as 0).
            .condition_expression(
                "attribute_exists(PK) \
                 AND (attribute_not_exists(#response) OR attribute_type(#response, :null)) \
                 AND (#lease = :seen OR (attribute_not_exists(#lease) AND :seen = :zero))",
            )
            .expression_attribute_names("#lease", "lease_expires_at")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":lease", AttributeValue::N(lease_expires_at.to_string()))
            .expression_attribute_values(
                ":seen",
                AttributeValue::N(existing.lease_expires_at.to_string()),
            )
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":null", AttributeValue::S("NULL".into()))
            .send()
            .await;
        written(update)
    }

    async fn release_idempotency(&self, source: &str, key: &str) -> Result<(), StoreError> {
        self.delete(idempotency_pk(source, key), "META").await
    }
}
