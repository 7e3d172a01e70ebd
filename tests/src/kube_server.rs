//! A Kubernetes API test server on 127.0.0.1: list endpoints for Deployments, StatefulSets,
//! Ingresses and Argo CD Applications with the API server's JSON, label selectors (`key`,
//! `key=value`), `limit` and `continue` paging, 410 Gone for an expired continue token, an
//! optional bearer token, a count of every call, and how many lists were answered at once.
//! Each object is rendered to JSON once, when it is added: a page is those renderings joined, so
//! the server's own cost stays small beside the client's in `scripts/bench status`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// An object, and its JSON as a list page carries it.
struct Stored {
    object: Value,
    json: Arc<str>,
}

impl Stored {
    fn new(object: Value) -> Self {
        let json = object.to_string().into();
        Self { object, json }
    }
}

#[derive(Default)]
struct Cluster {
    /// Objects per list path (`apps/v1/deployments`, ...), in name order.
    objects: BTreeMap<String, Vec<Stored>>,
    /// Bumped to expire every continue token handed out so far.
    generation: u64,
    /// Expire the tokens right after answering these call numbers (1-based, all paths).
    expire_after_calls: Vec<usize>,
    total_calls: usize,
    calls: BTreeMap<String, usize>,
    /// When set, every call must carry `Authorization: Bearer <token>`.
    token: Option<String>,
    /// How long each list call is held before it is answered (zero: not held).
    hold: std::time::Duration,
    in_flight: usize,
    most_in_flight: usize,
}

pub struct KubeServer {
    pub url: String,
    cluster: Arc<Mutex<Cluster>>,
    task: JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl KubeServer {
    pub async fn start() -> Self {
        let cluster = Arc::new(Mutex::new(Cluster::default()));
        let router = Router::new()
            .route("/apis/{group}/{version}/{plural}", get(list))
            .route("/version", get(version))
            .with_state(Arc::clone(&cluster));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.changed().await;
            };
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Self {
            url,
            cluster,
            task,
            stop,
        }
    }

    /// Stops serving, as a cluster that went away: the port is closed and the connections
    /// clients keep open are closed too.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Adds an object under `apis/<group>/<version>/<plural>`.
    pub fn add(&self, path: &str, object: Value) {
        self.add_all(path, vec![object]);
    }

    /// Adds many objects at once (one sort, for large fleets).
    pub fn add_all(&self, path: &str, objects: Vec<Value>) {
        let mut cluster = self.cluster.lock().expect("lock");
        let list = cluster.objects.entry(path.to_owned()).or_default();
        list.extend(objects.into_iter().map(Stored::new));
        list.sort_by(|a, b| key(&a.object).cmp(&key(&b.object)));
    }

    /// Replaces the object with the same namespace and name (adds it when absent), as an
    /// update through the API server would.
    pub fn replace(&self, path: &str, object: Value) {
        let mut cluster = self.cluster.lock().expect("lock");
        let list = cluster.objects.entry(path.to_owned()).or_default();
        match list.iter_mut().find(|o| key(&o.object) == key(&object)) {
            Some(existing) => *existing = Stored::new(object),
            None => {
                list.push(Stored::new(object));
                list.sort_by(|a, b| key(&a.object).cmp(&key(&b.object)));
            }
        }
    }

    /// What Argo CD and the postgres chart leave once `commit` syncs a tenant-env that runs
    /// postgres: the env's and the module's Applications healthy at it, and the database's
    /// StatefulSet with `ready` of `replicas` up.
    pub fn sync_postgres(&self, tenant: &str, env: &str, commit: &str, replicas: i32, ready: i32) {
        use crate::fleet;
        self.replace(
            fleet::APPLICATIONS,
            fleet::application(tenant, env, None, commit, "Healthy"),
        );
        self.replace(
            fleet::APPLICATIONS,
            fleet::application(tenant, env, Some("postgres"), commit, "Healthy"),
        );
        self.replace(
            fleet::STATEFULSETS,
            fleet::statefulset(tenant, env, "postgres", replicas, ready),
        );
    }

    /// Removes the object `namespace/name` under `path`.
    pub fn remove(&self, path: &str, namespace: &str, name: &str) {
        let mut cluster = self.cluster.lock().expect("lock");
        if let Some(list) = cluster.objects.get_mut(path) {
            list.retain(|o| key(&o.object) != (Some(namespace), Some(name)));
        }
    }

    /// Requires `Authorization: Bearer <token>` on every call from now on.
    pub fn require_token(&self, token: &str) {
        self.cluster.lock().expect("lock").token = Some(token.to_owned());
    }

    /// Makes every continue token handed out so far expire (the server compacted).
    pub fn expire_continue_tokens(&self) {
        self.cluster.lock().expect("lock").generation += 1;
    }

    /// Expires every token right after answering the given calls (counted over all paths from
    /// now on), as a compaction in the middle of a list would.
    pub fn expire_after_calls(&self, calls: &[usize]) {
        let mut cluster = self.cluster.lock().expect("lock");
        let base = cluster.total_calls;
        cluster.expire_after_calls = calls.iter().map(|c| base + c).collect();
    }

    /// Every call made so far, all paths together.
    pub fn total_calls(&self) -> usize {
        let cluster = self.cluster.lock().expect("lock");
        cluster.calls.values().sum()
    }

    /// Holds every list call for `hold` before answering it, so calls made side by side overlap.
    pub fn hold_lists(&self, hold: std::time::Duration) {
        self.cluster.lock().expect("lock").hold = hold;
    }

    /// The most list calls the server was answering at one time.
    pub fn most_lists_at_once(&self) -> usize {
        self.cluster.lock().expect("lock").most_in_flight
    }

    pub fn calls(&self, path: &str) -> usize {
        self.cluster
            .lock()
            .expect("lock")
            .calls
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for KubeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key(object: &Value) -> (Option<&str>, Option<&str>) {
    let meta = &object["metadata"];
    (meta["namespace"].as_str(), meta["name"].as_str())
}

fn unauthorized() -> (StatusCode, Json<Value>) {
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
    (StatusCode::UNAUTHORIZED, Json(status))
}

fn authorized(cluster: &Cluster, headers: &HeaderMap) -> bool {
    let Some(token) = &cluster.token else {
        return true;
    };
    let expected = format!("Bearer {token}");
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected)
}

async fn version(
    State(cluster): State<Arc<Mutex<Cluster>>>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let mut cluster = cluster.lock().expect("lock");
    *cluster.calls.entry("version".into()).or_default() += 1;
    if !authorized(&cluster, &headers) {
        return unauthorized();
    }
    (
        StatusCode::OK,
        Json(
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"}),
        ),
    )
}

fn matches(object: &Value, selector: Option<&String>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    selector.split(',').all(|term| {
        let labels = &object["metadata"]["labels"];
        match term.split_once('=') {
            Some((key, value)) => labels[key].as_str() == Some(value),
            None => labels.get(term).is_some(),
        }
    })
}

async fn list(
    State(cluster): State<Arc<Mutex<Cluster>>>,
    Path((group, version, plural)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let hold = {
        let mut cluster = cluster.lock().expect("lock");
        cluster.in_flight += 1;
        cluster.most_in_flight = cluster.most_in_flight.max(cluster.in_flight);
        cluster.hold
    };
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    let answer = {
        let mut cluster = cluster.lock().expect("lock");
        let answer = answer_list(&mut cluster, (group, version, plural), &query, &headers);
        cluster.in_flight -= 1;
        answer
    };
    // The page is joined outside the lock, so lists of other kinds are answered meanwhile.
    match answer {
        Ok(page) => page.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// A page of a list: its envelope's fields and the JSON of its objects.
struct Page {
    api_version: String,
    kind: &'static str,
    metadata: Value,
    items: Vec<Arc<str>>,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let head = format!(
            r#"{{"apiVersion":{},"kind":{},"metadata":{},"items":"#,
            Value::from(self.api_version),
            Value::from(self.kind),
            self.metadata
        );
        let mut body = String::with_capacity(
            head.len() + self.items.iter().map(|i| i.len() + 1).sum::<usize>() + 3,
        );
        body.push_str(&head);
        body.push('[');
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(item);
        }
        body.push_str("]}");
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

fn answer_list(
    cluster: &mut Cluster,
    (group, version, plural): (String, String, String),
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
) -> Result<Page, (StatusCode, Json<Value>)> {
    let path = format!("{group}/{version}/{plural}");
    *cluster.calls.entry(path.clone()).or_default() += 1;
    cluster.total_calls += 1;
    if !authorized(cluster, headers) {
        return Err(unauthorized());
    }
    let generation = cluster.generation;
    if cluster.expire_after_calls.contains(&cluster.total_calls) {
        cluster.generation += 1;
    }
    let offset = match query.get("continue") {
        None => 0,
        Some(token) => match token
            .split_once(':')
            .and_then(|(g, o)| Some((g.parse::<u64>().ok()?, o.parse::<usize>().ok()?)))
        {
            Some((g, o)) if g == generation => o,
            _ => {
                let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "The provided continue parameter is too old to display a consistent list result.",
                    "reason": "Expired", "code": 410});
                return Err((StatusCode::GONE, Json(status)));
            }
        },
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let mut selected = cluster
        .objects
        .get(&path)
        .into_iter()
        .flatten()
        .filter(|o| matches(&o.object, query.get("labelSelector")))
        .skip(offset);
    let page: Vec<Arc<str>> = selected
        .by_ref()
        .take(limit)
        .map(|o| Arc::clone(&o.json))
        .collect();
    let next = offset + page.len();
    let mut metadata = json!({"resourceVersion": generation.to_string()});
    if selected.next().is_some() {
        metadata["continue"] = json!(format!("{generation}:{next}"));
    }
    let kind = match plural.as_str() {
        "deployments" => "DeploymentList",
        "statefulsets" => "StatefulSetList",
        "ingresses" => "IngressList",
        _ => "ApplicationList",
    };
    Ok(Page {
        api_version: format!("{group}/{version}"),
        kind,
        metadata,
        items: page,
    })
}

/// A cluster connector to the server at `server_url` with bearer `token`, from the variables the
/// status Lambda reads.
pub fn connector(server_url: &str, token: &str) -> Arc<berth_cluster::ClusterConnector> {
    let vars = [
        ("BERTH_KUBE_SERVER", server_url.to_owned()),
        ("BERTH_KUBE_TOKEN", token.to_owned()),
    ];
    let source = berth_cluster::ClusterSource::from_env(|k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .expect("valid cluster settings")
    .expect("a cluster source");
    Arc::new(berth_cluster::ClusterConnector::new(source))
}
