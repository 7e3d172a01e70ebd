//! Placing a tenant-env on a cluster: decided once, when the env is created, from the files at
//! the tip, and written into its `base.yaml`. The policy, in order: the tenant's own
//! constraints, then its tier's dedicated clusters when any exist, then the least-loaded
//! cluster with room, ties broken by name so the same files always give the same answer.

use std::collections::BTreeMap;

use crate::catalog::Catalog;
use crate::clusters::Cluster;
use crate::error::FieldError;
use crate::files::{self, Placement};
use crate::model::RepoFiles;
use crate::names::{ClusterName, EnvName, TierName};
use crate::paths::{self, TenantFile};

/// How many tenant-envs each cluster holds, counted from every `base.yaml` at the tip; a
/// tenant-env being moved counts on both of its clusters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterLoad(BTreeMap<ClusterName, u32>);

impl ClusterLoad {
    /// Counts `files` (the whole `tenants/` tree). A `base.yaml` that cannot be read counts on
    /// no cluster: the review reports it.
    pub fn count(files: &RepoFiles) -> Self {
        let mut load = Self::default();
        for placement in files
            .iter()
            .filter(|(path, _)| is_base_values(path))
            .filter_map(|(path, bytes)| read_placement(path, bytes))
        {
            load.hold(&placement);
        }
        load
    }

    /// Records a tenant-env placed as `placement`: on each of its clusters.
    pub fn hold(&mut self, placement: &Placement) {
        for cluster in placement.clusters() {
            self.add(cluster);
        }
    }

    pub fn of(&self, cluster: &ClusterName) -> u32 {
        self.0.get(cluster).copied().unwrap_or(0)
    }

    /// Records one more tenant-env on `cluster`: the next placement of the same plan sees it.
    pub fn add(&mut self, cluster: &ClusterName) {
        *self.0.entry(cluster.clone()).or_default() += 1;
    }
}

/// Only the placement of a `base.yaml`: counting the fleet parses no more than that.
#[derive(serde::Deserialize)]
struct PlacedBase {
    #[serde(default)]
    placement: Option<Placement>,
}

/// The placement a `base.yaml` records; `None` when it records none or cannot be read (the
/// review reports that). A file without the key is not parsed at all: the sweep reads every
/// tenant's files each minute.
pub fn read_placement(path: &str, bytes: &[u8]) -> Option<Placement> {
    let mentions = bytes.windows(b"placement".len()).any(|w| w == b"placement");
    if !mentions {
        return None;
    }
    files::parse::<PlacedBase>(path, bytes).ok()?.placement
}

fn is_base_values(path: &str) -> bool {
    let Some(rest) = path.strip_prefix(&format!("{}/", paths::TENANTS_DIR)) else {
        return false;
    };
    let Some((_, relative)) = rest.split_once('/') else {
        return false;
    };
    matches!(paths::classify(relative), Some(TenantFile::Base(_)))
}

/// What a placement is asked for.
#[derive(Debug, Clone)]
pub struct PlacementAsk<'a> {
    /// The request field the answer names (`envs[1]`).
    pub field: &'a str,
    pub env: &'a EnvName,
    pub tier: &'a TierName,
    /// Labels the cluster must carry.
    pub constraints: &'a BTreeMap<String, String>,
    /// A cluster an admin named, which overrides the labels but not the env or the capacity.
    pub named: Option<&'a ClusterName>,
}

/// The cluster for `ask`, or a conflict naming the env, the constraints and every cluster
/// considered with its load, when none has room.
pub fn place(
    catalog: &Catalog,
    load: &ClusterLoad,
    ask: &PlacementAsk<'_>,
) -> Result<ClusterName, FieldError> {
    if let Some(named) = ask.named {
        return place_named(catalog, load, ask, named);
    }
    let serving: Vec<&Cluster> = catalog
        .clusters
        .iter()
        .filter(|c| c.environments.contains(ask.env))
        .filter(|c| c.matches(ask.constraints))
        .collect();
    // A tier with clusters of its own goes only there; no other tier takes their room.
    let dedicated: Vec<&Cluster> = serving
        .iter()
        .copied()
        .filter(|c| c.dedicated_to() == Some(ask.tier.as_str()))
        .collect();
    let candidates = if dedicated.is_empty() {
        serving
            .into_iter()
            .filter(|c| c.dedicated_to().is_none())
            .collect()
    } else {
        dedicated
    };
    candidates
        .iter()
        .filter(|c| load.of(&c.name) < c.capacity)
        // Least loaded as a share of capacity: a/b < c/d as a*d < c*b, with no rounding.
        .min_by(|a, b| {
            let (held_a, held_b) = (u64::from(load.of(&a.name)), u64::from(load.of(&b.name)));
            (held_a * u64::from(b.capacity))
                .cmp(&(held_b * u64::from(a.capacity)))
                .then_with(|| a.name.cmp(&b.name))
        })
        .map(|c| c.name.clone())
        .ok_or_else(|| no_room(ask, load, &candidates))
}

fn place_named(
    catalog: &Catalog,
    load: &ClusterLoad,
    ask: &PlacementAsk<'_>,
    named: &ClusterName,
) -> Result<ClusterName, FieldError> {
    let cluster = catalog.require_cluster_serving(ask.field, named, ask.env)?;
    if load.of(named) >= cluster.capacity {
        return Err(no_room(ask, load, &[cluster]));
    }
    Ok(named.clone())
}

fn no_room(ask: &PlacementAsk<'_>, load: &ClusterLoad, considered: &[&Cluster]) -> FieldError {
    let constraints = if ask.constraints.is_empty() {
        "no constraints".to_owned()
    } else {
        let pairs: Vec<String> = ask
            .constraints
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("constraints {}", pairs.join(", "))
    };
    let clusters = if considered.is_empty() {
        "no cluster serves it".to_owned()
    } else {
        let each: Vec<String> = considered
            .iter()
            .map(|c| format!("{} ({}/{})", c.name, load.of(&c.name), c.capacity))
            .collect();
        format!(
            "clusters considered, by tenant-envs placed/capacity: {}",
            each.join(", ")
        )
    };
    FieldError::conflict(
        ask.field,
        format!(
            "no cluster has room for environment {} (tier {}, {constraints}); {clusters}",
            ask.env, ask.tier
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::TEST_CATALOG;

    const CLUSTERS: &str = "clusters:
  - name: prod-eu-1
    environments: [prod]
    labels: {region: eu}
    capacity: 2
    access: {server: https://prod-eu-1.example.com, eks: {name: prod-eu-1, region: eu-west-1}}
  - name: prod-eu-2
    environments: [prod]
    labels: {region: eu}
    capacity: 4
    access: {server: https://prod-eu-2.example.com, eks: {name: prod-eu-2, region: eu-west-1}}
  - name: prod-us
    environments: [prod]
    labels: {region: us}
    capacity: 2
    access: {server: https://prod-us.example.com, eks: {name: prod-us, region: us-east-1}}
  - name: prod-premium
    environments: [prod]
    labels: {region: eu, dedicated: premium}
    capacity: 1
    access: {server: https://prod-premium.example.com, eks: {name: prod-premium, region: eu-west-1}}
";

    fn catalog() -> Catalog {
        Catalog::from_yaml(format!("{TEST_CATALOG}{CLUSTERS}").as_bytes()).unwrap()
    }

    fn name(s: &str) -> ClusterName {
        ClusterName::parse("c", s).unwrap()
    }

    fn load(pairs: &[(&str, u32)]) -> ClusterLoad {
        ClusterLoad(pairs.iter().map(|(c, n)| (name(c), *n)).collect())
    }

    fn ask<'a>(
        env: &'a EnvName,
        tier: &'a TierName,
        constraints: &'a BTreeMap<String, String>,
    ) -> PlacementAsk<'a> {
        PlacementAsk {
            field: "envs[0]",
            env,
            tier,
            constraints,
            named: None,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn constraints_then_least_share_of_capacity_then_name() {
        let c = catalog();
        let prod = EnvName::parse("e", "prod").unwrap();
        let standard = TierName::parse("t", "standard").unwrap();
        let eu = labels(&[("region", "eu")]);
        let none = BTreeMap::new();
        // Empty: a tie at 0 goes to the first name.
        assert_eq!(
            place(&c, &load(&[]), &ask(&prod, &standard, &eu)).unwrap(),
            name("prod-eu-1")
        );
        // 1/2 against 1/4: the bigger cluster is less loaded.
        let l = load(&[("prod-eu-1", 1), ("prod-eu-2", 1)]);
        assert_eq!(
            place(&c, &l, &ask(&prod, &standard, &eu)).unwrap(),
            name("prod-eu-2")
        );
        // 1/2 against 2/4: a tie, broken by name.
        let l = load(&[("prod-eu-1", 1), ("prod-eu-2", 2)]);
        assert_eq!(
            place(&c, &l, &ask(&prod, &standard, &eu)).unwrap(),
            name("prod-eu-1")
        );
        // No constraint: the US cluster, emptiest, though it sorts last of the pool.
        let l = load(&[("prod-eu-1", 1), ("prod-eu-2", 2)]);
        assert_eq!(
            place(&c, &l, &ask(&prod, &standard, &none)).unwrap(),
            name("prod-us")
        );
    }

    #[test]
    fn a_tier_with_dedicated_clusters_goes_there_and_no_other_tier_does() {
        let c = catalog();
        let prod = EnvName::parse("e", "prod").unwrap();
        let premium = TierName::parse("t", "premium").unwrap();
        let standard = TierName::parse("t", "standard").unwrap();
        let eu = labels(&[("region", "eu")]);
        assert_eq!(
            place(&c, &load(&[]), &ask(&prod, &premium, &eu)).unwrap(),
            name("prod-premium")
        );
        let full = load(&[("prod-premium", 1)]);
        let refused = place(&c, &full, &ask(&prod, &premium, &eu)).unwrap_err();
        assert_eq!(refused.kind, crate::ErrorKind::Conflict);
        assert!(refused.reason.contains("prod-premium (1/1)"), "{refused}");
        let pool = load(&[("prod-eu-1", 2), ("prod-eu-2", 4)]);
        let refused = place(&c, &pool, &ask(&prod, &standard, &eu)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "envs[0]: no cluster has room for environment prod (tier standard, constraints \
             region=eu); clusters considered, by tenant-envs placed/capacity: prod-eu-1 (2/2), \
             prod-eu-2 (4/4)"
        );
    }

    #[test]
    fn an_env_no_cluster_serves_is_refused_and_a_named_cluster_is_checked() {
        let c = catalog();
        let dev = EnvName::parse("e", "dev").unwrap();
        let prod = EnvName::parse("e", "prod").unwrap();
        let tier = TierName::parse("t", "standard").unwrap();
        let none = BTreeMap::new();
        let refused = place(&c, &load(&[]), &ask(&dev, &tier, &none)).unwrap_err();
        assert!(refused.reason.contains("no cluster serves it"), "{refused}");
        let us = name("prod-us");
        let eu = labels(&[("region", "eu")]);
        let named = PlacementAsk {
            named: Some(&us),
            ..ask(&prod, &tier, &eu)
        };
        assert_eq!(
            place(&c, &load(&[]), &named).unwrap(),
            us,
            "an admin's choice wins over labels"
        );
        let nowhere = name("nowhere");
        let named = PlacementAsk {
            named: Some(&nowhere),
            ..ask(&prod, &tier, &none)
        };
        assert!(
            place(&c, &load(&[]), &named)
                .unwrap_err()
                .reason
                .contains("unknown cluster nowhere")
        );
        let named = PlacementAsk {
            named: Some(&us),
            ..ask(&dev, &tier, &none)
        };
        assert!(
            place(&c, &load(&[]), &named)
                .unwrap_err()
                .reason
                .contains("does not serve")
        );
        let named = PlacementAsk {
            named: Some(&us),
            ..ask(&prod, &tier, &none)
        };
        assert_eq!(
            place(&c, &load(&[("prod-us", 2)]), &named)
                .unwrap_err()
                .kind,
            crate::ErrorKind::Conflict
        );
    }

    #[test]
    fn load_counts_every_placed_base_and_a_move_on_both_clusters() {
        let base = |placement: &str| {
            format!(
                "tenant: {{name: a, tier: standard, env: prod}}\nsuspended: false\nquota: {{cpu: '1', memory: 1Gi, pods: 1}}\npod_security: restricted\n{placement}"
            )
        };
        let files: RepoFiles = [
            (
                "tenants/a/prod/base.yaml",
                base("placement: {cluster: prod-us}\n"),
            ),
            (
                "tenants/b/prod/base.yaml",
                base("placement: {cluster: prod-us, moving_to: prod-eu-1}\n"),
            ),
            ("tenants/c/prod/base.yaml", base("")),
            (
                "tenants/c/prod/modules/postgres.yaml",
                "placement: {cluster: prod-us}\n".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(p, b)| (p.to_owned(), b.into_bytes()))
        .collect();
        let l = ClusterLoad::count(&files);
        assert_eq!(
            (
                l.of(&name("prod-us")),
                l.of(&name("prod-eu-1")),
                l.of(&name("prod-eu-2"))
            ),
            (2, 1, 0)
        );
    }
}
