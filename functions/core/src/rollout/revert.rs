//! Undoing one applied wave: each of its tenants' files put back byte for byte as they were
//! before the wave's commit, by the restore a request's revert uses, with its conflict rule: a
//! tenant whose files changed since the wave is reported and left as it is, unless `force`.
//! One commit per wave, naming the rollout, the wave it undoes and each tenant it restores.

use std::collections::BTreeMap;

use crate::error::PlanError;
use crate::model::{Change, RepoFiles, load_catalog};
use crate::names::TenantName;
use crate::paths;
use crate::request::{Action, Request, Restore};
use crate::restore::plan_restore;
use crate::upstream::ChartShelf;

/// The trailer that numbers the wave a revert commit undoes.
pub const REVERT_TRAILER: &str = "Berth-Rollout-Revert";

/// A wave's revert, planned against the tip.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveRevert {
    pub change: Change,
    pub tenants: Vec<TenantName>,
    /// Tenants changed since the wave (or that no longer read), left as they are.
    pub conflicts: Vec<(TenantName, String)>,
}

/// The wave's commit: `tenants/` before it (its first parent) and as it left it.
#[derive(Debug, Clone, Copy)]
pub struct WaveFiles<'a> {
    pub commit: &'a str,
    pub before: &'a RepoFiles,
    pub after: &'a RepoFiles,
}

/// Plans the revert of wave `number` of rollout `id` against `files` at the tip.
pub fn plan_wave_revert(
    id: &str,
    number: u32,
    wave: WaveFiles<'_>,
    files: &RepoFiles,
    charts: &ChartShelf,
    force: bool,
) -> Result<WaveRevert, PlanError> {
    let catalog = load_catalog(files)?;
    let mut change = Change::default();
    let mut tenants = Vec::new();
    let mut conflicts = Vec::new();
    for (tenant, restore) in restores(id, wave, force) {
        let request = Request {
            id: id.to_owned(),
            tenant: tenant.clone(),
            action: Action::Revert(restore.clone()),
        };
        match plan_restore(&request, &restore, files, &catalog, charts) {
            Ok(restored) => {
                if restored.is_empty() {
                    continue;
                }
                change.writes.extend(restored.writes);
                change.deletes.extend(restored.deletes);
                tenants.push(tenant);
            }
            Err(PlanError::Field(e)) => conflicts.push((tenant, e.reason)),
            Err(other) => return Err(other),
        }
    }
    change.message = message(id, number, wave.commit, &tenants, &conflicts);
    Ok(WaveRevert {
        change,
        tenants,
        conflicts,
    })
}

/// One restore per tenant the wave's commit changed: each changed path's bytes before it and
/// as it left them.
fn restores(id: &str, wave: WaveFiles<'_>, force: bool) -> BTreeMap<TenantName, Restore> {
    let mut restores: BTreeMap<TenantName, Restore> = BTreeMap::new();
    let paths: std::collections::BTreeSet<&String> =
        wave.before.keys().chain(wave.after.keys()).collect();
    for path in paths {
        let (before, after) = (wave.before.get(path), wave.after.get(path));
        if before == after {
            continue;
        }
        let Some(tenant) = paths::tenant_of(path) else {
            continue;
        };
        let text = |b: Option<&Vec<u8>>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        let restore = restores.entry(tenant).or_insert_with(|| Restore {
            reverts: id.to_owned(),
            commit: wave.commit.to_owned(),
            title: format!("Rollout {id}"),
            before: BTreeMap::new(),
            left: BTreeMap::new(),
            changed_by: BTreeMap::new(),
            force,
        });
        restore.before.insert(path.clone(), text(before));
        restore.left.insert(path.clone(), text(after));
    }
    restores
}

fn message(
    id: &str,
    number: u32,
    commit: &str,
    tenants: &[TenantName],
    conflicts: &[(TenantName, String)],
) -> String {
    let short = &commit[..commit.len().min(12)];
    let mut message = format!(
        "Revert rollout {id}, wave {number}: {} tenant(s)\n\nThis restores the files of wave {number} (commit {short}).\n",
        tenants.len()
    );
    if !conflicts.is_empty() {
        let names: Vec<String> = conflicts.iter().map(|(t, _)| t.to_string()).collect();
        message.push_str(&format!(
            "Left as they are (changed since): {}\n",
            names.join(", ")
        ));
    }
    message.push('\n');
    message.push_str(&super::rollout_trailers(
        id,
        "rollout_revert",
        (REVERT_TRAILER, number),
        tenants,
    ));
    message
}
