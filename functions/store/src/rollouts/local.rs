//! [`super::RolloutStore`] on the local file.

use async_trait::async_trait;

use super::{ClosedRollouts, PlannedTenant, RolloutRecord, RolloutStore, WavePage};
use crate::StoreError;
use crate::local::LocalStore;

/// A wave page's key in the file: the rollout, then zero-padded wave and page numbers, so
/// the pages of a wave sort together and in order.
fn page_key(rollout: &str, wave: u32, page: u32) -> String {
    format!("{rollout}#{wave:04}#{page:04}")
}

#[async_trait]
impl RolloutStore for LocalStore {
    async fn create_rollout(
        &self,
        rollout: &RolloutRecord,
        pages: &[WavePage],
    ) -> Result<bool, StoreError> {
        let (rollout, pages) = (rollout.clone(), pages.to_vec());
        self.write(move |d| {
            if d.rollouts.contains_key(&rollout.id) {
                return false;
            }
            let mut rollout = rollout;
            rollout.version = 1;
            for page in pages {
                d.wave_pages
                    .insert(page_key(&page.rollout, page.wave, page.page), page);
            }
            d.rollouts.insert(rollout.id.clone(), rollout);
            true
        })
        .await
    }

    async fn update_rollout(
        &self,
        rollout: &RolloutRecord,
        read_version: u64,
    ) -> Result<bool, StoreError> {
        let rollout = rollout.clone();
        self.write(move |d| {
            match d.rollouts.get(&rollout.id) {
                Some(stored) if stored.version == read_version => {}
                _ => return false,
            }
            let mut rollout = rollout;
            rollout.version = read_version + 1;
            d.rollouts.insert(rollout.id.clone(), rollout);
            true
        })
        .await
    }

    async fn get_rollout(&self, id: &str) -> Result<Option<RolloutRecord>, StoreError> {
        Ok(self.read(|d| d.rollouts.get(id).cloned()).await)
    }

    async fn get_wave(&self, id: &str, wave: u32) -> Result<Vec<PlannedTenant>, StoreError> {
        Ok(self
            .read(|d| {
                let prefix = format!("{id}#{wave:04}#");
                d.wave_pages
                    .range(prefix.clone()..)
                    .take_while(|(key, _)| key.starts_with(&prefix))
                    .flat_map(|(_, page)| page.tenants.clone())
                    .collect()
            })
            .await)
    }

    async fn list_open_rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        Ok(self
            .read(|d| {
                d.rollouts
                    .values()
                    .filter(|r| r.state.is_open())
                    .cloned()
                    .collect()
            })
            .await)
    }

    async fn list_closed_rollouts(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> Result<ClosedRollouts, StoreError> {
        let mut closed: Vec<RolloutRecord> = self
            .read(|d| {
                d.rollouts
                    .values()
                    .filter(|r| !r.state.is_open())
                    .filter(|r| before.is_none_or(|before| r.id.as_str() < before))
                    .cloned()
                    .collect()
            })
            .await;
        closed.sort_by(|a, b| b.id.cmp(&a.id));
        let more = closed.len() > limit;
        closed.truncate(limit);
        Ok(ClosedRollouts {
            rollouts: closed,
            more,
        })
    }
}
