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
