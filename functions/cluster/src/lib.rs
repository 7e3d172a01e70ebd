//! What the cluster runs for Berth's tenants: a kube client from the usual sources
//! ([`connect`]), one paged list per kind reduced page by page ([`list`]), readiness judged
//! exactly as `kubectl rollout status` judges it ([`readiness`], pure), and the correlation with
//! Git's desired state into one status per slot ([`observe`], pure).

pub mod application;
pub mod argocd;
pub mod connect;
pub mod labels;
pub mod list;
pub mod observe;
pub mod readiness;

pub use application::Application;
pub use connect::{ClusterConnector, ClusterSource, ExplicitAuth, eks_token};
pub use list::{ClusterError, ClusterReader, TENANT_LABEL};
pub use observe::{
    ApplicationState, ClusterObjects, Part, SlotKey, SlotStatus, observe, unknown_everywhere,
};
pub use readiness::{
    Health, Readiness, deployment_readiness, overall, statefulset_readiness, worst,
};
