//! What a committer can tell of its own access before the first request needs it: whether its
//! credential may push, which permissions Berth uses that it lacks, and whether the branch is
//! protected (a direct commit would then be refused). `berth doctor` reports these.

/// A committer's access, as far as its backend can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteAccess {
    /// Whether the credential may push to the branch; `None` when it cannot be told.
    pub can_push: Option<bool>,
    /// How that was learned, or why it could not be.
    pub detail: String,
    /// Permissions Berth uses that the credential lacks, as GitHub names them
    /// (`pull_requests: write`).
    pub missing: Vec<String>,
    /// Whether the branch is protected; `None` when the backend cannot say.
    pub protected_branch: Option<bool>,
}

impl WriteAccess {
    pub fn unknown(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            ..Self::default()
        }
    }
}

/// The GitHub App permissions Berth uses, and the level each needs: commits, pull requests,
/// commit statuses on people's pull requests, and labels (issues).
pub const APP_PERMISSIONS: [(&str, &str); 4] = [
    ("contents", "write"),
    ("pull_requests", "write"),
    ("statuses", "write"),
    ("issues", "write"),
];

/// The permissions of `granted` (GitHub's `permissions` object) short of [`APP_PERMISSIONS`].
pub fn missing_permissions(granted: &serde_json::Value) -> Vec<String> {
    APP_PERMISSIONS
        .iter()
        .filter(|(name, needed)| {
            let level = granted[*name].as_str().unwrap_or("none");
            !(level == *needed || (level == "admin"))
        })
        .map(|(name, needed)| format!("{name}: {needed}"))
        .collect()
}
