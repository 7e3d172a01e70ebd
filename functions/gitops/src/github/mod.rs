//! The GitHub backend: no clone. A direct commit is two calls: one GraphQL read of the branch
//! head and the files the plan needs, pinned under that head, and one `createCommitOnBranch`
//! with `expectedHeadOid` set to it, which GitHub verifies and signs. A lost race is read and
//! planned again; a commit whose answer was lost is looked for by its trailer before anything
//! is sent again.

mod access;
pub mod answer;
mod answer_cache;
pub mod client;
mod commit;
pub mod pulls;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use berth_core::RepoFiles;
use http::Method;

use self::answer::{ErrorMeaning, Found, error_meaning, read_answer};
use self::answer_cache::AnswerCache;
pub use self::client::GithubCredential;
use self::client::{CallError, GithubClient, refusal};
use self::wire::{Pin, RepoName, read_query};
use crate::attempts::Attempts;
use crate::trailer_search::{LandedSearch, RequestsSearch};
use crate::{
    CommitError, CommitOutcome, CommitRequest, Committer, GitError, LandedCommit, PlanFn,
    RefSnapshot, Snapshot,
};

/// Settings of a [`GithubCommitter`].
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// The REST API: `https://api.github.com`, `https://<host>/api/v3`, or a test server.
    pub api_url: String,
    pub repo: RepoName,
    pub branch: String,
    pub credential: GithubCredential,
    /// Attempts at landing one request before giving up on a moving branch.
    pub max_attempts: u32,
    /// The longest GitHub rate-limit wait a call sits out; past it the caller is told when
    /// to come back.
    pub rate_limit_budget: Duration,
    /// The bound on each call's reads and writes, well inside a request's deadline (26 s).
    /// `None` only where no clock may run out, as in tests on a paused clock.
    pub io_timeout: Option<Duration>,
}

impl GithubConfig {
    pub fn new(
        api_url: impl Into<String>,
        repo: RepoName,
        branch: impl Into<String>,
        credential: GithubCredential,
    ) -> Self {
        Self {
            api_url: api_url.into(),
            repo,
            branch: branch.into(),
            credential,
            max_attempts: 25,
            rate_limit_budget: Duration::from_secs(10),
            io_timeout: Some(Duration::from_secs(10)),
        }
    }

    /// Where GraphQL is: `https://api.github.com/graphql`, or on GitHub Enterprise
    /// (`https://<host>/api/v3`) `https://<host>/api/graphql`.
    pub fn graphql_url(&self) -> String {
        let api = self.api_url.trim_end_matches('/');
        match api.strip_suffix("/v3") {
            Some(root) => format!("{root}/graphql"),
            None => format!("{api}/graphql"),
        }
    }
}

/// A [`Committer`] over GitHub's API. Holds the blobs of chart files it has read by oid, and
/// the ancestry answers it has had, for the life of the process.
pub struct GithubCommitter {
    config: GithubConfig,
    client: GithubClient,
    cache: AnswerCache,
    /// Mutations from one process go one at a time, as GitHub asks of integrations.
    mutations: tokio::sync::Mutex<()>,
}

impl GithubCommitter {
    pub fn new(config: GithubConfig) -> Result<Self, GitError> {
        let client = GithubClient::for_config(&config).map_err(git_error)?;
        Ok(Self {
            config,
            client,
            cache: AnswerCache::default(),
            mutations: tokio::sync::Mutex::new(()),
        })
    }

    fn repo(&self) -> &RepoName {
        &self.config.repo
    }

    fn repo_route(&self, rest: &str) -> String {
        format!(
            "/repos/{}/{}{rest}",
            self.config.repo.owner, self.config.repo.name
        )
    }

    /// Reads `paths` pinned at `pin`; `None` when that branch or commit does not exist.
    async fn read_at(&self, pin: Pin<'_>, paths: &[String]) -> Result<Option<Snapshot>, GitError> {
        let (query, variables) = read_query(self.repo(), pin, paths);
        let data = self.query(&query, variables).await?;
        let Some(read) = read_answer(&data, pin, paths).map_err(answer_error)? else {
            return Ok(None);
        };
        let mut files = RepoFiles::new();
        let mut wanted = Vec::new();
        for (path, found) in read.files {
            match found {
                Found::Text(bytes) => {
                    files.insert(path, bytes);
                }
                Found::Blob(oid) => wanted.push((path, oid)),
            }
        }
        let oids: Vec<String> = wanted.iter().map(|(_, oid)| oid.clone()).collect();
        let blobs = self.blobs(&oids).await?;
        for ((path, _), bytes) in wanted.into_iter().zip(blobs) {
            files.insert(path, bytes.to_vec());
        }
        Ok(Some(Snapshot {
            tip: read.head,
            files,
        }))
    }

    /// The contents of blobs by oid: from the cache, else in one query, else (a text GitHub
    /// truncates or will not send) one REST call each.
    async fn blobs(&self, oids: &[String]) -> Result<Vec<Arc<[u8]>>, GitError> {
        let missing: Vec<String> = self.cache.missing_blobs(oids);
        if !missing.is_empty() {
            let (query, variables) = wire::blobs_query(self.repo(), &missing);
            let data = self.query(&query, variables).await?;
            let texts = answer::blobs_answer(&data, missing.len()).map_err(answer_error)?;
            for (oid, text) in missing.iter().zip(texts) {
                let bytes = match text {
                    Some(bytes) => bytes,
                    None => self.rest_blob(oid).await?,
                };
                self.cache.put_blob(oid, bytes);
            }
        }
        oids.iter()
            .map(|oid| {
                self.cache
                    .blob(oid)
                    .ok_or_else(|| GitError::Backend(format!("blob {oid} went missing")))
            })
            .collect()
    }

    async fn rest_blob(&self, oid: &str) -> Result<Vec<u8>, GitError> {
        let route = self.repo_route(&format!("/git/blobs/{oid}"));
        let answer = self
            .client
            .rest(Method::GET, &route, None)
            .await
            .map_err(git_error)?;
        if answer.status != 200 {
            return Err(git_error(refusal(&answer)));
        }
        answer::rest_blob_content(&answer.body, oid).map_err(answer_error)
    }

    /// Runs a query and returns its data; GraphQL errors are failures of the read.
    async fn query(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<serde_json::Value, GitError> {
        let answer = self
            .client
            .graphql(query, variables)
            .await
            .map_err(git_error)?;
        if !answer.errors.is_empty() {
            return Err(match error_meaning(&answer.errors) {
                ErrorMeaning::Failed(message) => GitError::Backend(format!("GitHub: {message}")),
                other => GitError::Backend(format!("GitHub: {other:?}")),
            });
        }
        answer
            .data
            .ok_or_else(|| GitError::Backend("GitHub's answer has no data".into()))
    }

    /// Whether `descendant` contains `ancestor`, by GitHub's compare API; `None` when GitHub
    /// does not know one of them (an answer that may change).
    async fn compare(&self, ancestor: &str, descendant: &str) -> Result<Option<bool>, GitError> {
        let route = self.repo_route(&format!("/compare/{ancestor}...{descendant}"));
        let answer = self
            .client
            .rest(Method::GET, &route, None)
            .await
            .map_err(git_error)?;
        match answer.status {
            200 => Ok(Some(matches!(
                answer.body["status"].as_str(),
                Some("ahead" | "identical")
            ))),
            404 | 422 => Ok(None),
            _ => Err(git_error(refusal(&answer))),
        }
    }

    /// The head commit of pull request `number` and the paths it changes.
    async fn pull_request(&self, number: u64) -> Result<(String, Vec<String>), GitError> {
        let pull = self
            .client
            .rest(
                Method::GET,
                &self.repo_route(&format!("/pulls/{number}")),
                None,
            )
            .await
            .map_err(git_error)?;
        if pull.status != 200 {
            return Err(git_error(refusal(&pull)));
        }
        let head = pull.body["head"]["sha"]
            .as_str()
            .ok_or_else(|| GitError::Backend(format!("pull request #{number} has no head")))?
            .to_owned();
        let mut changed = Vec::new();
        // GitHub lists at most 3,000 files, 100 a page.
        for page in 1..=30 {
            let route = self.repo_route(&format!("/pulls/{number}/files?per_page=100&page={page}"));
            let files = self
                .client
                .rest(Method::GET, &route, None)
                .await
                .map_err(git_error)?;
            let Some(entries) = files.body.as_array().filter(|_| files.status == 200) else {
                return Err(git_error(refusal(&files)));
            };
            for entry in entries {
                for field in ["filename", "previous_filename"] {
                    if let Some(path) = entry[field].as_str() {
                        changed.push(path.to_owned());
                    }
                }
            }
            if entries.len() < 100 {
                break;
            }
        }
        changed.sort();
        changed.dedup();
        Ok((head, changed))
    }
}

#[async_trait]
impl Committer for GithubCommitter {
    async fn write_access(&self) -> crate::access::WriteAccess {
        self.read_access().await
    }

    fn gauges(&self) -> Option<&crate::gauges::CommitterGauges> {
        Some(self.client.gauges())
    }

    async fn read(&self, paths: Vec<String>) -> Result<Snapshot, GitError> {
        self.read_at(Pin::Branch(&self.config.branch), &paths)
            .await?
            .ok_or_else(|| GitError::MissingBranch {
                branch: self.config.branch.clone(),
            })
    }

    async fn commit(
        &self,
        request: CommitRequest,
        plan: Arc<PlanFn>,
    ) -> Result<CommitOutcome, CommitError> {
        let attempts = Attempts::new(
            self.config.max_attempts,
            Duration::from_millis(50),
            Duration::from_millis(1000),
        )
        .counted_in(self.client.gauges());
        attempts
            .land(&request.request_id, || self.attempt(&request, &*plan))
            .await
    }

    async fn contains(&self, pairs: Vec<(String, String)>) -> Result<Vec<bool>, GitError> {
        let mut answers = Vec::with_capacity(pairs.len());
        for (ancestor, descendant) in pairs {
            let known = self.cache.ancestry(&ancestor, &descendant);
            let answer = match known {
                Some(answer) => answer,
                None => match self.compare(&ancestor, &descendant).await? {
                    Some(answer) => {
                        self.cache.put_ancestry(&ancestor, &descendant, answer);
                        answer
                    }
                    None => false,
                },
            };
            answers.push(answer);
        }
        Ok(answers)
    }

    async fn read_ref(
        &self,
        reference: String,
        paths: Vec<String>,
    ) -> Result<RefSnapshot, GitError> {
        let number = reference
            .strip_prefix("refs/pull/")
            .and_then(|rest| rest.strip_suffix("/head"))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| {
                GitError::Backend(format!(
                    "{reference:?} is not a pull request's head (refs/pull/<n>/head)"
                ))
            })?;
        let (head, changed) = self.pull_request(number).await?;
        let files = if paths.is_empty() {
            RepoFiles::new()
        } else {
            self.read_at(Pin::Commit(&head), &paths)
                .await?
                .ok_or_else(|| GitError::Backend(format!("commit {head} is not on GitHub")))?
                .files
        };
        Ok(RefSnapshot {
            head,
            files,
            changed,
        })
    }

    async fn find_requests(
        &self,
        request_ids: Vec<String>,
        branch: Option<String>,
    ) -> Result<BTreeMap<String, String>, GitError> {
        let branch = branch.unwrap_or_else(|| self.config.branch.clone());
        let mut search = RequestsSearch::new(request_ids);
        self.walk_history(&branch, crate::FIND_REQUEST_DEPTH, |commit| {
            search.visit(&commit.oid, &commit.message)
        })
        .await?;
        Ok(search.found)
    }

    async fn find_landed(
        &self,
        request_id: String,
        since: i64,
    ) -> Result<Option<LandedCommit>, GitError> {
        let mut search = LandedSearch::new(request_id, since);
        self.walk_history(&self.config.branch, crate::LANDED_SEARCH_DEPTH, |commit| {
            search.visit(&commit.oid, &commit.message, commit.committed_at)
        })
        .await?;
        Ok(search.found)
    }

    async fn folder_history(
        &self,
        folder: String,
        before: Option<String>,
        limit: usize,
    ) -> Result<Option<crate::FolderHistory>, GitError> {
        let start = match &before {
            Some(sha) => Pin::Commit(sha),
            None => Pin::Branch(&self.config.branch),
        };
        let mut history = crate::FolderHistory {
            commits: Vec::new(),
            next_before: None,
        };
        // GitHub's history follows every parent: the merged side of a merge is left out, so the
        // list is the mainline's, as on any other remote.
        let mut merged = std::collections::BTreeSet::new();
        let (mut after, mut seen) = (None::<String>, 0);
        loop {
            let (query, variables) =
                wire::folder_history_query(self.repo(), start, &folder, after.as_deref());
            let data = self.query(&query, variables).await?;
            let Some(page) = answer::folder_history_answer(&data, start).map_err(answer_error)?
            else {
                return Ok(None);
            };
            for node in page.nodes {
                seen += 1;
                if Some(&node.commit.sha) == before.as_ref() {
                    merged.extend(node.merged);
                    continue;
                }
                if merged.contains(&node.commit.sha) {
                    continue;
                }
                if history.commits.len() == limit {
                    history.next_before = history.commits.last().map(|c| c.sha.clone());
                    return Ok(Some(history));
                }
                merged.extend(node.merged);
                history.commits.push(node.commit);
            }
            match page.next {
                Some(cursor) if seen < crate::HISTORY_SEARCH_DEPTH => after = Some(cursor),
                Some(_) => {
                    history.next_before = history.commits.last().map(|c| c.sha.clone());
                    return Ok(Some(history));
                }
                None => return Ok(Some(history)),
            }
        }
    }

    async fn commit_files(
        &self,
        sha: String,
        folder: String,
    ) -> Result<Option<crate::CommitFiles>, GitError> {
        if let Some(known) = self.cache.commit_files(&sha, &folder) {
            return Ok(Some((*known).clone()));
        }
        let paths = [folder.clone()];
        let (query, variables) = wire::commit_query(self.repo(), &sha);
        let data = self.query(&query, variables).await?;
        let Some((message, parent)) = answer::commit_parent_answer(&data).map_err(answer_error)?
        else {
            return Ok(None);
        };
        let after = self.read_at(Pin::Commit(&sha), &paths).await?;
        let Some(after) = after else {
            return Ok(None);
        };
        let before = match parent {
            Some(parent) => self
                .read_at(Pin::Commit(&parent), &paths)
                .await?
                .map(|s| s.files)
                .unwrap_or_default(),
            None => RepoFiles::new(),
        };
        let files = crate::CommitFiles {
            sha,
            message,
            before,
            after: after.files,
        };
        self.cache.put_commit_files(&folder, files.clone());
        Ok(Some(files))
    }

    fn branch(&self) -> &str {
        &self.config.branch
    }
}

/// A failed call as a Git failure; messages never carry a credential.
fn git_error(e: CallError) -> GitError {
    match e {
        CallError::NoAnswer(reason) => GitError::Transport(reason),
        CallError::RateLimited { retry_after } => GitError::RateLimited { retry_after },
        CallError::Credential(reason) => GitError::Credential(reason),
        CallError::Refused { status, message } => {
            GitError::Backend(format!("GitHub answered {status}: {message}"))
        }
    }
}

fn answer_error(e: answer::AnswerError) -> GitError {
    GitError::Backend(e.to_string())
}

impl GithubCommitter {
    /// Visits `branch`'s commits newest first, a page at a time, until `visit` answers `false`,
    /// the history ends, or `depth` commits were seen. A branch that does not exist has none.
    async fn walk_history(
        &self,
        branch: &str,
        depth: usize,
        mut visit: impl FnMut(&answer::HistoryCommit) -> bool + Send,
    ) -> Result<(), GitError> {
        let mut after: Option<String> = None;
        let mut seen = 0;
        while seen < depth {
            let (query, variables) = wire::history_query(self.repo(), branch, after.as_deref());
            let data = self.query(&query, variables).await?;
            let Some(page) = answer::history_answer(&data).map_err(answer_error)? else {
                return Ok(());
            };
            for commit in &page.commits {
                if !visit(commit) {
                    return Ok(());
                }
            }
            seen += page.commits.len();
            match page.next {
                Some(cursor) if !page.commits.is_empty() => after = Some(cursor),
                _ => return Ok(()),
            }
        }
        Ok(())
    }
}
