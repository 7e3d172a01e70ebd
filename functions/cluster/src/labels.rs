//! The labels every object Berth's charts render carries: how a cluster object is traced back
//! to the tenant, environment and module Git wants it for.

/// The tenant an object belongs to.
pub const TENANT_LABEL: &str = "berth.dev/tenant";
/// The tenant's environment.
pub const ENV_LABEL: &str = "berth.dev/env";
/// The module of the catalog.
pub const MODULE_LABEL: &str = "berth.dev/module";
/// The cluster an Argo CD Application targets, as Berth's ApplicationSets label it.
pub const CLUSTER_LABEL: &str = "berth.dev/cluster";
