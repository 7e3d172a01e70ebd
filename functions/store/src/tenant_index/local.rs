//! [`super::TenantIndexStore`] on the local file.

use async_trait::async_trait;

use super::TenantIndexStore;
use crate::StoreError;
use crate::local::LocalStore;
use crate::records::{IndexTip, TenantEntry};

#[async_trait]
impl TenantIndexStore for LocalStore {
    async fn put_tenant(&self, entry: &TenantEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.write(move |d| d.tenants.insert(entry.name.clone(), entry))
            .await
            .map(drop)
    }

    async fn get_tenant(&self, name: &str) -> Result<Option<TenantEntry>, StoreError> {
        Ok(self.read(|d| d.tenants.get(name).cloned()).await)
    }

    async fn delete_tenant(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write(move |d| d.tenants.remove(&name)).await.map(drop)
    }

    async fn list_tenants(&self) -> Result<Vec<TenantEntry>, StoreError> {
        Ok(self.read(|d| d.tenants.values().cloned().collect()).await)
    }

    async fn index_tip(&self) -> Result<Option<IndexTip>, StoreError> {
        Ok(self.read(|d| d.index_tip.clone()).await)
    }

    async fn put_index_tip(&self, tip: &IndexTip) -> Result<(), StoreError> {
        let tip = tip.clone();
        self.write(move |d| d.index_tip = Some(tip)).await
    }
}
