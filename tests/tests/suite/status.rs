//! The status sweep end to end: desired state from a real bare repository, the cluster from the
//! Kubernetes API test server (with a bearer token, as the status Lambda reaches EKS), the store
//! on moto's DynamoDB server, the API answering from the store.

use std::sync::Arc;
use std::time::Duration;

use berth_cluster::ClusterConnector;
use berth_gitops::Committer;
use berth_status::Sweeper;
use berth_store::{BillingLink, RequestRecord, RequestState, ScheduledChange, Store};
use berth_tests::api_server::{ADMIN, ApiServer, call_api};
use berth_tests::fleet::{self, Fleet};
use berth_tests::kube_server::KubeServer;
use berth_tests::{dynamo_store, free_port, git, seed_repo};
use berth_usecases::App;
use reqwest::StatusCode;
use serde_json::{Value, json};

const KUBE_TOKEN: &str = "kube-test-token-0123456789";

async fn committer(remote: &str, work: &std::path::Path) -> Arc<dyn Committer> {
    berth_tests::backend::committer(remote, work).await
}

fn connector(server_url: &str) -> Arc<ClusterConnector> {
    berth_tests::kube_server::connector(server_url, KUBE_TOKEN)
}

async fn sweeper(
    remote: &str,
    work: &std::path::Path,
    store: Arc<dyn Store>,
    kube: Option<&str>,
) -> Sweeper {
    let services = App::new(committer(remote, work).await, store);
    Sweeper::new(services, kube.map(connector)).with_page_size(500)
}

fn pages(objects: usize) -> usize {
    objects.div_ceil(500)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_over_200_tenants_lists_each_kind_once_per_page_and_rewrites_only_changes() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = Fleet {
        tenants: 200,
        envs: vec!["dev", "staging", "prod"],
        modules: vec!["postgres", "vault", "monitoring"],
    };
    let fleet::RunningFleet {
        repo,
        revision,
        kube,
    } = fleet.run(dir.path(), KUBE_TOKEN).await;
    let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
    let sweeper = sweeper(
        repo.to_str().unwrap(),
        &dir.path().join("work"),
        Arc::clone(&store),
        Some(&kube.url),
    )
    .await;

    let first = sweeper.sweep().await.unwrap();
    assert_eq!(first.cluster, "ok");
    assert_eq!((first.tenants, first.slots), (200, 200 * 3 * 4));
    let expected_calls = [
        (fleet::APPLICATIONS, pages(200 * 3 * 4)),
        (fleet::DEPLOYMENTS, pages(200 * 3 * 2)),
        (fleet::STATEFULSETS, pages(200 * 3)),
        (fleet::INGRESSES, pages(200 * 3)),
    ];
    for (path, calls) in expected_calls {
        assert_eq!(
            kube.calls(path),
            calls,
            "{path}: one list per page, never per tenant"
        );
    }
    assert_eq!(
        first.kube_calls as usize,
        expected_calls.iter().map(|(_, c)| c).sum::<usize>()
    );
    assert_eq!(
        first.writes,
        200 * 3 * 4 + 200 + 1,
        "every status, every tenant's health, the cluster's"
    );

    let statuses = store.list_statuses("t00007").await.unwrap();
    assert_eq!(statuses.len(), 12);
    for s in &statuses {
        assert_eq!(s.health, "healthy", "{s:?}");
        assert_eq!(
            (s.sync.as_deref(), s.revision.as_deref()),
            (Some("Synced"), Some(revision.as_str()))
        );
    }
    let slot = |env: &str, module: &str| {
        statuses
            .iter()
            .find(|s| s.env == env && s.module.as_deref() == Some(module))
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            slot("dev", "postgres").ready,
            slot("dev", "postgres").desired
        ),
        (1, 1)
    );
    assert_eq!(
        (slot("prod", "vault").ready, slot("prod", "vault").desired),
        (2, 2)
    );
    assert_eq!(
        slot("staging", "monitoring").urls,
        ["https://monitoring.t00007-staging.apps.example.com"]
    );

    // Nothing changed: nothing written; the items keep the time they were first observed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = sweeper.sweep().await.unwrap();
    assert_eq!((second.writes, second.removes), (0, 0));
    assert_eq!(store.list_statuses("t00007").await.unwrap(), statuses);

    // One Deployment scales up, healthy still: exactly one item changes.
    kube.replace(
        fleet::DEPLOYMENTS,
        fleet::deployment("t00042", "prod", "vault", 3, 3),
    );
    let third = sweeper.sweep().await.unwrap();
    assert_eq!((third.writes, third.removes), (1, 0));
    let vault = store
        .list_statuses("t00042")
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.env == "prod" && s.module.as_deref() == Some("vault"))
        .unwrap();
    assert_eq!(
        (vault.health.as_str(), vault.ready, vault.desired),
        ("healthy", 3, 3)
    );

    // One loses a replica for good (past its progress deadline): its status and its tenant's
    // overall health change.
    let mut stuck = fleet::deployment("t00043", "dev", "vault", 2, 1);
    stuck["status"]["conditions"][0] =
        json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"});
    kube.replace(fleet::DEPLOYMENTS, stuck);
    // One module's objects vanish (missing); a tenant Git does not know runs (orphaned).
    kube.remove(fleet::APPLICATIONS, "argocd", "t00044-dev-monitoring");
    kube.remove(fleet::DEPLOYMENTS, "t00044-dev", "monitoring");
    kube.remove(fleet::INGRESSES, "t00044-dev", "monitoring");
    kube.add(
        fleet::APPLICATIONS,
        fleet::application("gone", "dev", None, &revision, "Healthy"),
    );
    let fourth = sweeper.sweep().await.unwrap();
    assert_eq!(fourth.writes, 2 + 2 + 2, "{fourth:?}");
    let health: std::collections::HashMap<String, String> = store
        .list_tenant_health()
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.tenant, h.health))
        .collect();
    assert_eq!(health["t00043"], "degraded");
    assert_eq!(health["t00044"], "missing");
    assert_eq!(health["gone"], "orphaned");
    assert_eq!(health["t00045"], "healthy");
    let degraded = store
        .list_statuses("t00043")
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.health == "degraded")
        .unwrap();
    assert_eq!(
        (
            degraded.env.as_str(),
            degraded.module.as_deref(),
            degraded.ready,
            degraded.desired
        ),
        ("dev", Some("vault"), 1, 2)
    );
    assert!(
        degraded
            .reason
            .unwrap()
            .contains("deployment/vault: progress deadline exceeded")
    );

    // The leftover goes from the cluster: its records go from the store.
    kube.remove(fleet::APPLICATIONS, "argocd", "gone-dev");
    let fifth = sweeper.sweep().await.unwrap();
    assert_eq!((fifth.writes, fifth.removes), (0, 2));
    assert!(store.list_statuses("gone").await.unwrap().is_empty());
}

/// The table a fleet has run on for a while: settled requests, idempotency claims and billing
/// customers beside the statuses, none of which a sweep needs.
async fn write_history(store: &dyn Store, requests: usize) {
    for i in 0..requests {
        let mut record = RequestRecord::new(
            &format!("01HIST{i:06}"),
            "enable_module",
            "api",
            "t00001",
            RequestState::Ready,
            "2026-10-01T00:00:00Z".into(),
        );
        record.commit = Some("0".repeat(40));
        store.put_request(&record).await.unwrap();
    }
    for i in 0..requests / 4 {
        let claim = berth_store::IdempotencyRecord {
            source: "api".into(),
            key: format!("key-{i}"),
            fingerprint: "f".into(),
            request_id: format!("01HIST{i:06}"),
            expires_at: i64::MAX / 2,
            lease_expires_at: 0,
            response: None,
        };
        store.claim_idempotency(&claim).await.unwrap();
        let customer = BillingLink {
            customer: format!("cus_{i}"),
            tenant: "t00001".into(),
            last_event_at: 1,
            registration: None,
            scheduled: None,
        };
        store.put_billing_unless_newer(&customer).await.unwrap();
    }
}

/// Family of the items a sweep returned from the table, without the ones it may read.
fn history_items(recorder: &berth_tests::dynamo_recorder::DynamoRecorder) -> Vec<(String, usize)> {
    recorder
        .items_returned()
        .into_iter()
        .filter(|(family, _)| ["REQUEST", "IDEMP", "CUSTOMER"].contains(&family.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_sweep_reads_statuses_only_and_a_warm_one_only_the_generation() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = Fleet {
        tenants: 20,
        envs: vec!["dev", "prod"],
        modules: vec!["postgres", "vault"],
    };
    let running = fleet.run(dir.path(), KUBE_TOKEN).await;
    let table = dynamo_store().await;
    let recorder = berth_tests::dynamo_recorder::DynamoRecorder::start().await;
    let store: Arc<dyn Store> = Arc::new(berth_store::DynamoStore::new(
        berth_store::dynamodb_client(Some(&recorder.url)),
        table.table(),
    ));
    write_history(store.as_ref(), 400).await;
    let remote = running.repo.to_str().unwrap();
    let first = sweeper(
        remote,
        &dir.path().join("a"),
        Arc::clone(&store),
        Some(&running.kube.url),
    )
    .await
    .sweep()
    .await
    .unwrap();
    assert_eq!(first.writes, first.slots + first.tenants + 1);

    // Another process, nothing in memory: it reads the digests from the index alone.
    let sweeper = sweeper(
        remote,
        &dir.path().join("b"),
        Arc::clone(&store),
        Some(&running.kube.url),
    )
    .await;
    recorder.reset();
    let cold = sweeper.sweep().await.unwrap();
    assert_eq!(
        (cold.writes, cold.removes, cold.digests_cached),
        (0, 0, false)
    );
    assert_eq!(
        history_items(&recorder),
        [],
        "{:?}",
        recorder.items_returned()
    );
    let statuses = first.slots + first.tenants;
    assert_eq!(recorder.items_returned().get("TENANT"), Some(&statuses));
    assert_eq!(
        recorder.items_scanned(),
        statuses,
        "no item examined beyond the statuses and healths: {:?}",
        recorder.calls()
    );
    assert!(
        !recorder.calls().contains_key("Scan"),
        "{:?}",
        recorder.calls()
    );

    // The same process again: one read of the generation confirms its digests.
    recorder.reset();
    let warm = sweeper.sweep().await.unwrap();
    assert_eq!(
        (warm.writes, warm.removes, warm.digests_cached),
        (0, 0, true)
    );
    assert_eq!(history_items(&recorder), []);
    assert_eq!(
        recorder.items_returned().get("TENANT"),
        None,
        "no digest read"
    );
    assert_eq!(recorder.items_returned().get("OBSERVATIONS"), Some(&1));
}

/// Five tenants running vault in prod: what two sweepers of one table are tried on.
fn vault_fleet() -> Fleet {
    Fleet {
        tenants: 5,
        envs: vec!["prod"],
        modules: vec!["vault"],
    }
}

/// The ready and desired replicas the store holds for `tenant`'s vault.
async fn vault_replicas(store: &dyn Store, tenant: &str) -> (u32, u32) {
    let statuses = store.list_statuses(tenant).await.unwrap();
    let vault = statuses
        .iter()
        .find(|s| s.module.as_deref() == Some("vault"))
        .unwrap();
    (vault.ready, vault.desired)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_sweeper_notices_what_another_sweeper_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let running = vault_fleet().run(dir.path(), KUBE_TOKEN).await;
    let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
    let remote = running.repo.to_str().unwrap();
    let kube = Some(running.kube.url.as_str());
    let a = sweeper(remote, &dir.path().join("a"), Arc::clone(&store), kube).await;
    let b = sweeper(remote, &dir.path().join("b"), Arc::clone(&store), kube).await;
    a.sweep().await.unwrap();
    let warm = a.sweep().await.unwrap();
    assert_eq!((warm.writes, warm.digests_cached), (0, true));

    // b sees a Deployment scaled up and records it; then it scales back.
    let vault = |replicas| fleet::deployment("t00001", "prod", "vault", replicas, replicas);
    running.kube.replace(fleet::DEPLOYMENTS, vault(3));
    assert_eq!(b.sweep().await.unwrap().writes, 1);
    running.kube.replace(fleet::DEPLOYMENTS, vault(2));

    // a's digests say 2 replicas, as the cluster does again; the store says 3. a must not
    // trust its memory: the generation moved.
    let noticed = a.sweep().await.unwrap();
    assert!(!noticed.digests_cached);
    assert_eq!(noticed.writes, 1, "the item b changed is set right");
    assert_eq!(vault_replicas(store.as_ref(), "t00001").await, (2, 2));
}

/// A sweeper that dies after writing its items and before marking the write finished leaves
/// the generation at a value no sweeper holds: a warm one reads the digests afresh rather than
/// trust memory that no longer matches the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cut_off_half_way_makes_warm_sweepers_read_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let running = vault_fleet().run(dir.path(), KUBE_TOKEN).await;
    let table = dynamo_store().await;
    let recorder = berth_tests::dynamo_recorder::DynamoRecorder::start().await;
    let cut_off: Arc<dyn Store> = Arc::new(berth_store::DynamoStore::new(
        berth_store::dynamodb_client(Some(&recorder.url)),
        table.table(),
    ));
    let store: Arc<dyn Store> = Arc::new(table);
    let remote = running.repo.to_str().unwrap();
    let kube = Some(running.kube.url.as_str());
    let a = sweeper(remote, &dir.path().join("a"), Arc::clone(&store), kube).await;
    let b = sweeper(remote, &dir.path().join("b"), cut_off, kube).await;
    a.sweep().await.unwrap();
    assert!(a.sweep().await.unwrap().digests_cached);

    // b reads the generation, marks it, writes the scaled-up Deployment's status, and is cut
    // off before its closing mark.
    let vault = |replicas| fleet::deployment("t00001", "prod", "vault", replicas, replicas);
    running.kube.replace(fleet::DEPLOYMENTS, vault(3));
    recorder.refuse_after("GENERATION", 2);
    assert!(b.sweep().await.is_err(), "the closing mark was refused");
    assert_eq!(vault_replicas(store.as_ref(), "t00001").await, (3, 3));

    // The Deployment scales back: what a's memory says again, not what the store says.
    running.kube.replace(fleet::DEPLOYMENTS, vault(2));
    let after = a.sweep().await.unwrap();
    assert!(!after.digests_cached, "the generation b left is no one's");
    assert_eq!(after.writes, 1);
    assert_eq!(vault_replicas(store.as_ref(), "t00001").await, (2, 2));
}

struct Api {
    server: ApiServer,
    client: reqwest::Client,
}

impl Api {
    /// The API over a fresh seeded bare repository and a fresh table on moto's server.
    async fn start() -> (tempfile::TempDir, std::path::PathBuf, Arc<dyn Store>, Self) {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), "origin");
        let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
        let remote = repo.to_str().unwrap();
        let server = ApiServer::start(remote, &dir.path().join("api"), Arc::clone(&store)).await;
        let api = Self {
            server,
            client: reqwest::Client::new(),
        };
        (dir, repo, store, api)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = &self.server.url;
        call_api(&self.client, url, Some(ADMIN), method, path, body).await
    }

    async fn create(&self, name: &str) -> RequestRecord {
        let body =
            json!({"name": name, "tier": "standard", "envs": ["dev"], "modules": ["postgres"]});
        let (status, record) = self
            .call(reqwest::Method::POST, "/v1/tenants", Some(body))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{record}");
        serde_json::from_value(record).unwrap()
    }

    async fn request_state(&self, id: &str) -> String {
        let (_, record) = self
            .call(reqwest::Method::GET, &format!("/v1/requests/{id}"), None)
            .await;
        record["state"].as_str().unwrap().to_owned()
    }
}

fn acme_objects(kube: &KubeServer, revision: &str, postgres_health: &str) {
    kube.replace(
        fleet::APPLICATIONS,
        fleet::application("acme", "dev", None, revision, "Healthy"),
    );
    kube.replace(
        fleet::APPLICATIONS,
        fleet::application("acme", "dev", Some("postgres"), revision, postgres_health),
    );
    kube.replace(
        fleet::STATEFULSETS,
        fleet::statefulset("acme", "dev", "postgres", 1, 1),
    );
}

#[tokio::test]
async fn a_request_goes_from_committed_to_synced_to_ready_as_argo_cd_catches_up() {
    let (dir, repo, store, api) = Api::start().await;
    let seed = git(&repo, &["rev-parse", "main"]).trim().to_owned();
    let kube = KubeServer::start().await;
    kube.require_token(KUBE_TOKEN);
    let sweeper = sweeper(
        repo.to_str().unwrap(),
        &dir.path().join("status"),
        Arc::clone(&store),
        Some(&kube.url),
    )
    .await;

    let acme = api.create("acme").await;
    assert_eq!(acme.state, RequestState::Committed);
    let commit = acme.commit.clone().unwrap();
    // A later commit on main, which contains acme's.
    let later = api.create("beta").await.commit.unwrap();
    assert_eq!(git(&repo, &["rev-parse", "main^"]).trim(), commit);

    // Argo CD still shows the revision before the request.
    acme_objects(&kube, &seed, "Healthy");
    sweeper.sweep().await.unwrap();
    assert_eq!(api.request_state(&acme.id).await, "committed");

    // Argo CD synced a later revision (not the request's own commit): ancestry says it holds it.
    acme_objects(&kube, &later, "Progressing");
    let report = sweeper.sweep().await.unwrap();
    assert_eq!(api.request_state(&acme.id).await, "synced", "{report:?}");

    acme_objects(&kube, &later, "Healthy");
    kube.add(
        fleet::INGRESSES,
        fleet::ingress("acme", "dev", "postgres", "db.acme.example.com"),
    );
    sweeper.sweep().await.unwrap();
    assert_eq!(api.request_state(&acme.id).await, "ready");
    let (_, tenant) = api
        .call(reqwest::Method::GET, "/v1/tenants/acme", None)
        .await;
    assert_eq!(tenant["health"], "healthy");
    assert_eq!(
        tenant["urls"],
        json!(["https://db.acme.example.com"]),
        "access URLs are the Ingress hosts in the cluster"
    );

    // The API answers from what the sweep recorded.
    let (status, body) = api
        .call(reqwest::Method::GET, "/v1/cluster/health", None)
        .await;
    assert_eq!(
        (status, body["status"].as_str(), body["version"].as_str()),
        (StatusCode::OK, Some("ok"), Some("v1.33.0"))
    );
    let (_, body) = api.call(reqwest::Method::GET, "/v1/tenants", None).await;
    let health: Vec<(&str, &str)> = body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["health"].as_str().unwrap()))
        .collect();
    assert_eq!(health, [("acme", "healthy"), ("beta", "missing")]);
    let (_, body) = api
        .call(reqwest::Method::GET, "/v1/tenants/acme/status", None)
        .await;
    assert_eq!(body["health"], "healthy");
    assert_eq!(body["statuses"][1]["module"], "postgres");
    assert_eq!(
        body["statuses"][1]["revision"].as_str(),
        Some(later.as_str())
    );
}

#[tokio::test]
async fn an_unreachable_cluster_reads_unknown_and_health_says_why() {
    let (dir, repo, store, api) = Api::start().await;
    let acme = api.create("acme").await;
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let sweeper = sweeper(
        repo.to_str().unwrap(),
        &dir.path().join("status"),
        Arc::clone(&store),
        Some(&nobody),
    )
    .await;

    let report = sweeper.sweep().await.unwrap();
    assert!(
        report.cluster.contains("could not be reached"),
        "{}",
        report.cluster
    );
    assert_eq!(report.kube_calls, 0);
    let statuses = store.list_statuses("acme").await.unwrap();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses.iter().all(|s| s.health == "unknown"),
        "{statuses:?}"
    );
    assert_eq!(
        api.request_state(&acme.id).await,
        "committed",
        "no evidence, no move"
    );

    let (status, body) = api
        .call(reqwest::Method::GET, "/v1/cluster/health", None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "error");
    assert_eq!(body["error"]["code"], "cluster_unreachable");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("the cluster could not be read"),
        "{body}"
    );
    let (_, body) = api.call(reqwest::Method::GET, "/v1/tenants", None).await;
    assert_eq!(body["tenants"][0]["health"], "unknown");

    // The same again: nothing new to write.
    assert_eq!(sweeper.sweep().await.unwrap().writes, 0);

    // No cluster configured at all: the same, said plainly.
    let unconfigured = Sweeper::new(
        App::new(
            committer(repo.to_str().unwrap(), &dir.path().join("none")).await,
            Arc::clone(&store),
        ),
        None,
    );
    let report = unconfigured.sweep().await.unwrap();
    assert!(
        report.cluster.starts_with("no cluster is configured"),
        "{}",
        report.cluster
    );
    let (status, body) = api
        .call(reqwest::Method::GET, "/v1/cluster/health", None)
        .await;
    // A fact about the deployment, not an outage a retry would cure: 200, not 503.
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert_eq!(body["status"], "not_configured", "{body}");
    assert!(body.get("error").is_none(), "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no cluster is configured"),
        "{body}"
    );
}

#[tokio::test]
async fn the_kube_token_is_required_and_a_wrong_one_reads_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let store: Arc<dyn Store> =
        Arc::new(berth_store::LocalStore::open(dir.path().join("store.json")).unwrap());
    let kube = KubeServer::start().await;
    kube.require_token("another-token-entirely");
    let report = sweeper(
        repo.to_str().unwrap(),
        &dir.path().join("w"),
        store,
        Some(&kube.url),
    )
    .await
    .sweep()
    .await
    .unwrap();
    assert!(
        report.cluster.contains("Unauthorized"),
        "{}",
        report.cluster
    );
    assert!(
        !report.cluster.contains(KUBE_TOKEN),
        "the token never shows"
    );
}

#[tokio::test]
async fn due_billing_schedules_are_carried_out_as_ordinary_requests() {
    let (dir, repo, store, api) = Api::start().await;
    for tenant in ["acme", "beta", "gamma"] {
        api.create(tenant).await;
    }
    // A suspension scheduled after the grace period: its request recorded nothing else yet.
    let scheduled = RequestRecord::new(
        "01JSCHEDULEDSUSPENSION0000",
        "schedule_suspend",
        "webhook:billing",
        "acme",
        RequestState::Scheduled,
        "2026-11-01T00:00:00Z".into(),
    );
    store.put_request(&scheduled).await.unwrap();
    let link = |tenant: &str, action: &str, due_at: i64, request: &str| BillingLink {
        customer: format!("cus_{tenant}"),
        tenant: tenant.into(),
        last_event_at: 100,
        registration: None,
        scheduled: Some(ScheduledChange {
            action: action.into(),
            due_at,
            request: request.into(),
        }),
    };
    let links = [
        link("acme", "suspend", 1_000, &scheduled.id),
        // A deletion scheduled by a cancellation whose suspension already committed.
        link("beta", "delete", 2_000, "01JCANCELLEDANDSUSPENDED00"),
        // Not due for years: stays scheduled.
        link("gamma", "suspend", 4_000_000_000, "01JLATER"),
    ];
    for l in &links {
        store.put_billing_unless_newer(l).await.unwrap();
    }

    let report = sweeper(
        repo.to_str().unwrap(),
        &dir.path().join("status"),
        Arc::clone(&store),
        None,
    )
    .await
    .sweep()
    .await
    .unwrap();
    assert_eq!(report.scheduled_carried_out, 2);
    let spec = |t: &str| git(&repo, &["show", &format!("main:tenants/{t}/tenant.yaml")]);
    assert!(spec("acme").contains("state: suspended"));
    assert!(spec("gamma").contains("state: active"));
    assert_eq!(
        git(&repo, &["ls-tree", "main", "tenants/beta"]),
        "",
        "beta is deleted"
    );
    let messages = git(&repo, &["log", "-2", "--format=%B", "main"]);
    assert!(
        messages.contains(&format!("Berth-Request: {}", scheduled.id)),
        "{messages}"
    );

    // The suspension went on under the id that scheduled it; the deletion under a new one.
    let record = store.get_request(&scheduled.id).await.unwrap().unwrap();
    assert_eq!(
        (record.state, record.source.as_str()),
        (RequestState::Committed, "schedule:billing")
    );
    let deletion = messages
        .lines()
        .find_map(|l| l.strip_prefix("Berth-Request: "))
        .filter(|id| *id != scheduled.id)
        .expect("the deletion's trailer");
    let deletion = store.get_request(deletion).await.unwrap().unwrap();
    assert_eq!(
        (
            deletion.action.as_str(),
            deletion.state,
            deletion.tenant.as_str()
        ),
        ("delete_tenant", RequestState::Committed, "beta")
    );
    assert_eq!(
        store.get_tenant("acme").await.unwrap().unwrap().state,
        "suspended"
    );
    assert_eq!(store.get_tenant("beta").await.unwrap(), None);
    let remaining: Vec<String> = store
        .list_scheduled_billing()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.customer)
        .collect();
    assert_eq!(remaining, ["cus_gamma"]);
}

#[tokio::test]
async fn a_pushed_branch_becomes_merged_once_main_contains_it() {
    let (dir, repo, store, api) = Api::start().await;
    let body =
        json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]});
    let (status, record) = api
        .call(reqwest::Method::POST, "/v1/tenants?mode=pr", Some(body))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{record}");
    assert_eq!(record["state"], "branch_pushed");
    let id = record["id"].as_str().unwrap();
    let branch = record["branch"].as_str().unwrap();
    let sweeper = sweeper(
        repo.to_str().unwrap(),
        &dir.path().join("status"),
        Arc::clone(&store),
        None,
    )
    .await;
    sweeper.sweep().await.unwrap();
    assert_eq!(api.request_state(id).await, "branch_pushed");

    // Someone merges the pull request (a fast-forward here).
    git(
        &repo,
        &[
            "update-ref",
            "refs/heads/main",
            &format!("refs/heads/{branch}"),
        ],
    );
    let report = sweeper.sweep().await.unwrap();
    assert_eq!(report.requests_advanced, 1);
    assert_eq!(api.request_state(id).await, "merged");
}

/// The webhook Lambda cannot reach the cluster: an Argo CD notification moves its tenant's
/// requests from the statuses in the store, before it is answered.
#[tokio::test]
async fn argo_cd_notifications_move_requests_without_a_cluster() {
    use berth_tests::api_server::ARGOCD_TOKEN;
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
    let remote = repo.to_str().unwrap();
    let follow_up = berth_status::AdvanceFromStore(
        sweeper(
            remote,
            &dir.path().join("follow-up"),
            Arc::clone(&store),
            None,
        )
        .await,
    );
    let api = Api {
        server: ApiServer::start_with_refresh(
            remote,
            &dir.path().join("api"),
            Arc::clone(&store),
            Arc::new(follow_up),
        )
        .await,
        client: reqwest::Client::new(),
    };
    let acme = api.create("acme").await;
    let commit = acme.commit.clone().unwrap();
    let notify = |module: Option<&str>, health: &str| {
        let mut event = json!({"tenant": "acme", "env": "dev", "health": health, "sync": "Synced",
                               "revision": commit, "application": "acme-dev"});
        if let Some(m) = module {
            event["module"] = json!(m);
            event["application"] = json!(format!("acme-dev-{m}"));
        }
        api.client
            .post(format!("{}/webhooks/argocd", api.server.url))
            .bearer_auth(ARGOCD_TOKEN)
            .json(&event)
            .send()
    };
    assert_eq!(
        notify(None, "Healthy").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        api.request_state(&acme.id).await,
        "committed",
        "postgres has not reported yet"
    );
    notify(Some("postgres"), "Progressing").await.unwrap();
    assert_eq!(api.request_state(&acme.id).await, "synced");
    notify(Some("postgres"), "Healthy").await.unwrap();
    assert_eq!(api.request_state(&acme.id).await, "ready");
}

/// What a crash leaves behind, set up from real requests: each record put back to `accepted`
/// with no commit, as if the function died before recording its outcome.
async fn left_accepted(store: &dyn Store, record: &RequestRecord, updated_at: &str) {
    let mut left = RequestRecord::new(
        &record.id,
        &record.action,
        &record.source,
        &record.tenant,
        RequestState::Accepted,
        updated_at.to_owned(),
    );
    left.requested_by = record.requested_by.clone();
    store.put_request(&left).await.unwrap();
}

/// One sweep settles every request a crash left `accepted` past its claim's lease, from its
/// trailer: on main it committed (and the tenant index catches up), on its pull-request branch
/// it pushed that branch, nowhere it failed as `interrupted`. A younger one is left to its holder.
#[tokio::test]
async fn a_sweep_settles_requests_left_accepted_past_their_lease() {
    let (dir, repo, store, api) = Api::start().await;
    let direct = api.create("acme").await;
    let body =
        json!({"name": "beta", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]});
    let (status, pr) = api
        .call(reqwest::Method::POST, "/v1/tenants?mode=pr", Some(body))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pr}");
    let pr: RequestRecord = serde_json::from_value(pr).unwrap();
    let long_ago = "2026-01-01T00:00:00Z";
    left_accepted(&*store, &direct, long_ago).await;
    store.delete_tenant("acme").await.unwrap(); // its index update never ran
    left_accepted(&*store, &pr, long_ago).await;
    let mut lost = RequestRecord::new(
        &ulid::Ulid::new().to_string(),
        "create_tenant",
        "api",
        "gamma",
        RequestState::Accepted,
        long_ago.into(),
    );
    store.put_request(&lost).await.unwrap();
    let mut young = lost.clone();
    young.id = ulid::Ulid::new().to_string();
    young.updated_at = berth_usecases::time::now_rfc3339();
    store.put_request(&young).await.unwrap();

    let sweeper = sweeper(
        repo.to_str().unwrap(),
        &dir.path().join("status"),
        Arc::clone(&store),
        None,
    )
    .await;
    let report = sweeper.sweep().await.unwrap();
    assert_eq!(report.requests_advanced, 3, "{report:?}");

    let get = |id: String| {
        let store = Arc::clone(&store);
        async move { store.get_request(&id).await.unwrap().unwrap() }
    };
    let settled = get(direct.id.clone()).await;
    assert_eq!(settled.state, RequestState::Committed);
    assert_eq!(settled.commit, direct.commit);
    let index = store
        .get_tenant("acme")
        .await
        .unwrap()
        .expect("indexed again");
    assert_eq!(index.tier, "standard");

    let settled = get(pr.id.clone()).await;
    assert_eq!(settled.state, RequestState::BranchPushed);
    assert_eq!((settled.commit, settled.branch), (pr.commit, pr.branch));

    lost = get(lost.id.clone()).await;
    assert_eq!(lost.state, RequestState::Failed);
    assert_eq!(lost.error.unwrap().code, "interrupted");

    assert_eq!(get(young.id.clone()).await.state, RequestState::Accepted);
}
