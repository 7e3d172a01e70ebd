//! A tenant's history: the commits that changed its folder, newest first, each with the
//! requests it carried (from the trailers, and from the store while their records exist) and
//! the files it changed. Commits people made without Berth are listed too, marked as such.

use berth_core::TenantName;
use berth_core::file_diff::FileChange;
use berth_core::request::{CarriedRequest, trailer_requests};
use berth_gitops::FolderHistory;
use berth_store::RequestRecord;
use futures::StreamExt;

use crate::{App, UseCaseError};

/// How many entries a page holds when the caller does not say, and at most.
pub const DEFAULT_HISTORY_LIMIT: usize = 20;
pub const MAX_HISTORY_LIMIT: usize = 100;

/// Bounded walks of the history one page may take: a page looks through at most this many
/// times the committer's bound ([`berth_gitops::HISTORY_SEARCH_DEPTH`]) commits.
const WALKS_PER_PAGE: usize = 5;

/// Record reads in flight while a page is put together.
const RECORDS_IN_FLIGHT: usize = 8;

/// One commit that changed the tenant's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub commit: String,
    pub committed_at: i64,
    /// `Name <email>` of the commit's author.
    pub author: String,
    /// The commit message's first line.
    pub title: String,
    /// The requests of this tenant it carried; empty for a commit made without Berth.
    pub requests: Vec<HistoryRequest>,
    pub files: Vec<FileChange>,
}

/// A request a commit carried, with what its record (while it exists) adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRequest {
    pub id: String,
    pub action: Option<String>,
    pub reverts: Option<String>,
    /// The record, when the store still keeps it: who asked, its state, its revert.
    pub record: Option<RequestRecord>,
}

/// A page of a tenant's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantHistory {
    pub entries: Vec<HistoryEntry>,
    /// The `before` of the next page, when there is one.
    pub next_before: Option<String>,
}

/// Up to `limit` commits that changed `folder`, older than `before`: walks of the history
/// follow one another, each bounded by the committer, until the page is full, the history
/// ends, or [`WALKS_PER_PAGE`] walks were made; a quiet tenant's page may then come back short
/// with a cursor to go on from.
async fn walk(
    app: &App,
    folder: &str,
    before: Option<String>,
    limit: usize,
) -> Result<FolderHistory, UseCaseError> {
    let mut history = app
        .committer
        .folder_history(folder.to_owned(), before.clone(), limit)
        .await?
        .ok_or_else(|| {
            UseCaseError::invalid(
                "before",
                format!(
                    "{} is not a commit of branch {}",
                    before.unwrap_or_default(),
                    app.committer.branch()
                ),
            )
        })?;
    for _ in 1..WALKS_PER_PAGE {
        let Some(cursor) = history.next_before.clone() else {
            break;
        };
        let wanted = limit.saturating_sub(history.commits.len());
        if wanted == 0 {
            break;
        }
        let Some(more) = app
            .committer
            .folder_history(folder.to_owned(), Some(cursor), wanted)
            .await?
        else {
            break;
        };
        history.commits.extend(more.commits);
        history.next_before = more.next_before;
    }
    Ok(history)
}

/// The page of `tenant`'s history older than commit `before` (from the tip when `None`).
pub async fn tenant_history(
    app: &App,
    tenant: &TenantName,
    limit: usize,
    before: Option<String>,
) -> Result<TenantHistory, UseCaseError> {
    let folder = berth_core::paths::tenant_dir(tenant);
    let history = walk(app, &folder, before, limit).await?;
    // Each commit's requests of this tenant (a group commit carries other tenants' too), then
    // their records, a few reads in flight.
    let carried: Vec<Vec<CarriedRequest>> = history
        .commits
        .iter()
        .map(|commit| {
            trailer_requests(&commit.message)
                .into_iter()
                .filter(|c| c.tenant.as_deref().is_none_or(|t| t == tenant.as_str()))
                .collect()
        })
        .collect();
    let ids: Vec<String> = carried.iter().flatten().map(|c| c.id.clone()).collect();
    let mut records = futures::stream::iter(ids)
        .map(|id| async move { app.store.get_request(&id).await })
        .buffered(RECORDS_IN_FLIGHT)
        .collect::<Vec<_>>()
        .await
        .into_iter();
    let mut entries = Vec::with_capacity(history.commits.len());
    for (commit, carried) in history.commits.into_iter().zip(carried) {
        let mut requests = Vec::with_capacity(carried.len());
        for carried in carried {
            let record = records.next().transpose()?.flatten();
            requests.push(HistoryRequest {
                action: carried
                    .action
                    .or_else(|| record.as_ref().map(|r| r.action.clone())),
                reverts: carried
                    .reverts
                    .or_else(|| record.as_ref().and_then(|r| r.reverts.clone())),
                id: carried.id,
                record,
            });
        }
        entries.push(HistoryEntry {
            title: commit.message.lines().next().unwrap_or_default().to_owned(),
            commit: commit.sha,
            committed_at: commit.committed_at,
            author: commit.author,
            requests,
            files: commit.files,
        });
    }
    Ok(TenantHistory {
        entries,
        next_before: history.next_before,
    })
}
