//! Metrics as CloudWatch's Embedded Metric Format: the lines a real API request, a refused
//! webhook and real sweeps emit, each checked against the EMF JSON schema AWS publishes
//! (`tests/fixtures/emf/schema.json`) and against what the schema cannot say: every name a
//! directive references is a member of the right kind, and no dimension is a tenant or an id.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_status::Sweeper;
use berth_store::Store;
use berth_tests::api_server::{ADMIN, ApiServer, call_api};
use berth_tests::fleet;
use berth_tests::kube_server::KubeServer;
use berth_tests::{dynamo_store, project_root, seed_repo};
use berth_usecases::App;
use berth_usecases::metrics::Metrics;
use reqwest::StatusCode;
use serde_json::{Value, json};

const KUBE_TOKEN: &str = "kube-test-token-0123456789";

/// A metric's data points: each with its dimensions.
type Points = Vec<(BTreeMap<String, String>, f64)>;

/// Each line parsed and checked; answers `metric name -> [(dimensions, value)]`.
fn checked(lines: &[String], forbidden: &[&str]) -> BTreeMap<String, Points> {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(project_root().join("tests/fixtures/emf/schema.json")).unwrap(),
    )
    .unwrap();
    // The published schema is draft-07 style (`$id`s that are JSON pointers).
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&schema)
        .unwrap();
    let mut metrics: BTreeMap<String, Points> = BTreeMap::new();
    for line in lines {
        assert!(!line.contains('\n'), "one line per document");
        let document: Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{line}: {errors:?}");
        for directive in document["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            assert_eq!(directive["Namespace"], "Berth");
            let mut dimensions = BTreeMap::new();
            for set in directive["Dimensions"].as_array().unwrap() {
                for name in set.as_array().unwrap() {
                    let name = name.as_str().unwrap();
                    let value = document[name].as_str().unwrap_or_else(|| {
                        panic!("dimension {name} is not a string member: {line}")
                    });
                    assert!(
                        ["function", "action", "source", "outcome", "state"].contains(&name),
                        "{name} is not one of the low-cardinality dimensions"
                    );
                    for bad in forbidden {
                        assert!(!value.contains(bad), "dimension {name}={value} names {bad}");
                    }
                    assert!(
                        ulid::Ulid::from_string(value).is_err(),
                        "{name}={value} is an id"
                    );
                    dimensions.insert(name.to_owned(), value.to_owned());
                }
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(metric["Unit"].is_string(), "{name} names its unit");
                let value = document[name]
                    .as_f64()
                    .unwrap_or_else(|| panic!("metric {name} is not a number: {line}"));
                metrics
                    .entry(name.to_owned())
                    .or_default()
                    .push((dimensions.clone(), value));
            }
        }
    }
    metrics
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_a_refused_webhook_and_sweeps_emit_valid_emf() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let remote = repo.to_str().unwrap();
    let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
    let (api_metrics, api_lines) = Metrics::captured("api");
    let server = ApiServer::start_with_metrics(
        remote,
        &dir.path().join("api"),
        Arc::clone(&store),
        api_metrics,
    )
    .await;
    let client = reqwest::Client::new();
    let post = |body: Value| {
        let (client, url) = (client.clone(), server.url.clone());
        async move {
            call_api(
                &client,
                &url,
                Some(ADMIN),
                reqwest::Method::POST,
                "/v1/tenants",
                Some(body),
            )
            .await
        }
    };
    let create =
        json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]});
    let (status, created) = post(create.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let request_id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = post(create).await;
    assert!(status.is_client_error());
    // Refused before it became a request (the name is not one): counted as rejected too.
    let (status, _) =
        post(json!({"name": "Not A Name", "tier": "standard", "envs": ["dev"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let refused = client
        .post(format!("{}/webhooks/billing", server.url))
        .header("stripe-signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let figures = checked(&api_lines.lines(), &["acme", &request_id]);
    let requests = &figures["Requests"];
    let by_outcome = |outcome: &str| {
        requests
            .iter()
            .filter(|(d, _)| d.get("outcome").map(String::as_str) == Some(outcome))
            .count()
    };
    assert_eq!(by_outcome("committed"), 1, "{requests:?}");
    assert_eq!(by_outcome("rejected"), 2, "{requests:?}");
    let committed = requests
        .iter()
        .find(|(d, _)| d.get("outcome").map(String::as_str) == Some("committed"))
        .unwrap();
    assert_eq!(committed.0["action"], "create_tenant");
    assert_eq!(committed.0["source"], "api");
    assert_eq!(committed.0["function"], "api");
    assert!(figures["CommitLatency"][0].1 > 0.0);
    assert!(figures.contains_key("LostRaces") && figures.contains_key("ClaimTakeovers"));
    let refusals = &figures["SignatureFailures"];
    assert!(
        refusals
            .iter()
            .any(
                |(d, n)| d.get("source").map(String::as_str) == Some("webhook:billing")
                    && *n == 1.0
            ),
        "{refusals:?}"
    );

    // Two sweeps: the first sees acme's Applications on a revision before its commit, the
    // second sees it synced and ready.
    let kube = KubeServer::start().await;
    kube.require_token(KUBE_TOKEN);
    let (status_metrics, status_lines) = Metrics::captured("status");
    let mut app = App::new(
        berth_tests::backend::committer(remote, &dir.path().join("status")).await,
        Arc::clone(&store),
    );
    app.metrics = status_metrics;
    let sweeper = Sweeper::new(
        app,
        Some(berth_tests::kube_server::connector(&kube.url, KUBE_TOKEN)),
    );
    let commit = created["commit"].as_str().unwrap().to_owned();
    let objects = |revision: &str| {
        kube.replace(
            fleet::APPLICATIONS,
            fleet::application("acme", "dev", None, revision, "Healthy"),
        );
        kube.replace(
            fleet::APPLICATIONS,
            fleet::application("acme", "dev", Some("postgres"), revision, "Healthy"),
        );
        kube.replace(
            fleet::STATEFULSETS,
            fleet::statefulset("acme", "dev", "postgres", 1, 1),
        );
    };
    objects("0000000000000000000000000000000000000000");
    sweeper.sweep().await.unwrap();
    objects(&commit);
    sweeper.sweep().await.unwrap();

    let figures = checked(&status_lines.lines(), &["acme", &request_id]);
    assert_eq!(figures["Sweeps"].len(), 2);
    assert_eq!(figures["ClusterReachable"][0].1, 1.0);
    let in_flight: Vec<&(BTreeMap<String, String>, f64)> = figures["RequestsInFlight"]
        .iter()
        .filter(|(d, _)| d.get("state").map(String::as_str) == Some("committed"))
        .collect();
    assert_eq!(
        in_flight.len(),
        2,
        "acme is committed when both sweeps begin: {in_flight:?}"
    );
    assert!(figures.contains_key("OldestInFlightAge"));
    assert!(figures.contains_key("SweepClusterDuration"));
    assert!(
        figures.contains_key("CommitToReady") || figures.contains_key("CommitToSynced"),
        "the second sweep moved acme on: {figures:?}"
    );
}
