//! A rollout's commits: a wave, a wave's revert, the catalog's new default. Each is planned
//! against the tip inside the committer (so a lost race plans again), carries the rollout's id
//! and what it is in its trailers, and is found again by them after a crash.

use std::sync::{Arc, Mutex};

use berth_core::catalog::CATALOG_PATH;
use berth_core::catalog_edit::set_module_default;
use berth_core::model::{Change, RepoFiles};
use berth_core::paths::TENANTS_DIR;
use berth_core::request::{ACTION_TRAILER, request_trailer};
use berth_core::rollout::RolloutSpec;
use berth_core::rollout::revert::{REVERT_TRAILER, WaveFiles, plan_wave_revert};
use berth_core::rollout::wave::{WAVE_TRAILER, WaveTenant, plan_wave};
use berth_core::schema::CHART_READS;
use berth_core::{EnvName, FieldError, PlanError, TenantName};
use berth_gitops::{CommitOutcome, CommitRequest, Target};
use berth_store::{CommitClaim, PlannedTenant, TenantNote};

use crate::plan_charts::commit_fetching_charts;
use crate::time::rfc3339_at;
use crate::{App, UseCaseError};

/// The trailer of the commit that makes the rolled-out version the catalog's default.
pub const DEFAULT_TRAILER: &str = "Berth-Rollout-Default";

/// What a wave's or a revert's commit did.
pub struct Landed {
    pub commit: Option<String>,
    pub tenants: u32,
    /// Skipped at the wave's turn, or left as they are by a revert.
    pub notes: Vec<TenantNote>,
}

/// What the plan inside the committer found (tenants changed, tenants noted), for the caller:
/// the last plan's, the one that landed.
type PlannedSlot = Arc<Mutex<Option<(usize, Vec<(TenantName, String)>)>>>;

/// What the landed plan left in `slot`.
fn taken(slot: &PlannedSlot) -> (usize, Vec<(TenantName, String)>) {
    slot.lock()
        .ok()
        .and_then(|mut slot| slot.take())
        .unwrap_or_default()
}

fn reads() -> Vec<String> {
    let mut reads = vec![CATALOG_PATH.to_owned(), format!("{TENANTS_DIR}/")];
    reads.extend(CHART_READS.iter().map(|p| p.to_string()));
    reads
}

fn commit_request(id: &str, target: Target) -> CommitRequest {
    CommitRequest {
        request_id: id.to_owned(),
        reads: reads(),
        target,
    }
}

/// The branch wave `number` of rollout `id` is committed to in `pr` mode.
pub fn wave_branch(id: &str, number: u32) -> String {
    format!("berth/{id}-wave-{number}")
}

fn sha_of(outcome: CommitOutcome) -> Option<String> {
    match outcome {
        CommitOutcome::Committed { sha, .. } => Some(sha),
        CommitOutcome::NoChange { .. } => None,
    }
}

fn notes(pairs: Vec<(TenantName, String)>) -> Vec<TenantNote> {
    pairs
        .into_iter()
        .map(|(tenant, reason)| TenantNote {
            tenant: tenant.to_string(),
            reason,
        })
        .collect()
}

/// The frozen plan's tenants of a wave, as stored; a page the parser refuses is skipped with
/// the reason (the store holds only names Berth wrote).
fn wave_tenants(stored: &[PlannedTenant]) -> (Vec<WaveTenant>, Vec<TenantNote>) {
    let mut tenants = Vec::new();
    let mut refused = Vec::new();
    for planned in stored {
        let parsed = TenantName::parse("tenant", &planned.tenant).and_then(|tenant| {
            let envs = planned
                .envs
                .iter()
                .map(|e| EnvName::parse("env", e))
                .collect::<Result<Vec<_>, FieldError>>()?;
            Ok(WaveTenant {
                tenant,
                envs,
                digest: planned.digest.clone(),
            })
        });
        match parsed {
            Ok(t) => tenants.push(t),
            Err(e) => refused.push(TenantNote {
                tenant: planned.tenant.clone(),
                reason: e.reason,
            }),
        }
    }
    (tenants, refused)
}

/// Commits wave `number` of rollout `id`: one commit for the wave's tenants at the tip, onto
/// the branch or (`target`) a new branch of its own for a pull request.
pub async fn commit_wave(
    app: &App,
    id: &str,
    spec: &RolloutSpec,
    (number, target): (u32, Target),
    stored: &[PlannedTenant],
    now: i64,
) -> Result<Landed, UseCaseError> {
    let (tenants, mut refused) = wave_tenants(stored);
    let planned: PlannedSlot = Default::default();
    let now = rfc3339_at(now);
    let outcome = commit_fetching_charts(app, commit_request(id, target), |charts| {
        let (id, spec, tenants, now, planned) = (
            id.to_owned(),
            spec.clone(),
            tenants.clone(),
            now.clone(),
            Arc::clone(&planned),
        );
        Arc::new(move |files: &RepoFiles| {
            let wave = plan_wave(&id, number as usize, &spec, &tenants, files, &charts, &now)?;
            if let Ok(mut slot) = planned.lock() {
                *slot = Some((wave.tenants.len(), wave.skipped.clone()));
            }
            Ok(wave.change)
        })
    })
    .await?;
    let (changed, skipped) = taken(&planned);
    refused.extend(notes(skipped));
    Ok(Landed {
        commit: sha_of(outcome),
        tenants: changed as u32,
        notes: refused,
    })
}

/// Commits the revert of wave `number`, whose commit is `wave_commit`.
pub async fn commit_revert(
    app: &App,
    id: &str,
    number: u32,
    wave_commit: &str,
    force: bool,
) -> Result<Landed, UseCaseError> {
    let Some(wave) = app
        .committer
        .commit_files(wave_commit.to_owned(), format!("{TENANTS_DIR}/"))
        .await?
    else {
        return Ok(Landed {
            commit: None,
            tenants: 0,
            notes: vec![TenantNote {
                tenant: "*".into(),
                reason: format!("the wave's commit {wave_commit} is not in the repository"),
            }],
        });
    };
    let planned: PlannedSlot = Default::default();
    let wave = Arc::new(wave);
    let outcome = commit_fetching_charts(app, commit_request(id, Target::Branch), |charts| {
        let (id, wave, planned) = (id.to_owned(), Arc::clone(&wave), Arc::clone(&planned));
        Arc::new(move |files: &RepoFiles| {
            let files_of_wave = WaveFiles {
                commit: &wave.sha,
                before: &wave.before,
                after: &wave.after,
            };
            let revert = plan_wave_revert(&id, number, files_of_wave, files, &charts, force)?;
            if let Ok(mut slot) = planned.lock() {
                *slot = Some((revert.tenants.len(), revert.conflicts.clone()));
            }
            Ok(revert.change)
        })
    })
    .await?;
    let (reverted, conflicts) = taken(&planned);
    Ok(Landed {
        commit: sha_of(outcome),
        tenants: reverted as u32,
        notes: notes(conflicts),
    })
}

/// Commits the catalog's new default for the rollout's module; `Ok(None)` when it already is.
pub async fn commit_default(
    app: &App,
    id: &str,
    module: &berth_core::ModuleName,
    version: &str,
) -> Result<Option<String>, UseCaseError> {
    let request = CommitRequest {
        request_id: id.to_owned(),
        reads: vec![CATALOG_PATH.to_owned()],
        target: Target::Branch,
    };
    let (id, module, version) = (id.to_owned(), module.clone(), version.to_owned());
    let plan = move |files: &RepoFiles| -> Result<Change, PlanError> {
        let catalog = files
            .get(CATALOG_PATH)
            .ok_or(PlanError::Catalog(berth_core::CatalogError::Missing))?;
        let edited = set_module_default(catalog, &module, &version)?;
        let mut change = Change::default();
        if &edited != catalog {
            change.writes.insert(CATALOG_PATH.to_owned(), edited);
        }
        change.message = format!(
            "Make {module} {version} the catalog's default\n\nRollout {id} finished.\n\n{}\n{ACTION_TRAILER}: rollout_default\n{DEFAULT_TRAILER}: {module} {version}\n",
            request_trailer(&id)
        );
        Ok(change)
    };
    let outcome = app.committer.commit(request, Arc::new(plan)).await?;
    Ok(sha_of(outcome))
}

/// The commit a claim's holder made before it died, if it landed: the newest commit carrying
/// the rollout's id is the claimed one when its trailers say so (while the claim is held, no
/// other commit of the rollout is made). In `pr` mode a wave's commit is on its own branch:
/// the newest commit there carrying the id, unless the main branch has it already (an earlier
/// wave's, which the branch starts from).
pub async fn find_claimed(
    app: &App,
    id: &str,
    claim: &CommitClaim,
    pr: bool,
) -> Result<Option<String>, UseCaseError> {
    if pr && claim.kind == "wave" {
        let branch = wave_branch(id, claim.number);
        let Some(sha) = app
            .committer
            .find_request(id.to_owned(), Some(branch))
            .await?
        else {
            return Ok(None);
        };
        return Ok((!on_main(app, &sha).await?).then_some(sha));
    }
    let Some(newest) = app.committer.find_landed(id.to_owned(), 0).await? else {
        return Ok(None);
    };
    let carries = |line: &str| match claim.kind.as_str() {
        "wave" => line == format!("{WAVE_TRAILER}: {}", claim.number),
        "revert" => line == format!("{REVERT_TRAILER}: {}", claim.number),
        _ => line.starts_with(&format!("{DEFAULT_TRAILER}: ")),
    };
    let landed = newest.message.lines().any(|l| carries(l.trim()));
    Ok(landed.then_some(newest.sha))
}

/// Whether the configured branch's tip contains commit `sha`.
pub async fn on_main(app: &App, sha: &str) -> Result<bool, UseCaseError> {
    let tip = app.committer.read(vec![CATALOG_PATH.to_owned()]).await?.tip;
    let answers = app.committer.contains(vec![(sha.to_owned(), tip)]).await?;
    Ok(answers.first().copied().unwrap_or(false))
}

/// Opens the pull request of wave `number`'s pushed branch (or finds the one a step that died
/// opened). Without a GitHub credential, or when GitHub fails, the branch stays pushed and
/// the wave counts once the main branch contains it.
pub async fn open_wave_pull(
    app: &App,
    id: &str,
    number: u32,
    tenants: u32,
) -> berth_store::WavePull {
    let branch = wave_branch(id, number);
    let mut pull = berth_store::WavePull {
        branch: branch.clone(),
        number: None,
        url: None,
        merged: false,
    };
    let Some(pulls) = &app.pulls else {
        return pull;
    };
    let draft = berth_gitops::PullRequestDraft {
        branch,
        title: format!("Rollout {id}, wave {number}: {tenants} tenant(s)"),
        body: format!(
            "Opened by Berth for wave {number} of rollout `{id}`.\n\nMerging it applies the \
             wave; Berth then follows it to ready and, after its soak, opens the next wave. \
             Every tenant's files were validated against the catalog and their charts' schemas."
        ),
    };
    match pulls.open(&draft).await {
        Ok(opened) => {
            pull.number = Some(opened.number);
            pull.url = Some(opened.url);
        }
        Err(e) => {
            tracing::warn!(rollout = %id, wave = number, error = %e, "could not open the wave's pull request")
        }
    }
    pull
}
