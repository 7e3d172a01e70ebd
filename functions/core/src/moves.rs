//! Moving a tenant-env to another cluster, make before break, in three phases each its own
//! commit: [`start`] places it on both clusters (`moving_to`); once the new cluster's
//! Applications are synced and healthy, the status sweep commits [`finish`], which keeps the new
//! cluster alone so Argo CD prunes the old one; [`abort`] drops the new cluster instead, before
//! that. Git alone says where a move stands, so a crash between phases resumes from it, and
//! each phase planned again on top of itself changes nothing.

use crate::catalog::Catalog;
use crate::error::{FieldError, PlanError};
use crate::files::Placement;
use crate::model::{RepoFiles, TenantModel, require_env};
use crate::names::{ClusterName, EnvName, ModuleName};
use crate::placement::{self, ClusterLoad, PlacementAsk};
use crate::request::Move;

/// Phase 1: the env runs on its cluster and on `mv.to`.
pub(crate) fn start(
    catalog: &Catalog,
    model: &mut TenantModel,
    mv: &Move,
    files: &RepoFiles,
) -> Result<String, PlanError> {
    let tenant = model.spec.name.clone();
    let current = placed(catalog, model, &mv.env)?;
    match &current.moving_to {
        Some(to) if *to == mv.to => return Ok(start_summary(model, mv, &current.cluster)),
        Some(other) => {
            return Err(FieldError::conflict(
                "to",
                format!(
                    "{tenant}'s {} is already moving to {other}; abort that move first",
                    mv.env
                ),
            )
            .into());
        }
        None if current.cluster == mv.to => {
            return Err(FieldError::conflict(
                "to",
                format!("{tenant}'s {} already runs on {}", mv.env, mv.to),
            )
            .into());
        }
        None => {}
    }
    let stateful: Vec<&str> = stateful_modules(catalog, model, &mv.env)
        .into_iter()
        .map(|m| m.as_str())
        .collect();
    if !stateful.is_empty() && !mv.confirmed {
        return Err(FieldError::invalid(
            "confirm",
            format!(
                "{} keep data that Berth does not copy to {}; add ?confirm={tenant} to move anyway",
                stateful.join(", "),
                mv.to
            ),
        )
        .into());
    }
    let ask = PlacementAsk {
        field: "to",
        env: &mv.env,
        tier: &model.spec.tier,
        constraints: &model.spec.constraints,
        named: Some(&mv.to),
    };
    placement::place(catalog, &ClusterLoad::count(files), &ask)?;
    let moving = Placement {
        cluster: current.cluster.clone(),
        moving_to: Some(mv.to.clone()),
    };
    set_placement(model, &mv.env, moving);
    Ok(start_summary(model, mv, &current.cluster))
}

/// The modules enabled in `env` that the catalog marks stateful: their data stays behind.
pub fn stateful_modules<'m>(
    catalog: &Catalog,
    model: &'m TenantModel,
    env: &EnvName,
) -> Vec<&'m ModuleName> {
    model
        .modules
        .keys()
        .filter(|(e, m)| e == env && catalog.module(m).is_some_and(|m| m.stateful))
        .map(|(_, m)| m)
        .collect()
}

fn start_summary(model: &TenantModel, mv: &Move, from: &ClusterName) -> String {
    format!(
        "Move {} {} from {from} to {} (1 of 2: on both clusters)",
        model.spec.name, mv.env, mv.to
    )
}

/// Phase 3: the env runs on `to` alone. Already done, it changes nothing.
pub(crate) fn finish(
    catalog: &Catalog,
    model: &mut TenantModel,
    env: &EnvName,
    to: &ClusterName,
) -> Result<String, PlanError> {
    let current = placed(catalog, model, env)?;
    let summary = format!(
        "Move {} {env} to {to} (2 of 2: off {})",
        model.spec.name, current.cluster
    );
    match &current.moving_to {
        Some(moving) if moving == to => {
            set_placement(model, env, Placement::on(to.clone()));
            Ok(summary)
        }
        None if current.cluster == *to => Ok(summary),
        _ => Err(FieldError::conflict(
            "to",
            format!(
                "{}'s {env} is not moving to {to}: it runs on {}{}",
                model.spec.name,
                current.cluster,
                current
                    .moving_to
                    .as_ref()
                    .map(|m| format!(" and is moving to {m}"))
                    .unwrap_or_default()
            ),
        )
        .into()),
    }
}

/// Drops the cluster a move was going to, before the move ends.
pub(crate) fn abort(
    catalog: &Catalog,
    model: &mut TenantModel,
    env: &EnvName,
) -> Result<String, PlanError> {
    let current = placed(catalog, model, env)?;
    let Some(to) = &current.moving_to else {
        return Err(FieldError::conflict(
            "env",
            format!(
                "{}'s {env} is not moving (it runs on {}): there is nothing to abort",
                model.spec.name, current.cluster
            ),
        )
        .into());
    };
    let summary = format!(
        "Abort moving {} {env} to {to}: it stays on {}",
        model.spec.name, current.cluster
    );
    set_placement(model, env, Placement::on(current.cluster.clone()));
    Ok(summary)
}

/// The env's placement; refused when the env does not exist or is not placed.
fn placed(catalog: &Catalog, model: &TenantModel, env: &EnvName) -> Result<Placement, PlanError> {
    require_env(model, env)?;
    if !catalog.places() {
        return Err(FieldError::invalid("to", "the catalog has no clusters to move to").into());
    }
    model.placement(env).ok_or_else(|| {
        FieldError::conflict(
            "env",
            format!(
                "{}'s {env} is not placed on a cluster (it was created before the catalog had \
                 clusters); place it in its base.yaml first",
                model.spec.name
            ),
        )
        .into()
    })
}

/// Writes `placement` into the env's `base.yaml` and each of its module files.
fn set_placement(model: &mut TenantModel, env: &EnvName, placement: Placement) {
    if let Some(base) = model.envs.get_mut(env) {
        base.placement = Some(placement.clone());
    }
    for ((module_env, _), values) in model.modules.iter_mut() {
        if module_env == env {
            values.placement = Some(placement.clone());
        }
    }
}
