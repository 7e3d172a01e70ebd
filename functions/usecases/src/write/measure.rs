//! What every write tells the metrics: `Requests` by action, source and outcome (`committed`,
//! `no_change`, `rejected`, `failed`, `timeout`, or a delivery's own outcome such as
//! `recorded`), `CommitLatency` for those that committed, `ClaimTakeovers`, and what the
//! committer counted meanwhile (`LostRaces`, GitHub's rate limit).

use std::time::Duration;

use berth_store::{RequestRecord, RequestState};

use crate::app::App;
use crate::error::{ErrorCode, UseCaseError};
use crate::intake::Settlement;
use crate::metrics::{MetricEvent, Unit};
use crate::write::outcome::{Submitted, Unsettled};

/// A write's outcome as the `Requests` metric reads it.
pub trait Measured {
    /// The request's action, when the write got as far as a request.
    fn action(&self) -> Option<&str>;
    /// One of a closed set of words: never an id or a tenant.
    fn outcome(&self) -> &'static str;
}

impl Measured for Result<Submitted, Unsettled> {
    fn action(&self) -> Option<&str> {
        match self {
            Ok(done) => Some(&done.record.action),
            Err(unsettled) => unsettled.record.as_ref().map(|r| r.action.as_str()),
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            Ok(done) => state_outcome(&done.record),
            Err(unsettled) => error_outcome(&unsettled.error),
        }
    }
}

impl Measured for Result<Settlement, UseCaseError> {
    fn action(&self) -> Option<&str> {
        self.as_ref()
            .ok()?
            .request
            .as_ref()
            .map(|r| r.action.as_str())
    }

    fn outcome(&self) -> &'static str {
        match self {
            Ok(settlement) => match (&settlement.request, settlement.outcome) {
                (Some(record), _) => state_outcome(record),
                (None, Some(outcome)) => outcome,
                (None, None) => "no_change",
            },
            Err(error) => error_outcome(error),
        }
    }
}

fn state_outcome(record: &RequestRecord) -> &'static str {
    match record.state {
        RequestState::NoChange => "no_change",
        RequestState::Rejected => "rejected",
        RequestState::Failed => "failed",
        _ => "committed",
    }
}

fn error_outcome(error: &UseCaseError) -> &'static str {
    match error.code {
        ErrorCode::Timeout | ErrorCode::Pending => "timeout",
        _ if error.is_transient() => "failed",
        _ => "rejected",
    }
}

/// One request of `action` from `source` that ended as `outcome`. `action` is `none` for a
/// write refused before it became a request.
pub fn requests_event(action: &str, source: &str, outcome: &str) -> MetricEvent {
    MetricEvent::new()
        .dimension("action", action)
        .dimension("source", source)
        .dimension("outcome", outcome)
        .count("Requests", 1)
}

/// Emits what one write did, and what the committer counted since the last write.
pub(crate) fn measure_write(
    app: &App,
    source: &str,
    outcome: &impl Measured,
    took: Duration,
    took_over: bool,
) {
    let (action, outcome) = (outcome.action().unwrap_or("none"), outcome.outcome());
    let mut event = requests_event(action, source, outcome);
    if outcome == "committed" {
        event = event.millis("CommitLatency", took);
    }
    app.metrics.emit(event);
    app.metrics.emit(committer_event(app, took_over));
}

/// Races lost since the last report, claim takeovers, and GitHub's rate limit as last seen.
fn committer_event(app: &App, took_over: bool) -> MetricEvent {
    let mut event = MetricEvent::new().count("ClaimTakeovers", usize::from(took_over));
    if let Some(gauges) = app.committer.gauges() {
        event = event.count("LostRaces", gauges.take_lost_races() as usize);
        if let Some(limit) = gauges.rate_limit() {
            event = event
                .count("GithubRateLimitRemaining", limit.remaining as usize)
                .value("GithubRateLimitLeft", Unit::Percent, limit.percent_left());
        }
    }
    event
}
