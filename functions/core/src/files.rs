//! The files Berth writes under `tenants/<tenant>/`, and their deterministic rendering: struct
//! fields in declaration order, maps sorted by key, no timestamps. The same desired state
//! always gives the same bytes, so a repeated request leaves the tree unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::catalog::{PodSecurity, Quotas};
use crate::error::PlanError;
use crate::names::{ClusterName, EnvName, ModuleName, TenantName, TierName};
use crate::upstream::{ChartPin, ChartRef};

/// The first line of every file Berth writes.
pub const HEADER: &str =
    "# Written by Berth. Change it through Berth's API or a pull request that Berth validates.\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantState {
    Active,
    Suspended,
}

impl TenantState {
    /// `active` or `suspended`, as the files, the index and the API say it.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantState::Active => "active",
            TenantState::Suspended => "suspended",
        }
    }
}

/// `tenants/<tenant>/tenant.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    pub name: TenantName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub tier: TierName,
    pub state: TenantState,
    /// The id of the request that created the tenant.
    pub created_by: String,
    /// The billing system's customer id, when a subscription created the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Labels a cluster must carry to take this tenant's envs (`region: eu`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constraints: BTreeMap<String, String>,
    /// Fleet rollouts take this tenant first, in the canary wave.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub canary: bool,
    /// Fleet rollouts skip this tenant (and list it as held) until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<UtcInstant>,
}

impl TenantSpec {
    /// When the tenant's hold ends, while it is still ahead of `now` (UTC,
    /// `YYYY-MM-DDTHH:MM:SSZ`): fleet rollouts skip the tenant until then.
    pub fn held_until(&self, now: &str) -> Option<String> {
        self.hold_until
            .as_ref()
            .map(UtcInstant::normalized)
            .filter(|until| until.as_str() > now)
    }
}

/// An instant in UTC as a person writes it in a file: `2026-12-24` (midnight UTC) or
/// `2026-12-24T08:00:00Z`. Compared through [`UtcInstant::normalized`], which orders as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UtcInstant(String);

impl UtcInstant {
    pub fn parse(text: &str) -> Result<Self, String> {
        let shape = |t: &str, pattern: &str| {
            t.len() == pattern.len()
                && t.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
                    b'9' => c.is_ascii_digit(),
                    _ => c == p,
                })
        };
        if shape(text, "9999-99-99") || shape(text, "9999-99-99T99:99:99Z") {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a UTC instant like 2026-12-24 or 2026-12-24T08:00:00Z"
            ))
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`: what RFC 3339 timestamps in UTC compare against as text.
    pub fn normalized(&self) -> String {
        if self.0.len() == 10 {
            format!("{}T00:00:00Z", self.0)
        } else {
            self.0.clone()
        }
    }
}

impl TryFrom<String> for UtcInstant {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<UtcInstant> for String {
    fn from(instant: UtcInstant) -> String {
        instant.0
    }
}

/// Where a tenant-env runs, decided once when it is created and kept in Git: the ApplicationSets
/// target `cluster`, and also `moving_to` while a move is under way (make before break).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    pub cluster: ClusterName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_to: Option<ClusterName>,
}

impl Placement {
    pub fn on(cluster: ClusterName) -> Self {
        Self {
            cluster,
            moving_to: None,
        }
    }

    /// The clusters the tenant-env runs on: one, or two during a move.
    pub fn clusters(&self) -> impl Iterator<Item = &ClusterName> {
        std::iter::once(&self.cluster).chain(self.moving_to.as_ref())
    }
}

/// The `tenant:` block every values file carries, read by the charts for names and labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRef {
    pub name: TenantName,
    pub tier: TierName,
    pub env: EnvName,
}

/// `tenants/<tenant>/<env>/base.yaml`: values for `charts/tenant`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseValues {
    pub tenant: TenantRef,
    pub suspended: bool,
    pub quota: Quotas,
    pub pod_security: PodSecurity,
    /// Absent when the catalog has no clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleRef {
    pub name: ModuleName,
    /// An in-repository module's version value, as its chart reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// An upstream module's chart: its repository, name, exact version and the digest of the
    /// archive Berth validated against. The modules' ApplicationSet renders this chart at
    /// this version; absent, it renders `charts/modules/<module>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_digest: Option<String>,
}

impl ModuleRef {
    /// A module file's reference with no version and no chart pin.
    pub fn named(name: ModuleName) -> Self {
        Self {
            name,
            version: None,
            chart_repo: None,
            chart: None,
            chart_version: None,
            chart_digest: None,
        }
    }

    /// The upstream chart this file pins, when it pins all of it.
    pub fn pin(&self) -> Option<ChartPin> {
        Some(ChartPin {
            chart: ChartRef {
                repo: self.chart_repo.clone()?,
                name: self.chart.clone()?,
            },
            version: self.chart_version.clone()?,
            digest: self.chart_digest.clone()?,
        })
    }

    pub fn set_pin(&mut self, pin: Option<ChartPin>) {
        let (repo, chart, version, digest) = match pin {
            Some(p) => (
                Some(p.chart.repo),
                Some(p.chart.name),
                Some(p.version),
                Some(p.digest),
            ),
            None => (None, None, None, None),
        };
        self.chart_repo = repo;
        self.chart = chart;
        self.chart_version = version;
        self.chart_digest = digest;
    }

    /// The version a summary names: the chart's for an upstream module.
    pub fn shown_version(&self) -> Option<&str> {
        self.chart_version.as_deref().or(self.version.as_deref())
    }
}

/// `tenants/<tenant>/<env>/modules/<module>.yaml`: values for `charts/modules/<module>`. The
/// caller's overrides sit at the top level beside Berth's own keys, as the chart reads them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleValues {
    pub tenant: TenantRef,
    pub module: ModuleRef,
    pub suspended: bool,
    /// The env's placement, copied from its `base.yaml`: the modules' ApplicationSet reads it
    /// from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(flatten)]
    pub overrides: Map<String, Value>,
}

/// Keys of a module values file that belong to Berth, so an override may not set them.
pub const RESERVED_VALUE_KEYS: &[&str] = &["tenant", "module", "suspended", "placement"];

/// Renders a file: the header, then the YAML.
pub fn render<T: Serialize>(path: &str, value: &T) -> Result<Vec<u8>, PlanError> {
    let yaml = serde_yaml_ng::to_string(value).map_err(|e| PlanError::Repository {
        path: path.to_owned(),
        reason: format!("cannot render: {e}"),
    })?;
    Ok(format!("{HEADER}{yaml}").into_bytes())
}

/// Parses a file Berth wrote (or a person edited), naming the path when it is not valid.
pub fn parse<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T, PlanError> {
    serde_yaml_ng::from_slice(bytes).map_err(|e| PlanError::Repository {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_values() -> ModuleValues {
        let mut overrides = Map::new();
        overrides.insert("zeta".into(), Value::from(1));
        overrides.insert("alpha".into(), serde_json::json!({"b": 2, "a": [1, "x"]}));
        ModuleValues {
            tenant: TenantRef {
                name: TenantName::parse("n", "acme").unwrap(),
                tier: TierName::parse("t", "standard").unwrap(),
                env: EnvName::parse("e", "dev").unwrap(),
            },
            module: ModuleRef {
                version: Some("1.4.2".into()),
                ..ModuleRef::named(ModuleName::parse("m", "postgres").unwrap())
            },
            suspended: false,
            placement: None,
            overrides,
        }
    }

    #[test]
    fn renders_berth_keys_first_then_sorted_overrides() {
        let text = String::from_utf8(render("p", &module_values()).unwrap()).unwrap();
        let expected = format!(
            "{HEADER}tenant:\n  name: acme\n  tier: standard\n  env: dev\nmodule:\n  name: postgres\n  version: 1.4.2\nsuspended: false\nalpha:\n  a:\n  - 1\n  - x\n  b: 2\nzeta: 1\n"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn parse_reads_back_what_render_wrote() {
        let v = module_values();
        let bytes = render("p", &v).unwrap();
        assert_eq!(parse::<ModuleValues>("p", &bytes).unwrap(), v);
    }

    #[test]
    fn parse_names_the_path_of_a_bad_file() {
        let err = parse::<TenantSpec>("tenants/acme/tenant.yaml", b"name: acme\ncolour: red\n")
            .unwrap_err();
        assert!(
            err.to_string().starts_with("tenants/acme/tenant.yaml: "),
            "{err}"
        );
    }
}
