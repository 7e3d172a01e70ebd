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

/// Kept back from the Lambda deadline to record the answer and send it.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);
/// The work budget off Lambda: the SAM template's function timeout (29 s) less the margin, so
/// `berth dev` behaves as the deployed functions do.
pub const DEFAULT_REQUEST_BUDGET: Duration = Duration::from_secs(26);
/// How long recording the answer may take once the work is over or cut off.
pub const RECORD_BUDGET: Duration = Duration::from_secs(2);

/// The deadline the Lambda edge read from the invocation's context, less the margin.
#[derive(Debug, Clone, Copy)]
pub struct LambdaDeadline(pub Instant);

impl LambdaDeadline {
    /// From the context's deadline in milliseconds since the epoch, as seen at `now`.
    pub fn from_epoch_millis(deadline_ms: u64, now: SystemTime) -> Self {
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
        Self(Instant::now() + left.saturating_sub(DEADLINE_MARGIN))
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
        let in_29s = 1_000_000_000 + 29_000;
        let LambdaDeadline(at) = LambdaDeadline::from_epoch_millis(in_29s, now);
        assert_eq!(at - Instant::now(), Duration::from_secs(26));
        // A deadline already closer than the margin leaves no time at all.
        let LambdaDeadline(at) = LambdaDeadline::from_epoch_millis(1_000_000_000 + 1_000, now);
        assert_eq!(at, Instant::now());
        let LambdaDeadline(at) = LambdaDeadline::from_epoch_millis(0, now);
        assert_eq!(at, Instant::now());
    }
}
