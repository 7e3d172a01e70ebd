//! What the cluster runs for Berth's tenants. This first part is pure: the readiness of a
//! Deployment or StatefulSet, judged exactly as `kubectl rollout status` judges it, and mapped
//! onto Berth's health vocabulary.

pub mod list;
pub mod readiness;

pub use list::{ClusterError, ClusterObjects, ClusterReader, TENANT_LABEL, application_resource};
pub use readiness::{Health, Readiness, deployment_readiness, statefulset_readiness, worst};
