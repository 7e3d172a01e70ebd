//! Group commit planning: `(requests, files at the tip) -> one Change`. Each request is planned
//! against the files as the requests before it left them, so a batch lands exactly as the same
//! requests committed one after another would; a refused request is left out without touching
//! the others.

use std::collections::{BTreeSet, HashSet};

use crate::error::PlanError;
use crate::model::{Change, RepoFiles};
use crate::plan::plan_with_charts;
use crate::request::{Request, request_trailers};
use crate::upstream::{ChartShelf, ChartWant};

/// How much one group commit may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Requests taken into one commit.
    pub max_requests: usize,
    /// Bytes of file content one commit may write: GitHub publishes no limit for a commit
    /// mutation, but every call is cut at 10 s, so a batch stays well below that.
    pub max_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_requests: 100,
            max_bytes: 2 * 1024 * 1024,
        }
    }
}

/// What became of one request of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Its change is in the batch's commit.
    Included,
    /// The desired state already held once the requests before it were applied.
    NoChange,
    /// Refused against the files as the requests before it left them.
    Refused(PlanError),
    /// Left for the next batch: this one reached its limits first.
    Deferred,
    /// Left for the next batch: its plan needs these chart reads first (the holder fetches
    /// them before that batch).
    NeedsCharts(Vec<ChartWant>),
}

/// A batch planned against one tip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchPlan {
    /// One commit's worth of writes and deletes, relative to the tip; its message has one
    /// `Berth-Request` trailer per included request.
    pub change: Change,
    /// One outcome per request, in the order given.
    pub outcomes: Vec<(String, BatchOutcome)>,
}

impl BatchPlan {
    /// How many requests the commit carries.
    pub fn included(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| *o == BatchOutcome::Included)
            .count()
    }
}

/// Plans `requests`, oldest first, into one commit against `files` (the tip).
pub fn plan_batch(
    requests: &[Request],
    files: &RepoFiles,
    limits: BatchLimits,
    charts: &ChartShelf,
) -> BatchPlan {
    let mut overlay = files.clone();
    let mut touched = BTreeSet::new();
    let mut included: Vec<(&Request, String)> = Vec::new();
    let mut outcomes = Vec::with_capacity(requests.len());
    let mut bytes = 0;
    // Once one request waits for the next batch, every later one does, so no request overtakes
    // an earlier one about the same tenant.
    let mut full = false;
    for request in requests {
        if full || included.len() >= limits.max_requests {
            full = true;
            outcomes.push((request.id.clone(), BatchOutcome::Deferred));
            continue;
        }
        let change = match plan_with_charts(request, &overlay, charts) {
            Ok(change) if change.is_empty() => {
                outcomes.push((request.id.clone(), BatchOutcome::NoChange));
                continue;
            }
            Ok(change) => change,
            // Like a deferral, it holds back every later request, so none overtakes it.
            Err(PlanError::ChartsNeeded(wants)) => {
                full = true;
                outcomes.push((request.id.clone(), BatchOutcome::NeedsCharts(wants)));
                continue;
            }
            Err(e) => {
                outcomes.push((request.id.clone(), BatchOutcome::Refused(e)));
                continue;
            }
        };
        let size: usize = change.writes.values().map(Vec::len).sum();
        if !included.is_empty() && bytes + size > limits.max_bytes {
            full = true;
            outcomes.push((request.id.clone(), BatchOutcome::Deferred));
            continue;
        }
        bytes += size;
        change.apply_to(&mut overlay);
        touched.extend(change.writes.into_keys().chain(change.deletes));
        included.push((request, change.message));
        outcomes.push((request.id.clone(), BatchOutcome::Included));
    }

    let change = net_change(files, &overlay, &touched);
    if change.is_empty() {
        // The included requests undid each other (a create, then a delete): nothing to commit.
        for (_, outcome) in &mut outcomes {
            if *outcome == BatchOutcome::Included {
                *outcome = BatchOutcome::NoChange;
            }
        }
        return BatchPlan { change, outcomes };
    }
    BatchPlan {
        change: Change {
            message: batch_message(&included),
            ..change
        },
        outcomes,
    }
}

/// The writes and deletes that take `tip` to `after`, over the paths the batch touched.
fn net_change(tip: &RepoFiles, after: &RepoFiles, touched: &BTreeSet<String>) -> Change {
    let mut change = Change::default();
    for path in touched {
        match (tip.get(path), after.get(path)) {
            (before, Some(now)) if before != Some(now) => {
                change.writes.insert(path.clone(), now.clone());
            }
            (Some(_), None) => {
                change.deletes.insert(path.clone());
            }
            _ => {}
        }
    }
    change
}

/// A lone request keeps its own message. A batch says how many changes and tenants it carries,
/// lists each change's summary, and ends with one trailer per request, in the order applied.
fn batch_message(included: &[(&Request, String)]) -> String {
    if let [(_, message)] = included {
        return message.clone();
    }
    let tenants: HashSet<&str> = included.iter().map(|(r, _)| r.tenant.as_str()).collect();
    let mut message = format!(
        "Berth: {} changes for {} tenant{}\n\n",
        included.len(),
        tenants.len(),
        if tenants.len() == 1 { "" } else { "s" }
    );
    for (_, own) in included {
        message.push_str(&format!("- {}\n", own.lines().next().unwrap_or_default()));
    }
    message.push('\n');
    for (request, _) in included {
        message.push_str(&request_trailers(request));
        message.push('\n');
    }
    message
}
