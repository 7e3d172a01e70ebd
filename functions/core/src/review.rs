//! Reviews a tenant's files as a person left them (a pull request may edit `tenant.yaml` and
//! values files by hand), with the rules Berth applies to its own commits: the files parse, agree
//! with each other and the catalog, and pass their charts' schemas.

use crate::catalog::{Catalog, UpstreamChart};
use crate::error::PlanError;
use crate::files::ModuleValues;
use crate::model::{RepoFiles, TenantModel, load_catalog};
use crate::names::{ModuleName, TenantName};
use crate::paths::{self, TenantFile};
use crate::schema::{self, ChartSchema};
use crate::upstream::{ChartShelf, ChartWant};
use crate::versions::parse_version;
use std::cell::RefCell;
use std::collections::HashMap;

/// One thing wrong, named by file and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    /// The field inside the file, dotted; empty for the file as a whole.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.path, self.message)
        } else {
            write!(f, "{} {}: {}", self.path, self.field, self.message)
        }
    }
}

fn problem(path: &str, field: &str, message: impl Into<String>) -> Problem {
    Problem {
        path: path.to_owned(),
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Reviews the catalog and `tenant`'s files; an empty list means they are fine. A tenant whose
/// folder is gone (deleted in the pull request) has nothing to review.
pub fn review_tenant(tenant: &TenantName, files: &RepoFiles) -> Vec<Problem> {
    Reviewer::new(files).review(tenant, files)
}

/// The upstream chart archives the module files of `tenants` pin, each with the first file that
/// pins it: what a reviewer needs fetched to check those files' values against their charts.
pub fn archives_wanted(files: &RepoFiles, tenants: &[TenantName]) -> Vec<(String, ChartWant)> {
    let Ok(catalog) = load_catalog(files) else {
        return Vec::new();
    };
    let mut wanted: Vec<(String, ChartWant)> = Vec::new();
    for tenant in tenants {
        let dir = paths::tenant_dir(tenant);
        for (path, bytes) in files
            .range(dir.clone()..)
            .take_while(|(p, _)| p.starts_with(&dir))
        {
            let Some(TenantFile::Module(_, module)) = paths::classify(&path[dir.len()..]) else {
                continue;
            };
            if catalog
                .module(&module)
                .and_then(|m| m.chart.as_ref())
                .is_none()
            {
                continue;
            }
            let Some(pin) = crate::files::parse::<ModuleValues>(path, bytes)
                .ok()
                .and_then(|v| v.module.pin())
            else {
                continue;
            };
            let want = ChartWant::Archive {
                chart: pin.chart,
                version: pin.version,
                digest: Some(pin.digest),
            };
            if !wanted.iter().any(|(_, w)| *w == want) {
                wanted.push((path.clone(), want));
            }
        }
    }
    wanted
}

/// Reviews tenant after tenant against one catalog and one set of charts, parsing the catalog
/// once and compiling each chart's schema once per tier: what a review of a whole fleet (the
/// tenant index's first reading of a repository) needs to stay cheap.
pub struct Reviewer {
    catalog: Result<Catalog, String>,
    schemas: RefCell<HashMap<SchemaKey, CompiledSchema>>,
    /// Upstream charts fetched by the caller: a module file pinning one not here is checked
    /// against the catalog only (its pin), not against the chart's schema.
    charts: ChartShelf,
}

/// A chart's folder and a tier.
type SchemaKey = (String, String);
/// A chart's schema at a tier, `None` without one, or why it could not be compiled.
type CompiledSchema = Result<Option<std::sync::Arc<ChartSchema>>, PlanError>;

impl Reviewer {
    /// A reviewer for the catalog and charts in `files`.
    pub fn new(files: &RepoFiles) -> Self {
        Self::with_charts(files, ChartShelf::default())
    }

    /// A reviewer that also checks upstream modules' files against the charts on `charts`.
    pub fn with_charts(files: &RepoFiles, charts: ChartShelf) -> Self {
        Self {
            catalog: load_catalog(files).map_err(|e| e.to_string()),
            schemas: RefCell::new(HashMap::new()),
            charts,
        }
    }

    /// [`review_tenant`], with what this reviewer already parsed and compiled. `files` holds
    /// the same catalog and charts as the ones the reviewer was made with.
    pub fn review(&self, tenant: &TenantName, files: &RepoFiles) -> Vec<Problem> {
        let catalog = match &self.catalog {
            Ok(c) => c,
            Err(e) => return vec![problem(crate::catalog::CATALOG_PATH, "", e.clone())],
        };
        let mut problems = Vec::new();
        match TenantModel::read(tenant, files) {
            Ok(Some(model)) => {
                check_against_catalog(catalog, &model, &mut problems);
                check_placements(catalog, &model, &mut problems);
                check_references(&model, &mut problems);
            }
            Ok(None) => return Vec::new(),
            // A file that does not parse is reported; the others are still checked on their own.
            Err(PlanError::Repository { path, reason }) => {
                problems.push(problem(&path, "", reason))
            }
            Err(e) => problems.push(problem(&paths::tenant_dir(tenant), "", e.to_string())),
        }
        self.check_values_files(catalog, tenant, files, &mut problems);
        problems
    }

    /// Each values file against its chart's schema, with the tier it names.
    fn check_values_files(
        &self,
        catalog: &Catalog,
        tenant: &TenantName,
        files: &RepoFiles,
        problems: &mut Vec<Problem>,
    ) {
        let dir = paths::tenant_dir(tenant);
        // A range, not a scan: the files may hold the whole fleet's folders.
        for (path, bytes) in files
            .range(dir.clone()..)
            .take_while(|(p, _)| p.starts_with(&dir))
        {
            let chart = match paths::classify(&path[dir.len()..]) {
                Some(TenantFile::Module(_, module))
                    if let Some(upstream) =
                        catalog.module(&module).and_then(|m| m.chart.as_ref()) =>
                {
                    self.check_upstream_file(files, path, bytes, &module, upstream, problems);
                    continue;
                }
                Some(TenantFile::Base(_)) => schema::tenant_chart(),
                // A module the catalog does not know is already reported; it has no chart.
                Some(TenantFile::Module(_, module)) if catalog.module(&module).is_some() => {
                    schema::module_chart(module.as_str())
                }
                _ => continue,
            };
            let values: serde_json::Value = match serde_yaml_ng::from_slice(bytes) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(problem(path, "", e.to_string()));
                    continue;
                }
            };
            let tier = values["tenant"]["tier"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let mut schemas = self.schemas.borrow_mut();
            let compiled = schemas
                .entry((chart.clone(), tier.clone()))
                .or_insert_with(|| ChartSchema::compiled(files, &chart, &tier));
            match compiled {
                Ok(Some(schema)) => problems.extend(
                    schema
                        .violations(&values)
                        .into_iter()
                        .map(|v| problem(path, &v.path, v.message)),
                ),
                Ok(None) => {}
                Err(e) => problems.push(problem(path, "", e.to_string())),
            }
        }
    }
}

impl Reviewer {
    /// An upstream module's file: its pin names the catalog's chart at a version within the
    /// catalog's range; its values pass that chart's checks when the chart was fetched.
    fn check_upstream_file(
        &self,
        files: &RepoFiles,
        path: &str,
        bytes: &[u8],
        module: &ModuleName,
        upstream: &UpstreamChart,
        problems: &mut Vec<Problem>,
    ) {
        // Parsed once: the typed file for its pin and tier, the plain one for the schema.
        let json: serde_json::Value = match serde_yaml_ng::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return problems.push(problem(path, "", e.to_string())),
        };
        let values: ModuleValues = match serde_json::from_value(json.clone()) {
            Ok(v) => v,
            Err(e) => return problems.push(problem(path, "", e.to_string())),
        };
        let Some(pin) = values.module.pin() else {
            return problems.push(problem(
                path,
                "module.chart_version",
                "an upstream module's file pins chart_repo, chart, chart_version and chart_digest; enable the module through Berth to pin them",
            ));
        };
        if !crate::upstream::is_sha256_digest(&pin.digest) {
            return problems.push(problem(
                path,
                "module.chart_digest",
                "must be sha256: and 64 lowercase hex digits, the archive's digest",
            ));
        }
        if pin.chart != upstream.chart_ref() {
            return problems.push(problem(
                path,
                "module.chart",
                format!(
                    "pins {} but the catalog's {module} is {}",
                    pin.chart,
                    upstream.chart_ref()
                ),
            ));
        }
        let in_range = match (upstream.range(), parse_version(&pin.version)) {
            (Ok(range), Ok(version)) => range.matches(&version),
            _ => false,
        };
        if !in_range {
            problems.push(problem(
                path,
                "module.chart_version",
                format!(
                    "{} is outside the catalog's versions {:?}",
                    pin.version, upstream.versions
                ),
            ));
        }
        let Some(content) = self.charts.archive(&pin.digest) else {
            return;
        };
        let tier = values.tenant.tier.as_str();
        match ChartSchema::for_upstream(
            content,
            files,
            module.as_str(),
            tier,
            upstream.schema.as_deref(),
        ) {
            Ok(schema) => problems.extend(
                schema
                    .violations(&json)
                    .into_iter()
                    .map(|v| problem(path, &v.path, v.message)),
            ),
            Err(e) => problems.push(problem(path, "", e.to_string())),
        }
    }
}

fn check_against_catalog(catalog: &Catalog, model: &TenantModel, problems: &mut Vec<Problem>) {
    let spec_path = paths::tenant_spec(&model.spec.name);
    let Some(tier) = catalog.tier(&model.spec.tier) else {
        problems.push(problem(
            &spec_path,
            "tier",
            format!("unknown tier {}", model.spec.tier),
        ));
        return;
    };
    for env in model.envs.keys() {
        if let Err(e) = catalog.require_env_for_tier("env", env, tier) {
            problems.push(problem(
                &paths::base_values(&model.spec.name, env),
                "tenant.env",
                e.reason,
            ));
        }
    }
    for (env, module) in model.modules.keys() {
        let path = paths::module_values(&model.spec.name, env, module);
        if !model.envs.contains_key(env) {
            problems.push(problem(
                &path,
                "",
                format!("environment {env} has no base.yaml"),
            ));
        }
        let Some(m) = catalog.module(module) else {
            problems.push(problem(
                &path,
                "module.name",
                format!("unknown module {module}"),
            ));
            continue;
        };
        if let Err(e) = catalog.require_module_allowed("module", m, &tier.name) {
            problems.push(problem(&path, "module.name", e.reason));
        }
        for dep in &m.depends_on {
            if !model.modules.contains_key(&(env.clone(), dep.clone())) {
                problems.push(problem(
                    &path,
                    "module.name",
                    format!("needs {dep} enabled in {env}"),
                ));
            }
        }
    }
}

/// Each placement names clusters of the catalog that serve its env, and a module file is placed
/// where its env is: the ApplicationSets would otherwise send it to a cluster Argo CD does not
/// know, or split an env's Applications over two clusters.
fn check_placements(catalog: &Catalog, model: &TenantModel, problems: &mut Vec<Problem>) {
    let tenant = &model.spec.name;
    for (env, base) in &model.envs {
        let path = paths::base_values(tenant, env);
        // An env without a placement runs where Argo CD does, as before the catalog had clusters.
        let Some(placement) = &base.placement else {
            continue;
        };
        let named = [
            ("placement.cluster", Some(&placement.cluster)),
            ("placement.moving_to", placement.moving_to.as_ref()),
        ];
        for (field, cluster) in named {
            let Some(cluster) = cluster else { continue };
            if let Err(e) = catalog.require_cluster_serving(field, cluster, env) {
                problems.push(problem(&path, field, e.reason));
            }
        }
    }
    for ((env, module), values) in &model.modules {
        let placed = model.envs.get(env).and_then(|b| b.placement.as_ref());
        if model.envs.contains_key(env) && values.placement.as_ref() != placed {
            problems.push(problem(
                &paths::module_values(tenant, env, module),
                "placement",
                format!("differs from the placement of {env}'s base.yaml"),
            ));
        }
    }
}

/// Each values file names the tenant, env, tier and module of the folder it lives in, as the
/// ApplicationSets read them.
fn check_references(model: &TenantModel, problems: &mut Vec<Problem>) {
    let tenant = &model.spec.name;
    let refs = model
        .envs
        .iter()
        .map(|(env, base)| (paths::base_values(tenant, env), env, &base.tenant, None))
        .chain(model.modules.iter().map(|((env, module), values)| {
            (
                paths::module_values(tenant, env, module),
                env,
                &values.tenant,
                Some((module, &values.module.name)),
            )
        }));
    for (path, env, r, module) in refs {
        if r.name != *tenant || r.env != *env {
            problems.push(problem(
                &path,
                "tenant",
                format!(
                    "names {}-{} but lives in the folder of {tenant}-{env}",
                    r.name, r.env
                ),
            ));
        }
        if r.tier != model.spec.tier {
            problems.push(problem(
                &path,
                "tenant.tier",
                format!("is {} but tenant.yaml says {}", r.tier, model.spec.tier),
            ));
        }
        if let Some((file_module, named)) = module
            && named != file_module
        {
            problems.push(problem(
                &path,
                "module.name",
                format!("is {named} but the file is for {file_module}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = include_str!("../tests/fixtures/catalog.yaml");

    fn files(extra: &[(&str, &str)]) -> RepoFiles {
        let mut f = RepoFiles::from([(
            crate::catalog::CATALOG_PATH.to_owned(),
            CATALOG.as_bytes().to_vec(),
        )]);
        for chart in [
            "tenant",
            "modules/postgres",
            "modules/vault",
            "modules/data-lake",
            "modules/monitoring",
        ] {
            f.insert(
                format!("charts/{chart}/Chart.yaml"),
                b"apiVersion: v2\n".to_vec(),
            );
        }
        for (p, c) in extra {
            f.insert((*p).to_owned(), c.as_bytes().to_vec());
        }
        f
    }

    const SPEC: &str = "name: acme\ntier: standard\nstate: active\ncreated_by: 01X\n";
    const BASE: &str = "tenant: {name: acme, tier: standard, env: dev}\nsuspended: false\nquota: {cpu: '20', memory: 40Gi, pods: 100}\npod_security: restricted\n";

    fn review(extra: &[(&str, &str)]) -> Vec<String> {
        review_tenant(&TenantName::parse("t", "acme").unwrap(), &files(extra))
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn a_consistent_tenant_passes() {
        let module = "tenant: {name: acme, tier: standard, env: dev}\nmodule: {name: vault}\nsuspended: false\nreplicas: 2\n";
        assert!(
            review(&[
                ("tenants/acme/tenant.yaml", SPEC),
                ("tenants/acme/dev/base.yaml", BASE),
                ("tenants/acme/dev/modules/vault.yaml", module)
            ])
            .is_empty()
        );
    }

    #[test]
    fn names_the_file_and_field_of_each_problem() {
        let unknown = "tenant: {name: acme, tier: standard, env: dev}\nmodule: {name: kafka}\nsuspended: false\n";
        let problems = review(&[
            ("tenants/acme/tenant.yaml", SPEC),
            ("tenants/acme/dev/base.yaml", BASE),
            ("tenants/acme/dev/modules/kafka.yaml", unknown),
        ]);
        assert_eq!(
            problems,
            ["tenants/acme/dev/modules/kafka.yaml module.name: unknown module kafka"]
        );

        let wrong_tier = BASE.replace("tier: standard", "tier: premium");
        let problems = review(&[
            ("tenants/acme/tenant.yaml", SPEC),
            ("tenants/acme/dev/base.yaml", &wrong_tier),
        ]);
        assert_eq!(
            problems,
            ["tenants/acme/dev/base.yaml tenant.tier: is premium but tenant.yaml says standard"]
        );

        let broken = review(&[("tenants/acme/tenant.yaml", "name: acme\ncolour: red\n")]);
        assert!(
            broken[0].starts_with("tenants/acme/tenant.yaml: "),
            "{broken:?}"
        );

        let lake = "tenant: {name: acme, tier: standard, env: dev}\nmodule: {name: data-lake}\nsuspended: false\n";
        let problems = review(&[
            ("tenants/acme/tenant.yaml", SPEC),
            ("tenants/acme/dev/base.yaml", BASE),
            ("tenants/acme/dev/modules/data-lake.yaml", lake),
        ]);
        assert!(
            problems.iter().any(|p| p.contains("needs tier premium")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("needs vault enabled in dev")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_deleted_tenant_has_nothing_to_review() {
        assert!(review(&[]).is_empty());
    }
}
