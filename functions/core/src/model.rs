//! A tenant as its files describe it, and the files themselves: what a plan reads
//! ([`RepoFiles`], [`read_set`]), what it writes ([`Change`]), the [`TenantModel`] between them,
//! and the rendering of a model change back into file writes and deletes.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::{CATALOG_PATH, Catalog};
use crate::error::{FieldError, PlanError};
use crate::files::{self, BaseValues, ModuleRef, ModuleValues, TenantRef, TenantSpec, TenantState};
use crate::names::{EnvName, ModuleName, TenantName};
use crate::paths::{self, TenantFile};

/// Files read from the repository at the tip: `tenants/catalog.yaml` and every file under
/// `tenants/<tenant>/`, keyed by their full path.
pub type RepoFiles = BTreeMap<String, Vec<u8>>;

/// What one request does to the repository: one commit's worth of file writes and deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub writes: BTreeMap<String, Vec<u8>>,
    pub deletes: BTreeSet<String>,
    /// The commit message, ending with the `Berth-Request: <id>` trailer.
    pub message: String,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.deletes.is_empty()
    }

    /// Makes `files` what they are once this change is committed on top of them.
    pub fn apply_to(&self, files: &mut RepoFiles) {
        for path in &self.deletes {
            files.remove(path);
        }
        for (path, bytes) in &self.writes {
            files.insert(path.clone(), bytes.clone());
        }
    }
}

/// The catalog this process read last, by its bytes: a fleet rollout plans thousands of
/// tenants against one catalog, and parsing and checking it for each was a tenth of the time.
static LAST_CATALOG: std::sync::Mutex<Option<(Vec<u8>, Catalog)>> = std::sync::Mutex::new(None);

/// Loads the catalog from the files read at the tip.
pub fn load_catalog(files: &RepoFiles) -> Result<Catalog, PlanError> {
    let bytes = files
        .get(CATALOG_PATH)
        .ok_or(crate::CatalogError::Missing)?;
    if let Ok(last) = LAST_CATALOG.lock()
        && let Some((read, catalog)) = last.as_ref()
        && read == bytes
    {
        return Ok(catalog.clone());
    }
    let catalog = Catalog::from_yaml(bytes)?;
    if let Ok(mut last) = LAST_CATALOG.lock() {
        *last = Some((bytes.clone(), catalog.clone()));
    }
    Ok(catalog)
}

/// A tenant as its files describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantModel {
    pub spec: TenantSpec,
    pub envs: BTreeMap<EnvName, BaseValues>,
    pub modules: BTreeMap<(EnvName, ModuleName), ModuleValues>,
}

impl TenantModel {
    /// Reads a tenant from its files; `None` when the tenant does not exist.
    pub fn read(tenant: &TenantName, files: &RepoFiles) -> Result<Option<Self>, PlanError> {
        let dir = paths::tenant_dir(tenant);
        let mut spec = None;
        let mut envs = BTreeMap::new();
        let mut modules = BTreeMap::new();
        for (path, bytes) in files
            .range(dir.clone()..)
            .take_while(|(p, _)| p.starts_with(&dir))
        {
            match paths::classify(&path[dir.len()..]) {
                Some(TenantFile::Spec) => spec = Some(files::parse::<TenantSpec>(path, bytes)?),
                Some(TenantFile::Base(env)) => {
                    envs.insert(env, files::parse::<BaseValues>(path, bytes)?);
                }
                Some(TenantFile::Module(env, module)) => {
                    modules.insert((env, module), files::parse::<ModuleValues>(path, bytes)?);
                }
                None => {}
            }
        }
        let Some(spec) = spec else {
            if files.keys().any(|p| p.starts_with(&dir)) {
                return Err(PlanError::Repository {
                    path: dir,
                    reason: "the folder exists but has no tenant.yaml".into(),
                });
            }
            return Ok(None);
        };
        if spec.name != *tenant {
            return Err(PlanError::Repository {
                path: paths::tenant_spec(tenant),
                reason: format!(
                    "names tenant {} but lives in the folder of {tenant}",
                    spec.name
                ),
            });
        }
        Ok(Some(Self {
            spec,
            envs,
            modules,
        }))
    }

    pub(crate) fn suspended(&self) -> bool {
        self.spec.state == TenantState::Suspended
    }

    pub(crate) fn tenant_ref(&self, env: &EnvName) -> TenantRef {
        TenantRef {
            name: self.spec.name.clone(),
            tier: self.spec.tier.clone(),
            env: env.clone(),
        }
    }

    /// Where env `env` runs, as its `base.yaml` says.
    pub(crate) fn placement(&self, env: &EnvName) -> Option<crate::files::Placement> {
        self.envs.get(env).and_then(|b| b.placement.clone())
    }

    pub(crate) fn enabled(&self, env: &EnvName, module: &ModuleName) -> bool {
        self.modules.contains_key(&(env.clone(), module.clone()))
    }

    /// A module's values file as a new enable writes it: an in-repo module gets the catalog's
    /// default version when it names one (an upstream one is pinned by the planner).
    pub(crate) fn new_module(
        &self,
        env: &EnvName,
        module: &ModuleName,
        catalog: &Catalog,
    ) -> ModuleValues {
        let mut named = ModuleRef::named(module.clone());
        named.version = catalog
            .module(module)
            .filter(|m| m.chart.is_none())
            .and_then(|m| m.version.clone());
        ModuleValues {
            tenant: self.tenant_ref(env),
            module: named,
            suspended: self.suspended(),
            placement: self.placement(env),
            overrides: Default::default(),
        }
    }

    /// Every file of the model, keyed by path, for diffing.
    fn files(&self) -> Vec<(String, ModelFile<'_>)> {
        let t = &self.spec.name;
        let mut out = vec![(paths::tenant_spec(t), ModelFile::Spec(&self.spec))];
        out.extend(
            self.envs
                .iter()
                .map(|(env, v)| (paths::base_values(t, env), ModelFile::Base(v))),
        );
        out.extend(
            self.modules
                .iter()
                .map(|((env, m), v)| (paths::module_values(t, env, m), ModelFile::Module(v))),
        );
        out
    }
}

#[derive(PartialEq)]
enum ModelFile<'a> {
    Spec(&'a TenantSpec),
    Base(&'a BaseValues),
    Module(&'a ModuleValues),
}

impl ModelFile<'_> {
    fn render(&self, path: &str) -> Result<Vec<u8>, PlanError> {
        match self {
            ModelFile::Spec(v) => files::render(path, v),
            ModelFile::Base(v) => files::render(path, v),
            ModelFile::Module(v) => files::render(path, v),
        }
    }
}

/// Writes the files whose model changed (a file the model did not change keeps its bytes, even
/// a hand-formatted one) and deletes the files the model no longer has.
pub(crate) fn diff(
    tenant: &TenantName,
    before: Option<&TenantModel>,
    after: Option<&TenantModel>,
    files: &RepoFiles,
) -> Result<Change, PlanError> {
    let mut change = Change::default();
    let old: BTreeMap<String, ModelFile<'_>> = before
        .map(|m| m.files().into_iter().collect())
        .unwrap_or_default();
    let Some(after) = after else {
        // Deleting a tenant removes its whole folder, files Berth did not write included.
        let dir = paths::tenant_dir(tenant);
        change.deletes = files
            .keys()
            .filter(|p| p.starts_with(&dir))
            .cloned()
            .collect();
        return Ok(change);
    };
    let new = after.files();
    for (path, file) in &new {
        if old.get(path) != Some(file) {
            change.writes.insert(path.clone(), file.render(path)?);
        }
    }
    let kept: BTreeSet<&String> = new.iter().map(|(p, _)| p).collect();
    change.deletes = old.keys().filter(|p| !kept.contains(p)).cloned().collect();
    Ok(change)
}

pub(crate) fn require_env(model: &TenantModel, env: &EnvName) -> Result<(), FieldError> {
    if model.envs.contains_key(env) {
        return Ok(());
    }
    let has: Vec<&str> = model.envs.keys().map(|e| e.as_str()).collect();
    Err(FieldError::not_found(
        "env",
        format!(
            "tenant {} has no environment {env}; it has {}",
            model.spec.name,
            has.join(", ")
        ),
    ))
}
