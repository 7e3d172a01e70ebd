//! Reverting a request: find the commit it landed in, read what the tenant's files were before
//! it and as it left them, and hand the committer a [`Restore`] that puts them back. Whether a
//! later change touched them since is decided by the plan against the tip (so a retry of a
//! revert that landed settles from its trailer, never as a conflict); the history walk here only
//! names the change a conflict would be about.

use std::collections::BTreeMap;

use berth_core::paths::{tenant_dir, tenant_spec};
use berth_core::request::trailer_requests;
use berth_core::{Action, RepoFiles, Restore, TenantName};
use berth_gitops::CommitFiles;
use berth_store::{RequestRecord, RequestState};

use crate::error::ErrorCode;
use crate::lookup::{RequestLookup, look_up_request};
use crate::{App, ErrorKind, UseCaseError};

/// How many pages of the tenant's history are looked through to name a later change.
const CHANGED_BY_PAGES: usize = 5;

/// What the caller asked: `POST /v1/requests/{id}/revert?force&confirm`.
#[derive(Debug, Clone)]
pub struct RevertAsk {
    pub id: ulid::Ulid,
    pub force: bool,
    /// The tenant's name, required to revert its creation (which deletes it).
    pub confirm: Option<String>,
}

/// The revert of `ask.id`, ready to submit as a request of the returned tenant. `may_see`
/// says whether the caller may see a tenant: one it may not is answered as unknown.
pub async fn prepare_revert(
    app: &App,
    ask: &RevertAsk,
    may_see: impl Fn(&str) -> bool,
) -> Result<(TenantName, Action), UseCaseError> {
    let id = ask.id.to_string();
    let (tenant, commit) = reverted_commit(app, ask.id, may_see).await?;
    let folder = tenant_dir(&tenant);
    let files = app
        .committer
        .commit_files(commit.clone(), folder.clone())
        .await?
        .ok_or_else(|| {
            conflict(format!(
                "request {id}'s commit {commit} is not in the repository any more"
            ))
        })?;
    let paths: Vec<String> = files.changes().into_iter().map(|c| c.path).collect();
    if paths.is_empty() {
        return Err(conflict(format!(
            "request {id} changed nothing in {folder}: there is nothing to revert"
        )));
    }
    check_allowed(ask, &tenant, &files)?;
    let before = texts(&files.before, &paths)?;
    let left = texts(&files.after, &paths)?;
    let tip = app.committer.read(vec![folder]).await?;
    let changed: Vec<&String> = paths
        .iter()
        .filter(|p| tip.files.get(*p).map(Vec::as_slice) != left[*p].as_deref().map(str::as_bytes))
        .collect();
    let changed_by = if changed.is_empty() {
        BTreeMap::new()
    } else {
        later_changes(app, &tenant, (&id, &commit), &changed).await?
    };
    let restore = Restore {
        reverts: id,
        title: files.message.lines().next().unwrap_or_default().to_owned(),
        commit,
        before,
        left,
        changed_by,
        force: ask.force,
    };
    Ok((tenant, Action::Revert(restore)))
}

/// The tenant and commit of request `id`, from its record or, once that expired, from the
/// branch; a request of a tenant the caller may not see is unknown to it.
async fn reverted_commit(
    app: &App,
    id: ulid::Ulid,
    may_see: impl Fn(&str) -> bool,
) -> Result<(TenantName, String), UseCaseError> {
    let (tenant, commit) = match look_up_request(app, id).await? {
        RequestLookup::Recorded(record) if may_see(&record.tenant) => {
            (record.tenant.clone(), landed_commit(&record)?)
        }
        RequestLookup::Landed(landed) => match landed.tenant {
            Some(tenant) if may_see(&tenant) => (tenant, landed.commit),
            _ => return Err(not_found(&id.to_string())),
        },
        _ => return Err(not_found(&id.to_string())),
    };
    Ok((TenantName::parse("tenant", &tenant)?, commit))
}

/// What a revert needs the caller to say first: `force` to undo the other requests of the
/// tenant a group commit carried with it, `confirm` to undo the tenant's creation.
fn check_allowed(
    ask: &RevertAsk,
    tenant: &TenantName,
    files: &CommitFiles,
) -> Result<(), UseCaseError> {
    let id = ask.id.to_string();
    let siblings: Vec<String> = trailer_requests(&files.message)
        .into_iter()
        .filter(|c| c.id != id && c.tenant.as_deref().is_none_or(|t| t == tenant.as_str()))
        .map(|c| c.id)
        .collect();
    if !siblings.is_empty() && !ask.force {
        return Err(forced_only(format!(
            "commit {} also carries request {} for tenant {tenant}: reverting restores what \
             they changed too; send ?force=true to revert them together",
            files.sha,
            siblings.join(", ")
        )));
    }
    let spec = tenant_spec(tenant);
    let creates = !files.before.contains_key(&spec) && files.after.contains_key(&spec);
    if creates && ask.confirm.as_deref() != Some(tenant.as_str()) {
        return Err(UseCaseError::invalid(
            "confirm",
            format!(
                "request {id} created tenant {tenant}: reverting it deletes the tenant; add \
                 ?confirm={tenant}"
            ),
        ));
    }
    Ok(())
}

/// The commit a recorded request landed in on the branch, or why it cannot be reverted.
fn landed_commit(record: &RequestRecord) -> Result<String, UseCaseError> {
    let id = &record.id;
    let state = record.state;
    match (state, &record.commit) {
        (
            RequestState::Committed
            | RequestState::Merged
            | RequestState::Synced
            | RequestState::Ready
            | RequestState::Degraded,
            Some(commit),
        ) => Ok(commit.clone()),
        (RequestState::BranchPushed | RequestState::PrOpened, _) => Err(conflict(format!(
            "request {id}'s pull request is not merged: close it instead of reverting"
        ))),
        (RequestState::Rejected | RequestState::NoChange, _) => Err(conflict(format!(
            "request {id} changed nothing: there is nothing to revert"
        ))),
        _ => Err(conflict(format!(
            "request {id} has not landed ({}): there is nothing to revert yet",
            serde_json::to_value(state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ))),
    }
}

/// Each path's content as text (`None`: absent); values files are YAML, so UTF-8.
fn texts(
    files: &RepoFiles,
    paths: &[String],
) -> Result<BTreeMap<String, Option<String>>, UseCaseError> {
    paths
        .iter()
        .map(|path| {
            let text = match files.get(path) {
                None => None,
                Some(bytes) => Some(String::from_utf8(bytes.clone()).map_err(|_| {
                    conflict(format!("{path} is not UTF-8 text; Berth cannot restore it"))
                })?),
            };
            Ok((path.clone(), text))
        })
        .collect()
}

/// For each of `paths`, the newest change after `commit` that touched it, named as a person
/// would (`request <id>`, or `commit <sha> by <author>`), looking through a bounded part of
/// the tenant's history.
async fn later_changes(
    app: &App,
    tenant: &TenantName,
    (reverted, commit): (&str, &str),
    paths: &[&String],
) -> Result<BTreeMap<String, String>, UseCaseError> {
    let mut named = BTreeMap::new();
    let mut before = None;
    for _ in 0..CHANGED_BY_PAGES {
        let Some(page) = app
            .committer
            .folder_history(
                tenant_dir(tenant),
                before,
                crate::history::MAX_HISTORY_LIMIT,
            )
            .await?
        else {
            break;
        };
        for entry in &page.commits {
            let carried = trailer_requests(&entry.message);
            // The reverted request's own commit (or, on GitHub, its merged pull-request commit):
            // everything older is not later.
            if entry.sha == commit || carried.iter().any(|c| c.id == reverted) {
                return Ok(named);
            }
            let by = carried
                .into_iter()
                .find(|c| c.tenant.as_deref().is_none_or(|t| t == tenant.as_str()))
                .map_or_else(
                    || {
                        format!(
                            "commit {} by {}",
                            &entry.sha[..entry.sha.len().min(12)],
                            entry.author
                        )
                    },
                    |c| {
                        format!(
                            "request {} (commit {})",
                            c.id,
                            &entry.sha[..entry.sha.len().min(12)]
                        )
                    },
                );
            for file in &entry.files {
                if paths.contains(&&file.path) && !named.contains_key(&file.path) {
                    named.insert(file.path.clone(), by.clone());
                }
            }
        }
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    Ok(named)
}

/// Records that `revert`'s request undid the request it names: the original's record shows
/// `reverted_by`. Bookkeeping after the revert landed, so a failure is logged, not answered.
pub async fn mark_reverted(app: &App, revert: &RequestRecord) {
    let Some(original) = &revert.reverts else {
        return;
    };
    let landed = matches!(
        revert.state,
        RequestState::Committed | RequestState::BranchPushed | RequestState::PrOpened
    );
    if !landed {
        return;
    }
    let result = async {
        let Some(mut record) = app.store.get_request(original).await? else {
            return Ok(());
        };
        if record.reverted_by.as_deref() == Some(revert.id.as_str()) {
            return Ok(());
        }
        record.reverted_by = Some(revert.id.clone());
        app.store.put_request(&record).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(request_id = %revert.id, original = %original, error = %e, "could not record reverted_by on the reverted request");
    }
}

fn not_found(id: &str) -> UseCaseError {
    UseCaseError::new(
        ErrorKind::NotFound,
        ErrorCode::NotFound,
        format!("no request {id}"),
    )
    .with_field("id")
}

fn conflict(message: String) -> UseCaseError {
    UseCaseError::new(ErrorKind::Conflict, ErrorCode::Conflict, message).with_field("id")
}

fn forced_only(message: String) -> UseCaseError {
    UseCaseError::new(ErrorKind::Conflict, ErrorCode::Conflict, message).with_field("force")
}
