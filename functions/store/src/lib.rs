//! The status store (the README's "What the store holds"): request records, the tenant index, idempotency claims and
//! statuses, behind one [`Store`] trait with two backends: DynamoDB ([`DynamoStore`]) and an
//! embedded file for local mode ([`LocalStore`]).

pub mod aws_env;
mod billing;
mod dynamo;
mod group_commit;
mod layout;
mod local;
mod observations;
mod records;
mod requests;
mod rollouts;
mod tenant_index;

pub use aws_env::AwsEnv;
pub use billing::BillingStore;
pub use dynamo::{DynamoStore, create_table, create_table_without_ttl, dynamodb_client};
pub use group_commit::GroupCommitStore;
pub use layout::StoreLayout;
pub use local::LocalStore;
pub use observations::ObservationStore;
pub use records::{
    ArgoSetup, BatchRecords, BillingLink, Claim, ClusterHealth, CommitLease, ErrorBody,
    HEALTH_ITEM, IdempotencyRecord, IndexProblem, IndexTip, LastChange, LeaseTaken, MemberHealth,
    Observation, ObservationKey, ObservationWrite, ObservationsWritten, Registration,
    RequestRecord, RequestState, ScheduledChange, StatusRecord, StoredResponse, TenantEntry,
    TenantHealth,
};
pub use requests::RequestStore;
pub use rollouts::{
    ClosedRollouts, CommitClaim, CommittedWave, PlannedTenant, RevertedWave, RolloutRecord,
    RolloutState, RolloutStore, TenantNote, WAVE_PAGE, WavePage, WavePull, wave_pages,
};
pub use tenant_index::TenantIndexStore;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the call; a retry may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// DynamoDB could not be reached or refused the call; a retry may succeed. The SDK's error
    /// is kept as the source (it carries no credential: requests are signed, never echoed).
    #[error("store unavailable: {message}")]
    Backend {
        message: String,
        #[source]
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
    /// A stored item could not be read back.
    #[error("store item {key} is malformed: {reason}")]
    Malformed { key: String, reason: String },
}

/// The records Berth keeps about requests, tenants and statuses.
/// Every record family in one handle, for the composition roots; a use-case that needs one
/// family names its trait.
pub trait Store:
    RequestStore
    + GroupCommitStore
    + TenantIndexStore
    + ObservationStore
    + BillingStore
    + RolloutStore
    + StoreLayout
{
}

impl<T> Store for T where
    T: RequestStore
        + GroupCommitStore
        + TenantIndexStore
        + ObservationStore
        + BillingStore
        + RolloutStore
        + StoreLayout
{
}

/// Every family's trait, for code that calls a backend's methods on its concrete type (tests,
/// tools): `use berth_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        BillingStore, GroupCommitStore, ObservationStore, RequestStore, RolloutStore, Store,
        StoreLayout, TenantIndexStore,
    };
}

/// How long a settled request's record is kept (`BERTH_REQUEST_RETENTION`'s default); Git
/// keeps the request in its commit's trailers for good.
pub const DEFAULT_REQUEST_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(30 * 24 * 60 * 60);

/// Seconds since the Unix epoch, for expiry checks.
pub(crate) fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
