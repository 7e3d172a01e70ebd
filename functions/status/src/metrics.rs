//! What a sweep tells the metrics: its duration and each phase's, what it wrote and moved, the
//! requests still in flight (by state, and the age of the oldest), how long settled requests
//! took to sync and to be ready, and whether the clusters answered. One `Sweeps` per completed
//! sweep: the alarm on a stopped schedule watches for it to go missing.

use berth_usecases::metrics::{MetricEvent, Metrics, Unit};

use crate::report::SweepReport;

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
                .dimension("state", state.as_str())
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
