//! Every values file a change writes, validated against its chart's schema as Helm will, with
//! the blame put where it belongs: on the caller's own values, or on the repository.

use crate::error::{FieldError, PlanError};
use crate::model::{Change, RepoFiles};
use crate::paths::{self, TenantFile};
use crate::request::{Action, Request};
use crate::schema;

/// Validates every values file the change writes against its chart, as Helm will. A violation
/// inside the caller's own value overrides (or version) is the caller's error, named by its
/// path; any other means the repository's chart and Berth's rendering disagree.
pub(crate) fn check_against_charts(
    request: &Request,
    change: &Change,
    files: &RepoFiles,
) -> Result<(), PlanError> {
    let dir = paths::tenant_dir(&request.tenant);
    for (path, bytes) in &change.writes {
        let Some(rest) = path.strip_prefix(&dir) else {
            continue;
        };
        let (chart, target) = match paths::classify(rest) {
            Some(TenantFile::Base(_)) => (schema::tenant_chart(), None),
            Some(TenantFile::Module(env, module)) => {
                (schema::module_chart(module.as_str()), Some((env, module)))
            }
            Some(TenantFile::Spec) | None => continue,
        };
        let values: serde_json::Value =
            serde_yaml_ng::from_slice(bytes).map_err(|e| PlanError::Repository {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let tier = values["tenant"]["tier"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(violation) = schema::check_values(files, &chart, &tier, &values)?
            .into_iter()
            .next()
        else {
            continue;
        };
        if let (Action::EnableModule(asked), Some((env, module))) = (&request.action, &target)
            && asked.env == *env
            && asked.module == *module
        {
            let top = violation.path.split(['.', '[']).next().unwrap_or_default();
            if asked.values.contains_key(top) {
                return Err(FieldError::invalid(
                    format!("values.{}", violation.path),
                    violation.message,
                )
                .into());
            }
            if violation.path.starts_with("module.version") {
                return Err(FieldError::invalid("version", violation.message).into());
            }
        }
        match (&request.action, &target) {
            (Action::Promote(promotion), Some((env, module))) if *env == promotion.to => {
                return Err(FieldError::invalid(
                    "modules",
                    format!(
                        "{module} as {} has it breaks its chart's schema in {env} at {}: {}",
                        promotion.from, violation.path, violation.message
                    ),
                )
                .into());
            }
            (Action::Revert(restore), _) => {
                return Err(FieldError::conflict(
                    "id",
                    format!(
                        "restoring {path} as it was before request {} breaks {chart}'s schema at {}: {}",
                        restore.reverts, violation.path, violation.message
                    ),
                )
                .into());
            }
            _ => {}
        }
        return Err(PlanError::Repository {
            path: format!("{chart}/values.schema.json"),
            reason: format!(
                "{path} as Berth renders it breaks the schema at {}: {}",
                violation.path, violation.message
            ),
        });
    }
    Ok(())
}
