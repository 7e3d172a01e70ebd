//! The ApplicationSets, rendered as Argo CD's controller renders them: the matrix's list child
//! from a values file's own parameters, then the template once per element, each step by the
//! real helm binary's Go templates (with Sprig, as Argo CD's `goTemplate` has). Each Application
//! is then checked against Argo CD's CRD schema, strictly.

use std::path::Path;

use berth_tests::project_root;
use berth_tests::tools::helm_template;
use serde_json::{Value, json};

/// Renders `text` as a Go template whose `.` is `params`, with helm.
fn go_template(work: &Path, text: &str, params: &Value) -> String {
    let chart = work.join("render");
    let _ = std::fs::remove_dir_all(&chart);
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: render\nversion: 0.1.0\n",
    )
    .unwrap();
    // `with .Values` makes the parameters the template's dot, as the controller's is; the
    // output goes into a string of an object, since helm reads what it renders as objects.
    std::fs::write(
        chart.join("templates/out.yaml"),
        format!(
            "{{{{- define \"out\" }}}}{{{{- with .Values }}}}\n{text}\n{{{{- end }}}}{{{{- end }}}}\n\
             kind: Rendered\ntext: |\n{{{{ include \"out\" . | indent 2 }}}}\n"
        ),
    )
    .unwrap();
    let values = work.join("params.yaml");
    std::fs::write(&values, serde_yaml_ng::to_string(params).unwrap()).unwrap();
    let out = helm_template(&chart, &[values], "render", "argocd");
    let rendered: Value = serde_yaml_ng::from_str(&out).unwrap();
    rendered["text"].as_str().unwrap().to_owned()
}

/// The Applications `appset` generates for the values file at `path` with `contents`.
fn applications(appset: &str, path: &str, contents: &str) -> Vec<Value> {
    let work = tempfile::tempdir().unwrap();
    let set: Value = serde_yaml_ng::from_slice(
        &std::fs::read(project_root().join("infra/argocd").join(appset)).unwrap(),
    )
    .unwrap();
    let matrix = &set["spec"]["generators"][0]["matrix"]["generators"];
    assert_eq!(
        matrix[0]["git"]["files"][0]["path"]
            .as_str()
            .map(|glob| glob_matches(glob, path)),
        Some(true)
    );
    // The git files generator's parameters: the file's keys, and its path.
    let mut params: Value = serde_yaml_ng::from_str(contents).unwrap();
    let (dir, file) = path.rsplit_once('/').unwrap();
    params["path"] = json!({
        "path": dir,
        "basename": dir.rsplit('/').next().unwrap(),
        "filename": file,
        "basenameNormalized": dir.rsplit('/').next().unwrap(),
        "filenameNormalized": file.replace('.', "-"),
        "segments": dir.split('/').collect::<Vec<_>>(),
    });
    let elements_yaml = matrix[1]["list"]["elementsYaml"].as_str().unwrap();
    let elements: Vec<Value> =
        serde_yaml_ng::from_str(&go_template(work.path(), elements_yaml, &params)).unwrap();
    let template = serde_yaml_ng::to_string(&set["spec"]["template"]).unwrap();
    elements
        .into_iter()
        .map(|element| {
            let mut merged = params.clone();
            for (k, v) in element.as_object().unwrap() {
                merged[k] = v.clone();
            }
            let rendered: Value =
                serde_yaml_ng::from_str(&go_template(work.path(), &template, &merged)).unwrap();
            json!({
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": rendered["metadata"],
                "spec": rendered["spec"],
            })
        })
        .collect()
}

/// `*` matches one path segment, as the git files generator's globs do here.
fn glob_matches(glob: &str, path: &str) -> bool {
    let (g, p): (Vec<&str>, Vec<&str>) = (glob.split('/').collect(), path.split('/').collect());
    g.len() == p.len()
        && g.iter().zip(&p).all(|(g, p)| {
            *g == "*"
                || g == p
                || g.strip_prefix("*")
                    .is_some_and(|suffix| p.ends_with(suffix))
        })
}

fn application_schema() -> jsonschema::Validator {
    super::infra::argocd_schema("application")
}

const BASE: &str = "tenant: {name: acme, tier: standard, env: prod}
suspended: false
quota: {cpu: '20', memory: 40Gi, pods: 100}
pod_security: restricted
";

const MODULE: &str = "tenant: {name: acme, tier: standard, env: prod}
module: {name: postgres}
suspended: false
";

fn names_and_destinations(apps: &[Value]) -> Vec<(String, String)> {
    let schema = application_schema();
    apps.iter()
        .map(|app| {
            super::infra::assert_valid(&schema, app, "application");
            assert_eq!(app["spec"]["destination"]["namespace"], "acme-prod");
            assert!(app["spec"]["destination"].get("server").is_none(), "{app}");
            (
                app["metadata"]["name"].as_str().unwrap().to_owned(),
                app["spec"]["destination"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_placed_tenant_env_targets_its_cluster_under_a_name_that_carries_it() {
    let placed = format!("{BASE}placement: {{cluster: prod-eu}}\n");
    let apps = applications(
        "applicationset-tenant-envs.yaml",
        "tenants/acme/prod/base.yaml",
        &placed,
    );
    assert_eq!(
        names_and_destinations(&apps),
        [("acme-prod-prod-eu".to_owned(), "prod-eu".to_owned())]
    );
    assert_eq!(
        apps[0]["metadata"]["labels"]["berth.dev/cluster"],
        "prod-eu"
    );

    let module = format!("{MODULE}placement: {{cluster: prod-eu}}\n");
    let apps = applications(
        "applicationset-modules.yaml",
        "tenants/acme/prod/modules/postgres.yaml",
        &module,
    );
    assert_eq!(
        names_and_destinations(&apps),
        [(
            "acme-prod-prod-eu-postgres".to_owned(),
            "prod-eu".to_owned()
        )]
    );
}

#[test]
fn a_moving_tenant_env_runs_on_both_clusters_until_the_move_ends() {
    let moving = format!("{BASE}placement: {{cluster: prod-eu, moving_to: prod-us}}\n");
    let apps = applications(
        "applicationset-tenant-envs.yaml",
        "tenants/acme/prod/base.yaml",
        &moving,
    );
    assert_eq!(
        names_and_destinations(&apps),
        [
            ("acme-prod-prod-eu".to_owned(), "prod-eu".to_owned()),
            ("acme-prod-prod-us".to_owned(), "prod-us".to_owned())
        ]
    );
}

#[test]
fn an_unplaced_tenant_env_keeps_its_name_and_runs_where_argo_cd_does() {
    let apps = applications(
        "applicationset-tenant-envs.yaml",
        "tenants/acme/prod/base.yaml",
        BASE,
    );
    assert_eq!(
        names_and_destinations(&apps),
        [("acme-prod".to_owned(), "in-cluster".to_owned())]
    );
    let apps = applications(
        "applicationset-modules.yaml",
        "tenants/acme/prod/modules/postgres.yaml",
        MODULE,
    );
    assert_eq!(
        names_and_destinations(&apps),
        [("acme-prod-postgres".to_owned(), "in-cluster".to_owned())]
    );
}

/// An upstream module's file pins its chart: the Application renders that chart at that
/// version (an OCI registry in Argo CD's Helm-type form, without `oci://`), with the tier
/// values and the tenant's file from this repository; an in-repo module renders its path.
#[test]
fn an_upstream_module_renders_its_pinned_chart_and_an_in_repo_module_its_path() {
    for (repo, argo_repo) in [
        (
            "https://cloudnative-pg.github.io/charts",
            "https://cloudnative-pg.github.io/charts",
        ),
        (
            "oci://ghcr.io/cloudnative-pg/charts",
            "ghcr.io/cloudnative-pg/charts",
        ),
    ] {
        let pinned = format!(
            "tenant: {{name: acme, tier: standard, env: prod}}\nmodule: {{name: pg-cluster, chart_repo: \"{repo}\", chart: cluster, chart_version: 0.8.1, chart_digest: \"sha256:ab\"}}\nsuspended: false\n"
        );
        let apps = applications(
            "applicationset-modules.yaml",
            "tenants/acme/prod/modules/pg-cluster.yaml",
            &pinned,
        );
        let source = &apps[0]["spec"]["sources"][0];
        assert_eq!(source["repoURL"], argo_repo);
        assert_eq!(source["chart"], "cluster");
        assert_eq!(source["targetRevision"], "0.8.1");
        assert_eq!(source["path"], "");
        assert_eq!(
            source["helm"]["valueFiles"],
            json!([
                "$values/charts/modules/pg-cluster/values-standard.yaml",
                "$values/tenants/acme/prod/modules/pg-cluster.yaml"
            ])
        );
        names_and_destinations(&apps);
    }
    let apps = applications(
        "applicationset-modules.yaml",
        "tenants/acme/prod/modules/postgres.yaml",
        MODULE,
    );
    let source = &apps[0]["spec"]["sources"][0];
    assert_eq!(source["path"], "charts/modules/postgres");
    assert_eq!(source["chart"], "");
    assert_eq!(source["targetRevision"], "main");
    assert_eq!(
        source["repoURL"],
        "https://git.example.com/platform/tenants.git"
    );
}

/// The whole chain on a real upstream chart: Berth plans a tenant enabling CloudNativePG's
/// `cluster` from a Helm repository on loopback (reading it as the API does); the
/// ApplicationSet renders that file's Application; `helm template` renders the Application's
/// own source (`--repo`, `chart`, `--version`) with its value files resolved in the
/// repository; the built-in kinds pass `kubernetes-validate`. (Two workers: helm runs while
/// the repository answers it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_tenant_renders_through_its_application() {
    use berth_charts::ChartLibrary;
    use berth_core::plan::plan_with_charts;
    use berth_core::{Action, PlanError, Request};
    use berth_tests::chart_repos::{HelmRepo, packaged_charts};
    use berth_tests::tools::{kubernetes_validate, run, tool};

    let dir = tempfile::tempdir().unwrap();
    let archives = packaged_charts(&dir.path().join("packaged"));
    let helm_repo = HelmRepo::start(&dir.path().join("served"), &archives).await;
    let mut files = berth_tests::project_charts_and_catalog();
    let catalog = String::from_utf8(files["tenants/catalog.yaml"].clone()).unwrap();
    let catalog = catalog.replacen(
        "modules:\n",
        &format!(
            "modules:\n  - name: pg-cluster\n    chart: {{repo: \"{}\", name: cluster, versions: \"~0.8\", default: \"0.8.1\"}}\n",
            helm_repo.url
        ),
        1,
    );
    files.insert("tenants/catalog.yaml".into(), catalog.into_bytes());
    files.insert(
        "charts/modules/pg-cluster/values-standard.yaml".into(),
        b"cluster:\n  instances: 2\n".to_vec(),
    );
    let library = ChartLibrary::default();
    let bodies = [
        json!({"name": "acme", "tier": "standard", "envs": ["prod"]}),
        json!({"values": {"cluster": {"instances": 3}}}),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let request = if i == 0 {
            let (tenant, new) = berth_core::body::parse_create_tenant(body).unwrap();
            Request {
                id: "01CREATE".into(),
                tenant,
                action: Action::CreateTenant(new),
            }
        } else {
            let change = berth_core::body::parse_module_change("prod", "pg-cluster", body).unwrap();
            Request {
                id: "01ENABLE".into(),
                tenant: berth_core::TenantName::parse("t", "acme").unwrap(),
                action: Action::EnableModule(change),
            }
        };
        // As the write path does: read what the plan asks for, and plan again.
        let change = loop {
            match plan_with_charts(&request, &files, &library.shelf()) {
                Err(PlanError::ChartsNeeded(wants)) => library.fetch(&wants).await.unwrap(),
                other => break other.unwrap(),
            }
        };
        change.apply_to(&mut files);
    }
    let path = "tenants/acme/prod/modules/pg-cluster.yaml";
    let contents = String::from_utf8(files[path].clone()).unwrap();
    let apps = applications("applicationset-modules.yaml", path, &contents);
    names_and_destinations(&apps);
    let source = &apps[0]["spec"]["sources"][0];
    assert_eq!(source["repoURL"], helm_repo.url.as_str());
    assert_eq!(source["targetRevision"], "0.8.1");

    // `$values/…` resolves to the repository's root, here written out.
    let root = dir.path().join("repo");
    for (file, bytes) in &files {
        let to = root.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
    }
    let mut command = std::process::Command::new(tool("BERTH_HELM"));
    command
        .args(["template", source["helm"]["releaseName"].as_str().unwrap()])
        .arg(source["chart"].as_str().unwrap())
        .args(["--repo", source["repoURL"].as_str().unwrap()])
        .args(["--version", source["targetRevision"].as_str().unwrap()])
        .args([
            "--namespace",
            apps[0]["spec"]["destination"]["namespace"]
                .as_str()
                .unwrap(),
        ])
        .env("HELM_CACHE_HOME", dir.path().join("helm-cache"))
        .env("HELM_CONFIG_HOME", dir.path().join("helm-config"));
    for file in source["helm"]["valueFiles"].as_array().unwrap() {
        let relative = file.as_str().unwrap().strip_prefix("$values/").unwrap();
        // ignoreMissingValueFiles: true.
        if root.join(relative).exists() {
            command.arg("-f").arg(root.join(relative));
        }
    }
    let manifests = run(&mut command);
    let documents: Vec<Value> = manifests
        .split("\n---")
        .filter_map(|d| serde_yaml_ng::from_str::<Value>(d).ok())
        .filter(|d| d.is_object())
        .collect();
    let cluster = documents.iter().find(|d| d["kind"] == "Cluster").unwrap();
    assert_eq!(cluster["spec"]["instances"], 3);
    let built_in: Vec<String> = documents
        .iter()
        .filter(|d| {
            !d["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .contains(".cnpg.io")
        })
        .map(|d| serde_yaml_ng::to_string(d).unwrap())
        .collect();
    kubernetes_validate(&built_in.join("---\n"));
    assert_eq!(helm_repo.reads("archive"), 2, "Berth's read, then helm's");
}
