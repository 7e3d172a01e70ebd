//! The clusters of `tenants/catalog.yaml`: where tenant-envs run, what each serves and takes,
//! and how the status function reaches it. A catalog without clusters has one implicit
//! destination, the cluster Argo CD runs in, as before clusters existed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::CatalogError;
use crate::names::{ClusterName, EnvName, check_dns_label};

/// The label a cluster reserved for one tier carries: `dedicated: premium`.
pub const DEDICATED_LABEL: &str = "dedicated";

/// One cluster tenant-envs can be placed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// The cluster's name in Argo CD (its cluster Secret's `name`).
    pub name: ClusterName,
    /// The environments it serves.
    pub environments: Vec<EnvName>,
    /// What placement constraints match: `region: eu`, `cell: "3"`, `dedicated: premium`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The most tenant-envs it takes.
    pub capacity: u32,
    /// How the status function reaches its API server.
    pub access: ClusterAccess,
}

/// How the status function reaches a cluster's API server, as an Argo CD cluster Secret says
/// it: the server, its CA, and exactly one of `eks` and `token_env` for the bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterAccess {
    /// The API server's URL.
    pub server: String,
    /// The base64 of the PEM CA certificates the server's certificate chains to (an EKS
    /// cluster's `certificateAuthority.data`); the system's roots when absent. Public data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_data: Option<String>,
    /// An EKS cluster: tokens are minted from the function's own IAM role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks: Option<EksAccess>,
    /// The environment variable holding a bearer token (never the token: the catalog is in
    /// Git).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
}

/// An EKS cluster's name and region, which its tokens are signed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EksAccess {
    pub name: String,
    pub region: String,
}

impl Cluster {
    /// Whether the cluster carries every one of `constraints`.
    pub fn matches(&self, constraints: &BTreeMap<String, String>) -> bool {
        constraints
            .iter()
            .all(|(k, v)| self.labels.get(k) == Some(v))
    }

    /// The tier the cluster is reserved for, if any.
    pub fn dedicated_to(&self) -> Option<&str> {
        self.labels.get(DEDICATED_LABEL).map(String::as_str)
    }
}

/// The clusters' rules: unique names, known environments (`known_env`), a capacity, labels
/// and access that Kubernetes and a process environment accept.
pub(crate) fn check_clusters(
    clusters: &[Cluster],
    known_env: impl Fn(&EnvName) -> bool,
) -> Result<(), CatalogError> {
    let rule = |m: String| Err(CatalogError::Rule(m));
    let mut seen = BTreeSet::new();
    for cluster in clusters {
        let name = &cluster.name;
        // Argo CD refuses to sync to a name two cluster Secrets share.
        if !seen.insert(name) {
            return rule(format!("clusters: duplicate name {name}"));
        }
        if cluster.environments.is_empty() {
            return rule(format!("cluster {name}: needs at least one environment"));
        }
        if let Some(env) = cluster.environments.iter().find(|e| !known_env(e)) {
            return rule(format!("cluster {name}: unknown environment {env}"));
        }
        if cluster.capacity == 0 {
            return rule(format!("cluster {name}: capacity must be at least 1"));
        }
        for (key, value) in &cluster.labels {
            // Keys and values both DNS labels: they read the same in YAML, a URL and a
            // Kubernetes label.
            if let Err(e) = check_dns_label("label", key).and(check_dns_label("label", value)) {
                return rule(format!("cluster {name}: label {key}: {}", e.reason));
            }
        }
        check_access(name, &cluster.access)?;
    }
    Ok(())
}

fn check_access(name: &ClusterName, access: &ClusterAccess) -> Result<(), CatalogError> {
    let rule = |m: String| Err(CatalogError::Rule(format!("cluster {name}: access: {m}")));
    let url = &access.server;
    let loopback = url.starts_with("http://127.0.0.1:") || url == "http://127.0.0.1";
    if !url.starts_with("https://") && !loopback {
        return rule(format!(
            "server {url:?} must be https:// (http only on 127.0.0.1, for tests)"
        ));
    }
    match (&access.eks, &access.token_env) {
        (Some(EksAccess { name: eks, region }), None) => {
            if eks.is_empty() || eks.len() > 100 || !eks.chars().all(eks_name_char) {
                return rule(format!("eks.name {eks:?} is not an EKS cluster name"));
            }
            let region_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
            if region.is_empty() || !region.chars().all(region_char) {
                return rule(format!("eks.region {region:?} is not an AWS region"));
            }
        }
        (None, Some(token_env)) => {
            let first_ok = token_env
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '_');
            let rest_ok = token_env
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !first_ok || !rest_ok {
                return rule(format!(
                    "token_env {token_env:?} must be an environment variable name (A-Z, 0-9, _)"
                ));
            }
        }
        _ => return rule("needs exactly one of eks and token_env".into()),
    }
    Ok(())
}

fn eks_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::catalog::tests::TEST_CATALOG;

    pub(crate) const CLUSTERS: &str = "clusters:
  - name: prod-eu
    environments: [prod]
    labels: {region: eu}
    capacity: 2
    access: {server: https://eu.eks.example.com, eks: {name: prod-eu, region: eu-west-1}}
  - name: prod-us
    environments: [prod]
    labels: {region: us}
    capacity: 2
    access: {server: https://prod-us.example.com, token_env: BERTH_CLUSTER_PROD_US_TOKEN}
";

    fn err(extra: &str) -> String {
        Catalog::from_yaml(format!("{TEST_CATALOG}{extra}").as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_catalog_with_clusters_loads() {
        let c = Catalog::from_yaml(format!("{TEST_CATALOG}{CLUSTERS}").as_bytes()).unwrap();
        assert!(c.places());
        assert_eq!(c.clusters.len(), 2);
        assert!(
            !Catalog::from_yaml(TEST_CATALOG.as_bytes())
                .unwrap()
                .places()
        );
    }

    #[test]
    fn refuses_clusters_that_cannot_be_used() {
        let dup = CLUSTERS.replace("name: prod-us\n", "name: prod-eu\n");
        assert!(
            err(&dup).contains("clusters: duplicate name prod-eu"),
            "{}",
            err(&dup)
        );
        let env = CLUSTERS.replacen("environments: [prod]", "environments: [qa]", 1);
        assert!(err(&env).contains("cluster prod-eu: unknown environment qa"));
        let full = CLUSTERS.replacen("capacity: 2", "capacity: 0", 1);
        assert!(err(&full).contains("capacity must be at least 1"));
        let url = CLUSTERS.replace("https://prod-us", "http://prod-us");
        assert!(err(&url).contains("must be https://"), "{}", err(&url));
        let token = CLUSTERS.replace("BERTH_CLUSTER_PROD_US_TOKEN", "the token");
        assert!(err(&token).contains("token_env"));
        let label = CLUSTERS.replace("region: eu}", "region: Europe}");
        assert!(err(&label).contains("label region"), "{}", err(&label));
        let neither = CLUSTERS.replace(", eks: {name: prod-eu, region: eu-west-1}", "");
        assert!(
            err(&neither).contains("exactly one of eks and token_env"),
            "{}",
            err(&neither)
        );
        let name = CLUSTERS.replace("name: prod-eu\n", "name: Prod_EU\n");
        assert!(err(&name).contains("a-z"), "{}", err(&name));
    }
}
