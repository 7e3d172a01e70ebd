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
