//! GitHub pull requests: every opened or updated pull request is reviewed with the rules Berth
//! applies to its own commits, and the verdict set as the commit status `berth/validate`; a
//! merged Berth branch advances its request to `merged`.

use std::collections::BTreeSet;

use berth_core::TenantName;
use berth_core::catalog::CATALOG_PATH;
use berth_core::review::{Problem, Reviewer};
use berth_core::schema::CHART_READS;
use berth_core::tenant_index::tenant_of_path;
use berth_events::billing::EventError;
use berth_events::events::{
    PullRequestEvent, PushEvent, parse_pull_request_event, parse_push_event,
};
use berth_gitops::PullRequestState;
use berth_store::RequestState;
use octocrab::models::StatusState;

pub use super::github_api::GithubApi;
use super::plan_comment::{PullRef, upsert_plan_comment};
use super::{Effect, event_record};
use crate::app::App;
use crate::error::{ErrorCode, UseCaseError};
use crate::git_index::{ChangeCommit, refresh_pushed};
use crate::pull_request::follow;
use berth_core::pr_plan::{COMMENT_LIMIT, plan_tenant, render_comment};

/// A pull request's review: what Berth set as its `berth/validate` status, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Every touched tenant is valid.
    pub passed: bool,
    /// The status's description, as GitHub shows it.
    pub description: String,
    pub problems: Vec<Problem>,
}

/// The commit status context Berth sets.
pub const STATUS_CONTEXT: &str = "berth/validate";
/// GitHub's limit on a status description.
const DESCRIPTION_MAX: usize = 140;

fn event_error(e: EventError) -> UseCaseError {
    UseCaseError::invalid(e.field, e.reason)
}

/// What a GitHub event does.
pub async fn github_effect(
    app: &App,
    api: &GithubApi,
    request_id: String,
    event: &str,
    body: &[u8],
) -> Result<Effect, UseCaseError> {
    match event {
        "ping" => Ok(Effect::Reported {
            outcome: "pong",
            request: None,
        }),
        "pull_request" => {
            let pr = parse_pull_request_event(body).map_err(event_error)?;
            match pr.action.as_str() {
                "opened" | "synchronize" | "reopened" => {
                    review_pull_request(app, api, &request_id, &pr).await
                }
                "closed" => closed(app, &pr).await,
                other => Ok(Effect::Ignore(format!(
                    "pull_request {other} changes nothing"
                ))),
            }
        }
        "push" => {
            let push = parse_push_event(body).map_err(event_error)?;
            index_push(app, &push).await
        }
        other => Ok(Effect::Ignore(format!(
            "event {other} is not one Berth acts on"
        ))),
    }
}

/// A push to the branch (by hand, or a merged pull request): the tenant index entries of the
/// tenants its commits touched are read from the new tip at once, not at the next sweep. A
/// push GitHub listed only in part (it lists 20 commits at most) is completed by the sweep.
async fn index_push(app: &App, push: &PushEvent) -> Result<Effect, UseCaseError> {
    let branch = format!("refs/heads/{}", app.committer.branch());
    if push.reference != branch {
        return Ok(Effect::Ignore(format!(
            "push to {} is not to {branch}",
            push.reference
        )));
    }
    let tenants: BTreeSet<TenantName> = push
        .commits
        .iter()
        .flat_map(|c| &c.paths)
        .filter_map(|p| tenant_of_path(p))
        .collect();
    let commits: Vec<(ChangeCommit, Vec<String>)> = push
        .commits
        .iter()
        .map(|c| {
            let commit = ChangeCommit {
                sha: c.id.clone(),
                message: c.message.clone(),
                author: c.author.clone(),
                at: c.timestamp.clone(),
            };
            (commit, c.paths.clone())
        })
        .collect();
    let changed = refresh_pushed(app, &tenants, &commits).await?;
    tracing::info!(
        tenants = tenants.len(),
        changed,
        "tenant index refreshed from a push"
    );
    Ok(Effect::Reported {
        outcome: "indexed",
        request: None,
    })
}

async fn review_pull_request(
    app: &App,
    api: &GithubApi,
    request_id: &str,
    pr: &PullRequestEvent,
) -> Result<Effect, UseCaseError> {
    let number = pr.number;
    let sha = pr.head_commit().map_err(event_error)?;
    let (owner, repo) = pr.owner_and_name().map_err(event_error)?;

    // First what changed, then the files of the tenants it touched.
    let reference = format!("refs/pull/{number}/head");
    let changed = app
        .committer
        .read_ref(reference.clone(), Vec::new())
        .await?
        .changed;
    let mut problems = Vec::new();
    let mut tenants = BTreeSet::new();
    for path in changed.iter().filter_map(|p| p.strip_prefix("tenants/")) {
        let Some((name, _)) = path.split_once('/') else {
            continue;
        };
        match TenantName::parse("tenant", name) {
            Ok(tenant) => {
                tenants.insert(tenant);
            }
            Err(e) => problems.push(Problem {
                path: format!("tenants/{name}/"),
                field: String::new(),
                message: e.reason,
            }),
        }
    }
    let mut reads: Vec<String> = tenants.iter().map(berth_core::paths::tenant_dir).collect();
    reads.push(CATALOG_PATH.to_owned());
    reads.extend(CHART_READS.iter().map(|p| p.to_string()));
    let snapshot = app.committer.read_ref(reference, reads).await?;
    if snapshot.head != sha {
        // A newer push is already on its way with its own event; this review would be stale.
        return Ok(Effect::Ignore(format!(
            "pull request #{number} moved on from {sha}"
        )));
    }
    // Upstream charts the touched files pin, read so their values are checked as Berth's own
    // commits are; one that cannot be read fails the review rather than passing unchecked.
    let tenant_list: Vec<_> = tenants.iter().cloned().collect();
    for (path, want) in berth_core::review::archives_wanted(&snapshot.files, &tenant_list) {
        if let Err(e) = app.charts.fetch(std::slice::from_ref(&want)).await {
            problems.push(Problem {
                path,
                field: "module.chart_version".into(),
                message: format!("its chart could not be read to check the values: {e}"),
            });
        }
    }
    // One catalog parse and one schema per chart and tier for every tenant the pull request touches.
    let reviewer = Reviewer::with_charts(&snapshot.files, app.charts.shelf());
    for tenant in &tenants {
        problems.extend(reviewer.review(tenant, &snapshot.files));
    }
    // The plan first: a retry after a failed status finds and edits the same comment.
    let is_berths = pr
        .head_ref
        .as_deref()
        .is_some_and(|r| r.starts_with("berth/"));
    if !is_berths && !tenants.is_empty() {
        let pull = PullRef {
            owner,
            repo,
            number,
        };
        comment_plan(app, api, pull, &tenants, &snapshot.files, &problems).await?;
    }

    let (state, description) = if problems.is_empty() {
        (
            StatusState::Success,
            format!("{} tenant(s) checked, all valid", tenants.len()),
        )
    } else {
        (
            StatusState::Failure,
            format!("{} problem(s); first: {}", problems.len(), problems[0]),
        )
    };
    let description: String = description.chars().take(DESCRIPTION_MAX).collect();
    api.client
        .repos(owner, repo)
        .create_status(sha.to_owned(), state)
        .context(STATUS_CONTEXT.to_owned())
        .description(description.clone())
        .send()
        .await
        .map_err(|e| {
            UseCaseError::unavailable(
                ErrorCode::GithubUnavailable,
                format!("setting the commit status failed: {e}"),
            )
        })?;

    let review = Review {
        passed: problems.is_empty(),
        description,
        problems,
    };
    let mut record = event_record(
        request_id,
        "review_pull_request",
        "",
        RequestState::NoChange,
    );
    record.commit = Some(sha.to_owned());
    record.pr_url = pr.html_url.clone();
    Ok(Effect::Reviewed { record, review })
}

/// Reviews the open pull requests touching `tenants/` whose head has no `berth/validate`
/// status: their delivery failed (GitHub or the store briefly down), and GitHub does not
/// redeliver by itself. Their plan comment is caught up the same way. One query finds them;
/// returns how many were reviewed. A review that fails again is logged and left for the next
/// sweep.
pub async fn review_missed(app: &App, api: &GithubApi) -> Result<usize, UseCaseError> {
    let Some(pulls) = &app.pulls else {
        return Ok(0);
    };
    let missed = pulls.unreviewed(STATUS_CONTEXT, "tenants/").await?;
    let mut reviewed = 0;
    for pull in missed {
        let event = PullRequestEvent {
            action: "synchronize".into(),
            number: pull.number,
            head_sha: Some(pull.head_sha),
            head_ref: Some(pull.head_ref),
            merged: false,
            merge_commit_sha: None,
            repository: pulls.repository(),
            html_url: Some(pull.url),
        };
        let request_id = ulid::Ulid::new().to_string();
        match review_pull_request(app, api, &request_id, &event).await {
            Ok(Effect::Reviewed { mut record, .. }) => {
                record.source = "sweep:github".into();
                app.store.put_request(&record).await?;
                tracing::info!(
                    number = event.number,
                    "a pull request whose review was missed is reviewed"
                );
                reviewed += 1;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(number = event.number, error = %e.message, "a missed pull request review failed again");
            }
        }
    }
    Ok(reviewed)
}

/// Writes the plan of a person's pull request as its Berth comment: each touched tenant as the
/// branch has it against the pull request's `head` files.
async fn comment_plan(
    app: &App,
    api: &GithubApi,
    pull: PullRef<'_>,
    tenants: &BTreeSet<TenantName>,
    head: &berth_core::RepoFiles,
    problems: &[Problem],
) -> Result<(), UseCaseError> {
    let reads = tenants.iter().map(berth_core::paths::tenant_dir).collect();
    let base = app.committer.read(reads).await?;
    let plans: Vec<_> = tenants
        .iter()
        .map(|t| plan_tenant(t, &base.files, head))
        .collect();
    let comment = render_comment(&plans, problems, COMMENT_LIMIT);
    upsert_plan_comment(api, pull, &comment).await
}

/// A closed `berth/<request id>` pull request: merged, its request is `merged` with the merge
/// commit; closed unmerged, `failed` with `pr_closed`.
async fn closed(app: &App, pr: &PullRequestEvent) -> Result<Effect, UseCaseError> {
    let branch = pr
        .head_ref
        .as_deref()
        .ok_or_else(|| UseCaseError::invalid("pull_request.head.ref", "is required"))?;
    let Some(id) = branch
        .strip_prefix("berth/")
        .filter(|id| ulid::Ulid::from_string(id).is_ok())
    else {
        return Ok(Effect::Ignore(format!(
            "branch {branch} is not one of Berth's"
        )));
    };
    let Some(mut record) = app.store.get_request(id).await? else {
        return Ok(Effect::Ignore(format!(
            "no request {id} for branch {branch}"
        )));
    };
    let pull = match (pr.merged, &pr.merge_commit_sha) {
        (true, Some(sha)) => PullRequestState::Merged {
            merge_commit: sha.clone(),
        },
        (true, None) => {
            return Err(UseCaseError::invalid(
                "pull_request.merge_commit_sha",
                "is required for a merged pull request",
            ));
        }
        (false, _) => PullRequestState::Closed,
    };
    if !follow(&mut record, &pull) {
        return Ok(Effect::Ignore(format!(
            "request {id} is not waiting on its pull request"
        )));
    }
    record.pr_url = pr.html_url.clone().or(record.pr_url);
    record.pr_number = record.pr_number.or(Some(pr.number));
    app.store.put_request(&record).await?;
    Ok(Effect::Reported {
        outcome: if pr.merged { "merged" } else { "closed" },
        request: Some(record),
    })
}
