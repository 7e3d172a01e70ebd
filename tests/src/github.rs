//! A GitHub API test server on 127.0.0.1: the REST shapes of the calls Berth makes (commit
//! statuses), answered over a real bare repository (a status for a commit the repository does
//! not have is refused as GitHub refuses it), counting every call.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// A commit status as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStatus {
    pub repository: String,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: String,
}

#[derive(Default)]
struct Recorded {
    calls: usize,
    statuses: Vec<RecordedStatus>,
}

#[derive(Clone)]
struct ServerState {
    repo: PathBuf,
    token: String,
    recorded: Arc<Mutex<Recorded>>,
}

pub struct GithubServer {
    pub url: String,
    recorded: Arc<Mutex<Recorded>>,
    task: JoinHandle<()>,
}

impl GithubServer {
    /// Serves GitHub's API for the bare repository at `repo`, accepting `token`.
    pub async fn start(repo: PathBuf, token: &str) -> Self {
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let state = ServerState {
            repo,
            token: token.to_owned(),
            recorded: Arc::clone(&recorded),
        };
        let router = Router::new()
            .route("/repos/{owner}/{repo}/statuses/{sha}", post(create_status))
            .with_state(state);
        let (url, task) = crate::serve::serve_loopback(router).await;
        Self {
            url,
            recorded,
            task,
        }
    }

    pub fn calls(&self) -> usize {
        self.recorded.lock().expect("lock").calls
    }

    pub fn statuses(&self) -> Vec<RecordedStatus> {
        self.recorded.lock().expect("lock").statuses.clone()
    }
}

impl Drop for GithubServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `POST /repos/{owner}/{repo}/statuses/{sha}` as GitHub answers it.
async fn create_status(
    State(state): State<ServerState>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    state.recorded.lock().expect("lock").calls += 1;
    let expected = format!("Bearer {}", state.token);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Requires authentication"})),
        );
    }
    let exists = Command::new("git")
        .arg("--git-dir")
        .arg(&state.repo)
        .args(["cat-file", "-e", &format!("{sha}^{{commit}}")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !exists {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": format!("No commit found for SHA: {sha}")})),
        );
    }
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    let status = RecordedStatus {
        repository: format!("{owner}/{repo}"),
        sha: sha.clone(),
        state: field("state"),
        context: field("context"),
        description: field("description"),
    };
    let id = {
        let mut recorded = state.recorded.lock().expect("lock");
        recorded.statuses.push(status.clone());
        recorded.statuses.len()
    };
    let answer = json!({
        "url": format!("https://api.github.test/repos/{owner}/{repo}/statuses/{sha}"),
        "avatar_url": null, "id": id, "node_id": format!("SC_{id}"),
        "state": status.state, "description": status.description, "target_url": null, "context": status.context,
        "created_at": "2026-11-22T00:00:00Z", "updated_at": "2026-11-22T00:00:00Z", "creator": null,
    });
    (StatusCode::CREATED, Json(answer))
}
