//! [`super::RolloutStore`] on the DynamoDB table: the state and its wave pages written in one
//! transaction, the state updated on a version condition, open rollouts in the kind index.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::{ClosedRollouts, PlannedTenant, RolloutRecord, RolloutStore, WavePage};
use crate::StoreError;
use crate::dynamo::{DynamoStore, KIND_INDEX, attr_s, build_error, unavailable, written};

/// The kind of an open rollout's item in the sparse kind index.
const OPEN_ROLLOUT_KIND: &str = "open_rollout";
/// The kind of a finished rollout's item, for the list of every rollout.
const CLOSED_ROLLOUT_KIND: &str = "closed_rollout";
/// Items in one transaction: DynamoDB's limit.
const TRANSACTION_MAX: usize = 100;

fn pk(id: &str) -> String {
    format!("ROLLOUT#{id}")
}

fn page_sk(wave: u32, page: u32) -> String {
    format!("WAVE#{wave:04}#{page:04}")
}

impl DynamoStore {
    fn rollout_item(
        rollout: &RolloutRecord,
    ) -> Result<std::collections::HashMap<String, AttributeValue>, StoreError> {
        let mut item = Self::item(pk(&rollout.id), "META", rollout)?;
        let kind = if rollout.state.is_open() {
            OPEN_ROLLOUT_KIND
        } else {
            CLOSED_ROLLOUT_KIND
        };
        item.insert("kind".into(), attr_s(kind));
        Ok(item)
    }
}

#[async_trait]
impl RolloutStore for DynamoStore {
    async fn create_rollout(
        &self,
        rollout: &RolloutRecord,
        pages: &[WavePage],
    ) -> Result<bool, StoreError> {
        if pages.len() + 1 > TRANSACTION_MAX {
            return Err(StoreError::Unavailable(format!(
                "rollout {} has {} wave pages; one transaction takes {}",
                rollout.id,
                pages.len(),
                TRANSACTION_MAX - 1
            )));
        }
        let mut first = rollout.clone();
        first.version = 1;
        let meta = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::rollout_item(&first)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_error)?;
        let mut items = vec![TransactWriteItem::builder().put(meta).build()];
        for page in pages {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::item(
                    pk(&page.rollout),
                    &page_sk(page.wave, page.page),
                    page,
                )?))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            // The transaction is cancelled as a whole when the rollout exists.
            Err(e)
                if e.as_service_error().and_then(ProvideErrorMetadata::code)
                    == Some("TransactionCanceledException") =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn update_rollout(
        &self,
        rollout: &RolloutRecord,
        read_version: u64,
    ) -> Result<bool, StoreError> {
        let mut next = rollout.clone();
        next.version = read_version + 1;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::rollout_item(&next)?))
            .condition_expression("version = :read")
            .expression_attribute_values(":read", AttributeValue::N(read_version.to_string()))
            .send()
            .await;
        written(put)
    }

    async fn get_rollout(&self, id: &str) -> Result<Option<RolloutRecord>, StoreError> {
        self.get(pk(id), "META").await
    }

    async fn get_wave(&self, id: &str, wave: u32) -> Result<Vec<PlannedTenant>, StoreError> {
        let pages: Vec<WavePage> = self
            .query_all(
                self.client
                    .query()
                    .table_name(&self.table)
                    .consistent_read(true)
                    .key_condition_expression("PK = :pk AND begins_with(SK, :wave)")
                    .expression_attribute_values(":pk", attr_s(pk(id)))
                    .expression_attribute_values(":wave", attr_s(format!("WAVE#{wave:04}#"))),
            )
            .await?;
        Ok(pages.into_iter().flat_map(|p| p.tenants).collect())
    }

    async fn list_open_rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        self.query_kind(OPEN_ROLLOUT_KIND).await
    }

    /// One Query of the kind index, backwards from `before`: the index's sort key is the
    /// item's `ROLLOUT#<ulid>` key, so its order is the ids'.
    async fn list_closed_rollouts(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> Result<ClosedRollouts, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(KIND_INDEX)
            .scan_index_forward(false)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .expression_attribute_values(":kind", attr_s(CLOSED_ROLLOUT_KIND));
        query = match before {
            Some(before) => query
                .key_condition_expression("kind = :kind AND PK < :before")
                .expression_attribute_values(":before", attr_s(pk(before))),
            None => query.key_condition_expression("kind = :kind"),
        };
        let answer = query.send().await.map_err(unavailable)?;
        // DynamoDB also stops at 1 MB of items, short of `limit`: its last key says so.
        let more = answer.last_evaluated_key.is_some();
        let rollouts = answer
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Self::record)
            .collect::<Result<_, _>>()?;
        Ok(ClosedRollouts { rollouts, more })
    }
}
