//! The GitHub backend's access: an App's installation permissions (from the answer that mints
//! its token), or a token's `push` permission on the repository; and the branch's protection.

use http::Method;

use super::GithubCommitter;
use super::client::refusal;
use crate::access::{WriteAccess, missing_permissions};

impl GithubCommitter {
    pub(super) async fn read_access(&self) -> WriteAccess {
        let mut access = match self.client.installation_permissions().await {
            Ok(Some(granted)) => {
                let missing = missing_permissions(&granted);
                let can_push = granted["contents"].as_str() == Some("write");
                WriteAccess {
                    can_push: Some(can_push),
                    detail: format!(
                        "the GitHub App installation grants contents: {}",
                        granted["contents"].as_str().unwrap_or("none")
                    ),
                    missing,
                    protected_branch: None,
                }
            }
            Ok(None) => self.token_access().await,
            Err(e) => WriteAccess::unknown(format!("the App's permissions could not be read: {e}")),
        };
        access.protected_branch = self.branch_protected().await;
        access
    }

    /// A token's access: `permissions.push` on the repository, as GitHub answers it.
    async fn token_access(&self) -> WriteAccess {
        let answer = match self
            .client
            .rest(Method::GET, &self.repo_route(""), None)
            .await
        {
            Ok(answer) if answer.status == 200 => answer,
            Ok(answer) => return WriteAccess::unknown(refusal(&answer).to_string()),
            Err(e) => return WriteAccess::unknown(e.to_string()),
        };
        match answer.body["permissions"]["push"].as_bool() {
            Some(push) => WriteAccess {
                can_push: Some(push),
                detail: format!(
                    "GitHub says the token may {}push",
                    if push { "" } else { "not " }
                ),
                ..WriteAccess::default()
            },
            None => WriteAccess::unknown("GitHub does not say what the token may do"),
        }
    }

    async fn branch_protected(&self) -> Option<bool> {
        let route = self.repo_route(&format!("/branches/{}", self.config.branch));
        let answer = self.client.rest(Method::GET, &route, None).await.ok()?;
        (answer.status == 200)
            .then(|| answer.body["protected"].as_bool())
            .flatten()
    }
}
