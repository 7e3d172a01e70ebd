//! The status function's step for each open rollout: observe the newest wave for its own
//! commit, decide (`berth_core::rollout::progress::next_step`), and carry the decision out:
//! commit the next wave, pause, revert, or finish. No process waits between steps.
//!
//! Crash safety: a commit is claimed first with a versioned write of the record, so of two
//! racing steps only one commits; a step that dies after its commit and before recording it
//! leaves the claim, and the first step after the claim's lease finds the commit by its
//! trailers and records it instead of committing again.

use std::time::Duration;

use async_trait::async_trait;
use berth_core::TenantName;
use berth_core::rollout::progress::{self, Next, Verdict, next_step};
use berth_core::rollout::{FleetChange, RolloutSpec};
use berth_store::{
    CommitClaim, CommittedWave, PlannedTenant, RevertedWave, RolloutRecord, RolloutState,
    TenantNote,
};

pub use super::Stepped;
use super::commits::{
    commit_default, commit_revert, commit_wave, find_claimed, open_wave_pull, wave_branch,
};
use super::merge::await_merge;
use super::stored_spec;
use super::versioned::{claim, release, save, save_outcome};
use crate::{App, UseCaseError};

/// How long a claimed commit may take before another step looks for it in Git and makes it
/// if it is not there: well past the status function's timeout.
pub const CLAIM_LEASE: Duration = Duration::from_secs(5 * 60);

/// How one tenant of a committed wave stands for the wave's commit, as the status function
/// observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantHealth {
    /// Synced to a revision containing the commit, healthy after it, workloads ready.
    Ready,
    /// Not synced or not ready yet.
    Waiting,
    /// The sync of a revision containing the commit failed, or degraded after it.
    Failed(String),
    /// No data: the cluster did not answer.
    Unknown(String),
}

/// What the status function saw of the fleet, for the tenants of a wave.
#[async_trait]
pub trait FleetHealth: Send + Sync {
    /// Each tenant's health for `commit`, in the order given (only the wave's envs count).
    async fn health(
        &self,
        tenants: &[PlannedTenant],
        commit: &str,
    ) -> Result<Vec<TenantHealth>, UseCaseError>;

    /// Those of `tenants` degraded now: the baseline taken just before a wave's commit.
    fn degraded(&self, tenants: &[PlannedTenant]) -> Vec<String>;
}

/// What a step may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepScope {
    /// Everything: the scheduled sweep, which saw the whole fleet.
    Full,
    /// Observe, pause and revert, but commit no wave: an Argo CD notification moves a rollout
    /// at once (the soak starts, a failure pauses it) without the fleet-wide read a wave's
    /// baseline needs; the next sweep commits.
    ObserveOnly,
}

/// Steps every open rollout; one rollout's failure is logged and does not stop the others.
pub async fn step_rollouts(
    app: &App,
    fleet: &dyn FleetHealth,
    now: i64,
) -> Result<Vec<(String, Stepped)>, UseCaseError> {
    let mut stepped = Vec::new();
    for record in app.store.list_open_rollouts().await? {
        let id = record.id.clone();
        match step_rollout(app, fleet, record, now, StepScope::Full).await {
            Ok(s) => stepped.push((id, s)),
            Err(e) => tracing::warn!(rollout = %id, error = %e.message, "rollout step failed"),
        }
    }
    Ok(stepped)
}

/// One step of one rollout, from its record as listed.
pub async fn step_rollout(
    app: &App,
    fleet: &dyn FleetHealth,
    record: RolloutRecord,
    now: i64,
    scope: StepScope,
) -> Result<Stepped, UseCaseError> {
    let spec = stored_spec(&record)?;
    let mut record = record;
    if let Some(claim) = record.claim.clone() {
        if now < claim.since + CLAIM_LEASE.as_secs() as i64 {
            return Ok(Stepped::Waiting);
        }
        // Its holder died. If its commit landed, record it; otherwise make it again below.
        if let Some(sha) = find_claimed(app, &record.id, &claim, record.mode == "pr").await? {
            return recover(app, record, &claim, sha, now).await;
        }
        record.claim = None;
    }
    match record.state {
        RolloutState::Running => forward(app, fleet, record, &spec, now, scope).await,
        RolloutState::Reverting => revert_waves(app, record, now).await,
        // Still watched, so its view stays true and a soak that passed while paused counts
        // on resume; nothing is committed.
        RolloutState::Paused => {
            let mut record = record;
            if observe_newest(app, fleet, &mut record, now).await?.changed {
                save(app, &record).await?;
            }
            Ok(Stepped::Waiting)
        }
        _ => Ok(Stepped::Waiting),
    }
}

/// Records the commit a dead step made under `claim`.
async fn recover(
    app: &App,
    record: RolloutRecord,
    claim: &CommitClaim,
    sha: String,
    now: i64,
) -> Result<Stepped, UseCaseError> {
    let commit = Some(sha);
    let number = claim.number;
    let kind = claim.kind.clone();
    let mut tenants = None;
    let mut pull = None;
    if kind == "wave" {
        let count = app.store.get_wave(&record.id, number).await?.len() as u32;
        tenants = Some(count);
        if record.mode == "pr" {
            pull = Some(open_wave_pull(app, &record.id, number, count).await);
        }
    }
    save_outcome(app, record, |r| {
        r.claim = None;
        match kind.as_str() {
            "wave" => r.committed.push(CommittedWave {
                number,
                commit: commit.clone(),
                committed_at: now,
                tenants: tenants.unwrap_or_default(),
                pull: pull.clone(),
                ..Default::default()
            }),
            "revert" => r.reverted.push(RevertedWave {
                number,
                commit: commit.clone(),
                reverted_at: now,
                conflicts: Vec::new(),
            }),
            _ => r.default_commit = commit.clone(),
        }
    })
    .await?;
    Ok(Stepped::Recovered { wave: number })
}

async fn forward(
    app: &App,
    fleet: &dyn FleetHealth,
    mut record: RolloutRecord,
    spec: &RolloutSpec,
    now: i64,
    scope: StepScope,
) -> Result<Stepped, UseCaseError> {
    if let Some(stepped) = await_merge(app, &mut record, now).await? {
        return Ok(stepped);
    }
    let observed = observe_newest(app, fleet, &mut record, now).await?;
    let waves = as_progress(&record, &observed);
    let next = next_step(
        &waves,
        record.waves as usize,
        &spec.gates,
        spec.on_failure,
        false,
        now.max(0) as u64,
    );
    let commits = matches!(next, Next::CommitWave(_) | Next::Done);
    match next {
        _ if commits && scope == StepScope::ObserveOnly => {
            if observed.changed {
                save(app, &record).await?;
            }
            Ok(Stepped::Waiting)
        }
        Next::Wait { .. } => {
            if observed.changed {
                save(app, &record).await?;
            }
            Ok(Stepped::Waiting)
        }
        Next::Pause { reason } => {
            record.state = RolloutState::Paused;
            record.pause_reason = Some(reason.clone());
            if !save(app, &record).await? {
                return Ok(Stepped::Raced);
            }
            Ok(Stepped::Paused { reason })
        }
        Next::Revert { reason } => {
            record.state = RolloutState::Reverting;
            record.pause_reason = Some(reason);
            if !save(app, &record).await? {
                return Ok(Stepped::Raced);
            }
            record.version += 1;
            revert_waves(app, record, now).await
        }
        Next::CommitWave(index) => next_wave(app, fleet, record, spec, index as u32 + 1, now).await,
        Next::Done => finish(app, record, spec, now).await,
    }
}

/// The newest wave's verdicts for its own commit, and whether its record changed.
struct Observed {
    verdicts: Vec<(TenantName, Verdict)>,
    changed: bool,
}

async fn observe_newest(
    app: &App,
    fleet: &dyn FleetHealth,
    record: &mut RolloutRecord,
    now: i64,
) -> Result<Observed, UseCaseError> {
    let mut observed = Observed {
        verdicts: Vec::new(),
        changed: false,
    };
    let Some(wave) = record.committed.last_mut() else {
        return Ok(observed);
    };
    let Some(commit) = wave.commit.clone() else {
        return Ok(observed);
    };
    let skipped: std::collections::BTreeSet<&str> =
        wave.skipped.iter().map(|n| n.tenant.as_str()).collect();
    let tenants: Vec<PlannedTenant> = app
        .store
        .get_wave(&record.id, wave.number)
        .await?
        .into_iter()
        .filter(|t| !skipped.contains(t.tenant.as_str()))
        .collect();
    let health = fleet.health(&tenants, &commit).await?;
    let mut failed = Vec::new();
    let mut waiting = Vec::new();
    let mut ready = 0;
    for (tenant, health) in tenants.iter().zip(health) {
        let Ok(name) = TenantName::parse("tenant", &tenant.tenant) else {
            continue;
        };
        let before = wave.degraded_before.contains(&tenant.tenant);
        let verdict = match health {
            TenantHealth::Ready => {
                ready += 1;
                Verdict::Pass {
                    ready_at: wave.ready_at.unwrap_or(now).max(0) as u64,
                }
            }
            TenantHealth::Waiting => {
                waiting.push(tenant.tenant.clone());
                Verdict::Waiting
            }
            TenantHealth::Failed(_) if before => Verdict::DegradedBefore,
            TenantHealth::Failed(reason) => {
                failed.push(TenantNote {
                    tenant: tenant.tenant.clone(),
                    reason: reason.clone(),
                });
                Verdict::Fail { reason }
            }
            TenantHealth::Unknown(reason) => {
                waiting.push(tenant.tenant.clone());
                Verdict::Unknown { reason }
            }
        };
        observed.verdicts.push((name, verdict));
    }
    let all_pass = observed
        .verdicts
        .iter()
        .all(|(_, v)| matches!(v, Verdict::Pass { .. } | Verdict::DegradedBefore));
    let ready_at = match (all_pass, wave.ready_at) {
        (true, Some(at)) => Some(at),
        (true, None) => Some(now),
        // Not all ready any more: the soak starts again once they are.
        (false, _) => None,
    };
    observed.changed = wave.ready != ready
        || wave.failed != failed
        || wave.waiting != waiting
        || wave.ready_at != ready_at;
    wave.ready = ready;
    wave.failed = failed;
    wave.waiting = waiting;
    wave.ready_at = ready_at;
    Ok(observed)
}

/// The committed waves as the decision reads them: the newest with this step's verdicts, the
/// earlier ones as their recorded failures and a count of the rest.
fn as_progress(record: &RolloutRecord, observed: &Observed) -> Vec<progress::CommittedWave> {
    let count = record.committed.len();
    record
        .committed
        .iter()
        .enumerate()
        .map(|(i, wave)| {
            let committed_at = wave.committed_at.max(0) as u64;
            if i + 1 == count {
                return progress::CommittedWave {
                    committed_at,
                    verdicts: observed.verdicts.clone(),
                    passed: 0,
                };
            }
            let verdicts: Vec<(TenantName, Verdict)> = wave
                .failed
                .iter()
                .filter_map(|n| {
                    let name = TenantName::parse("tenant", &n.tenant).ok()?;
                    Some((
                        name,
                        Verdict::Fail {
                            reason: n.reason.clone(),
                        },
                    ))
                })
                .collect();
            let passed =
                (wave.tenants as usize).saturating_sub(verdicts.len() + wave.degraded_before.len());
            progress::CommittedWave {
                committed_at,
                verdicts,
                passed,
            }
        })
        .collect()
}

/// Claims wave `number`, commits it, records it.
async fn next_wave(
    app: &App,
    fleet: &dyn FleetHealth,
    mut record: RolloutRecord,
    spec: &RolloutSpec,
    number: u32,
    now: i64,
) -> Result<Stepped, UseCaseError> {
    if !claim(app, &mut record, "wave", number, now).await? {
        return Ok(Stepped::Raced);
    }
    let tenants = app.store.get_wave(&record.id, number).await?;
    // Before the commit: a tenant degraded now was degraded before the wave.
    let degraded_before = fleet.degraded(&tenants);
    let pr = record.mode == "pr";
    let target = if pr {
        berth_gitops::Target::NewBranch(wave_branch(&record.id, number))
    } else {
        berth_gitops::Target::Branch
    };
    let landed = match commit_wave(app, &record.id, spec, (number, target), &tenants, now).await {
        Ok(landed) => landed,
        Err(e) => {
            release(app, record).await;
            return Err(e);
        }
    };
    let commit = landed.commit.clone();
    let pull = match (pr, &commit) {
        (true, Some(_)) => Some(open_wave_pull(app, &record.id, number, landed.tenants).await),
        _ => None,
    };
    save_outcome(app, record, |r| {
        r.claim = None;
        r.committed.push(CommittedWave {
            number,
            commit: landed.commit.clone(),
            committed_at: now,
            tenants: landed.tenants,
            degraded_before: degraded_before.clone(),
            skipped: landed.notes.clone(),
            pull: pull.clone(),
            ..Default::default()
        });
    })
    .await?;
    Ok(Stepped::Committed {
        wave: number,
        commit,
    })
}

/// Every wave passed: make the version the catalog's default when asked, then done.
async fn finish(
    app: &App,
    mut record: RolloutRecord,
    spec: &RolloutSpec,
    now: i64,
) -> Result<Stepped, UseCaseError> {
    let version = match &spec.change {
        FleetChange::Reconfigure { version, .. } | FleetChange::Enable { version, .. } => {
            version.clone()
        }
        FleetChange::Disable { .. } => None,
    };
    if let (true, Some(version), None) = (spec.then_set_default, version, &record.default_commit) {
        if !claim(app, &mut record, "default", 0, now).await? {
            return Ok(Stepped::Raced);
        }
        match commit_default(app, &record.id, spec.change.module(), &version).await {
            Ok(commit) => {
                // No commit: the catalog already says so.
                record.default_commit = Some(commit.unwrap_or_else(|| "unchanged".into()));
            }
            Err(e) => {
                let reason = format!(
                    "every wave passed, but the catalog's default could not be set: {}",
                    e.message
                );
                let paused = reason.clone();
                save_outcome(app, record, move |r| {
                    r.claim = None;
                    if r.state == RolloutState::Running {
                        r.state = RolloutState::Paused;
                        r.pause_reason = Some(paused.clone());
                    }
                })
                .await?;
                return Ok(Stepped::Paused { reason });
            }
        }
    }
    let default_commit = record.default_commit.clone();
    save_outcome(app, record, |r| {
        r.claim = None;
        r.default_commit = default_commit.clone();
        // A revert or an abort asked meanwhile stands.
        if r.state == RolloutState::Running {
            r.state = RolloutState::Done;
            r.pause_reason = None;
        }
    })
    .await?;
    Ok(Stepped::Done)
}

/// Reverts every applied wave not reverted yet, newest first, one commit each; then the
/// rollout is reverted. The forward gates do not apply.
async fn revert_waves(
    app: &App,
    mut record: RolloutRecord,
    now: i64,
) -> Result<Stepped, UseCaseError> {
    let mut reverted = Vec::new();
    loop {
        let done: std::collections::BTreeSet<u32> =
            record.reverted.iter().map(|r| r.number).collect();
        let next = record
            .committed
            .iter()
            .rev()
            .find(|w| w.commit.is_some() && !done.contains(&w.number))
            .map(|w| (w.number, w.commit.clone().unwrap_or_default()));
        let Some((number, commit)) = next else {
            break;
        };
        if !claim(app, &mut record, "revert", number, now).await? {
            return Ok(Stepped::Raced);
        }
        let landed =
            match commit_revert(app, &record.id, number, &commit, record.force_revert).await {
                Ok(landed) => landed,
                Err(e) => {
                    release(app, record).await;
                    return Err(e);
                }
            };
        record = save_outcome(app, record, |r| {
            r.claim = None;
            r.reverted.push(RevertedWave {
                number,
                commit: landed.commit.clone(),
                reverted_at: now,
                conflicts: landed.notes.clone(),
            });
        })
        .await?;
        reverted.push(number);
    }
    save_outcome(app, record, |r| r.state = RolloutState::Reverted).await?;
    Ok(Stepped::Reverted { waves: reverted })
}
