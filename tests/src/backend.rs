//! The Git backend the suites run on. With `BERTH_TEST_GIT_BACKEND=github` they commit through
//! the GitHub committer, against the GitHub test server over the same bare repository; by
//! default, and for remotes that are not a bare repository by path, through the Git2 committer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_gitops::github::wire::RepoName;
use berth_gitops::{
    Committer, Git2Committer, Git2Config, GithubCommitter, GithubConfig, GithubCredential,
    RemoteUrl,
};

use crate::github::GithubServer;

/// The token the GitHub test server accepts from the suites' committers.
pub const GITHUB_COMMITTER_TOKEN: &str = "github-committer-test-token";

/// Whether the suites run on the GitHub backend.
pub fn github_selected() -> bool {
    std::env::var("BERTH_TEST_GIT_BACKEND").is_ok_and(|v| v == "github")
}

/// A committer for `remote` on the selected backend. The GitHub test server it talks to serves
/// until the test's runtime ends, as every task of the test does.
pub async fn committer(remote: &str, work: &Path) -> Arc<dyn Committer> {
    if github_selected() && Path::new(remote).is_dir() {
        let server = GithubServer::start(PathBuf::from(remote), GITHUB_COMMITTER_TOKEN).await;
        let (owner, name) = crate::github::REPOSITORY
            .split_once('/')
            .expect("owner/name");
        let config = GithubConfig::new(
            server.url.clone(),
            RepoName {
                owner: owner.into(),
                name: name.into(),
            },
            "main",
            GithubCredential::Token(GITHUB_COMMITTER_TOKEN.to_owned().into()),
        );
        let committer = GithubCommitter::new(config).expect("a GitHub committer");
        // Dropping the server would stop it; the test's runtime stops it instead.
        std::mem::forget(server);
        return Arc::new(committer);
    }
    Arc::new(Git2Committer::new(Git2Config::new(
        RemoteUrl::parse(remote).expect("remote"),
        "main",
        work,
    )))
}

/// A Git backend a test runs on, beside the GitHub test server over the same bare repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Git2,
    Github,
}

/// Both backends, for tests that run on each in turn.
pub const BACKENDS: [Backend; 2] = [Backend::Git2, Backend::Github];

/// The token the GitHub test server of [`committer_on`] accepts; `webhook_secrets` gives the
/// webhooks the same one.
pub const GITHUB_TOKEN: &str = "github-test-token";

/// The configuration of a GitHub client of the test server at `url`.
pub fn github_config(url: &str) -> GithubConfig {
    let (owner, name) = crate::github::REPOSITORY
        .split_once('/')
        .expect("owner/name");
    GithubConfig::new(
        url.to_owned(),
        RepoName {
            owner: owner.into(),
            name: name.into(),
        },
        "main",
        GithubCredential::Token(GITHUB_TOKEN.to_owned().into()),
    )
}

/// A committer on `backend`: the Git2 committer on the bare repository `repo` (its cache in
/// `work`), or the GitHub committer against the test server at `github_url`.
pub fn committer_on(
    backend: Backend,
    repo: &Path,
    work: &Path,
    github_url: &str,
) -> Arc<dyn Committer> {
    match backend {
        Backend::Git2 => Arc::new(Git2Committer::new(Git2Config::new(
            RemoteUrl::parse(repo.to_str().expect("a UTF-8 path")).expect("remote"),
            "main",
            work,
        ))),
        Backend::Github => {
            Arc::new(GithubCommitter::new(github_config(github_url)).expect("a GitHub committer"))
        }
    }
}
