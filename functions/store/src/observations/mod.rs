//! What the status function observed: each part's status, each tenant's health, the cluster's health, and the generation and digests that let a sweep write only what changed.

mod dynamo;
mod local;

use async_trait::async_trait;

use crate::StoreError;
use crate::records::{
    ClusterHealth, Observation, ObservationKey, ObservationWrite, ObservationsWritten,
    StatusRecord, TenantHealth,
};

#[async_trait]
pub trait ObservationStore: Send + Sync {
    /// Writes statuses (in batches the backend allows).
    async fn put_statuses(&self, records: &[StatusRecord]) -> Result<(), StoreError> {
        let puts: Vec<Observation> = records.iter().cloned().map(Observation::Status).collect();
        let write = ObservationWrite {
            puts: &puts,
            ..ObservationWrite::default()
        };
        self.write_observations(write).await.map(drop)
    }

    /// A tenant's statuses, ordered by env and module.
    async fn list_statuses(&self, tenant: &str) -> Result<Vec<StatusRecord>, StoreError>;

    /// Writes and removes what a sweep observed, in batches of at most 25, retrying the items
    /// the backend left unprocessed. The observation generation is replaced before the first
    /// item is written and again after the last, so a reader that read it before or during
    /// this write sees it change. `write.seen` is the generation the caller read its digests at.
    async fn write_observations(
        &self,
        write: ObservationWrite<'_>,
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

    async fn put_cluster_health(&self, health: &ClusterHealth) -> Result<(), StoreError>;

    async fn get_cluster_health(&self) -> Result<Option<ClusterHealth>, StoreError>;
}
