//! A GitHub API test server on 127.0.0.1 over a real bare repository: GraphQL (validated against
//! GitHub's published schema and executed against the repository, see [`graphql`]) and the REST
//! routes Berth calls, in GitHub's wire shapes, with its rate-limit headers on every answer.
//! Every commit it makes is a real Git commit the `git` CLI reads. Switches inject GitHub's
//! faults: a branch moved between read and write, a commit applied and then answered 502, a
//! slow answer, rate limits. It counts every call it receives.

mod access;
mod comments;
pub mod graphql;
pub mod pulls;
mod rest;

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub use self::graphql::{BLOB_TEXT_LIMIT, github_schema};
pub use self::rest::RecordedStatus;

/// The repository the server holds, as `owner/name`.
pub const REPOSITORY: &str = "acme/gitops";

/// One call the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// The GraphQL operation's name, for `POST /graphql`.
    pub operation: Option<String>,
    /// The GraphQL variables, for `POST /graphql`.
    pub variables: Option<Value>,
}

/// A rate limit the next call is refused with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// A secondary limit: 403 `You have exceeded a secondary rate limit`, with `retry-after`
    /// when given.
    Secondary { retry_after: Option<u64> },
    /// GraphQL's primary limit: HTTP 200, `RATE_LIMITED`, `x-ratelimit-remaining: 0` and a
    /// reset this many seconds from now.
    Graphql { reset_in: u64 },
}

/// Faults to inject, each used once.
#[derive(Debug, Default)]
struct Faults {
    /// Another writer's commits, landed just before the next commit mutations apply.
    races: VecDeque<(String, Vec<u8>)>,
    /// Commit mutations to apply and then answer 502 with a gateway's HTML page.
    lost_answers: u32,
    /// Calls to carry out and answer only after this long.
    delays: VecDeque<Duration>,
    /// Every call is answered this much later, as a GitHub across a network would be.
    latency: Duration,
    rate_limits: VecDeque<RateLimit>,
    blob_text_limit: Option<usize>,
    /// Calls (method, path ending) to answer 502 without carrying them out.
    failing_routes: Vec<(String, String)>,
    /// Pull requests are mergeable at once: enabling auto-merge is refused as GitHub refuses
    /// it then (`clean status`).
    clean_status: bool,
}

#[derive(Default)]
struct Recorded {
    calls: Vec<Call>,
    statuses: Vec<RecordedStatus>,
}

struct Shared {
    repo: PathBuf,
    token: String,
    recorded: Mutex<Recorded>,
    faults: Mutex<Faults>,
    /// Writes to the repository go one at a time, as GitHub serialises a ref's updates.
    writes: Mutex<()>,
    pulls: Mutex<Vec<pulls::Pull>>,
    labels: Mutex<BTreeSet<String>>,
    /// Issue and pull-request comments, in the order they were created.
    comments: Mutex<Vec<comments::Comment>>,
    app: Mutex<AppTokens>,
    /// Commit mutations refused with `STALE_DATA`: races lost by their writers.
    stale_commits: std::sync::atomic::AtomicUsize,
    /// Path histories already listed, by start commit and path: pages of one history are
    /// then slices, not walks of the whole branch each.
    histories: graphql::Histories,
    /// Read-only credentials and protected branches.
    access: Mutex<access::AccessRules>,
}

/// The test GitHub App: its id, installation, and the installation tokens minted.
#[derive(Debug)]
struct AppTokens {
    app_id: u64,
    installation_id: u64,
    /// Valid tokens and when they stop being valid (epoch seconds).
    minted: Vec<(String, u64)>,
    mints: usize,
    lifetime: Duration,
}

/// The test GitHub App's id and installation, whose key is `tests/fixtures/github/test-app.pem`.
pub const TEST_APP_ID: u64 = 4242;
pub const TEST_INSTALLATION_ID: u64 = 777;

#[derive(Clone)]
struct ServerState(Arc<Shared>);

/// Which entry of the call log a request is.
#[derive(Clone, Copy)]
struct CallIndex(usize);

pub struct GithubServer {
    pub url: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl GithubServer {
    /// Serves GitHub's API for the bare repository at `repo` (as [`REPOSITORY`]), accepting
    /// `token`.
    pub async fn start(repo: PathBuf, token: &str) -> Self {
        let shared = Arc::new(Shared {
            repo,
            token: token.to_owned(),
            recorded: Mutex::new(Recorded::default()),
            faults: Mutex::new(Faults::default()),
            writes: Mutex::new(()),
            pulls: Mutex::new(Vec::new()),
            labels: Mutex::new(BTreeSet::new()),
            comments: Mutex::new(Vec::new()),
            app: Mutex::new(AppTokens {
                app_id: TEST_APP_ID,
                installation_id: TEST_INSTALLATION_ID,
                minted: Vec::new(),
                mints: 0,
                lifetime: Duration::from_secs(3600),
            }),
            stale_commits: Default::default(),
            histories: Default::default(),
            access: Default::default(),
        });
        let state = ServerState(Arc::clone(&shared));
        let router = Router::new()
            .route("/graphql", post(graphql_route))
            .route(
                "/app/installations/{installation}/access_tokens",
                post(installation_token),
            )
            .route(
                "/repos/{owner}/{repo}/statuses/{sha}",
                post(rest::create_status),
            )
            .route("/repos/{owner}/{repo}", get(access::get_repository))
            .route(
                "/repos/{owner}/{repo}/branches/{*branch}",
                get(access::get_branch),
            )
            .route("/repos/{owner}/{repo}/git/blobs/{sha}", get(rest::get_blob))
            .route("/repos/{owner}/{repo}/git/refs", post(rest::create_ref))
            .route(
                "/repos/{owner}/{repo}/git/refs/heads/{*branch}",
                patch(rest::update_ref),
            )
            .route(
                "/repos/{owner}/{repo}/compare/{basehead}",
                get(rest::compare),
            )
            .route(
                "/repos/{owner}/{repo}/pulls",
                post(pulls::create).get(pulls::list),
            )
            .route("/repos/{owner}/{repo}/pulls/{number}", get(rest::get_pull))
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/merge",
                put(pulls::merge_route),
            )
            .route("/repos/{owner}/{repo}/labels", post(pulls::create_label))
            .route(
                "/repos/{owner}/{repo}/issues/{number}/labels",
                post(pulls::add_labels),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/files",
                get(rest::pull_files),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                get(comments::list).post(comments::create),
            )
            .route(
                "/repos/{owner}/{repo}/issues/comments/{id}",
                patch(comments::update),
            )
            .layer(from_fn_with_state(state.clone(), gate))
            .with_state(state);
        let (url, task) = crate::serve::serve_loopback(router).await;
        Self { url, shared, task }
    }

    /// Makes every credential read-only: writes are refused as GitHub refuses them, and the
    /// App's tokens carry `contents: read`.
    pub fn set_read_only(&self) {
        self.shared.access.lock().expect("lock").read_only = true;
    }

    /// Protects `branch`: changes to it only through a pull request.
    pub fn protect_branch(&self, branch: &str) {
        self.shared
            .access
            .lock()
            .expect("lock")
            .protected
            .insert(branch.to_owned());
    }

    /// Every call received, in order.
    pub fn call_log(&self) -> Vec<Call> {
        self.shared.recorded.lock().expect("lock").calls.clone()
    }

    pub fn calls(&self) -> usize {
        self.shared.recorded.lock().expect("lock").calls.len()
    }

    /// How many commit mutations were received.
    pub fn commit_mutations(&self) -> usize {
        self.call_log()
            .iter()
            .filter(|c| c.operation.as_deref() == Some("BerthCommit"))
            .count()
    }

    /// How many commit mutations were refused because the branch had moved (lost races).
    pub fn stale_commits(&self) -> usize {
        self.shared
            .stale_commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The bodies of pull request (or issue) `number`'s comments, oldest first.
    pub fn comments(&self, number: u64) -> Vec<String> {
        self.shared
            .comments
            .lock()
            .expect("lock")
            .iter()
            .filter(|c| c.issue == number)
            .map(|c| c.body.clone())
            .collect()
    }

    pub fn statuses(&self) -> Vec<RecordedStatus> {
        self.shared.recorded.lock().expect("lock").statuses.clone()
    }

    /// Lands another writer's commit of `path` just before the next commit mutation applies.
    pub fn race_next_commit(&self, path: &str, contents: &str) {
        self.faults()
            .races
            .push_back((path.to_owned(), contents.as_bytes().to_vec()));
    }

    /// Applies the next commit mutation, then answers 502 as a failing gateway would.
    pub fn lose_next_commit_answer(&self) {
        self.faults().lost_answers += 1;
    }

    /// Carries out the next call and answers it only after `delay`.
    pub fn delay_next_call(&self, delay: Duration) {
        self.faults().delays.push_back(delay);
    }

    /// Answers every call `latency` after carrying it out, as a GitHub across a network would:
    /// for benchmarks whose figures depend on how a commit's time compares with Berth's own.
    pub fn set_latency(&self, latency: Duration) {
        self.faults().latency = latency;
    }

    /// Refuses the next call with `limit`.
    pub fn rate_limit_next_call(&self, limit: RateLimit) {
        self.faults().rate_limits.push_back(limit);
    }

    /// Answers the next `method` call whose path ends with `path_end` with a gateway's 502,
    /// without carrying it out.
    pub fn fail_next(&self, method: &str, path_end: &str) {
        self.faults()
            .failing_routes
            .push((method.to_owned(), path_end.to_owned()));
    }

    /// Makes every pull request mergeable at once, so GitHub refuses auto-merge on it.
    pub fn set_clean_status(&self) {
        self.faults().clean_status = true;
    }

    /// Cuts `Blob.text` at `limit` bytes instead of GitHub's 512,000.
    pub fn set_blob_text_limit(&self, limit: usize) {
        self.faults().blob_text_limit = Some(limit);
    }

    /// How many installation tokens the test App has minted.
    pub fn installation_tokens_minted(&self) -> usize {
        self.shared.app.lock().expect("lock").mints
    }

    /// Revokes every installation token, as their hour running out does.
    pub fn expire_installation_tokens(&self) {
        self.shared.app.lock().expect("lock").minted.clear();
    }

    /// The private key of the test GitHub App, as GitHub hands it out (PKCS#1 PEM).
    pub fn test_app_private_key() -> String {
        std::fs::read_to_string(crate::project_root().join("tests/fixtures/github/test-app.pem"))
            .expect("the test App's key")
    }

    /// The pull requests opened on the server.
    pub fn pull_requests(&self) -> Vec<pulls::Pull> {
        self.shared.pulls.lock().expect("lock").clone()
    }

    /// The repository's labels.
    pub fn labels(&self) -> BTreeSet<String> {
        self.shared.labels.lock().expect("lock").clone()
    }

    /// Merges pull request `number` as a person would on GitHub; returns the commit its base
    /// got.
    pub fn merge_pull_request(&self, number: u64, method: pulls::MergeMethod) -> String {
        pulls::merge(&ServerState(Arc::clone(&self.shared)), number, method)
            .expect("merge the pull request")
    }

    /// Closes pull request `number` without merging it.
    pub fn close_pull_request(&self, number: u64) {
        let mut pulls = self.shared.pulls.lock().expect("lock");
        if let Some(pull) = pulls.iter_mut().find(|p| p.number == number) {
            pull.open = false;
        }
    }

    /// The `pull_request` webhook body GitHub would send for pull request `number`.
    pub fn pull_request_event(&self, number: u64, action: &str) -> Value {
        let repo = git2::Repository::open_bare(&self.shared.repo).expect("open");
        let pulls = self.shared.pulls.lock().expect("lock");
        pulls
            .iter()
            .find(|p| p.number == number)
            .expect("a pull request of that number")
            .event(&repo, action)
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.shared.faults.lock().expect("lock")
    }
}

impl Drop for GithubServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What every call goes through: counted, authenticated, delayed or rate-limited when a fault
/// says so, and answered with GitHub's rate-limit headers.
async fn gate(State(state): State<ServerState>, mut request: Request, next: Next) -> Response {
    let shared = &state.0;
    let used = {
        let mut recorded = shared.recorded.lock().expect("lock");
        recorded.calls.push(Call {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
            operation: None,
            variables: None,
        });
        recorded.calls.len()
    };
    request.extensions_mut().insert(CallIndex(used - 1));
    let resource = if request.uri().path() == "/graphql" {
        "graphql"
    } else {
        "core"
    };
    let (delay, limit, failing) = {
        let mut faults = shared.faults.lock().expect("lock");
        let (method, path) = (request.method().as_str(), request.uri().path());
        let failing = faults
            .failing_routes
            .iter()
            .position(|(m, end)| m == method && path.ends_with(end.as_str()));
        if let Some(i) = failing {
            faults.failing_routes.remove(i);
        }
        let delay = faults.delays.pop_front().unwrap_or_default() + faults.latency;
        (
            Some(delay).filter(|d| !d.is_zero()),
            faults.rate_limits.pop_front(),
            failing.is_some(),
        )
    };
    let bearer = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    // Minting a token is authenticated by the App's JWT, which its route checks.
    let minting = request.uri().path().starts_with("/app/");
    let authorized = minting || bearer == shared.token || shared.app_token_valid(&bearer);
    let mut response = if !authorized {
        github_error(StatusCode::UNAUTHORIZED, "Bad credentials")
    } else if failing {
        bad_gateway()
    } else if let Some(limit) = limit {
        rate_limited(limit)
    } else {
        next.run(request).await
    };
    // The call is carried out, and only its answer is late: the client may give up first.
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let headers = response.headers_mut();
    // Only GraphQL's primary limit exhausts the budget; a secondary limit leaves it as it was.
    let remaining = if matches!(limit, Some(RateLimit::Graphql { .. })) {
        0
    } else {
        5000usize.saturating_sub(used)
    };
    let reset = match limit {
        Some(RateLimit::Graphql { reset_in }) => epoch_seconds() + reset_in,
        _ => epoch_seconds() + 3600,
    };
    for (name, value) in [
        ("x-ratelimit-limit", "5000".to_owned()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", resource.to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

impl Shared {
    fn app_token_valid(&self, token: &str) -> bool {
        let now = epoch_seconds();
        self.app
            .lock()
            .expect("lock")
            .minted
            .iter()
            .any(|(minted, until)| minted == token && *until > now)
    }
}

/// `POST /app/installations/{id}/access_tokens`: checks the RS256 JWT against the test App's
/// public key and its `iss` against the App's id, then mints an installation token.
async fn installation_token(
    State(state): State<ServerState>,
    axum::extract::Path(installation): axum::extract::Path<u64>,
    headers: axum::http::HeaderMap,
) -> Response {
    let jwt = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let public =
        std::fs::read(crate::project_root().join("tests/fixtures/github/test-app.pub.pem"))
            .expect("the test App's public key");
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).expect("an RSA public key");
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    let Ok(claims) = jsonwebtoken::decode::<Value>(jwt, &key, &validation) else {
        return github_error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    };
    let mut app = state.0.app.lock().expect("lock");
    let issuer = claims.claims["iss"]
        .as_u64()
        .or_else(|| claims.claims["iss"].as_str().and_then(|s| s.parse().ok()));
    if issuer != Some(app.app_id) {
        return github_error(
            StatusCode::UNAUTHORIZED,
            "'Issuer' claim ('iss') must be an Integer",
        );
    }
    if installation != app.installation_id {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    }
    app.mints += 1;
    let permissions = state.0.access.lock().expect("lock").app_permissions();
    let token = format!("ghs_test{:04}", app.mints);
    let until = epoch_seconds() + app.lifetime.as_secs();
    app.minted.push((token.clone(), until));
    let expires_at =
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(until)).to_string();
    (
        StatusCode::CREATED,
        Json(json!({"token": token, "expires_at": expires_at,
                    "permissions": permissions,
                    "repository_selection": "selected"})),
    )
        .into_response()
}

fn rate_limited(limit: RateLimit) -> Response {
    match limit {
        RateLimit::Secondary { retry_after } => {
            let mut response = github_error(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            );
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(seconds));
            }
            response
        }
        RateLimit::Graphql { .. } => Json(json!({
            "errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for installation ID 1."}]
        }))
        .into_response(),
    }
}

/// A failing gateway's answer: 502 and an HTML page.
fn bad_gateway() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [("content-type", "text/html")],
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    )
        .into_response()
}

/// GitHub's REST error body.
fn github_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"message": message, "documentation_url": "https://docs.github.com/rest"})),
    )
        .into_response()
}

/// `POST /graphql`: GitHub's envelope, HTTP 200 for errors that are GraphQL's.
async fn graphql_route(
    State(state): State<ServerState>,
    Extension(CallIndex(index)): Extension<CallIndex>,
    Json(body): Json<Value>,
) -> Response {
    let shared = Arc::clone(&state.0);
    let query = body["query"].as_str().unwrap_or_default().to_owned();
    let operation = body["operationName"].as_str().map(str::to_owned);
    let variables = body["variables"].as_object().cloned().unwrap_or_default();
    let name = operation.clone().or_else(|| operation_name(&query));
    if let Some(call) = shared.recorded.lock().expect("lock").calls.get_mut(index) {
        call.operation = name.clone();
        call.variables = Some(Value::Object(variables.clone()));
    }
    // Mutations write: one at a time.
    let is_commit = query.contains("createCommitOnBranch");
    let is_mutation = query.trim_start().starts_with("mutation");
    let answer = tokio::task::spawn_blocking(move || {
        let _writes = is_mutation.then(|| shared.writes.lock().expect("lock"));
        let repo = git2::Repository::open_bare(&shared.repo).expect("open the bare repository");
        let (race, lose, limit, clean_status) = {
            let mut faults = shared.faults.lock().expect("lock");
            let race = is_commit.then(|| faults.races.pop_front()).flatten();
            let lose = is_commit && faults.lost_answers > 0;
            if lose {
                faults.lost_answers -= 1;
            }
            (
                race,
                lose,
                faults.blob_text_limit.unwrap_or(BLOB_TEXT_LIMIT),
                faults.clean_status,
            )
        };
        let mut ctx = graphql::Context {
            repo: &repo,
            name_with_owner: REPOSITORY,
            variables: &variables,
            blob_text_limit: limit,
            race,
            pulls: &shared.pulls,
            clean_status,
            histories: &shared.histories,
            statuses: shared
                .recorded
                .lock()
                .expect("lock")
                .statuses
                .iter()
                .map(|s| (s.sha.clone(), s.context.clone(), s.state.clone()))
                .collect(),
            access: shared.access.lock().expect("lock").clone(),
        };
        let executed = graphql::execute(&query, operation.as_deref(), &mut ctx);
        if let Ok((_, errors)) = &executed
            && errors.iter().any(|e| e.kind == Some("STALE_DATA"))
        {
            shared
                .stale_commits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        (executed, lose)
    })
    .await
    .expect("GraphQL execution");
    match answer {
        (_, true) => bad_gateway(),
        (Err(problems), _) => Json(json!({
            "errors": problems.iter().map(|m| json!({"message": m})).collect::<Vec<_>>()
        }))
        .into_response(),
        (Ok((data, errors)), _) if errors.is_empty() => Json(json!({"data": data})).into_response(),
        (Ok((data, errors)), _) => {
            let field = data.as_object().and_then(|d| d.keys().next().cloned());
            Json(json!({"data": data, "errors": graphql::errors_json(&errors, field.as_deref())}))
                .into_response()
        }
    }
}

/// `query Name(...)` or `mutation Name(...)`: the operation's name, for the call log.
fn operation_name(query: &str) -> Option<String> {
    let rest = query
        .trim_start()
        .strip_prefix("query")
        .or_else(|| query.trim_start().strip_prefix("mutation"))?;
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}
