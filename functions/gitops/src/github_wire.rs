//! GitHub's GraphQL wire format, as the GitHub committer (issue 11) speaks it: the documents
//! Berth sends, the `createCommitOnBranch` input built from a planned [`Change`], and how
//! GitHub's errors and rate limits are read. Pure: no I/O, so every shape is unit-tested here
//! and every document is validated against GitHub's published schema in
//! `tests/tests/github_schema.rs`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use berth_core::{Change, RepoFiles};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How deep a folder read descends: `tenants/<t>/<env>/modules/<m>.yaml` is three levels below
/// the tenant's folder, `charts/modules/<m>/values.yaml` two below `charts/modules`.
pub const FOLDER_DEPTH: usize = 4;

/// The one mutation of a direct commit. Its payload selects no connection (a connection
/// without `first`/`last` fails after the mutation has applied).
pub const COMMIT_MUTATION: &str = "mutation BerthCommit($input: CreateCommitOnBranchInput!) { createCommitOnBranch(input: $input) { commit { oid } } }";

/// A repository on GitHub: `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    pub fn with_owner(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// The read of `paths` (files, and folders ending in `/`) at the head of `branch`, in one
/// query: the head's oid, and each path pinned under that very commit (`ref.target ... on
/// Commit`), never resolved separately. Files come with their text; folders list their entries
/// with blob oids only, whose texts are fetched by oid (and cached) with [`blobs_query`].
pub fn read_query(repo: &RepoName, branch: &str, paths: &[String]) -> (String, Value) {
    let mut variables = Map::new();
    variables.insert("owner".into(), repo.owner.clone().into());
    variables.insert("name".into(), repo.name.clone().into());
    variables.insert("ref".into(), format!("refs/heads/{branch}").into());
    let mut declared = String::from("$owner: String!, $name: String!, $ref: String!");
    let mut fields = String::new();
    for (i, path) in paths.iter().enumerate() {
        declared.push_str(&format!(", $p{i}: String!"));
        let field = match path.strip_suffix('/') {
            Some(folder) => {
                variables.insert(format!("p{i}"), folder.into());
                format!(
                    "p{i}: file(path: $p{i}) {{ type object {{ ... on Tree {{ {} }} }} }} ",
                    tree_entries(FOLDER_DEPTH)
                )
            }
            None => {
                variables.insert(format!("p{i}"), path.clone().into());
                format!("p{i}: file(path: $p{i}) {{ type oid object {{ {BLOB_TEXT} }} }} ")
            }
        };
        fields.push_str(&field);
    }
    let query = format!(
        "query BerthRead({declared}) {{ repository(owner: $owner, name: $name) {{ id ref(qualifiedName: $ref) {{ target {{ ... on Commit {{ oid {fields}}} }} }} }} }}"
    );
    (query, Value::Object(variables))
}

const BLOB_TEXT: &str = "... on Blob { text isTruncated isBinary }";

/// `entries { path type oid object { ... on Tree { entries { ... } } } }`, `depth` levels.
fn tree_entries(depth: usize) -> String {
    if depth <= 1 {
        return "entries { path type oid }".to_owned();
    }
    format!(
        "entries {{ path type oid object {{ ... on Tree {{ {} }} }} }}",
        tree_entries(depth - 1)
    )
}

/// The texts of blobs by oid, in one query.
pub fn blobs_query(repo: &RepoName, oids: &[String]) -> (String, Value) {
    let mut variables = Map::new();
    variables.insert("owner".into(), repo.owner.clone().into());
    variables.insert("name".into(), repo.name.clone().into());
    let mut declared = String::from("$owner: String!, $name: String!");
    let mut fields = String::new();
    for (i, oid) in oids.iter().enumerate() {
        declared.push_str(&format!(", $o{i}: GitObjectID!"));
        variables.insert(format!("o{i}"), oid.clone().into());
        fields.push_str(&format!("o{i}: object(oid: $o{i}) {{ {BLOB_TEXT} }} "));
    }
    let query = format!(
        "query BerthBlobs({declared}) {{ repository(owner: $owner, name: $name) {{ {fields}}} }}"
    );
    (query, Value::Object(variables))
}

/// `createCommitOnBranch`'s input (GitHub's `CreateCommitOnBranchInput`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitInput {
    pub branch: CommittableBranch,
    /// The head the plan read: GitHub refuses the commit (`STALE_DATA`) if the branch moved.
    pub expected_head_oid: String,
    pub message: CommitMessage,
    pub file_changes: FileChanges,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommittableBranch {
    pub repository_name_with_owner: String,
    /// Unqualified: `main`, not `refs/heads/main`.
    pub branch_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitMessage {
    pub headline: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Whole-file additions and deletions. An empty list is left out, never sent as `null`:
/// GitHub fails such input with an opaque error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChanges {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additions: Vec<FileAddition>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deletions: Vec<FileDeletion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileAddition {
    pub path: String,
    /// The whole file, base64 with padding.
    pub contents: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDeletion {
    pub path: String,
}

/// The commit of `change` onto `branch` at `head`, or `None` when it changes nothing against
/// `files` (what was read at `head`): GitHub would make an empty commit of it. Deletions name
/// only files that exist at `head` (deleting a missing path aborts the whole commit).
pub fn commit_input(
    repo: &RepoName,
    branch: &str,
    head: &str,
    change: &Change,
    files: &RepoFiles,
) -> Option<CommitInput> {
    let additions: Vec<FileAddition> = change
        .writes
        .iter()
        .filter(|(path, bytes)| files.get(*path) != Some(*bytes))
        .map(|(path, bytes)| FileAddition {
            path: path.clone(),
            contents: BASE64.encode(bytes),
        })
        .collect();
    let deletions: Vec<FileDeletion> = change
        .deletes
        .iter()
        .filter(|path| files.contains_key(*path) && !change.writes.contains_key(*path))
        .map(|path| FileDeletion { path: path.clone() })
        .collect();
    if additions.is_empty() && deletions.is_empty() {
        return None;
    }
    let (headline, body) = match change.message.split_once('\n') {
        Some((headline, body)) => (headline, Some(body.trim().to_owned())),
        None => (change.message.as_str(), None),
    };
    Some(CommitInput {
        branch: CommittableBranch {
            repository_name_with_owner: repo.with_owner(),
            branch_name: branch.to_owned(),
        },
        expected_head_oid: head.to_owned(),
        message: CommitMessage {
            headline: headline.trim().to_owned(),
            body: body.filter(|b| !b.is_empty()),
        },
        file_changes: FileChanges {
            additions,
            deletions,
        },
    })
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

    fn repo() -> RepoName {
        RepoName {
            owner: "acme".into(),
            name: "gitops".into(),
        }
    }

    fn change(writes: &[(&str, &str)], deletes: &[&str]) -> Change {
        Change {
            writes: writes
                .iter()
                .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
                .collect(),
            deletes: deletes.iter().map(|p| p.to_string()).collect(),
            message: "Enable postgres for acme in dev\n\nBerth-Request: 01ABC\n".into(),
        }
    }

    #[test]
    fn a_commit_sends_whole_files_and_the_trailer_and_leaves_empty_lists_out() {
        let files: RepoFiles = [("tenants/acme/old.yaml".to_owned(), b"x".to_vec())].into();
        let input = commit_input(
            &repo(),
            "main",
            "4f1c",
            &change(
                &[("tenants/acme/dev/modules/postgres.yaml", "size: small\n")],
                &[],
            ),
            &files,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&input).unwrap(),
            json!({
                "branch": {"repositoryNameWithOwner": "acme/gitops", "branchName": "main"},
                "expectedHeadOid": "4f1c",
                "message": {"headline": "Enable postgres for acme in dev", "body": "Berth-Request: 01ABC"},
                "fileChanges": {"additions": [{"path": "tenants/acme/dev/modules/postgres.yaml", "contents": "c2l6ZTogc21hbGwK"}]}
            })
        );
    }

    #[test]
    fn deletions_name_only_files_that_exist_and_nothing_changed_sends_nothing() {
        let files: RepoFiles = [
            ("tenants/acme/old.yaml".to_owned(), b"x".to_vec()),
            ("tenants/acme/same.yaml".to_owned(), b"same".to_vec()),
        ]
        .into();
        let input = commit_input(
            &repo(),
            "main",
            "4f1c",
            &change(
                &[("tenants/acme/same.yaml", "same")],
                &["tenants/acme/old.yaml", "tenants/acme/gone.yaml"],
            ),
            &files,
        )
        .unwrap();
        assert!(
            input.file_changes.additions.is_empty(),
            "unchanged files are not sent"
        );
        assert_eq!(
            serde_json::to_value(&input.file_changes).unwrap(),
            json!({"deletions": [{"path": "tenants/acme/old.yaml"}]})
        );
        let nothing = change(
            &[("tenants/acme/same.yaml", "same")],
            &["tenants/acme/gone.yaml"],
        );
        assert_eq!(
            commit_input(&repo(), "main", "4f1c", &nothing, &files),
            None
        );
    }

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
    fn reads_pin_every_path_under_the_head_commit() {
        let (query, variables) = read_query(
            &repo(),
            "main",
            &["tenants/catalog.yaml".into(), "tenants/acme/".into()],
        );
        assert!(query.contains(
            "ref(qualifiedName: $ref) { target { ... on Commit { oid p0: file(path: $p0)"
        ));
        assert_eq!(variables["ref"], "refs/heads/main");
        assert_eq!(
            variables["p1"], "tenants/acme",
            "folders are read without their slash"
        );
        assert_eq!(query.matches("entries").count(), FOLDER_DEPTH);
    }
}
