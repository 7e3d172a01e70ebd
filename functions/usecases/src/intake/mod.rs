//! What a verified event does. The webhook edge authenticates a delivery, claims its event id,
//! and hands the event's sender module (`signup`, `billing`, `github`, `argocd`) the body; that
//! decides an [`Effect`], and [`apply`] carries it out once: a request through the same write
//! path as the API, a billing record, a status, a review.

pub mod argocd;
pub mod billing;
pub mod github;
pub mod github_api;
pub mod plan_comment;
pub mod signup;

use berth_core::request::NewTenant;
use berth_core::{Action, Request, TenantName};
use berth_store::{BillingLink, RequestRecord, RequestState, StatusRecord};

use crate::app::{App, Mode};
use crate::error::UseCaseError;
use crate::time::now_rfc3339;
use crate::write::group_commit::WhenUndecided;
use crate::write::outcome::{Progress, Unsettled};
use crate::write::submit::{Submission, submit_or_resume};

/// What a verified event asks for.
pub enum Effect {
    /// A request through the same validation, planner and committer as the API. Fields the
    /// planner names are inside the event at `prefix` (`data` for a signup). `link` is written
    /// once the request went through (billing's customer record).
    Submit {
        request: Request,
        prefix: &'static str,
        link: Option<BillingLink>,
    },
    /// No commit now: a billing record to keep (a registration, a scheduled change), and the
    /// request record that says so.
    Link {
        link: BillingLink,
        record: RequestRecord,
    },
    /// A status to record in the store.
    Record(StatusRecord),
    /// Nothing: an event type Berth does not act on.
    Ignore(String),
    /// Done while deciding: a ping answered (no request), or a request moved and recorded.
    Reported {
        outcome: &'static str,
        request: Option<RequestRecord>,
    },
    /// A pull request reviewed: the record of the review and its verdict.
    Reviewed {
        record: RequestRecord,
        review: github::Review,
    },
}

impl Effect {
    /// A tenant created from an event, its fields named from the event's `prefix`.
    pub fn create_tenant(
        request_id: String,
        (tenant, new): (TenantName, NewTenant),
        prefix: &'static str,
        link: Option<BillingLink>,
    ) -> Self {
        let action = Action::CreateTenant(new);
        Effect::Submit {
            request: Request {
                id: request_id,
                tenant,
                action,
            },
            prefix,
            link,
        }
    }
}

/// How a delivery settled, for the sender: it should not send it again.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    /// `recorded`, `reviewed`, `ignored`, `rejected`, `pong`, `merged`, ...; `None` when the
    /// request's state is the outcome (`committed`, `no_change`, `scheduled`, ...).
    pub outcome: Option<&'static str>,
    /// The request the event became, if any.
    pub request: Option<RequestRecord>,
    /// The status recorded (Argo CD).
    pub status: Option<StatusRecord>,
    /// The review made (GitHub).
    pub review: Option<github::Review>,
    /// Why nothing was done.
    pub reason: Option<String>,
    /// Why the event was refused for good, with its field named from the event's root.
    pub error: Option<UseCaseError>,
}

impl Settlement {
    fn of(outcome: &'static str) -> Self {
        Self {
            outcome: Some(outcome),
            ..Self::default()
        }
    }

    /// Settled with `record`, whose state is the outcome.
    fn with_request(record: RequestRecord) -> Self {
        Self {
            request: Some(record),
            ..Self::default()
        }
    }
}

/// One delivery of `source` (`webhook:<sender>`) under `request_id`, to carry out.
pub struct Delivery<'a> {
    pub source: &'a str,
    pub request_id: &'a str,
    /// The delivery took over an interrupted one's claim: a request settles under its id.
    pub resumed: bool,
    /// Where a request's change lands.
    pub mode: Mode,
}

/// Carries out a delivery's effect (or records why it was refused). `Err` is a failure the
/// sender should retry: nothing that cannot be redone was left half-done.
pub async fn apply(
    app: &App,
    delivery: Delivery<'_>,
    effect: Result<Effect, UseCaseError>,
) -> Result<Settlement, UseCaseError> {
    let source = delivery.source;
    match effect {
        Ok(Effect::Link { link, mut record }) => {
            record.source = source.to_owned();
            app.store.put_request(&record).await?;
            app.store.put_billing_unless_newer(&link).await?;
            Ok(Settlement::with_request(record))
        }
        Ok(Effect::Submit {
            request,
            prefix,
            link,
        }) => {
            let submission = Submission {
                request,
                source: source.to_owned(),
                requested_by: None,
                mode: delivery.mode,
                when_undecided: WhenUndecided::Acknowledge,
            };
            let progress = Progress::default();
            match submit_or_resume(app, submission, delivery.resumed, &progress).await {
                Ok(done) => {
                    // The commit stands; if this write fails, the redelivery finds the commit
                    // and writes the link then.
                    if let Some(link) = &link {
                        app.store.put_billing_unless_newer(link).await?;
                    }
                    Ok(Settlement::with_request(done.record))
                }
                // Refused for good: recorded on the request, settled so the sender stops.
                Err(Unsettled { error, record }) if !error.is_transient() => Ok(Settlement {
                    request: record,
                    error: Some(error.prefixed(prefix)),
                    ..Settlement::of("rejected")
                }),
                Err(Unsettled { error, .. }) => Err(error),
            }
        }
        Ok(Effect::Record(status)) => {
            app.store
                .put_statuses(std::slice::from_ref(&status))
                .await?;
            if let Some(refresh) = &app.status_refresh {
                refresh.refresh(&status.tenant).await;
            }
            Ok(Settlement {
                status: Some(status),
                ..Settlement::of("recorded")
            })
        }
        Ok(Effect::Reported { outcome, request }) => Ok(Settlement {
            request,
            ..Settlement::of(outcome)
        }),
        Ok(Effect::Reviewed { mut record, review }) => {
            record.source = source.to_owned();
            app.store.put_request(&record).await?;
            Ok(Settlement {
                request: Some(record),
                review: Some(review),
                ..Settlement::of("reviewed")
            })
        }
        Ok(Effect::Ignore(reason)) => {
            tracing::info!(%reason, "event ignored");
            Ok(Settlement {
                reason: Some(reason),
                ..Settlement::of("ignored")
            })
        }
        // A signed event that does not make sense will not make sense on a retry either: it
        // is recorded as a rejected request, and settled so the sender stops.
        Err(error) if !error.is_transient() => {
            let mut record = event_record(
                delivery.request_id,
                "webhook_event",
                "",
                RequestState::Rejected,
            );
            record.source = source.to_owned();
            record.error = Some(error.body());
            app.store.put_request(&record).await?;
            Ok(Settlement {
                request: Some(record),
                error: Some(error),
                ..Settlement::of("rejected")
            })
        }
        Err(error) => Err(error),
    }
}

/// The record of an event that did not become a commit.
pub fn event_record(
    request_id: &str,
    action: &str,
    tenant: &str,
    state: RequestState,
) -> RequestRecord {
    // The source is filled in by `apply`, which knows the sender.
    RequestRecord::new(request_id, action, "", tenant, state, now_rfc3339())
}
