//! Planning a promotion: copy the versions and value overrides of a tenant's modules from one
//! environment onto another, checked like an enable against the tier and the charts.

use crate::catalog::Catalog;
use crate::error::{FieldError, PlanError};
use crate::files::{ModuleRef, ModuleValues};
use crate::model::{TenantModel, require_env};
use crate::names::ModuleName;
use crate::request::Promotion;

/// Copies `promotion.modules` (every module of `from` when empty) onto `promotion.to` in
/// `model`; returns the commit's headline.
pub fn promote(
    catalog: &Catalog,
    model: &mut TenantModel,
    promotion: &Promotion,
) -> Result<String, PlanError> {
    let Promotion { from, to, .. } = promotion;
    if from == to {
        return Err(FieldError::invalid("from", format!("{from} is the target itself")).into());
    }
    require_env(model, from).map_err(|e| FieldError {
        field: "from".into(),
        ..e
    })?;
    require_env(model, to)?;
    let chosen = chosen_modules(model, promotion)?;
    for (field, module) in &chosen {
        let m = catalog.require_module(field, module)?;
        catalog
            .require_module_allowed(field, m, &model.spec.tier)
            .map_err(|e| {
                FieldError::invalid(
                    field.as_str(),
                    format!("{}; cannot promote it to {to}", e.reason),
                )
            })?;
        let source = &model.modules[&(from.clone(), module.clone())];
        let values = ModuleValues {
            tenant: model.tenant_ref(to),
            // An upstream module's chart pin moves with it, like the version.
            module: ModuleRef {
                name: module.clone(),
                ..source.module.clone()
            },
            suspended: model.suspended(),
            placement: model.placement(to),
            overrides: source.overrides.clone(),
        };
        model.modules.insert((to.clone(), module.clone()), values);
    }
    // Dependencies are checked once every chosen module is in place, in any order.
    for (field, module) in &chosen {
        let m = catalog.require_module(field, module)?;
        if let Some(missing) = m.depends_on.iter().find(|d| !model.enabled(to, d)) {
            return Err(FieldError::invalid(
                field.as_str(),
                format!("{module} needs {missing} in {to}; promote {missing} too, or enable it there first"),
            )
            .into());
        }
    }
    let names: Vec<String> = chosen
        .iter()
        .map(|(_, m)| {
            let version = model.modules[&(to.clone(), m.clone())]
                .module
                .shown_version();
            version.map_or_else(|| m.to_string(), |v| format!("{m} {v}"))
        })
        .collect();
    Ok(format!(
        "Promote {} from {from} to {to} for {}",
        if names.is_empty() {
            "nothing".to_owned()
        } else {
            names.join(", ")
        },
        model.spec.name
    ))
}

/// The modules to copy, each with the field that names it: the listed ones (each must be
/// enabled in `from`), else every module enabled there.
fn chosen_modules(
    model: &TenantModel,
    promotion: &Promotion,
) -> Result<Vec<(String, ModuleName)>, FieldError> {
    let from = &promotion.from;
    if promotion.modules.is_empty() {
        return Ok(model
            .modules
            .keys()
            .filter(|(env, _)| env == from)
            .map(|(_, m)| ("modules".to_owned(), m.clone()))
            .collect());
    }
    promotion
        .modules
        .iter()
        .enumerate()
        .map(|(i, module)| {
            let field = format!("modules[{i}]");
            if model.enabled(from, module) {
                Ok((field, module.clone()))
            } else {
                Err(FieldError::invalid(
                    field,
                    format!("{module} is not enabled in {from}"),
                ))
            }
        })
        .collect()
}
