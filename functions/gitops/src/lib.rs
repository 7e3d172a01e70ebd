//! The Committer: turns a planned [`Change`] into one commit on a Git branch and pushes it.
//!
//! A committer never plans by itself. The caller hands it the paths to read and a planning
//! function; the committer reads those paths at the branch tip, plans, commits and pushes, and
//! when the push loses a race it fetches the new tip and plans again, so a request is always
//! applied to the state it lands on: never lost, never applied twice.

pub mod access;
mod attempts;
pub mod gauges;
mod git2;
pub mod github;
mod remote;
mod seed;
mod trailer_search;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use berth_core::{Change, PlanError, RepoFiles};

pub use self::git2::{Git2Committer, Git2Config};
pub use berth_core::file_diff::{FileChange, FileChangeKind, file_changes};
pub use github::pulls::{
    AutoMerge, GithubPulls, OpenedPullRequest, PullRequestDraft, PullRequestState, UnreviewedPull,
};
pub use github::{GithubCommitter, GithubConfig, GithubCredential};
pub use remote::RemoteUrl;
pub use seed::seed_bare_repository;

/// How far back [`Committer::find_request`] looks: an interrupted request is retried within its
/// claim's lease (a minute), and far fewer commits than this land on the branch in that time.
pub const FIND_REQUEST_DEPTH: usize = 256;

/// How many commits [`Committer::find_landed`] looks through at most: an expired request's
/// commit is looked for only back to the time the request was made, and no deeper than this.
pub const LANDED_SEARCH_DEPTH: usize = 5_000;

/// A commit carrying a request's trailer, as [`Committer::find_landed`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedCommit {
    pub sha: String,
    pub message: String,
    /// The commit's committer time, in epoch seconds.
    pub committed_at: i64,
}

/// How many commits one page of [`Committer::folder_history`] looks through at most: a folder
/// that changed rarely pages on from where the walk stopped instead of walking on.
pub const HISTORY_SEARCH_DEPTH: usize = 2_000;

/// A commit that changed a folder, with the files it changed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderCommit {
    pub sha: String,
    /// Its message; for a merge commit whose own message carries no request, the merged
    /// commit's message (where Berth's pull requests keep their trailers) follows it.
    pub message: String,
    /// The committer time, in epoch seconds.
    pub committed_at: i64,
    /// `Name <email>` of the author.
    pub author: String,
    pub files: Vec<FileChange>,
}

/// A page of a folder's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderHistory {
    pub commits: Vec<FolderCommit>,
    /// Pass as `before` for the next page; `None` when the history ended.
    pub next_before: Option<String>,
}

/// A folder as one commit and its first parent hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitFiles {
    pub sha: String,
    pub message: String,
    /// The folder's files before the commit (empty for a root commit).
    pub before: RepoFiles,
    /// The folder's files as the commit left them.
    pub after: RepoFiles,
}

impl CommitFiles {
    /// The files the commit changed, by path.
    pub fn changes(&self) -> Vec<FileChange> {
        file_changes(&self.before, &self.after)
    }
}

/// Plans a request against the files read at the tip.
pub type PlanFn = dyn Fn(&RepoFiles) -> Result<Change, PlanError> + Send + Sync;

/// Where a commit goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Straight onto the configured branch (`?mode=direct`).
    Branch,
    /// Onto a new branch of this name, created from the configured branch's tip (`?mode=pr`).
    NewBranch(String),
}

#[derive(Debug, Clone)]
pub struct CommitRequest {
    /// The request's id, for logs and for naming temporary refs.
    pub request_id: String,
    /// Files, and folders ending in `/`, that the plan reads.
    pub reads: Vec<String>,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// One commit landed on `branch`.
    Committed { sha: String, branch: String },
    /// The plan left the tree as it was at `tip`: nothing was committed.
    NoChange { tip: String },
}

/// The files a read asked for, as they are at `tip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub tip: String,
    pub files: RepoFiles,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The request is refused against the current tip: nothing was written.
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// A failure of Git itself. Messages never contain a credential.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git: {0}")]
    Backend(String),
    #[error("branch {branch} does not exist on the remote")]
    MissingBranch { branch: String },
    #[error("the remote refused the credentials")]
    Authentication,
    /// GitHub refused the credential, or an App token could not be minted; the reason names
    /// no secret.
    #[error("GitHub refused Berth's credentials: {0}")]
    Credential(String),
    /// GitHub asks to wait this long, longer than a request can.
    #[error("GitHub's rate limit: retry in {} s", .retry_after.as_secs())]
    RateLimited { retry_after: std::time::Duration },
    /// The network to the remote failed; a retry may succeed.
    #[error("git transport: {0}")]
    Transport(String),
    /// The remote refused the push for a reason a retry cannot fix (a hook, a protected branch).
    #[error("the remote rejected the push: {reason}")]
    PushRejected { reason: String },
    /// Other writers kept winning the race for the branch tip.
    #[error("gave up after {attempts} attempts: the branch kept moving under us")]
    Contention { attempts: u32 },
    #[error("git worker stopped: {0}")]
    Worker(String),
}

impl GitError {
    /// True for failures of the remote or of this process, which a later retry may fix.
    pub fn is_transient(&self) -> bool {
        !matches!(self, GitError::PushRejected { .. })
    }
}

/// Writes changes to a Git branch. Backends: [`Git2Committer`] for any remote,
/// [`GithubCommitter`] for GitHub's API.
#[async_trait]
pub trait Committer: Send + Sync {
    /// Reads `paths` (files, and folders ending in `/`) at the branch tip.
    async fn read(&self, paths: Vec<String>) -> Result<Snapshot, GitError>;

    /// Whether the credential may push, and whether the branch is protected, as far as the
    /// backend can tell without writing.
    async fn write_access(&self) -> access::WriteAccess {
        access::WriteAccess::unknown("this backend cannot tell")
    }

    /// What this committer counted for operators: lost races, GitHub's rate limit.
    fn gauges(&self) -> Option<&gauges::CommitterGauges> {
        None
    }

    /// Reads `request.reads` at the tip, plans with `plan`, commits and pushes; on a lost race,
    /// does it all again against the new tip, a bounded number of times.
    async fn commit(
        &self,
        request: CommitRequest,
        plan: Arc<PlanFn>,
    ) -> Result<CommitOutcome, CommitError>;

    /// Reads `paths` at the commit that `reference` (`refs/pull/<n>/head`, a branch) names on
    /// the remote, and lists the paths that differ between it and the branch tip.
    async fn read_ref(
        &self,
        reference: String,
        paths: Vec<String>,
    ) -> Result<RefSnapshot, GitError>;

    /// For each `(ancestor, descendant)` pair of commit ids, whether `descendant` contains
    /// `ancestor` (is it, or descends from it) in the branch's history. Answers from ancestry,
    /// never from comparing names; an id the history does not hold answers `false`.
    async fn contains(&self, pairs: Vec<(String, String)>) -> Result<Vec<bool>, GitError>;

    /// The commit whose message carries `Berth-Request: <request_id>` among the newest
    /// [`FIND_REQUEST_DEPTH`] commits of `branch` (the configured branch when `None`), if any:
    /// how a retry learns whether an interrupted request landed. A `branch` that does not
    /// exist holds no request.
    async fn find_request(
        &self,
        request_id: String,
        branch: Option<String>,
    ) -> Result<Option<String>, GitError> {
        let mut found = self.find_requests(vec![request_id], branch).await?;
        Ok(found.pop_first().map(|(_, sha)| sha))
    }

    /// [`Committer::find_request`] for several requests in one walk of the history: the
    /// commit of each one found, by request id. How the next holder of the commit lease finds
    /// the batch a holder that died committed without recording.
    async fn find_requests(
        &self,
        request_ids: Vec<String>,
        branch: Option<String>,
    ) -> Result<BTreeMap<String, String>, GitError>;

    /// The newest commit of the configured branch carrying `request_id`'s trailer, looking no
    /// further back than commits made before `since` (epoch seconds) nor deeper than
    /// [`LANDED_SEARCH_DEPTH`] commits: how a request whose record expired is answered.
    async fn find_landed(
        &self,
        request_id: String,
        since: i64,
    ) -> Result<Option<LandedCommit>, GitError>;

    /// The commits of the configured branch's mainline (first parents: a merged pull request
    /// is its merge commit) that changed `folder` (ending in `/`), newest first: at most
    /// `limit`, older than commit `before` when given, looking through at most
    /// [`HISTORY_SEARCH_DEPTH`] commits. `None` when `before` is not a commit of the branch.
    async fn folder_history(
        &self,
        folder: String,
        before: Option<String>,
        limit: usize,
    ) -> Result<Option<FolderHistory>, GitError>;

    /// `folder` (ending in `/`) as commit `sha` and its first parent hold it; `None` when the
    /// repository has no such commit.
    async fn commit_files(
        &self,
        sha: String,
        folder: String,
    ) -> Result<Option<CommitFiles>, GitError>;

    /// The branch direct commits go to.
    fn branch(&self) -> &str;
}

/// Files at another reference than the branch, and what differs from the branch tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefSnapshot {
    pub head: String,
    pub files: RepoFiles,
    /// Paths added, changed or removed relative to the branch tip.
    pub changed: Vec<String>,
}
