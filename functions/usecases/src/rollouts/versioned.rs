//! The rollout record's versioned writes: every write names the version it read, so two
//! status steps (or a step and a person's pause) never both move it; a commit that landed is
//! recorded whatever else changed meanwhile.

use berth_store::{CommitClaim, RolloutRecord};

use crate::time::now_rfc3339;
use crate::{App, UseCaseError};

/// Versioned writes tried before a step gives the record up to the next step.
const WRITE_ATTEMPTS: usize = 5;

/// Writes `record` at the version it was read at; `false` when another writer came first.
pub(super) async fn save(app: &App, record: &RolloutRecord) -> Result<bool, UseCaseError> {
    let mut next = record.clone();
    next.updated_at = now_rfc3339();
    Ok(app.store.update_rollout(&next, record.version).await?)
}

/// Claims a commit with a versioned write; on success `record` holds the claim at its new
/// version. A claim lost to another writer (a pause, a racing step) commits nothing.
pub(super) async fn claim(
    app: &App,
    record: &mut RolloutRecord,
    kind: &str,
    number: u32,
    now: i64,
) -> Result<bool, UseCaseError> {
    record.claim = Some(CommitClaim {
        kind: kind.to_owned(),
        number,
        since: now,
    });
    if !save(app, record).await? {
        return Ok(false);
    }
    record.version += 1;
    Ok(true)
}

/// Gives a claim up after a failed commit (nothing landed), so the next step tries at once;
/// if this write fails too, the claim's lease runs out and the trailer search decides.
pub(super) async fn release(app: &App, mut record: RolloutRecord) {
    record.claim = None;
    if let Err(e) = save(app, &record).await {
        tracing::warn!(rollout = %record.id, error = %e.message, "could not release the commit claim");
    }
}

/// Writes what `apply` makes of `record`; when another writer came first, reads the record
/// again and applies it to that, up to [`WRITE_ATTEMPTS`] times (then fails, saying
/// `gave_up`). `apply` answers whether there is anything to write (`false`: the record is
/// answered as read), or a refusal that stops it. Returns the record as written.
pub(super) async fn update(
    app: &App,
    record: RolloutRecord,
    apply: impl Fn(&mut RolloutRecord) -> Result<bool, UseCaseError>,
    gave_up: &str,
) -> Result<RolloutRecord, UseCaseError> {
    let mut current = record;
    for _ in 0..WRITE_ATTEMPTS {
        let mut next = current.clone();
        if !apply(&mut next)? {
            return Ok(current);
        }
        if save(app, &next).await? {
            next.version += 1;
            return Ok(next);
        }
        current = super::get(app, &current.id).await?;
    }
    Err(UseCaseError::unavailable(
        crate::error::ErrorCode::StoreUnavailable,
        gave_up,
    ))
}

/// Records what a commit did: applied to the record as held, or, when another writer (a pause,
/// an abort) moved it meanwhile, to the record as it is now. The commit landed; it must be
/// recorded whatever else changed. Returns the record as written.
pub(super) async fn save_outcome(
    app: &App,
    record: RolloutRecord,
    apply: impl Fn(&mut RolloutRecord),
) -> Result<RolloutRecord, UseCaseError> {
    update(
        app,
        record,
        |r| {
            apply(r);
            Ok(true)
        },
        "the rollout's record kept changing; the claim's lease lets the next step record the commit",
    )
    .await
}
