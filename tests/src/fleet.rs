//! A fleet of tenants for sweep tests and `scripts/bench status`: their Git files as Berth's
//! planner renders them, and the objects Argo CD and the charts would put in the cluster for
//! them (Applications, Deployments, StatefulSets, Ingresses with Berth's labels), as the API
//! server's JSON.

use berth_core::body::parse_create_tenant;
use berth_core::{Action, RepoFiles, Request, plan};
use serde_json::{Value, json};

pub const APPLICATIONS: &str = "argoproj.io/v1alpha1/applications";
pub const DEPLOYMENTS: &str = "apps/v1/deployments";
pub const STATEFULSETS: &str = "apps/v1/statefulsets";
pub const INGRESSES: &str = "networking.k8s.io/v1/ingresses";

/// Tenants `t00000`.., each with the same environments and modules.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub tenants: usize,
    pub envs: Vec<&'static str>,
    pub modules: Vec<&'static str>,
}

pub fn tenant_name(i: usize) -> String {
    format!("t{i:05}")
}

fn labels(tenant: &str, env: &str, module: Option<&str>) -> Value {
    let mut labels = json!({"berth.dev/tenant": tenant, "berth.dev/env": env,
                            "app.kubernetes.io/managed-by": "Helm"});
    if let Some(m) = module {
        labels["berth.dev/module"] = json!(m);
        labels["app.kubernetes.io/name"] = json!(m);
    }
    labels
}

/// An Argo CD Application as the ApplicationSets generate it, with the status Argo CD writes.
pub fn application(
    tenant: &str,
    env: &str,
    module: Option<&str>,
    revision: &str,
    health: &str,
) -> Value {
    let name = match module {
        Some(m) => format!("{tenant}-{env}-{m}"),
        None => format!("{tenant}-{env}"),
    };
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": labels(tenant, env, module)},
        "spec": {"project": "berth-tenants", "destination": {"namespace": format!("{tenant}-{env}")}},
        "status": {"health": {"status": health},
                   "sync": {"status": "Synced", "revision": revision},
                   "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                                      "syncResult": {"revision": revision}}}})
}

/// A Deployment of `replicas`, `ready` of them ready, its rollout finished.
pub fn deployment(tenant: &str, env: &str, module: &str, replicas: i32, ready: i32) -> Value {
    let selector = json!({"app.kubernetes.io/name": module});
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": module, "namespace": format!("{tenant}-{env}"), "generation": 3,
                     "labels": labels(tenant, env, Some(module))},
        "spec": {"replicas": replicas, "selector": {"matchLabels": selector},
                 "template": {"metadata": {"labels": selector},
                              "spec": {"containers": [{"name": module, "image": format!("registry.example/berth/{module}:1.0")}]}}},
        "status": {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": ready, "availableReplicas": ready,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}})
}

/// A StatefulSet of `replicas`, all updated, `ready` of them ready.
pub fn statefulset(tenant: &str, env: &str, module: &str, replicas: i32, ready: i32) -> Value {
    let selector = json!({"app.kubernetes.io/name": module});
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": module, "namespace": format!("{tenant}-{env}"), "generation": 2,
                     "labels": labels(tenant, env, Some(module))},
        "spec": {"replicas": replicas, "serviceName": module, "selector": {"matchLabels": selector},
                 "updateStrategy": {"type": "RollingUpdate"},
                 "template": {"metadata": {"labels": selector},
                              "spec": {"containers": [{"name": module, "image": "postgres:16"}]}}},
        "status": {"observedGeneration": 2, "replicas": replicas, "readyReplicas": ready,
                   "currentReplicas": replicas, "updatedReplicas": replicas,
                   "currentRevision": format!("{module}-7c9"), "updateRevision": format!("{module}-7c9")}})
}

/// An Ingress for `host`, with TLS.
pub fn ingress(tenant: &str, env: &str, module: &str, host: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": module, "namespace": format!("{tenant}-{env}"), "labels": labels(tenant, env, Some(module))},
        "spec": {"tls": [{"hosts": [host], "secretName": format!("{module}-tls")}],
                 "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": module, "port": {"number": 80}}}}]}}]}})
}

/// The host of a module's Ingress in the fleet (monitoring only).
pub fn host(tenant: &str, env: &str, module: &str) -> String {
    format!("{module}.{tenant}-{env}.apps.example.com")
}

impl Fleet {
    /// Every tenant's files, rendered by the planner (premium tier, so every module is allowed),
    /// on top of `base` (the charts and the catalog).
    pub fn files(&self, base: &RepoFiles) -> RepoFiles {
        let mut files = base.clone();
        for i in 0..self.tenants {
            let body = json!({"name": tenant_name(i), "tier": "premium", "envs": self.envs, "modules": self.modules});
            let (tenant, new) = parse_create_tenant(&body).expect("a valid tenant");
            let request = Request {
                id: format!("01FLEET{i:05}"),
                tenant,
                action: Action::CreateTenant(new),
            };
            let change = plan(&request, base).expect("the planner accepts the fleet");
            files.extend(change.writes);
        }
        files
    }

    /// What the cluster runs for the fleet, everything healthy at `revision`, by list path:
    /// an Application per tenant-env and per module, a StatefulSet for postgres, a Deployment
    /// for every other module, an Ingress for monitoring.
    pub fn objects(&self, revision: &str) -> Vec<(&'static str, Vec<Value>)> {
        let (mut apps, mut deployments, mut statefulsets, mut ingresses) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..self.tenants {
            let t = tenant_name(i);
            for env in &self.envs {
                apps.push(application(&t, env, None, revision, "Healthy"));
                for m in &self.modules {
                    apps.push(application(&t, env, Some(m), revision, "Healthy"));
                    match *m {
                        "postgres" => statefulsets.push(statefulset(&t, env, m, 1, 1)),
                        _ => deployments.push(deployment(&t, env, m, 2, 2)),
                    }
                    if *m == "monitoring" {
                        ingresses.push(ingress(&t, env, m, &host(&t, env, m)));
                    }
                }
            }
        }
        vec![
            (APPLICATIONS, apps),
            (DEPLOYMENTS, deployments),
            (STATEFULSETS, statefulsets),
            (INGRESSES, ingresses),
        ]
    }
}

/// A fleet running: its desired state in a bare repository, its objects in a Kubernetes API
/// test server that accepts only `token`.
pub struct RunningFleet {
    pub repo: std::path::PathBuf,
    /// The commit the repository's `main` holds, which the objects report as synced.
    pub revision: String,
    pub kube: crate::kube_server::KubeServer,
}

impl Fleet {
    /// Seeds `<dir>/fleet.git` with this project's charts and catalog and the fleet's files,
    /// and serves the fleet's objects at that revision.
    pub async fn run(&self, dir: &std::path::Path, token: &str) -> RunningFleet {
        let repo = dir.join("fleet.git");
        let revision = berth_gitops::seed_bare_repository(
            &repo,
            "main",
            &self.files(&crate::git::project_charts_and_catalog()),
            "Fleet",
        )
        .expect("seed the fleet's repository");
        let kube = crate::kube_server::KubeServer::start().await;
        kube.require_token(token);
        for (path, objects) in self.objects(&revision) {
            kube.add_all(path, objects);
        }
        RunningFleet {
            repo,
            revision,
            kube,
        }
    }
}
