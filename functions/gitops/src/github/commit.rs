//! One commit through GitHub: read the branch head and the plan's files pinned under it, plan,
//! and `createCommitOnBranch` with `expectedHeadOid`; a pull request's branch is started at the
//! head first. A commit whose answer was lost is looked for by its trailer, not sent again.

use std::time::Duration;

use berth_core::Change;
use http::Method;
use serde_json::json;

use super::answer::{ErrorMeaning, commit_answer, error_meaning};
use super::client::{CallError, refusal};
use super::wire::{COMMIT_MUTATION, Pin, commit_input};
use crate::attempts::Tried;
use crate::{CommitError, CommitOutcome, CommitRequest, Committer, GitError, PlanFn, Target};

use super::{GithubCommitter, answer_error, git_error};

impl GithubCommitter {
    /// One read, plan and mutation of `request` onto `branch`.
    pub(super) async fn attempt(
        &self,
        request: &CommitRequest,
        plan: &PlanFn,
    ) -> Result<Tried, CommitError> {
        let snapshot = match self
            .read_at(Pin::Branch(&self.config.branch), &request.reads)
            .await
        {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => {
                return Err(GitError::MissingBranch {
                    branch: self.config.branch.clone(),
                }
                .into());
            }
            Err(error @ GitError::Transport(_)) => return Ok(Tried::Unreached(error)),
            Err(e) => return Err(e.into()),
        };
        let change: Change = plan(&snapshot.files)?;
        let target = match &request.target {
            Target::Branch => self.config.branch.clone(),
            Target::NewBranch(name) => name.clone(),
        };
        let Some(input) = commit_input(
            self.repo(),
            &target,
            &snapshot.tip,
            &change,
            &snapshot.files,
        ) else {
            return Ok(Tried::Done(CommitOutcome::NoChange { tip: snapshot.tip }));
        };
        if let Target::NewBranch(name) = &request.target
            && let Some(sha) = self.start_branch(request, name, &snapshot.tip).await?
        {
            return Ok(Tried::Done(CommitOutcome::Committed {
                sha,
                branch: name.clone(),
            }));
        }
        let _one_at_a_time = self.mutations.lock().await;
        let sent = self
            .client
            .graphql(COMMIT_MUTATION, json!({ "input": input }))
            .await;
        match sent {
            Ok(answer) if answer.errors.is_empty() => {
                let data = answer.data.unwrap_or_default();
                let sha = commit_answer(&data).map_err(answer_error)?;
                Ok(Tried::Done(CommitOutcome::Committed {
                    sha,
                    branch: target,
                }))
            }
            Ok(answer) => match error_meaning(&answer.errors) {
                ErrorMeaning::StaleHead => {
                    Ok(Tried::LostRace("the branch moved since it was read".into()))
                }
                ErrorMeaning::RateLimited => Err(GitError::RateLimited {
                    retry_after: Duration::from_secs(60),
                }
                .into()),
                ErrorMeaning::Failed(reason) => Err(GitError::PushRejected { reason }.into()),
            },
            Err(CallError::NoAnswer(reason)) => {
                // The commit may have landed: the branch's history says, not a second send.
                tracing::warn!(request_id = %request.request_id, %reason, "no answer to the commit; looking for it on the branch");
                // A group commit carries several trailers, and the first is one of its own.
                let marker = berth_core::request::trailer_request_ids(&change.message)
                    .next()
                    .map_or_else(|| request.request_id.clone(), str::to_owned);
                match self.find_request(marker, Some(target.clone())).await {
                    Ok(Some(sha)) => Ok(Tried::Done(CommitOutcome::Committed {
                        sha,
                        branch: target,
                    })),
                    Ok(None) => Ok(Tried::Unreached(GitError::Transport(reason))),
                    Err(e) => Ok(Tried::Unreached(e)),
                }
            }
            Err(other) => Err(git_error(other).into()),
        }
    }

    /// Makes the pull-request branch `name` start at `head`. Returns the commit already on it
    /// when an earlier attempt of this request landed there; a branch left by an attempt that
    /// landed nothing is moved to `head` (only this request ever writes to it).
    async fn start_branch(
        &self,
        request: &CommitRequest,
        name: &str,
        head: &str,
    ) -> Result<Option<String>, GitError> {
        let refs = self.repo_route("/git/refs");
        let body = json!({"ref": format!("refs/heads/{name}"), "sha": head});
        let created = self
            .client
            .rest(Method::POST, &refs, Some(body))
            .await
            .map_err(git_error)?;
        match created.status {
            201 => return Ok(None),
            422 if super::client::message(&created.body).contains("Reference already exists") => {}
            _ => return Err(git_error(refusal(&created))),
        }
        if let Some(sha) = self
            .find_request(request.request_id.clone(), Some(name.to_owned()))
            .await?
        {
            return Ok(Some(sha));
        }
        let route = self.repo_route(&format!("/git/refs/heads/{name}"));
        let moved = self
            .client
            .rest(
                Method::PATCH,
                &route,
                Some(json!({"sha": head, "force": true})),
            )
            .await
            .map_err(git_error)?;
        if moved.status != 200 {
            return Err(git_error(refusal(&moved)));
        }
        Ok(None)
    }
}
