//! [`super::BillingStore`] on the local file.

use async_trait::async_trait;

use super::BillingStore;
use crate::StoreError;
use crate::local::LocalStore;
use crate::records::BillingLink;

#[async_trait]
impl BillingStore for LocalStore {
    async fn get_billing(&self, customer: &str) -> Result<Option<BillingLink>, StoreError> {
        Ok(self.read(|d| d.billing.get(customer).cloned()).await)
    }

    async fn put_billing_unless_newer(&self, link: &BillingLink) -> Result<bool, StoreError> {
        let link = link.clone();
        self.write(move |d| {
            if d.billing
                .get(&link.customer)
                .is_some_and(|old| old.last_event_at > link.last_event_at)
            {
                return false;
            }
            d.billing.insert(link.customer.clone(), link);
            true
        })
        .await
    }

    async fn list_scheduled_billing(&self) -> Result<Vec<BillingLink>, StoreError> {
        Ok(self
            .read(|d| {
                d.billing
                    .values()
                    .filter(|b| b.scheduled.is_some())
                    .cloned()
                    .collect()
            })
            .await)
    }
}
