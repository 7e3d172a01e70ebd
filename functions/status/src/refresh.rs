//! What follows an Argo CD notification ([`StatusRefresh`]): in `berth dev`, a sweep at once;
//! in the webhook Lambda, which cannot reach the cluster, the tenant's requests moved from the
//! statuses in the store (the notification's own included).

use std::sync::Arc;

use berth_usecases::StatusRefresh;
use tokio::sync::Notify;

use crate::Sweeper;

/// Wakes a sweeper loop that waits on the same [`Notify`].
pub struct WakeSweeper(pub Arc<Notify>);

#[async_trait::async_trait]
impl StatusRefresh for WakeSweeper {
    async fn refresh(&self, _tenant: &str) {
        self.0.notify_one();
    }
}

/// Moves the tenant's requests from the store, before the webhook answers (a Lambda is frozen
/// once it has answered).
pub struct AdvanceFromStore(pub Sweeper);

#[async_trait::async_trait]
impl StatusRefresh for AdvanceFromStore {
    async fn refresh(&self, tenant: &str) {
        match self.0.advance_tenant(tenant).await {
            Ok(0) => {}
            Ok(moved) => {
                tracing::info!(%tenant, moved, "requests moved on an Argo CD notification")
            }
            // The scheduled sweep moves them later; the notification itself is recorded.
            Err(e) => tracing::warn!(%tenant, error = %e, "could not move requests now"),
        }
    }
}
