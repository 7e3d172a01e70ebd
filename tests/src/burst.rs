//! A burst of concurrent API requests against one repository, each through an API instance of
//! its own (its own committer cache and store client, as separate Lambda invocations have),
//! sharing one DynamoDB table on moto's server (or, as in one `berth dev` process, one local
//! store file). Used by the group commit tests and by `scripts/bench burst`; only ever talks to
//! 127.0.0.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use berth_gitops::github::wire::RepoName;
use berth_gitops::{
    Committer, Git2Committer, Git2Config, GithubCommitter, GithubConfig, GithubCredential,
    RemoteUrl,
};
use berth_http::auth::{Role, TokenGrant};
use berth_http::{ApiConfig, AppState, api_router};
use berth_store::{DynamoStore, LocalStore, Store};
use berth_usecases::write::group_commit::GroupCommit;
use serde_json::Value;
use tower::ServiceExt;

use crate::git::GitDaemon;
use crate::github::GithubServer;

/// The bearer token every burst instance accepts.
pub const BURST_ADMIN: &str = "burst-admin-token-0123456789";
const GITHUB_TOKEN: &str = "burst-github-token-0123456789";

/// Where the burst commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The GitHub committer against the GitHub test server.
    Github,
    /// The Git2 committer against `git daemon`.
    GitDaemon,
}

/// One repository, its server, and the table the instances share.
pub struct Burst {
    pub backend: Backend,
    pub repo: PathBuf,
    pub github: Option<GithubServer>,
    daemon: Option<GitDaemon>,
    work: PathBuf,
    store: SharedStore,
    /// The seed commit, before the burst.
    pub seed: String,
}

/// The store the instances share.
enum SharedStore {
    /// One table on a DynamoDB endpoint; each instance has a client of its own.
    Dynamo { endpoint: String, table: String },
    /// One local store file, opened by each instance (they share it, as in `berth dev`).
    Local(PathBuf),
}

/// One request's answer, and how long it took.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub latency: Duration,
}

impl Burst {
    /// Seeds a bare repository under `dir`, serves it, and creates a fresh table on
    /// `endpoint` (moto's server).
    pub async fn start(backend: Backend, dir: &Path, endpoint: &str) -> Self {
        Self::start_on_table(backend, dir, endpoint, true).await
    }

    /// Like [`Burst::start`], on an emulator without TTL (dynalite, which `scripts/bench burst`
    /// measures beside moto).
    pub async fn start_without_ttl(backend: Backend, dir: &Path, endpoint: &str) -> Self {
        Self::start_on_table(backend, dir, endpoint, false).await
    }

    async fn start_on_table(backend: Backend, dir: &Path, endpoint: &str, ttl: bool) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let table = format!("berth-burst-{}-{n}", std::process::id());
        let client = berth_store::dynamodb_client(Some(endpoint));
        let created = if ttl {
            berth_store::create_table(&client, &table).await
        } else {
            berth_store::create_table_without_ttl(&client, &table)
                .await
                .map(|_| ())
        };
        created.expect("create the table on the DynamoDB emulator");
        let store = SharedStore::Dynamo {
            endpoint: endpoint.to_owned(),
            table,
        };
        Self::serve(backend, dir, store).await
    }

    /// Like [`Burst::start`], with the instances sharing one local store file under `dir`, as
    /// the requests of one `berth dev` process do.
    pub async fn start_with_local_store(backend: Backend, dir: &Path) -> Self {
        Self::serve(backend, dir, SharedStore::Local(dir.join("store.json"))).await
    }

    async fn serve(backend: Backend, dir: &Path, store: SharedStore) -> Self {
        let repo = crate::git::seed_repo(dir, "burst");
        let (github, daemon) = match backend {
            Backend::Github => (
                Some(GithubServer::start(repo.clone(), GITHUB_TOKEN).await),
                None,
            ),
            Backend::GitDaemon => {
                count_pushes(&repo);
                (None, Some(GitDaemon::start(dir)))
            }
        };
        let seed = crate::git::git(&repo, &["rev-parse", "main"])
            .trim()
            .to_owned();
        Self {
            backend,
            repo,
            github,
            daemon,
            work: dir.join("work"),
            store,
            seed,
        }
    }

    /// A store client of its own on the shared table (or the shared local store).
    pub fn store(&self) -> Arc<dyn Store> {
        match &self.store {
            SharedStore::Dynamo { endpoint, table } => {
                let client = berth_store::dynamodb_client(Some(endpoint));
                Arc::new(DynamoStore::new(client, table.clone()))
            }
            SharedStore::Local(path) => {
                Arc::new(LocalStore::open(path).expect("open the local store"))
            }
        }
    }

    /// A committer with a cache of its own.
    pub fn committer(&self, n: usize) -> Arc<dyn Committer> {
        match (&self.github, &self.daemon) {
            (Some(server), _) => {
                let config = GithubConfig::new(
                    server.url.clone(),
                    RepoName {
                        owner: "acme".into(),
                        name: "gitops".into(),
                    },
                    "main",
                    GithubCredential::Token(GITHUB_TOKEN.to_owned().into()),
                );
                Arc::new(GithubCommitter::new(config).expect("a GitHub committer"))
            }
            (None, Some(daemon)) => {
                let remote = RemoteUrl::parse(&daemon.url("burst")).expect("remote");
                let work = self.work.join(format!("instance-{n}"));
                Arc::new(Git2Committer::new(Git2Config::new(remote, "main", work)))
            }
            (None, None) => unreachable!("a burst has a server"),
        }
    }

    /// API instance `n`: its own committer and store client; group commit as `group` says.
    pub fn instance(&self, n: usize, group: Option<GroupCommit>) -> Router {
        let config = ApiConfig::new(vec![TokenGrant::new(BURST_ADMIN, Role::Admin, None)]);
        let mut app = AppState::new(self.committer(n), self.store(), config);
        app.app.group_commit = group;
        api_router(app)
    }

    /// Commits on main since the seed.
    pub fn commits(&self) -> usize {
        let range = format!("{}..main", self.seed);
        crate::git::git(&self.repo, &["rev-list", "--count", &range])
            .trim()
            .parse()
            .expect("a count")
    }

    /// How many pushes reached `git daemon` (each landed a commit or lost a race); `None` on
    /// GitHub, whose server counts its calls itself.
    pub fn pushes(&self) -> Option<usize> {
        self.daemon.as_ref()?;
        let log = std::fs::read_to_string(self.repo.join(PUSH_LOG)).unwrap_or_default();
        Some(log.lines().count())
    }

    /// Commit attempts that lost their race: GitHub's refused commit mutations, or the pushes
    /// `git daemon` got that landed no commit.
    pub fn lost_races(&self) -> usize {
        match (&self.github, self.pushes()) {
            (Some(server), _) => server.stale_commits(),
            (None, pushes) => pushes.unwrap_or_default().saturating_sub(self.commits()),
        }
    }

    /// The message of every commit on main since the seed, with its id.
    pub fn messages(&self) -> Vec<(String, String)> {
        let range = format!("{}..main", self.seed);
        let log = crate::git::git(&self.repo, &["log", "--format=%H%n%B%x00", &range]);
        log.split('\0')
            .filter_map(|entry| {
                let entry = entry.trim_start();
                let (sha, message) = entry.split_once('\n')?;
                Some((sha.to_owned(), message.to_owned()))
            })
            .collect()
    }
}

/// The file, in the bare repository, where its `pre-receive` hook appends one line per push.
const PUSH_LOG: &str = "pushes.log";

/// Installs a `pre-receive` hook that counts pushes. receive-pack runs it for every push before
/// it checks the ref's expected old value, so a push that loses a race is counted too.
fn count_pushes(repo: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let hook = repo.join("hooks").join("pre-receive");
    std::fs::create_dir_all(repo.join("hooks")).expect("a hooks folder");
    // The hook runs in the bare repository, its GIT_DIR.
    std::fs::write(&hook, format!("#!/bin/sh\necho push >> {PUSH_LOG}\n")).expect("the hook");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Sends one JSON request to `router` as its client would.
pub async fn send(
    router: Router,
    method: &str,
    path: &str,
    body: &Value,
    idempotency_key: Option<&str>,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {BURST_ADMIN}"))
        .header("content-type", "application/json");
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let request = request
        .body(Body::from(body.to_string()))
        .expect("a request");
    send_request(router, request).await
}

/// Sends `request` to `router`; the answer's body read as JSON (`null` when it is not).
pub async fn send_request(router: Router, request: Request<Body>) -> Answer {
    let started = Instant::now();
    let response = router.oneshot(request).await.expect("the router answers");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        latency: started.elapsed(),
    }
}

/// The body creating tenant `name`.
pub fn create_body(name: &str) -> Value {
    serde_json::json!({"name": name, "tier": "standard", "envs": ["dev"]})
}
