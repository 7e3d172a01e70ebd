//! What the cluster runs for Berth's tenants. This first part is pure: the readiness of a
//! Deployment or StatefulSet, judged exactly as `kubectl rollout status` judges it, and mapped
//! onto Berth's health vocabulary.

pub mod connect;
pub mod list;
pub mod observe;
pub mod readiness;

pub use connect::{ClusterConnector, ClusterSource, ExplicitAuth, eks_token};
pub use list::{ClusterError, ClusterObjects, ClusterReader, TENANT_LABEL, application_resource};
pub use observe::{ApplicationState, SlotKey, SlotStatus, observe, unknown_everywhere};
pub use readiness::{
    Health, Readiness, deployment_readiness, overall, statefulset_readiness, worst,
};
