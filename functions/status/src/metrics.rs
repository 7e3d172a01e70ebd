//! What a sweep tells the metrics: its duration and each phase's, what it wrote and moved, the
//! requests still in flight (by state, and the age of the oldest), how long settled requests
//! took to sync and to be ready, and whether the clusters answered. One `Sweeps` per completed
//! sweep: the alarm on a stopped schedule watches for it to go missing.

use std::collections::BTreeMap;
use std::time::SystemTime;

use berth_store::{RequestRecord, RequestState};
use berth_usecases::metrics::{MetricEvent, Metrics, Unit};
use serde::Serialize;

use crate::report::SweepReport;

/// The open requests as one sweep found and left them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestFlow {
    /// Open requests by state, as found.
    pub in_flight: BTreeMap<&'static str, usize>,
    /// Seconds since the oldest open request was made.
    pub oldest_in_flight_seconds: Option<u64>,
    /// For each request this sweep moved to `synced` (`ready`): seconds since it was made.
    pub synced_after_seconds: Vec<u64>,
    pub ready_after_seconds: Vec<u64>,
}

impl RequestFlow {
    /// Counts `open` and finds the oldest.
    pub(crate) fn found(&mut self, open: &[RequestRecord]) {
        for record in open {
            *self.in_flight.entry(record.state.name()).or_default() += 1;
            let age = age_seconds(record);
            self.oldest_in_flight_seconds =
                Some(self.oldest_in_flight_seconds.unwrap_or(0).max(age));
        }
    }

    /// Notes a request this sweep moved to `state`.
    pub(crate) fn moved(&mut self, record: &RequestRecord, state: RequestState) {
        match state {
            RequestState::Synced => self.synced_after_seconds.push(age_seconds(record)),
            RequestState::Ready => self.ready_after_seconds.push(age_seconds(record)),
            _ => {}
        }
    }
}

/// Seconds since the request was made (its record's creation; the commit follows within the
/// commit latency, measured on its own).
fn age_seconds(record: &RequestRecord) -> u64 {
    humantime::parse_rfc3339(&record.created_at)
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .map_or(0, |d| d.as_secs())
}

/// Emits one sweep's figures.
pub(crate) fn emit_sweep(metrics: &Metrics, report: &SweepReport, took: std::time::Duration) {
    let millis = &report.millis;
    let ms = |v: u128| v as f64;
    let flow = &report.flow;
    metrics.emit(
        MetricEvent::new()
            .count("Sweeps", 1)
            .millis("SweepDuration", took)
            .value("SweepGitDuration", Unit::Milliseconds, ms(millis.git))
            .value("SweepIndexDuration", Unit::Milliseconds, ms(millis.index))
            .value(
                "SweepClusterDuration",
                Unit::Milliseconds,
                ms(millis.cluster),
            )
            .value("SweepStoreDuration", Unit::Milliseconds, ms(millis.store))
            .value(
                "SweepRequestsDuration",
                Unit::Milliseconds,
                ms(millis.requests),
            )
            .count("StatusesWritten", report.writes + report.removes)
            .count("RequestsAdvanced", report.requests_advanced)
            .count("RequestsInFlight", flow.in_flight.values().sum())
            .value(
                "OldestInFlightAge",
                Unit::Seconds,
                flow.oldest_in_flight_seconds.unwrap_or(0) as f64,
            )
            .value(
                "ClusterReachable",
                Unit::None,
                if report.cluster == "ok" { 1.0 } else { 0.0 },
            ),
    );
    for (state, n) in &flow.in_flight {
        metrics.emit(
            MetricEvent::new()
                .dimension("state", *state)
                .count("RequestsInFlight", *n),
        );
    }
    for (name, lags) in [
        ("CommitToSynced", &flow.synced_after_seconds),
        ("CommitToReady", &flow.ready_after_seconds),
    ] {
        for lag in lags {
            metrics.emit(MetricEvent::new().value(name, Unit::Seconds, *lag as f64));
        }
    }
}
