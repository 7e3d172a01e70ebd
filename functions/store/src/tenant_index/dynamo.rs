//! [`super::TenantIndexStore`] on the DynamoDB table.

use async_trait::async_trait;

use super::TenantIndexStore;
use crate::StoreError;
use crate::dynamo::{DynamoStore, TENANT_KIND};
use crate::records::{IndexTip, TenantEntry};

#[async_trait]
impl TenantIndexStore for DynamoStore {
    async fn put_tenant(&self, entry: &TenantEntry) -> Result<(), StoreError> {
        self.put(Self::tenant_item(entry)?).await
    }

    async fn get_tenant(&self, name: &str) -> Result<Option<TenantEntry>, StoreError> {
        self.get(format!("TENANT#{name}"), "META").await
    }

    async fn delete_tenant(&self, name: &str) -> Result<(), StoreError> {
        self.delete(format!("TENANT#{name}"), "META").await
    }

    async fn list_tenants(&self) -> Result<Vec<TenantEntry>, StoreError> {
        self.query_kind(TENANT_KIND).await
    }

    async fn index_tip(&self) -> Result<Option<IndexTip>, StoreError> {
        self.get("INDEX".into(), "GIT").await
    }

    async fn put_index_tip(&self, tip: &IndexTip) -> Result<(), StoreError> {
        self.put(Self::item("INDEX".into(), "GIT", tip)?).await
    }
}
