//! `GET /v1/catalog`: what tenants can be made of.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogResponse {
    /// The commit the catalog was read at.
    pub revision: String,
    pub catalog: Catalog,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Catalog {
    pub environments: Vec<Environment>,
    /// From the lowest tier to the highest.
    pub tiers: Vec<Tier>,
    pub modules: Vec<Module>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
    /// Where tenant-envs run; empty when they run where Argo CD does. How the status function
    /// reaches each is not shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<CatalogCluster>,
}

/// A cluster of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogCluster {
    #[schema(example = "prod-eu")]
    pub name: String,
    pub environments: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(example = json!({"region": "eu"}))]
    pub labels: BTreeMap<String, String>,
    /// The most tenant-envs it takes.
    pub capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tier {
    pub name: String,
    /// The environments a tenant of this tier may have.
    pub environments: Vec<String>,
    #[serde(default)]
    pub quotas: Option<Quotas>,
    /// Enforced on the tier's namespaces; `restricted` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security: Option<PodSecurity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurity {
    Privileged,
    Baseline,
    Restricted,
}

/// A tenant-env's ResourceQuota, in Kubernetes quantity syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quotas {
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Module {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Modules that must be enabled in the same environment first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The lowest tier that may enable it; every tier when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tier: Option<String>,
    /// It keeps data a move between clusters does not carry: moving it takes `confirm`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stateful: bool,
    /// An upstream chart (a Helm repository or an OCI registry); absent for a chart kept in
    /// the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ModuleChart>,
}

/// A module's upstream chart, and what its repository says now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModuleChart {
    /// `https://…` (a Helm repository) or `oci://…` (a registry path).
    pub repo: String,
    pub name: String,
    /// The versions tenants may run, in Helm's range syntax.
    pub versions: String,
    /// The version a request that names none gets.
    pub default: String,
    /// A schema kept in the repository, for a chart that ships none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The newest published version within `versions`; absent when the repository could
    /// not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_in_range: Option<String>,
    /// How tenants' values are checked: `chart_schema`, `repository_schema`, or
    /// `top_level_keys` (the chart ships no schema: only its values.yaml's top-level keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_check: Option<String>,
    /// Why the repository could not be read just now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Billing {
    /// Billing price id to tier.
    #[serde(default)]
    pub prices: BTreeMap<String, String>,
    pub grace_period_days: u32,
    pub retention_days: u32,
}
