//! Metrics in CloudWatch's Embedded Metric Format: one JSON line on stdout per event, which
//! CloudWatch Logs turns into metrics in namespace `Berth`, with no API call and no latency.
//! Dimensions are low-cardinality only (function, action, source, outcome, state): never
//! a tenant or a request id, which would make a metric per tenant and a bill to match.
//!
//! Hand-written types rather than a crate: the `metrics` facade's EMF backends keep one
//! process-wide recorder flushed per invocation, which mixes the events of concurrent requests
//! (and of `berth dev`'s functions, which share a process); here each event is its own line.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

pub const NAMESPACE: &str = "Berth";

/// CloudWatch units Berth uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
    Percent,
    None,
}

/// One event: its dimensions (beside `function`) and its values.
#[derive(Debug, Clone, Default)]
pub struct MetricEvent {
    dimensions: Vec<(&'static str, String)>,
    values: Vec<(&'static str, Unit, f64)>,
}

impl MetricEvent {
    pub fn new() -> Self {
        Self::default()
    }

    /// A dimension; its value must come from a closed set (an action's name, an outcome).
    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    pub fn value(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.values.push((name, unit, value));
        self
    }

    pub fn count(self, name: &'static str, n: usize) -> Self {
        self.value(name, Unit::Count, n as f64)
    }

    pub fn millis(self, name: &'static str, elapsed: std::time::Duration) -> Self {
        self.value(name, Unit::Milliseconds, elapsed.as_secs_f64() * 1000.0)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Where metric lines go.
#[derive(Debug, Clone, Default)]
enum Sink {
    #[default]
    Off,
    Stdout,
    /// Kept in memory, for tests.
    Captured(Arc<Mutex<Vec<String>>>),
}

/// A function's metrics: where its lines go and the `function` dimension they carry.
#[derive(Debug, Clone)]
pub struct Metrics {
    sink: Sink,
    function: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::off()
    }
}

/// The lines a captured [`Metrics`] emitted.
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Metrics {
    pub fn off() -> Self {
        Self {
            sink: Sink::Off,
            function: "berth",
        }
    }

    /// EMF lines on standard output, where Lambda's log stream takes them.
    pub fn stdout() -> Self {
        Self {
            sink: Sink::Stdout,
            function: "berth",
        }
    }

    pub fn is_on(&self) -> bool {
        !matches!(self.sink, Sink::Off)
    }

    /// Metrics kept in memory, with what they emitted.
    pub fn captured(function: &'static str) -> (Self, Captured) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let metrics = Self {
            sink: Sink::Captured(Arc::clone(&lines)),
            function,
        };
        (metrics, Captured(lines))
    }

    /// The same sink, for `function` (`api`, `webhook`, `status`).
    pub fn for_function(mut self, function: &'static str) -> Self {
        self.function = function;
        self
    }

    pub fn function(&self) -> &'static str {
        self.function
    }

    /// Emits `event` as one EMF line, published under its full dimension set and, when it has
    /// dimensions besides `function`, under `function` alone (what alarms watch).
    pub fn emit(&self, event: MetricEvent) {
        if matches!(self.sink, Sink::Off) || event.is_empty() {
            return;
        }
        let line = self.line(event);
        match &self.sink {
            Sink::Off => {}
            Sink::Stdout => println!("{line}"),
            Sink::Captured(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line);
                }
            }
        }
    }

    fn line(&self, event: MetricEvent) -> String {
        let mut full = vec!["function"];
        full.extend(event.dimensions.iter().map(|(name, _)| *name));
        let mut dimensions = vec![full];
        if !event.dimensions.is_empty() {
            dimensions.push(vec!["function"]);
        }
        let mut targets: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
        targets.insert("function", self.function.into());
        for (name, value) in &event.dimensions {
            targets.insert(name, value.as_str().into());
        }
        let mut metrics = Vec::new();
        for (name, unit, value) in &event.values {
            targets.insert(name, (*value).into());
            metrics.push(MetricDefinition { name, unit: *unit });
        }
        let document = Document {
            aws: Metadata {
                timestamp: epoch_millis(),
                cloud_watch_metrics: vec![Directive {
                    namespace: NAMESPACE,
                    dimensions,
                    metrics,
                }],
            },
            targets,
        };
        serde_json::to_string(&document).unwrap_or_default()
    }
}

fn epoch_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// An EMF document: the `_aws` metadata and the members it names.
#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    #[serde(flatten)]
    targets: BTreeMap<&'a str, serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: u64,
    #[serde(rename = "CloudWatchMetrics")]
    cloud_watch_metrics: Vec<Directive<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'static str,
    dimensions: Vec<Vec<&'a str>>,
    metrics: Vec<MetricDefinition<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDefinition<'a> {
    name: &'a str,
    unit: Unit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_line_naming_its_dimensions_and_units() {
        let (metrics, captured) = Metrics::captured("api");
        metrics.emit(
            MetricEvent::new()
                .dimension("outcome", "committed")
                .count("Requests", 1)
                .value("CommitLatency", Unit::Milliseconds, 12.5),
        );
        metrics.emit(MetricEvent::new());
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "an event without values prints nothing");
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Berth");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["function", "outcome"], ["function"]])
        );
        assert_eq!(directive["Metrics"][1]["Unit"], "Milliseconds");
        assert_eq!(line["function"], "api");
        assert_eq!(line["outcome"], "committed");
        assert_eq!(line["CommitLatency"], 12.5);
    }
}
