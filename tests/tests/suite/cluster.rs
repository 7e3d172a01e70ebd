//! Reading the cluster against the Kubernetes API test server: one paged list per kind, the
//! kinds listed side by side, label selection, and an expired continue token restarting the
//! list once.

use berth_cluster::{ClusterReader, Health};
use berth_tests::kube_server::KubeServer;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::{Value, json};

fn deployment(tenant: Option<&str>, name: &str, ready: i32) -> Value {
    let mut labels = json!({"app": name});
    if let Some(t) = tenant {
        labels["berth.dev/tenant"] = json!(t);
        labels["berth.dev/env"] = json!("dev");
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": "acme-dev", "generation": 1, "labels": labels},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}},
           "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": ready, "readyReplicas": ready}})
}

async fn reader(server: &KubeServer, page: u32) -> ClusterReader {
    let config = kube::Config::new(server.url.parse().unwrap());
    ClusterReader::new(kube::Client::try_from(config).unwrap(), page)
}

#[tokio::test]
async fn one_paged_list_per_kind_selected_by_the_tenant_label() {
    let server = KubeServer::start().await;
    for i in 0..1_234 {
        server.add(
            "apps/v1/deployments",
            deployment(Some(&format!("t{:04}", i / 3)), &format!("d{i:05}"), 2),
        );
    }
    for i in 0..50 {
        server.add(
            "apps/v1/deployments",
            deployment(None, &format!("other{i:03}"), 2),
        );
    }
    server.add("apps/v1/statefulsets", json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "pg", "namespace": "acme-dev", "labels": {"berth.dev/tenant": "acme", "berth.dev/env": "dev"}}, "spec": {"serviceName": "pg", "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}}}}));
    server.add("argoproj.io/v1alpha1/applications", json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "acme-dev", "namespace": "argocd", "labels": {"berth.dev/tenant": "acme", "berth.dev/env": "dev"}}, "status": {"health": {"status": "Healthy"}, "sync": {"status": "Synced", "revision": "abc"}}}));

    let objects = reader(&server, 500).await.read_all().await.unwrap();
    let deployments = objects
        .workloads
        .iter()
        .filter(|w| w.name.starts_with("deployment/"))
        .count();
    assert_eq!(deployments, 1_234, "only objects with the tenant label");
    assert_eq!(
        server.calls("apps/v1/deployments"),
        3,
        "1,234 objects in pages of 500"
    );
    assert_eq!(
        (
            objects.workloads.len() - deployments,
            objects.ingresses.len(),
            objects.applications.len()
        ),
        (1, 0, 1)
    );
    assert_eq!(objects.calls, 3 + 1 + 1 + 1);
    assert_eq!(
        objects.applications[0].value.revision.as_deref(),
        Some("abc")
    );
    assert!(
        objects
            .workloads
            .iter()
            .filter(|w| w.name.starts_with("deployment/"))
            .all(|w| w.value.health == Health::Healthy)
    );
}

#[tokio::test]
async fn the_four_kinds_are_listed_side_by_side_each_page_by_page() {
    let server = KubeServer::start().await;
    for i in 0..25 {
        server.add(
            "apps/v1/deployments",
            deployment(Some("acme"), &format!("d{i:02}"), 2),
        );
    }
    // Each list call is held a moment, so calls made side by side are answered together.
    server.hold_lists(std::time::Duration::from_millis(150));
    let objects = reader(&server, 10).await.read_all().await.unwrap();
    assert_eq!(objects.workloads.len(), 25, "every page of every kind read");
    assert_eq!(objects.calls, 3 + 1 + 1 + 1);
    assert_eq!(
        server.most_lists_at_once(),
        4,
        "the four kinds at once, and never two pages of one kind"
    );
}

#[tokio::test]
async fn an_expired_continue_token_restarts_the_list_once() {
    let server = KubeServer::start().await;
    for i in 0..30 {
        server.add(
            "apps/v1/deployments",
            deployment(Some("acme"), &format!("d{i:02}"), 1),
        );
    }
    let reader = reader(&server, 10).await;
    let client = kube::Client::try_from(kube::Config::new(server.url.parse().unwrap())).unwrap();

    // The server compacts right after the first page: the second call meets 410 Gone, the list
    // starts over and then goes through.
    server.expire_after_calls(&[1]);
    let mut calls = 0;
    let items = reader
        .list(
            Api::<Deployment>::all(client.clone()),
            "deployments",
            &mut calls,
            |d| d.metadata.name,
        )
        .await
        .unwrap();
    assert_eq!(items.len(), 30, "nothing lost, nothing doubled");
    let names: std::collections::BTreeSet<_> = items.iter().collect();
    assert_eq!(names.len(), 30);
    assert_eq!(calls, 1 + 1 + 3, "first page, the 410, then three pages");

    // Expired again after the restart: the list gives up with a clear error, once.
    server.expire_after_calls(&[1, 3]);
    let mut calls = 0;
    let err = reader
        .list(
            Api::<Deployment>::all(client),
            "deployments",
            &mut calls,
            |d| d.metadata.name,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("kept expiring"), "{err}");
    assert_eq!(calls, 4);
}

#[tokio::test]
async fn an_unreachable_cluster_is_a_clear_error_not_a_panic() {
    let port = berth_tests::free_port();
    let config = kube::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
    let reader = ClusterReader::new(kube::Client::try_from(config).unwrap(), 100);
    let err = reader.read_all().await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the cluster could not be reached"),
        "{err}"
    );
}
