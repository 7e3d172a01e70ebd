//! `Idempotency-Key`: the first answer to a key is kept for 7 days and replayed for the same
//! request; the same key on a different request is refused; a key whose first request is still
//! running is answered 409. A transient failure releases the key so the client's retry runs.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use berth_store::{Claim, IdempotencyRecord, StoredResponse};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::time::epoch_seconds_after;

pub const HEADER: &str = "idempotency-key";
const KEY_MAX: usize = 255;
const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A key this request holds until it finishes.
#[derive(Debug, Clone)]
pub struct HeldKey {
    source: String,
    key: String,
}

pub enum Begin {
    /// Go ahead; finish with [`finish`] when a key is held.
    Proceed(Option<HeldKey>),
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

/// A digest of what was asked, to tell a replay from a different request under the same key.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b" ");
    hash.update(path_and_query.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

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
    let record = IdempotencyRecord {
        source: source.to_owned(),
        key: key.clone(),
        request_id: request_id.to_owned(),
        fingerprint: fingerprint.clone(),
        response: None,
        expires_at: epoch_seconds_after(RETENTION),
    };
    match state.store.claim_idempotency(&record).await? {
        Claim::Claimed => Ok(Begin::Proceed(Some(HeldKey {
            source: source.to_owned(),
            key,
        }))),
        Claim::Existing(first) if first.fingerprint != fingerprint => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )
        .with_field("Idempotency-Key")),
        Claim::Existing(IdempotencyRecord {
            response: Some(response),
            ..
        }) => Ok(Begin::Replay(response)),
        Claim::Existing(first) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "request_in_progress",
            format!(
                "request {} with this Idempotency-Key is still running; retry shortly",
                first.request_id
            ),
        )),
    }
}

/// Keeps the answer for replays, or releases the key after a transient failure.
pub async fn finish(
    state: &AppState,
    held: Option<HeldKey>,
    status: StatusCode,
    body: &str,
    transient: bool,
) {
    let Some(held) = held else { return };
    let result = if transient {
        state
            .store
            .release_idempotency(&held.source, &held.key)
            .await
    } else {
        let response = StoredResponse {
            status: status.as_u16(),
            body: body.to_owned(),
        };
        state
            .store
            .complete_idempotency(&held.source, &held.key, &response)
            .await
    };
    if let Err(e) = result {
        // The answer still goes out; the key stays claimed without an answer until it expires.
        tracing::warn!(error = %e, "could not record the idempotent answer");
    }
}
