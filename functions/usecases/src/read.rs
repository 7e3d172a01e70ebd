//! What the API reads: the cluster's health and every tenant's status as the status function
//! last recorded them (never the cluster itself), the catalog and a tenant's files at the
//! branch tip, the tenant index, and the files a request's commit changed. Each read takes the
//! caller's [`Visibility`]; the edge only maps the answers onto its contract.

use std::collections::{BTreeMap, HashMap};

use berth_core::catalog::{CATALOG_PATH, Catalog};
use berth_core::file_diff::{FileDiff, diff_files};
use berth_core::health::{Health, overall};
use berth_core::plan::{TenantModel, load_catalog, read_set};
use berth_core::review::Reviewer;
use berth_core::tenant_index::{IndexedTenant, index_tenant};
use berth_core::{TenantName, paths};
use berth_store::{ClusterHealth, StatusRecord, TenantEntry};

use crate::app::App;
use crate::chart_facts::{ChartFacts, chart_facts};
use crate::error::{ErrorCode, ErrorKind, UseCaseError};
use crate::visibility::Visibility;

/// What the status function recorded of the cluster on its last sweep; `None` before its first.
pub async fn cluster_health(app: &App) -> Result<Option<ClusterHealth>, UseCaseError> {
    Ok(app.store.get_cluster_health().await?)
}

/// The catalog at the branch tip.
#[derive(Debug, Clone)]
pub struct CatalogAtTip {
    pub revision: String,
    pub catalog: Catalog,
    /// What each upstream module's chart repository says now.
    pub charts: BTreeMap<berth_core::ModuleName, ChartFacts>,
}

pub async fn catalog(app: &App) -> Result<CatalogAtTip, UseCaseError> {
    let snapshot = app.committer.read(vec![CATALOG_PATH.to_owned()]).await?;
    let catalog = load_catalog(&snapshot.files)?;
    let mut charts = BTreeMap::new();
    for module in &catalog.modules {
        if let Some(upstream) = &module.chart {
            charts.insert(module.name.clone(), chart_facts(app, upstream).await);
        }
    }
    Ok(CatalogAtTip {
        revision: snapshot.tip,
        catalog,
        charts,
    })
}

/// A tenant of the index, with its last observed health (`unknown` when none was).
#[derive(Debug, Clone)]
pub struct ListedTenant {
    pub entry: TenantEntry,
    pub health: String,
}

/// The tenants of the index the caller may see.
pub async fn tenants(
    app: &App,
    visibility: &Visibility,
) -> Result<Vec<ListedTenant>, UseCaseError> {
    let mut health: HashMap<String, String> = app
        .store
        .list_tenant_health()
        .await?
        .into_iter()
        .map(|h| (h.tenant, h.health))
        .collect();
    let tenants = app
        .store
        .list_tenants()
        .await?
        .into_iter()
        .filter(|t| visibility.sees(&t.name))
        .map(|entry| ListedTenant {
            health: health
                .remove(&entry.name)
                .unwrap_or_else(|| Health::Unknown.as_str().to_owned()),
            entry,
        })
        .collect();
    Ok(tenants)
}

/// A tenant as Git has it at the tip, with what the status function last saw of it.
#[derive(Debug, Clone)]
pub struct TenantRead {
    pub revision: String,
    /// Its spec as the index reads it, with what the review finds wrong (a tenant broken in
    /// Git is shown as such, never refused).
    pub indexed: IndexedTenant,
    /// Its index entry (for who changed it last).
    pub entry: Option<TenantEntry>,
    pub envs: BTreeMap<String, EnvRead>,
    pub statuses: Vec<StatusRecord>,
    pub health: Health,
    /// Every URL its parts publish, sorted, once each.
    pub urls: Vec<String>,
}

/// One environment of a tenant: its namespace and the modules enabled in it.
#[derive(Debug, Clone)]
pub struct EnvRead {
    pub namespace: String,
    pub modules: BTreeMap<String, ModuleRead>,
    /// Where it runs, when the catalog places tenant-envs on clusters.
    pub placement: Option<berth_core::files::Placement>,
}

/// A module as the tenant's values file pins it: the chart version and the caller's overrides.
#[derive(Debug, Clone)]
pub struct ModuleRead {
    pub version: Option<String>,
    pub values: serde_json::Value,
}

pub async fn tenant(
    app: &App,
    visibility: &Visibility,
    tenant: &TenantName,
) -> Result<TenantRead, UseCaseError> {
    visibility.require(tenant.as_str())?;
    let snapshot = app.committer.read(read_set(tenant)).await?;
    let dir = paths::tenant_dir(tenant);
    if !snapshot.files.keys().any(|p| p.starts_with(&dir)) {
        return Err(no_such_tenant(tenant));
    }
    let reviewer = Reviewer::new(&snapshot.files);
    let indexed = index_tenant(&reviewer, tenant, &snapshot.files);
    let model = TenantModel::read(tenant, &snapshot.files).ok().flatten();
    let statuses = app.store.list_statuses(tenant.as_str()).await?;
    let entry = app.store.get_tenant(tenant.as_str()).await?;
    let mut urls: Vec<String> = statuses.iter().flat_map(|s| s.urls.clone()).collect();
    urls.sort();
    urls.dedup();
    Ok(TenantRead {
        revision: snapshot.tip,
        indexed,
        entry,
        envs: model.as_ref().map(envs_of).unwrap_or_default(),
        health: overall_health(&statuses),
        statuses,
        urls,
    })
}

fn envs_of(model: &TenantModel) -> BTreeMap<String, EnvRead> {
    let env_read = |env| {
        let modules = model
            .modules
            .iter()
            .filter(|((e, _), _)| e == env)
            .map(|((_, module), values)| {
                let read = ModuleRead {
                    version: values.module.version.clone(),
                    values: serde_json::to_value(&values.overrides)
                        .unwrap_or(serde_json::Value::Null),
                };
                (module.to_string(), read)
            })
            .collect();
        EnvRead {
            namespace: paths::namespace(&model.spec.name, env),
            modules,
            placement: model.envs.get(env).and_then(|b| b.placement.clone()),
        }
    };
    model
        .envs
        .keys()
        .map(|env| (env.to_string(), env_read(env)))
        .collect()
}

/// A tenant's parts as the status function last saw them.
#[derive(Debug, Clone)]
pub struct TenantStatuses {
    pub statuses: Vec<StatusRecord>,
    pub health: Health,
}

/// `tenant`'s statuses from the store; a tenant with none that the index does not know either
/// does not exist.
pub async fn tenant_statuses(
    app: &App,
    visibility: &Visibility,
    tenant: &TenantName,
) -> Result<TenantStatuses, UseCaseError> {
    visibility.require(tenant.as_str())?;
    let statuses = app.store.list_statuses(tenant.as_str()).await?;
    if statuses.is_empty() && app.store.get_tenant(tenant.as_str()).await?.is_none() {
        return Err(no_such_tenant(tenant));
    }
    Ok(TenantStatuses {
        health: overall_health(&statuses),
        statuses,
    })
}

/// The entity tag of an answer's bytes: the same bytes, the same tag, quoted as HTTP wants it.
pub fn entity_tag(body: &[u8]) -> String {
    format!(
        "\"{}\"",
        &crate::fingerprint::fingerprint("GET", "status", body)[..32]
    )
}

/// The files `commit` changed in `tenant`'s folder; `None` when Git cannot say right now (the
/// rest of the answer stands) or does not hold the commit on the branch.
pub async fn commit_diff(app: &App, tenant: &str, commit: String) -> Option<Vec<FileDiff>> {
    let tenant = TenantName::parse("tenant", tenant).ok()?;
    match tenant_commit_diff(app, &tenant, commit.clone()).await {
        Ok(files) => files,
        Err(e) => {
            tracing::warn!(%commit, error = %e, "could not read a commit for its diff summary");
            None
        }
    }
}

/// The files `commit` changed in `tenant`'s folder (none when it changed none); `None` when the
/// branch does not hold the commit. A Git failure is the caller's error to answer, not an
/// empty diff.
pub async fn tenant_commit_diff(
    app: &App,
    tenant: &TenantName,
    commit: String,
) -> Result<Option<Vec<FileDiff>>, UseCaseError> {
    let files = app
        .committer
        .commit_files(commit, paths::tenant_dir(tenant))
        .await?;
    Ok(files.map(|files| diff_files(&files.before, &files.after)))
}

/// The worst health among the parts of a tenant Git wants; `unknown` when none was observed.
fn overall_health(statuses: &[StatusRecord]) -> Health {
    overall(statuses.iter().map(|s| Health::parse(&s.health)))
}

fn no_such_tenant(tenant: &TenantName) -> UseCaseError {
    UseCaseError::new(
        ErrorKind::NotFound,
        ErrorCode::NotFound,
        format!("tenant {tenant} does not exist"),
    )
    .with_field("tenant")
}
