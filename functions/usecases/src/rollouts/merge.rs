//! `pr` mode: a wave committed onto a branch of its own counts once a person merged it.

use berth_store::{RolloutRecord, RolloutState};

use super::Stepped;
use super::commits::on_main;
use super::versioned::save;
use crate::{App, UseCaseError};

/// In `pr` mode, the newest wave counts once its pull request is merged: until then the step
/// waits (approval takes what it takes; no deadline runs). Merged, the wave's commit is what
/// the main branch got and its gates start now; closed unmerged, the rollout pauses.
/// `None` when the newest wave is not waiting for a merge.
pub(super) async fn await_merge(
    app: &App,
    record: &mut RolloutRecord,
    now: i64,
) -> Result<Option<Stepped>, UseCaseError> {
    let Some(wave) = record.committed.last_mut() else {
        return Ok(None);
    };
    let (Some(pull), Some(sha)) = (wave.pull.as_mut(), wave.commit.clone()) else {
        return Ok(None);
    };
    if pull.merged {
        return Ok(None);
    }
    let number = wave.number;
    let state = match (pull.number, &app.pulls) {
        (Some(n), Some(pulls)) => pulls
            .states(&[n])
            .await
            .ok()
            .and_then(|states| states.into_iter().next()),
        _ => None,
    };
    match state {
        Some(berth_gitops::PullRequestState::Merged { merge_commit }) => {
            wave.commit = Some(merge_commit);
        }
        Some(berth_gitops::PullRequestState::Closed) => {
            let reason = format!(
                "wave {number}'s pull request {} was closed without merging",
                pull.url.as_deref().unwrap_or(&pull.branch)
            );
            record.state = RolloutState::Paused;
            record.pause_reason = Some(reason.clone());
            save(app, record).await?;
            return Ok(Some(Stepped::Paused { reason }));
        }
        Some(berth_gitops::PullRequestState::Open) => return Ok(Some(Stepped::Waiting)),
        // No GitHub to ask: the main branch says whether the branch was merged.
        _ => {
            if !on_main(app, &sha).await? {
                return Ok(Some(Stepped::Waiting));
            }
        }
    }
    if let Some(pull) = wave.pull.as_mut() {
        pull.merged = true;
    }
    wave.committed_at = now;
    if !save(app, record).await? {
        return Ok(Some(Stepped::Raced));
    }
    Ok(Some(Stepped::Merged { wave: number }))
}
