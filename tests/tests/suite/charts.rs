//! The charts, checked by the real tools: `helm lint`, `helm template` with exactly the value-file
//! chain the ApplicationSets pass, and the output validated strictly against the Kubernetes
//! schemas. What Berth plans renders; what the examples hold renders; every tier renders.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_core::body::parse_create_tenant;
use berth_core::catalog::Catalog;
use berth_core::{Action, RepoFiles, Request, plan};
use berth_tests::tools::{helm_template, kubernetes_validate, run, tool};
use berth_tests::{project_charts_and_catalog, project_root};
use serde_json::{Value, json};

/// The value files Argo CD passes for a file under `tenants/`, in order, resolved in `root`
/// (where `charts/` lives) and `values_root` (where `tenants/` lives). Mirrors the ApplicationSets;
/// `the_chain_is_the_application_sets_chain` holds the two together.
fn chain(
    root: &Path,
    values_root: &Path,
    values_file: &str,
) -> (PathBuf, Vec<PathBuf>, String, String) {
    let values: Value =
        serde_yaml_ng::from_slice(&std::fs::read(values_root.join(values_file)).unwrap()).unwrap();
    let (tenant, env, tier) = (
        values["tenant"]["name"].as_str().unwrap(),
        values["tenant"]["env"].as_str().unwrap(),
        values["tenant"]["tier"].as_str().unwrap(),
    );
    let namespace = format!("{tenant}-{env}");
    match values["module"]["name"].as_str() {
        None => (
            root.join("charts/tenant"),
            vec![values_root.join(values_file)],
            namespace.clone(),
            namespace,
        ),
        Some(module) => {
            let chart = root.join(format!("charts/modules/{module}"));
            // ignoreMissingValueFiles: a chart without this tier's file renders without it.
            let tier_file = chart.join(format!("values-{tier}.yaml"));
            let files = [tier_file]
                .into_iter()
                .filter(|f| f.exists())
                .chain([values_root.join(values_file)])
                .collect();
            (chart, files, format!("{namespace}-{module}"), namespace)
        }
    }
}

/// Renders every values file under `values_root/tenants/` and returns all manifests.
fn render_all(values_root: &Path) -> String {
    let root = project_root();
    let out = Command::new("find")
        .arg(values_root.join("tenants"))
        .args(["-mindepth", "3", "-name", "*.yaml"])
        .output()
        .unwrap();
    let mut files: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            l.strip_prefix(&format!("{}/", values_root.display()))
                .unwrap()
                .to_owned()
        })
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut manifests = String::new();
    for file in files {
        let (chart, value_files, release, namespace) = chain(&root, values_root, &file);
        manifests.push_str(&helm_template(&chart, &value_files, &release, &namespace));
        manifests.push_str("\n---\n");
    }
    manifests
}

fn documents(manifests: &str) -> Vec<Value> {
    manifests
        .split("\n---")
        .filter_map(|doc| serde_yaml_ng::from_str::<Option<Value>>(doc).ok().flatten())
        .collect()
}

#[test]
fn example_tenants_render_and_validate() {
    let manifests = render_all(&project_root());
    kubernetes_validate(&manifests);
    let docs = documents(&manifests);
    let namespaces: BTreeSet<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "Namespace")
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        namespaces.into_iter().collect::<Vec<_>>(),
        [
            "globex-dev",
            "globex-prod",
            "globex-staging",
            "initech-dev",
            "umbrella-dev",
            "umbrella-prod"
        ]
    );
    for namespace in docs.iter().filter(|d| d["kind"] == "Namespace") {
        let annotations = &namespace["metadata"]["annotations"];
        assert_eq!(
            annotations["argocd.argoproj.io/sync-options"], "Prune=confirm,Delete=confirm",
            "{namespace}"
        );
        assert!(namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].is_string());
    }
    for doc in &docs {
        let labels = &doc["metadata"]["labels"];
        assert!(
            labels["berth.dev/tenant"].is_string() && labels["berth.dev/env"].is_string(),
            "{doc}"
        );
        assert!(labels["app.kubernetes.io/name"].is_string(), "{doc}");
    }
}

#[test]
fn a_suspended_tenant_runs_nothing_and_keeps_its_data() {
    let manifests = render_all(&project_root());
    let docs = documents(&manifests);
    let initech = |kind: &str| {
        docs.iter()
            .filter(|d| d["kind"] == kind && d["metadata"]["namespace"] == "initech-dev")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(initech("ResourceQuota")[0]["spec"]["hard"]["pods"], "0");
    assert_eq!(initech("Deployment")[0]["spec"]["replicas"], 0);
    assert!(initech("Ingress").is_empty());
    let globex_db = docs
        .iter()
        .find(|d| {
            d["kind"] == "StatefulSet"
                && d["metadata"]["namespace"] == "globex-prod"
                && d["metadata"]["name"] == "postgres"
        })
        .unwrap();
    let claim = &globex_db["spec"]["volumeClaimTemplates"][0]["metadata"]["annotations"];
    assert_eq!(claim["argocd.argoproj.io/sync-options"], "Delete=false");
}

/// For every tier, Berth plans a new tenant with every environment and module the tier allows;
/// every file it would commit renders and validates.
#[test]
fn every_tier_renders_what_berth_plans() {
    let files = project_charts_and_catalog();
    let catalog = Catalog::from_yaml(&files["tenants/catalog.yaml"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for tier in &catalog.tiers {
        let envs: Vec<&str> = tier.environments.iter().map(|e| e.as_str()).collect();
        let modules: Vec<&str> = catalog
            .modules
            .iter()
            .filter(|m| catalog.require_module_allowed("m", m, &tier.name).is_ok())
            .map(|m| m.name.as_str())
            .collect();
        let body = json!({"name": format!("new-{}", tier.name), "tier": tier.name, "envs": envs, "modules": modules});
        let (tenant, new) = parse_create_tenant(&body).unwrap();
        let change = plan(
            &Request {
                id: "01JTIER".into(),
                tenant,
                action: Action::CreateTenant(new),
            },
            &files,
        )
        .unwrap();
        for (path, bytes) in change.writes {
            let target = dir.path().join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, bytes).unwrap();
        }
    }
    let manifests = render_all(dir.path());
    kubernetes_validate(&manifests);
    let kinds: BTreeSet<String> = documents(&manifests)
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect();
    for kind in [
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "StatefulSet",
        "Deployment",
        "Service",
    ] {
        assert!(kinds.contains(kind), "{kind} missing from {kinds:?}");
    }
}

#[test]
fn every_chart_passes_helm_lint_at_every_tier() {
    let root = project_root();
    let mut examples = vec![(
        "tenants/globex/prod/base.yaml".to_owned(),
        "charts/tenant".to_owned(),
    )];
    for (tenant, module) in [
        ("globex", "postgres"),
        ("globex", "vault"),
        ("globex", "data-lake"),
        ("umbrella", "monitoring"),
    ] {
        examples.push((
            format!("tenants/{tenant}/prod/modules/{module}.yaml"),
            format!("charts/modules/{module}"),
        ));
    }
    for (values, chart) in examples {
        let chart = root.join(chart);
        for tier in ["bronze", "standard", "premium"] {
            let mut command = Command::new(tool("BERTH_HELM"));
            command
                .args(["lint", "--strict"])
                .arg(&chart)
                .arg("-f")
                .arg(root.join(&values))
                .args(["--set", &format!("tenant.tier={tier}")]);
            let tier_file = chart.join(format!("values-{tier}.yaml"));
            if tier_file.exists() {
                command.arg("-f").arg(tier_file);
            }
            run(&mut command);
        }
    }
}

#[test]
fn the_chain_is_the_application_sets_chain() {
    let root = project_root();
    let read = |name: &str| -> Value {
        serde_yaml_ng::from_slice(&std::fs::read(root.join("infra/argocd").join(name)).unwrap())
            .unwrap()
    };
    let helm = |set: &Value| set["spec"]["template"]["spec"]["sources"][0]["helm"].clone();
    let tenant_envs = helm(&read("applicationset-tenant-envs.yaml"));
    assert_eq!(
        tenant_envs["valueFiles"],
        json!(["$values/{{ .path.path }}/{{ .path.filename }}"])
    );
    let modules = helm(&read("applicationset-modules.yaml"));
    assert_eq!(
        modules["valueFiles"],
        json!([
            "$values/charts/modules/{{ .module.name }}/values-{{ .tenant.tier }}.yaml",
            "$values/{{ .path.path }}/{{ .path.filename }}"
        ])
    );
    assert_eq!(modules["ignoreMissingValueFiles"], true);
}

#[test]
fn chart_schemas_know_exactly_the_catalogs_tiers_and_environments() {
    let files: RepoFiles = project_charts_and_catalog();
    let catalog = Catalog::from_yaml(&files["tenants/catalog.yaml"]).unwrap();
    let tiers: Vec<&str> = catalog.tiers.iter().map(|t| t.name.as_str()).collect();
    let envs: Vec<&str> = catalog
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let schemas = files
        .iter()
        .filter(|(p, _)| p.ends_with("values.schema.json"));
    let mut seen = 0;
    for (path, bytes) in schemas {
        let schema: Value = serde_json::from_slice(bytes).unwrap();
        let tenant = &schema["properties"]["tenant"]["properties"];
        assert_eq!(tenant["tier"]["enum"], json!(tiers), "{path}");
        assert_eq!(tenant["env"]["enum"], json!(envs), "{path}");
        seen += 1;
    }
    assert_eq!(seen, 1 + catalog.modules.len(), "a schema per chart");
}

/// Every chart lints as chart authors lint it: on its own defaults, and on each of its
/// `ci/*-values.yaml` (the chart-testing convention), one per tier of the catalog, with the
/// chart's `values-<tier>.yaml` after it where there is one, as the ApplicationSet passes it.
#[test]
fn every_chart_lints_on_its_defaults_and_its_ci_values() {
    let root = project_root();
    let mut charts = vec![root.join("charts/tenant")];
    let mut modules: Vec<PathBuf> = std::fs::read_dir(root.join("charts/modules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    modules.sort();
    charts.extend(modules);
    for chart in &charts {
        run(Command::new(tool("BERTH_HELM"))
            .args(["lint", "--strict"])
            .arg(chart));
        for tier in ["bronze", "standard", "premium"] {
            let ci = chart.join(format!("ci/{tier}-values.yaml"));
            assert!(
                ci.exists(),
                "{} lacks ci/{tier}-values.yaml",
                chart.display()
            );
            let ci_values: serde_yaml_ng::Value =
                serde_yaml_ng::from_slice(&std::fs::read(&ci).unwrap()).unwrap();
            assert_eq!(
                ci_values["tenant"]["tier"].as_str(),
                Some(tier),
                "{} is for another tier",
                ci.display()
            );
            let mut command = Command::new(tool("BERTH_HELM"));
            command
                .args(["lint", "--strict"])
                .arg(chart)
                .arg("-f")
                .arg(&ci);
            let tier_file = chart.join(format!("values-{tier}.yaml"));
            if tier_file.exists() {
                command.arg("-f").arg(tier_file);
            }
            run(&mut command);
        }
    }
}
