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
    /// `prod-eu-2`, kept for premium tenants: what moves go to.
    eu2: KubeServer,
    /// The token `PROD_US_TOKEN` holds in the status function's environment: rotated by a test.
    us_token: Arc<std::sync::Mutex<String>>,
    client: Client,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// Two prod clusters taking two tenant-envs each, a third kept for premium tenants, and
    /// one dev cluster (the hub).
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (hub, eu, us) = (
            KubeServer::start().await,
            KubeServer::start().await,
            KubeServer::start().await,
        );
        let eu2 = KubeServer::start().await;
        eu2.require_token(EU_TOKEN);
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
  - name: prod-eu-2
    environments: [prod]
    labels: {{region: eu, dedicated: premium}}
    capacity: 2
    access: {{server: {eu2}, token_env: PROD_EU_TOKEN}}
",
            hub = hub.url,
            eu = eu.url,
            us = us.url,
            eu2 = eu2.url
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
            eu2,
            us_token: Arc::new(std::sync::Mutex::new(US_TOKEN.to_owned())),
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
        let us_token = Arc::clone(&self.us_token);
        let environment: Environment = Arc::new(move |name| match name {
            "HUB_TOKEN" => Some(HUB_TOKEN.to_owned()),
            "PROD_EU_TOKEN" => Some(EU_TOKEN.to_owned()),
            "PROD_US_TOKEN" => us_token.lock().ok().map(|t| t.clone()),
            _ => None,
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

    /// The Applications of `tenant`'s `env` with `modules` on `cluster`, on the hub, at
    /// `revision` with `health`.
    fn applications(
        &self,
        tenant: &str,
        env: &str,
        modules: &[&str],
        cluster: &str,
        health: &str,
        revision: &str,
    ) {
        let parts = std::iter::once(None).chain(modules.iter().map(|m| Some(*m)));
        for module in parts {
            let mut app = berth_tests::fleet::application(tenant, env, module, revision, health);
            let suffix = module.map(|m| format!("-{m}")).unwrap_or_default();
            app["metadata"]["name"] = json!(format!("{tenant}-{env}-{cluster}{suffix}"));
            app["metadata"]["labels"]["berth.dev/cluster"] = json!(cluster);
            app["spec"]["destination"]["name"] = json!(cluster);
            self.hub.replace(APPLICATIONS, app);
        }
    }

    /// The commits on main whose message carries `Berth-Action: <action>`.
    fn commits_of(&self, action: &str) -> usize {
        git(
            &self.repo,
            &[
                "log",
                "--format=%H",
                &format!("--grep=Berth-Action: {action}"),
                "main",
            ],
        )
        .lines()
        .count()
    }

    fn placement(&self, tenant: &str, env: &str) -> Value {
        let base: Value =
            serde_yaml_ng::from_str(&self.show(&format!("tenants/{tenant}/{env}/base.yaml")))
                .unwrap();
        base["placement"].clone()
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

    // prod-us's token is rotated: the server takes only the new one, the function's environment
    // holds it, and the next sweep of the same process reads prod-us with it.
    let rotated = "prod-us-rotated-token-0123456789";
    f.us.require_token(rotated);
    *f.us_token.lock().unwrap() = rotated.to_owned();
    sweeper.sweep().await.unwrap();
    assert_eq!(
        f.status("bravo", "prod").await.0,
        "healthy",
        "read with the rotated token"
    );

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_runs_on_both_clusters_until_the_new_one_is_ready_then_leaves_the_old() {
    let f = Fixture::new().await;
    let modules = ["monitoring", "postgres"];
    let (status, answer) = f
        .create(json!({"name": "acme", "tier": "standard", "envs": ["prod"], "modules": modules, "constraints": {"region": "eu"}}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(f.cluster_of("acme", "prod"), "prod-eu");
    let created = f.tip();
    f.applications("acme", "prod", &modules, "prod-eu", "Healthy", &created);

    // postgres keeps data: without confirm nothing is committed; an operator may not move.
    let path = "/v1/tenants/acme/envs/prod/move";
    let body = json!({"to": "prod-eu-2"});
    let (status, answer) = f.call(Method::POST, path, ADMIN, Some(body.clone())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "confirm");
    let (status, answer) = f
        .call(
            Method::POST,
            &format!("{path}?confirm=acme"),
            OPERATOR,
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(f.tip(), created);

    // Phase 1: both clusters. Its answer says postgres's data is not copied; a retry of the
    // same call is answered the same, and commits nothing more.
    let send = || {
        f.client
            .post(format!("{}{path}?confirm=acme", f.api.url))
            .bearer_auth(ADMIN)
            .header("idempotency-key", "move-acme-prod")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["action"], "move_env");
    let notice = first["notice"].as_str().unwrap_or_default();
    assert!(
        notice.contains("postgres")
            && notice.contains("prod-eu-2")
            && !notice.contains("monitoring"),
        "{notice}"
    );
    let phase1 = f.tip();
    assert_eq!(
        f.placement("acme", "prod"),
        json!({"cluster": "prod-eu", "moving_to": "prod-eu-2"})
    );
    assert!(
        f.show("tenants/acme/prod/modules/postgres.yaml")
            .contains("moving_to: prod-eu-2")
    );
    let (_, shown) = f
        .call(Method::GET, "/v1/tenants/acme", OPERATOR, None)
        .await;
    assert_eq!(
        (
            &shown["envs"]["prod"]["cluster"],
            &shown["envs"]["prod"]["moving_to"]
        ),
        (&json!("prod-eu"), &json!("prod-eu-2")),
        "{shown}"
    );
    let again: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(f.tip(), phase1, "committed once");

    // Phase 2: the new cluster's Applications are still progressing; the old ones are fine.
    f.applications("acme", "prod", &modules, "prod-eu", "Healthy", &phase1);
    f.applications(
        "acme",
        "prod",
        &modules,
        "prod-eu-2",
        "Progressing",
        &phase1,
    );
    let report = f.sweeper().await.sweep().await.unwrap();
    assert_eq!(report.moves_finished, 0);
    assert_eq!(
        f.tip(),
        phase1,
        "no last phase before the new cluster is ready"
    );

    // Ready at the phase-1 commit: a new sweeper (the one before may have died anywhere) ends
    // the move, once.
    f.applications("acme", "prod", &modules, "prod-eu-2", "Healthy", &phase1);
    let report = f.sweeper().await.sweep().await.unwrap();
    assert_eq!(report.moves_finished, 1);
    assert!(
        f.eu2.calls(DEPLOYMENTS) > 0,
        "the new cluster's workloads are read"
    );
    assert_eq!(f.placement("acme", "prod"), json!({"cluster": "prod-eu-2"}));
    assert!(
        !f.show("tenants/acme/prod/modules/postgres.yaml")
            .contains("prod-eu\n")
    );
    for _ in 0..2 {
        let report = f.sweeper().await.sweep().await.unwrap();
        assert_eq!(report.moves_finished, 0);
    }
    assert_eq!(
        (f.commits_of("move_env"), f.commits_of("finish_move")),
        (1, 1),
        "no phase committed twice"
    );
    let (status, listed) = f.call(Method::GET, "/v1/clusters", OPERATOR, None).await;
    assert_eq!(status, StatusCode::OK);
    let placed = |name: &str| {
        listed["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["placed"]
            .clone()
    };
    assert_eq!(
        (placed("prod-eu"), placed("prod-eu-2")),
        (json!(0), json!(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_is_aborted_before_its_last_phase_and_the_old_cluster_alone_remains() {
    let f = Fixture::new().await;
    let (status, answer) = f
        .create(json!({"name": "bravo", "tier": "standard", "envs": ["prod"], "constraints": {"region": "us"}}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let path = "/v1/tenants/bravo/envs/prod/move";
    let (status, answer) = f
        .call(Method::POST, path, ADMIN, Some(json!({"to": "prod-eu-2"})))
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "no stateful module, no confirm: {answer}"
    );
    assert!(answer.get("notice").is_none(), "{answer}");
    assert_eq!(
        f.placement("bravo", "prod"),
        json!({"cluster": "prod-us", "moving_to": "prod-eu-2"})
    );
    let (status, answer) = f
        .call(Method::POST, path, ADMIN, Some(json!({"to": "prod-eu"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "one move at a time: {answer}");

    let (status, answer) = f.call(Method::DELETE, path, OPERATOR, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["action"], "abort_move");
    assert_eq!(f.placement("bravo", "prod"), json!({"cluster": "prod-us"}));
    let (status, answer) = f.call(Method::DELETE, path, OPERATOR, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["field"], "env");

    // An aborted move is not finished by a sweep, however ready its new cluster looked.
    let tip = f.tip();
    f.applications("bravo", "prod", &[], "prod-eu-2", "Healthy", &tip);
    assert_eq!(f.sweeper().await.sweep().await.unwrap().moves_finished, 0);
    assert_eq!(f.tip(), tip);
}
