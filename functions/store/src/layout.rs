//! Whether the store is laid out as Berth needs: for DynamoDB, the table active with its
//! indexes `by_kind` and `by_digest` (what `berth doctor` checks before the first request).

use async_trait::async_trait;

use crate::dynamo::{DIGEST_INDEX, KIND_INDEX, unavailable};
use crate::{DynamoStore, LocalStore, StoreError};

#[async_trait]
pub trait StoreLayout: Send + Sync {
    /// What is missing or wrong, one line each; empty when the store is ready. `Err` when the
    /// store could not be asked.
    async fn layout_problems(&self) -> Result<Vec<String>, StoreError>;
}

#[async_trait]
impl StoreLayout for DynamoStore {
    async fn layout_problems(&self) -> Result<Vec<String>, StoreError> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(table) = described.table else {
            return Ok(vec![format!("table {} is not described", self.table)]);
        };
        let mut problems = Vec::new();
        let status = table.table_status.as_ref().map(|s| s.as_str().to_owned());
        if status.as_deref() != Some("ACTIVE") {
            problems.push(format!(
                "table {} is {}",
                self.table,
                status.unwrap_or_else(|| "of no status".into())
            ));
        }
        let indexes: Vec<String> = table
            .global_secondary_indexes
            .unwrap_or_default()
            .into_iter()
            .filter_map(|index| index.index_name)
            .collect();
        for needed in [KIND_INDEX, DIGEST_INDEX] {
            if !indexes.iter().any(|name| name == needed) {
                problems.push(format!("table {} has no index {needed}", self.table));
            }
        }
        Ok(problems)
    }
}

#[async_trait]
impl StoreLayout for LocalStore {
    async fn layout_problems(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}
