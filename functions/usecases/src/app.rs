//! What every use-case works with: the Git committer, the store, and the optional parts.

use std::sync::Arc;
use std::time::Duration;

use berth_charts::ChartLibrary;
use berth_gitops::{Committer, GithubPulls};
use berth_store::Store;

use crate::write::group_commit::GroupCommit;

/// The committer, the store, and what follows a change. Cheap to clone; built once per process
/// and reused by warm invocations.
#[derive(Clone)]
pub struct App {
    pub committer: Arc<dyn Committer>,
    pub store: Arc<dyn Store>,
    /// Told of every Argo CD notification once it is recorded, so request lifecycles move
    /// now rather than at the next scheduled sweep.
    pub status_refresh: Option<Arc<dyn StatusRefresh>>,
    /// Opens and follows pull requests for pull-request mode when a GitHub credential is
    /// configured; without one, pull-request mode stops at the pushed branch.
    pub pulls: Option<Arc<GithubPulls>>,
    /// Direct-mode requests wait for a group commit; `None` commits each on its own.
    pub group_commit: Option<GroupCommit>,
    /// How long the store keeps a settled request's record (the store is told the same):
    /// lookups of older ids go to Git.
    pub request_retention: Duration,
    /// Upstream charts read so far, for modules whose chart is in a Helm repository or an
    /// OCI registry.
    pub charts: Arc<ChartLibrary>,
    /// Where the function's metrics go (EMF lines on Lambda; none locally unless asked).
    pub metrics: crate::metrics::Metrics,
}

impl App {
    pub fn new(committer: Arc<dyn Committer>, store: Arc<dyn Store>) -> Self {
        Self {
            committer,
            store,
            status_refresh: None,
            pulls: None,
            group_commit: Some(GroupCommit::default()),
            request_retention: berth_store::DEFAULT_REQUEST_RETENTION,
            charts: Arc::new(ChartLibrary::default()),
            metrics: crate::metrics::Metrics::off(),
        }
    }
}

/// What follows an Argo CD notification: `berth dev` wakes its sweeper; the webhook Lambda
/// moves the tenant's requests from the statuses in the store.
#[async_trait::async_trait]
pub trait StatusRefresh: Send + Sync {
    /// Called after `tenant`'s status was recorded; failures are the implementation's to log.
    async fn refresh(&self, tenant: &str);
}

/// Where a request's change lands: on the branch, or on a branch of its own for a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Direct,
    Pr,
}

impl Mode {
    /// `direct` or `pr`; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "direct" => Some(Self::Direct),
            "pr" => Some(Self::Pr),
            _ => None,
        }
    }
}
