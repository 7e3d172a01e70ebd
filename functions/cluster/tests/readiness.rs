//! Every readiness rule, table-driven, on real object shapes (k8s-openapi types built from the
//! JSON the API server returns).

use berth_cluster::{Health, deployment_readiness, statefulset_readiness, worst};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use serde_json::{Value, json};

fn deployment(generation: i64, spec: Value, status: Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "vault", "namespace": "acme-dev", "generation": generation,
                     "labels": {"berth.dev/tenant": "acme", "berth.dev/env": "dev", "berth.dev/module": "vault"}},
        "spec": merge(json!({"selector": {"matchLabels": {"app": "vault"}}, "template": {"metadata": {"labels": {"app": "vault"}}, "spec": {"containers": [{"name": "vault", "image": "hashicorp/vault:1.17.6"}]}}}), spec),
        "status": status,
    }))
    .expect("a Deployment")
}

fn statefulset(generation: i64, spec: Value, status: Value) -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "postgres", "namespace": "acme-dev", "generation": generation},
        "spec": merge(json!({"serviceName": "postgres-headless", "selector": {"matchLabels": {"app": "pg"}}, "template": {"metadata": {"labels": {"app": "pg"}}, "spec": {"containers": [{"name": "pg", "image": "postgres:16.4-alpine"}]}}}), spec),
        "status": status,
    }))
    .expect("a StatefulSet")
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

#[test]
fn deployment_rules() {
    let deadline =
        json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
    let cases: Vec<(&str, Deployment, Health, i32, i32)> = vec![
        (
            "complete",
            deployment(
                2,
                json!({"replicas": 3}),
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3}),
            ),
            Health::Healthy,
            3,
            3,
        ),
        (
            "spec not observed yet",
            deployment(
                3,
                json!({"replicas": 3}),
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
            ),
            Health::Progressing,
            3,
            3,
        ),
        (
            "deadline exceeded",
            deployment(
                2,
                json!({"replicas": 3}),
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2, "conditions": deadline}),
            ),
            Health::Degraded,
            2,
            3,
        ),
        (
            "updating",
            deployment(
                2,
                json!({"replicas": 3}),
                json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3}),
            ),
            Health::Progressing,
            3,
            3,
        ),
        // Surge: every desired replica is updated, but old pods still run.
        (
            "surge, old pods terminating",
            deployment(
                2,
                json!({"replicas": 3}),
                json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}),
            ),
            Health::Progressing,
            3,
            3,
        ),
        (
            "updated, waiting for availability",
            deployment(
                2,
                json!({"replicas": 3}),
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1}),
            ),
            Health::Progressing,
            1,
            3,
        ),
        (
            "updated, none available",
            deployment(
                2,
                json!({"replicas": 3}),
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 0}),
            ),
            Health::Unhealthy,
            0,
            3,
        ),
        (
            "paused",
            deployment(
                2,
                json!({"replicas": 3, "paused": true}),
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 3}),
            ),
            Health::Suspended,
            3,
            3,
        ),
        (
            "scaled to zero (suspended tenant)",
            deployment(4, json!({"replicas": 0}), json!({"observedGeneration": 4})),
            Health::Suspended,
            0,
            0,
        ),
        (
            "no status yet",
            deployment(1, json!({"replicas": 2}), json!({})),
            Health::Progressing,
            0,
            2,
        ),
    ];
    for (name, object, health, ready, desired) in cases {
        let r = deployment_readiness(&object);
        assert_eq!(
            (r.health, r.ready, r.desired),
            (health, ready, desired),
            "{name}: {}",
            r.reason
        );
    }
}

#[test]
fn statefulset_rules() {
    let rolling = |partition: Option<i32>| match partition {
        Some(p) => json!({"type": "RollingUpdate", "rollingUpdate": {"partition": p}}),
        None => json!({"type": "RollingUpdate"}),
    };
    let cases: Vec<(&str, StatefulSet, Health, i32)> = vec![
        (
            "complete",
            statefulset(
                3,
                json!({"replicas": 3, "updateStrategy": rolling(None)}),
                json!({"observedGeneration": 3, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "currentRevision": "pg-1", "updateRevision": "pg-1"}),
            ),
            Health::Healthy,
            3,
        ),
        (
            "not observed",
            statefulset(
                4,
                json!({"replicas": 3}),
                json!({"observedGeneration": 3, "readyReplicas": 3, "currentRevision": "pg-1", "updateRevision": "pg-1"}),
            ),
            Health::Progressing,
            3,
        ),
        (
            "never observed",
            statefulset(1, json!({"replicas": 3}), json!({"readyReplicas": 0})),
            Health::Progressing,
            0,
        ),
        (
            "rolling update, a pod restarting",
            statefulset(
                3,
                json!({"replicas": 3, "updateStrategy": rolling(None)}),
                json!({"observedGeneration": 3, "readyReplicas": 2, "updatedReplicas": 1, "currentRevision": "pg-1", "updateRevision": "pg-2"}),
            ),
            Health::Progressing,
            2,
        ),
        (
            "all ready, revisions differ",
            statefulset(
                3,
                json!({"replicas": 3, "updateStrategy": rolling(None)}),
                json!({"observedGeneration": 3, "readyReplicas": 3, "updatedReplicas": 2, "currentRevision": "pg-1", "updateRevision": "pg-2"}),
            ),
            Health::Progressing,
            3,
        ),
        // Partitioned: only pods at ordinal >= 2 are updated; that is a complete rollout.
        (
            "partition, done",
            statefulset(
                3,
                json!({"replicas": 3, "updateStrategy": rolling(Some(2))}),
                json!({"observedGeneration": 3, "readyReplicas": 3, "updatedReplicas": 1, "currentRevision": "pg-1", "updateRevision": "pg-2"}),
            ),
            Health::Healthy,
            3,
        ),
        (
            "partition, waiting",
            statefulset(
                3,
                json!({"replicas": 3, "updateStrategy": rolling(Some(1))}),
                json!({"observedGeneration": 3, "readyReplicas": 3, "updatedReplicas": 1, "currentRevision": "pg-1", "updateRevision": "pg-2"}),
            ),
            Health::Progressing,
            3,
        ),
        (
            "some ready, no rollout",
            statefulset(
                3,
                json!({"replicas": 3}),
                json!({"observedGeneration": 3, "readyReplicas": 1, "currentRevision": "pg-1", "updateRevision": "pg-1"}),
            ),
            Health::Degraded,
            1,
        ),
        (
            "none ready",
            statefulset(
                3,
                json!({"replicas": 3}),
                json!({"observedGeneration": 3, "readyReplicas": 0, "currentRevision": "pg-1", "updateRevision": "pg-1"}),
            ),
            Health::Unhealthy,
            0,
        ),
        (
            "OnDelete, all ready",
            statefulset(
                3,
                json!({"replicas": 2, "updateStrategy": {"type": "OnDelete"}}),
                json!({"observedGeneration": 3, "readyReplicas": 2, "currentRevision": "pg-1", "updateRevision": "pg-2"}),
            ),
            Health::Healthy,
            2,
        ),
        (
            "OnDelete, one ready",
            statefulset(
                3,
                json!({"replicas": 2, "updateStrategy": {"type": "OnDelete"}}),
                json!({"observedGeneration": 3, "readyReplicas": 1}),
            ),
            Health::Degraded,
            1,
        ),
        (
            "scaled to zero",
            statefulset(5, json!({"replicas": 0}), json!({"observedGeneration": 5})),
            Health::Suspended,
            0,
        ),
    ];
    for (name, object, health, ready) in cases {
        let r = statefulset_readiness(&object);
        assert_eq!((r.health, r.ready), (health, ready), "{name}: {}", r.reason);
    }
}

#[test]
fn a_tenant_is_as_healthy_as_its_worst_part() {
    assert_eq!(
        worst([Health::Healthy, Health::Progressing, Health::Healthy]),
        Health::Progressing
    );
    assert_eq!(
        worst([Health::Healthy, Health::Degraded, Health::Unhealthy]),
        Health::Unhealthy
    );
    assert_eq!(
        worst([Health::Suspended, Health::Healthy]),
        Health::Suspended
    );
    assert_eq!(worst([]), Health::Unknown);
}
