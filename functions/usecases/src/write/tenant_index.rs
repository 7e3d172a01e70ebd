//! The tenant index as a write leaves it: each tenant's entry after its request's commit
//! (tier, state, names and the digest of its folder, so the reconciliation with Git finds it
//! current), or removed with the tenant.

use std::collections::BTreeMap;

use berth_core::{Change, RepoFiles, TenantName, TenantSpec};
use berth_store::{LastChange, RequestRecord, TenantEntry, TenantIndexStore};

use crate::app::App;
use crate::error::UseCaseError;

/// What the tenant index should say after the commit.
#[derive(Debug, Clone)]
pub(crate) enum IndexUpdate {
    /// The spec, and the digest of the tenant's folder when the whole folder was known.
    Put(Box<TenantSpec>, Option<String>),
    Remove,
}

/// What the tenant index should say given `tenant`'s spec at the branch tip; `None` when the
/// spec cannot be read as one.
pub(crate) async fn tenant_index_at_tip(
    app: &App,
    tenant: &TenantName,
) -> Result<Option<IndexUpdate>, UseCaseError> {
    let mut index = index_at_tip(app, std::slice::from_ref(tenant)).await?;
    Ok(index.remove(tenant))
}

/// What the tenant index should say for each of `tenants`, from their specs at the branch tip
/// read at once: removed when the spec is gone, left out when it cannot be read as one.
pub(crate) async fn index_at_tip(
    app: &App,
    tenants: &[TenantName],
) -> Result<BTreeMap<TenantName, IndexUpdate>, UseCaseError> {
    let paths = tenants.iter().map(berth_core::paths::tenant_spec).collect();
    let snapshot = app.committer.read(paths).await?;
    let mut index = BTreeMap::new();
    for tenant in tenants {
        let path = berth_core::paths::tenant_spec(tenant);
        let update = match snapshot.files.get(&path) {
            None => Some(IndexUpdate::Remove),
            Some(bytes) => berth_core::files::parse::<TenantSpec>(&path, bytes)
                .ok()
                .map(|spec| IndexUpdate::Put(Box::new(spec), None)),
        };
        if let Some(update) = update {
            index.insert(tenant.clone(), update);
        }
    }
    Ok(index)
}

/// `tenant`'s index entry as `change` leaves it: from the `tenant.yaml` it writes, gone when it
/// deletes it, else as it was in `files`; `None` when the spec cannot be read as one.
pub(crate) fn index_after(
    tenant: &TenantName,
    files: &RepoFiles,
    change: &Change,
) -> Option<IndexUpdate> {
    let path = berth_core::paths::tenant_spec(tenant);
    let bytes = match change.writes.get(&path) {
        Some(bytes) => bytes,
        None if change.deletes.contains(&path) => return Some(IndexUpdate::Remove),
        None => files.get(&path)?,
    };
    let spec = berth_core::files::parse::<TenantSpec>(&path, bytes).ok()?;
    Some(IndexUpdate::Put(
        Box::new(spec),
        folder_digest_after(tenant, files, change),
    ))
}

/// The digest of `tenant`'s folder once `change` is committed on `files` (which hold the whole
/// folder, as a plan reads it), so the reconciliation with Git finds the entry current.
fn folder_digest_after(tenant: &TenantName, files: &RepoFiles, change: &Change) -> Option<String> {
    let dir = berth_core::paths::tenant_dir(tenant);
    let mut folder: RepoFiles = files
        .range(dir.clone()..)
        .take_while(|(p, _)| p.starts_with(&dir))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    // The catalog is part of the digest (it decides the tenant's validity).
    let catalog = berth_core::catalog::CATALOG_PATH;
    if let Some(bytes) = files.get(catalog) {
        folder.insert(catalog.to_owned(), bytes.clone());
    }
    for path in &change.deletes {
        folder.remove(path);
    }
    for (path, bytes) in change.writes.iter().filter(|(p, _)| p.starts_with(&dir)) {
        folder.insert(path.clone(), bytes.clone());
    }
    berth_core::tenant_index::folder_digests(&folder).remove(tenant)
}

/// The index entry of a tenant with `spec`, last changed by `record`'s request.
pub(crate) fn index_entry(
    spec: TenantSpec,
    git_digest: Option<String>,
    record: &RequestRecord,
) -> TenantEntry {
    TenantEntry {
        name: spec.name.to_string(),
        tier: spec.tier.to_string(),
        state: spec.state.as_str().to_owned(),
        display_name: spec.display_name,
        customer_id: spec.customer_id,
        last_request: record.id.clone(),
        updated_at: record.updated_at.clone(),
        owner: spec.owner,
        git_digest,
        last_change: record.commit.as_ref().map(|commit| LastChange {
            commit: commit.clone(),
            author: record
                .requested_by
                .clone()
                .unwrap_or_else(|| record.source.clone()),
            at: record.updated_at.clone(),
            source: "berth".into(),
            request: Some(record.id.clone()),
        }),
        problems: Vec::new(),
    }
}

pub(crate) async fn update_index(
    index: &dyn TenantIndexStore,
    record: &RequestRecord,
    update: IndexUpdate,
) -> Result<(), UseCaseError> {
    match update {
        IndexUpdate::Remove => index.delete_tenant(&record.tenant).await?,
        IndexUpdate::Put(spec, digest) => {
            index
                .put_tenant(&index_entry(*spec, digest, record))
                .await?
        }
    }
    Ok(())
}
