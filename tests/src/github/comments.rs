//! Issue comments, as GitHub's REST API lists, creates and edits them (pull requests are
//! issues): the calls Berth's plan comment makes.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ServerState;

/// GitHub refuses a longer comment body.
const BODY_LIMIT: usize = 65_536;

#[derive(Debug, Clone)]
pub(super) struct Comment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
}

impl Comment {
    fn wire(&self) -> Value {
        json!({
            "id": self.id,
            "node_id": format!("IC_{}", self.id),
            "body": self.body,
            "user": {"login": "berth[bot]", "type": "Bot"},
            "html_url": format!("https://github.test/acme/gitops/pull/{}#issuecomment-{}", self.issue, self.id),
        })
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Paging {
    per_page: Option<usize>,
    page: Option<usize>,
}

/// `GET /repos/{owner}/{repo}/issues/{number}/comments`: oldest first, paged.
pub(super) async fn list(
    State(state): State<ServerState>,
    Path((_, _, number)): Path<(String, String, u64)>,
    Query(paging): Query<Paging>,
) -> Response {
    let per_page = paging.per_page.unwrap_or(30).clamp(1, 100);
    let page = paging.page.unwrap_or(1).max(1);
    let comments = state.0.comments.lock().expect("lock");
    let listed: Vec<Value> = comments
        .iter()
        .filter(|c| c.issue == number)
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(Comment::wire)
        .collect();
    Json(listed).into_response()
}

/// The comment's text, or `None` when GitHub would refuse it ([`refused`] answers that).
fn body_of(body: &Value) -> Option<String> {
    let text = body["body"].as_str().unwrap_or_default();
    (!text.is_empty() && text.chars().count() <= BODY_LIMIT).then(|| text.to_owned())
}

fn refused() -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"message": "Validation Failed",
            "errors": [{"resource": "IssueComment", "code": "custom", "field": "body",
                "message": "body is too long (maximum is 65536 characters)"}]})),
    )
        .into_response()
}

/// `POST /repos/{owner}/{repo}/issues/{number}/comments`.
pub(super) async fn create(
    State(state): State<ServerState>,
    Path((_, _, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let Some(text) = body_of(&body) else {
        return refused();
    };
    let mut comments = state.0.comments.lock().expect("lock");
    let comment = Comment {
        id: 9_000 + comments.len() as u64,
        issue: number,
        body: text,
    };
    comments.push(comment.clone());
    (StatusCode::CREATED, Json(comment.wire())).into_response()
}

/// `PATCH /repos/{owner}/{repo}/issues/comments/{id}`.
pub(super) async fn update(
    State(state): State<ServerState>,
    Path((_, _, id)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let Some(text) = body_of(&body) else {
        return refused();
    };
    let mut comments = state.0.comments.lock().expect("lock");
    match comments.iter_mut().find(|c| c.id == id) {
        Some(comment) => {
            comment.body = text;
            Json(comment.wire()).into_response()
        }
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response(),
    }
}
