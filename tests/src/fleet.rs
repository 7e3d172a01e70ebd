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

/// Objects by the list path they are served under.
pub type ObjectsByPath = Vec<(&'static str, Vec<Value>)>;

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
        self.placed_files(base, &[])
    }

    /// [`Fleet::files`] with tenant `i` placed on `clusters[i % clusters.len()]` (by name, as an
    /// admin would), when `clusters` is not empty; `base`'s catalog must list them.
    pub fn placed_files(&self, base: &RepoFiles, clusters: &[String]) -> RepoFiles {
        let mut files = base.clone();
        for i in 0..self.tenants {
            let mut body = json!({"name": tenant_name(i), "tier": "premium", "envs": self.envs, "modules": self.modules});
            if let Some(cluster) = cluster_of(i, clusters) {
                let placed: serde_json::Map<String, Value> = self
                    .envs
                    .iter()
                    .map(|e| (e.to_string(), json!(cluster)))
                    .collect();
                body["clusters"] = Value::Object(placed);
            }
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

    /// The fleet's objects when it is spread over `clusters` as [`Fleet::placed_files`] places
    /// it: every Application on the hub (named and labelled with its cluster, as the
    /// ApplicationSets make them), and each cluster's workloads and Ingresses on it.
    pub fn placed_objects(
        &self,
        revision: &str,
        clusters: &[String],
    ) -> (Vec<Value>, Vec<ObjectsByPath>) {
        let mut applications = Vec::new();
        let mut members = Vec::new();
        for (c, cluster) in clusters.iter().enumerate() {
            let part = Fleet {
                tenants: 0,
                ..self.clone()
            };
            let mine: Vec<usize> = (0..self.tenants)
                .filter(|i| i % clusters.len() == c)
                .collect();
            let mut objects = part.objects_of(&mine, revision);
            let apps = objects.remove(0).1;
            applications.extend(apps.into_iter().map(|mut app| {
                let name = app["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let (tenant_env, module) = split_application_name(&name, &self.modules);
                app["metadata"]["name"] = json!(format!("{tenant_env}-{cluster}{module}"));
                app["metadata"]["labels"]["berth.dev/cluster"] = json!(cluster);
                app["spec"]["destination"]["name"] = json!(cluster);
                app
            }));
            members.push(objects);
        }
        (applications, members)
    }

    /// What the cluster runs for the fleet, everything healthy at `revision`, by list path:
    /// an Application per tenant-env and per module, a StatefulSet for postgres, a Deployment
    /// for every other module, an Ingress for monitoring.
    pub fn objects(&self, revision: &str) -> ObjectsByPath {
        self.objects_of(&(0..self.tenants).collect::<Vec<_>>(), revision)
    }

    /// [`Fleet::objects`] of the tenants numbered `tenants` only.
    fn objects_of(&self, tenants: &[usize], revision: &str) -> ObjectsByPath {
        let (mut apps, mut deployments, mut statefulsets, mut ingresses) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for &i in tenants {
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

/// The cluster tenant `i` is placed on, when there are clusters.
fn cluster_of(i: usize, clusters: &[String]) -> Option<&str> {
    (!clusters.is_empty()).then(|| clusters[i % clusters.len()].as_str())
}

/// `<tenant>-<env>` and `-<module>` (or nothing) of an Application `<tenant>-<env>[-<module>]`.
fn split_application_name(name: &str, modules: &[&str]) -> (String, String) {
    for module in modules {
        if let Some(base) = name.strip_suffix(&format!("-{module}")) {
            return (base.to_owned(), format!("-{module}"));
        }
    }
    (name.to_owned(), String::new())
}

/// The `clusters:` of a catalog with each of `clusters` (name, server URL) serving `envs`,
/// taking `capacity` tenant-envs, its token in the environment variable `token_env`.
pub fn clusters_catalog(
    clusters: &[(String, String)],
    envs: &[&str],
    capacity: usize,
    token_env: &str,
) -> String {
    let mut yaml = String::from("clusters:\n");
    for (name, url) in clusters {
        yaml.push_str(&format!(
            "  - name: {name}\n    environments: [{}]\n    capacity: {capacity}\n    access: {{server: {url}, token_env: {token_env}}}\n",
            envs.join(", ")
        ));
    }
    yaml
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
