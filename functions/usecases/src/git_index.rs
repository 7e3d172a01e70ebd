//! The tenant index follows Git. Berth's own requests update the index as they commit; this
//! is how it learns everything else: tenants that were in the repository before Berth, and
//! tenants people changed by hand or through a pull request.
//!
//! Each entry records the digest of its tenant's folder as it was read
//! (`berth_core::tenant_index::folder_digests`). A pass compares the folders at the tip with
//! those digests and reads, reviews and writes only the tenants whose folders differ; a warm
//! process remembers the tip and the digests it left, so a tip that has not moved costs
//! nothing at all.

use std::collections::{BTreeMap, BTreeSet};

use berth_core::review::Reviewer;
use berth_core::schema::CHART_READS;
use berth_core::tenant_index::{IndexedTenant, folder_digests, index_tenant, request_for_tenant};
use berth_core::{RepoFiles, TenantName};
use berth_store::{BatchRecords, IndexProblem, IndexTip, LastChange, TenantEntry};
use serde::Serialize;

use crate::app::App;
use crate::error::UseCaseError;
use crate::time::now_rfc3339;

/// Tenants read and written in one pass at most: a repository seen for the first time is
/// indexed across passes, each well inside the status function's deadline (the rest are still
/// "changed" for the next pass, which goes on from there).
pub const INDEX_WRITES_PER_PASS: usize = 5_000;
/// Tenants whose last commit is looked up in one pass at most (a history read each); beyond
/// it, as on a repository's first indexing, `last_change` is left unknown rather than slow.
pub const HISTORY_LOOKUPS_PER_PASS: usize = 50;

/// What a pass did, for the sweep's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexPass {
    /// The tip was the one the last pass of this process reconciled: nothing was read.
    pub tip_unmoved: bool,
    /// Entries written (added or changed) and removed.
    pub written: usize,
    pub removed: usize,
    /// Of those written, tenants whose files fail the review.
    pub invalid: usize,
    /// Changed tenants left for the next pass ([`INDEX_WRITES_PER_PASS`]).
    pub deferred: usize,
    /// Entries Berth's own requests wrote after this pass read Git, left as they are.
    pub newer_kept: usize,
    /// Git reads made beyond the sweep's own: chart files for the review, and history lookups.
    pub git_reads: usize,
    /// Store reads made: the index listed (cold) or changed entries read (warm).
    pub store_reads: usize,
}

/// What one process last reconciled: the tip, and each entry's folder digest as stored
/// (`None` until this process needed them: a cold start on an unmoved tip reads no entry).
struct Known {
    tip: Option<String>,
    digests: Option<Digests>,
}

/// Each entry's folder digest as stored, by tenant; `None` for an entry Berth's request wrote
/// without one.
type Digests = BTreeMap<String, Option<String>>;

/// Reconciles the tenant index with Git; holds what this process last left, so a warm sweeper
/// reads nothing while the tip stays where it was.
#[derive(Default)]
pub struct GitIndex {
    known: tokio::sync::Mutex<Option<Known>>,
}

/// A commit that changed a tenant, as a pass or a push event learned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCommit {
    pub sha: String,
    pub message: String,
    /// `Name <email>`.
    pub author: String,
    /// RFC 3339.
    pub at: String,
}

impl GitIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Brings the index in line with `files` (the `tenants/` tree at `tip`), read at `read_at`
    /// (RFC 3339): an entry Berth's own request wrote after that moment is newer than these
    /// files and is left as it is.
    pub async fn reconcile(
        &self,
        app: &App,
        tip: &str,
        mut files: RepoFiles,
        read_at: &str,
    ) -> Result<IndexPass, UseCaseError> {
        let mut guard = self.known.lock().await;
        let mut pass = IndexPass::default();
        if guard.is_none() {
            // Cold: one read says whether the index is already in line with this tip.
            pass.store_reads += 1;
            let stored = app.store.index_tip().await?;
            *guard = Some(Known {
                tip: stored.map(|t| t.tip),
                digests: None,
            });
        }
        if guard.as_ref().and_then(|k| k.tip.as_deref()) == Some(tip) {
            pass.tip_unmoved = true;
            return Ok(pass);
        }
        // Taken out: a failure below leaves nothing remembered, and the next pass reads afresh.
        let known = guard.take().and_then(|k| k.digests);
        // A warm pass knows only what it wrote itself; a cold one lists the whole index.
        let warm = known.is_some();
        let (mut digests, mut listed) = match known {
            Some(digests) => (digests, BTreeMap::new()),
            None => {
                pass.store_reads += 1;
                list_index(app).await?
            }
        };
        let folders = folder_digests(&files);
        let (mut changed, gone) = diff_folders(&folders, &digests);
        pass.deferred = changed.len().saturating_sub(INDEX_WRITES_PER_PASS);
        changed.truncate(INDEX_WRITES_PER_PASS);
        let reconciled_before = digests.values().any(Option::is_some);

        let olds = read_olds(app, &mut listed, &changed, &gone, warm, &mut pass).await?;
        let newer = newer_than_tip(app, &olds, tip, read_at).await?;

        // What needs writing: changed, not newer in the store, not already current there.
        let mut to_write = Vec::new();
        for (tenant, digest) in changed {
            let old = olds.get(tenant.as_str()).and_then(Option::as_ref);
            if newer.contains(tenant.as_str()) {
                pass.newer_kept += 1;
            } else if old.is_some_and(|e| e.git_digest.as_ref() == Some(digest)) {
                digests.insert(tenant.to_string(), Some(digest.clone()));
            } else {
                to_write.push((tenant, digest, old));
            }
        }
        if !to_write.is_empty() {
            pass.git_reads += 1;
            let charts = app
                .committer
                .read(CHART_READS.iter().map(|p| p.to_string()).collect())
                .await?;
            files.extend(charts.files);
        }
        let history = match reconciled_before && to_write.len() <= HISTORY_LOOKUPS_PER_PASS {
            true => {
                let tenants: Vec<&TenantName> = to_write.iter().map(|(t, _, _)| *t).collect();
                pass.git_reads += tenants.len();
                last_commits(app, &tenants).await?
            }
            false => BTreeMap::new(),
        };

        let reviewer = Reviewer::new(&files);
        let mut puts = Vec::new();
        for (tenant, digest, old) in to_write {
            let indexed = index_tenant(&reviewer, tenant, &files);
            pass.invalid += usize::from(!indexed.problems.is_empty());
            let entry = entry_from_git(indexed, digest.clone(), history.get(tenant), old);
            digests.insert(tenant.to_string(), entry.git_digest.clone());
            puts.push(entry);
        }
        let mut removes = Vec::new();
        for name in gone {
            if newer.contains(&name) {
                pass.newer_kept += 1;
                continue;
            }
            digests.remove(&name);
            // Already removed (by Berth's own request, or a push) since this process looked.
            if olds.get(&name).is_some_and(Option::is_some) {
                removes.push(name);
            }
        }
        if !puts.is_empty() || !removes.is_empty() {
            let batch = BatchRecords {
                tenants: &puts,
                removed_tenants: &removes,
                ..BatchRecords::default()
            };
            app.store.record_batch(batch).await?;
        }
        pass.written = puts.len();
        pass.removed = removes.len();
        if !puts.is_empty() || !removes.is_empty() {
            // One line a pass: a first indexing writes thousands of entries.
            tracing::info!(
                written = pass.written,
                removed = pass.removed,
                invalid = pass.invalid,
                "tenant index brought in line with Git"
            );
        }
        // What was deferred or kept must be looked at again, even if the tip stays put.
        let settled = pass.deferred == 0 && pass.newer_kept == 0;
        if settled {
            app.store
                .put_index_tip(&IndexTip {
                    tip: tip.to_owned(),
                })
                .await?;
        }
        *guard = Some(Known {
            tip: settled.then(|| tip.to_owned()),
            digests: Some(digests),
        });
        Ok(pass)
    }
}

/// Every entry of the index by name, and the folder digest each records.
async fn list_index(app: &App) -> Result<(Digests, BTreeMap<String, TenantEntry>), UseCaseError> {
    let listed: BTreeMap<String, TenantEntry> = app
        .store
        .list_tenants()
        .await?
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect();
    let digests = listed
        .iter()
        .map(|(name, e)| (name.clone(), e.git_digest.clone()))
        .collect();
    Ok((digests, listed))
}

/// The tenant folders whose digest differs from the stored one (new ones included), and the
/// stored tenants Git no longer has a folder for.
fn diff_folders<'a>(
    folders: &'a BTreeMap<TenantName, String>,
    digests: &Digests,
) -> (Vec<(&'a TenantName, &'a String)>, Vec<String>) {
    let changed = folders
        .iter()
        .filter(|(t, d)| digests.get(t.as_str()) != Some(&Some((*d).clone())))
        .collect();
    let gone = digests
        .keys()
        .filter(|name| TenantName::parse("tenant", name).is_ok_and(|t| !folders.contains_key(&t)))
        .cloned()
        .collect();
    (changed, gone)
}

/// The entries about to be replaced or removed: from the listing a cold pass made, else read
/// one by one (a warm pass knows only what it wrote itself, and Berth's own requests may have
/// written an entry since, already current).
async fn read_olds(
    app: &App,
    listed: &mut BTreeMap<String, TenantEntry>,
    changed: &[(&TenantName, &String)],
    gone: &[String],
    warm: bool,
    pass: &mut IndexPass,
) -> Result<BTreeMap<String, Option<TenantEntry>>, UseCaseError> {
    let names = changed
        .iter()
        .map(|(t, _)| t.to_string())
        .chain(gone.iter().cloned());
    let mut olds = BTreeMap::new();
    for name in names {
        let old = match listed.remove(&name) {
            Some(entry) => Some(entry),
            None if warm => {
                pass.store_reads += 1;
                app.store.get_tenant(&name).await?
            }
            None => None,
        };
        olds.insert(name, old);
    }
    Ok(olds)
}

/// The entries among `olds` that Berth's own requests wrote from a commit `tip` does not
/// hold yet: they are newer than the files this pass read, and are left as they are.
/// Only entries written since `read_at` can be (timestamps are whole seconds, so the
/// commit's ancestry decides).
async fn newer_than_tip(
    app: &App,
    olds: &BTreeMap<String, Option<TenantEntry>>,
    tip: &str,
    read_at: &str,
) -> Result<BTreeSet<String>, UseCaseError> {
    let recent: Vec<(&String, &str)> = olds
        .iter()
        .filter_map(|(name, old)| {
            let old = old.as_ref()?;
            let commit = old.last_change.as_ref()?.commit.as_str();
            (old.updated_at.as_str() >= read_at).then_some((name, commit))
        })
        .collect();
    if recent.is_empty() {
        return Ok(BTreeSet::new());
    }
    let pairs = recent
        .iter()
        .map(|(_, commit)| ((*commit).to_owned(), tip.to_owned()))
        .collect();
    let held = app.committer.contains(pairs).await?;
    Ok(recent
        .into_iter()
        .zip(held)
        .filter(|(_, held)| !held)
        .map(|((name, _), _)| name.clone())
        .collect())
}

/// Brings the entries of `tenants` in line with their folders at the branch tip, at once: what
/// a push to the branch does, without waiting for a sweep. `commits` are the pushed commits,
/// oldest first, with the paths each changed: the newest one touching a tenant is its last
/// change. Returns how many entries were written or removed.
pub async fn refresh_pushed(
    app: &App,
    tenants: &BTreeSet<TenantName>,
    commits: &[(ChangeCommit, Vec<String>)],
) -> Result<usize, UseCaseError> {
    if tenants.is_empty() {
        return Ok(0);
    }
    let mut reads: Vec<String> = tenants.iter().map(berth_core::paths::tenant_dir).collect();
    reads.push(berth_core::catalog::CATALOG_PATH.to_owned());
    reads.extend(CHART_READS.iter().map(|p| p.to_string()));
    let snapshot = app.committer.read(reads).await?;
    let digests = folder_digests(&snapshot.files);
    let (mut puts, mut removes) = (Vec::new(), Vec::new());
    let reviewer = Reviewer::new(&snapshot.files);
    for tenant in tenants {
        let Some(digest) = digests.get(tenant) else {
            removes.push(tenant.to_string());
            continue;
        };
        let last = commits
            .iter()
            .rev()
            .find(|(_, paths)| {
                paths
                    .iter()
                    .any(|p| berth_core::tenant_index::tenant_of_path(p).as_ref() == Some(tenant))
            })
            .map(|(commit, _)| commit);
        let old = app.store.get_tenant(tenant.as_str()).await?;
        let indexed = index_tenant(&reviewer, tenant, &snapshot.files);
        puts.push(entry_from_git(indexed, digest.clone(), last, old.as_ref()));
    }
    let batch = BatchRecords {
        tenants: &puts,
        removed_tenants: &removes,
        ..BatchRecords::default()
    };
    app.store.record_batch(batch).await?;
    Ok(puts.len() + removes.len())
}

/// The newest commit that changed each of `tenants`' folders, one history read each.
async fn last_commits<'a>(
    app: &App,
    tenants: &[&'a TenantName],
) -> Result<BTreeMap<&'a TenantName, ChangeCommit>, UseCaseError> {
    let mut found = BTreeMap::new();
    for tenant in tenants {
        if let Some(commit) = last_commit(app, tenant).await? {
            found.insert(*tenant, commit);
        }
    }
    Ok(found)
}

/// The newest commit of the branch that changed `tenant`'s folder.
async fn last_commit(app: &App, tenant: &TenantName) -> Result<Option<ChangeCommit>, UseCaseError> {
    let folder = berth_core::paths::tenant_dir(tenant);
    let page = app.committer.folder_history(folder, None, 1).await?;
    Ok(page
        .and_then(|p| p.commits.into_iter().next())
        .map(|c| ChangeCommit {
            sha: c.sha,
            message: c.message,
            author: c.author,
            at: crate::time::rfc3339_at(c.committed_at),
        }))
}

/// The index entry Git gives a tenant: `last` is the commit that last changed its folder, when
/// known; `old` the entry it replaces, whose request it keeps when the commit carries none.
fn entry_from_git(
    indexed: IndexedTenant,
    git_digest: String,
    last: Option<&ChangeCommit>,
    old: Option<&TenantEntry>,
) -> TenantEntry {
    let last_change = last.map(|c| {
        let request = request_for_tenant(&c.message, indexed.name.as_str());
        LastChange {
            commit: c.sha.clone(),
            author: c.author.clone(),
            at: c.at.clone(),
            source: if request.is_some() { "berth" } else { "git" }.to_owned(),
            request,
        }
    });
    let last_request = last_change
        .as_ref()
        .and_then(|c| c.request.clone())
        .or_else(|| old.map(|e| e.last_request.clone()))
        .or_else(|| indexed.created_by.clone())
        .unwrap_or_default();
    TenantEntry {
        name: indexed.name.to_string(),
        tier: indexed.tier,
        state: indexed.state,
        display_name: indexed.display_name,
        customer_id: indexed.customer_id,
        last_request,
        // When the entry was written, not when the commit was: an author's clock may be off.
        updated_at: now_rfc3339(),
        owner: indexed.owner,
        git_digest: Some(git_digest),
        last_change,
        problems: indexed
            .problems
            .into_iter()
            .map(|p| IndexProblem {
                file: p.path,
                field: p.field,
                reason: p.message,
            })
            .collect(),
    }
}
