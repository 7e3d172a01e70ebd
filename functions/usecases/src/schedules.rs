//! Billing's scheduled changes (a suspension after the grace period, a deletion after the
//! retention period), carried out when due as ordinary requests through the same write path as
//! the API: planned, committed, recorded, and then followed by the lifecycle like any other.

use crate::app::{App, Mode};
use crate::write::group_commit::WhenUndecided;
use crate::write::outcome::{Progress, Unsettled};
use crate::write::submit::{Submission, submit};
use berth_core::{Action, Request, TenantName, TenantPatch};
use berth_store::{BillingLink, RequestState, StoreError};

/// Who asked, as request records show it.
const SOURCE: &str = "schedule:billing";

/// Carries out every scheduled change due at `now` (epoch seconds); returns how many were.
pub async fn carry_out_due(app: &App, now: i64) -> Result<usize, StoreError> {
    let mut done = 0;
    for link in app.store.list_scheduled_billing().await? {
        if link.scheduled.as_ref().is_some_and(|s| s.due_at <= now) && carry_out(app, link).await? {
            done += 1;
        }
    }
    Ok(done)
}

/// One due change; `false` when it must wait for a later sweep (Git or the store is down).
async fn carry_out(app: &App, link: BillingLink) -> Result<bool, StoreError> {
    // A newer billing event (a payment, say) may have cancelled the schedule meanwhile.
    let current = app.store.get_billing(&link.customer).await?;
    let Some(scheduled) = current.as_ref().and_then(|c| c.scheduled.clone()) else {
        return Ok(false);
    };
    if Some(&scheduled) != link.scheduled.as_ref() {
        return Ok(false);
    }
    let action = match scheduled.action.as_str() {
        "suspend" => Action::UpdateTenant(TenantPatch {
            suspended: Some(true),
            ..Default::default()
        }),
        "delete" => Action::DeleteTenant,
        other => {
            tracing::warn!(customer = %link.customer, action = other, "unknown scheduled action; dropped");
            return clear(app, link).await;
        }
    };
    let Ok(tenant) = TenantName::parse("tenant", &link.tenant) else {
        tracing::warn!(customer = %link.customer, "scheduled change names an invalid tenant; dropped");
        return clear(app, link).await;
    };
    // The request that scheduled a suspension recorded nothing else: it goes on under its own
    // id. A deletion was scheduled by the suspension's request, which already has its commit.
    let id = match app.store.get_request(&scheduled.request).await? {
        Some(r) if r.state == RequestState::Scheduled => r.id,
        _ => ulid::Ulid::new().to_string(),
    };
    let request = Request { id, tenant, action };
    let submission = Submission {
        request,
        source: SOURCE.into(),
        requested_by: None,
        mode: Mode::Direct,
        when_undecided: WhenUndecided::Acknowledge,
    };
    match submit(app, submission, &Progress::default()).await {
        Ok(submitted) => {
            tracing::info!(request_id = %submitted.record.id, customer = %link.customer, action = %scheduled.action, "scheduled change carried out");
            clear(app, link).await
        }
        Err(Unsettled { error, .. }) if error.is_transient() => {
            tracing::warn!(customer = %link.customer, error = %error.message, "scheduled change must wait");
            Ok(false)
        }
        Err(Unsettled { error, .. }) => {
            // Refused for good (the tenant is gone, say): recorded on the request; dropped.
            tracing::warn!(customer = %link.customer, error = %error.message, "scheduled change refused");
            clear(app, link).await
        }
    }
}

/// Drops the schedule, unless a newer billing event replaced the link meanwhile.
async fn clear(app: &App, link: BillingLink) -> Result<bool, StoreError> {
    let cleared = BillingLink {
        scheduled: None,
        ..link
    };
    app.store.put_billing_unless_newer(&cleared).await?;
    Ok(true)
}
