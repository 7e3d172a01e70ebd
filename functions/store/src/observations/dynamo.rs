//! [`super::ObservationStore`] on the DynamoDB table.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use super::ObservationStore;
use crate::StoreError;
use crate::dynamo::{
    BATCH_LIMIT, BATCHES_IN_FLIGHT, DIGEST_SHARDS, DynamoStore, GENERATION_PK, GENERATION_SK,
    HEALTH_KIND, Item, Pending, attr_s,
};
use crate::records::{
    ClusterHealth, HEALTH_ITEM, ObservationKey, ObservationWrite, ObservationsWritten,
    StatusRecord, TenantHealth,
};

#[async_trait]
impl ObservationStore for DynamoStore {
    async fn list_statuses(&self, tenant: &str) -> Result<Vec<StatusRecord>, StoreError> {
        self.query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :status)")
                .expression_attribute_values(":pk", attr_s(format!("TENANT#{tenant}")))
                .expression_attribute_values(":status", attr_s("STATUS#")),
        )
        .await
    }

    async fn write_observations(
        &self,
        write: ObservationWrite<'_>,
    ) -> Result<ObservationsWritten, StoreError> {
        // Marked before the first item changes, so a warm sweeper stops trusting its digests
        // even if this write dies half way; marked again after the last, so one that read the
        // digests while they were changing reads them again.
        let during = ulid::Ulid::new().to_string();
        let followed_seen = self.open_generation(&during, write.seen).await?;
        // Items are built chunk by chunk as the chunks go out, so a sweep of thousands of
        // changes never holds them all at once.
        let pending: Vec<Pending<'_>> = write
            .removes
            .iter()
            .map(Pending::Remove)
            .chain(write.puts.iter().map(Pending::Put))
            .collect();
        // By index, not by slice: a closure over borrowed slices trips async-trait's lifetimes.
        let sends = (0..pending.len()).step_by(BATCH_LIMIT).map(|start| {
            let end = (start + BATCH_LIMIT).min(pending.len());
            let requests = pending[start..end]
                .iter()
                .map(Pending::write_request)
                .collect::<Result<Vec<_>, _>>();
            async move { self.write_chunk(requests?).await }
        });
        futures::stream::iter(sends)
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<()>()
            .await?;
        let generation = ulid::Ulid::new().to_string();
        let still_ours = self.close_generation(&generation, &during).await?;
        Ok(ObservationsWritten {
            generation,
            sole_writer: followed_seen && still_ours,
        })
    }

    async fn observation_generation(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .get_item(GENERATION_PK.into(), GENERATION_SK)
            .await?
            .and_then(|mut item| item.remove("generation"))
            .and_then(|v| v.as_s().ok().cloned()))
    }

    async fn observation_digests(&self) -> Result<BTreeMap<ObservationKey, String>, StoreError> {
        // The index is eventually consistent: a write finished a moment ago may not show yet.
        // The worst that does is one rewrite of an item that already held the observation.
        let shards =
            futures::stream::iter((0..DIGEST_SHARDS).map(|shard| self.shard_digests(shard)))
                .buffer_unordered(BATCHES_IN_FLIGHT)
                .try_collect::<Vec<_>>()
                .await?;
        let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Ok(shards
            .iter()
            .flatten()
            .filter_map(|item| {
                let tenant = text(item, "PK")?.strip_prefix("TENANT#")?.to_owned();
                let key = ObservationKey {
                    tenant,
                    item: text(item, "SK")?,
                };
                Some((key, text(item, "digest")?))
            })
            .collect())
    }

    async fn list_tenant_health(&self) -> Result<Vec<TenantHealth>, StoreError> {
        self.query_kind(HEALTH_KIND).await
    }

    async fn put_cluster_health(&self, health: &ClusterHealth) -> Result<(), StoreError> {
        self.put(Self::item("CLUSTER".into(), HEALTH_ITEM, health)?)
            .await
    }

    async fn get_cluster_health(&self) -> Result<Option<ClusterHealth>, StoreError> {
        self.get("CLUSTER".into(), HEALTH_ITEM).await
    }
}
