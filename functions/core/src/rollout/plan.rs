//! A rollout's plan, frozen before anything is committed: the selector resolved against the
//! files at one commit, each tenant's change computed by the planner a single request uses
//! (tier gates, dependencies, chart schemas, all of it), and the tenants that change split
//! into waves. No-op, held and invalid tenants are listed, never silently dropped.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::waves;
use super::{FleetChange, RolloutSpec, Selector, WavePolicy};
use crate::error::{FieldError, PlanError};
use crate::file_diff::{FileDiff, diff_change};
use crate::model::{Change, RepoFiles, TenantModel, load_catalog};
use crate::names::{EnvName, TenantName};
use crate::plan::plan_with_charts;
use crate::request::{Action, ModuleChange, Request};
use crate::schema::merge;
use crate::tenant_index::folder_digests;
use crate::upstream::ChartShelf;

/// One tenant's part of a rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantPlan {
    pub tenant: TenantName,
    /// The selected envs the change touches.
    pub envs: Vec<EnvName>,
    /// The digest of the tenant's folder at the plan's commit: a wave re-plans a tenant whose
    /// folder differs by then.
    pub digest: String,
    /// What the tenant's files become, relative to the plan's commit.
    pub change: Change,
    pub files: Vec<FileDiff>,
}

/// Why a selected tenant is in no wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftOut {
    /// The change leaves its files as they are.
    NoChange,
    /// `hold_until` in its `tenant.yaml` is still ahead.
    Held { until: String },
    /// Its result fails validation (listed with `skip_invalid`; otherwise the rollout is
    /// refused).
    Invalid { field: String, reason: String },
}

/// A rollout's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutPlan {
    /// Wave 1 holds the canaries when there are any.
    pub waves: Vec<Vec<TenantPlan>>,
    pub left_out: Vec<(TenantName, LeftOut)>,
    /// A digest of the waves' membership and every tenant's resulting files: two plans with
    /// the same hash commit the same bytes.
    pub hash: String,
}

impl RolloutPlan {
    pub fn tenants(&self) -> usize {
        self.waves.iter().map(Vec::len).sum()
    }
}

/// Plans `spec` against `files` (the `tenants/` tree and charts at one commit) at `now` (UTC,
/// `YYYY-MM-DDTHH:MM:SSZ`, for holds). Upstream charts come from `charts`; a plan that needs
/// more answers [`PlanError::ChartsNeeded`], as a single request's does.
pub fn plan_rollout(
    spec: &RolloutSpec,
    files: &RepoFiles,
    charts: &ChartShelf,
    now: &str,
) -> Result<RolloutPlan, PlanError> {
    let catalog = load_catalog(files)?;
    catalog.require_module("change.module", spec.change.module())?;
    let digests = folder_digests(files);
    let shared = shared_files(files);
    let mut changing = Vec::new();
    let mut left_out = Vec::new();
    for tenant in digests.keys() {
        let Some(model) = TenantModel::read(tenant, files)? else {
            continue;
        };
        let envs = selected_envs(&spec.selector, &spec.change, &model);
        if envs.is_empty() {
            continue;
        }
        if let Some(until) = model.spec.held_until(now) {
            left_out.push((tenant.clone(), LeftOut::Held { until }));
            continue;
        }
        let view = tenant_view(&shared, files, tenant);
        match plan_tenant_at(tenant, &envs, &spec.change, &model, view, charts)? {
            Ok(change) if change.is_empty() => left_out.push((tenant.clone(), LeftOut::NoChange)),
            Ok(change) => changing.push((
                model,
                TenantPlan {
                    tenant: tenant.clone(),
                    envs,
                    digest: digests[tenant].clone(),
                    files: diff_change(files, &change),
                    change,
                },
            )),
            Err(e) if spec.skip_invalid => left_out.push((
                tenant.clone(),
                LeftOut::Invalid {
                    field: e.field,
                    reason: e.reason,
                },
            )),
            Err(e) => {
                return Err(FieldError {
                    field: format!("tenants.{tenant}.{}", e.field),
                    reason: format!("{tenant}: {}", e.reason),
                    ..e
                }
                .into());
            }
        }
    }
    let waves = into_waves(spec, &catalog, changing);
    let hash = plan_hash(&waves);
    Ok(RolloutPlan {
        waves,
        left_out,
        hash,
    })
}

/// What every tenant's plan reads besides its own folder: the catalog and the charts' files
/// validation reads (never their templates: they are copied into every tenant's view).
pub(crate) fn shared_files(files: &RepoFiles) -> RepoFiles {
    let mut shared: RepoFiles = files
        .range("charts/".to_owned()..)
        .take_while(|(p, _)| p.starts_with("charts/"))
        .filter(|(p, _)| crate::schema::is_validation_file(p))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    if let Some(catalog) = files.get(crate::catalog::CATALOG_PATH) {
        shared.insert(crate::catalog::CATALOG_PATH.to_owned(), catalog.clone());
    }
    shared
}

/// The files one tenant's plan reads: `shared` and the tenant's folder. A module change reads
/// no other tenant, and planning against the whole fleet's files would copy them per tenant.
pub(crate) fn tenant_view(shared: &RepoFiles, files: &RepoFiles, tenant: &TenantName) -> RepoFiles {
    let dir = crate::paths::tenant_dir(tenant);
    let mut view = shared.clone();
    view.extend(
        files
            .range(dir.clone()..)
            .take_while(|(p, _)| p.starts_with(&dir))
            .map(|(p, b)| (p.clone(), b.clone())),
    );
    view
}

/// The selected envs of `model` the change applies to.
fn selected_envs(selector: &Selector, change: &FleetChange, model: &TenantModel) -> Vec<EnvName> {
    let spec = &model.spec;
    let chosen = (selector.tiers.is_empty() || selector.tiers.contains(&spec.tier))
        && (selector.tenants.is_empty() || selector.tenants.contains(&spec.name))
        && selector.states.contains(&spec.state);
    if !chosen {
        return Vec::new();
    }
    model
        .envs
        .keys()
        .filter(|env| selector.envs.is_empty() || selector.envs.contains(env))
        .filter(|env| {
            selector
                .has_module
                .as_ref()
                .is_none_or(|m| model.enabled(env, m))
        })
        // A reconfiguration or a disable applies only where the module is.
        .filter(|env| match change {
            FleetChange::Enable { .. } => true,
            FleetChange::Reconfigure { module, .. } | FleetChange::Disable { module } => {
                model.enabled(env, module)
            }
        })
        .cloned()
        .collect()
}

/// The tenant's change: one request per env, planned one after another on `view` (the
/// tenant's folder and the shared files, [`tenant_view`]). A refusal is the tenant's, named by its field; so is a module a
/// reconfiguration or a disable finds gone from an env (a hand edit since the plan).
pub(crate) fn plan_tenant_at(
    tenant: &TenantName,
    envs: &[EnvName],
    change: &FleetChange,
    model: &TenantModel,
    mut view: RepoFiles,
    charts: &ChartShelf,
) -> Result<Result<Change, FieldError>, PlanError> {
    if let FleetChange::Reconfigure { module, .. } | FleetChange::Disable { module } = change
        && let Some(env) = envs.iter().find(|env| !model.enabled(env, module))
    {
        return Ok(Err(FieldError::conflict(
            "module",
            format!("{module} is no longer enabled in {env}"),
        )));
    }
    // One request per env, planned on the tenant's own view (no copy of it per request, as a
    // batch would make); the tenant's change is what the view ends up with.
    let mut originals: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for env in envs {
        let request = Request {
            id: format!("rollout-{tenant}-{env}"),
            tenant: tenant.clone(),
            action: action(change, env, model),
        };
        let planned = match plan_with_charts(&request, &view, charts) {
            Ok(planned) => planned,
            Err(PlanError::Field(e)) => return Ok(Err(e)),
            Err(other) => return Err(other),
        };
        for path in planned.writes.keys().chain(planned.deletes.iter()) {
            originals
                .entry(path.clone())
                .or_insert_with(|| view.get(path).cloned());
        }
        planned.apply_to(&mut view);
    }
    let mut net = Change::default();
    for (path, before) in originals {
        match (before, view.remove(&path)) {
            (before, Some(now)) if before.as_ref() != Some(&now) => {
                net.writes.insert(path, now);
            }
            (Some(_), None) => {
                net.deletes.insert(path);
            }
            _ => {}
        }
    }
    Ok(Ok(net))
}

fn action(change: &FleetChange, env: &EnvName, model: &TenantModel) -> Action {
    match change {
        FleetChange::Disable { module } => Action::DisableModule {
            env: env.clone(),
            module: module.clone(),
        },
        FleetChange::Enable {
            module,
            version,
            values,
        } => Action::EnableModule(ModuleChange {
            env: env.clone(),
            module: module.clone(),
            version: version.clone(),
            values: values.clone(),
            enable_dependencies: false,
        }),
        FleetChange::Reconfigure {
            module,
            version,
            values,
        } => {
            let current = model.modules.get(&(env.clone(), module.clone()));
            let mut merged =
                Value::Object(current.map(|m| m.overrides.clone()).unwrap_or_default());
            merge(&mut merged, Value::Object(values.clone()));
            // An in-repo module keeps its version value; an upstream one keeps its chart pin
            // when the rollout names no version (the planner keeps a pin unless asked).
            let kept_version = current.and_then(|m| m.module.version.clone());
            Action::EnableModule(ModuleChange {
                env: env.clone(),
                module: module.clone(),
                version: version.clone().or(kept_version),
                values: match merged {
                    Value::Object(map) => map,
                    _ => Default::default(),
                },
                enable_dependencies: false,
            })
        }
    }
}

/// Canaries first (named, or `canary: true`), then by the policy: growth steps over the rest
/// in name order, or one wave per tier from the lowest.
fn into_waves(
    spec: &RolloutSpec,
    catalog: &crate::catalog::Catalog,
    changing: Vec<(TenantModel, TenantPlan)>,
) -> Vec<Vec<TenantPlan>> {
    let (canaries, rest): (Vec<_>, Vec<_>) = changing
        .into_iter()
        .partition(|(model, plan)| model.spec.canary || spec.canaries.contains(&plan.tenant));
    let mut waves: Vec<Vec<TenantPlan>> = Vec::new();
    if !canaries.is_empty() {
        waves.push(canaries.into_iter().map(|(_, p)| p).collect());
    }
    match &spec.waves {
        WavePolicy::Steps(steps) => {
            let rest: Vec<TenantPlan> = rest.into_iter().map(|(_, p)| p).collect();
            waves.extend(waves::split(&rest, steps));
        }
        WavePolicy::ByTier => {
            let mut by_tier: BTreeMap<usize, Vec<TenantPlan>> = BTreeMap::new();
            for (model, plan) in rest {
                let rank = catalog
                    .tiers
                    .iter()
                    .position(|t| t.name == model.spec.tier)
                    .unwrap_or(usize::MAX);
                by_tier.entry(rank).or_default().push(plan);
            }
            waves.extend(by_tier.into_values());
        }
    }
    waves
}

#[derive(Serialize)]
struct HashedTenant<'a> {
    wave: usize,
    tenant: &'a str,
    writes: BTreeMap<&'a str, String>,
    deletes: Vec<&'a str>,
}

fn plan_hash(waves: &[Vec<TenantPlan>]) -> String {
    let mut hasher = Sha256::new();
    for (i, wave) in waves.iter().enumerate() {
        for plan in wave {
            let hashed = HashedTenant {
                wave: i + 1,
                tenant: plan.tenant.as_str(),
                writes: plan
                    .change
                    .writes
                    .iter()
                    .map(|(p, b)| (p.as_str(), hex_digest(b)))
                    .collect(),
                deletes: plan.change.deletes.iter().map(String::as_str).collect(),
            };
            hasher.update(serde_json::to_vec(&hashed).unwrap_or_default());
            hasher.update(b"\n");
        }
    }
    format!("sha256:{:x}", hasher.finalize())
}

fn hex_digest(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Whether the tenant's folder is still the one the plan was made on, by the folder
/// `digests` of the files now ([`folder_digests`], computed once for a whole wave).
pub fn unchanged_since_plan(plan: &TenantPlan, digests: &BTreeMap<TenantName, String>) -> bool {
    digests.get(&plan.tenant) == Some(&plan.digest)
}
