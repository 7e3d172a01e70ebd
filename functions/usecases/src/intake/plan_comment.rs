//! Berth's plan comment on a person's pull request: one comment, found by its marker and edited
//! in place on every push, never a new one per push.

use berth_core::pr_plan::PLAN_MARKER;
use serde::{Deserialize, Serialize};

use super::github_api::GithubApi;
use crate::error::{ErrorCode, UseCaseError};

/// Pages of comments looked through for Berth's own, at 100 a page: a pull request with more
/// comments than that before Berth's gets a second plan comment rather than an endless read.
const COMMENT_PAGES: u32 = 5;

/// A comment as GitHub lists it: only what finding Berth's needs.
#[derive(Debug, Deserialize)]
struct IssueComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Debug, Serialize)]
struct CommentBody<'a> {
    body: &'a str,
}

/// Where a pull request is on GitHub.
#[derive(Debug, Clone, Copy)]
pub struct PullRef<'a> {
    pub owner: &'a str,
    pub repo: &'a str,
    pub number: u64,
}

/// Writes `body` as Berth's plan comment on `pull`: edits the comment carrying
/// [`PLAN_MARKER`] when there is one, else creates it. A retry after a failure finds what the
/// failed attempt created, so the pull request never gets two.
pub async fn upsert_plan_comment(
    api: &GithubApi,
    pull: PullRef<'_>,
    body: &str,
) -> Result<(), UseCaseError> {
    let PullRef {
        owner,
        repo,
        number,
    } = pull;
    let comments = format!("/repos/{owner}/{repo}/issues/{number}/comments");
    let mut existing = None;
    for page in 1..=COMMENT_PAGES {
        let query = [("per_page", "100".to_owned()), ("page", page.to_string())];
        let listed: Vec<IssueComment> = api
            .client
            .get(&comments, Some(&query))
            .await
            .map_err(|e| unavailable("listing the pull request's comments", e))?;
        let full = listed.len() == 100;
        existing = listed.into_iter().find(|c| {
            c.body
                .as_deref()
                .is_some_and(|b| b.starts_with(PLAN_MARKER))
        });
        if existing.is_some() || !full {
            break;
        }
    }
    let payload = CommentBody { body };
    match existing {
        Some(comment) => {
            let route = format!("/repos/{owner}/{repo}/issues/comments/{}", comment.id);
            let _: IssueComment = api
                .client
                .patch(route, Some(&payload))
                .await
                .map_err(|e| unavailable("editing the plan comment", e))?;
        }
        None => {
            let _: IssueComment = api
                .client
                .post(comments, Some(&payload))
                .await
                .map_err(|e| unavailable("writing the plan comment", e))?;
        }
    }
    Ok(())
}

fn unavailable(what: &str, e: octocrab::Error) -> UseCaseError {
    UseCaseError::unavailable(ErrorCode::GithubUnavailable, format!("{what} failed: {e}"))
}
