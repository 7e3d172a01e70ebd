//! The REST routes Berth calls, answered over the bare repository in GitHub's shapes, with
//! GitHub's refusals (422 `Reference already exists`, 404 for an unknown commit).

use std::collections::BTreeSet;
use std::path::Path as FsPath;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use git2::{Oid, Repository};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ServerState, github_error};

/// A commit status as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStatus {
    pub repository: String,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: String,
}

fn open(state: &ServerState) -> Repository {
    Repository::open_bare(&state.0.repo).expect("open the bare repository")
}

fn commit_id(repo: &Repository, rev: &str) -> Option<Oid> {
    repo.revparse_single(rev)
        .ok()
        .and_then(|o| o.peel_to_commit().ok())
        .map(|c| c.id())
}

fn not_found() -> Response {
    github_error(StatusCode::NOT_FOUND, "Not Found")
}

/// `POST /repos/{owner}/{repo}/statuses/{sha}`.
pub async fn create_status(
    State(state): State<ServerState>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if commit_id(&open(&state), &sha).is_none() {
        return github_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No commit found for SHA: {sha}"),
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
        let mut recorded = state.0.recorded.lock().expect("lock");
        recorded.statuses.push(status.clone());
        recorded.statuses.len()
    };
    let answer = json!({
        "url": format!("https://api.github.test/repos/{owner}/{repo}/statuses/{sha}"),
        "avatar_url": null, "id": id, "node_id": format!("SC_{id}"),
        "state": status.state, "description": status.description, "target_url": null, "context": status.context,
        "created_at": "2026-11-22T00:00:00Z", "updated_at": "2026-11-22T00:00:00Z", "creator": null,
    });
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// `GET /repos/{owner}/{repo}/git/blobs/{sha}`: base64 with a line break every 60 characters,
/// as GitHub sends it.
pub async fn get_blob(
    State(state): State<ServerState>,
    Path((_, _, sha)): Path<(String, String, String)>,
) -> Response {
    let repo = open(&state);
    let Some(blob) = Oid::from_str(&sha)
        .ok()
        .and_then(|oid| repo.find_blob(oid).ok())
    else {
        return not_found();
    };
    let encoded = BASE64.encode(blob.content());
    let content: Vec<&str> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Json(json!({
        "sha": sha, "node_id": format!("B_{sha}"), "size": blob.content().len(),
        "url": format!("https://api.github.test/git/blobs/{sha}"),
        "content": content.join("\n") + "\n", "encoding": "base64",
    }))
    .into_response()
}

fn ref_answer(name: &str, sha: &str) -> Value {
    json!({
        "ref": name, "node_id": format!("REF_{name}"),
        "url": format!("https://api.github.test/git/{name}"),
        "object": {"type": "commit", "sha": sha, "url": format!("https://api.github.test/git/commits/{sha}")},
    })
}

/// `POST /repos/{owner}/{repo}/git/refs`: a new ref, never an existing one moved.
pub async fn create_ref(State(state): State<ServerState>, Json(body): Json<Value>) -> Response {
    let name = body["ref"].as_str().unwrap_or_default();
    let sha = body["sha"].as_str().unwrap_or_default();
    if state.0.access.lock().expect("lock").read_only {
        return github_error(StatusCode::FORBIDDEN, super::access::NOT_ACCESSIBLE);
    }
    let _writes = state.0.writes.lock().expect("lock");
    let repo = open(&state);
    if !name.starts_with("refs/") || !git2::Reference::is_valid_name(name) {
        return github_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Reference name is invalid",
        );
    }
    let Some(oid) = Oid::from_str(sha)
        .ok()
        .filter(|oid| repo.find_commit(*oid).is_ok())
    else {
        return github_error(StatusCode::UNPROCESSABLE_ENTITY, "Object does not exist");
    };
    if repo.find_reference(name).is_ok() {
        return github_error(StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists");
    }
    match repo.reference(name, oid, false, "create ref") {
        Ok(_) => (StatusCode::CREATED, Json(ref_answer(name, sha))).into_response(),
        Err(_) => github_error(StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists"),
    }
}

/// `PATCH /repos/{owner}/{repo}/git/refs/heads/{branch}`: moves a branch; without `force`
/// only forward.
pub async fn update_ref(
    State(state): State<ServerState>,
    Path((_, _, branch)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let name = format!("refs/heads/{branch}");
    let sha = body["sha"].as_str().unwrap_or_default();
    let force = body["force"].as_bool().unwrap_or(false);
    if let Some((status, message)) = state.0.access.lock().expect("lock").refusal(&branch) {
        return github_error(status, message);
    }
    let _writes = state.0.writes.lock().expect("lock");
    let repo = open(&state);
    let Ok(current) = repo.refname_to_id(&name) else {
        return github_error(StatusCode::UNPROCESSABLE_ENTITY, "Reference does not exist");
    };
    let Some(oid) = Oid::from_str(sha)
        .ok()
        .filter(|oid| repo.find_commit(*oid).is_ok())
    else {
        return github_error(StatusCode::UNPROCESSABLE_ENTITY, "Object does not exist");
    };
    let forward = current == oid || repo.graph_descendant_of(oid, current).unwrap_or(false);
    if !force && !forward {
        return github_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Update is not a fast forward",
        );
    }
    match repo.reference(&name, oid, true, "update ref") {
        Ok(_) => Json(ref_answer(&name, sha)).into_response(),
        Err(e) => github_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}

/// `GET /repos/{owner}/{repo}/compare/{base}...{head}`: status and counts from real ancestry.
pub async fn compare(
    State(state): State<ServerState>,
    Path((_, _, basehead)): Path<(String, String, String)>,
) -> Response {
    let repo = open(&state);
    let Some((base, head)) = basehead.split_once("...") else {
        return not_found();
    };
    let (Some(base), Some(head)) = (commit_id(&repo, base), commit_id(&repo, head)) else {
        return not_found();
    };
    let Ok((ahead, behind)) = repo.graph_ahead_behind(head, base) else {
        return not_found();
    };
    let status = match (ahead, behind) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let files: Vec<Value> = changed_paths(&repo, base, head)
        .into_iter()
        .map(|path| json!({"filename": path, "status": "modified"}))
        .collect();
    Json(json!({
        "status": status, "ahead_by": ahead, "behind_by": behind, "total_commits": ahead,
        "base_commit": {"sha": base.to_string()},
        "merge_base_commit": {"sha": repo.merge_base(base, head).map(|o| o.to_string()).unwrap_or_default()},
        "commits": [], "files": files,
    }))
    .into_response()
}

/// Paths that differ between the merge base of `base` and `head`, and `head`: what a pull
/// request or a compare lists.
pub(super) fn changed_paths(repo: &Repository, base: Oid, head: Oid) -> Vec<String> {
    let from = repo.merge_base(base, head).unwrap_or(base);
    let tree = |oid: Oid| repo.find_commit(oid).and_then(|c| c.tree()).ok();
    let Ok(diff) = repo.diff_tree_to_tree(tree(from).as_ref(), tree(head).as_ref(), None) else {
        return Vec::new();
    };
    let mut paths = BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path().and_then(FsPath::to_str) {
                paths.insert(path.to_owned());
            }
        }
    }
    paths.into_iter().collect()
}

/// A pull request as the repository holds it: `refs/pull/<n>/head` onto `main`.
fn pull_head(repo: &Repository, number: u64) -> Option<Oid> {
    repo.refname_to_id(&format!("refs/pull/{number}/head")).ok()
}

/// `GET /repos/{owner}/{repo}/pulls/{number}`.
pub async fn get_pull(
    State(state): State<ServerState>,
    Path((owner, name, number)): Path<(String, String, u64)>,
) -> Response {
    if let Some(pull) = super::pulls::held(&state, number) {
        return Json(pull).into_response();
    }
    let repo = open(&state);
    let (Some(head), Some(base)) = (
        pull_head(&repo, number),
        commit_id(&repo, "refs/heads/main"),
    ) else {
        return not_found();
    };
    Json(json!({
        "id": number, "number": number, "node_id": format!("PR_{number}"), "state": "open",
        "url": format!("https://api.github.test/repos/{owner}/{name}/pulls/{number}"),
        "html_url": format!("https://github.test/{owner}/{name}/pull/{number}"),
        "head": {"ref": format!("pull-{number}"), "sha": head.to_string()},
        "base": {"ref": "main", "sha": base.to_string()},
        "merged": false, "merge_commit_sha": null,
    }))
    .into_response()
}

#[derive(Deserialize)]
pub struct Page {
    per_page: Option<usize>,
    page: Option<usize>,
}

/// `GET /repos/{owner}/{repo}/pulls/{number}/files`, paged.
pub async fn pull_files(
    State(state): State<ServerState>,
    Path((_, _, number)): Path<(String, String, u64)>,
    Query(page): Query<Page>,
) -> Response {
    let repo = open(&state);
    let (Some(head), Some(base)) = (
        pull_head(&repo, number),
        commit_id(&repo, "refs/heads/main"),
    ) else {
        return not_found();
    };
    let per_page = page.per_page.unwrap_or(30).clamp(1, 100);
    let skip = (page.page.unwrap_or(1).max(1) - 1) * per_page;
    let files: Vec<Value> = changed_paths(&repo, base, head)
        .into_iter()
        .skip(skip)
        .take(per_page)
        .map(|path| json!({"filename": path, "status": "modified"}))
        .collect();
    Json(Value::Array(files)).into_response()
}
