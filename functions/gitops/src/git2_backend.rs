//! The Git2 backend: a bare cache under a work folder (Lambda's `/tmp`), refreshed with a fetch
//! of the branch tip only; new trees built from the old one with `TreeUpdateBuilder` (no work
//! tree, no index, no checkout); one commit; a push without force.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use berth_core::{Change, RepoFiles};
use git2::{
    AutotagOption, Cred, ErrorClass, ErrorCode, FetchOptions, FileMode, ObjectType, Oid,
    PushOptions, RemoteCallbacks, Repository, Signature, TreeWalkMode, TreeWalkResult,
    build::TreeUpdateBuilder,
};
use sha2::{Digest, Sha256};

use crate::attempts::Attempts;
use crate::remote::RemoteUrl;
use crate::trailer_search::{LandedSearch, RequestsSearch};
use crate::{
    CommitError, CommitOutcome, CommitRequest, Committer, GitError, PlanFn, RefSnapshot, Snapshot,
    Target,
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

/// Bounds on each Git network call, so a stalled remote fails a call well inside a request's
/// deadline (26 s) rather than holding the cache until the function is killed.
const CONNECT_TIMEOUT_MS: i32 = 5_000;
const READ_WRITE_TIMEOUT_MS: i32 = 10_000;

/// Sets libgit2's process-wide network timeouts, once.
fn set_network_timeouts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: these options are plain integers libgit2 reads when it opens a connection.
        // `Once` makes this the only write, and it happens while the first committer is built,
        // before that committer has opened any connection.
        let set = unsafe {
            git2::opts::set_server_connect_timeout_in_milliseconds(CONNECT_TIMEOUT_MS).and(
                git2::opts::set_server_timeout_in_milliseconds(READ_WRITE_TIMEOUT_MS),
            )
        };
        if let Err(e) = set {
            tracing::warn!(error = %e, "could not set Git network timeouts");
        }
    });
}

impl Git2Committer {
    pub fn new(config: Git2Config) -> Self {
        set_network_timeouts();
        Self {
            inner: Arc::new(Inner {
                config,
                cache: Mutex::new(None),
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
        let mut attempts = Attempts::new(
            self.inner.config.max_attempts,
            Duration::from_millis(20),
            Duration::from_millis(1500),
        );
        let mut pending = None;
        loop {
            let (req, plan) = (request.clone(), Arc::clone(&plan));
            match self
                .with_cache(move |inner, repo| inner.attempt(repo, &req, &*plan, pending))
                .await?
            {
                Attempt::Done(outcome) => return Ok(outcome),
                Attempt::LostRace(reason) => {
                    tracing::info!(request_id = %request.request_id, attempts = attempts.made, %reason, "push lost a race; planning again on the new tip");
                    attempts.lost_race();
                    pending = None;
                }
                Attempt::Transport { error, pushed } => {
                    tracing::warn!(request_id = %request.request_id, attempts = attempts.made, %error, "Git transport failed");
                    attempts.unreached(error)?;
                    pending = pushed.or(pending);
                }
            }
            attempts.wait().await?;
        }
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

/// Up to `limit` commits of the first-parent line from `start` that changed `folder`, looking
/// through at most [`crate::HISTORY_SEARCH_DEPTH`] commits.
fn folder_history(
    repo: &Repository,
    start: Oid,
    folder: &str,
    limit: usize,
    deepen: &mut dyn FnMut(Oid) -> Result<bool, GitError>,
) -> Result<crate::FolderHistory, GitError> {
    let dir = Path::new(folder.trim_end_matches('/'));
    let folder_oid = |oid: Oid| {
        repo.find_commit(oid)
            .and_then(|c| c.tree())
            .ok()
            .and_then(|tree| tree.get_path(dir).ok())
            .map(|entry| entry.id())
    };
    let mut history = crate::FolderHistory {
        commits: Vec::new(),
        next_before: None,
    };
    let paths = [folder.to_owned()];
    let (mut last_seen, mut seen, mut deepened) = (None, 0, 0);
    let mut known: Option<(Oid, Option<Oid>)> = None;
    let mut steps = mainline(repo, start);
    while let Some(step) = steps.next() {
        let (oid, parent) = match step {
            Mainline::Commit { oid, parent } => (oid, parent),
            // The cache ends here: fetch deeper and go on from the same commit, a bounded
            // number of times; else the next page goes on from here.
            Mainline::Edge { at } if deepened < DEEPENINGS_PER_WALK && deepen(at)? => {
                deepened += 1;
                steps = mainline(repo, at);
                continue;
            }
            Mainline::Edge { .. } => {
                history.next_before = last_seen.map(|oid: Oid| oid.to_string());
                break;
            }
        };
        if history.commits.len() == limit || seen == crate::HISTORY_SEARCH_DEPTH {
            // More may follow: the next page starts after the last commit looked at.
            history.next_before = last_seen.map(|oid: Oid| oid.to_string());
            break;
        }
        seen += 1;
        last_seen = Some(oid);
        // Each commit's folder is read once: as the parent of the one before, then as itself.
        let mine = match known {
            Some((commit, folder)) if commit == oid => folder,
            _ => folder_oid(oid),
        };
        let theirs = parent.and_then(folder_oid);
        known = parent.map(|p| (p, theirs));
        if mine == theirs {
            continue;
        }
        let commit = repo.find_commit(oid).map_err(backend)?;
        let before = match parent {
            Some(p) => read_files(repo, p, &paths)?,
            None => RepoFiles::new(),
        };
        let after = read_files(repo, oid, &paths)?;
        history.commits.push(crate::FolderCommit {
            sha: oid.to_string(),
            message: mainline_message(repo, &commit),
            committed_at: commit.committer().when().seconds(),
            author: author(&commit.author()),
            files: crate::file_changes(&before, &after),
        });
    }
    Ok(history)
}

/// How many times one walk of a folder's history fetches deeper when it reaches the cache's
/// edge.
const DEEPENINGS_PER_WALK: usize = 2;

/// One step along a mainline.
enum Mainline {
    /// A commit the cache holds, with its first parent (`None` for a root commit).
    Commit { oid: Oid, parent: Option<Oid> },
    /// Commit `at` is not held with its parent (the shallow cache ends): the walk ends here.
    Edge { at: Oid },
}

/// The first-parent line from `start`, read from the commit objects themselves: libgit2 may
/// keep a shallow cache's old edges as parentless grafts after a deepening fetch, so its
/// revwalk would stop there, or show an edge as a root commit. Ends after a root commit, or
/// with [`Mainline::Edge`] where the cache ends.
fn mainline(repo: &Repository, start: Oid) -> impl Iterator<Item = Mainline> + '_ {
    let mut next = Some(start);
    std::iter::from_fn(move || {
        let oid = next.take()?;
        let Some(parent) = held_parent(repo, oid) else {
            return Some(Mainline::Edge { at: oid });
        };
        next = parent;
        Some(Mainline::Commit { oid, parent })
    })
}

/// The first `parent` a commit object records, whatever grafts say; `None` for a root commit.
fn recorded_first_parent(repo: &Repository, oid: Oid) -> Option<Oid> {
    let odb = repo.odb().ok()?;
    let object = odb.read(oid).ok()?;
    let data = std::str::from_utf8(object.data()).ok()?;
    data.lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix("parent "))
        .and_then(|hex| Oid::from_str(hex.trim()).ok())
}

/// Commit `oid`'s first parent (`Some(None)` for a root commit) when the cache holds both the
/// commit and that parent; `None` when it lacks either. The commit object is read once.
fn held_parent(repo: &Repository, oid: Oid) -> Option<Option<Oid>> {
    repo.find_commit(oid).ok()?;
    let parent = recorded_first_parent(repo, oid);
    match parent {
        Some(p) if repo.find_commit(p).is_err() => None,
        _ => Some(parent),
    }
}

/// Whether the cache holds commit `oid` and, unless it is a root commit, its first parent.
fn holds_with_parent(repo: &Repository, oid: Oid) -> bool {
    held_parent(repo, oid).is_some()
}

/// A commit's message; for a merge whose own message carries no request, the merged commit's
/// message follows it (Berth's pull-request commits carry the trailers).
fn mainline_message(repo: &Repository, commit: &git2::Commit<'_>) -> String {
    let own = String::from_utf8_lossy(commit.message_bytes()).into_owned();
    if berth_core::request::requests_carried(&own).next().is_some() {
        return own;
    }
    // A shallow cache may lack the merged side; then the merge speaks for itself.
    match commit.parent_id(1).and_then(|id| repo.find_commit(id)) {
        Ok(merged) => format!("{own}\n{}", String::from_utf8_lossy(merged.message_bytes())),
        Err(_) => own,
    }
}

fn author(signature: &git2::Signature<'_>) -> String {
    format!(
        "{} <{}>",
        String::from_utf8_lossy(signature.name_bytes()),
        String::from_utf8_lossy(signature.email_bytes())
    )
}

/// The Git failure of cache work that plans nothing (reads, ancestry, lookups).
fn git_error(e: CommitError) -> GitError {
    match e {
        CommitError::Git(g) => g,
        CommitError::Plan(p) => GitError::Backend(p.to_string()),
    }
}

/// Visits the commits from `tip`, newest first, until `visit` answers `false`, `depth` commits
/// were seen, or the history ends (a shallow cache ends where its history does).
fn walk_commits(
    repo: &Repository,
    tip: Oid,
    depth: usize,
    mut visit: impl FnMut(&git2::Commit<'_>) -> bool,
) -> Result<(), GitError> {
    let mut walk = repo.revwalk().map_err(backend)?;
    walk.push(tip).map_err(backend)?;
    for oid in walk.take(depth) {
        let Ok(commit) = oid.and_then(|oid| repo.find_commit(oid)) else {
            break;
        };
        if !visit(&commit) {
            break;
        }
    }
    Ok(())
}

/// Whether commit `descendant` is `ancestor` or descends from it, as far as `repo` knows.
fn contains(repo: &Repository, ancestor: &str, descendant: &str) -> bool {
    let (Ok(a), Ok(d)) = (Oid::from_str(ancestor), Oid::from_str(descendant)) else {
        return false;
    };
    if a.is_zero() || d.is_zero() || repo.find_commit(a).is_err() || repo.find_commit(d).is_err() {
        return false;
    }
    a == d || repo.graph_descendant_of(d, a).unwrap_or(false)
}

/// Paths that differ between the trees of two commits.
fn changed_paths(repo: &Repository, base: Oid, head: Oid) -> Result<Vec<String>, GitError> {
    let tree = |oid: Oid| {
        repo.find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(backend)
    };
    let diff = repo
        .diff_tree_to_tree(Some(&tree(base)?), Some(&tree(head)?), None)
        .map_err(backend)?;
    let mut paths: Vec<String> = diff
        .deltas()
        .flat_map(|d| [d.old_file().path(), d.new_file().path()])
        .flatten()
        .filter_map(|p| p.to_str().map(str::to_owned))
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

impl Inner {
    fn branch_ref(&self) -> String {
        format!("refs/heads/{}", self.config.branch)
    }

    fn tracking_ref(&self) -> String {
        format!("refs/remotes/origin/{}", self.config.branch)
    }

    /// One fetch, read, plan, commit and push. `pending` is a commit from an earlier attempt
    /// whose push failed mid-way: if it landed, the request is done; a new branch gets the
    /// same commit pushed again.
    fn attempt(
        &self,
        repo: &Repository,
        request: &CommitRequest,
        plan: &PlanFn,
        pending: Option<Oid>,
    ) -> Result<Attempt, CommitError> {
        let depth = if pending.is_some() {
            LANDED_CHECK_DEPTH
        } else {
            1
        };
        let started = std::time::Instant::now();
        let tip = match self.fetch_tip(repo, depth) {
            Ok(tip) => tip,
            Err(error @ GitError::Transport(_)) => {
                return Ok(Attempt::Transport {
                    error,
                    pushed: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(ours) = pending {
            match &request.target {
                Target::Branch
                    if tip == ours || repo.graph_descendant_of(tip, ours).unwrap_or(false) =>
                {
                    return Ok(Attempt::Done(CommitOutcome::Committed {
                        sha: ours.to_string(),
                        branch: self.config.branch.clone(),
                    }));
                }
                Target::NewBranch(name) => {
                    return self.push_commit(repo, request, ours, tip, name, None);
                }
                Target::Branch => {}
            }
        }
        tracing::debug!(request_id = %request.request_id, elapsed_ms = started.elapsed().as_millis() as u64, "fetched the tip");
        let files = read_files(repo, tip, &request.reads)?;
        let change = plan(&files)?;
        let parent = repo.find_commit(tip).map_err(backend)?;
        let base_tree = parent.tree().map_err(backend)?;
        let tree_id = build_tree(repo, &base_tree, &change)?;
        if tree_id == base_tree.id() {
            return Ok(Attempt::Done(CommitOutcome::NoChange {
                tip: tip.to_string(),
            }));
        }
        let tree = repo.find_tree(tree_id).map_err(backend)?;
        let signature =
            Signature::now(&self.config.author_name, &self.config.author_email).map_err(backend)?;
        let commit = repo
            .commit(
                None,
                &signature,
                &signature,
                &change.message,
                &tree,
                &[&parent],
            )
            .map_err(backend)?;
        match &request.target {
            Target::Branch => {
                self.push_commit(repo, request, commit, tip, &self.config.branch, Some(tip))
            }
            Target::NewBranch(name) => self.push_commit(repo, request, commit, tip, name, None),
        }
    }

    fn push_commit(
        &self,
        repo: &Repository,
        request: &CommitRequest,
        commit: Oid,
        base: Oid,
        branch: &str,
        expected: Option<Oid>,
    ) -> Result<Attempt, CommitError> {
        match self.push(repo, &request.request_id, commit, base, branch, expected) {
            Ok(None) => Ok(Attempt::Done(CommitOutcome::Committed {
                sha: commit.to_string(),
                branch: branch.to_owned(),
            })),
            Ok(Some(reason)) => Ok(Attempt::LostRace(reason)),
            Err(error @ GitError::Transport(_)) => Ok(Attempt::Transport {
                error,
                pushed: Some(commit),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes the cache hold the mainline past commit `edge` (held without its parent, or not
    /// held): one fetch as deep as `edge`'s distance from the tip plus a walk's bound when the
    /// cache can count that distance, else ever deeper fetches ([`Self::mainline_distance`]).
    /// Whether the cache now holds `edge` with its parent.
    fn deepen_past(&self, repo: &Repository, edge: Oid) -> Result<bool, GitError> {
        if self.config.remote.is_local() {
            // A remote by path is fetched whole: there is nothing deeper.
            return Ok(false);
        }
        let tip = repo.refname_to_id(&self.tracking_ref()).ok();
        let distance = tip.and_then(|tip| {
            mainline(repo, tip)
                .take(MAX_HISTORY_DEPTH)
                .position(|step| match step {
                    Mainline::Commit { oid, .. } => oid == edge,
                    Mainline::Edge { at } => at == edge,
                })
        });
        match distance {
            Some(distance) => {
                let depth = distance + crate::HISTORY_SEARCH_DEPTH + 1;
                self.fetch_tip(repo, i32::try_from(depth).unwrap_or(i32::MAX))?;
                Ok(holds_with_parent(repo, edge))
            }
            None => Ok(self.mainline_distance(repo, edge)?.is_some()),
        }
    }

    /// How many first-parent steps commit `target` is from the branch tip, deepening the cache
    /// (each time four times deeper, up to [`MAX_HISTORY_DEPTH`]) until it holds `target` and
    /// its parent; `None` when the mainline that deep does not hold it.
    fn mainline_distance(&self, repo: &Repository, target: Oid) -> Result<Option<usize>, GitError> {
        let mut depth = crate::HISTORY_SEARCH_DEPTH;
        loop {
            let tip = self.fetch_tip(repo, i32::try_from(depth).unwrap_or(i32::MAX))?;
            let position = mainline(repo, tip)
                .take(depth)
                .position(|step| matches!(step, Mainline::Commit { oid, .. } if oid == target));
            if let Some(distance) = position {
                return Ok(Some(distance));
            }
            if depth >= MAX_HISTORY_DEPTH || self.config.remote.is_local() {
                return Ok(None);
            }
            depth = (depth * 4).min(MAX_HISTORY_DEPTH);
        }
    }

    /// Fetches the branch tip into the cache and returns it.
    fn fetch_tip(&self, repo: &Repository, depth: i32) -> Result<Oid, GitError> {
        self.fetch(
            repo,
            &format!("+{}:{}", self.branch_ref(), self.tracking_ref()),
            depth,
        )?;
        match repo.refname_to_id(&self.tracking_ref()) {
            Ok(oid) => Ok(oid),
            Err(e) if e.code() == ErrorCode::NotFound => Err(GitError::MissingBranch {
                branch: self.config.branch.clone(),
            }),
            Err(e) => Err(backend(e)),
        }
    }

    /// One fetch of `refspec`, `depth` commits deep on network transports (the local transport
    /// cannot fetch shallow), without tags, with the bounded credentials handler.
    fn fetch(&self, repo: &Repository, refspec: &str, depth: i32) -> Result<(), GitError> {
        let mut remote = repo
            .remote_anonymous(self.config.remote.as_str())
            .map_err(backend)?;
        let credential_calls = Cell::new(0);
        let mut options = FetchOptions::new();
        options.remote_callbacks(self.callbacks(&credential_calls));
        options.download_tags(AutotagOption::None);
        if !self.config.remote.is_local() {
            options.depth(depth);
        }
        remote
            .fetch(&[refspec], Some(&mut options), None)
            .map_err(remote_error)
    }

    /// Fetches `reference` (one commit deep over the network) and returns its commit.
    fn fetch_ref(&self, repo: &Repository, reference: &str) -> Result<Oid, GitError> {
        let digest = Sha256::digest(reference.as_bytes());
        let local = format!("refs/berth/fetched/{}", hex::encode(&digest[..8]));
        self.fetch(repo, &format!("+{reference}:{local}"), 1)?;
        repo.refname_to_id(&local)
            .map_err(|_| GitError::Backend(format!("{reference} does not exist on the remote")))
    }

    /// Pushes `commit`, built on `base`, to `branch`. `expected` is the branch's old tip (`None`
    /// for a new branch). Returns the reason when the push lost a race; a permanent refusal is
    /// an error.
    fn push(
        &self,
        repo: &Repository,
        request_id: &str,
        commit: Oid,
        base: Oid,
        branch: &str,
        expected: Option<Oid>,
    ) -> Result<Option<String>, GitError> {
        if let Some(path) = self.config.remote.local_path() {
            return self.push_local(repo, Path::new(path), commit, base, branch, expected);
        }
        // libgit2 pushes references, not object ids: name the commit for the push's duration.
        let local_ref = format!("refs/berth/outgoing/{request_id}");
        repo.reference(&local_ref, commit, true, "berth: outgoing")
            .map_err(backend)?;
        let result = self.push_network(repo, &format!("{local_ref}:refs/heads/{branch}"));
        if let Ok(mut r) = repo.find_reference(&local_ref) {
            let _ = r.delete();
        }
        result
    }

    fn push_network(&self, repo: &Repository, refspec: &str) -> Result<Option<String>, GitError> {
        let mut remote = repo
            .remote_anonymous(self.config.remote.as_str())
            .map_err(backend)?;
        let rejection = std::cell::RefCell::new(None::<String>);
        let credential_calls = Cell::new(0);
        let mut callbacks = self.callbacks(&credential_calls);
        callbacks.push_update_reference(|_refname, status| {
            if let Some(message) = status {
                *rejection.borrow_mut() = Some(message.to_owned());
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        match remote.push(&[refspec], Some(&mut options)) {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::NotFastForward => {
                return Ok(Some("not a fast-forward".into()));
            }
            Err(e) => return Err(remote_error(e)),
        }
        drop(options);
        match rejection.into_inner() {
            None => Ok(None),
            Some(reason) if is_race(&reason) => Ok(Some(reason)),
            Some(reason) => Err(GitError::PushRejected { reason }),
        }
    }

    /// libgit2's local transport moves the target ref without checking its old value, so two
    /// writers could overwrite each other. For a path remote, write the new objects into its
    /// object database as a pack, then move the branch with a compare-and-swap on the tip the
    /// commit was built on (or create it, for a new branch).
    fn push_local(
        &self,
        repo: &Repository,
        path: &Path,
        commit: Oid,
        base: Oid,
        branch: &str,
        expected: Option<Oid>,
    ) -> Result<Option<String>, GitError> {
        let target = Repository::open_bare(path).map_err(backend)?;
        let mut walk = repo.revwalk().map_err(backend)?;
        walk.push(commit).map_err(backend)?;
        walk.hide(base).map_err(backend)?;
        let mut pack = repo.packbuilder().map_err(backend)?;
        pack.insert_walk(&mut walk).map_err(backend)?;
        let odb = target.odb().map_err(backend)?;
        let mut writer = odb.packwriter().map_err(backend)?;
        let mut write_error = None;
        pack.foreach(|chunk| match writer.write_all(chunk) {
            Ok(()) => true,
            Err(e) => {
                write_error = Some(e);
                false
            }
        })
        .map_err(backend)?;
        if let Some(e) = write_error {
            return Err(GitError::Backend(format!("writing the pack: {e}")));
        }
        writer.commit().map_err(backend)?;

        let target_ref = format!("refs/heads/{branch}");
        let moved = match expected {
            Some(old) => target.reference_matching(&target_ref, commit, true, old, "berth: push"),
            None => target.reference(&target_ref, commit, false, "berth: push"),
        };
        match moved {
            Ok(_) => Ok(None),
            // A new branch already holding this very commit: an earlier attempt's push landed.
            Err(e)
                if e.code() == ErrorCode::Exists
                    && target.refname_to_id(&target_ref).ok() == Some(commit) =>
            {
                Ok(None)
            }
            Err(e) if e.code() == ErrorCode::Locked => {
                // Either another writer is moving the branch this instant (a lost race), or a
                // writer died holding the lock, which would refuse every push from now on.
                remove_stale_lock(&path.join(format!("{target_ref}.lock")));
                Ok(Some(format!("{target_ref} is locked: {}", e.message())))
            }
            Err(e) if matches!(e.code(), ErrorCode::Modified | ErrorCode::Exists) => {
                Ok(Some(format!("{target_ref} moved: {}", e.message())))
            }
            Err(e) => Err(backend(e)),
        }
    }

    /// Callbacks with a bounded credentials handler: libgit2 asks again after every refusal,
    /// so the second ask in one operation means the token was refused.
    fn callbacks<'a>(&'a self, calls: &'a Cell<u32>) -> RemoteCallbacks<'a> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(move |_url, username, _allowed| {
            calls.set(calls.get() + 1);
            match (&self.config.token, calls.get()) {
                (Some(token), 1) => {
                    Cred::userpass_plaintext(username.unwrap_or("x-access-token"), token)
                }
                _ => Err(git2::Error::from_str("credentials refused")),
            }
        });
        callbacks
    }
}

/// Server messages that mean someone else updated the ref first.
fn is_race(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    [
        "non-fast-forward",
        "fetch first",
        "stale info",
        "failed to lock",
        "cannot lock",
        "failed to update ref",
    ]
    .iter()
    .any(|m| r.contains(m))
}

fn backend(e: git2::Error) -> GitError {
    GitError::Backend(e.message().to_owned())
}

/// Sorts a failure talking to the remote: refused credentials, a network failure worth a
/// retry, or anything else.
fn remote_error(e: git2::Error) -> GitError {
    if e.code() == ErrorCode::Auth || e.message().contains("credentials refused") {
        return GitError::Authentication;
    }
    match e.class() {
        ErrorClass::Net | ErrorClass::Os | ErrorClass::Http | ErrorClass::Ssl | ErrorClass::Ssh => {
            GitError::Transport(e.message().to_owned())
        }
        _ => backend(e),
    }
}

/// A ref's lock is held for the instant of one update; one older than this was left by a
/// writer that died (a crash, a function killed at its timeout).
const STALE_LOCK_AGE: Duration = Duration::from_secs(10);

/// Removes `lock` when it is older than [`STALE_LOCK_AGE`].
fn remove_stale_lock(lock: &Path) {
    let age = std::fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok());
    if age.is_some_and(|age| age > STALE_LOCK_AGE) && std::fs::remove_file(lock).is_ok() {
        tracing::warn!(lock = %lock.display(), "removed a lock a dead writer left behind");
    }
}

/// Removes every lock file in the cache at `path`. Only this committer uses its cache, one
/// operation at a time, and none has started: any lock there was left by a process that died
/// mid-fetch (on Lambda, `/tmp` outlives a function killed at its timeout), and would fail
/// every fetch from now on.
fn clear_cache_locks(path: &Path) {
    let mut folders = vec![path.to_path_buf()];
    // Bounded: a cache holds a handful of folders (refs/heads, refs/berth/fetched, ...).
    for _ in 0..1_000 {
        let Some(folder) = folders.pop() else {
            break;
        };
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("objects") {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "lock")
                && std::fs::remove_file(&path).is_ok()
            {
                tracing::warn!(lock = %path.display(), "removed a lock a dead process left in the cache");
            }
        }
    }
}

/// Opens (or creates) the bare cache for this remote under the work folder.
fn open_cache(config: &Git2Config) -> Result<Repository, GitError> {
    let digest = Sha256::digest(config.remote.as_str().as_bytes());
    let path = config
        .work_dir
        .join(format!("cache-{}.git", hex::encode(&digest[..8])));
    std::fs::create_dir_all(&config.work_dir)
        .map_err(|e| GitError::Backend(format!("work folder: {e}")))?;
    clear_cache_locks(&path);
    match Repository::open_bare(&path) {
        Ok(repo) => Ok(repo),
        Err(_) => Repository::init_bare(&path).map_err(backend),
    }
}

/// Reads files and folders (ending in `/`) from the tree of `tip`; missing paths are skipped.
fn read_files(repo: &Repository, tip: Oid, paths: &[String]) -> Result<RepoFiles, GitError> {
    let tree = repo
        .find_commit(tip)
        .and_then(|c| c.tree())
        .map_err(backend)?;
    let mut files = RepoFiles::new();
    for path in paths {
        let Some(dir) = path.strip_suffix('/') else {
            if let Ok(entry) = tree.get_path(Path::new(path))
                && let Ok(blob) = repo.find_blob(entry.id())
            {
                files.insert(path.clone(), blob.content().to_vec());
            }
            continue;
        };
        let Ok(entry) = tree.get_path(Path::new(dir)) else {
            continue;
        };
        if entry.kind() != Some(ObjectType::Tree) {
            continue;
        }
        let subtree = repo.find_tree(entry.id()).map_err(backend)?;
        let mut failure = None;
        subtree
            .walk(TreeWalkMode::PreOrder, |parent, entry| {
                if entry.kind() != Some(ObjectType::Blob) {
                    return TreeWalkResult::Ok;
                }
                let Ok(name) = entry.name() else {
                    return TreeWalkResult::Skip;
                };
                match repo.find_blob(entry.id()) {
                    Ok(blob) => {
                        files.insert(format!("{dir}/{parent}{name}"), blob.content().to_vec());
                        TreeWalkResult::Ok
                    }
                    Err(e) => {
                        failure = Some(backend(e));
                        TreeWalkResult::Abort
                    }
                }
            })
            .map_err(backend)?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(files)
}

/// Builds the new tree from the old one: only the changed paths' trees are rewritten.
fn build_tree(repo: &Repository, base: &git2::Tree<'_>, change: &Change) -> Result<Oid, GitError> {
    let mut update = TreeUpdateBuilder::new();
    for path in &change.deletes {
        update.remove(path);
    }
    for (path, bytes) in &change.writes {
        let blob = repo.blob(bytes).map_err(backend)?;
        update.upsert(path, blob, FileMode::Blob);
    }
    update.create_updated(repo, base).map_err(backend)
}
