//! What GitHub answers, read: the GraphQL envelope and its errors (by GitHub's `type` first),
//! rate limits, and the data of each query the committer sends. Pure: no I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::Value;

use super::wire::{FOLDER_DEPTH, Pin, inlines_texts, wanted};

/// GraphQL's answer: `data` and `errors` side by side; an error is HTTP 200 on GitHub.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphqlAnswer {
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub errors: Vec<GraphqlError>,
}

/// An answer whose data lacks what the query asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("GitHub's answer has no {0}")]
    Missing(String),
    #[error("{0} is nested deeper than Berth reads ({FOLDER_DEPTH} levels)")]
    TooDeep(String),
    #[error("GitHub's blob {oid} is not valid base64")]
    Base64 { oid: String },
}

/// A file as a read found it: its bytes, or the oid of a blob still to fetch (a chart's file,
/// a text GitHub truncated at 512,000 bytes, a binary file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Text(Vec<u8>),
    Blob(String),
}

/// A read's answer: the pinned commit and the files under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAnswer {
    pub head: String,
    pub files: BTreeMap<String, Found>,
}

/// Reads the data of [`super::wire::read_query`]; `None` when the branch or commit does not
/// exist. Paths that do not exist, or are a folder where a file was asked (or the reverse), are
/// left out, as a Git read leaves them out.
pub fn read_answer(
    data: &Value,
    pin: Pin<'_>,
    paths: &[String],
) -> Result<Option<ReadAnswer>, AnswerError> {
    let repository = present(data, "repository")?;
    let commit = match pin {
        Pin::Branch(_) => &repository["ref"]["target"],
        Pin::Commit(_) => &repository["object"],
    };
    if commit.is_null() {
        return Ok(None);
    }
    let head = string(commit, "oid")?;
    let mut files = BTreeMap::new();
    for (i, path) in paths.iter().enumerate() {
        let entry = &commit[format!("p{i}")];
        match path.strip_suffix('/') {
            None if entry["type"] == "blob" => {
                files.insert(path.clone(), found(entry)?);
            }
            Some(_) if entry["type"] == "tree" => {
                read_entries(&entry["object"], path, 1, &mut files)?;
            }
            _ => {}
        }
    }
    Ok(Some(ReadAnswer { head, files }))
}

fn read_entries(
    tree: &Value,
    folder: &str,
    level: usize,
    files: &mut BTreeMap<String, Found>,
) -> Result<(), AnswerError> {
    let Some(entries) = tree["entries"].as_array() else {
        return Ok(());
    };
    for entry in entries {
        let path = string(entry, "path")?;
        match entry["type"].as_str() {
            Some("blob") if wanted(&path) => {
                files.insert(path, found(entry)?);
            }
            Some("tree") if level < FOLDER_DEPTH => {
                read_entries(&entry["object"], folder, level + 1, files)?;
            }
            // Beyond the depth a chart holds only templates; a tenant's folder cannot be read.
            Some("tree") if inlines_texts(folder) => return Err(AnswerError::TooDeep(path)),
            _ => {}
        }
    }
    Ok(())
}

/// A blob entry's text when GitHub sent all of it, else its oid to fetch.
fn found(entry: &Value) -> Result<Found, AnswerError> {
    let object = &entry["object"];
    match object["text"].as_str() {
        Some(text) if object["isTruncated"] == false => Ok(Found::Text(text.as_bytes().to_vec())),
        _ => Ok(Found::Blob(string(entry, "oid")?)),
    }
}

/// Reads the data of [`super::wire::blobs_query`]: each blob's text, or `None` where GitHub
/// did not send it whole (binary, truncated) and the REST blob must be fetched.
pub fn blobs_answer(data: &Value, count: usize) -> Result<Vec<Option<Vec<u8>>>, AnswerError> {
    let repository = present(data, "repository")?;
    Ok((0..count)
        .map(|i| {
            let blob = &repository[format!("o{i}")];
            match blob["text"].as_str() {
                Some(text) if blob["isTruncated"] == false => Some(text.as_bytes().to_vec()),
                _ => None,
            }
        })
        .collect())
}

/// The content of REST's `GET /git/blobs/{oid}`: base64 with line breaks.
pub fn rest_blob_content(body: &Value, oid: &str) -> Result<Vec<u8>, AnswerError> {
    let content: String = string(body, "content")?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    BASE64.decode(content).map_err(|_| AnswerError::Base64 {
        oid: oid.to_owned(),
    })
}

/// One commit of a history page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryCommit {
    pub oid: String,
    pub message: String,
    /// `committedDate`, in epoch seconds.
    pub committed_at: i64,
}

/// One page of a branch's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub commits: Vec<HistoryCommit>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// Reads the data of [`super::wire::history_query`]; `None` when the branch does not exist.
pub fn history_answer(data: &Value) -> Result<Option<HistoryPage>, AnswerError> {
    let repository = present(data, "repository")?;
    let target = &repository["ref"]["target"];
    if target.is_null() {
        return Ok(None);
    }
    let history = present(target, "history")?;
    let commits = history["nodes"]
        .as_array()
        .ok_or_else(|| AnswerError::Missing("history.nodes".into()))?
        .iter()
        .map(|node| {
            let committed_at = epoch_seconds(&string(node, "committedDate")?)?;
            Ok(HistoryCommit {
                oid: string(node, "oid")?,
                message: string(node, "message")?,
                committed_at,
            })
        })
        .collect::<Result<Vec<_>, AnswerError>>()?;
    let page = &history["pageInfo"];
    let next = (page["hasNextPage"] == true)
        .then(|| page["endCursor"].as_str().map(str::to_owned))
        .flatten();
    Ok(Some(HistoryPage { commits, next }))
}

/// One commit of a folder's history as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderHistoryNode {
    pub commit: crate::FolderCommit,
    /// Its second parent, for a merge: that commit is the merged side, not the mainline.
    pub merged: Option<String>,
}

/// One page of [`super::wire::folder_history_query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderHistoryPage {
    pub nodes: Vec<FolderHistoryNode>,
    pub next: Option<String>,
}

/// Reads a page of [`super::wire::folder_history_query`]; `None` when the start does not exist.
pub fn folder_history_answer(
    data: &Value,
    pin: Pin<'_>,
) -> Result<Option<FolderHistoryPage>, AnswerError> {
    let repository = present(data, "repository")?;
    let start = match pin {
        Pin::Branch(_) => &repository["ref"]["target"],
        Pin::Commit(_) => &repository["object"],
    };
    if start.is_null() {
        return Ok(None);
    }
    let history = present(start, "history")?;
    let nodes = history["nodes"]
        .as_array()
        .ok_or_else(|| AnswerError::Missing("history.nodes".into()))?
        .iter()
        .map(folder_history_node)
        .collect::<Result<Vec<_>, AnswerError>>()?;
    let page = &history["pageInfo"];
    let next = (page["hasNextPage"] == true)
        .then(|| page["endCursor"].as_str().map(str::to_owned))
        .flatten();
    Ok(Some(FolderHistoryPage { nodes, next }))
}

fn folder_history_node(node: &Value) -> Result<FolderHistoryNode, AnswerError> {
    let parents = node["parents"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let before = parents
        .first()
        .map(|p| folder_oids(&p["folder"]))
        .transpose()?
        .unwrap_or_default();
    let after = folder_oids(&node["folder"])?;
    let own = string(node, "message")?;
    let merged = parents.get(1);
    // A merge whose own message names no request: the merged commit's trailers speak for it.
    let message = match merged.and_then(|m| m["message"].as_str()) {
        Some(theirs)
            if berth_core::request::trailer_request_ids(&own)
                .next()
                .is_none() =>
        {
            format!("{own}\n{theirs}")
        }
        _ => own,
    };
    let author = &node["author"];
    Ok(FolderHistoryNode {
        commit: crate::FolderCommit {
            sha: string(node, "oid")?,
            message,
            committed_at: epoch_seconds(&string(node, "committedDate")?)?,
            author: format!(
                "{} <{}>",
                author["name"].as_str().unwrap_or_default(),
                author["email"].as_str().unwrap_or_default()
            ),
            files: crate::file_changes(&before, &after),
        },
        merged: merged.map(|m| string(m, "oid")).transpose()?,
    })
}

/// A folder reading's files, each path mapped to its blob oid: two readings differ at a path
/// exactly where the oids do.
fn folder_oids(folder: &Value) -> Result<berth_core::RepoFiles, AnswerError> {
    let mut files = berth_core::RepoFiles::new();
    if folder["type"] == "tree" {
        collect_oids(&folder["object"], 1, &mut files)?;
    }
    Ok(files)
}

fn collect_oids(
    tree: &Value,
    level: usize,
    files: &mut berth_core::RepoFiles,
) -> Result<(), AnswerError> {
    for entry in tree["entries"].as_array().into_iter().flatten() {
        let path = string(entry, "path")?;
        match entry["type"].as_str() {
            Some("blob") => {
                files.insert(path, string(entry, "oid")?.into_bytes());
            }
            Some("tree") if level < FOLDER_DEPTH => {
                collect_oids(&entry["object"], level + 1, files)?
            }
            Some("tree") => return Err(AnswerError::TooDeep(path)),
            _ => {}
        }
    }
    Ok(())
}

fn epoch_seconds(date: &str) -> Result<i64, AnswerError> {
    chrono::DateTime::parse_from_rfc3339(date)
        .map(|d| d.timestamp())
        .map_err(|_| AnswerError::Missing(format!("a valid committedDate ({date})")))
}

/// Reads [`super::wire::commit_query`]: the commit's message and first parent; `None` when the
/// repository has no such commit.
pub fn commit_parent_answer(data: &Value) -> Result<Option<(String, Option<String>)>, AnswerError> {
    let commit = &present(data, "repository")?["object"];
    if commit.is_null() || commit["oid"].is_null() {
        return Ok(None);
    }
    let parent = commit["parents"]["nodes"][0]["oid"]
        .as_str()
        .map(str::to_owned);
    Ok(Some((string(commit, "message")?, parent)))
}

/// The oid of the commit `createCommitOnBranch` made.
pub fn commit_answer(data: &Value) -> Result<String, AnswerError> {
    string(&data["createCommitOnBranch"]["commit"], "oid")
}

fn present<'a>(value: &'a Value, field: &str) -> Result<&'a Value, AnswerError> {
    match &value[field] {
        Value::Null => Err(AnswerError::Missing(field.to_owned())),
        found => Ok(found),
    }
}

fn string(value: &Value, field: &str) -> Result<String, AnswerError> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| AnswerError::Missing(field.to_owned()))
}

/// One entry of a GraphQL answer's `errors`, with GitHub's `type`, which octocrab's typed
/// GraphQL call drops.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphqlError {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: String,
}

/// What a GraphQL error means for the committer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorMeaning {
    /// The branch moved since it was read: read again, plan again, retry.
    StaleHead,
    /// GitHub's primary limit: wait, then retry.
    RateLimited,
    /// Anything else, with GitHub's message.
    Failed(String),
}

/// Reads a GraphQL answer's errors: GitHub's `type` first, then its known messages (the type
/// has not always been sent, and a lost race has two wordings).
pub fn error_meaning(errors: &[GraphqlError]) -> ErrorMeaning {
    let typed = |kind: &str| errors.iter().any(|e| e.kind.as_deref() == Some(kind));
    if typed("STALE_DATA") {
        return ErrorMeaning::StaleHead;
    }
    if typed("RATE_LIMITED") {
        return ErrorMeaning::RateLimited;
    }
    if errors.iter().any(|e| is_stale_head_message(&e.message)) {
        return ErrorMeaning::StaleHead;
    }
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    ErrorMeaning::Failed(messages.join("; "))
}

/// `Expected branch to point to "<oid>" but it did not. Pull and try again.`, a message naming
/// `expectedHeadOid`, or `Ref refs/heads/<branch> is at <oid> but expected <oid>`.
fn is_stale_head_message(message: &str) -> bool {
    message.contains("Expected branch to point to")
        || message.contains("expectedHeadOid")
        || (message.starts_with("Ref refs/heads/") && message.contains(" but expected "))
}

/// How long a refused call should wait before it is tried again, from GitHub's answer: a 403 or
/// 429 that is a rate limit (secondary or primary), or `None` when the answer is no rate limit.
/// `retry-after` first; else, with no requests left, until `x-ratelimit-reset`; else a minute,
/// as GitHub asks for secondary limits. `header` reads a response header.
pub fn rate_limit_wait<'a>(
    status: u16,
    header: impl Fn(&str) -> Option<&'a str>,
    body: &str,
    now_epoch_seconds: i64,
) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    if let Some(seconds) = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    let exhausted = header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    if exhausted
        && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok())
    {
        return Some(Duration::from_secs(
            reset.saturating_sub(now_epoch_seconds).max(1) as u64,
        ));
    }
    let secondary = body.contains("secondary rate limit") || body.contains("abuse detection");
    (status == 429 || exhausted || secondary).then_some(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lost_race_is_read_from_the_type_first_then_from_either_wording() {
        let error = |kind: Option<&str>, message: &str| GraphqlError {
            kind: kind.map(str::to_owned),
            message: message.into(),
        };
        let stale = "Expected branch to point to \"4f1c\" but it did not. Pull and try again.";
        assert_eq!(
            error_meaning(&[error(Some("STALE_DATA"), "anything")]),
            ErrorMeaning::StaleHead
        );
        assert_eq!(
            error_meaning(&[error(None, stale)]),
            ErrorMeaning::StaleHead
        );
        assert_eq!(
            error_meaning(&[error(
                None,
                "Ref refs/heads/main is at 9a0b but expected 4f1c"
            )]),
            ErrorMeaning::StaleHead
        );
        assert_eq!(
            error_meaning(&[error(
                Some("RATE_LIMITED"),
                "API rate limit exceeded for installation ID 1."
            )]),
            ErrorMeaning::RateLimited
        );
        assert_eq!(
            error_meaning(&[error(
                Some("NOT_FOUND"),
                "Could not resolve to a Repository"
            )]),
            ErrorMeaning::Failed("Could not resolve to a Repository".into())
        );
        let parsed: Vec<GraphqlError> = serde_json::from_value(json!([
            {"type": "STALE_DATA", "path": ["createCommitOnBranch"], "locations": [{"line": 1, "column": 1}], "message": stale}
        ]))
        .unwrap();
        assert_eq!(error_meaning(&parsed), ErrorMeaning::StaleHead);
    }

    #[test]
    fn rate_limits_wait_for_retry_after_then_the_reset_then_a_minute() {
        let headers = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        };
        let now = 1_000;
        assert_eq!(
            rate_limit_wait(429, headers(&[("retry-after", "30")]), "", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            rate_limit_wait(
                403,
                headers(&[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1090")
                ]),
                "",
                now
            ),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            rate_limit_wait(
                403,
                headers(&[]),
                r#"{"message":"You have exceeded a secondary rate limit."}"#,
                now
            ),
            Some(Duration::from_secs(60))
        );
        // A plain refusal is no rate limit.
        assert_eq!(
            rate_limit_wait(
                403,
                headers(&[("x-ratelimit-remaining", "4999")]),
                r#"{"message":"Resource not accessible by integration"}"#,
                now
            ),
            None
        );
        assert_eq!(rate_limit_wait(502, headers(&[]), "", now), None);
    }

    #[test]
    fn a_read_keeps_texts_sent_whole_and_names_the_blobs_still_to_fetch() {
        let data = json!({"repository": {"ref": {"target": {
            "oid": "head",
            "p0": {"type": "blob", "oid": "c1", "object": {"text": "tiers: []\n", "isTruncated": false, "isBinary": false}},
            "p1": {"type": "tree", "object": {"entries": [
                {"path": "tenants/acme/tenant.yaml", "type": "blob", "oid": "t1", "object": {"text": "tier: standard\n", "isTruncated": false, "isBinary": false}},
                {"path": "tenants/acme/big.yaml", "type": "blob", "oid": "b1", "object": {"text": "cut", "isTruncated": true, "isBinary": false}},
                {"path": "tenants/acme/dev", "type": "tree", "oid": "d1", "object": {"entries": []}}
            ]}},
            "p2": {"type": "tree", "object": {"entries": [
                {"path": "charts/tenant/Chart.yaml", "type": "blob", "oid": "ch1"},
                {"path": "charts/tenant/templates", "type": "tree", "oid": "tp1"}
            ]}},
            "p3": null
        }}}});
        let paths: Vec<String> = [
            "tenants/catalog.yaml",
            "tenants/acme/",
            "charts/tenant/",
            "tenants/gone/",
        ]
        .map(str::to_owned)
        .to_vec();
        let answer = read_answer(&data, Pin::Branch("main"), &paths)
            .unwrap()
            .unwrap();
        assert_eq!(answer.head, "head");
        assert_eq!(
            answer.files,
            BTreeMap::from([
                (
                    "tenants/catalog.yaml".to_owned(),
                    Found::Text(b"tiers: []\n".to_vec())
                ),
                (
                    "tenants/acme/tenant.yaml".to_owned(),
                    Found::Text(b"tier: standard\n".to_vec())
                ),
                ("tenants/acme/big.yaml".to_owned(), Found::Blob("b1".into())),
                (
                    "charts/tenant/Chart.yaml".to_owned(),
                    Found::Blob("ch1".into())
                ),
            ])
        );
        let missing_branch = json!({"repository": {"ref": null}});
        assert_eq!(
            read_answer(&missing_branch, Pin::Branch("main"), &paths).unwrap(),
            None
        );
    }

    #[test]
    fn a_tenant_folder_deeper_than_the_read_is_an_error_not_a_silent_gap() {
        let mut tree =
            json!({"entries": [{"path": "tenants/acme/a/b/c/d", "type": "tree", "oid": "x"}]});
        for level in ["tenants/acme/a/b/c", "tenants/acme/a/b", "tenants/acme/a"] {
            tree =
                json!({"entries": [{"path": level, "type": "tree", "oid": "x", "object": tree}]});
        }
        let data = json!({"repository": {"ref": {"target": {"oid": "h", "p0": {"type": "tree", "object": tree}}}}});
        assert_eq!(
            read_answer(&data, Pin::Branch("main"), &["tenants/acme/".to_owned()]),
            Err(AnswerError::TooDeep("tenants/acme/a/b/c/d".into()))
        );
    }

    #[test]
    fn history_pages_and_rest_blobs_are_read() {
        let data = json!({"repository": {"ref": {"target": {"history": {
            "nodes": [{"oid": "a", "message": "m\n\nBerth-Request: 01X", "committedDate": "2026-11-23T01:02:03Z"}],
            "pageInfo": {"hasNextPage": true, "endCursor": "a 0"}
        }}}}});
        assert_eq!(
            history_answer(&data).unwrap(),
            Some(HistoryPage {
                commits: vec![HistoryCommit {
                    oid: "a".into(),
                    message: "m\n\nBerth-Request: 01X".into(),
                    committed_at: 1_795_395_723,
                }],
                next: Some("a 0".into())
            })
        );
        let blob = json!({"sha": "b", "encoding": "base64", "content": "c2l6\nZTog\nc21hbGwK\n"});
        assert_eq!(rest_blob_content(&blob, "b").unwrap(), b"size: small\n");
    }
}
