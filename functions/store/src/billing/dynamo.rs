//! [`super::BillingStore`] on the DynamoDB table.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::BillingStore;
use crate::StoreError;
use crate::dynamo::{DynamoStore, SCHEDULED_KIND, attr_s, written};
use crate::records::BillingLink;

#[async_trait]
impl BillingStore for DynamoStore {
    async fn get_billing(&self, customer: &str) -> Result<Option<BillingLink>, StoreError> {
        self.get(format!("CUSTOMER#{customer}"), "META").await
    }

    async fn put_billing_unless_newer(&self, link: &BillingLink) -> Result<bool, StoreError> {
        let mut item = Self::item(format!("CUSTOMER#{}", link.customer), "META", link)?;
        if link.scheduled.is_some() {
            item.insert("kind".into(), attr_s(SCHEDULED_KIND));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR last_event_at <= :at")
            .expression_attribute_values(":at", AttributeValue::N(link.last_event_at.to_string()))
            .send()
            .await;
        written(put)
    }

    async fn list_scheduled_billing(&self) -> Result<Vec<BillingLink>, StoreError> {
        self.query_kind(SCHEDULED_KIND).await
    }
}
