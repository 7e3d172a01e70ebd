//! What Git says should run: every tenant's environments and enabled modules, read from the
//! tenants tree at one commit. The status sweep compares this with what the cluster runs.
//!
//! Only `tenant.yaml` is parsed (for the tenant's state); which environments and modules exist
//! follows from the paths, as the ApplicationSets' file generators see them.

use std::collections::{BTreeMap, BTreeSet};

use crate::files::{Placement, TenantSpec, TenantState};
use crate::model::RepoFiles;
use crate::names::{EnvName, ModuleName, TenantName};
use crate::paths::{self, TENANTS_DIR, TenantFile};
use crate::placement::ClusterLoad;

/// One tenant as Git wants it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredTenant {
    pub suspended: bool,
    /// Each environment with a `base.yaml`, and the modules enabled in it.
    pub envs: BTreeMap<EnvName, BTreeSet<ModuleName>>,
    /// Where each placed environment runs (absent: where Argo CD runs).
    pub placements: BTreeMap<EnvName, Placement>,
}

/// A tenant folder the sweep could not read; reported, never fatal for the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredProblem {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredState {
    pub tenants: BTreeMap<TenantName, DesiredTenant>,
    pub problems: Vec<DesiredProblem>,
}

impl DesiredState {
    /// True when Git wants `module` (or the base Application, for `None`) of `tenant` in `env`.
    /// The clusters `tenant`'s `env` runs on, as its `base.yaml` places it; empty when it is
    /// not placed (it runs where Argo CD does).
    pub fn clusters_of(&self, tenant: &str, env: &str) -> Vec<&str> {
        let placement = TenantName::parse("tenant", tenant)
            .ok()
            .and_then(|t| self.tenants.get(&t))
            .zip(EnvName::parse("env", env).ok())
            .and_then(|(t, env)| t.placements.get(&env));
        placement
            .map(|p| p.clusters().map(|c| c.as_str()).collect())
            .unwrap_or_default()
    }

    /// Tenant-envs per cluster, as Git places them (a move counts on both of its clusters).
    pub fn cluster_load(&self) -> ClusterLoad {
        let mut load = ClusterLoad::default();
        for placement in self.tenants.values().flat_map(|t| t.placements.values()) {
            load.hold(placement);
        }
        load
    }

    pub fn wants(&self, tenant: &str, env: &str, module: Option<&str>) -> bool {
        let Some(desired) = TenantName::parse("tenant", tenant)
            .ok()
            .and_then(|t| self.tenants.get(&t))
        else {
            return false;
        };
        let Some(modules) = EnvName::parse("env", env)
            .ok()
            .and_then(|e| desired.envs.get(&e))
        else {
            return false;
        };
        match module {
            None => true,
            Some(m) => ModuleName::parse("module", m).is_ok_and(|m| modules.contains(&m)),
        }
    }
}

/// Reads every tenant under `tenants/` in `files`. A module file without its environment's
/// `base.yaml` still counts: the module ApplicationSet renders it on its own.
pub fn desired_state(files: &RepoFiles) -> DesiredState {
    let mut state = DesiredState::default();
    let mut specs: BTreeMap<TenantName, &[u8]> = BTreeMap::new();
    let mut parts: BTreeMap<TenantName, DesiredTenant> = BTreeMap::new();
    let root = format!("{TENANTS_DIR}/");
    for (path, bytes) in files.range(root.clone()..) {
        let Some(rest) = path.strip_prefix(&root) else {
            break;
        };
        let Some((folder, relative)) = rest.split_once('/') else {
            continue; // catalog.yaml and other files beside the tenant folders
        };
        let Ok(tenant) = TenantName::parse("tenant", folder) else {
            state.problems.push(DesiredProblem {
                path: path.clone(),
                reason: format!("{folder:?} is not a valid tenant name"),
            });
            continue;
        };
        let entry = parts.entry(tenant.clone()).or_default();
        match paths::classify(relative) {
            Some(TenantFile::Spec) => {
                specs.insert(tenant, bytes);
            }
            Some(TenantFile::Base(env)) => {
                if let Some(placement) = crate::placement::read_placement(path, bytes) {
                    entry.placements.insert(env.clone(), placement);
                }
                entry.envs.entry(env).or_default();
            }
            Some(TenantFile::Module(env, module)) => {
                entry.envs.entry(env).or_default().insert(module);
            }
            None => {}
        }
    }
    for (tenant, mut desired) in parts {
        let path = paths::tenant_spec(&tenant);
        let Some(bytes) = specs.get(&tenant) else {
            state.problems.push(DesiredProblem {
                path,
                reason: "the tenant folder has no tenant.yaml".into(),
            });
            continue;
        };
        match crate::files::parse::<TenantSpec>(&path, bytes) {
            Ok(spec) => {
                desired.suspended = spec.state == TenantState::Suspended;
                state.tenants.insert(tenant, desired);
            }
            Err(e) => state.problems.push(DesiredProblem {
                path,
                reason: e.to_string(),
            }),
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, state: &str) -> Vec<u8> {
        format!("name: {name}\ntier: standard\nstate: {state}\ncreated_by: 01J\n").into_bytes()
    }

    fn files(entries: &[(&str, Vec<u8>)]) -> RepoFiles {
        entries
            .iter()
            .map(|(p, b)| ((*p).to_owned(), b.clone()))
            .collect()
    }

    #[test]
    fn environments_and_modules_follow_the_paths() {
        let state = desired_state(&files(&[
            ("tenants/catalog.yaml", b"x".to_vec()),
            ("tenants/acme/tenant.yaml", spec("acme", "active")),
            ("tenants/acme/dev/base.yaml", b"{}".to_vec()),
            ("tenants/acme/dev/modules/postgres.yaml", b"{}".to_vec()),
            (
                "tenants/acme/prod/base.yaml",
                b"placement: {cluster: prod-eu, moving_to: prod-us}\n".to_vec(),
            ),
            ("tenants/acme/README.md", b"notes".to_vec()),
            ("tenants/zeta/tenant.yaml", spec("zeta", "suspended")),
        ]));
        assert!(state.problems.is_empty(), "{:?}", state.problems);
        assert_eq!(state.tenants.len(), 2);
        assert!(state.wants("acme", "dev", None));
        assert!(state.wants("acme", "dev", Some("postgres")));
        assert!(state.wants("acme", "prod", None));
        assert!(!state.wants("acme", "prod", Some("postgres")));
        assert!(!state.wants("acme", "stage", None));
        assert!(!state.wants("nobody", "dev", None));
        assert_eq!(state.clusters_of("acme", "prod"), ["prod-eu", "prod-us"]);
        assert!(state.clusters_of("acme", "dev").is_empty());
        let zeta = &state.tenants[&TenantName::parse("t", "zeta").unwrap()];
        assert!(zeta.suspended && zeta.envs.is_empty());
    }

    #[test]
    fn a_broken_tenant_is_reported_and_the_others_still_read() {
        let state = desired_state(&files(&[
            ("tenants/acme/tenant.yaml", b"name: [".to_vec()),
            ("tenants/bare/dev/base.yaml", b"{}".to_vec()),
            ("tenants/Bad_Name/tenant.yaml", spec("x", "active")),
            ("tenants/good/tenant.yaml", spec("good", "active")),
        ]));
        let paths: Vec<&str> = state.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "tenants/Bad_Name/tenant.yaml",
                "tenants/acme/tenant.yaml",
                "tenants/bare/tenant.yaml"
            ]
        );
        assert_eq!(state.tenants.len(), 1);
        assert!(!state.wants("good", "dev", None));
    }
}
