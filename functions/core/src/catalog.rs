//! `tenants/catalog.yaml`: the modules, tiers and environments a repository offers, and the
//! rules between them. Loaded from the repository at the tip a request is planned against.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use crate::clusters::{Cluster, ClusterAccess, EksAccess};
use crate::error::FieldError;
use crate::names::{ClusterName, DNS_LABEL_MAX, EnvName, ModuleName, TenantName, TierName};

/// Where the catalog lives in a GitOps repository.
pub const CATALOG_PATH: &str = "tenants/catalog.yaml";

pub use crate::error::CatalogError;
pub use crate::upstream::UpstreamChart;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub environments: Vec<Environment>,
    /// Ordered from the lowest tier to the highest: "from a tier up" follows this order.
    pub tiers: Vec<Tier>,
    pub modules: Vec<Module>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
    /// Where tenant-envs run; none means the one cluster Argo CD runs in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<Cluster>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub name: EnvName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub name: TierName,
    /// The environments a tenant of this tier may have.
    pub environments: Vec<EnvName>,
    /// Required: a tier without quotas is refused when the catalog is loaded.
    #[serde(default)]
    pub quotas: Option<Quotas>,
    /// The Pod Security Standard enforced on the tier's namespaces; `restricted` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security: Option<PodSecurity>,
}

/// Pod Security admission levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurity {
    Privileged,
    Baseline,
    Restricted,
}

/// A tenant-env's ResourceQuota, in Kubernetes quantity syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    pub name: ModuleName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Modules that must be enabled in the same environment first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ModuleName>,
    /// The lowest tier that may enable this module; every tier when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tier: Option<TierName>,
    /// Keeps data a move between clusters does not carry (a database, a secret store): moving
    /// a tenant-env that has it takes the tenant's confirmation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stateful: bool,
    /// An upstream chart (a Helm repository or an OCI registry); absent, the module is the
    /// chart in `charts/modules/<module>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<UpstreamChart>,
    /// An in-repo module's default version: what an enable that names none writes as
    /// `module.version` (an upstream chart's default is `chart.default`). A rollout with
    /// `then_set_default` moves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Module {
    /// The version a new enable gets when the request names none.
    pub fn default_version(&self) -> Option<&str> {
        match &self.chart {
            Some(chart) => Some(chart.default.as_str()),
            None => self.version.as_deref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Billing {
    /// Billing price id → tier.
    #[serde(default)]
    pub prices: BTreeMap<String, TierName>,
    /// Days a tenant keeps running after a failed payment before it is suspended.
    pub grace_period_days: u32,
    /// Days a cancelled tenant's data is kept (suspended) before it is deleted.
    pub retention_days: u32,
}

impl Catalog {
    /// Parses and checks a catalog.
    pub fn from_yaml(bytes: &[u8]) -> Result<Self, CatalogError> {
        let catalog: Catalog =
            serde_yaml_ng::from_slice(bytes).map_err(|e| CatalogError::Syntax(e.to_string()))?;
        catalog.check()?;
        Ok(catalog)
    }

    /// The catalog's own consistency rules.
    pub fn check(&self) -> Result<(), CatalogError> {
        let rule = |m: String| Err(CatalogError::Rule(m));
        if self.environments.is_empty() || self.tiers.is_empty() {
            return rule("a catalog needs at least one environment and one tier".into());
        }
        check_unique(
            "environments",
            self.environments.iter().map(|e| e.name.as_str()),
        )?;
        check_unique("tiers", self.tiers.iter().map(|t| t.name.as_str()))?;
        check_unique("modules", self.modules.iter().map(|m| m.name.as_str()))?;
        for tier in &self.tiers {
            if tier.quotas.is_none() {
                return rule(format!("tier {}: quotas are required", tier.name));
            }
            if tier.environments.is_empty() {
                return rule(format!(
                    "tier {}: needs at least one environment",
                    tier.name
                ));
            }
            for env in &tier.environments {
                if self.environment(env).is_none() {
                    return rule(format!("tier {}: unknown environment {env}", tier.name));
                }
            }
        }
        for module in &self.modules {
            for dep in &module.depends_on {
                if self.module(dep).is_none() {
                    return rule(format!(
                        "module {}: depends on unknown module {dep}",
                        module.name
                    ));
                }
            }
            if let Some(min) = &module.min_tier
                && self.tier(min).is_none()
            {
                return rule(format!("module {}: unknown min_tier {min}", module.name));
            }
            if let Some(chart) = &module.chart {
                chart.check(&module.name).map_err(CatalogError::Rule)?;
                if module.version.is_some() {
                    return rule(format!(
                        "module {}: version is for in-repo charts; an upstream chart's default is chart.default",
                        module.name
                    ));
                }
            }
            if module
                .version
                .as_deref()
                .is_some_and(|v| v.trim().is_empty())
            {
                return rule(format!("module {}: version must not be empty", module.name));
            }
        }
        self.check_acyclic()?;
        crate::clusters::check_clusters(&self.clusters, |e| self.environment(e).is_some())?;
        if let Some(billing) = &self.billing {
            for (price, tier) in &billing.prices {
                if self.tier(tier).is_none() {
                    return rule(format!("billing price {price}: unknown tier {tier}"));
                }
            }
        }
        if self.max_tenant_name_len() == 0 {
            return rule(
                "environment and module names are too long to leave room for a tenant".into(),
            );
        }
        Ok(())
    }

    fn check_acyclic(&self) -> Result<(), CatalogError> {
        // Depth-first search with colours; the catalog is small.
        fn visit<'a>(
            c: &'a Catalog,
            m: &'a ModuleName,
            visiting: &mut Vec<&'a ModuleName>,
            done: &mut BTreeSet<&'a ModuleName>,
        ) -> Result<(), CatalogError> {
            if done.contains(m) {
                return Ok(());
            }
            if let Some(pos) = visiting.iter().position(|v| *v == m) {
                let cycle: Vec<&str> = visiting[pos..].iter().map(|n| n.as_str()).collect();
                return Err(CatalogError::Rule(format!(
                    "module dependency cycle: {} -> {m}",
                    cycle.join(" -> ")
                )));
            }
            visiting.push(m);
            if let Some(module) = c.module(m) {
                for dep in &module.depends_on {
                    visit(c, dep, visiting, done)?;
                }
            }
            visiting.pop();
            done.insert(m);
            Ok(())
        }
        let mut done = BTreeSet::new();
        for module in &self.modules {
            visit(self, &module.name, &mut Vec::new(), &mut done)?;
        }
        Ok(())
    }

    pub fn cluster(&self, name: &ClusterName) -> Option<&Cluster> {
        self.clusters.iter().find(|c| &c.name == name)
    }

    /// Whether tenant-envs are placed on named clusters (else they run where Argo CD runs).
    pub fn places(&self) -> bool {
        !self.clusters.is_empty()
    }

    pub fn environment(&self, name: &EnvName) -> Option<&Environment> {
        self.environments.iter().find(|e| &e.name == name)
    }

    pub fn tier(&self, name: &TierName) -> Option<&Tier> {
        self.tiers.iter().find(|t| &t.name == name)
    }

    pub fn module(&self, name: &ModuleName) -> Option<&Module> {
        self.modules.iter().find(|m| &m.name == name)
    }

    fn tier_rank(&self, name: &TierName) -> Option<usize> {
        self.tiers.iter().position(|t| &t.name == name)
    }

    /// The longest tenant name for which `<tenant>-<env>[-<cluster>]-<module>` still fits a DNS
    /// label: Argo CD puts the Application name into a label, and the namespace is
    /// `<tenant>-<env>`.
    pub fn max_tenant_name_len(&self) -> usize {
        let longest = |it: &mut dyn Iterator<Item = usize>| it.max().unwrap_or(0);
        let env = longest(&mut self.environments.iter().map(|e| e.name.as_str().len()));
        let module = longest(&mut self.modules.iter().map(|m| m.name.as_str().len()));
        let cluster = longest(&mut self.clusters.iter().map(|c| c.name.as_str().len()));
        let part = |len: usize| if len > 0 { 1 + len } else { 0 };
        let suffix = 1 + env + part(cluster) + part(module);
        DNS_LABEL_MAX.saturating_sub(suffix)
    }

    pub fn check_tenant_name(&self, field: &str, name: &TenantName) -> Result<(), FieldError> {
        let max = self.max_tenant_name_len();
        if name.as_str().len() > max {
            return Err(FieldError::invalid(
                field,
                format!(
                    "must be at most {max} characters so that <tenant>-<env>[-<cluster>]-<module> fits 63, got {}",
                    name.as_str().len()
                ),
            ));
        }
        Ok(())
    }

    /// A tier named in a request: it must exist.
    pub fn require_tier(&self, field: &str, name: &TierName) -> Result<&Tier, FieldError> {
        self.tier(name).ok_or_else(|| {
            FieldError::invalid(
                field,
                format!("unknown tier {name}; the catalog has {}", self.tier_names()),
            )
        })
    }

    /// A module named in a request: it must exist.
    pub fn require_module(&self, field: &str, name: &ModuleName) -> Result<&Module, FieldError> {
        self.module(name).ok_or_else(|| {
            let known: Vec<&str> = self.modules.iter().map(|m| m.name.as_str()).collect();
            FieldError::invalid(
                field,
                format!(
                    "unknown module {name}; the catalog has {}",
                    known.join(", ")
                ),
            )
        })
    }

    /// An environment named in a request: it must exist and the tier must allow it.
    pub fn require_env_for_tier(
        &self,
        field: &str,
        env: &EnvName,
        tier: &Tier,
    ) -> Result<(), FieldError> {
        if self.environment(env).is_none() {
            let known: Vec<&str> = self.environments.iter().map(|e| e.name.as_str()).collect();
            return Err(FieldError::invalid(
                field,
                format!(
                    "unknown environment {env}; the catalog has {}",
                    known.join(", ")
                ),
            ));
        }
        if !tier.environments.contains(env) {
            return Err(FieldError::invalid(
                field,
                format!("tier {} does not allow environment {env}", tier.name),
            ));
        }
        Ok(())
    }

    /// A cluster named in a request or a placement: it must exist and serve `env`.
    pub fn require_cluster_serving(
        &self,
        field: &str,
        name: &ClusterName,
        env: &EnvName,
    ) -> Result<&Cluster, FieldError> {
        let Some(cluster) = self.cluster(name) else {
            let known: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
            return Err(FieldError::invalid(
                field,
                format!(
                    "unknown cluster {name}; the catalog has {}",
                    known.join(", ")
                ),
            ));
        };
        if !cluster.environments.contains(env) {
            return Err(FieldError::invalid(
                field,
                format!("cluster {name} does not serve environment {env}"),
            ));
        }
        Ok(cluster)
    }

    /// A module's tier floor: refused when `tier` ranks below the module's `min_tier`.
    pub fn require_module_allowed(
        &self,
        field: &str,
        module: &Module,
        tier: &TierName,
    ) -> Result<(), FieldError> {
        let Some(min) = &module.min_tier else {
            return Ok(());
        };
        match (self.tier_rank(tier), self.tier_rank(min)) {
            (Some(have), Some(need)) if have >= need => Ok(()),
            _ => Err(FieldError::invalid(
                field,
                format!(
                    "module {} needs tier {min} or above, the tenant is {tier}",
                    module.name
                ),
            )),
        }
    }

    fn tier_names(&self) -> String {
        self.tiers
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn check_unique<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> Result<(), CatalogError> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(CatalogError::Rule(format!("{what}: duplicate name {name}")));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const TEST_CATALOG: &str = include_str!("../tests/fixtures/catalog.yaml");

    fn err(yaml: &str) -> String {
        Catalog::from_yaml(yaml.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn the_test_catalog_loads() {
        let c = Catalog::from_yaml(TEST_CATALOG.as_bytes()).unwrap();
        assert_eq!(c.modules.len(), 4);
        assert_eq!(c.max_tenant_name_len(), 63 - 1 - 7 - 1 - 10);
    }

    #[test]
    fn refuses_unknown_dependency() {
        let y = TEST_CATALOG.replace("depends_on: [vault]", "depends_on: [kafka]");
        assert!(err(&y).contains("depends on unknown module kafka"));
    }

    #[test]
    fn refuses_duplicate_names() {
        let y = TEST_CATALOG.replace("  - name: vault\n", "  - name: postgres\n");
        assert!(err(&y).contains("modules: duplicate name postgres"));
        let y = TEST_CATALOG.replace("  - name: staging\n", "  - name: dev\n");
        assert!(err(&y).contains("environments: duplicate name dev"));
    }

    #[test]
    fn refuses_a_tier_without_quotas() {
        let y = TEST_CATALOG.replace("    quotas: {cpu: \"20\", memory: 40Gi, pods: 100}\n", "");
        assert!(err(&y).contains("tier standard: quotas are required"));
    }

    #[test]
    fn refuses_dependency_cycles_and_unknown_references() {
        let y = TEST_CATALOG.replace(
            "  - name: vault\n",
            "  - name: vault\n    depends_on: [data-lake]\n",
        );
        assert!(err(&y).contains("cycle"), "{}", err(&y));
        let y = TEST_CATALOG.replace("min_tier: premium", "min_tier: gold");
        assert!(err(&y).contains("unknown min_tier gold"));
        let y = TEST_CATALOG.replace("environments: [dev, prod]", "environments: [dev, qa]");
        assert!(err(&y).contains("unknown environment qa"));
        let y = TEST_CATALOG.replace("price_bronze: bronze", "price_bronze: gold");
        assert!(err(&y).contains("unknown tier gold"));
    }

    #[test]
    fn refuses_unknown_keys_and_bad_names() {
        assert!(
            err(&TEST_CATALOG.replace(
                "  - name: monitoring\n",
                "  - name: monitoring\n    colour: red\n"
            ))
            .contains("colour")
        );
        assert!(err(&TEST_CATALOG.replace("name: postgres", "name: Postgres")).contains("a-z"));
    }

    #[test]
    fn tier_order_decides_module_floors() {
        let c = Catalog::from_yaml(TEST_CATALOG.as_bytes()).unwrap();
        let vault = c.module(&ModuleName::parse("m", "vault").unwrap()).unwrap();
        let t = |n: &str| TierName::parse("tier", n).unwrap();
        assert!(
            c.require_module_allowed("modules[0]", vault, &t("bronze"))
                .is_err()
        );
        assert!(
            c.require_module_allowed("modules[0]", vault, &t("standard"))
                .is_ok()
        );
        assert!(
            c.require_module_allowed("modules[0]", vault, &t("premium"))
                .is_ok()
        );
    }

    #[test]
    fn long_tenant_names_are_refused_against_the_catalog() {
        let c = Catalog::from_yaml(TEST_CATALOG.as_bytes()).unwrap();
        let long = TenantName::parse("name", &"a".repeat(45)).unwrap();
        assert_eq!(
            c.check_tenant_name("name", &long).unwrap_err().field,
            "name"
        );
        let ok = TenantName::parse("name", &"a".repeat(44)).unwrap();
        assert!(c.check_tenant_name("name", &ok).is_ok());
    }
}

#[cfg(test)]
mod product_catalog {
    use super::*;

    /// The catalog this project ships (and `berth dev` seeds) must load.
    #[test]
    fn the_shipped_catalog_loads() {
        let catalog =
            Catalog::from_yaml(include_str!("../../../tenants/catalog.yaml").as_bytes()).unwrap();
        let modules: Vec<&str> = catalog.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(modules, ["monitoring", "postgres", "vault", "data-lake"]);
        let tiers: Vec<&str> = catalog.tiers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(tiers, ["bronze", "standard", "premium"]);
    }
}
