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
