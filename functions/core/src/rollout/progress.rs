//! What a rollout does next, from what was observed of its committed waves: commit the next
//! wave, wait, pause with a reason, revert, or finish. Pure: the status function gathers the
//! verdicts (each for the wave's own commit) and the time, and carries out the decision.
//!
//! The rules, in order:
//! - paused by a person: wait;
//! - failures beyond the budget (`max(count, percent × tenants so far)`, tenants degraded
//!   before their wave not counted): pause or revert, as the rollout says;
//! - a tenant of the newest wave unknown (cluster unreachable, no Application yet), or still
//!   not ready past the progress deadline: pause, naming them (unknown never passes);
//! - a tenant still on its way: wait;
//! - the newest wave ready: wait out the soak from its last tenant's readiness (verdicts are
//!   taken again on every step, so a failure during the soak still counts), then commit the
//!   next wave, or finish.

use std::time::Duration;

use super::waves::failure_allowance;
use super::{Gates, OnFailure};
use crate::names::TenantName;

/// One tenant's verdict for the commit of its wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Synced to a revision containing the wave's commit, healthy after that sync, workloads
    /// ready, since `ready_at` (seconds on the caller's clock).
    Pass { ready_at: u64 },
    /// The change broke it (sync failed, degraded after the sync).
    Fail { reason: String },
    /// Degraded before its wave was committed: reported, not counted against the change.
    DegradedBefore,
    /// Not synced or not ready yet.
    Waiting,
    /// No data: the cluster does not answer, or the Application does not exist yet.
    Unknown { reason: String },
}

/// A committed wave and its tenants' verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedWave {
    pub committed_at: u64,
    pub verdicts: Vec<(TenantName, Verdict)>,
    /// Tenants that passed besides those in `verdicts`: an earlier wave is kept as its
    /// failures and a count, not a verdict per tenant.
    pub passed: usize,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Commit wave `index` (0-based).
    CommitWave(usize),
    /// Nothing to do before `until` (or before new observations, when `None`).
    Wait {
        until: Option<u64>,
    },
    Pause {
        reason: String,
    },
    Revert {
        reason: String,
    },
    Done,
}

/// The decision for a rollout of `waves_total` waves whose first `committed.len()` are
/// committed, at `now`.
pub fn next_step(
    committed: &[CommittedWave],
    waves_total: usize,
    gates: &Gates,
    on_failure: OnFailure,
    paused: bool,
    now: u64,
) -> Next {
    if paused {
        return Next::Wait { until: None };
    }
    let Some(newest) = committed.last() else {
        return if waves_total == 0 {
            Next::Done
        } else {
            Next::CommitWave(0)
        };
    };
    let counted: Vec<&(TenantName, Verdict)> = committed
        .iter()
        .flat_map(|w| &w.verdicts)
        .filter(|(_, v)| *v != Verdict::DegradedBefore)
        .collect();
    let failed: Vec<String> = counted
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Fail { .. }))
        .map(|(t, v)| match v {
            Verdict::Fail { reason } => format!("{t} ({reason})"),
            _ => t.to_string(),
        })
        .collect();
    let passed_elsewhere: usize = committed.iter().map(|w| w.passed).sum();
    let allowed = failure_allowance(
        gates.failure_budget_count,
        gates.failure_budget_percent,
        counted.len() + passed_elsewhere,
    );
    if failed.len() > allowed {
        let reason = format!(
            "{} tenant(s) failed, {allowed} allowed: {}",
            failed.len(),
            failed.join(", ")
        );
        return match on_failure {
            OnFailure::Pause => Next::Pause { reason },
            OnFailure::Revert => Next::Revert { reason },
        };
    }
    if newest.verdicts.is_empty() && newest.passed == 0 {
        // Every tenant of the wave was skipped at its turn: nothing to wait for.
        return if committed.len() < waves_total {
            Next::CommitWave(committed.len())
        } else {
            Next::Done
        };
    }
    let unknown: Vec<String> = newest
        .verdicts
        .iter()
        .filter_map(|(t, v)| match v {
            Verdict::Unknown { reason } => Some(format!("{t} ({reason})")),
            _ => None,
        })
        .collect();
    if !unknown.is_empty() {
        return Next::Pause {
            reason: format!("no data for {}", unknown.join(", ")),
        };
    }
    let waiting: Vec<String> = newest
        .verdicts
        .iter()
        .filter(|(_, v)| *v == Verdict::Waiting)
        .map(|(t, _)| t.to_string())
        .collect();
    let deadline = newest.committed_at + secs(gates.progress_deadline);
    if !waiting.is_empty() {
        if now >= deadline {
            return Next::Pause {
                reason: format!(
                    "not ready {} s after the wave's commit: {}",
                    secs(gates.progress_deadline),
                    waiting.join(", ")
                ),
            };
        }
        return Next::Wait {
            until: Some(deadline),
        };
    }
    let ready_at = newest
        .verdicts
        .iter()
        .filter_map(|(_, v)| match v {
            Verdict::Pass { ready_at } => Some(*ready_at),
            _ => None,
        })
        .max()
        .unwrap_or(newest.committed_at);
    let soaked = ready_at + secs(gates.soak);
    if now < soaked {
        return Next::Wait {
            until: Some(soaked),
        };
    }
    if committed.len() < waves_total {
        Next::CommitWave(committed.len())
    } else {
        Next::Done
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: &str) -> TenantName {
        TenantName::parse("t", n).unwrap()
    }

    fn gates() -> Gates {
        Gates {
            soak: Duration::from_secs(600),
            failure_budget_count: 0,
            failure_budget_percent: 0,
            progress_deadline: Duration::from_secs(1800),
        }
    }

    fn wave(at: u64, verdicts: Vec<(&str, Verdict)>) -> CommittedWave {
        CommittedWave {
            committed_at: at,
            verdicts: verdicts.into_iter().map(|(n, v)| (t(n), v)).collect(),
            passed: 0,
        }
    }

    fn step(waves: &[CommittedWave], now: u64) -> Next {
        next_step(waves, 3, &gates(), OnFailure::Pause, false, now)
    }

    #[test]
    fn the_next_wave_waits_for_readiness_then_the_soak() {
        assert_eq!(step(&[], 0), Next::CommitWave(0));
        let waiting = [wave(
            100,
            vec![
                ("a", Verdict::Waiting),
                ("b", Verdict::Pass { ready_at: 150 }),
            ],
        )];
        assert_eq!(step(&waiting, 200), Next::Wait { until: Some(1900) });
        let ready = [wave(
            100,
            vec![
                ("a", Verdict::Pass { ready_at: 300 }),
                ("b", Verdict::Pass { ready_at: 150 }),
            ],
        )];
        assert_eq!(
            step(&ready, 899),
            Next::Wait { until: Some(900) },
            "soak from the last readiness"
        );
        assert_eq!(step(&ready, 900), Next::CommitWave(1));
        let all = [ready[0].clone(), ready[0].clone(), ready[0].clone()];
        assert_eq!(step(&all, 900), Next::Done);
    }

    #[test]
    fn a_failure_beyond_the_budget_pauses_or_reverts_naming_the_tenant() {
        let failed = [wave(
            100,
            vec![
                ("a", Verdict::Pass { ready_at: 150 }),
                (
                    "b",
                    Verdict::Fail {
                        reason: "Degraded".into(),
                    },
                ),
            ],
        )];
        match step(&failed, 200) {
            Next::Pause { reason } => assert!(reason.contains("b (Degraded)"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            next_step(&failed, 3, &gates(), OnFailure::Revert, false, 200),
            Next::Revert { .. }
        ));
        let lenient = Gates {
            failure_budget_count: 1,
            ..gates()
        };
        assert_eq!(
            next_step(&failed, 3, &lenient, OnFailure::Pause, false, 200),
            Next::Wait { until: Some(750) }
        );
    }

    #[test]
    fn unknown_and_late_tenants_pause_and_the_degraded_before_do_not_count() {
        let unknown = [wave(
            100,
            vec![(
                "a",
                Verdict::Unknown {
                    reason: "prod-eu does not answer".into(),
                },
            )],
        )];
        assert!(
            matches!(step(&unknown, 200), Next::Pause { reason } if reason.contains("prod-eu"))
        );
        let late = [wave(100, vec![("a", Verdict::Waiting)])];
        assert!(
            matches!(step(&late, 1900), Next::Pause { reason } if reason.contains("not ready"))
        );
        let baseline = [wave(
            100,
            vec![
                ("a", Verdict::DegradedBefore),
                ("b", Verdict::Pass { ready_at: 100 }),
            ],
        )];
        assert_eq!(step(&baseline, 700), Next::CommitWave(1));
        assert_eq!(
            next_step(&baseline, 3, &gates(), OnFailure::Pause, true, 700),
            Next::Wait { until: None }
        );
    }
}
