//! Pull requests on the test server: opened over real branches, refused as GitHub refuses them
//! (422 for a duplicate, for a missing head, for no commits between), labelled, and merged for
//! real by merge, squash or rebase, setting `merge_commit_sha` as GitHub does.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use git2::{Oid, Repository, Signature};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{REPOSITORY, ServerState, github_error};

/// How a test merges a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    Merge,
    Squash,
    Rebase,
}

impl MergeMethod {
    fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "merge" => Some(Self::Merge),
            "squash" => Some(Self::Squash),
            "rebase" => Some(Self::Rebase),
            _ => None,
        }
    }
}

/// A pull request the server holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head_ref: String,
    pub base_ref: String,
    pub open: bool,
    pub merge_commit_sha: Option<String>,
    pub labels: BTreeSet<String>,
    /// The merge method auto-merge was enabled with.
    pub auto_merge: Option<String>,
}

impl Pull {
    pub fn node_id(&self) -> String {
        format!("PR_kwDO{}", self.number)
    }

    pub fn html_url(&self) -> String {
        format!("https://github.test/{REPOSITORY}/pull/{}", self.number)
    }

    /// The REST shape of the pull request, with its head as the branch is now.
    pub fn json(&self, repo: &Repository) -> Value {
        let sha = |name: &str| {
            repo.refname_to_id(&format!("refs/heads/{name}"))
                .map(|o| o.to_string())
                .unwrap_or_default()
        };
        json!({
            "id": self.number, "number": self.number, "node_id": self.node_id(),
            "url": format!("https://api.github.test/repos/{REPOSITORY}/pulls/{}", self.number),
            "html_url": self.html_url(),
            "state": if self.open { "open" } else { "closed" },
            "title": self.title, "body": self.body,
            "head": {"ref": self.head_ref, "sha": sha(&self.head_ref)},
            "base": {"ref": self.base_ref, "sha": sha(&self.base_ref)},
            "merged": self.merge_commit_sha.is_some(),
            "merge_commit_sha": self.merge_commit_sha,
            "labels": self.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        })
    }

    /// GitHub's `pull_request` webhook body for `action`.
    pub fn event(&self, repo: &Repository, action: &str) -> Value {
        json!({
            "action": action, "number": self.number,
            "pull_request": self.json(repo),
            "repository": {"full_name": REPOSITORY},
        })
    }
}

fn open(state: &ServerState) -> Repository {
    Repository::open_bare(&state.0.repo).expect("open the bare repository")
}

/// `POST /repos/{owner}/{repo}/pulls`.
pub(super) async fn create(State(state): State<ServerState>, Json(body): Json<Value>) -> Response {
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    let (head, base) = (text("head"), text("base"));
    let repo = open(&state);
    let tip = |name: &str| repo.refname_to_id(&format!("refs/heads/{name}")).ok();
    let (Some(head_tip), Some(base_tip)) = (tip(&head), tip(&base)) else {
        return validation_failed("field: head, code: invalid");
    };
    let mut pulls = state.0.pulls.lock().expect("lock");
    if pulls.iter().any(|p| p.open && p.head_ref == head) {
        let owner = REPOSITORY.split('/').next().unwrap_or_default();
        return validation_failed(&format!(
            "A pull request already exists for {owner}:{head}."
        ));
    }
    let ahead = repo
        .graph_ahead_behind(head_tip, base_tip)
        .map(|(ahead, _)| ahead)
        .unwrap_or(0);
    if ahead == 0 {
        return validation_failed(&format!("No commits between {base} and {head}"));
    }
    let pull = Pull {
        number: 100 + pulls.len() as u64 + 1,
        title: text("title"),
        body: text("body"),
        head_ref: head,
        base_ref: base,
        open: true,
        merge_commit_sha: None,
        labels: BTreeSet::new(),
        auto_merge: None,
    };
    let _ = repo.reference(
        &format!("refs/pull/{}/head", pull.number),
        head_tip,
        true,
        "pull request",
    );
    let answer = pull.json(&repo);
    pulls.push(pull);
    (StatusCode::CREATED, Json(answer)).into_response()
}

fn validation_failed(message: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "code": "custom", "message": message}],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        })),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct ListQuery {
    head: Option<String>,
    state: Option<String>,
}

/// `GET /repos/{owner}/{repo}/pulls?head=<owner>:<branch>&state=open`. As on GitHub, a `head`
/// without its owner filters nothing.
pub(super) async fn list(
    State(state): State<ServerState>,
    Query(query): Query<ListQuery>,
) -> Response {
    let repo = open(&state);
    let owner = REPOSITORY.split('/').next().unwrap_or_default();
    let head = query
        .head
        .as_deref()
        .and_then(|h| h.split_once(':'))
        .filter(|(o, _)| *o == owner)
        .map(|(_, branch)| branch.to_owned());
    let want_open = query.state.as_deref().unwrap_or("open") == "open";
    let pulls = state.0.pulls.lock().expect("lock");
    let listed: Vec<Value> = pulls
        .iter()
        .filter(|p| p.open == want_open)
        .filter(|p| head.as_ref().is_none_or(|h| *h == p.head_ref))
        .map(|p| p.json(&repo))
        .collect();
    Json(Value::Array(listed)).into_response()
}

/// The pull request `number` the server opened, if any.
pub(super) fn held(state: &ServerState, number: u64) -> Option<Value> {
    let repo = open(state);
    let pulls = state.0.pulls.lock().expect("lock");
    pulls
        .iter()
        .find(|p| p.number == number)
        .map(|p| p.json(&repo))
}

/// `POST /repos/{owner}/{repo}/labels`.
pub(super) async fn create_label(
    State(state): State<ServerState>,
    Json(body): Json<Value>,
) -> Response {
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    let mut labels = state.0.labels.lock().expect("lock");
    if !labels.insert(name.clone()) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Validation Failed",
                "errors": [{"resource": "Label", "code": "already_exists", "field": "name"}]})),
        )
            .into_response();
    }
    (
        StatusCode::CREATED,
        Json(json!({"name": name, "color": body["color"]})),
    )
        .into_response()
}

/// `POST /repos/{owner}/{repo}/issues/{number}/labels`.
pub(super) async fn add_labels(
    State(state): State<ServerState>,
    Path((_, _, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let names: Vec<String> = body["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect();
    let mut pulls = state.0.pulls.lock().expect("lock");
    let Some(pull) = pulls.iter_mut().find(|p| p.number == number) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    // GitHub creates a label added by a name the repository does not have.
    state
        .0
        .labels
        .lock()
        .expect("lock")
        .extend(names.iter().cloned());
    pull.labels.extend(names);
    let labels: Vec<Value> = pull.labels.iter().map(|l| json!({"name": l})).collect();
    Json(Value::Array(labels)).into_response()
}

/// `PUT /repos/{owner}/{repo}/pulls/{number}/merge`.
pub(super) async fn merge_route(
    State(state): State<ServerState>,
    Path((_, _, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let method = MergeMethod::parse(body["merge_method"].as_str().unwrap_or("merge"))
        .unwrap_or(MergeMethod::Merge);
    match merge(&state, number, method) {
        Ok(sha) => {
            Json(json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}))
                .into_response()
        }
        Err(message) => github_error(StatusCode::METHOD_NOT_ALLOWED, &message),
    }
}

/// Merges pull request `number` into its base for real; returns the commit the base got.
pub(super) fn merge(
    state: &ServerState,
    number: u64,
    method: MergeMethod,
) -> Result<String, String> {
    let _writes = state.0.writes.lock().expect("lock");
    let repo = open(state);
    let mut pulls = state.0.pulls.lock().expect("lock");
    let pull = pulls
        .iter_mut()
        .find(|p| p.number == number && p.open)
        .ok_or_else(|| format!("pull request #{number} is not open"))?;
    let base_ref = format!("refs/heads/{}", pull.base_ref);
    let base = repo.refname_to_id(&base_ref).map_err(|e| e.to_string())?;
    let head = repo
        .refname_to_id(&format!("refs/heads/{}", pull.head_ref))
        .map_err(|e| e.to_string())?;
    let who = Signature::now("octocat", "octocat@github.test").map_err(|e| e.to_string())?;
    let commit = |tree: Oid, parents: &[Oid], message: &str| -> Result<Oid, String> {
        let tree = repo.find_tree(tree).map_err(|e| e.to_string())?;
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|p| repo.find_commit(*p))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(None, &who, &who, message, &tree, &parents)
            .map_err(|e| e.to_string())
    };
    let merged_tree = |ours: Oid, theirs: Oid| -> Result<Oid, String> {
        let ours = repo.find_commit(ours).map_err(|e| e.to_string())?;
        let theirs = repo.find_commit(theirs).map_err(|e| e.to_string())?;
        let mut index = repo
            .merge_commits(&ours, &theirs, None)
            .map_err(|e| e.to_string())?;
        if index.has_conflicts() {
            return Err("merge conflict".into());
        }
        index.write_tree_to(&repo).map_err(|e| e.to_string())
    };
    let title = format!("{} (#{number})", pull.title);
    let landed = match method {
        MergeMethod::Merge => commit(
            merged_tree(base, head)?,
            &[base, head],
            &format!(
                "Merge pull request #{number} from {}\n\n{}",
                pull.head_ref, pull.title
            ),
        )?,
        MergeMethod::Squash => commit(merged_tree(base, head)?, &[base], &title)?,
        MergeMethod::Rebase => {
            // Each of the branch's commits replayed onto the base, oldest first.
            let mut walk = repo.revwalk().map_err(|e| e.to_string())?;
            walk.push(head).map_err(|e| e.to_string())?;
            walk.hide(base).map_err(|e| e.to_string())?;
            walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
                .map_err(|e| e.to_string())?;
            let mut tip = base;
            for oid in walk {
                let original = repo
                    .find_commit(oid.map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
                let onto = repo.find_commit(tip).map_err(|e| e.to_string())?;
                let mut index = repo
                    .cherrypick_commit(&original, &onto, 0, None)
                    .map_err(|e| e.to_string())?;
                let tree = index.write_tree_to(&repo).map_err(|e| e.to_string())?;
                let message = String::from_utf8_lossy(original.message_bytes()).into_owned();
                tip = commit(tree, &[tip], &message)?;
            }
            tip
        }
    };
    repo.reference_matching(&base_ref, landed, true, base, "merge pull request")
        .map_err(|e| e.to_string())?;
    pull.open = false;
    pull.merge_commit_sha = Some(landed.to_string());
    Ok(landed.to_string())
}
