//! `POST /v1/rollouts`: one change to many tenants, in waves. So far the plan only
//! (`dry_run=true`): the waves, each tenant's diff, and the tenants left out, made against the
//! branch tip, with nothing recorded or committed. Committing waves gated on health is still to
//! come, and is refused with `501` until then.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_contract::{LeftOutView, RolloutPlanView, TenantPlanView, WavePlanView};
use berth_core::rollout::body::parse_rollout;
use berth_core::rollout::plan::LeftOut;

use crate::AppState;
use crate::auth::Writer;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::extract::{QueryParams, flag, query_params};
use crate::views::file_diff_view;

#[utoipa::path(post, path = "/v1/rollouts", tag = "rollouts",
    description = "Plans one change to many tenants in waves: the selector resolved against the branch tip, each tenant's change checked exactly as a single request's (tier rules, dependencies, chart schemas), canaries first, then the growth steps. `dry_run=true` answers the plan and commits nothing; committing waves is not available yet (501). A tenant whose result is invalid refuses the rollout (422 naming `tenants.<tenant>.<field>`) unless `skip_invalid`. A token scoped to a tenant may plan only for that tenant.",
    params(
        ("dry_run" = Option<bool>, Query, description = "Answer the plan; commit nothing (required for now)"),
    ),
    request_body = berth_contract::RolloutBody,
    responses(crate::answers::RolloutPlanAnswers),
    security(("bearer" = [])))]
pub(crate) async fn plan_rollout(
    State(state): State<AppState>,
    Writer(principal): Writer,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let answer = async {
        let params = query_params(query, &["dry_run"])?;
        let spec = parse_rollout(&body?.value)?;
        if let Some(scope) = &principal.tenant {
            let only_own = !spec.selector.tenants.is_empty()
                && spec.selector.tenants.iter().all(|t| t.as_str() == scope);
            if !only_own {
                return Err(ApiError::forbidden(format!(
                    "selector.tenants: this token is scoped to {scope}; select only it"
                ))
                .with_field("selector.tenants"));
            }
        }
        if !flag(&params, "dry_run")? {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "not_implemented",
                "committing a rollout in waves is not available yet; send dry_run=true for its plan",
            )
            .with_field("dry_run"));
        }
        let planned = berth_usecases::rollouts::plan(&state.app, &spec).await?;
        Ok::<_, ApiError>(Json(plan_view(&planned)))
    };
    match answer.await {
        Ok(view) => (StatusCode::OK, view).into_response(),
        Err(e) => e.into_response(),
    }
}

fn plan_view(planned: &berth_usecases::rollouts::PlannedRollout) -> RolloutPlanView {
    let plan = &planned.plan;
    RolloutPlanView {
        revision: planned.revision.clone(),
        hash: plan.hash.clone(),
        tenants: plan.tenants() as u64,
        waves: plan
            .waves
            .iter()
            .enumerate()
            .map(|(i, wave)| WavePlanView {
                number: i as u64 + 1,
                tenants: wave
                    .iter()
                    .map(|t| TenantPlanView {
                        tenant: t.tenant.to_string(),
                        envs: t.envs.iter().map(|e| e.to_string()).collect(),
                        files: t.files.iter().map(file_diff_view).collect(),
                    })
                    .collect(),
            })
            .collect(),
        left_out: plan
            .left_out
            .iter()
            .map(|(tenant, why)| {
                let (reason, detail) = match why {
                    LeftOut::NoChange => ("no_change", None),
                    LeftOut::Held { until } => ("held", Some(format!("until {until}"))),
                    LeftOut::Invalid { field, reason } => {
                        ("invalid", Some(format!("{field}: {reason}")))
                    }
                };
                LeftOutView {
                    tenant: tenant.to_string(),
                    reason: reason.into(),
                    detail,
                }
            })
            .collect(),
    }
}
