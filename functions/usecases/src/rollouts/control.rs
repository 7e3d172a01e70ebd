//! What a person does to a running rollout: pause it (no wave is committed while paused),
//! resume it, abort it (applied waves stay as they are), or revert it (the status function
//! then commits one inverse change per applied wave, newest first). Each is one versioned
//! write of the record, so it cannot be lost to a racing status step.

use berth_store::{RolloutRecord, RolloutState};

use crate::error::{ErrorCode, ErrorKind};
use crate::time::now_rfc3339;
use crate::{App, UseCaseError};

/// Versioned writes tried before the caller is told to retry.
const WRITE_ATTEMPTS: usize = 5;

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

/// The rollout `id`, or 404.
pub async fn get(app: &App, id: &str) -> Result<RolloutRecord, UseCaseError> {
    app.store.get_rollout(id).await?.ok_or_else(|| {
        UseCaseError::new(
            ErrorKind::NotFound,
            ErrorCode::NotFound,
            format!("no rollout {id}"),
        )
        .with_field("id")
    })
}

/// Applies `control` to rollout `id` as `who`; answers the record as written. Asking for the
/// state a rollout is already in changes nothing.
pub async fn control(
    app: &App,
    id: &str,
    control: Control,
    who: &str,
) -> Result<RolloutRecord, UseCaseError> {
    for _ in 0..WRITE_ATTEMPTS {
        let record = get(app, id).await?;
        let Some(mut next) = apply(&record, control, who)? else {
            return Ok(record);
        };
        next.updated_at = now_rfc3339();
        if app.store.update_rollout(&next, record.version).await? {
            next.version = record.version + 1;
            return Ok(next);
        }
    }
    Err(UseCaseError::unavailable(
        ErrorCode::StoreUnavailable,
        "the rollout kept changing under the request; retry",
    ))
}

/// The record after `control`; `None` when it is already so.
fn apply(
    record: &RolloutRecord,
    control: Control,
    who: &str,
) -> Result<Option<RolloutRecord>, UseCaseError> {
    use RolloutState::*;
    let mut next = record.clone();
    match (control, record.state) {
        (Control::Pause, Paused) | (Control::Resume, Running) | (Control::Abort, Aborted) => {
            return Ok(None);
        }
        (Control::Revert { .. }, Reverting | Reverted) => return Ok(None),
        (Control::Pause, Running) => {
            next.state = Paused;
            next.pause_reason = Some(format!("paused by {who}"));
        }
        (Control::Resume, Paused) => {
            next.state = Running;
            next.pause_reason = None;
        }
        (Control::Abort, Running | Paused) => {
            next.state = Aborted;
            next.pause_reason = Some(format!("aborted by {who}; applied waves stay"));
        }
        (Control::Revert { force }, Running | Paused | Done | Aborted) => {
            next.state = Reverting;
            next.force_revert = force;
            next.pause_reason = Some(format!("revert asked by {who}"));
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
    Ok(Some(next))
}
