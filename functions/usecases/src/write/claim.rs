//! The idempotency claim (an API `Idempotency-Key`, a webhook's event id): the first answer to
//! a key is kept for 7 days and replayed for the same request; the same key on a different
//! request is refused. A claim is a lease: while its request may still be running, a retry is
//! told to come back when the lease runs out; once the lease has run out with no answer
//! recorded (the process crashed or was killed at its timeout), one retry takes the claim over
//! with a conditional write and settles the interrupted request under its original id. A
//! transient failure, or a request cut off at its deadline, hands the claim straight over: its
//! lease is ended at once, so the retry takes it over and settles the request under the same id
//! (it may have landed).

use std::time::Duration;

use berth_store::{Claim, IdempotencyRecord, RequestStore, StoredResponse};

use crate::error::{ErrorCode, ErrorKind, UseCaseError};
use crate::time::{epoch_seconds_after, epoch_seconds_now};
use crate::write::timing::RECORD_BUDGET;

/// How long a key's first answer is kept.
const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a write asks to claim: the key under its source (`api`, `webhook:<sender>`), the
/// fingerprint of the request it stands for, and the id a new request gets.
#[derive(Debug, Clone)]
pub struct ClaimAsk {
    pub source: String,
    pub key: Option<String>,
    pub fingerprint: String,
    pub request_id: String,
    /// How long the claim holds before a retry may take it over.
    pub lease: Duration,
}

/// A key this request holds until it finishes: the claim as stored, lease included.
#[derive(Debug, Clone)]
pub struct HeldClaim {
    claim: IdempotencyRecord,
}

/// How claiming a key went.
#[derive(Debug)]
pub enum ClaimStart {
    /// A new request: go ahead (holding the claim when there is a key).
    Fresh(Option<HeldClaim>),
    /// This call now holds the claim of an interrupted request (its lease ran out with no
    /// answer): settle that request, under its own id, before anything else.
    Resumed { held: HeldClaim, request_id: String },
    /// The stored first answer.
    Replay(StoredResponse),
}

/// How a request that held a key ended.
pub enum Finish<'a> {
    /// With an answer to keep and replay.
    Answered { status: u16, body: &'a str },
    /// Without one: a transient failure, or cut off at its deadline. The lease ends now, so
    /// the next retry takes the claim over and settles the request under its id.
    Unanswered,
}

/// Claims `ask.key` for `ask.request_id`, or tells how the first request with it went.
pub async fn begin(store: &dyn RequestStore, ask: ClaimAsk) -> Result<ClaimStart, UseCaseError> {
    let Some(key) = ask.key else {
        return Ok(ClaimStart::Fresh(None));
    };
    let record = IdempotencyRecord {
        source: ask.source,
        key,
        request_id: ask.request_id,
        fingerprint: ask.fingerprint.clone(),
        response: None,
        lease_expires_at: epoch_seconds_after(ask.lease),
        expires_at: epoch_seconds_after(RETENTION),
    };
    let first = match store.claim_idempotency(&record).await? {
        Claim::Claimed => return Ok(ClaimStart::Fresh(Some(HeldClaim { claim: record }))),
        Claim::Existing(first) => first,
    };
    if first.fingerprint != ask.fingerprint {
        return Err(UseCaseError::new(
            ErrorKind::Invalid,
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different request",
        )
        .with_field("Idempotency-Key"));
    }
    if let Some(response) = first.response {
        return Ok(ClaimStart::Replay(response));
    }
    let left = first.lease_expires_at - epoch_seconds_now();
    if left > 0 {
        return Err(in_progress(&first.request_id, left.unsigned_abs()));
    }
    // The lease ran out unanswered: whoever held it is gone. One retry takes it over.
    if store
        .take_over_idempotency(&first, record.lease_expires_at)
        .await?
    {
        tracing::info!(request_id = %first.request_id, "taking over the claim of a request that did not finish");
        let request_id = first.request_id.clone();
        let claim = IdempotencyRecord {
            lease_expires_at: record.lease_expires_at,
            ..first
        };
        Ok(ClaimStart::Resumed {
            held: HeldClaim { claim },
            request_id,
        })
    } else {
        Err(in_progress(&first.request_id, ask.lease.as_secs()))
    }
}

fn in_progress(request_id: &str, retry_after: u64) -> UseCaseError {
    let mut error = UseCaseError::new(
        ErrorKind::Conflict,
        ErrorCode::RequestInProgress,
        format!("request {request_id} with this key is still running; retry in {retry_after} s"),
    );
    error.retry_after = Some(Duration::from_secs(retry_after));
    error
}

/// Keeps the answer for replays, or ends the lease of a request that has none. Bounded by
/// [`RECORD_BUDGET`]: past a request's deadline only the margin is left, and an answer that is
/// not recorded is settled by the retry anyway.
pub async fn finish(store: &dyn RequestStore, held: Option<HeldClaim>, how: Finish<'_>) {
    let Some(HeldClaim { claim }) = held else {
        return;
    };
    let recorded = async {
        match how {
            Finish::Answered { status, body } => {
                let response = StoredResponse {
                    status,
                    body: body.to_owned(),
                };
                store.complete_idempotency(&claim, &response).await
            }
            // Conditional on the lease still being ours: a claim some retry already took over
            // is left to it.
            Finish::Unanswered => store
                .take_over_idempotency(&claim, epoch_seconds_now())
                .await
                .map(|_| ()),
        }
    };
    // Either way the answer still goes out; the claim waits out its lease, and a retry then
    // settles it.
    match tokio::time::timeout(RECORD_BUDGET, recorded).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not record how the request ended on its claim")
        }
        Err(_) => tracing::warn!("could not record how the request ended on its claim in time"),
    }
}
