//! Tenants as the API shows them: the list, one tenant, its live status, and the cluster's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// A health is one of, worst first: `unhealthy`, `degraded`, `missing`, `progressing`,
// `suspended`, `unknown`, `orphaned`, `healthy`.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    /// In name order: the whole list, or one page of it with `limit`.
    pub tenants: Vec<TenantSummary>,
    /// Tenants matching every filter of the query (all the caller may see without one).
    #[serde(default)]
    pub total: usize,
    /// Tenants matching every filter but `health`, by health: what each health filter shows.
    #[serde(default)]
    pub counts: BTreeMap<String, usize>,
    /// The `after` of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantSummary {
    pub name: String,
    /// `unknown` when an invalid `tenant.yaml` names none that can be read.
    pub tier: String,
    /// `active`, `suspended`, or `invalid` when its files in Git fail Berth's review (a direct
    /// push can bypass it): `problems` says why, and writes are refused until it is fixed.
    pub state: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// The tenant's overall health; `unknown` until the status function has seen it.
    pub health: String,
    /// The last request that changed it (for a tenant changed only outside Berth, the one
    /// that created it, or empty).
    pub last_request: String,
    pub updated_at: String,
    /// The commit that last changed the tenant's folder, when known.
    #[serde(default)]
    pub last_change: Option<LastChangeView>,
    /// What is wrong with its files in Git; empty unless `state` is `invalid`.
    #[serde(default)]
    pub problems: Vec<TenantProblem>,
}

/// The commit that last changed a tenant's folder in Git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LastChangeView {
    pub commit: String,
    /// `Name <email>` of the commit's author; for Berth's own requests, who asked.
    pub author: String,
    /// When it was made (RFC 3339).
    pub at: String,
    /// `git` for a change made outside Berth (by hand, or by a person's pull request); `berth`
    /// for one of Berth's requests.
    pub source: String,
    /// Berth's request, when `source` is `berth`.
    #[serde(default)]
    pub request: Option<String>,
}

/// One thing wrong with a tenant's files in Git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantProblem {
    pub file: String,
    /// Dotted path inside the file; empty for the file as a whole.
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantDetail {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub tier: String,
    /// `active`, `suspended`, or `invalid` (see `problems`).
    pub state: String,
    /// The request that created it.
    pub created_by: String,
    /// The commit that last changed the tenant's folder, as the index knows it.
    #[serde(default)]
    pub last_change: Option<LastChangeView>,
    /// What is wrong with its files in Git, when `state` is `invalid`.
    #[serde(default)]
    pub problems: Vec<TenantProblem>,
    /// The commit it was read at.
    pub revision: String,
    pub envs: BTreeMap<String, EnvDetail>,
    pub health: String,
    pub statuses: Vec<ModuleStatus>,
    /// Where the tenant is reachable, from its Ingresses.
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnvDetail {
    /// `<tenant>-<env>`.
    pub namespace: String,
    pub modules: BTreeMap<String, ModuleDetail>,
    /// The cluster it runs on, when the catalog has clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The cluster a move under way is taking it to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModuleDetail {
    /// The chart version pinned, when one is.
    pub version: Option<String>,
    /// The values set for this tenant over the chart's defaults.
    #[schema(value_type = Object)]
    pub values: serde_json::Value,
}

/// One part of a tenant as the status function last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModuleStatus {
    pub env: String,
    /// `null` for the tenant-env's base.
    pub module: Option<String>,
    pub health: String,
    /// Argo CD's sync status.
    pub sync: Option<String>,
    /// The revision Argo CD synced.
    pub revision: Option<String>,
    pub ready: u32,
    pub desired: u32,
    #[serde(default)]
    pub urls: Vec<String>,
    /// Why the health is what it is.
    pub reason: Option<String>,
    pub observed_at: String,
}

/// `GET /v1/tenants/{tenant}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantStatusResponse {
    pub tenant: String,
    pub health: String,
    pub statuses: Vec<ModuleStatus>,
}

/// `GET /v1/cluster/health`: `ok` with the cluster's version, `not_configured` with the reason,
/// or `error` with the reason (and the error shape, on 503).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterHealthResponse {
    /// `ok`, `not_configured` or `error`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<String>,
    /// The catalog's clusters the last sweep could not read (`status` is then `degraded`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ErrorDetail>,
}

/// `GET /v1/clusters`: each cluster of the catalog as the last sweep read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterList {
    pub clusters: Vec<ClusterView>,
    /// When the status function last recorded the clusters.
    pub observed_at: String,
}

/// One cluster: the catalog's facts, what Git places on it, and whether it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterView {
    #[schema(example = "prod-eu")]
    pub name: String,
    /// It answered the last sweep.
    pub reachable: bool,
    /// The API server's version, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub environments: Vec<String>,
    #[serde(default)]
    #[schema(example = json!({"region": "eu"}))]
    pub labels: BTreeMap<String, String>,
    /// The most tenant-envs it takes.
    pub capacity: u32,
    /// The tenant-envs Git places on it (a move counts on both of its clusters).
    pub placed: u32,
}

/// `GET /healthz`: the function answers, with its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceHealth {
    pub status: String,
    pub version: String,
}
