//! Planning a revert: put back, byte for byte, the files an earlier request changed, unless a
//! later change touched them since (a conflict the caller may override with `force`).

use crate::catalog::Catalog;
use crate::charts::check_against_charts;
use crate::error::{FieldError, PlanError};
use crate::model::{Change, RepoFiles, TenantModel};
use crate::paths;
use crate::request::{Request, Restore, request_trailers};
use crate::upstream::ChartShelf;

/// Plans `request`, a revert described by `restore`, against the files at the tip.
pub fn plan_restore(
    request: &Request,
    restore: &Restore,
    files: &RepoFiles,
    catalog: &Catalog,
    charts: &ChartShelf,
) -> Result<Change, PlanError> {
    let dir = paths::tenant_dir(&request.tenant);
    let mut change = Change::default();
    let mut overridden = Vec::new();
    for (path, before) in &restore.before {
        // The paths come from Git's diff of the tenant's folder; one outside it is refused, so
        // no stored payload can make a revert write elsewhere.
        if !path.starts_with(&dir) {
            return Err(FieldError::invalid(
                "id",
                format!("{path} is outside tenant {}'s folder", request.tenant),
            )
            .into());
        }
        let now = files.get(path).map(Vec::as_slice);
        let left = restore.left.get(path).cloned().flatten();
        if now != left.as_deref().map(str::as_bytes) {
            if !restore.force {
                return Err(conflict(restore, path).into());
            }
            overridden.push(path.as_str());
        }
        match before {
            Some(bytes) if now != Some(bytes.as_bytes()) => {
                change
                    .writes
                    .insert(path.clone(), bytes.clone().into_bytes());
            }
            None if now.is_some() => {
                change.deletes.insert(path.clone());
            }
            _ => {}
        }
    }
    // What the revert leaves must still be a tenant Berth can read, within its charts' schemas.
    let mut after = files.clone();
    change.apply_to(&mut after);
    TenantModel::read(&request.tenant, &after)?;
    check_against_charts(request, &change, files, catalog, charts)?;
    change.message = message(request, restore, &overridden);
    Ok(change)
}

/// The refusal of a revert over a later change to `path`.
fn conflict(restore: &Restore, path: &str) -> FieldError {
    let by = restore
        .changed_by
        .get(path)
        .map_or_else(|| "a later change".to_owned(), Clone::clone);
    FieldError::conflict(
        "force",
        format!(
            "{path} was changed by {by} after request {}; revert that first, or send \
             ?force=true to restore it anyway",
            restore.reverts
        ),
    )
}

fn message(request: &Request, restore: &Restore, overridden: &[&str]) -> String {
    let short = &restore.commit[..restore.commit.len().min(12)];
    let mut message = format!(
        "Revert \"{}\"\n\nThis reverts request {} (commit {short}).\n",
        restore.title, restore.reverts
    );
    if !overridden.is_empty() {
        message.push_str(&format!(
            "Forced: restored over later changes to {}.\n",
            overridden.join(", ")
        ));
    }
    message.push_str(&format!("\n{}\n", request_trailers(request)));
    message
}
