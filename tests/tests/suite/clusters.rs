//! Many clusters end to end: a catalog with `prod-eu` and `prod-us`, each a Kubernetes API test
//! server of its own beside the hub's (where Argo CD's Applications are). Tenants are placed by
//! the API, by region and by load; a full region is a conflict with nothing committed; the
//! status sweep reads every cluster, and one that stops costs only its own tenant-envs.

use std::path::PathBuf;
use std::sync::Arc;

use berth_status::Sweeper;
use berth_status::fleet::Environment;
use berth_store::prelude::*;
use berth_tests::api_server::{ADMIN, ApiServer, OPERATOR};
use berth_tests::fleet::{APPLICATIONS, DEPLOYMENTS, deployment};
use berth_tests::kube_server::KubeServer;
use berth_tests::{dynamo_store, git};
use berth_usecases::App;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const HUB_TOKEN: &str = "hub-test-token-0123456789";
const EU_TOKEN: &str = "prod-eu-test-token-0123456789";
const US_TOKEN: &str = "prod-us-test-token-0123456789";

struct Fixture {
    api: ApiServer,
    repo: PathBuf,
    store: Arc<dyn Store>,
    hub: KubeServer,
    eu: KubeServer,
    us: KubeServer,
    client: Client,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// Two prod clusters taking two tenant-envs each, and one dev cluster.
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (hub, eu, us) = (
            KubeServer::start().await,
            KubeServer::start().await,
            KubeServer::start().await,
        );
        hub.require_token(HUB_TOKEN);
        eu.require_token(EU_TOKEN);
        us.require_token(US_TOKEN);
        let clusters = format!(
            "clusters:
  - name: dev-1
    environments: [dev]
    labels: {{region: eu}}
    capacity: 100
    access: {{server: {hub}, token_env: HUB_TOKEN}}
  - name: prod-eu
    environments: [prod]
    labels: {{region: eu}}
    capacity: 2
    access: {{server: {eu}, token_env: PROD_EU_TOKEN}}
  - name: prod-us
    environments: [prod]
    labels: {{region: us}}
    capacity: 2
    access: {{server: {us}, token_env: PROD_US_TOKEN}}
",
            hub = hub.url,
            eu = eu.url,
            us = us.url
        );
        let mut files = berth_tests::git::project_charts_and_catalog();
        files
            .get_mut("tenants/catalog.yaml")
            .unwrap()
            .extend_from_slice(clusters.as_bytes());
        let repo = dir.path().join("origin.git");
        berth_gitops::seed_bare_repository(&repo, "main", &files, "Seed").unwrap();
        let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
        let api = ApiServer::start(
            repo.to_str().unwrap(),
            &dir.path().join("api"),
            Arc::clone(&store),
        )
        .await;
        Self {
            api,
            repo,
            store,
            hub,
            eu,
            us,
            client: Client::new(),
            dir,
        }
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

    async fn create(&self, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/v1/tenants", ADMIN, Some(body))
            .await
    }

    fn show(&self, path: &str) -> String {
        git(&self.repo, &["show", &format!("main:{path}")])
    }

    fn cluster_of(&self, tenant: &str, env: &str) -> String {
        let base: Value =
            serde_yaml_ng::from_str(&self.show(&format!("tenants/{tenant}/{env}/base.yaml")))
                .unwrap();
        base["placement"]["cluster"].as_str().unwrap().to_owned()
    }

    fn tip(&self) -> String {
        git(&self.repo, &["rev-parse", "main"]).trim().to_owned()
    }

    async fn sweeper(&self) -> Sweeper {
        let committer = berth_tests::backend::committer(
            self.repo.to_str().unwrap(),
            &self.dir.path().join("sweep"),
        )
        .await;
        let environment: Environment = Arc::new(|name| {
            let token = match name {
                "HUB_TOKEN" => HUB_TOKEN,
                "PROD_EU_TOKEN" => EU_TOKEN,
                "PROD_US_TOKEN" => US_TOKEN,
                _ => return None,
            };
            Some(token.to_owned())
        });
        Sweeper::new(
            App::new(committer, Arc::clone(&self.store)),
            Some(berth_tests::kube_server::connector(
                &self.hub.url,
                HUB_TOKEN,
            )),
        )
        .with_environment(environment)
    }

    /// What Argo CD and the cluster run for a placed tenant-env with monitoring: its two
    /// Applications on the hub (named and labelled as the ApplicationSets do), monitoring's
    /// Deployment on `cluster`.
    fn run(&self, tenant: &str, env: &str, cluster: &KubeServer, cluster_name: &str, ready: i32) {
        let revision = self.tip();
        for module in [None, Some("monitoring")] {
            let mut app =
                berth_tests::fleet::application(tenant, env, module, &revision, "Healthy");
            let suffix = module.map(|m| format!("-{m}")).unwrap_or_default();
            app["metadata"]["name"] = json!(format!("{tenant}-{env}-{cluster_name}{suffix}"));
            app["metadata"]["labels"]["berth.dev/cluster"] = json!(cluster_name);
            app["spec"]["destination"]["name"] = json!(cluster_name);
            self.hub.replace(APPLICATIONS, app);
        }
        cluster.replace(DEPLOYMENTS, deployment(tenant, env, "monitoring", 2, ready));
    }

    /// The status of `tenant`'s monitoring in `env`: its health and why.
    async fn status(&self, tenant: &str, env: &str) -> (String, String) {
        let record = self
            .store
            .list_statuses(tenant)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.env == env && r.module.as_deref() == Some("monitoring"))
            .unwrap_or_else(|| panic!("a status for {tenant}/{env}"));
        (record.health, record.reason.unwrap_or_default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_placed_by_region_then_load_and_a_full_region_commits_nothing() {
    let f = Fixture::new().await;
    let (status, answer) = f
        .create(json!({"name": "acme", "tier": "standard", "envs": ["dev", "prod"], "constraints": {"region": "eu"}}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(
        (f.cluster_of("acme", "dev"), f.cluster_of("acme", "prod")),
        ("dev-1".into(), "prod-eu".into())
    );
    assert!(
        f.show("tenants/acme/tenant.yaml")
            .contains("constraints:\n  region: eu\n")
    );

    // No constraint: the least loaded, prod-us (0/2) before prod-eu (1/2).
    for (name, expected) in [
        ("bravo", "prod-us"),
        ("charlie", "prod-eu"),
        ("delta", "prod-us"),
    ] {
        let (status, answer) = f
            .create(json!({"name": name, "tier": "standard", "envs": ["prod"]}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(f.cluster_of(name, "prod"), expected, "{name}");
    }

    // Both regions are full: a conflict naming the env, the constraint and the clusters.
    let before = f.tip();
    let (status, answer) = f
        .create(json!({"name": "echo", "tier": "standard", "envs": ["prod"], "constraints": {"region": "eu"}}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["field"], "envs[0]");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("environment prod")
            && message.contains("region=eu")
            && message.contains("prod-eu (2/2)"),
        "{message}"
    );
    assert_eq!(f.tip(), before, "nothing committed");

    // Only an admin may choose the cluster.
    let (status, answer) = f
        .call(
            Method::POST,
            "/v1/tenants",
            OPERATOR,
            Some(json!({"name": "foxtrot", "tier": "standard", "envs": ["dev"], "clusters": {"dev": "dev-1"}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["field"], "clusters");
    assert_eq!(f.tip(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_read_from_every_cluster_and_a_stopped_one_costs_only_its_own_tenants() {
    let f = Fixture::new().await;
    for (name, region) in [("acme", "eu"), ("bravo", "us")] {
        let (status, answer) = f
            .create(json!({"name": name, "tier": "standard", "envs": ["prod"], "modules": ["monitoring"], "constraints": {"region": region}}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    f.run("acme", "prod", &f.eu, "prod-eu", 2);
    f.run("bravo", "prod", &f.us, "prod-us", 2);
    let sweeper = f.sweeper().await;
    let report = sweeper.sweep().await.unwrap();
    assert_eq!(report.cluster, "ok");
    assert_eq!(f.status("acme", "prod").await.0, "healthy");
    assert_eq!(f.status("bravo", "prod").await.0, "healthy");
    assert!(
        f.eu.calls(DEPLOYMENTS) > 0 && f.us.calls(DEPLOYMENTS) > 0,
        "both clusters read"
    );
    assert_eq!(
        f.eu.calls(APPLICATIONS),
        0,
        "Applications are read on the hub only"
    );

    let (status, listed) = f.call(Method::GET, "/v1/clusters", OPERATOR, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let clusters = listed["clusters"].as_array().unwrap();
    let view = |name: &str| clusters.iter().find(|c| c["name"] == name).unwrap().clone();
    assert_eq!(view("prod-eu")["reachable"], true);
    assert_eq!(view("prod-eu")["placed"], 1);
    assert_eq!(view("prod-eu")["capacity"], 2);
    assert_eq!(view("prod-us")["labels"]["region"], "us");
    assert!(view("prod-us")["version"].is_string());

    // prod-us stops; prod-eu's workload loses a replica. The next sweep reads what it can.
    f.us.stop();
    f.run("acme", "prod", &f.eu, "prod-eu", 1);
    sweeper.sweep().await.unwrap();
    let (health, _) = f.status("acme", "prod").await;
    assert_eq!(health, "progressing", "prod-eu is still read");
    let (health, reason) = f.status("bravo", "prod").await;
    assert_eq!(health, "unknown");
    assert!(
        reason.contains("cluster prod-us could not be read"),
        "{reason}"
    );

    let (_, listed) = f.call(Method::GET, "/v1/clusters", OPERATOR, None).await;
    let down = listed["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "prod-us")
        .unwrap()
        .clone();
    assert_eq!(down["reachable"], false);
    assert!(
        down["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{down}"
    );
    let (status, health) = f
        .call(Method::GET, "/v1/cluster/health", OPERATOR, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["unreachable"], json!(["prod-us"]));
}
