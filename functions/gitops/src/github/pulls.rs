//! Pull requests on GitHub, for either backend: open one for a pushed `berth/<request id>`
//! branch (or find the one a retry already opened), label it `berth`, enable auto-merge when
//! configured, and read the state of many in one query for the status sweep.

use std::sync::atomic::{AtomicBool, Ordering};

use http::Method;
use serde_json::{Value, json};

use super::GithubConfig;
use super::answer::{ErrorMeaning, error_meaning};
use super::client::{GithubClient, message, refusal};
use super::wire::RepoName;
use crate::GitError;

/// The label every Berth pull request carries.
pub const LABEL: &str = "berth";

/// How a pull request is merged once its checks pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoMerge {
    Merge,
    Squash,
    Rebase,
}

impl AutoMerge {
    /// `merge`, `squash` or `rebase`, as `BERTH_GITHUB_AUTO_MERGE` says it.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "merge" => Some(Self::Merge),
            "squash" => Some(Self::Squash),
            "rebase" => Some(Self::Rebase),
            _ => None,
        }
    }

    fn graphql(self) -> &'static str {
        match self {
            Self::Merge => "MERGE",
            Self::Squash => "SQUASH",
            Self::Rebase => "REBASE",
        }
    }

    fn rest(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Squash => "squash",
            Self::Rebase => "rebase",
        }
    }
}

/// What a new pull request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestDraft {
    /// The branch it merges (`berth/<request id>`).
    pub branch: String,
    pub title: String,
    pub body: String,
}

/// A pull request that is open for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPullRequest {
    pub number: u64,
    /// Its web address, `https://github.com/<owner>/<repo>/pull/<n>`.
    pub url: String,
}

/// Where a pull request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullRequestState {
    Open,
    /// Merged; `merge_commit` is what the base branch got (a merge, squash or rebase commit).
    Merged {
        merge_commit: String,
    },
    /// Closed without merging.
    Closed,
    /// GitHub has no pull request of that number.
    Missing,
}

pub struct GithubPulls {
    client: GithubClient,
    repo: RepoName,
    base: String,
    auto_merge: Option<AutoMerge>,
    /// Whether the `berth` label is known to exist, so it is created at most once a process.
    label_exists: AtomicBool,
}

pub const ENABLE_AUTO_MERGE: &str = "mutation BerthAutoMerge($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: $input) { clientMutationId } }";

/// Most pull requests read in one [`GithubPulls::states`] query; more take more queries.
const STATES_PER_QUERY: usize = 50;

impl GithubPulls {
    /// Pull requests onto `config.branch` of `config.repo`, with `config`'s credential.
    pub fn new(config: &GithubConfig, auto_merge: Option<AutoMerge>) -> Result<Self, GitError> {
        let client = GithubClient::for_config(config).map_err(super::git_error)?;
        Ok(Self {
            client,
            repo: config.repo.clone(),
            base: config.branch.clone(),
            auto_merge,
            label_exists: AtomicBool::new(false),
        })
    }

    fn route(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.repo.owner, self.repo.name)
    }

    async fn rest(
        &self,
        method: Method,
        route: &str,
        body: Option<Value>,
    ) -> Result<super::client::Answer, GitError> {
        self.client
            .rest(method, &self.route(route), body)
            .await
            .map_err(super::git_error)
    }

    /// Opens the pull request of `draft.branch`, or finds the one already open for it (a
    /// repeated request after a crash: GitHub answers 422), then labels it and enables
    /// auto-merge. A failure to label or to enable auto-merge is logged: the pull request is
    /// open, which is what the request asked for.
    pub async fn open(&self, draft: &PullRequestDraft) -> Result<OpenedPullRequest, GitError> {
        let body = json!({
            "title": draft.title, "head": draft.branch, "base": self.base,
            "body": draft.body, "maintainer_can_modify": false,
        });
        let created = self.rest(Method::POST, "/pulls", Some(body)).await?;
        let pull = match created.status {
            201 => created.body,
            422 if message(&created.body).contains("A pull request already exists") => {
                self.find_open(&draft.branch).await?
            }
            _ => return Err(super::git_error(refusal(&created))),
        };
        let opened = OpenedPullRequest {
            number: pull["number"]
                .as_u64()
                .ok_or_else(|| GitError::Backend("GitHub's pull request has no number".into()))?,
            url: pull["html_url"].as_str().unwrap_or_default().to_owned(),
        };
        if let Err(e) = self.label(opened.number).await {
            tracing::warn!(pull_request = opened.number, error = %e, "could not label the pull request");
        }
        if let (Some(method), Some(node_id)) = (self.auto_merge, pull["node_id"].as_str())
            && let Err(e) = self.enable_auto_merge(opened.number, node_id, method).await
        {
            tracing::warn!(pull_request = opened.number, error = %e, "could not enable auto-merge");
        }
        Ok(opened)
    }

    /// The open pull request whose head is `branch`, in GitHub's `owner:branch` form.
    async fn find_open(&self, branch: &str) -> Result<Value, GitError> {
        let route = format!("/pulls?head={}:{branch}&state=open", self.repo.owner);
        let found = self.rest(Method::GET, &route, None).await?;
        found
            .body
            .as_array()
            .and_then(|pulls| pulls.first())
            .cloned()
            .ok_or_else(|| {
                GitError::Backend(format!(
                    "GitHub says a pull request exists for {branch} but lists none open"
                ))
            })
    }

    async fn label(&self, number: u64) -> Result<(), GitError> {
        if !self.label_exists.load(Ordering::Relaxed) {
            let label = json!({"name": LABEL, "color": "0e8a16", "description": "Opened by Berth"});
            let created = self.rest(Method::POST, "/labels", Some(label)).await?;
            // 422: it already exists.
            if created.status != 201 && created.status != 422 {
                return Err(super::git_error(refusal(&created)));
            }
            self.label_exists.store(true, Ordering::Relaxed);
        }
        let added = self
            .rest(
                Method::POST,
                &format!("/issues/{number}/labels"),
                Some(json!({"labels": [LABEL]})),
            )
            .await?;
        match added.status {
            200 => Ok(()),
            _ => Err(super::git_error(refusal(&added))),
        }
    }

    /// Enables auto-merge; a pull request GitHub calls `clean` (mergeable now, nothing to wait
    /// for) is merged at once instead, as auto-merge would.
    async fn enable_auto_merge(
        &self,
        number: u64,
        node_id: &str,
        method: AutoMerge,
    ) -> Result<(), GitError> {
        let input = json!({"input": {"pullRequestId": node_id, "mergeMethod": method.graphql()}});
        let answer = self
            .client
            .graphql(ENABLE_AUTO_MERGE, input)
            .await
            .map_err(super::git_error)?;
        if answer.errors.is_empty() {
            return Ok(());
        }
        match error_meaning(&answer.errors) {
            ErrorMeaning::Failed(reason) if reason.contains("clean status") => {
                let merged = self
                    .rest(
                        Method::PUT,
                        &format!("/pulls/{number}/merge"),
                        Some(json!({"merge_method": method.rest()})),
                    )
                    .await?;
                match merged.status {
                    200 => Ok(()),
                    _ => Err(super::git_error(refusal(&merged))),
                }
            }
            other => Err(GitError::Backend(format!("auto-merge: {other:?}"))),
        }
    }

    /// The states of pull requests `numbers`, in as few queries as [`STATES_PER_QUERY`] allows.
    pub async fn states(&self, numbers: &[u64]) -> Result<Vec<PullRequestState>, GitError> {
        let mut states = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(STATES_PER_QUERY) {
            let (query, variables) = states_query(&self.repo, chunk);
            let data = self.query(&query, variables).await?;
            for i in 0..chunk.len() {
                states.push(state_of(&data["repository"][format!("n{i}")]));
            }
        }
        Ok(states)
    }
}

/// Open pull requests looked at per sweep: the most recently updated first.
pub const OPEN_PULLS_PER_QUERY: usize = 50;

/// An open pull request whose head commit has no status of the context asked for, touching
/// `tenants/`: a review that never finished (its delivery failed, and GitHub does not
/// redeliver by itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreviewedPull {
    pub number: u64,
    pub head_sha: String,
    pub head_ref: String,
    pub url: String,
}

impl GithubPulls {
    /// A GraphQL query's `data`.
    async fn query(&self, query: &str, variables: Value) -> Result<Value, GitError> {
        let answer = self
            .client
            .graphql(query, variables)
            .await
            .map_err(super::git_error)?;
        Ok(answer.data.unwrap_or_default())
    }

    /// `owner/name` of the repository.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.repo.owner, self.repo.name)
    }

    /// The open pull requests (the [`OPEN_PULLS_PER_QUERY`] most recently updated) that change
    /// a path under `prefix` and whose head commit carries no `context` status, in one query.
    pub async fn unreviewed(
        &self,
        context: &str,
        prefix: &str,
    ) -> Result<Vec<UnreviewedPull>, GitError> {
        let (query, variables) = unreviewed_query(&self.repo, context);
        let data = self.query(&query, variables).await?;
        let nodes = data["repository"]["pullRequests"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(nodes
            .iter()
            .filter(|pull| {
                let files = pull["files"]["nodes"].as_array();
                files
                    .into_iter()
                    .flatten()
                    .any(|f| f["path"].as_str().is_some_and(|p| p.starts_with(prefix)))
            })
            .filter(|pull| {
                let head = &pull["commits"]["nodes"][0]["commit"];
                head["status"]["context"].is_null()
            })
            .filter_map(|pull| {
                Some(UnreviewedPull {
                    number: pull["number"].as_u64()?,
                    head_sha: pull["headRefOid"].as_str()?.to_owned(),
                    head_ref: pull["headRefName"].as_str()?.to_owned(),
                    url: pull["url"].as_str().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }
}

/// The query of [`GithubPulls::unreviewed`].
pub fn unreviewed_query(repo: &RepoName, context: &str) -> (String, Value) {
    let query = format!(
        "query BerthUnreviewedPulls($owner: String!, $name: String!, $context: String!) {{ \
         repository(owner: $owner, name: $name) {{ \
         pullRequests(states: OPEN, first: {OPEN_PULLS_PER_QUERY}, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{ \
         nodes {{ number url headRefName headRefOid files(first: 100) {{ nodes {{ path }} }} \
         commits(last: 1) {{ nodes {{ commit {{ oid status {{ context(name: $context) {{ state }} }} }} }} }} }} }} }} }}"
    );
    let variables = serde_json::json!({
        "owner": repo.owner, "name": repo.name, "context": context,
    });
    (query, variables)
}

/// The query of [`GithubPulls::states`]: each pull request by number, aliased `n<i>`.
pub fn states_query(repo: &RepoName, numbers: &[u64]) -> (String, Value) {
    let mut variables = serde_json::Map::new();
    variables.insert("owner".into(), repo.owner.clone().into());
    variables.insert("name".into(), repo.name.clone().into());
    let mut declared = String::from("$owner: String!, $name: String!");
    let mut fields = String::new();
    for (i, number) in numbers.iter().enumerate() {
        declared.push_str(&format!(", $n{i}: Int!"));
        variables.insert(format!("n{i}"), (*number).into());
        fields.push_str(&format!(
            "n{i}: pullRequest(number: $n{i}) {{ state merged mergeCommit {{ oid }} }} "
        ));
    }
    let query = format!(
        "query BerthPullRequests({declared}) {{ repository(owner: $owner, name: $name) {{ {fields}}} }}"
    );
    (query, Value::Object(variables))
}

fn state_of(pull: &Value) -> PullRequestState {
    if pull.is_null() {
        return PullRequestState::Missing;
    }
    match (pull["merged"].as_bool(), pull["state"].as_str()) {
        (Some(true), _) => match pull["mergeCommit"]["oid"].as_str() {
            Some(oid) => PullRequestState::Merged {
                merge_commit: oid.to_owned(),
            },
            None => PullRequestState::Open,
        },
        (_, Some("CLOSED")) => PullRequestState::Closed,
        _ => PullRequestState::Open,
    }
}
