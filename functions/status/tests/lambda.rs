//! The status function as Lambda runs it: the real binary under cargo-lambda's runtime
//! emulator, woken by an EventBridge scheduled event, sweeping the Kubernetes API test server
//! into moto's DynamoDB.

use berth_store::prelude::*;
use berth_tests::dynamo_recorder::{DynamoRecorder, assert_grants_match};
use berth_tests::dynamodb_endpoint;
use berth_tests::fleet::{Fleet, RunningFleet};
use berth_tests::lambda::{LambdaFunction, moto_table};
use serde_json::json;

const KUBE_TOKEN: &str = "status-lambda-kube-token-0123456789";

#[tokio::test]
async fn a_scheduled_event_runs_one_sweep_into_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = Fleet {
        tenants: 3,
        envs: vec!["dev"],
        modules: vec!["postgres", "vault"],
    };
    let RunningFleet {
        repo,
        revision,
        kube,
    } = fleet.run(dir.path(), KUBE_TOKEN).await;
    let table = moto_table().await;
    let dynamodb = DynamoRecorder::start().await;
    let env = [
        ("BERTH_GIT_REMOTE", repo.display().to_string()),
        (
            "BERTH_WORK_DIR",
            dir.path().join("work").display().to_string(),
        ),
        ("BERTH_TABLE", table.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url.clone()),
        ("BERTH_KUBE_SERVER", kube.url.clone()),
        ("BERTH_KUBE_TOKEN", KUBE_TOKEN.into()),
    ];
    let function = LambdaFunction::start(std::path::Path::new(env!("CARGO_BIN_EXE_status")), &env);

    // The event EventBridge Scheduler's rate(1 minute) rule delivers.
    let scheduled = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-22T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/berth-status"], "detail": {}
    });
    let report = function.invoke(&scheduled).await;
    assert_eq!(report["revision"], revision.as_str(), "{report}");
    assert_eq!(report["cluster"], "ok", "{report}");
    assert_eq!(report["tenants"], 3);
    // Three tenant-envs, each a base Application and two modules; a health item per tenant.
    assert_eq!(report["slots"], 9, "{report}");
    assert!(report["kube_calls"].as_u64().unwrap() >= 4, "{report}");

    let store = berth_store::DynamoStore::new(
        berth_store::dynamodb_client(Some(&dynamodb_endpoint())),
        table,
    );
    let statuses = store.list_statuses("t00000").await.unwrap();
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| s.health == "healthy"),
        "{statuses:?}"
    );
    assert_eq!(
        store.get_cluster_health().await.unwrap().map(|h| h.status),
        Some("ok".into())
    );

    // A second scheduled event: the same sweep, nothing changed, nothing written.
    let again = function.invoke(&scheduled).await;
    assert_eq!(again["writes"], 0, "{again}");

    // Every DynamoDB operation the sweep called is granted to it. (It is also granted
    // DeleteItem, with which a due billing deletion removes the tenant's index entry: a path
    // this scenario does not take.)
    assert_grants_match(&dynamodb, "StatusFunction", &["DeleteItem"]);
}
