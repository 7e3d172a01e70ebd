//! Moving a tenant-env to another cluster: `POST .../move` commits phase 1 (the env on both
//! clusters), and the status sweep commits the last phase once the new cluster is ready;
//! `DELETE .../move` aborts a move before that.

use axum::extract::State;
use axum::response::Response;
use berth_core::body::parse_move;
use berth_core::{Action, EnvName};
use berth_usecases::moves::{data_notice, stateful_modules};

use crate::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::extract::{EnvPath, QueryParams, WriteContext, write_query};
use crate::writes::{WriteIntent, run_write};

#[utoipa::path(post, path = "/v1/tenants/{tenant}/envs/{env}/move", tag = "cluster",
    description = "Moves an environment to another cluster, make before break: this commit runs it on both clusters; once the new cluster's Applications are synced and healthy at it, the status sweep commits the environment onto the new cluster alone, and Argo CD prunes the old. Modules the catalog marks `stateful` keep data Berth does not copy: moving them takes `confirm`, and the answer's `notice` names them.",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("env" = String, Path, description = "The environment moved", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("confirm" = Option<String>, Query, description = "The tenant's name: required when the environment has stateful modules, whose data is not copied. Admins only", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits onto the branch, `pr` opens a pull request; default `BERTH_DEFAULT_MODE`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the same request once: a retry gets the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    request_body = berth_contract::MoveBody,
    responses(crate::answers::WriteAnswers),
    security(("bearer" = [])))]
pub(crate) async fn start_move(
    State(state): State<AppState>,
    context: WriteContext,
    path: EnvPath,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let intent = async {
        context
            .writer
            .0
            .require_admin("to", "move a tenant between clusters")?;
        let q = write_query(&state, query, &["confirm"])?;
        let confirmed = match q.params.get("confirm") {
            None => false,
            Some(name) if name == path.tenant.as_str() => true,
            Some(_) => {
                return Err(ApiError::invalid(
                    "confirm",
                    format!("must be the tenant's name, {}", path.tenant),
                ));
            }
        };
        let body = body?;
        let mv = parse_move(&path.env, &body.value, confirmed)?;
        // Only a confirmed move can leave data behind; naming it costs one read of the tenant.
        let notice = if confirmed {
            let modules = stateful_modules(&state.app, &path.tenant, &mv.env).await?;
            data_notice(&modules, &mv.to)
        } else {
            None
        };
        let intent = WriteIntent::new(path.tenant, Action::MoveEnv(mv), q.mode, body);
        Ok(intent.with_notice(notice))
    };
    let intent = intent.await;
    run_write(state, context, intent).await
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/envs/{env}/move", tag = "cluster",
    description = "Aborts a move before its last phase: the environment runs on its old cluster alone again, and Argo CD prunes what the move started on the new one.",
    params(
        ("tenant" = String, Path, description = "The tenant's name (a DNS label)", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("env" = String, Path, description = "The environment being moved", pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("mode" = Option<berth_contract::WriteMode>, Query, description = "`direct` commits onto the branch, `pr` opens a pull request; default `BERTH_DEFAULT_MODE`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers the same request once: a retry gets the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    responses(crate::answers::WriteAnswers),
    security(("bearer" = [])))]
pub(crate) async fn abort_move(
    State(state): State<AppState>,
    context: WriteContext,
    path: EnvPath,
    query: QueryParams,
) -> Response {
    let intent = async {
        let q = write_query(&state, query, &[])?;
        let env = EnvName::parse("env", &path.env)?;
        Ok(WriteIntent::without_body(
            path.tenant,
            Action::AbortMove { env },
            q.mode,
        ))
    };
    let intent = intent.await;
    run_write(state, context, intent).await
}
