//! Argo CD's notifications: an Application's health, sync status and revision, recorded for its
//! tenant, env and module right away.

use berth_events::events::{ArgocdEvent, parse_argocd_event};
use berth_store::StatusRecord;

use super::Effect;
use crate::app::App;
use crate::error::UseCaseError;
use crate::fingerprint::fingerprint;
use crate::time::now_rfc3339;

/// What a notification does: its status, recorded with what the last sweep knew.
pub async fn argocd_effect(app: &App, body: &[u8]) -> Result<Effect, UseCaseError> {
    let status = status_of(body)?;
    Ok(Effect::Record(keep_sweep_counts(app, status).await))
}

/// A notification knows the Application, not its workloads: it keeps the replica counts, URLs
/// and reason the last sweep recorded for the slot. Its digest differs from any the sweep
/// makes, so the next sweep writes its own view again.
async fn keep_sweep_counts(app: &App, mut status: StatusRecord) -> StatusRecord {
    let Ok(recorded) = app.store.list_statuses(&status.tenant).await else {
        return status; // the write that follows reports the store's trouble
    };
    if let Some(previous) = recorded.into_iter().find(|r| r.slot() == status.slot()) {
        status.ready = previous.ready;
        status.desired = previous.desired;
        status.urls = previous.urls;
        status.reason = previous.reason;
    }
    status
}

fn status_of(body: &[u8]) -> Result<StatusRecord, UseCaseError> {
    let event = parse_argocd_event(body).map_err(|e| UseCaseError::invalid(e.field, e.reason))?;
    berth_core::TenantName::parse("tenant", &event.tenant)?;
    berth_core::EnvName::parse("env", &event.env)?;
    if let Some(m) = &event.module {
        berth_core::ModuleName::parse("module", m)?;
    }
    let ArgocdEvent {
        tenant,
        env,
        module,
        health,
        sync,
        revision,
    } = event;
    let digest = fingerprint(
        &health,
        sync.as_deref().unwrap_or(""),
        revision.as_deref().unwrap_or("").as_bytes(),
    );
    Ok(StatusRecord {
        tenant,
        env,
        module,
        health: health.to_ascii_lowercase(),
        sync,
        revision,
        // Replica counts come from the status sweep, which reads the workloads themselves.
        ready: 0,
        desired: 0,
        urls: Vec::new(),
        reason: None,
        observed_at: now_rfc3339(),
        digest,
    })
}
