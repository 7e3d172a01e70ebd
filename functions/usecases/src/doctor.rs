//! `berth doctor`'s server side: the deployment checked the way its operator would check it,
//! before the first request finds what is wrong. Git can be read, and written by the
//! credential (and the branch takes a direct commit); the catalog parses and every module's
//! chart exists with a values schema; the store's table and indexes exist; the cluster answers
//! and Argo CD holds Berth's ApplicationSets and AppProject (as the status function last saw
//! them: the API function does not reach the cluster itself).

use std::time::{Duration, SystemTime};

use berth_contract::DoctorCheck;
use berth_core::doctor::{APP_PROJECT, APPLICATION_SETS, in_repo_chart_problem};
use berth_core::schema::{module_chart, tenant_chart};
use berth_core::upstream::ValuesCheck;
use berth_core::{RepoFiles, plan::load_catalog};
use berth_store::ClusterHealth;

use crate::app::{App, Mode};
use crate::chart_facts::chart_facts;

/// How old the status function's record of the cluster may be before it says little.
const STALE_HEALTH: Duration = Duration::from_secs(15 * 60);

/// Every check, in the order an operator reads them.
pub async fn check_deployment(app: &App, mode: Mode) -> Vec<DoctorCheck> {
    let mut checks = Vec::new();
    if let Some(files) = read_repository(app, &mut checks).await {
        check_catalog(app, &files, &mut checks).await;
    }
    check_write_access(app, mode, &mut checks).await;
    check_store(app, &mut checks).await;
    check_cluster(app, &mut checks).await;
    checks
}

async fn read_repository(app: &App, checks: &mut Vec<DoctorCheck>) -> Option<RepoFiles> {
    let paths = vec!["tenants/catalog.yaml".to_owned(), "charts/".to_owned()];
    match app.committer.read(paths).await {
        Ok(snapshot) => {
            checks.push(DoctorCheck::ok(
                "git.read",
                format!("read the branch at {}", short(&snapshot.tip)),
            ));
            Some(snapshot.files)
        }
        Err(e) => {
            checks.push(DoctorCheck::failed(
                "git.read",
                format!("the repository cannot be read: {e}"),
                "check BERTH_GIT_REMOTE, BERTH_GIT_BRANCH and the Git credential",
            ));
            None
        }
    }
}

async fn check_write_access(app: &App, mode: Mode, checks: &mut Vec<DoctorCheck>) {
    let access = app.committer.write_access().await;
    checks.push(match access.can_push {
        Some(true) if access.missing.is_empty() => DoctorCheck::ok("git.write", access.detail),
        Some(true) => DoctorCheck::failed(
            "git.write",
            format!("{}, but lacks {}", access.detail, access.missing.join(", ")),
            "grant the GitHub App these permissions and accept them on the installation",
        ),
        Some(false) => DoctorCheck::failed(
            "git.write",
            format!("the credential cannot write: {}", access.detail),
            "give the Git credential write access to the repository (contents: write for a GitHub App)",
        ),
        None => DoctorCheck::warning(
            "git.write",
            format!("write access not known: {}", access.detail),
            "the first request will tell",
        ),
    });
    match (access.protected_branch, mode) {
        (Some(true), Mode::Direct) => checks.push(DoctorCheck::failed(
            "git.branch",
            "the branch is protected: a direct commit will be refused",
            "set BERTH_DEFAULT_MODE=pr, or let Berth's credential bypass the branch's rules",
        )),
        (Some(true), Mode::Pr) => checks.push(DoctorCheck::warning(
            "git.branch",
            "the branch is protected; requests open pull requests (BERTH_DEFAULT_MODE=pr)",
            "a request asking ?mode=direct will be refused",
        )),
        (Some(false), _) => checks.push(DoctorCheck::ok(
            "git.branch",
            "the branch takes direct commits",
        )),
        (None, _) => {}
    }
}

async fn check_catalog(app: &App, files: &RepoFiles, checks: &mut Vec<DoctorCheck>) {
    let catalog = match load_catalog(files) {
        Ok(catalog) => catalog,
        Err(e) => {
            checks.push(DoctorCheck::failed(
                "catalog",
                format!("tenants/catalog.yaml: {e}"),
                "fix the catalog by a pull request; nothing can be planned until it parses",
            ));
            return;
        }
    };
    checks.push(DoctorCheck::ok(
        "catalog",
        format!(
            "{} environments, {} tiers, {} modules",
            catalog.environments.len(),
            catalog.tiers.len(),
            catalog.modules.len()
        ),
    ));
    if let Some(problem) = in_repo_chart_problem(files, &tenant_chart()) {
        checks.push(DoctorCheck::failed(
            "chart.tenant",
            problem,
            "add the tenant chart and its values.schema.json",
        ));
    }
    for module in &catalog.modules {
        let name = format!("module.{}", module.name.as_str());
        checks.push(match &module.chart {
            None => match in_repo_chart_problem(files, &module_chart(module.name.as_str())) {
                None => DoctorCheck::ok(name, "the chart and its values schema are in the repository"),
                Some(problem) => DoctorCheck::failed(
                    name,
                    problem,
                    "add the chart's values.schema.json, so values are checked before they are committed",
                ),
            },
            Some(upstream) => {
                let facts = chart_facts(app, upstream).await;
                match (facts.unavailable, facts.values_check) {
                    (Some(reason), _) => DoctorCheck::failed(
                        name,
                        format!("the chart cannot be read: {reason}"),
                        "check chart.repo and chart.default in the catalog, and BERTH_CHART_CREDENTIALS",
                    ),
                    (None, Some(ValuesCheck::TopLevelKeys)) => DoctorCheck::warning(
                        name,
                        format!("{} ships no values schema: only top-level keys are checked", upstream.name),
                        "name a schema kept in the repository with chart.schema",
                    ),
                    (None, _) => DoctorCheck::ok(
                        name,
                        format!("{} {} is readable and has a values schema", upstream.name, upstream.default),
                    ),
                }
            }
        });
    }
}

async fn check_store(app: &App, checks: &mut Vec<DoctorCheck>) {
    checks.push(match app.store.layout_problems().await {
        Ok(problems) if problems.is_empty() => DoctorCheck::ok(
            "store",
            "ready (on DynamoDB: the table is active with its indexes)",
        ),
        Ok(problems) => DoctorCheck::failed(
            "store",
            problems.join("; "),
            "deploy the table as infra/aws/template.yaml defines it",
        ),
        Err(e) => DoctorCheck::failed(
            "store",
            format!("the store cannot be read: {e}"),
            "check BERTH_TABLE, the region, and the function's DynamoDB permissions",
        ),
    });
}

async fn check_cluster(app: &App, checks: &mut Vec<DoctorCheck>) {
    let health = match app.store.get_cluster_health().await {
        Ok(Some(health)) => health,
        Ok(None) => {
            checks.push(DoctorCheck::failed(
                "cluster",
                "the status function has recorded nothing yet",
                "check that the status function runs on its schedule, and its logs",
            ));
            return;
        }
        Err(e) => {
            checks.push(DoctorCheck::failed(
                "cluster",
                e.to_string(),
                "check the store first",
            ));
            return;
        }
    };
    let age = age_of(&health.observed_at);
    let stale = age.is_none_or(|a| a > STALE_HEALTH);
    let seen = match age {
        Some(age) => format!("{} s ago", age.as_secs()),
        None => "at an unreadable time".into(),
    };
    checks.push(match health.status.as_str() {
        "ok" if stale => DoctorCheck::warning(
            "cluster",
            format!("answered when the status function last read it, {seen}"),
            "the status function has not run since: check its schedule and its logs",
        ),
        "ok" => DoctorCheck::ok(
            "cluster",
            format!(
                "answers (Kubernetes {}), read by the status function {seen}",
                health.version.as_deref().unwrap_or("of unknown version")
            ),
        ),
        "not_configured" => DoctorCheck::failed(
            "cluster",
            "the status function has no cluster to read",
            "set BERTH_KUBE_SERVER (or EksClusterName in the template)",
        ),
        _ => DoctorCheck::failed(
            "cluster",
            format!(
                "does not answer the status function ({seen}): {}",
                health.message.as_deref().unwrap_or("no reason given")
            ),
            "check the cluster's endpoint, its CA, and the status role's access entry and RBAC (infra/k8s)",
        ),
    });
    checks.push(argocd_check(&health));
}

/// Whether Argo CD holds the ApplicationSets and AppProject of `infra/argocd`.
fn argocd_check(health: &ClusterHealth) -> DoctorCheck {
    let Some(setup) = &health.argocd else {
        return DoctorCheck::warning(
            "argocd",
            "the status function has not listed Argo CD's ApplicationSets",
            "apply infra/k8s/status-rbac.yaml, which lets it list them",
        );
    };
    let mut missing: Vec<String> = APPLICATION_SETS
        .iter()
        .filter(|name| !setup.application_sets.iter().any(|s| s == *name))
        .map(|name| format!("ApplicationSet {name}"))
        .collect();
    if !setup.projects.iter().any(|p| p == APP_PROJECT) {
        missing.push(format!("AppProject {APP_PROJECT}"));
    }
    if missing.is_empty() {
        DoctorCheck::ok(
            "argocd",
            format!(
                "ApplicationSets {} and AppProject {APP_PROJECT} are in place",
                APPLICATION_SETS.join(", ")
            ),
        )
    } else {
        DoctorCheck::failed(
            "argocd",
            format!("missing: {}", missing.join(", ")),
            "kubectl apply -f infra/argocd/ on the cluster Argo CD runs in",
        )
    }
}

fn age_of(rfc3339: &str) -> Option<Duration> {
    let at = humantime::parse_rfc3339_weak(rfc3339).ok()?;
    SystemTime::now().duration_since(at).ok()
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
