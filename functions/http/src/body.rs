//! The JSON body extractor: at most 1 MiB (413 beyond), and malformed JSON answered 400 with
//! where it broke. The raw bytes are kept for the idempotency fingerprint.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::error::ApiError;

/// The largest body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

pub struct JsonBody {
    pub value: Value,
    pub raw: Bytes,
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body must be at most {BODY_LIMIT} bytes"),
    )
}

/// Reads a body of at most [`BODY_LIMIT`] bytes, refusing at once one whose declared
/// `Content-Length` is over it.
pub async fn read_limited(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| too_large())
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let raw = read_limited(&parts.headers, body).await?;
        // An empty body reads as `{}`: `PUT .../modules/{m}` with no body enables with defaults.
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self {
                value: Value::Object(Default::default()),
                raw,
            });
        }
        let value = parse_json(&raw)?;
        Ok(Self { value, raw })
    }
}

/// `raw` as JSON, or 400 saying where it broke.
pub fn parse_json(raw: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(raw)
        .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))
}
