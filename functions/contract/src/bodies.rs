//! The bodies of writes, as documented. An optional field may be left out or sent as `null`,
//! which means the same (a frontend's `undefined` and `null` both work). The server reads them
//! through `berth-core`'s parsers, which refuse unknown fields and name the field of every
//! refusal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/tenants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantBody {
    /// Lowercase letters, digits and dashes, starting with a letter.
    #[schema(example = "acme", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
    /// A tier of the catalog.
    #[schema(example = "standard", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub tier: String,
    /// Environments the tier allows.
    #[schema(example = json!(["dev"]), min_items = 1, inline, value_type = Vec<String>)]
    pub envs: Vec<String>,
    /// Modules to enable in every environment.
    #[serde(default, deserialize_with = "null_as_empty")]
    #[schema(example = json!(["postgres"]), nullable)]
    pub modules: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub owner: Option<String>,
    /// Labels a cluster must carry to take the tenant's envs, kept in `tenant.yaml`; only with
    /// a catalog that has clusters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(example = json!({"region": "eu"}))]
    pub constraints: BTreeMap<String, String>,
    /// A cluster per env, over the placement policy: admins only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(example = json!({"prod": "prod-eu"}))]
    pub clusters: BTreeMap<String, String>,
}

/// `PATCH /v1/tenants/{tenant}`: any of these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTenantBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub owner: Option<String>,
    /// `true` suspends the tenant (its workloads scale to zero, its data is kept); `false`
    /// resumes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
}

/// `PUT /v1/tenants/{tenant}/envs/{env}/modules/{module}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleChangeBody {
    /// Pins the chart version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub version: Option<String>,
    /// Values over the chart's defaults, validated against its `values.schema.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub values: Option<BTreeMap<String, serde_json::Value>>,
    /// Also enables, in one commit, the modules this one depends on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dependencies: Option<bool>,
}

/// Where a write lands: `direct` commits onto the branch, `pr` opens a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    Direct,
    Pr,
}

/// `null` read as an empty list, as the server reads it.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// `POST /v1/tenants/{tenant}/envs/{env}/move`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// The cluster of the catalog the environment moves to.
    #[schema(example = "prod-us", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub to: String,
}

/// `POST /v1/tenants/{tenant}/envs/{env}/promote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    /// The environment whose module versions and values are copied.
    #[schema(example = "staging", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub from: String,
    /// The modules to copy; every module enabled in `from` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["postgres"]))]
    pub modules: Option<Vec<String>>,
}
