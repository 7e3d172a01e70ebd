//! What a person's pull request will do once merged, tenant by tenant, in words a reviewer
//! reads instead of YAML: tenants created or deleted, tier and state changes, modules enabled,
//! disabled or reconfigured per environment (versions from and to, the value keys changed),
//! the Argo CD Applications the ApplicationSets will create or prune, and the review's
//! problems. Rendered as one Markdown comment within GitHub's size limit.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{RepoFiles, TenantModel};
use crate::names::{EnvName, ModuleName, TenantName};
use crate::review::Problem;

/// The first line of Berth's plan comment: how Berth finds its own comment to edit in place.
pub const PLAN_MARKER: &str = "<!-- berth-plan -->";
/// GitHub refuses a comment body longer than this many characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// One tenant, as the branch has it and as the pull request leaves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantPlan {
    pub tenant: String,
    /// `created`, `deleted`, `updated`, or `unreadable` (its files do not parse on one side).
    pub kind: &'static str,
    /// Tier, state and name changes, and module changes, one line each.
    pub lines: Vec<String>,
    pub applications_created: Vec<String>,
    pub applications_pruned: Vec<String>,
}

/// `tenant` as `before` (the branch) and `after` (the pull request's head) hold it.
pub fn plan_tenant(tenant: &TenantName, before: &RepoFiles, after: &RepoFiles) -> TenantPlan {
    let mut plan = TenantPlan {
        tenant: tenant.to_string(),
        ..TenantPlan::default()
    };
    let (old, new) = match (
        TenantModel::read(tenant, before),
        TenantModel::read(tenant, after),
    ) {
        (Ok(old), Ok(new)) => (old, new),
        _ => {
            plan.kind = "unreadable";
            plan.lines
                .push("its files cannot be read as Berth writes them (see the problems)".into());
            return plan;
        }
    };
    plan.kind = match (&old, &new) {
        (None, Some(_)) => "created",
        (Some(_), None) => "deleted",
        _ => "updated",
    };
    if let (Some(o), Some(n)) = (&old, &new) {
        spec_changes(o, n, &mut plan.lines);
    } else if let Some(n) = &new {
        plan.lines
            .push(format!("tier {}, {}", n.spec.tier, n.spec.state.as_str()));
    }
    let old_apps = applications(tenant, old.as_ref());
    let new_apps = applications(tenant, new.as_ref());
    plan.applications_created = new_apps.difference(&old_apps).cloned().collect();
    plan.applications_pruned = old_apps.difference(&new_apps).cloned().collect();
    module_changes(old.as_ref(), new.as_ref(), &mut plan.lines);
    plan
}

fn spec_changes(old: &TenantModel, new: &TenantModel, lines: &mut Vec<String>) {
    let (o, n) = (&old.spec, &new.spec);
    if o.tier != n.tier {
        lines.push(format!("tier {} → {}", o.tier, n.tier));
    }
    if o.state != n.state {
        lines.push(format!("state {} → {}", o.state.as_str(), n.state.as_str()));
    }
    if o.display_name != n.display_name {
        lines.push(format!(
            "display name {} → {}",
            o.display_name.as_deref().unwrap_or("(none)"),
            n.display_name.as_deref().unwrap_or("(none)")
        ));
    }
    if o.owner != n.owner {
        lines.push(format!(
            "owner {} → {}",
            o.owner.as_deref().unwrap_or("(none)"),
            n.owner.as_deref().unwrap_or("(none)")
        ));
    }
}

/// The Applications the ApplicationSets render for a tenant: `<tenant>-<env>` per environment
/// and `<tenant>-<env>-<module>` per enabled module.
fn applications(tenant: &TenantName, model: Option<&TenantModel>) -> BTreeSet<String> {
    let Some(model) = model else {
        return BTreeSet::new();
    };
    let envs = model.envs.keys().map(|env| format!("{tenant}-{env}"));
    let modules = model
        .modules
        .keys()
        .map(|(env, module)| format!("{tenant}-{env}-{module}"));
    envs.chain(modules).collect()
}

fn module_changes(old: Option<&TenantModel>, new: Option<&TenantModel>, lines: &mut Vec<String>) {
    let empty = BTreeMap::new();
    let old_modules = old.map_or(&empty, |m| &m.modules);
    let new_modules = new.map_or(&empty, |m| &m.modules);
    let keys: BTreeSet<&(EnvName, ModuleName)> =
        old_modules.keys().chain(new_modules.keys()).collect();
    for key in keys {
        let (env, module) = key;
        match (old_modules.get(key), new_modules.get(key)) {
            (None, Some(n)) => lines.push(format!(
                "{env}: enable {module} (version {})",
                n.module.version.as_deref().unwrap_or("the chart's")
            )),
            (Some(_), None) => lines.push(format!("{env}: disable {module}")),
            (Some(o), Some(n)) => {
                let mut parts = Vec::new();
                if o.module.version != n.module.version {
                    parts.push(format!(
                        "version {} → {}",
                        o.module.version.as_deref().unwrap_or("the chart's"),
                        n.module.version.as_deref().unwrap_or("the chart's")
                    ));
                }
                let changed: Vec<&String> = o
                    .overrides
                    .keys()
                    .chain(n.overrides.keys())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .filter(|k| o.overrides.get(*k) != n.overrides.get(*k))
                    .collect();
                if !changed.is_empty() {
                    let keys: Vec<String> = changed.iter().map(|k| format!("`{k}`")).collect();
                    parts.push(format!("values changed: {}", keys.join(", ")));
                }
                if !parts.is_empty() {
                    lines.push(format!("{env}: reconfigure {module}: {}", parts.join("; ")));
                }
            }
            (None, None) => {}
        }
    }
}

/// The comment: a summary first, then each tenant while it fits in `limit` characters (GitHub's
/// [`COMMENT_LIMIT`]), then the problems; what does not fit is counted, never cut mid-line.
pub fn render_comment(plans: &[TenantPlan], problems: &[Problem], limit: usize) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for plan in plans {
        *counts.entry(plan.kind).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let verdict = if problems.is_empty() {
        "passes Berth's review".to_owned()
    } else {
        format!("fails Berth's review with {} problem(s)", problems.len())
    };
    let mut out = format!(
        "{PLAN_MARKER}\n### Berth plan\n\nThis pull request changes {} tenant(s) ({}) and {verdict}.\n",
        plans.len(),
        if summary.is_empty() {
            "none".to_owned()
        } else {
            summary.join(", ")
        }
    );
    let mut problem_text = String::new();
    if !problems.is_empty() {
        problem_text.push_str("\n#### Problems\n");
        for p in problems {
            let field = if p.field.is_empty() {
                String::new()
            } else {
                format!(" `{}`", p.field)
            };
            problem_text.push_str(&format!("- `{}`{field}: {}\n", p.path, p.message));
        }
    }
    // The problems are what a reviewer must see: room is kept for them first.
    let problem_text = bounded(&problem_text, limit / 2);
    let reserve = problem_text.len() + 200;
    let mut shown = 0;
    for plan in plans {
        let section = tenant_section(plan);
        if out.len() + section.len() + reserve > limit {
            break;
        }
        out.push_str(&section);
        shown += 1;
    }
    if shown < plans.len() {
        out.push_str(&format!(
            "\n…and {} more tenant(s) not shown: the comment is limited to {limit} characters.\n",
            plans.len() - shown
        ));
    }
    out.push_str(&problem_text);
    out
}

fn tenant_section(plan: &TenantPlan) -> String {
    let mut s = format!("\n#### `{}`: {}\n", plan.tenant, plan.kind);
    for line in &plan.lines {
        s.push_str(&format!("- {line}\n"));
    }
    let names = |apps: &[String]| {
        apps.iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !plan.applications_created.is_empty() {
        s.push_str(&format!(
            "- Argo CD Applications created: {}\n",
            names(&plan.applications_created)
        ));
    }
    if !plan.applications_pruned.is_empty() {
        s.push_str(&format!(
            "- Argo CD Applications pruned: {}\n",
            names(&plan.applications_pruned)
        ));
    }
    s
}

/// `text` cut at a line boundary to at most `limit` bytes, saying how many lines were left out.
fn bounded(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut left = 0;
    for line in text.lines() {
        if left == 0 && out.len() + line.len() + 80 <= limit {
            out.push_str(line);
            out.push('\n');
        } else {
            left += 1;
        }
    }
    out.push_str(&format!("- …and {left} more line(s)\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(kind: &'static str, n: usize) -> TenantPlan {
        TenantPlan {
            tenant: format!("t{n:05}"),
            kind,
            lines: vec!["tier standard → premium".into()],
            applications_created: vec![format!("t{n:05}-dev")],
            applications_pruned: Vec::new(),
        }
    }

    #[test]
    fn a_large_change_summarises_then_lists_what_fits() {
        let plans: Vec<TenantPlan> = (0..5_000).map(|n| plan_of("updated", n)).collect();
        let problems = vec![Problem {
            path: "tenants/t00001/tenant.yaml".into(),
            field: "tier".into(),
            message: "unknown tier gold".into(),
        }];
        let comment = render_comment(&plans, &problems, COMMENT_LIMIT);
        assert!(comment.chars().count() <= COMMENT_LIMIT);
        assert!(comment.starts_with(PLAN_MARKER));
        assert!(comment.contains("changes 5000 tenant(s) (5000 updated)"));
        assert!(comment.contains("more tenant(s) not shown"));
        assert!(comment.contains("`tenants/t00001/tenant.yaml` `tier`: unknown tier gold"));
        let small = render_comment(&plans[..2], &[], COMMENT_LIMIT);
        assert!(!small.contains("not shown"));
        assert!(small.contains("passes Berth's review"));
    }
}
