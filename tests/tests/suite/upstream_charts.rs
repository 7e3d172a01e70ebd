//! Modules from upstream charts, end to end over the API, on both kinds of repository:
//! a Helm repository served on loopback (archives from the real `helm package`, index from the
//! real `helm repo index`) and an OCI registry (Debian's `docker-registry` with htpasswd auth,
//! charts uploaded by the real `helm push`, read through our bearer-token front that redirects
//! blob reads). The charts are CloudNativePG's, from `../shared/fixtures/charts/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_charts::{ChartLibrary, ChartSettings, Credentials, ReadKind};
use berth_store::prelude::*;
use berth_tests::api_server::{ADMIN, ApiServer, OPERATOR};
use berth_tests::chart_repos::{
    HelmRepo, REGISTRY_PASSWORD, REGISTRY_USER, Registry, TokenProxy, packaged_charts,
};
use berth_tests::github::GithubServer;
use berth_tests::{dynamo_store, git};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// Which repository serves the charts, and its handles.
enum Served {
    Helm(HelmRepo),
    /// The registry is held to keep it running; reads go through the proxy.
    Oci(#[allow(dead_code)] Registry, TokenProxy),
    /// The registry itself, with its own basic-auth challenge.
    Registry(#[allow(dead_code)] Registry),
}

struct Fixture {
    api: ApiServer,
    /// GitHub's API, for pull-request reviews (`Fixture::with_github`).
    github: Option<GithubServer>,
    repo: PathBuf,
    served: Served,
    charts: Arc<ChartLibrary>,
    client: Client,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Helm,
    Oci,
    /// Straight to docker-registry, with (`true`) or without the htpasswd credentials.
    Registry(bool),
}

impl Fixture {
    async fn new(kind: Kind, index_ttl: Duration) -> Self {
        Self::build(kind, index_ttl, false).await
    }

    /// With the GitHub test server over the same repository, for pull-request reviews.
    async fn with_github(kind: Kind) -> Self {
        Self::build(kind, Duration::from_secs(600), true).await
    }

    async fn build(kind: Kind, index_ttl: Duration, with_github: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let archives = packaged_charts(&dir.path().join("packaged"));
        let (served, repo_url, credentials) = match kind {
            Kind::Helm => {
                let helm = HelmRepo::start(&dir.path().join("served"), &archives).await;
                let url = helm.url.clone();
                (Served::Helm(helm), url, Credentials::default())
            }
            Kind::Oci => {
                let registry = Registry::start().await;
                for archive in &archives {
                    registry.push(archive);
                }
                let proxy = TokenProxy::start(&registry).await;
                let url = format!("oci://{}/charts", proxy.host);
                let credentials = Credentials::parse(&format!(
                    "{}={REGISTRY_USER}:{REGISTRY_PASSWORD}",
                    proxy.host
                ))
                .unwrap();
                (Served::Oci(registry, proxy), url, credentials)
            }
            Kind::Registry(with_credentials) => {
                let registry = Registry::start().await;
                for archive in &archives {
                    registry.push(archive);
                }
                let url = format!("oci://{}/charts", registry.host);
                let credentials = if with_credentials {
                    Credentials::parse(&format!(
                        "{}={REGISTRY_USER}:{REGISTRY_PASSWORD}",
                        registry.host
                    ))
                    .unwrap()
                } else {
                    Credentials::default()
                };
                (Served::Registry(registry), url, credentials)
            }
        };
        let modules = format!(
            "  - name: pg-cluster
    description: A CloudNativePG Postgres cluster, from its upstream chart
    chart: {{repo: \"{repo_url}\", name: cluster, versions: \"~0.8\", default: \"0.8.0\"}}
  - name: cnpg
    description: The CloudNativePG operator, with its dashboards subchart
    chart: {{repo: \"{repo_url}\", name: cloudnative-pg, versions: \"0.29.x\", default: \"0.29.0\"}}
"
        );
        let mut files = berth_tests::git::project_charts_and_catalog();
        let catalog = String::from_utf8(files["tenants/catalog.yaml"].clone()).unwrap();
        let catalog = catalog.replacen("modules:\n", &format!("modules:\n{modules}"), 1);
        files.insert("tenants/catalog.yaml".into(), catalog.into_bytes());
        // Tier values for the upstream chart, kept in the repository like every other's.
        files.insert(
            "charts/modules/pg-cluster/values-standard.yaml".into(),
            b"cluster:\n  instances: 2\n".to_vec(),
        );
        let repo = dir.path().join("origin.git");
        berth_gitops::seed_bare_repository(&repo, "main", &files, "Seed").unwrap();
        let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
        let github = if with_github {
            Some(GithubServer::start(repo.clone(), "github-test-token").await)
        } else {
            None
        };
        let charts = Arc::new(ChartLibrary::new(ChartSettings {
            index_ttl,
            disk_dir: Some(dir.path().join("chart-cache")),
            credentials,
            ..ChartSettings::default()
        }));
        let api = ApiServer::start_with_charts(
            repo.to_str().unwrap(),
            &dir.path().join("api"),
            Arc::clone(&store),
            Arc::clone(&charts),
            github.as_ref().map(|g| g.url.as_str()),
        )
        .await;
        let f = Self {
            api,
            github,
            repo,
            served,
            charts,
            client: Client::new(),
            _dir: dir,
        };
        let (status, body) = f
            .call(
                Method::POST,
                "/v1/tenants",
                ADMIN,
                Some(json!({"name": "acme", "tier": "standard", "envs": ["dev"]})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        f
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        berth_tests::api_server::call_api(
            &self.client,
            &self.api.url,
            Some(token),
            method,
            path,
            body,
        )
        .await
    }

    async fn enable(&self, module: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::PUT,
            &format!("/v1/tenants/acme/envs/dev/modules/{module}"),
            OPERATOR,
            Some(body),
        )
        .await
    }

    fn module_file(&self, module: &str) -> Option<Value> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&self.repo)
            .args([
                "show",
                &format!("main:tenants/acme/dev/modules/{module}.yaml"),
            ])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| serde_yaml_ng::from_slice(&out.stdout).unwrap())
    }

    fn tip(&self) -> String {
        git(&self.repo, &["rev-parse", "main"]).trim().to_owned()
    }

    /// Archive reads the repository served: `.tgz` downloads, or redirected blob reads.
    fn archive_reads(&self) -> u64 {
        match &self.served {
            Served::Helm(helm) => helm.reads("archive"),
            Served::Oci(_, proxy) => proxy.reads("blob"),
            Served::Registry(_) => unimplemented!("docker-registry counts nothing"),
        }
    }

    /// Index reads: `index.yaml`, or tag lists and manifests.
    fn index_reads(&self) -> u64 {
        match &self.served {
            Served::Helm(helm) => helm.reads("index"),
            Served::Oci(_, proxy) => proxy.reads("tags") + proxy.reads("manifest"),
            Served::Registry(_) => unimplemented!("docker-registry counts nothing"),
        }
    }

    fn tamper(&self) {
        match &self.served {
            Served::Helm(helm) => helm.tamper(),
            Served::Oci(_, proxy) => proxy.tamper(),
            Served::Registry(_) => unimplemented!("docker-registry serves what it holds"),
        }
    }

    fn stop(&self) {
        match &self.served {
            Served::Helm(helm) => helm.stop(),
            Served::Oci(_, proxy) => proxy.stop(),
            Served::Registry(_) => unimplemented!("stop the proxy instead"),
        }
    }
}

const BOTH: [Kind; 2] = [Kind::Helm, Kind::Oci];

#[tokio::test]
async fn enabling_pins_the_default_or_the_asked_version_with_its_archive_digest() {
    for kind in BOTH {
        let f = Fixture::new(kind, Duration::from_secs(600)).await;
        let (status, body) = f.enable("pg-cluster", json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{kind:?}: {body}");
        let file = f.module_file("pg-cluster").unwrap();
        assert_eq!(file["module"]["chart"], "cluster", "{kind:?}");
        assert_eq!(
            file["module"]["chart_version"], "0.8.0",
            "{kind:?}: the default"
        );
        let pinned = file["module"]["chart_digest"].as_str().unwrap().to_owned();
        let packaged = std::fs::read(f._dir.path().join("packaged/cluster-0.8.0.tgz")).unwrap();
        assert_eq!(
            pinned,
            berth_charts::sha256_of(&packaged),
            "{kind:?}: the archive validated"
        );

        let (status, body) = f
            .enable(
                "pg-cluster",
                json!({"version": "0.8.1", "values": {"cluster": {"instances": 3}}}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{kind:?}: {body}");
        let file = f.module_file("pg-cluster").unwrap();
        assert_eq!(file["module"]["chart_version"], "0.8.1", "{kind:?}");
        assert_eq!(file["cluster"]["instances"], 3, "{kind:?}");
        let shipped =
            std::fs::read(berth_tests::chart_repos::fixture("cluster-0.8.1.tgz")).unwrap();
        assert_eq!(
            file["module"]["chart_digest"],
            berth_charts::sha256_of(&shipped),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn a_version_outside_the_range_or_unpublished_is_refused_naming_those_available() {
    for kind in BOTH {
        let f = Fixture::new(kind, Duration::from_secs(600)).await;
        let before = f.tip();
        for (version, says) in [("0.9.0", "outside"), ("0.8.7", "no version 0.8.7")] {
            let (status, body) = f.enable("pg-cluster", json!({"version": version})).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{kind:?} {version}: {body}"
            );
            assert_eq!(body["error"]["field"], "version", "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{kind:?}: {message}");
            assert!(
                message.contains("0.8.1, 0.8.0"),
                "{kind:?} names what is available: {message}"
            );
        }
        assert_eq!(f.tip(), before, "{kind:?}: nothing committed");
    }
}

#[tokio::test]
async fn values_the_charts_schema_refuses_are_named_by_path_subcharts_under_their_alias() {
    for kind in BOTH {
        let f = Fixture::new(kind, Duration::from_secs(600)).await;
        let (status, body) = f
            .enable(
                "pg-cluster",
                json!({"values": {"cluster": {"instances": "three"}}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{kind:?}: {body}");
        assert_eq!(
            body["error"]["field"], "values.cluster.instances",
            "{kind:?}: {body}"
        );
        // The dashboards subchart, aliased `monitoring`, is checked against its own schema
        // once its condition enables it (the parent's schema does not know `nameOverride`
        // there: only the subchart's refuses it).
        let (status, body) = f
            .enable(
                "cnpg",
                json!({"values": {"monitoring": {"grafanaDashboard": {"create": true}, "nameOverride": 7}}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{kind:?}: {body}");
        assert_eq!(
            body["error"]["field"], "values.monitoring.nameOverride",
            "{kind:?}: {body}"
        );
        assert!(f.module_file("pg-cluster").is_none() && f.module_file("cnpg").is_none());
        let (status, body) = f.enable("cnpg", json!({})).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "{kind:?}: its defaults pass: {body}"
        );
    }
}

#[tokio::test]
async fn an_archive_whose_digest_does_not_match_is_refused_and_nothing_is_written() {
    for kind in BOTH {
        let f = Fixture::new(kind, Duration::from_secs(600)).await;
        f.tamper();
        let before = f.tip();
        let (status, body) = f.enable("pg-cluster", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{kind:?}: {body}");
        assert_eq!(body["error"]["code"], "chart_invalid", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("does not match"),
            "{body}"
        );
        assert_eq!(f.tip(), before, "{kind:?}");
    }
}

#[tokio::test]
async fn a_repository_that_does_not_answer_is_503_with_retry_after_and_nothing_is_written() {
    for kind in BOTH {
        let f = Fixture::new(kind, Duration::from_secs(600)).await;
        f.stop();
        let before = f.tip();
        let response = f
            .client
            .put(format!(
                "{}/v1/tenants/acme/envs/dev/modules/pg-cluster",
                f.api.url
            ))
            .bearer_auth(OPERATOR)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{kind:?}"
        );
        assert!(response.headers().contains_key("retry-after"), "{kind:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "chart_repository_unavailable",
            "{body}"
        );
        assert_eq!(f.tip(), before, "{kind:?}");
        assert!(f.module_file("pg-cluster").is_none());
    }
}

#[tokio::test]
async fn a_warm_function_reads_only_the_index_or_manifest_and_within_the_ttl_nothing() {
    for kind in BOTH {
        // A TTL of zero: every request reads the index again, never the archive.
        let f = Fixture::new(kind, Duration::ZERO).await;
        let (status, body) = f.enable("pg-cluster", json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{kind:?}: {body}");
        let (index, archives) = (f.index_reads(), f.archive_reads());
        assert_eq!(archives, 1, "{kind:?}");
        // A version named again is resolved again: against an index read again.
        let (status, body) = f
            .enable(
                "pg-cluster",
                json!({"version": "0.8.0", "values": {"cluster": {"instances": 4}}}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{kind:?}: {body}");
        assert!(
            f.index_reads() > index,
            "{kind:?}: the index is read again after its TTL"
        );
        assert_eq!(f.archive_reads(), archives, "{kind:?}: the archive is not");

        // Within the TTL, nothing at all.
        let f = Fixture::new(kind, Duration::from_secs(600)).await;
        f.enable("pg-cluster", json!({})).await;
        let (index, archives) = (f.index_reads(), f.archive_reads());
        let (status, body) = f
            .enable(
                "pg-cluster",
                json!({"version": "0.8.0", "values": {"cluster": {"instances": 5}}}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{kind:?}: {body}");
        assert_eq!(
            (f.index_reads(), f.archive_reads()),
            (index, archives),
            "{kind:?}"
        );
        assert_eq!(f.charts.reads(ReadKind::Archive), 1, "{kind:?}");
    }
}

#[tokio::test]
async fn the_catalog_shows_each_charts_range_default_newest_and_check_beside_in_repo_modules() {
    for kind in BOTH {
        let f = Fixture::new(kind, Duration::from_secs(600)).await;
        let (status, body) = f.call(Method::GET, "/v1/catalog", OPERATOR, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let modules = body["catalog"]["modules"].as_array().unwrap();
        let pg = modules.iter().find(|m| m["name"] == "pg-cluster").unwrap();
        assert_eq!(pg["chart"]["versions"], "~0.8");
        assert_eq!(pg["chart"]["default"], "0.8.0");
        assert_eq!(pg["chart"]["newest_in_range"], "0.8.1", "{kind:?}: {pg}");
        assert_eq!(
            pg["chart"]["values_check"], "chart_schema",
            "{kind:?}: {pg}"
        );
        let postgres = modules.iter().find(|m| m["name"] == "postgres").unwrap();
        assert!(
            postgres.get("chart").is_none(),
            "an in-repo module: {postgres}"
        );
        // The in-repo module and the upstream one side by side in one tenant.
        let (status, body) = f.enable("postgres", json!({"version": "16.2"})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let (status, body) = f.enable("pg-cluster", json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let postgres = f.module_file("postgres").unwrap();
        assert!(postgres["module"].get("chart").is_none(), "{postgres}");
        assert_eq!(postgres["module"]["version"], "16.2");
    }
}

/// The real upstream archives, read as Berth reads them: their schemas accept their own
/// defaults, refuse a wrong type, and check the aliased subchart only when it is enabled.
#[test]
fn real_upstream_schemas_accept_their_defaults_and_refuse_a_wrong_type() {
    use berth_core::schema::ChartSchema;
    let read = |name: &str| {
        let bytes = std::fs::read(berth_tests::chart_repos::fixture(name)).unwrap();
        berth_charts::archive::read_chart(&bytes).unwrap()
    };
    let none = berth_core::RepoFiles::new();
    let paths = |content: &berth_core::upstream::ChartContent, values: Value| -> Vec<String> {
        ChartSchema::for_upstream(content, &none, "m", "standard", None)
            .unwrap()
            .violations(&values)
            .into_iter()
            .map(|v| v.path)
            .collect()
    };
    let cluster = read("cluster-0.8.1.tgz");
    assert!(paths(&cluster, json!({})).is_empty());
    assert_eq!(
        paths(&cluster, json!({"cluster": {"instances": "three"}})),
        ["cluster.instances"]
    );
    let operator = read("cloudnative-pg-0.29.0.tgz");
    assert_eq!(operator.subcharts[0].key, "monitoring");
    assert!(paths(&operator, json!({})).is_empty());
    assert_eq!(
        paths(&operator, json!({"replicaCount": "two"})),
        ["replicaCount"]
    );
    let dashboards = |create: bool| json!({"monitoring": {"grafanaDashboard": {"create": create}, "nameOverride": 7}});
    assert!(
        paths(&operator, dashboards(false)).is_empty(),
        "disabled: not checked"
    );
    assert_eq!(
        paths(&operator, dashboards(true)),
        ["monitoring.nameOverride"]
    );
}

/// The repository fails the first try (503, nothing written); the caller's retry under the same
/// `Idempotency-Key` lands once the repository is back, in one commit.
#[tokio::test]
async fn a_retry_after_the_repository_failed_lands_once() {
    let f = Fixture::new(Kind::Helm, Duration::from_secs(600)).await;
    let Served::Helm(helm) = &f.served else {
        unreachable!()
    };
    let before = f.tip();
    let send = || {
        f.client
            .put(format!(
                "{}/v1/tenants/acme/envs/dev/modules/pg-cluster",
                f.api.url
            ))
            .bearer_auth(OPERATOR)
            .header("Idempotency-Key", "enable-pg-once")
            .json(&json!({"version": "0.8.1"}))
            .send()
    };
    helm.fail(true);
    let first = send().await.unwrap();
    let status = first.status();
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        first.text().await
    );
    assert_eq!(f.tip(), before, "nothing written");
    helm.fail(false);
    let again = send().await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::ACCEPTED,
        "{:?}",
        again.text().await
    );
    let third = send().await.unwrap();
    assert_eq!(third.status(), StatusCode::ACCEPTED);
    assert_eq!(third.headers()["idempotent-replayed"], "true");
    assert_eq!(
        git(
            &f.repo,
            &["rev-list", "--count", &format!("{before}..main")]
        )
        .trim(),
        "1"
    );
    assert_eq!(
        f.module_file("pg-cluster").unwrap()["module"]["chart_version"],
        "0.8.1"
    );
}

/// A cold process (a new Lambda sandbox reusing `/tmp`) finds the archive on disk by its
/// digest: it reads the index, never the archive.
#[tokio::test]
async fn a_cold_process_reads_a_seen_archive_from_disk() {
    let f = Fixture::new(Kind::Helm, Duration::from_secs(600)).await;
    let (status, body) = f.enable("pg-cluster", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let archives = f.archive_reads();
    let cold = Arc::new(ChartLibrary::new(ChartSettings {
        disk_dir: Some(f._dir.path().join("chart-cache")),
        ..ChartSettings::default()
    }));
    let api = ApiServer::start_with_charts(
        f.repo.to_str().unwrap(),
        &f._dir.path().join("api-cold"),
        Arc::new(dynamo_store().await),
        Arc::clone(&cold),
        None,
    )
    .await;
    let (status, body) = berth_tests::api_server::call_api(
        &f.client,
        &api.url,
        Some(OPERATOR),
        Method::PUT,
        "/v1/tenants/acme/envs/dev/modules/pg-cluster",
        Some(json!({"version": "0.8.0", "values": {"cluster": {"instances": 4}}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        f.archive_reads(),
        archives,
        "read from disk, not downloaded"
    );
    assert_eq!(cold.reads(ReadKind::Index), 1);
}

/// Pull-request mode (planned on its own, not in a group commit) pins the chart on its branch.
#[tokio::test]
async fn pull_request_mode_pins_the_chart_on_its_branch() {
    for kind in BOTH {
        let f = Fixture::new(kind, Duration::from_secs(600)).await;
        let before = f.tip();
        let (status, body) = f
            .call(
                Method::PUT,
                "/v1/tenants/acme/envs/dev/modules/pg-cluster?mode=pr",
                OPERATOR,
                Some(json!({"version": "0.8.1"})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{kind:?}: {body}");
        assert_eq!(f.tip(), before, "{kind:?}: main is left alone");
        let branch = body["branch"].as_str().unwrap_or_else(|| panic!("{body}"));
        let file = git(
            &f.repo,
            &[
                "show",
                &format!("{branch}:tenants/acme/dev/modules/pg-cluster.yaml"),
            ],
        );
        assert!(file.contains("chart_version: 0.8.1"), "{kind:?}: {file}");
    }
}

/// A tenant created with the upstream module gets it at the catalog's default, pinned.
#[tokio::test]
async fn a_tenant_created_with_the_module_gets_its_default_pinned() {
    for kind in BOTH {
        let f = Fixture::new(kind, Duration::from_secs(600)).await;
        let (status, body) = f
            .call(
                Method::POST,
                "/v1/tenants",
                ADMIN,
                Some(json!({"name": "globex", "tier": "standard", "envs": ["dev"], "modules": ["pg-cluster"]})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{kind:?}: {body}");
        let file = git(
            &f.repo,
            &["show", "main:tenants/globex/dev/modules/pg-cluster.yaml"],
        );
        assert!(file.contains("chart_version: 0.8.0"), "{kind:?}: {file}");
        assert!(file.contains("chart_digest: sha256:"), "{kind:?}: {file}");
    }
}

/// Straight to docker-registry: its own `Basic` challenge is answered with the configured
/// credential; without one the request is refused, naming where credentials go, and nothing
/// in the answer repeats a password.
#[tokio::test]
async fn the_registrys_basic_auth_takes_the_configured_credential() {
    let f = Fixture::new(Kind::Registry(true), Duration::from_secs(600)).await;
    let (status, body) = f.enable("pg-cluster", json!({"version": "0.8.1"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(f.module_file("pg-cluster").unwrap()["module"]["chart_digest"].is_string());

    let f = Fixture::new(Kind::Registry(false), Duration::from_secs(600)).await;
    let before = f.tip();
    let (status, body) = f.enable("pg-cluster", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("BERTH_CHART_CREDENTIALS"), "{message}");
    assert!(!body.to_string().contains(REGISTRY_PASSWORD));
    assert_eq!(f.tip(), before);
}

/// A person's pull request editing an upstream module's file is reviewed against the chart
/// the file pins (read from the repository for the review): a wrong type fails naming the
/// field, a pin outside the catalog's range fails naming `module.chart_version`.
#[tokio::test]
async fn a_pull_request_is_reviewed_against_the_chart_its_files_pin() {
    let f = Fixture::with_github(Kind::Helm).await;
    let (status, body) = f.enable("pg-cluster", json!({"version": "0.8.1"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let path = "tenants/acme/dev/modules/pg-cluster.yaml";
    let shipped = git(&f.repo, &["show", &format!("main:{path}")]);
    let work = f._dir.path().join("person");
    let cloned = std::process::Command::new("git")
        .args([
            "clone",
            "--quiet",
            f.repo.to_str().unwrap(),
            work.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(cloned.success());
    let push = |number: u32, contents: String| {
        std::fs::write(work.join(path), contents).unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .current_dir(&work)
                .args([
                    "-c",
                    "user.name=Person",
                    "-c",
                    "user.email=person@example.test",
                ])
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["commit", "--quiet", "-am", "hand edit"]);
        run(&[
            "push",
            "--quiet",
            "origin",
            &format!("+HEAD:refs/pull/{number}/head"),
        ]);
        git(&f.repo, &["rev-parse", &format!("refs/pull/{number}/head")])
            .trim()
            .to_owned()
    };
    let (client, api) = (&f.client, f.api.url.as_str());
    let review = |number: u32, sha: String| async move {
        let payload = json!({"action": "opened", "number": number,
            "pull_request": {"number": number, "head": {"sha": sha, "ref": "person/edit"}, "html_url": format!("https://github.test/o/r/pull/{number}")},
            "repository": {"full_name": "platform/tenants"}});
        let (_, answer) = berth_tests::api_server::deliver_github_event(
            client,
            api,
            "pull_request",
            &format!("d-{number}"),
            &payload,
        )
        .await;
        answer["review"].clone()
    };
    let fields = |review: &Value| -> Vec<String> {
        review["problems"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        format!(
                            "{} {}",
                            p["path"].as_str().unwrap(),
                            p["field"].as_str().unwrap()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };

    let verdict = review(
        7,
        push(7, format!("{shipped}cluster:\n  instances: many\n")),
    )
    .await;
    assert_eq!(verdict["state"], "failure", "{verdict}");
    assert!(
        fields(&verdict).contains(&format!("{path} cluster.instances")),
        "{verdict}"
    );

    let outside = shipped.replace("chart_version: 0.8.1", "chart_version: 0.9.0");
    let verdict = review(8, push(8, outside)).await;
    assert!(
        fields(&verdict).contains(&format!("{path} module.chart_version")),
        "{verdict}"
    );

    let fine = format!("{shipped}cluster:\n  instances: 5\n");
    let verdict = review(9, push(9, fine)).await;
    assert_eq!(verdict["state"], "success", "{verdict}");
    assert_eq!(f.github.as_ref().unwrap().statuses().len(), 3);
}
