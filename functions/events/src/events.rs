//! The GitHub and Argo CD payloads Berth acts on, parsed into plain values so the parsing can be
//! fuzzed on its own. Missing or mistyped fields are named by their path in the payload.

use serde_json::Value;

use crate::billing::EventError;

fn required<'a>(payload: &'a Value, pointer: &str, name: &str) -> Result<&'a Value, EventError> {
    payload
        .pointer(pointer)
        .filter(|v| !v.is_null())
        .ok_or_else(|| EventError {
            field: name.to_owned(),
            reason: "is required".into(),
        })
}

fn text(payload: &Value, pointer: &str, name: &str) -> Result<String, EventError> {
    required(payload, pointer, name)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| EventError {
            field: name.to_owned(),
            reason: "must be a non-empty string".into(),
        })
}

fn optional_text(payload: &Value, pointer: &str) -> Option<String> {
    payload
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn json(body: &[u8]) -> Result<Value, EventError> {
    serde_json::from_slice(body).map_err(|e| EventError {
        field: "body".into(),
        reason: format!("not valid JSON: {e}"),
    })
}

/// An Argo CD notification, as `infra/argocd/notifications.yaml` sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgocdEvent {
    pub tenant: String,
    pub env: String,
    pub module: Option<String>,
    pub health: String,
    pub sync: Option<String>,
    pub revision: Option<String>,
}

pub fn parse_argocd_event(body: &[u8]) -> Result<ArgocdEvent, EventError> {
    let v = json(body)?;
    Ok(ArgocdEvent {
        tenant: text(&v, "/tenant", "tenant")?,
        env: text(&v, "/env", "env")?,
        module: optional_text(&v, "/module"),
        health: text(&v, "/health", "health")?,
        sync: optional_text(&v, "/sync"),
        revision: optional_text(&v, "/revision"),
    })
}

/// The parts of a GitHub `pull_request` event Berth reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub action: String,
    pub number: u64,
    pub head_sha: Option<String>,
    pub head_ref: Option<String>,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    /// `owner/name`.
    pub repository: String,
    pub html_url: Option<String>,
}

impl PullRequestEvent {
    /// The repository as owner and name, each of GitHub's allowed characters.
    pub fn owner_and_name(&self) -> Result<(&str, &str), EventError> {
        self.repository
            .split_once('/')
            .filter(|(o, r)| {
                [o, r].iter().all(|s| {
                    !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                })
            })
            .ok_or_else(|| EventError {
                field: "repository.full_name".into(),
                reason: "must be owner/name".into(),
            })
    }

    /// The head commit, checked to be a commit id.
    pub fn head_commit(&self) -> Result<&str, EventError> {
        self.head_sha
            .as_deref()
            .filter(|sha| sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| EventError {
                field: "pull_request.head.sha".into(),
                reason: "must be a commit id".into(),
            })
    }
}

pub fn parse_pull_request_event(body: &[u8]) -> Result<PullRequestEvent, EventError> {
    let v = json(body)?;
    let number = required(&v, "/number", "number")?
        .as_u64()
        .ok_or_else(|| EventError {
            field: "number".into(),
            reason: "must be a number".into(),
        })?;
    Ok(PullRequestEvent {
        action: text(&v, "/action", "action")?,
        number,
        head_sha: optional_text(&v, "/pull_request/head/sha"),
        head_ref: optional_text(&v, "/pull_request/head/ref"),
        merged: v.pointer("/pull_request/merged") == Some(&Value::Bool(true)),
        merge_commit_sha: optional_text(&v, "/pull_request/merge_commit_sha"),
        repository: text(&v, "/repository/full_name", "repository.full_name")?,
        html_url: optional_text(&v, "/pull_request/html_url"),
    })
}

/// A GitHub `push` event: the branch it moved and the commits it brought, with the paths each
/// one added, modified or removed. GitHub lists at most 20 commits in a delivery; a push of
/// more is caught up by the status sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// `refs/heads/<branch>`.
    pub reference: String,
    pub commits: Vec<PushedCommit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedCommit {
    pub id: String,
    pub message: String,
    /// `Name <email>`.
    pub author: String,
    /// As GitHub gives it (ISO 8601).
    pub timestamp: String,
    pub paths: Vec<String>,
}

pub fn parse_push_event(body: &[u8]) -> Result<PushEvent, EventError> {
    let v = json(body)?;
    let reference = text(&v, "/ref", "ref")?;
    let commits = match v.pointer("/commits") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, c)| pushed_commit(c, i))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(EventError {
                field: "commits".into(),
                reason: "must be a list".into(),
            });
        }
    };
    Ok(PushEvent { reference, commits })
}

fn pushed_commit(c: &Value, i: usize) -> Result<PushedCommit, EventError> {
    let field = |name: &str| format!("commits[{i}].{name}");
    let mut paths = Vec::new();
    for list in ["added", "modified", "removed"] {
        match c.get(list) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (j, item) in items.iter().enumerate() {
                    let path = item.as_str().ok_or_else(|| EventError {
                        field: format!("{}[{j}]", field(list)),
                        reason: "must be a string".into(),
                    })?;
                    paths.push(path.to_owned());
                }
            }
            Some(_) => {
                return Err(EventError {
                    field: field(list),
                    reason: "must be a list".into(),
                });
            }
        }
    }
    let name = optional_text(c, "/author/name").unwrap_or_default();
    let author = match optional_text(c, "/author/email") {
        Some(email) => format!("{name} <{email}>"),
        None => name,
    };
    Ok(PushedCommit {
        id: text(c, "/id", &field("id"))?,
        message: optional_text(c, "/message").unwrap_or_default(),
        author,
        timestamp: optional_text(c, "/timestamp").unwrap_or_default(),
        paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_argocd_notifications() {
        let e = parse_argocd_event(
            json!({"tenant": "acme", "env": "dev", "module": "", "health": "Healthy"})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!((e.module, e.sync), (None, None));
        let err = parse_argocd_event(br#"{"tenant": "acme", "health": "Healthy"}"#).unwrap_err();
        assert_eq!(err.field, "env");
    }

    #[test]
    fn reads_pushes_with_each_commits_paths() {
        let e = parse_push_event(
            json!({"ref": "refs/heads/main", "commits": [{"id": "a1", "message": "m",
                "timestamp": "2026-12-04T05:00:00Z", "author": {"name": "Ada", "email": "ada@x.test"},
                "added": ["tenants/a/tenant.yaml"], "modified": [], "removed": ["tenants/b/tenant.yaml"]}]})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(e.reference, "refs/heads/main");
        assert_eq!(e.commits[0].author, "Ada <ada@x.test>");
        assert_eq!(
            e.commits[0].paths,
            ["tenants/a/tenant.yaml", "tenants/b/tenant.yaml"]
        );
        let err = parse_push_event(
            br#"{"ref": "refs/heads/main", "commits": [{"id": "a", "added": [3]}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.field, "commits[0].added[0]");
        assert_eq!(parse_push_event(b"{}").unwrap_err().field, "ref");
    }

    #[test]
    fn reads_pull_requests_and_checks_their_parts() {
        let e = parse_pull_request_event(
            json!({"action": "opened", "number": 3, "pull_request": {"head": {"sha": "a".repeat(40), "ref": "x"}}, "repository": {"full_name": "o/r"}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(e.owner_and_name().unwrap(), ("o", "r"));
        assert!(e.head_commit().is_ok());
        let bad = PullRequestEvent {
            repository: "o/r/../x".into(),
            head_sha: Some("zz".into()),
            ..e
        };
        assert_eq!(
            bad.owner_and_name().unwrap_err().field,
            "repository.full_name"
        );
        assert_eq!(
            bad.head_commit().unwrap_err().field,
            "pull_request.head.sha"
        );
        assert_eq!(
            parse_pull_request_event(br#"{"action": "opened"}"#)
                .unwrap_err()
                .field,
            "number"
        );
    }
}
