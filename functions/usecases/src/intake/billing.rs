//! What a billing event does to a tenant. Subscriptions create tenants (once active or paid),
//! prices set tiers through the catalog's price map, failed payments suspend after the catalog's
//! grace period, cancellations suspend now and delete after its retention period, payments
//! resume. Events are ordered by their own time per customer: an older one changes nothing.

use berth_core::catalog::{CATALOG_PATH, Catalog};
use berth_core::plan::load_catalog;
use berth_core::{Action, Request, TenantName, TenantPatch};
use berth_events::billing::{BillingEvent, BillingEventKind};
use berth_store::{BillingLink, Registration, RequestState, ScheduledChange};

use super::{Effect, event_record};
use crate::app::App;
use crate::error::UseCaseError;
use crate::time::epoch_seconds_now;

const DAY: i64 = 24 * 3600;
const PRICE_FIELD: &str = "data.object.items.data[0].price.id";

fn active(status: &str) -> bool {
    matches!(status, "active" | "trialing")
}

/// Decides what `event` does; reads the customer's link and the catalog.
pub async fn billing_effect(
    app: &App,
    request_id: String,
    event: BillingEvent,
) -> Result<Effect, UseCaseError> {
    let link = app.store.get_billing(&event.customer).await?;
    if let Some(link) = &link
        && event.created < link.last_event_at
    {
        return Ok(Effect::Ignore(format!(
            "older than the newest event applied to customer {}",
            event.customer
        )));
    }
    if let BillingEventKind::Other(kind) = &event.kind {
        return Ok(Effect::Ignore(format!(
            "event type {kind} is not one Berth acts on"
        )));
    }
    let snapshot = app.committer.read(vec![CATALOG_PATH.to_owned()]).await?;
    let catalog = load_catalog(&snapshot.files)?;
    let billing = catalog.billing.clone().ok_or_else(|| {
        UseCaseError::invalid("catalog.billing", "the catalog has no billing section")
    })?;
    let next = |link: &BillingLink| BillingLink {
        last_event_at: event.created,
        ..link.clone()
    };

    let Some(link) = link else {
        let BillingEventKind::SubscriptionCreated {
            status,
            price,
            metadata,
        } = &event.kind
        else {
            return Err(UseCaseError::invalid(
                "data.object.customer",
                format!("no tenant is registered for customer {}", event.customer),
            ));
        };
        let tenant = metadata
            .get("tenant")
            .ok_or_else(|| UseCaseError::invalid("data.object.metadata.tenant", "is required"))?;
        let tenant = TenantName::parse("data.object.metadata.tenant", tenant)?;
        let tier = tier_for(&catalog, price.as_deref())?;
        let list = |key: &str| -> Vec<String> {
            metadata
                .get(key)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut envs = list("envs");
        if envs.is_empty() {
            envs = catalog
                .tier(&berth_core::TierName::parse("tier", &tier)?)
                .map(|t| t.environments.iter().map(|e| e.to_string()).collect())
                .unwrap_or_default();
        }
        let registration = Registration {
            tier,
            envs,
            modules: list("modules"),
        };
        let link = BillingLink {
            customer: event.customer.clone(),
            tenant: tenant.to_string(),
            last_event_at: event.created,
            registration: None,
            scheduled: None,
        };
        if active(status) {
            return provision(request_id, &event.customer, link, &registration);
        }
        let record = event_record(
            &request_id,
            "register_tenant",
            tenant.as_str(),
            RequestState::Accepted,
        );
        return Ok(Effect::Link {
            link: BillingLink {
                registration: Some(registration),
                ..link
            },
            record,
        });
    };

    let tenant = TenantName::parse("tenant", &link.tenant)?;
    let patch_request = |patch: TenantPatch| Request {
        id: request_id.clone(),
        tenant: tenant.clone(),
        action: Action::UpdateTenant(patch),
    };
    match &event.kind {
        BillingEventKind::SubscriptionCreated { .. } => Ok(Effect::Ignore(format!(
            "customer {} already has tenant {}",
            event.customer, link.tenant
        ))),
        BillingEventKind::SubscriptionUpdated { status, price } => {
            if let Some(registration) = &link.registration {
                if !active(status) {
                    return Ok(Effect::Ignore("the subscription is not active yet".into()));
                }
                let mut registration = registration.clone();
                if price.is_some() {
                    registration.tier = tier_for(&catalog, price.as_deref())?;
                }
                return provision(
                    request_id,
                    &event.customer,
                    BillingLink {
                        registration: None,
                        ..next(&link)
                    },
                    &registration,
                );
            }
            let tier = price
                .as_deref()
                .map(|p| tier_for(&catalog, Some(p)))
                .transpose()?;
            match status.as_str() {
                "past_due" | "unpaid" => schedule(
                    request_id,
                    &link,
                    next(&link),
                    "suspend",
                    event.created + billing.grace_period_days as i64 * DAY,
                ),
                "canceled" | "incomplete_expired" => cancel(
                    patch_request,
                    next(&link),
                    billing.retention_days,
                    &request_id,
                ),
                _ if active(status) => {
                    let tier = tier
                        .map(|t| berth_core::TierName::parse(PRICE_FIELD, &t))
                        .transpose()?;
                    Ok(resume(
                        patch_request(TenantPatch {
                            tier,
                            ..Default::default()
                        }),
                        next(&link),
                    ))
                }
                other => Ok(Effect::Ignore(format!(
                    "subscription status {other} changes nothing"
                ))),
            }
        }
        BillingEventKind::SubscriptionDeleted => cancel(
            patch_request,
            next(&link),
            billing.retention_days,
            &request_id,
        ),
        BillingEventKind::InvoicePaymentFailed => schedule(
            request_id,
            &link,
            next(&link),
            "suspend",
            event.created + billing.grace_period_days as i64 * DAY,
        ),
        BillingEventKind::InvoicePaid => {
            Ok(resume(patch_request(TenantPatch::default()), next(&link)))
        }
        BillingEventKind::Other(_) => {
            Ok(Effect::Ignore("not a billing event Berth acts on".into()))
        }
    }
}

/// The tier a price buys; an unknown price is the sender's error, recorded on the request.
fn tier_for(catalog: &Catalog, price: Option<&str>) -> Result<String, UseCaseError> {
    let price = price.ok_or_else(|| UseCaseError::invalid(PRICE_FIELD, "is required"))?;
    let prices = catalog.billing.as_ref().map(|b| &b.prices);
    prices
        .and_then(|p| p.get(price))
        .map(|t| t.to_string())
        .ok_or_else(|| {
            UseCaseError::invalid(
                PRICE_FIELD,
                format!("price {price} is not in the catalog's price map"),
            )
        })
}

/// Creates the tenant the subscription paid for.
fn provision(
    request_id: String,
    customer: &str,
    link: BillingLink,
    registration: &Registration,
) -> Result<Effect, UseCaseError> {
    // The same body the API takes, so a registration is checked exactly as a create is.
    let body = serde_json::to_value(berth_contract::CreateTenantBody {
        name: link.tenant.clone(),
        tier: registration.tier.clone(),
        envs: registration.envs.clone(),
        modules: registration.modules.clone(),
        display_name: None,
        owner: None,
        constraints: Default::default(),
        clusters: Default::default(),
    })
    .map_err(|e| UseCaseError::invalid("data.object.metadata", e.to_string()))?;
    let (tenant, mut new) = berth_core::body::parse_create_tenant(&body).map_err(|e| {
        UseCaseError::from(berth_core::FieldError {
            field: format!(
                "data.object.metadata.{}",
                e.field.split('[').next().unwrap_or_default()
            ),
            ..e
        })
    })?;
    new.customer_id = Some(customer.to_owned());
    let prefix = "data.object.metadata";
    Ok(Effect::create_tenant(
        request_id,
        (tenant, new),
        prefix,
        Some(link),
    ))
}

/// Resumes the tenant (with whatever else `request`'s patch sets) and drops any scheduled change.
fn resume(mut request: Request, link: BillingLink) -> Effect {
    if let Action::UpdateTenant(patch) = &mut request.action {
        patch.suspended = Some(false);
    }
    Effect::Submit {
        request,
        prefix: "data.object",
        link: Some(BillingLink {
            scheduled: None,
            ..link
        }),
    }
}

/// Suspends now and schedules the deletion after the retention period.
fn cancel(
    patch_request: impl Fn(TenantPatch) -> Request,
    link: BillingLink,
    retention_days: u32,
    request_id: &str,
) -> Result<Effect, UseCaseError> {
    let due_at = epoch_seconds_now() + retention_days as i64 * DAY;
    let scheduled = ScheduledChange {
        action: "delete".into(),
        due_at,
        request: request_id.to_owned(),
    };
    let request = patch_request(TenantPatch {
        suspended: Some(true),
        ..Default::default()
    });
    Ok(Effect::Submit {
        request,
        prefix: "data.object",
        link: Some(BillingLink {
            scheduled: Some(scheduled),
            ..link
        }),
    })
}

/// Records a change for later (the status sweep carries it out when due).
fn schedule(
    request_id: String,
    old: &BillingLink,
    link: BillingLink,
    action: &str,
    due_at: i64,
) -> Result<Effect, UseCaseError> {
    // A change already scheduled keeps its (earlier) time.
    let scheduled = match &old.scheduled {
        Some(existing) if existing.action == action => existing.clone(),
        _ => ScheduledChange {
            action: action.to_owned(),
            due_at,
            request: request_id.clone(),
        },
    };
    let record = event_record(
        &request_id,
        &format!("schedule_{action}"),
        &old.tenant,
        RequestState::Scheduled,
    );
    Ok(Effect::Link {
        link: BillingLink {
            scheduled: Some(scheduled),
            ..link
        },
        record,
    })
}
