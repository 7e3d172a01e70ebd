//! How long a request may run. Under Lambda the function is killed at the deadline its context
//! carries; a request that is still running then leaves no answer and a claim that waits out
//! its lease. So a request bounds its own work by that deadline less [`DEADLINE_MARGIN`], and
//! what it cannot finish by then it answers 503 for, handing its claim over to the retry.
//! Off Lambda (`berth dev`, a local server) the same bound comes from
//! [`ApiConfig::request_budget`](crate::ApiConfig::request_budget).

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use tokio::time::Instant;

use crate::AppState;

/// The margin kept back from the Lambda deadline, and the budget off Lambda: derived in
/// `berth_usecases::write::timing`.
pub use berth_usecases::write::timing::{DEADLINE_MARGIN, DEFAULT_REQUEST_BUDGET, RECORD_BUDGET};

/// The deadline the Lambda edge read from the invocation's context, less the margin.
#[derive(Debug, Clone, Copy)]
pub struct LambdaDeadline(pub Instant);

/// A deadline further in the past than this is no timestamp at all.
const IMPLAUSIBLY_PAST: Duration = Duration::from_secs(24 * 3600);

impl LambdaDeadline {
    /// From the context's deadline in milliseconds since the epoch, as seen at `now`. `None`
    /// for a value that cannot be an invocation's deadline: cargo-lambda's emulator sends its
    /// timeout (`600000`) instead of a timestamp, and the configured budget then applies.
    pub fn from_epoch_millis(deadline_ms: u64, now: SystemTime) -> Option<Self> {
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        if deadline_ms.saturating_add(IMPLAUSIBLY_PAST.as_millis() as u64) < now_ms {
            return None;
        }
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
        Some(Self(Instant::now() + left.saturating_sub(DEADLINE_MARGIN)))
    }
}

/// When this request's work must be over: the Lambda deadline when there is one, else the
/// configured budget from when the request arrived.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

impl<S> FromRequestParts<S> for Deadline
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(LambdaDeadline(at)) = parts.extensions.get::<LambdaDeadline>() {
            return Ok(Deadline(*at));
        }
        let budget = AppState::from_ref(state).config.request_budget;
        Ok(Deadline(Instant::now() + budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_lambda_deadline_keeps_the_margin_back() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |deadline_ms| LambdaDeadline::from_epoch_millis(deadline_ms, now).map(|d| d.0);
        assert_eq!(
            at(1_000_000_000 + 29_000),
            Some(Instant::now() + Duration::from_secs(26))
        );
        // A deadline closer than the margin, or just past, leaves no time at all.
        assert_eq!(at(1_000_000_000 + 1_000), Some(Instant::now()));
        assert_eq!(at(1_000_000_000 - 5_000), Some(Instant::now()));
        // Not a timestamp (cargo-lambda's emulator sends its timeout): no Lambda deadline.
        assert_eq!(at(600_000), None);
        assert_eq!(at(0), None);
    }
}
