//! The tenant index (one entry per tenant, rebuilt from Git by the sweep) and the branch tip it was last brought in line with.

mod dynamo;
mod local;

use async_trait::async_trait;

use crate::StoreError;
use crate::records::{IndexTip, TenantEntry};

#[async_trait]
pub trait TenantIndexStore: Send + Sync {
    /// Creates or replaces a tenant's index entry.
    async fn put_tenant(&self, entry: &TenantEntry) -> Result<(), StoreError>;

    async fn get_tenant(&self, name: &str) -> Result<Option<TenantEntry>, StoreError>;

    async fn delete_tenant(&self, name: &str) -> Result<(), StoreError>;

    /// Every tenant, ordered by name.
    async fn list_tenants(&self) -> Result<Vec<TenantEntry>, StoreError>;

    /// The branch tip the tenant index was last brought fully in line with Git at, if any.
    async fn index_tip(&self) -> Result<Option<IndexTip>, StoreError>;

    async fn put_index_tip(&self, tip: &IndexTip) -> Result<(), StoreError>;
}
