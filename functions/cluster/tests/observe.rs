//! Correlating Git's desired state with what the cluster runs, slot by slot: built from the API
//! server's JSON of real object shapes.

use berth_cluster::{ClusterObjects, Health, SlotStatus, observe, unknown_everywhere};
use berth_core::{DesiredState, RepoFiles, desired_state};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{Value, json};

/// Git: acme (dev with postgres and vault, prod bare), and zeta suspended (dev with vault).
fn desired() -> DesiredState {
    let spec = |name: &str, state: &str| {
        format!("name: {name}\ntier: standard\nstate: {state}\ncreated_by: 01J\n").into_bytes()
    };
    let files: RepoFiles = [
        ("tenants/acme/tenant.yaml", spec("acme", "active")),
        ("tenants/acme/dev/base.yaml", b"{}".to_vec()),
        ("tenants/acme/dev/modules/postgres.yaml", b"{}".to_vec()),
        ("tenants/acme/dev/modules/vault.yaml", b"{}".to_vec()),
        ("tenants/acme/prod/base.yaml", b"{}".to_vec()),
        ("tenants/zeta/tenant.yaml", spec("zeta", "suspended")),
        ("tenants/zeta/dev/base.yaml", b"{}".to_vec()),
        ("tenants/zeta/dev/modules/vault.yaml", b"{}".to_vec()),
    ]
    .into_iter()
    .map(|(p, b)| (p.to_owned(), b))
    .collect();
    desired_state(&files)
}

fn labels(tenant: &str, env: &str, module: Option<&str>) -> Value {
    let mut l = json!({"berth.dev/tenant": tenant, "berth.dev/env": env});
    if let Some(m) = module {
        l["berth.dev/module"] = json!(m);
    }
    l
}

fn app(tenant: &str, env: &str, module: Option<&str>, health: &str) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": format!("{tenant}-{env}{}", module.map(|m| format!("-{m}")).unwrap_or_default()),
                        "namespace": "argocd", "labels": labels(tenant, env, module)},
           "status": {"health": {"status": health}, "sync": {"status": "Synced", "revision": "abc123"}}})
}

fn deployment(tenant: &str, env: &str, module: &str, replicas: i32, available: i32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": module, "namespace": format!("{tenant}-{env}"), "generation": 1,
                        "labels": labels(tenant, env, Some(module))},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"a": module}},
                    "template": {"metadata": {"labels": {"a": module}}}},
           "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                      "availableReplicas": available, "readyReplicas": available}})
}

fn statefulset(tenant: &str, env: &str, module: &str, replicas: i32, ready: i32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": module, "namespace": format!("{tenant}-{env}"), "generation": 1,
                        "labels": labels(tenant, env, Some(module))},
           "spec": {"replicas": replicas, "serviceName": module, "selector": {"matchLabels": {"a": module}},
                    "template": {"metadata": {"labels": {"a": module}}}},
           "status": {"observedGeneration": 1, "replicas": replicas, "readyReplicas": ready,
                      "currentRevision": "r1", "updateRevision": "r1"}})
}

fn ingress(tenant: &str, env: &str, module: &str, hosts: &[&str], tls: &[&str]) -> Value {
    let rules: Vec<Value> = hosts.iter().map(|h| json!({"host": h})).collect();
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": module, "namespace": format!("{tenant}-{env}"), "labels": labels(tenant, env, Some(module))},
           "spec": {"rules": rules, "tls": [{"hosts": tls}]}})
}

fn parse<T: serde::de::DeserializeOwned>(values: Vec<Value>) -> Vec<T> {
    values
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("an API object"))
        .collect()
}

/// Objects reduced as a sweep reduces each page.
fn objects(
    apps: Vec<Value>,
    deployments: Vec<Value>,
    statefulsets: Vec<Value>,
    ingresses: Vec<Value>,
) -> ClusterObjects {
    let mut objects = ClusterObjects::default();
    let apps: Vec<berth_cluster::Application> = parse(apps);
    objects.applications = apps
        .into_iter()
        .filter_map(ClusterObjects::application_part)
        .collect();
    let deployments: Vec<Deployment> = parse(deployments);
    let statefulsets: Vec<StatefulSet> = parse(statefulsets);
    objects.workloads = deployments
        .iter()
        .filter_map(ClusterObjects::deployment_part)
        .chain(
            statefulsets
                .iter()
                .filter_map(ClusterObjects::statefulset_part),
        )
        .collect();
    let ingresses: Vec<Ingress> = parse(ingresses);
    objects.ingresses = ingresses
        .iter()
        .filter_map(ClusterObjects::ingress_part)
        .collect();
    objects
}

fn find<'a>(
    statuses: &'a [SlotStatus],
    tenant: &str,
    env: &str,
    module: Option<&str>,
) -> &'a SlotStatus {
    statuses
        .iter()
        .find(|s| s.key.tenant == tenant && s.key.env == env && s.key.module.as_deref() == module)
        .unwrap_or_else(|| panic!("no status for {tenant}/{env}/{module:?}"))
}

fn cluster() -> ClusterObjects {
    objects(
        vec![
            app("acme", "dev", None, "Healthy"),
            app("acme", "dev", Some("postgres"), "Healthy"),
            app("acme", "dev", Some("vault"), "Progressing"),
            app("zeta", "dev", None, "Healthy"),
            app("zeta", "dev", Some("vault"), "Healthy"),
            // Git no longer wants these.
            app("acme", "dev", Some("monitoring"), "Healthy"),
            app("ghost", "dev", None, "Healthy"),
        ],
        vec![
            deployment("acme", "dev", "vault", 3, 3),
            deployment("zeta", "dev", "vault", 0, 0),
            deployment("acme", "dev", "monitoring", 1, 1),
        ],
        vec![statefulset("acme", "dev", "postgres", 2, 1)],
        vec![
            ingress(
                "acme",
                "dev",
                "vault",
                &["vault.acme.example", "vault-alt.acme.example"],
                &["vault.acme.example"],
            ),
            ingress(
                "acme",
                "dev",
                "vault",
                &["vault.acme.example"],
                &["vault.acme.example"],
            ),
        ],
    )
}

#[test]
fn every_slot_git_wants_gets_a_status_and_leftovers_are_orphaned() {
    let statuses = observe(&desired(), &cluster());
    let keys: Vec<String> = statuses
        .iter()
        .map(|s| {
            format!(
                "{}/{}/{}",
                s.key.tenant,
                s.key.env,
                s.key.module.as_deref().unwrap_or("_")
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            "acme/dev/_",
            "acme/dev/monitoring",
            "acme/dev/postgres",
            "acme/dev/vault",
            "acme/prod/_",
            "ghost/dev/_",
            "zeta/dev/_",
            "zeta/dev/vault"
        ]
    );
    assert_eq!(
        find(&statuses, "acme", "dev", Some("monitoring")).health,
        Health::Orphaned
    );
    assert_eq!(
        find(&statuses, "ghost", "dev", None).health,
        Health::Orphaned
    );
}

#[test]
fn a_slot_is_as_bad_as_its_application_or_its_worst_workload() {
    let statuses = observe(&desired(), &cluster());
    let postgres = find(&statuses, "acme", "dev", Some("postgres"));
    assert_eq!(
        (postgres.health, postgres.ready, postgres.desired),
        (Health::Degraded, 1, 2)
    );
    assert_eq!(
        postgres.reason,
        "statefulset/postgres: 1 of 2 replicas ready"
    );
    let vault = find(&statuses, "acme", "dev", Some("vault"));
    assert_eq!(
        (vault.health, vault.ready, vault.desired),
        (Health::Progressing, 3, 3)
    );
    assert_eq!(vault.reason, "the Argo CD Application reports progressing");
    let base = find(&statuses, "acme", "dev", None);
    assert_eq!(base.health, Health::Healthy);
    let app = base.application.as_ref().unwrap();
    assert_eq!(
        (app.sync.as_deref(), app.revision.as_deref()),
        (Some("Synced"), Some("abc123"))
    );
}

#[test]
fn wanted_but_absent_is_missing_and_scaled_to_zero_is_suspended() {
    let statuses = observe(&desired(), &cluster());
    let prod = find(&statuses, "acme", "prod", None);
    assert_eq!(prod.health, Health::Missing);
    assert!(
        prod.reason.contains("no Application or workload"),
        "{}",
        prod.reason
    );
    assert_eq!(
        find(&statuses, "zeta", "dev", Some("vault")).health,
        Health::Suspended
    );
}

#[test]
fn urls_come_from_ingress_hosts_with_their_scheme() {
    let statuses = observe(&desired(), &cluster());
    assert_eq!(
        find(&statuses, "acme", "dev", Some("vault")).urls,
        [
            "http://vault-alt.acme.example",
            "https://vault.acme.example"
        ]
    );
    assert!(find(&statuses, "acme", "dev", None).urls.is_empty());
}

#[test]
fn objects_without_berths_env_label_are_not_guessed_at() {
    let unlabelled: Deployment =
        serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "x", "namespace": "acme-dev", "labels": {"berth.dev/tenant": "acme"}},
        "spec": {"replicas": 1, "selector": {}, "template": {}}}))
        .unwrap();
    assert_eq!(
        ClusterObjects::deployment_part(&unlabelled),
        None,
        "no slot without berth.dev/env"
    );
}

#[test]
fn an_unreadable_cluster_makes_every_wanted_slot_unknown() {
    let statuses = unknown_everywhere(&desired(), "connection refused");
    assert_eq!(statuses.len(), 6);
    assert!(
        statuses
            .iter()
            .all(|s| s.health == Health::Unknown && s.reason == "connection refused")
    );
}
