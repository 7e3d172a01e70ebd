//! [`super::ObservationStore`] on the local file.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::ObservationStore;
use crate::StoreError;
use crate::local::{LocalStore, status_key};
use crate::records::{
    ClusterHealth, HEALTH_ITEM, Observation, ObservationKey, ObservationWrite, ObservationsWritten,
    StatusRecord, TenantHealth,
};

#[async_trait]
impl ObservationStore for LocalStore {
    async fn list_statuses(&self, tenant: &str) -> Result<Vec<StatusRecord>, StoreError> {
        let prefix = format!("{tenant}#");
        Ok(self
            .read(|d| {
                d.statuses
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .await)
    }

    async fn write_observations(
        &self,
        write: ObservationWrite<'_>,
    ) -> Result<ObservationsWritten, StoreError> {
        let (puts, removes) = (write.puts.to_vec(), write.removes.to_vec());
        let seen = write.seen.map(str::to_owned);
        self.write(move |d| {
            // One write under the lock: nobody writes between the two marks DynamoDB needs.
            let generation = ulid::Ulid::new().to_string();
            let previous = d.observation_generation.replace(generation.clone());
            for key in &removes {
                if let Some(k) = status_key(key) {
                    d.statuses.remove(&k);
                } else {
                    d.health.remove(&key.tenant);
                }
            }
            for put in &puts {
                match put {
                    Observation::Status(r) => {
                        d.statuses
                            .insert(format!("{}#{}", r.tenant, r.slot()), r.clone());
                    }
                    Observation::Health(h) => {
                        d.health.insert(h.tenant.clone(), h.clone());
                    }
                }
            }
            ObservationsWritten {
                generation,
                sole_writer: previous == seen,
            }
        })
        .await
    }

    async fn observation_generation(&self) -> Result<Option<String>, StoreError> {
        Ok(self.read(|d| d.observation_generation.clone()).await)
    }

    async fn observation_digests(&self) -> Result<BTreeMap<ObservationKey, String>, StoreError> {
        Ok(self
            .read(|d| {
                let statuses = d.statuses.values().map(|r| {
                    let put = Observation::Status(r.clone());
                    (put.key(), r.digest.clone())
                });
                let health = d.health.values().map(|h| {
                    let key = ObservationKey {
                        tenant: h.tenant.clone(),
                        item: HEALTH_ITEM.to_owned(),
                    };
                    (key, h.digest.clone())
                });
                statuses.chain(health).collect()
            })
            .await)
    }

    async fn list_tenant_health(&self) -> Result<Vec<TenantHealth>, StoreError> {
        Ok(self.read(|d| d.health.values().cloned().collect()).await)
    }

    async fn put_cluster_health(&self, health: &ClusterHealth) -> Result<(), StoreError> {
        let health = health.clone();
        self.write(move |d| d.cluster = Some(health)).await
    }

    async fn get_cluster_health(&self) -> Result<Option<ClusterHealth>, StoreError> {
        Ok(self.read(|d| d.cluster.clone()).await)
    }
}
