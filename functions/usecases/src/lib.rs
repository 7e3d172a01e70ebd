//! Berth's application logic: what a request, an event or a due schedule does, whichever edge
//! it came through. The edges (`berth-http` for the API and the webhooks, `berth-status` for
//! the sweep) parse and authenticate, then call in here; this crate plans with `berth-core`,
//! commits with `berth-gitops` and records with `berth-store`, and answers with typed values
//! the edges turn into their own shapes. It knows nothing of HTTP.

pub mod app;
pub mod chart_facts;
pub mod doctor;
pub mod error;
pub mod fingerprint;
pub mod git_index;
pub mod history;
pub mod intake;
pub mod lookup;
pub mod metrics;
pub mod moves;
pub mod plan_charts;
pub mod preview;
pub mod pull_request;
pub mod read;
pub mod revert;
pub mod rollouts;
pub mod schedules;
pub mod settings;
pub mod telemetry;
pub mod tenant_page;
pub mod time;
pub mod visibility;
pub mod write;

pub use app::{App, Mode, StatusRefresh};
pub use error::{ErrorKind, UseCaseError};
pub use visibility::Visibility;

/// The records the use-cases answer with, for the edges to map onto their own shapes.
pub mod records {
    pub use berth_store::{
        ClusterHealth, CommittedWave, ErrorBody, IndexProblem, LastChange, MemberHealth,
        PlannedTenant, RequestRecord, RequestState, RevertedWave, RolloutRecord, RolloutState,
        StatusRecord, StoredResponse, TenantEntry, TenantNote,
    };
}

/// What a composition root builds an [`App`] from: the committer, the store, GitHub's client
/// for pull requests, and GitHub's credential.
pub mod ports {
    pub use berth_gitops::{Committer, GithubCredential, GithubPulls};
    pub use berth_store::Store;
}
