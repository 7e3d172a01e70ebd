//! The Git2 backend: a bare cache under a work folder (Lambda's `/tmp`), refreshed with a fetch
//! of the branch tip only; new trees built from the old one with `TreeUpdateBuilder` (no work
//! tree, no index, no checkout); one commit; a push without force.
//!
//! Read it as: this file (the settings and the [`Committer`] calls), [`commit`] (one attempt:
//! fetch, plan, build, commit, push), [`transport`] (fetching and deepening the cache),
//! [`history`] over [`mainline`] (walking the first-parent line), [`tree`] (reading and
//! building trees), [`cache`] (the bare cache and its locks), [`errors`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use berth_core::RepoFiles;
use git2::{Oid, Repository};

mod access;
mod cache;
mod commit;
mod errors;
mod history;
mod mainline;
mod transport;
mod tree;

use self::cache::open_cache;
use self::errors::git_error;
use self::history::{changed_paths, contains, folder_history, walk_commits};
use self::mainline::{holds_with_parent, recorded_first_parent};
use self::transport::set_network_timeouts;
use self::tree::read_files;
use crate::attempts::{Attempts, Tried};
use crate::remote::RemoteUrl;
use crate::trailer_search::{LandedSearch, RequestsSearch};
use crate::{
    CommitError, CommitOutcome, CommitRequest, Committer, GitError, PlanFn, RefSnapshot, Snapshot,
};

/// Settings of a [`Git2Committer`].
#[derive(Clone)]
pub struct Git2Config {
    pub remote: RemoteUrl,
    pub branch: String,
    /// Where the bare cache lives; one cache per remote under it.
    pub work_dir: PathBuf,
    /// Sent as the password for HTTPS remotes (GitHub: a token). Never logged.
    pub token: Option<String>,
    pub author_name: String,
    pub author_email: String,
    /// Attempts at landing one request before giving up on a moving branch.
    pub max_attempts: u32,
}

impl Git2Config {
    pub fn new(remote: RemoteUrl, branch: impl Into<String>, work_dir: impl Into<PathBuf>) -> Self {
        Self {
            remote,
            branch: branch.into(),
            work_dir: work_dir.into(),
            token: None,
            author_name: "Berth".into(),
            author_email: "berth@localhost".into(),
            max_attempts: 25,
        }
    }
}

impl std::fmt::Debug for Git2Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Git2Config")
            .field("remote", &self.remote)
            .field("branch", &self.branch)
            .field("work_dir", &self.work_dir)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// A [`Committer`] for any remote libgit2 speaks to. Holds its cache open between requests, so
/// a warm Lambda only fetches what changed.
pub struct Git2Committer {
    inner: Arc<Inner>,
}

struct Inner {
    config: Git2Config,
    /// libgit2 repositories are not shareable between threads; one operation at a time uses
    /// the cache, and the lock also keeps two fetches from racing on the same refs.
    cache: Mutex<Option<Repository>>,
    gauges: Arc<crate::gauges::CommitterGauges>,
}

/// How one attempt ended.
enum Attempt {
    Done(CommitOutcome),
    /// Another writer moved the branch first: plan again on the new tip.
    LostRace(String),
    /// The network failed. `pushed` is the commit whose push was under way: it may have landed.
    Transport {
        error: GitError,
        pushed: Option<Oid>,
    },
}

/// How deep the cache is ever fetched to find a commit of the branch's mainline (a history
/// page's `before`, a commit to revert): a bound on one request's work.
const MAX_HISTORY_DEPTH: usize = 512_000;

/// How deep to fetch when checking whether a commit whose push failed mid-way has landed.
const LANDED_CHECK_DEPTH: i32 = 64;
/// How deep an ancestry check looks when the shallow cache cannot answer: Argo CD's revision
/// and a request's commit are normally a few commits apart.
const ANCESTRY_DEPTH: i32 = 512;

impl Git2Committer {
    pub fn new(config: Git2Config) -> Self {
        set_network_timeouts();
        Self {
            inner: Arc::new(Inner {
                config,
                cache: Mutex::new(None),
                gauges: Default::default(),
            }),
        }
    }

    /// Runs `work` on the cache repository in the blocking pool.
    async fn with_cache<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner, &Repository) -> Result<T, CommitError> + Send + 'static,
    ) -> Result<T, CommitError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut guard = inner
                .cache
                .lock()
                .map_err(|_| GitError::Worker("cache lock poisoned".into()))?;
            if guard.is_none() {
                *guard = Some(open_cache(&inner.config)?);
            }
            let repo = guard
                .as_ref()
                .ok_or_else(|| GitError::Worker("cache not open".into()))?;
            work(&inner, repo)
        })
        .await
        .map_err(|e| GitError::Worker(e.to_string()))?
    }
}

#[async_trait]
impl Committer for Git2Committer {
    async fn write_access(&self) -> crate::access::WriteAccess {
        self.read_access().await
    }

    fn gauges(&self) -> Option<&crate::gauges::CommitterGauges> {
        Some(&self.inner.gauges)
    }

    async fn read(&self, paths: Vec<String>) -> Result<Snapshot, GitError> {
        let result = self
            .with_cache(move |inner, repo| {
                let tip = inner.fetch_tip(repo, 1)?;
                let files = read_files(repo, tip, &paths)?;
                Ok(Snapshot {
                    tip: tip.to_string(),
                    files,
                })
            })
            .await;
        result.map_err(git_error)
    }

    async fn commit(
        &self,
        request: CommitRequest,
        plan: Arc<PlanFn>,
    ) -> Result<CommitOutcome, CommitError> {
        // The commit of an attempt whose push failed mid-way: the next attempt looks for it.
        let pending = std::sync::Mutex::new(None);
        let pending = &pending;
        let attempts = Attempts::new(
            self.inner.config.max_attempts,
            Duration::from_millis(20),
            Duration::from_millis(1500),
        )
        .counted_in(&self.inner.gauges);
        attempts
            .land(&request.request_id, || {
                let (req, plan) = (request.clone(), Arc::clone(&plan));
                async move {
                    let before = pending.lock().map_or(None, |p| *p);
                    let attempt =
                        move |inner: &Inner, repo: &_| inner.attempt(repo, &req, &*plan, before);
                    let (tried, after) = match self.with_cache(attempt).await? {
                        Attempt::Done(outcome) => (Tried::Done(outcome), before),
                        Attempt::LostRace(reason) => (Tried::LostRace(reason), None),
                        Attempt::Transport { error, pushed } => {
                            (Tried::Unreached(error), pushed.or(before))
                        }
                    };
                    if let Ok(mut p) = pending.lock() {
                        *p = after;
                    }
                    Ok(tried)
                }
            })
            .await
    }

    async fn read_ref(
        &self,
        reference: String,
        paths: Vec<String>,
    ) -> Result<RefSnapshot, GitError> {
        if !reference.starts_with("refs/") || !git2::Reference::is_valid_name(&reference) {
            return Err(GitError::Backend(format!(
                "{reference:?} is not a reference name"
            )));
        }
        let result = self
            .with_cache(move |inner, repo| {
                let tip = inner.fetch_tip(repo, 1)?;
                let head = inner.fetch_ref(repo, &reference)?;
                let files = read_files(repo, head, &paths)?;
                let changed = changed_paths(repo, tip, head)?;
                Ok(RefSnapshot {
                    head: head.to_string(),
                    files,
                    changed,
                })
            })
            .await;
        result.map_err(git_error)
    }

    async fn contains(&self, pairs: Vec<(String, String)>) -> Result<Vec<bool>, GitError> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let result = self
            .with_cache(move |inner, repo| {
                inner.fetch_tip(repo, 1)?;
                let mut answers: Vec<bool> =
                    pairs.iter().map(|(a, d)| contains(repo, a, d)).collect();
                // A shallow cache may miss the commits between: look deeper once.
                if answers.iter().any(|yes| !yes) {
                    inner.fetch_tip(repo, ANCESTRY_DEPTH)?;
                    for (answer, (a, d)) in answers.iter_mut().zip(&pairs) {
                        *answer = *answer || contains(repo, a, d);
                    }
                }
                Ok(answers)
            })
            .await;
        result.map_err(git_error)
    }

    async fn find_requests(
        &self,
        request_ids: Vec<String>,
        branch: Option<String>,
    ) -> Result<BTreeMap<String, String>, GitError> {
        let result = self
            .with_cache(move |inner, repo| {
                let tip = match &branch {
                    None => inner.fetch_tip(repo, crate::FIND_REQUEST_DEPTH as i32)?,
                    Some(name) => match inner.fetch_ref(repo, &format!("refs/heads/{name}")) {
                        Ok(head) => head,
                        // A pull-request branch that was never pushed holds nothing.
                        Err(GitError::Backend(_)) => return Ok(BTreeMap::new()),
                        Err(e) => return Err(e.into()),
                    },
                };
                let mut search = RequestsSearch::new(request_ids);
                walk_commits(repo, tip, crate::FIND_REQUEST_DEPTH, |commit| {
                    let message = String::from_utf8_lossy(commit.message_bytes());
                    search.visit(&commit.id().to_string(), &message)
                })?;
                Ok(search.found)
            })
            .await;
        result.map_err(git_error)
    }

    async fn find_landed(
        &self,
        request_id: String,
        since: i64,
    ) -> Result<Option<crate::LandedCommit>, GitError> {
        let result = self
            .with_cache(move |inner, repo| {
                // Deepens a shallow cache once; later lookups find the history already there.
                let tip = inner.fetch_tip(repo, crate::LANDED_SEARCH_DEPTH as i32)?;
                let mut search = LandedSearch::new(request_id, since);
                walk_commits(repo, tip, crate::LANDED_SEARCH_DEPTH, |commit| {
                    let message = String::from_utf8_lossy(commit.message_bytes());
                    let committed_at = commit.committer().when().seconds();
                    search.visit(&commit.id().to_string(), &message, committed_at)
                })?;
                Ok(search.found)
            })
            .await;
        result.map_err(git_error)
    }

    async fn folder_history(
        &self,
        folder: String,
        before: Option<String>,
        limit: usize,
    ) -> Result<Option<crate::FolderHistory>, GitError> {
        let result = self
            .with_cache(move |inner, repo| {
                let start = match &before {
                    // The tip, one commit deep: what the cache already holds below it serves
                    // the walk; a cold cache fetches one walk deep at once.
                    None => {
                        let cold = repo.refname_to_id(&inner.tracking_ref()).is_err();
                        let depth = if cold {
                            crate::HISTORY_SEARCH_DEPTH + 1
                        } else {
                            1
                        };
                        Some(inner.fetch_tip(repo, depth as i32)?)
                    }
                    Some(sha) => {
                        let Ok(before) = Oid::from_str(sha) else {
                            return Ok(None);
                        };
                        // History below a commit never changes: one this cache holds needs no
                        // fetch; another instance's cursor is fetched to.
                        if !holds_with_parent(repo, before)
                            && inner.mainline_distance(repo, before)?.is_none()
                        {
                            return Ok(None);
                        }
                        // Older than `before`: from its first parent on.
                        recorded_first_parent(repo, before)
                    }
                };
                let Some(start) = start else {
                    return Ok(Some(crate::FolderHistory {
                        commits: Vec::new(),
                        next_before: None,
                    }));
                };
                let mut deepen = |edge| inner.deepen_past(repo, edge);
                Ok(Some(folder_history(
                    repo,
                    start,
                    &folder,
                    limit,
                    &mut deepen,
                )?))
            })
            .await;
        result.map_err(git_error)
    }

    async fn commit_files(
        &self,
        sha: String,
        folder: String,
    ) -> Result<Option<crate::CommitFiles>, GitError> {
        let result = self
            .with_cache(move |inner, repo| {
                let Ok(oid) = Oid::from_str(&sha) else {
                    return Ok(None);
                };
                // A commit at the shallow cache's edge lacks its parent: fetch deeper first.
                if !holds_with_parent(repo, oid) && inner.mainline_distance(repo, oid)?.is_none() {
                    return Ok(None);
                }
                let Ok(commit) = repo.find_commit(oid) else {
                    return Ok(None);
                };
                let paths = [folder];
                let before = match recorded_first_parent(repo, oid) {
                    Some(parent) => read_files(repo, parent, &paths)?,
                    None => RepoFiles::new(),
                };
                Ok(Some(crate::CommitFiles {
                    sha: oid.to_string(),
                    message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
                    before,
                    after: read_files(repo, oid, &paths)?,
                }))
            })
            .await;
        result.map_err(git_error)
    }

    fn branch(&self) -> &str {
        &self.inner.config.branch
    }
}
