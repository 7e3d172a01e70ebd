//! Billing customers linked to tenants, and the changes their events scheduled.

mod dynamo;
mod local;

use async_trait::async_trait;

use crate::StoreError;
use crate::records::BillingLink;

#[async_trait]
pub trait BillingStore: Send + Sync {
    async fn get_billing(&self, customer: &str) -> Result<Option<BillingLink>, StoreError>;

    /// Writes `link` unless the stored one has applied a newer event (`last_event_at` greater
    /// than `link`'s); returns whether it was written.
    async fn put_billing_unless_newer(&self, link: &BillingLink) -> Result<bool, StoreError>;

    /// Billing links with a scheduled change, due or not.
    async fn list_scheduled_billing(&self) -> Result<Vec<BillingLink>, StoreError>;
}
