//! `Idempotency-Key` (and webhook event ids): the first answer to a key is kept for 7 days and
//! replayed for the same request; the same key on a different request is refused. A claim is a
//! lease: while its request may still be running, a retry gets 409 with `Retry-After` set to the
//! time left; once the lease has run out with no answer recorded (the process crashed or was
//! killed at its timeout), one retry takes the claim over with a conditional write and settles
//! the interrupted request under its original id. A transient failure, or a request cut off at
//! its deadline, hands the claim straight over: its lease is ended at once, so the client's
//! retry takes it over and settles the request under the same id (it may have landed).

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use berth_store::{Claim, IdempotencyRecord, StoredResponse};

use crate::AppState;
use crate::deadline::RECORD_BUDGET;
use crate::error::ApiError;
use berth_usecases::time::{epoch_seconds_after, epoch_seconds_now};

pub const HEADER: &str = "idempotency-key";
const KEY_MAX: usize = 255;
const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a claim's holder may run before a retry takes the claim over.
pub use berth_usecases::submit::DEFAULT_CLAIM_LEASE;

/// A key this request holds until it finishes: the claim as stored, lease included.
#[derive(Debug, Clone)]
pub struct HeldKey {
    claim: IdempotencyRecord,
}

/// How a request that held a key ended.
pub enum Finish<'a> {
    /// With an answer to keep and replay.
    Answered { status: StatusCode, body: &'a str },
    /// Without one: a transient failure, or cut off at its deadline. The lease ends now, so
    /// the next retry takes the claim over and settles the request under its id.
    Unanswered,
}

pub enum Begin {
    /// Go ahead; finish with [`finish`] when a key is held.
    Proceed(Option<HeldKey>),
    /// This call now holds the claim of an interrupted request (its lease ran out with no
    /// answer): settle that request, under its own id, before anything else.
    Resume { held: HeldKey, request_id: String },
    /// The stored first answer.
    Replay(StoredResponse),
}

/// The key from the headers, checked: 1 to 255 visible ASCII characters.
pub fn key_from(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= KEY_MAX && k.bytes().all(|b| b.is_ascii_graphic()));
    key.map(|k| Some(k.to_owned())).ok_or_else(|| {
        ApiError::invalid(
            "Idempotency-Key",
            format!("must be 1 to {KEY_MAX} visible ASCII characters"),
        )
    })
}

pub use berth_usecases::fingerprint::fingerprint;

/// Claims `key` for `request_id`, or tells how the first request with it went.
pub async fn begin(
    state: &AppState,
    source: &str,
    key: Option<String>,
    fingerprint: String,
    request_id: &str,
) -> Result<Begin, ApiError> {
    let Some(key) = key else {
        return Ok(Begin::Proceed(None));
    };
    let lease = state.config.claim_lease;
    let record = IdempotencyRecord {
        source: source.to_owned(),
        key,
        request_id: request_id.to_owned(),
        fingerprint: fingerprint.clone(),
        response: None,
        lease_expires_at: epoch_seconds_after(lease),
        expires_at: epoch_seconds_after(RETENTION),
    };
    let first = match state.app.store.claim_idempotency(&record).await? {
        Claim::Claimed => return Ok(Begin::Proceed(Some(HeldKey { claim: record }))),
        Claim::Existing(first) => first,
    };
    if first.fingerprint != fingerprint {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )
        .with_field("Idempotency-Key"));
    }
    if let Some(response) = first.response {
        return Ok(Begin::Replay(response));
    }
    let left = first.lease_expires_at - epoch_seconds_now();
    if left > 0 {
        return Err(in_progress(&first.request_id, left.unsigned_abs()));
    }
    // The lease ran out unanswered: whoever held it is gone. One retry takes it over.
    if state
        .app
        .store
        .take_over_idempotency(&first, record.lease_expires_at)
        .await?
    {
        tracing::info!(request_id = %first.request_id, "taking over the claim of a request that did not finish");
        let request_id = first.request_id.clone();
        let claim = IdempotencyRecord {
            lease_expires_at: record.lease_expires_at,
            ..first
        };
        Ok(Begin::Resume {
            held: HeldKey { claim },
            request_id,
        })
    } else {
        Err(in_progress(&first.request_id, lease.as_secs()))
    }
}

fn in_progress(request_id: &str, retry_after: u64) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "request_in_progress",
        format!("request {request_id} with this key is still running; retry in {retry_after} s"),
    )
    .with_retry_after(retry_after)
}

/// Keeps the answer for replays, or ends the lease of a request that has none. Bounded by
/// [`RECORD_BUDGET`]: past a request's deadline only the margin is left, and an answer that is
/// not recorded is settled by the retry anyway.
pub async fn finish(state: &AppState, held: Option<HeldKey>, how: Finish<'_>) {
    let Some(HeldKey { claim }) = held else {
        return;
    };
    let recorded = async {
        match how {
            Finish::Answered { status, body } => {
                let response = StoredResponse {
                    status: status.as_u16(),
                    body: body.to_owned(),
                };
                state
                    .app
                    .store
                    .complete_idempotency(&claim.source, &claim.key, &response)
                    .await
            }
            // Conditional on the lease still being ours: a claim some retry already took over
            // is left to it.
            Finish::Unanswered => state
                .app
                .store
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
