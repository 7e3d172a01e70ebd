//! The GraphQL documents the GitHub committer sends and the `createCommitOnBranch` input built
//! from a planned [`Change`]. Pure: no I/O, so every shape is unit-tested here and every
//! document is validated against GitHub's published schema in `tests/tests/suite/github.rs`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use berth_core::{Change, RepoFiles};
use serde::Serialize;
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

/// Which commit a read is pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin<'a> {
    /// The head of this branch (unqualified), whose oid the answer carries.
    Branch(&'a str),
    /// This commit.
    Commit(&'a str),
}

/// The read of `paths` (files, and folders ending in `/`) in one query: the pinned commit's
/// oid, and each path resolved under that very commit (`... on Commit`), never separately.
/// Tenant files and folders come with their texts; the charts and the catalog with blob oids
/// only: their contents rarely change, so they are fetched by oid with [`blobs_query`] and
/// cached.
pub fn read_query(repo: &RepoName, pin: Pin<'_>, paths: &[String]) -> (String, Value) {
    let mut variables = repo_variables(repo);
    let mut declared = String::from("$owner: String!, $name: String!");
    let mut fields = String::new();
    for (i, path) in paths.iter().enumerate() {
        declared.push_str(&format!(", $p{i}: String!"));
        let field = match path.strip_suffix('/') {
            Some(folder) => {
                variables.insert(format!("p{i}"), folder.into());
                format!(
                    "p{i}: file(path: $p{i}) {{ type object {{ ... on Tree {{ {} }} }} }} ",
                    tree_entries(FOLDER_DEPTH, inlines_texts(path))
                )
            }
            None if inlines_texts(path) => {
                variables.insert(format!("p{i}"), path.clone().into());
                format!("p{i}: file(path: $p{i}) {{ type oid object {{ {BLOB_TEXT} }} }} ")
            }
            None => {
                variables.insert(format!("p{i}"), path.clone().into());
                format!("p{i}: file(path: $p{i}) {{ type oid }} ")
            }
        };
        fields.push_str(&field);
    }
    let commit = format!("... on Commit {{ oid {fields}}}");
    let query = match pin {
        Pin::Branch(branch) => {
            declared.push_str(", $ref: String!");
            variables.insert("ref".into(), format!("refs/heads/{branch}").into());
            format!(
                "query BerthRead({declared}) {{ repository(owner: $owner, name: $name) {{ ref(qualifiedName: $ref) {{ target {{ {commit} }} }} }} }}"
            )
        }
        Pin::Commit(oid) => {
            declared.push_str(", $oid: GitObjectID!");
            variables.insert("oid".into(), oid.into());
            format!(
                "query BerthReadAt({declared}) {{ repository(owner: $owner, name: $name) {{ object(oid: $oid) {{ {commit} }} }} }}"
            )
        }
    };
    (query, Value::Object(variables))
}

fn repo_variables(repo: &RepoName) -> Map<String, Value> {
    let mut variables = Map::new();
    variables.insert("owner".into(), repo.owner.clone().into());
    variables.insert("name".into(), repo.name.clone().into());
    variables
}

/// The charts and the catalog are read as oids: they rarely change, so their contents are
/// fetched by oid once and cached. Anything else, a tenant's folder, comes with its texts in
/// the read itself.
pub(crate) fn inlines_texts(path: &str) -> bool {
    !path.starts_with("charts/") && path != berth_core::catalog::CATALOG_PATH
}

/// Whether a file found in a folder read is wanted: of a chart, only what validation reads.
pub(crate) fn wanted(path: &str) -> bool {
    !path.starts_with("charts/") || berth_core::schema::is_validation_file(path)
}

const BLOB_TEXT: &str = "... on Blob { text isTruncated isBinary }";

/// `entries { path type oid object { ... on Tree { entries { ... } } } }`, `depth` levels, with
/// each blob's text when `texts`.
fn tree_entries(depth: usize, texts: bool) -> String {
    let blob = if texts {
        format!("{BLOB_TEXT} ")
    } else {
        String::new()
    };
    if depth <= 1 {
        return if texts {
            format!("entries {{ path type oid object {{ {blob}}} }}")
        } else {
            "entries { path type oid }".to_owned()
        };
    }
    format!(
        "entries {{ path type oid object {{ {blob}... on Tree {{ {} }} }} }}",
        tree_entries(depth - 1, texts)
    )
}

/// The texts of blobs by oid, in one query.
pub fn blobs_query(repo: &RepoName, oids: &[String]) -> (String, Value) {
    let mut variables = repo_variables(repo);
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

/// Commits per page of [`history_query`]: GitHub's most.
pub const HISTORY_PAGE: usize = 100;

/// The newest commits of `branch`, [`HISTORY_PAGE`] at a time from `after` (a cursor of the
/// previous page), with their messages: where a request's trailer is looked for.
pub fn history_query(repo: &RepoName, branch: &str, after: Option<&str>) -> (String, Value) {
    let mut variables = repo_variables(repo);
    variables.insert("ref".into(), format!("refs/heads/{branch}").into());
    variables.insert("first".into(), HISTORY_PAGE.into());
    variables.insert("after".into(), after.map_or(Value::Null, Value::from));
    let query = "query BerthHistory($owner: String!, $name: String!, $ref: String!, $first: Int!, $after: String) { repository(owner: $owner, name: $name) { ref(qualifiedName: $ref) { target { ... on Commit { history(first: $first, after: $after) { nodes { oid message committedDate } pageInfo { hasNextPage endCursor } } } } } } }";
    (query.to_owned(), Value::Object(variables))
}

/// Commit `oid`'s message and its first parent.
pub fn commit_query(repo: &RepoName, oid: &str) -> (String, Value) {
    let mut variables = repo_variables(repo);
    variables.insert("oid".into(), oid.into());
    let query = "query BerthCommit($owner: String!, $name: String!, $oid: GitObjectID!) { repository(owner: $owner, name: $name) { object(oid: $oid) { ... on Commit { oid message parents(first: 1) { nodes { oid } } } } } }";
    (query.to_owned(), Value::Object(variables))
}

/// Commits per page of [`folder_history_query`]: each carries two readings of the folder.
pub const FOLDER_HISTORY_PAGE: usize = 50;

/// The commits that changed `folder` from the head of `branch`, or from commit `from`, with
/// each one's author, the folder's blob oids in it and in its parents (to tell which files it
/// changed) and its parents' messages (a merge's trailers live on the merged commit).
pub fn folder_history_query(
    repo: &RepoName,
    start: Pin<'_>,
    folder: &str,
    after: Option<&str>,
) -> (String, Value) {
    let mut variables = repo_variables(repo);
    variables.insert("path".into(), folder.trim_end_matches('/').into());
    variables.insert("first".into(), FOLDER_HISTORY_PAGE.into());
    variables.insert("after".into(), after.map_or(Value::Null, Value::from));
    let reading = format!(
        "folder: file(path: $path) {{ type object {{ ... on Tree {{ {} }} }} }}",
        tree_entries(FOLDER_DEPTH, false)
    );
    let commit = format!(
        "... on Commit {{ history(first: $first, after: $after, path: $path) {{ nodes {{ oid message committedDate author {{ name email }} {reading} parents(first: 2) {{ nodes {{ oid message {reading} }} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let mut declared = String::from(
        "$owner: String!, $name: String!, $path: String!, $first: Int!, $after: String",
    );
    let root = match start {
        Pin::Branch(branch) => {
            declared.push_str(", $ref: String!");
            variables.insert("ref".into(), format!("refs/heads/{branch}").into());
            format!("ref(qualifiedName: $ref) {{ target {{ {commit} }} }}")
        }
        Pin::Commit(oid) => {
            declared.push_str(", $oid: GitObjectID!");
            variables.insert("oid".into(), oid.into());
            format!("object(oid: $oid) {{ {commit} }}")
        }
    };
    let query = format!(
        "query BerthFolderHistory({declared}) {{ repository(owner: $owner, name: $name) {{ {root} }} }}"
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
    fn reads_pin_every_path_under_the_head_commit() {
        let (query, variables) = read_query(
            &repo(),
            Pin::Branch("main"),
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
