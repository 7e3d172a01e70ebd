//! Planning: `(request, current files) -> Change`. The planner reads the tenant's files as
//! they are at the branch tip, applies the request to that model, and writes back exactly the
//! files whose content changed, so a request that is already satisfied plans no change.

use std::collections::BTreeMap;

use crate::catalog::{CATALOG_PATH, Catalog, PodSecurity, Tier};
use crate::charts::check_against_charts;
use crate::error::{FieldError, PlanError};
use crate::files::{BaseValues, Placement, TenantRef, TenantSpec, TenantState};
pub use crate::model::{Change, RepoFiles, TenantModel, load_catalog};
use crate::model::{diff, require_env};
use crate::names::{ClusterName, EnvName, ModuleName, TenantName, TierName};
use crate::placement::{self, ClusterLoad, PlacementAsk};
use crate::request::{Action, ModuleChange, NewTenant, Request, TenantPatch, request_trailers};
use crate::upstream::{self, ChartShelf};
use crate::{moves, paths, schema};

/// The paths a plan for `tenant` reads: hand these to the committer.
pub fn read_set(tenant: &TenantName) -> Vec<String> {
    let mut reads = vec![CATALOG_PATH.to_owned(), paths::tenant_dir(tenant)];
    reads.extend(schema::CHART_READS.iter().map(|p| p.to_string()));
    reads
}

/// The paths a plan for `request` reads. A request that creates or moves envs reads every
/// tenant's files: placing an env on a cluster counts what each cluster holds, from Git, at the tip the
/// commit lands on (a lost race reads and counts again, so no cluster is overfilled).
pub fn request_reads(request: &Request) -> Vec<String> {
    let mut reads = read_set(&request.tenant);
    if matches!(request.action, Action::CreateTenant(_) | Action::MoveEnv(_)) {
        reads.push(format!("{}/", paths::TENANTS_DIR));
    }
    reads
}

/// Plans `request` against the repository's current files, for a catalog whose modules are
/// all in the repository (an upstream module's chart is asked for, as
/// [`PlanError::ChartsNeeded`]).
pub fn plan(request: &Request, files: &RepoFiles) -> Result<Change, PlanError> {
    plan_with_charts(request, files, &ChartShelf::default())
}

/// Plans `request` with the upstream charts fetched so far. A plan that needs a chart index or
/// archive the shelf lacks answers [`PlanError::ChartsNeeded`]: fetch them, and plan again.
pub fn plan_with_charts(
    request: &Request,
    files: &RepoFiles,
    charts: &ChartShelf,
) -> Result<Change, PlanError> {
    let catalog = load_catalog(files)?;
    let tenant = &request.tenant;
    let name_field = if matches!(request.action, Action::CreateTenant(_)) {
        "name"
    } else {
        "tenant"
    };
    catalog.check_tenant_name(name_field, tenant)?;
    // A revert restores bytes rather than editing the model: it is how a tenant broken by hand
    // is brought back, so it never reads the model first.
    if let Action::Revert(restore) = &request.action {
        return crate::restore::plan_restore(request, restore, files, &catalog, charts);
    }
    let before = TenantModel::read(tenant, files)?;

    let (after, summary) = match (&request.action, &before) {
        (Action::Revert(restore), _) => {
            return crate::restore::plan_restore(request, restore, files, &catalog, charts);
        }
        (Action::CreateTenant(new), None) => (
            Some(create(&catalog, tenant, new, &request.id, files)?),
            create_summary(tenant, new),
        ),
        (Action::CreateTenant(_), Some(_)) => {
            return Err(
                FieldError::conflict("name", format!("tenant {tenant} already exists")).into(),
            );
        }
        (_, None) => {
            return Err(
                FieldError::not_found("tenant", format!("tenant {tenant} does not exist")).into(),
            );
        }
        (Action::UpdateTenant(patch), Some(model)) => {
            let mut m = model.clone();
            let summary = update(&catalog, &mut m, patch)?;
            (Some(m), summary)
        }
        (Action::DeleteTenant, Some(_)) => (None, format!("Delete tenant {tenant}")),
        (Action::EnableModule(change), Some(model)) => {
            let mut m = model.clone();
            let summary = enable_module(&catalog, &mut m, change)?;
            (Some(m), summary)
        }
        (Action::DisableModule { env, module }, Some(model)) => {
            let mut m = model.clone();
            let summary = disable_module(&catalog, &mut m, env, module)?;
            (Some(m), summary)
        }
        (Action::Promote(promotion), Some(model)) => {
            let mut m = model.clone();
            let summary = crate::promote::promote(&catalog, &mut m, promotion)?;
            (Some(m), summary)
        }
        (Action::MoveEnv(mv), Some(model)) => {
            let mut m = model.clone();
            let summary = moves::start(&catalog, &mut m, mv, files)?;
            (Some(m), summary)
        }
        (Action::FinishMove { env, to }, Some(model)) => {
            let mut m = model.clone();
            let summary = moves::finish(&catalog, &mut m, env, to)?;
            (Some(m), summary)
        }
        (Action::AbortMove { env }, Some(model)) => {
            let mut m = model.clone();
            let summary = moves::abort(&catalog, &mut m, env)?;
            (Some(m), summary)
        }
    };

    let mut after = after;
    if let Some(model) = &mut after {
        pin_upstream_charts(&catalog, request, before.as_ref(), model, charts)?;
    }
    let mut change = diff(tenant, before.as_ref(), after.as_ref(), files)?;
    check_against_charts(request, &change, files, &catalog, charts)?;
    if before.is_some() {
        refuse_carried_breakage(tenant, files, &change, charts)?;
    }
    change.message = format!("{summary}\n\n{}\n", request_trailers(request));
    Ok(change)
}

/// Refuses a change on top of a tenant whose files fail the pull-request review (a direct push
/// can bypass it, a catalog change can break tenants that were fine) when the change leaves a
/// problem in place: it would carry the breakage on. A change that fixes every problem (the
/// module a stricter catalog no longer allows disabled, the tenant deleted) goes through. The
/// first problem left names the file.
fn refuse_carried_breakage(
    tenant: &TenantName,
    files: &RepoFiles,
    change: &Change,
    charts: &ChartShelf,
) -> Result<(), PlanError> {
    // A change writes only inside the tenant's folder: one catalog and set of charts serve both.
    let reviewer = crate::review::Reviewer::with_charts(files, charts.clone());
    let before = reviewer.review(tenant, files);
    if before.is_empty() {
        return Ok(());
    }
    let mut after_files = files.clone();
    change.apply_to(&mut after_files);
    let after = reviewer.review(tenant, &after_files);
    let problems: Vec<_> = before.iter().filter(|p| after.contains(p)).collect();
    let Some(first) = problems.first() else {
        return Ok(());
    };
    let more = match problems.len() {
        1 => String::new(),
        n => format!(" (and {} more problem(s))", n - 1),
    };
    Err(PlanError::Repository {
        path: first.path.clone(),
        reason: format!(
            "{}{more}; tenant {tenant} is invalid in Git and takes no change until it is fixed \
             by hand or by a revert",
            if first.field.is_empty() {
                first.message.clone()
            } else {
                format!("{}: {}", first.field, first.message)
            }
        ),
    })
}

fn create(
    catalog: &Catalog,
    tenant: &TenantName,
    new: &NewTenant,
    request_id: &str,
    files: &RepoFiles,
) -> Result<TenantModel, PlanError> {
    let tier = catalog.require_tier("tier", &new.tier)?;
    for (i, env) in new.envs.iter().enumerate() {
        catalog.require_env_for_tier(&format!("envs[{i}]"), env, tier)?;
    }
    for (i, module) in new.modules.iter().enumerate() {
        let field = format!("modules[{i}]");
        let m = catalog.require_module(&field, module)?;
        catalog.require_module_allowed(&field, m, &tier.name)?;
        if let Some(missing) = m.depends_on.iter().find(|d| !new.modules.contains(d)) {
            return Err(FieldError::invalid(
                field,
                format!("module {module} needs {missing}; add {missing} to modules"),
            )
            .into());
        }
    }
    let spec = TenantSpec {
        name: tenant.clone(),
        display_name: new.display_name.clone(),
        owner: new.owner.clone(),
        tier: tier.name.clone(),
        state: TenantState::Active,
        created_by: request_id.to_owned(),
        customer_id: new.customer_id.clone(),
        constraints: new.constraints.clone(),
        canary: false,
        hold_until: None,
    };
    let mut model = TenantModel {
        spec,
        envs: BTreeMap::new(),
        modules: BTreeMap::new(),
    };
    let mut placer = Placer::new(catalog, new, files)?;
    for (i, env) in new.envs.iter().enumerate() {
        let placement = match &mut placer {
            Some(placer) => Some(Placement::on(placer.place(i, env, &tier.name)?)),
            None => None,
        };
        let base = base_values(&model, env, tier, placement)?;
        model.envs.insert(env.clone(), base);
        for module in &new.modules {
            model.modules.insert(
                (env.clone(), module.clone()),
                model.new_module(env, module, catalog),
            );
        }
    }
    Ok(model)
}

/// Places a new tenant's envs, each seeing the ones placed before it.
struct Placer<'a> {
    catalog: &'a Catalog,
    new: &'a NewTenant,
    load: ClusterLoad,
}

impl<'a> Placer<'a> {
    /// `None` when the catalog has no clusters, and then a request may name none either.
    fn new(
        catalog: &'a Catalog,
        new: &'a NewTenant,
        files: &RepoFiles,
    ) -> Result<Option<Self>, FieldError> {
        if !catalog.places() {
            let asked = [
                ("clusters", new.clusters.is_empty()),
                ("constraints", new.constraints.is_empty()),
            ];
            if let Some((field, _)) = asked.iter().find(|(_, empty)| !empty) {
                return Err(FieldError::invalid(
                    *field,
                    "the catalog has no clusters to place tenants on",
                ));
            }
            return Ok(None);
        }
        if let Some(env) = new.clusters.keys().find(|e| !new.envs.contains(e)) {
            return Err(FieldError::invalid(
                format!("clusters.{env}"),
                format!("names a cluster for environment {env}, which envs does not list"),
            ));
        }
        Ok(Some(Self {
            catalog,
            new,
            load: ClusterLoad::count(files),
        }))
    }

    fn place(
        &mut self,
        i: usize,
        env: &EnvName,
        tier: &TierName,
    ) -> Result<ClusterName, FieldError> {
        let named = self.new.clusters.get(env);
        let field = match named {
            Some(_) => format!("clusters.{env}"),
            None => format!("envs[{i}]"),
        };
        let ask = PlacementAsk {
            field: &field,
            env,
            tier,
            constraints: &self.new.constraints,
            named,
        };
        let cluster = placement::place(self.catalog, &self.load, &ask)?;
        self.load.add(&cluster);
        Ok(cluster)
    }
}

fn base_values(
    model: &TenantModel,
    env: &EnvName,
    tier: &Tier,
    placement: Option<Placement>,
) -> Result<BaseValues, PlanError> {
    let quota = tier.quotas.clone().ok_or_else(|| {
        crate::CatalogError::Rule(format!("tier {}: quotas are required", tier.name))
    })?;
    Ok(BaseValues {
        tenant: model.tenant_ref(env),
        suspended: model.suspended(),
        quota,
        pod_security: tier.pod_security.unwrap_or(PodSecurity::Restricted),
        placement,
    })
}

fn create_summary(tenant: &TenantName, new: &NewTenant) -> String {
    let join = |v: Vec<&str>| v.join(", ");
    let envs = join(new.envs.iter().map(|e| e.as_str()).collect());
    let modules = if new.modules.is_empty() {
        "no modules".to_owned()
    } else {
        format!(
            "modules {}",
            join(new.modules.iter().map(|m| m.as_str()).collect())
        )
    };
    format!(
        "Create tenant {tenant} ({}; envs {envs}; {modules})",
        new.tier
    )
}

fn update(
    catalog: &Catalog,
    model: &mut TenantModel,
    patch: &TenantPatch,
) -> Result<String, PlanError> {
    let tenant = model.spec.name.clone();
    let mut parts = Vec::new();
    if let Some(tier_name) = &patch.tier {
        let tier = catalog.require_tier("tier", tier_name)?;
        for env in model.envs.keys() {
            if !tier.environments.contains(env) {
                return Err(FieldError::invalid(
                    "tier",
                    format!(
                        "tier {tier_name} does not allow environment {env}, which {tenant} has"
                    ),
                )
                .into());
            }
        }
        for (env, module) in model.modules.keys() {
            if let Some(m) = catalog.module(module) {
                catalog
                    .require_module_allowed("tier", m, tier_name)
                    .map_err(|e| {
                        FieldError::invalid(
                            "tier",
                            format!("{} (enabled in {env}); disable it first", e.reason),
                        )
                    })?;
            }
        }
        if model.spec.tier != *tier_name {
            parts.push(format!("tier {} -> {tier_name}", model.spec.tier));
        }
        model.spec.tier = tier_name.clone();
        let envs: Vec<EnvName> = model.envs.keys().cloned().collect();
        for env in envs {
            let base = base_values(model, &env, tier, model.placement(&env))?;
            model.envs.insert(env, base);
        }
        for ((env, _), values) in model.modules.iter_mut() {
            values.tenant = TenantRef {
                name: tenant.clone(),
                tier: tier_name.clone(),
                env: env.clone(),
            };
        }
    }
    if let Some(display_name) = &patch.display_name {
        model.spec.display_name = Some(display_name.clone());
        parts.push(format!("display name {display_name:?}"));
    }
    if let Some(owner) = &patch.owner {
        model.spec.owner = Some(owner.clone());
        parts.push(format!("owner {owner}"));
    }
    if let Some(suspended) = patch.suspended {
        model.spec.state = if suspended {
            TenantState::Suspended
        } else {
            TenantState::Active
        };
        model
            .envs
            .values_mut()
            .for_each(|b| b.suspended = suspended);
        model
            .modules
            .values_mut()
            .for_each(|m| m.suspended = suspended);
        if patch.tier.is_none() && patch.display_name.is_none() && patch.owner.is_none() {
            let verb = if suspended { "Suspend" } else { "Resume" };
            return Ok(format!("{verb} tenant {tenant}"));
        }
        parts.push(if suspended {
            "suspended".into()
        } else {
            "resumed".into()
        });
    }
    if parts.is_empty() {
        parts.push("no change".into());
    }
    Ok(format!("Update tenant {tenant}: {}", parts.join("; ")))
}

fn enable_module(
    catalog: &Catalog,
    model: &mut TenantModel,
    change: &ModuleChange,
) -> Result<String, PlanError> {
    let (env, module) = (&change.env, &change.module);
    require_env(model, env)?;
    let m = catalog.require_module("module", module)?;
    catalog.require_module_allowed("module", m, &model.spec.tier)?;

    // Missing dependencies, nearest first, each checked against the tier like the module.
    let mut missing: Vec<ModuleName> = Vec::new();
    let mut queue: Vec<&ModuleName> = m.depends_on.iter().collect();
    while let Some(dep) = queue.pop() {
        if model.enabled(env, dep) || missing.contains(dep) {
            continue;
        }
        let dep_module = catalog.require_module("module", dep)?;
        catalog.require_module_allowed("module", dep_module, &model.spec.tier)?;
        missing.push(dep.clone());
        queue.extend(dep_module.depends_on.iter());
    }
    if !missing.is_empty() && !change.enable_dependencies {
        let names: Vec<&str> = missing.iter().map(|m| m.as_str()).collect();
        return Err(FieldError::invalid(
            "module",
            format!("module {module} needs {} enabled in {env} first; enable it, or send \"enable_dependencies\": true", names.join(", ")),
        )
        .into());
    }
    for dep in &missing {
        let values = model.new_module(env, dep, catalog);
        model.modules.insert((env.clone(), dep.clone()), values);
    }
    let mut values = model.new_module(env, module, catalog);
    // An upstream module's version is its chart's, pinned by `pin_upstream_charts`.
    if m.chart.is_none() && change.version.is_some() {
        values.module.version = change.version.clone();
    }
    values.overrides = change.values.clone();
    model.modules.insert((env.clone(), module.clone()), values);

    let version = change
        .version
        .as_deref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let mut summary = format!("Enable {module}{version} for {} in {env}", model.spec.name);
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|m| m.as_str()).collect();
        summary.push_str(&format!(" (with dependencies {})", names.join(", ")));
    }
    Ok(summary)
}

fn disable_module(
    catalog: &Catalog,
    model: &mut TenantModel,
    env: &EnvName,
    module: &ModuleName,
) -> Result<String, PlanError> {
    require_env(model, env)?;
    if !model.enabled(env, module) {
        // Disabling what is off changes nothing, but a name the catalog does not know is a typo.
        catalog.require_module("module", module)?;
        return Ok(format!("Disable {module} for {} in {env}", model.spec.name));
    }
    let dependents: Vec<&str> = model
        .modules
        .keys()
        .filter(|(e, m)| {
            e == env
                && catalog
                    .module(m)
                    .is_some_and(|c| c.depends_on.contains(module))
        })
        .map(|(_, m)| m.as_str())
        .collect();
    if !dependents.is_empty() {
        return Err(FieldError::conflict(
            "module",
            format!(
                "{} in {env} depends on {module}; disable {} first",
                dependents.join(", "),
                dependents.join(", ")
            ),
        )
        .into());
    }
    model.modules.remove(&(env.clone(), module.clone()));
    Ok(format!("Disable {module} for {} in {env}", model.spec.name))
}

/// Pins each upstream module file of `model` to one exact chart version and archive: the
/// version a module enable asks for (or the catalog's default), a new file (a dependency
/// enabled with it) at the default, and any other file as it already was. Every pin is
/// resolved against the chart's published versions within the catalog's range.
fn pin_upstream_charts(
    catalog: &Catalog,
    request: &Request,
    before: Option<&TenantModel>,
    model: &mut TenantModel,
    charts: &ChartShelf,
) -> Result<(), PlanError> {
    let asked = match &request.action {
        Action::EnableModule(change) => Some(change),
        _ => None,
    };
    for ((env, module), values) in model.modules.iter_mut() {
        let Some(upstream) = catalog.module(module).and_then(|m| m.chart.as_ref()) else {
            continue;
        };
        let is_target = asked.is_some_and(|c| &c.env == env && &c.module == module);
        let kept = values
            .module
            .pin()
            .filter(|pin| pin.chart == upstream.chart_ref());
        let kept_before = before
            .and_then(|b| b.modules.get(&(env.clone(), module.clone())))
            .and_then(|v| v.module.pin())
            .filter(|pin| pin.chart == upstream.chart_ref());
        let pin = match (is_target, asked.and_then(|c| c.version.as_deref())) {
            (true, Some(version)) => upstream::resolve(upstream, Some(version), charts)?,
            (true, None) => match kept_before {
                Some(pin) => pin,
                None => upstream::resolve(upstream, None, charts)?,
            },
            (false, _) => match kept {
                Some(pin) => pin,
                None => upstream::resolve(upstream, None, charts)?,
            },
        };
        values.module.version = None;
        values.module.set_pin(Some(pin));
    }
    Ok(())
}
