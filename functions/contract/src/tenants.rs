//! Tenants as the API shows them: the list, one tenant, its live status, and the cluster's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// A health is one of, worst first: `unhealthy`, `degraded`, `missing`, `progressing`,
// `suspended`, `unknown`, `orphaned`, `healthy`.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantSummary {
    pub name: String,
    pub tier: String,
    /// `active` or `suspended`.
    pub state: String,
    pub display_name: Option<String>,
    /// The tenant's overall health; `unknown` until the status function has seen it.
    pub health: String,
    /// The last request that changed it.
    pub last_request: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantDetail {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub tier: String,
    /// `active` or `suspended`.
    pub state: String,
    /// The request that created it.
    pub created_by: String,
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

/// `GET /v1/cluster/health`: `ok` with the cluster's version, or `error` with the reason (and
/// the error shape, on 503).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterHealthResponse {
    /// `ok` or `error`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ErrorDetail>,
}

/// `GET /healthz`: the function answers, with its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceHealth {
    pub status: String,
    pub version: String,
}
