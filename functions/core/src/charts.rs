//! Every values file a change writes, validated against its chart's schema as Helm will, with
//! the blame put where it belongs: on the caller's own values, or on the repository.

use crate::catalog::Catalog;
use crate::error::{FieldError, PlanError};
use crate::files::ModuleRef;
use crate::model::{Change, RepoFiles};
use crate::paths::{self, TenantFile};
use crate::request::{Action, Request};
use crate::schema::{self, ChartSchema, SchemaViolation};
use crate::upstream::ChartShelf;

/// Validates every values file the change writes against its chart, as Helm will. A violation
/// inside the caller's own value overrides (or version) is the caller's error, named by its
/// path; any other means the repository's chart and Berth's rendering disagree.
pub(crate) fn check_against_charts(
    request: &Request,
    change: &Change,
    files: &RepoFiles,
    catalog: &Catalog,
    charts: &ChartShelf,
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
        let upstream = target
            .as_ref()
            .and_then(|(_, module)| catalog.module(module))
            .and_then(|m| m.chart.as_ref());
        let violations = match upstream {
            Some(upstream) => {
                let module = target.as_ref().map(|(_, m)| m.as_str()).unwrap_or_default();
                upstream_violations(path, &values, files, module, &tier, upstream, charts)?
            }
            None => schema::check_values(files, &chart, &tier, &values)?,
        };
        let Some(violation) = violations.into_iter().next() else {
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
        // An upstream chart's defaults are the publisher's: the tier values are the
        // repository's part to fix.
        let blamed = match (upstream, &target) {
            (Some(_), Some((_, module))) => format!(
                "{}/values-{tier}.yaml",
                schema::module_chart(module.as_str())
            ),
            _ => format!("{chart}/values.schema.json"),
        };
        return Err(PlanError::Repository {
            path: blamed,
            reason: format!(
                "{path} as Berth renders it breaks the schema at {}: {}",
                violation.path, violation.message
            ),
        });
    }
    Ok(())
}

/// `values` (the module file at `path`, as parsed) against the upstream chart it pins,
/// fetched onto `charts` by the caller; a missing archive is asked for.
fn upstream_violations(
    path: &str,
    values: &serde_json::Value,
    files: &RepoFiles,
    module: &str,
    tier: &str,
    upstream: &crate::upstream::UpstreamChart,
    charts: &ChartShelf,
) -> Result<Vec<SchemaViolation>, PlanError> {
    let pin = serde_json::from_value::<ModuleRef>(values["module"].clone())
        .ok()
        .and_then(|m| m.pin())
        .ok_or_else(|| PlanError::Repository {
            path: path.to_owned(),
            reason: "an upstream module's file must pin chart_repo, chart, chart_version and chart_digest".into(),
        })?;
    let content = charts.require_archive(&pin)?;
    let schema =
        ChartSchema::for_upstream(content, files, module, tier, upstream.schema.as_deref())?;
    Ok(schema.violations(values))
}
