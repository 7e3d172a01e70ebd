//! Starting a rollout: the plan made against the branch tip, recorded with its waves (in pages)
//! in one store transaction, nothing committed. The status function commits the first wave at
//! its next step. An `Idempotency-Key` makes a retry answer the rollout its first call started.

use berth_core::rollout::plan::LeftOut;
use berth_core::rollout::{FleetChange, RolloutSpec};
use berth_store::{
    Claim, IdempotencyRecord, PlannedTenant, RolloutRecord, RolloutState, TenantNote, wave_pages,
};
use sha2::{Digest, Sha256};

use super::{PlannedRollout, plan};
use crate::error::{ErrorCode, ErrorKind};
use crate::time::{epoch_seconds_after, epoch_seconds_now, now_rfc3339};
use crate::{App, UseCaseError};

/// Where a rollout's idempotency keys live, apart from single requests'.
const KEY_SOURCE: &str = "api:rollouts";
/// How long a key's rollout is remembered.
const KEY_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// A rollout to start.
pub struct StartAsk<'a> {
    /// The body as sent: the record keeps it, and its digest tells a reused key apart.
    pub body: &'a serde_json::Value,
    pub spec: &'a RolloutSpec,
    pub requested_by: Option<String>,
    pub idempotency_key: Option<String>,
    /// `Pr`: each wave a pull request to approve.
    pub mode: crate::Mode,
}

/// The started rollout (or the one the key's first call started) and whether it is new.
pub struct Started {
    pub record: RolloutRecord,
    pub created: bool,
}

pub async fn start(app: &App, ask: StartAsk<'_>) -> Result<Started, UseCaseError> {
    check_default(ask.spec)?;
    let body = serde_json::to_string(ask.body).unwrap_or_default();
    // The mode is part of what was asked: a key reused with another mode is another request.
    let asked = format!("{:?}\n{body}", ask.mode);
    let fingerprint = format!("sha256:{:x}", Sha256::digest(asked.as_bytes()));
    let mut id = ulid::Ulid::new().to_string();
    if let Some(key) = &ask.idempotency_key {
        match claim_key(app, key, &id, &fingerprint).await? {
            KeyClaim::Fresh => {}
            KeyClaim::Reused(first) => {
                if let Some(record) = app.store.get_rollout(&first).await? {
                    return Ok(Started {
                        record,
                        created: false,
                    });
                }
                // The first call stopped between its claim and its record: start under its id.
                id = first;
            }
        }
    }
    let planned = plan(app, ask.spec).await?;
    if planned.plan.tenants() == 0 {
        return Err(UseCaseError::invalid(
            "selector",
            format!(
                "the rollout changes no tenant ({} selected and left out: no change, held or invalid); see its dry run",
                planned.plan.left_out.len()
            ),
        ));
    }
    let mut record = new_record(&id, body, &planned, ask.requested_by);
    if ask.mode == crate::Mode::Pr {
        record.mode = "pr".into();
    }
    let pages = wave_pages(&id, &planned_tenants(&planned));
    if app.store.create_rollout(&record, &pages).await? {
        let mut record = record;
        record.version = 1;
        return Ok(Started {
            record,
            created: true,
        });
    }
    // A racing retry with the same key created it first.
    let record = app.store.get_rollout(&id).await?.ok_or_else(|| {
        UseCaseError::unavailable(ErrorCode::StoreUnavailable, "the rollout vanished")
    })?;
    Ok(Started {
        record,
        created: false,
    })
}

/// `then_set_default` needs a version to make the default.
fn check_default(spec: &RolloutSpec) -> Result<(), UseCaseError> {
    let has_version = matches!(
        &spec.change,
        FleetChange::Reconfigure {
            version: Some(_),
            ..
        } | FleetChange::Enable {
            version: Some(_),
            ..
        }
    );
    if spec.then_set_default && !has_version {
        return Err(UseCaseError::invalid(
            "then_set_default",
            "needs a change that names a version (reconfigure or enable with version)",
        ));
    }
    Ok(())
}

enum KeyClaim {
    Fresh,
    /// The key's first call, by its rollout id.
    Reused(String),
}

async fn claim_key(
    app: &App,
    key: &str,
    id: &str,
    fingerprint: &str,
) -> Result<KeyClaim, UseCaseError> {
    let claim = IdempotencyRecord {
        source: KEY_SOURCE.into(),
        key: key.to_owned(),
        request_id: id.to_owned(),
        fingerprint: fingerprint.to_owned(),
        response: None,
        lease_expires_at: epoch_seconds_now(),
        expires_at: epoch_seconds_after(KEY_RETENTION),
    };
    match app.store.claim_idempotency(&claim).await? {
        Claim::Claimed => Ok(KeyClaim::Fresh),
        Claim::Existing(first) if first.fingerprint == fingerprint => {
            Ok(KeyClaim::Reused(first.request_id))
        }
        Claim::Existing(first) => Err(UseCaseError::new(
            ErrorKind::Conflict,
            ErrorCode::IdempotencyKeyReused,
            format!(
                "this Idempotency-Key started rollout {} with another body",
                first.request_id
            ),
        )
        .with_field("Idempotency-Key")),
    }
}

fn new_record(
    id: &str,
    spec: String,
    planned: &PlannedRollout,
    requested_by: Option<String>,
) -> RolloutRecord {
    let now = now_rfc3339();
    RolloutRecord {
        id: id.to_owned(),
        spec,
        base: planned.revision.clone(),
        hash: planned.plan.hash.clone(),
        waves: planned.plan.waves.len() as u32,
        wave_sizes: planned.plan.waves.iter().map(|w| w.len() as u32).collect(),
        state: RolloutState::Running,
        pause_reason: None,
        committed: Vec::new(),
        version: 0,
        updated_at: now.clone(),
        created_at: now,
        requested_by,
        left_out: planned
            .plan
            .left_out
            .iter()
            .map(|(tenant, why)| TenantNote {
                tenant: tenant.to_string(),
                reason: left_out_reason(why),
            })
            .collect(),
        claim: None,
        reverted: Vec::new(),
        force_revert: false,
        default_commit: None,
        mode: "direct".into(),
    }
}

/// `no_change`, `held: until …` or `invalid: field: reason`: the kind first, so a reader can
/// tell holds apart.
pub fn left_out_reason(why: &LeftOut) -> String {
    match why {
        LeftOut::NoChange => "no_change".into(),
        LeftOut::Held { until } => format!("held: until {until}"),
        LeftOut::Invalid { field, reason } => format!("invalid: {field}: {reason}"),
    }
}

fn planned_tenants(planned: &PlannedRollout) -> Vec<Vec<PlannedTenant>> {
    planned
        .plan
        .waves
        .iter()
        .map(|wave| {
            wave.iter()
                .map(|t| PlannedTenant {
                    tenant: t.tenant.to_string(),
                    envs: t.envs.iter().map(|e| e.to_string()).collect(),
                    digest: t.digest.clone(),
                })
                .collect()
        })
        .collect()
}
