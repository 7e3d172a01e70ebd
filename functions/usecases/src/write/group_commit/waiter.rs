//! A caller in a group commit: records its request as pending, then polls its record until a
//! batch gives it an outcome, leading batches itself whenever the commit lease is free.

use berth_core::Request;
use berth_store::{RequestRecord, RequestState};
use tokio::time::Instant;

use super::config::{FIRST_POLL, GroupCommit, LEASE_LOOK_EVERY, LONGEST_POLL, WhenUndecided};
use super::lease::drain;
use crate::app::App;
use crate::error::{ErrorCode, UseCaseError};
use crate::write::outcome::{Submitted, Unsettled, settled};
use crate::write::timing::WEBHOOK_BATCH_WAIT;

/// Records `record`'s request as pending and waits for its outcome, leading batches while it
/// can take the commit lease. `until` bounds the whole wait.
pub async fn join(
    app: &App,
    group: &GroupCommit,
    request: &Request,
    mut record: RequestRecord,
    when_undecided: WhenUndecided,
    until: Option<Instant>,
) -> Result<Submitted, Unsettled> {
    let payload = serde_json::to_string(request).map_err(|e| {
        let error = UseCaseError::unavailable(ErrorCode::StoreUnavailable, e.to_string());
        Unsettled::new(error, None)
    })?;
    record.payload = Some(payload);
    match app.store.put_pending(&record).await {
        Ok(true) => {}
        // A retry racing the batch that settled it: that outcome is the answer.
        Ok(false) => return outcome_of(app, &record.id).await,
        Err(e) => return Err(Unsettled::new(e, None)),
    }
    let wait = match when_undecided {
        WhenUndecided::Refuse => group.wait,
        WhenUndecided::Acknowledge => group.wait.min(WEBHOOK_BATCH_WAIT),
    };
    let give_up = until.map_or(Instant::now() + wait, |u| u.min(Instant::now() + wait));
    let mut pause = FIRST_POLL;
    let mut next_lease_look = Instant::now();
    loop {
        if Instant::now() >= next_lease_look {
            next_lease_look = Instant::now() + LEASE_LOOK_EVERY;
            if let Err(e) = drain(app, group, give_up).await {
                tracing::warn!(request_id = %record.id, error = %e, "could not lead a group commit");
            }
        }
        match app.store.get_request(&record.id).await {
            Ok(Some(stored)) if !stored.is_pending() => {
                if let Some(answer) = settled_for_waiter(&stored) {
                    return answer;
                }
            }
            Ok(_) => {}
            Err(e) => return Err(Unsettled::new(e, None)),
        }
        let now = Instant::now();
        if now >= give_up {
            // It stays pending, and will be committed once, by a later batch or the sweep.
            return match when_undecided {
                WhenUndecided::Refuse => {
                    Err(Unsettled::new(UseCaseError::still_pending(), Some(record)))
                }
                WhenUndecided::Acknowledge => {
                    record.payload = None;
                    Ok(Submitted { record })
                }
            };
        }
        tokio::time::sleep(pause.min(give_up - now)).await;
        pause = (pause * 2).min(LONGEST_POLL);
    }
}

/// The outcome recorded for request `id`.
async fn outcome_of(app: &App, id: &str) -> Result<Submitted, Unsettled> {
    match app.store.get_request(id).await {
        Ok(Some(stored)) => match settled_for_waiter(&stored) {
            Some(answer) => answer,
            None => Err(Unsettled::new(UseCaseError::still_pending(), Some(stored))),
        },
        Ok(None) => Err(Unsettled::new(UseCaseError::still_pending(), None)),
        Err(e) => Err(Unsettled::new(e, None)),
    }
}

/// A waiter's answer from its record: like a retry's, except that `failed` is an outcome here
/// (the batch that carried it failed after the waiter recorded it pending).
fn settled_for_waiter(record: &RequestRecord) -> Option<Result<Submitted, Unsettled>> {
    if record.state == RequestState::Failed {
        let error = record
            .error
            .clone()
            .map(UseCaseError::from_body)
            .unwrap_or_else(UseCaseError::still_pending);
        return Some(Err(Unsettled::new(error, Some(record.clone()))));
    }
    settled(record)
}
