//! What a person does to a running rollout: pause it (no wave is committed while paused),
//! resume it, abort it (applied waves stay as they are), or revert it (the status function
//! then commits one inverse change per applied wave, newest first). Each is one versioned
//! write of the record, so it cannot be lost to a racing status step.

use berth_store::{RolloutRecord, RolloutState};

use super::get;
use super::versioned::update;
use crate::error::{ErrorCode, ErrorKind};
use crate::{App, UseCaseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Abort,
    /// Restore over later changes to a tenant's files when `force`.
    Revert {
        force: bool,
    },
}

impl Control {
    pub fn name(self) -> &'static str {
        match self {
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Abort => "abort",
            Control::Revert { .. } => "revert",
        }
    }
}

/// Applies `control` to rollout `id` as `who`; answers the record as written. Asking for the
/// state a rollout is already in changes nothing.
pub async fn control(
    app: &App,
    id: &str,
    control: Control,
    who: &str,
) -> Result<RolloutRecord, UseCaseError> {
    let record = get(app, id).await?;
    update(
        app,
        record,
        |r| apply(r, control, who),
        "the rollout kept changing under the request; retry",
    )
    .await
}

/// `record` after `control`; `false` when it is already so.
fn apply(record: &mut RolloutRecord, control: Control, who: &str) -> Result<bool, UseCaseError> {
    use RolloutState::*;
    match (control, record.state) {
        (Control::Pause, Paused) | (Control::Resume, Running) | (Control::Abort, Aborted) => {
            return Ok(false);
        }
        (Control::Revert { .. }, Reverting | Reverted) => return Ok(false),
        (Control::Pause, Running) => {
            record.state = Paused;
            record.pause_reason = Some(format!("paused by {who}"));
        }
        (Control::Resume, Paused) => {
            record.state = Running;
            record.pause_reason = None;
        }
        (Control::Abort, Running | Paused) => {
            record.state = Aborted;
            record.pause_reason = Some(format!("aborted by {who}; applied waves stay"));
        }
        (Control::Revert { force }, Running | Paused | Done | Aborted) => {
            record.state = Reverting;
            record.force_revert = force;
            record.pause_reason = Some(format!("revert asked by {who}"));
        }
        (control, state) => {
            return Err(UseCaseError::new(
                ErrorKind::Conflict,
                ErrorCode::Conflict,
                format!(
                    "rollout {} is {}; it cannot {}",
                    record.id,
                    state.as_str(),
                    control.name()
                ),
            )
            .with_field("state"));
        }
    }
    Ok(true)
}
