//! Which Git backend a function commits through, from its environment: `BERTH_GIT_BACKEND`
//! (`git2` or `github`; GitHub by default for a `https://github.com/<owner>/<repo>` remote when
//! a GitHub credential is set), and the GitHub credential (`BERTH_GITHUB_TOKEN`, or a GitHub
//! App's id, private key and installation), which also serves pull requests and commit statuses.

use std::sync::Arc;

use berth_gitops::github::wire::RepoName;
use berth_gitops::{
    AutoMerge, Committer, Git2Committer, Git2Config, GithubCommitter, GithubConfig,
    GithubCredential, GithubPulls, RemoteUrl,
};

use super::error::{ConfigError, invalid};

/// GitHub's API unless `BERTH_GITHUB_API_URL` says otherwise.
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// The backend and its settings, and GitHub's side for pull requests.
#[derive(Debug, Clone)]
pub struct GitSettings {
    pub backend: GitBackend,
    /// Set when a GitHub credential is configured and the remote names a repository: pull
    /// requests are opened there, on either backend.
    pub pull_requests: Option<PullRequestSettings>,
}

#[derive(Debug, Clone)]
pub enum GitBackend {
    Git2(Git2Config),
    Github(GithubConfig),
}

#[derive(Debug, Clone)]
pub struct PullRequestSettings {
    pub github: GithubConfig,
    /// `BERTH_GITHUB_AUTO_MERGE`: how pull requests merge once their checks pass.
    pub auto_merge: Option<AutoMerge>,
}

impl GitSettings {
    /// Reads the backend's settings through `get`, which answers only non-empty values.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let backend = GitBackend::from_env(&get)?;
        let auto_merge = match get("BERTH_GITHUB_AUTO_MERGE") {
            None => None,
            Some(raw) => Some(AutoMerge::parse(&raw).ok_or_else(|| {
                invalid("BERTH_GITHUB_AUTO_MERGE", "must be merge, squash or rebase")
            })?),
        };
        let github = match &backend {
            GitBackend::Github(config) => Some(config.clone()),
            GitBackend::Git2(git) => match github_credential_from_env(&get)? {
                Some(credential) => repository_of(git.remote.as_str()).map(|repo| {
                    Ok::<_, ConfigError>(GithubConfig::new(
                        github_api_url(get("BERTH_GITHUB_API_URL"))?,
                        repo,
                        git.branch.clone(),
                        credential,
                    ))
                }),
                None => None,
            }
            .transpose()?,
        };
        Ok(Self {
            backend,
            pull_requests: github.map(|github| PullRequestSettings { github, auto_merge }),
        })
    }

    /// The committer and the pull requests the functions share; clients are made once, here.
    pub fn into_parts(self) -> Result<GitParts, ConfigError> {
        let pulls = match &self.pull_requests {
            None => None,
            Some(settings) => Some(Arc::new(
                GithubPulls::new(&settings.github, settings.auto_merge)
                    .map_err(|e| invalid(credential_var(&settings.github), e.to_string()))?,
            )),
        };
        Ok(GitParts {
            committer: self.backend.committer()?,
            pulls,
        })
    }

    pub fn branch(&self) -> &str {
        self.backend.branch()
    }

    /// One line for a banner: which backend, which repository, whether pull requests open.
    pub fn describe(&self) -> String {
        let pulls = match &self.pull_requests {
            Some(settings) => format!("; pull requests on {}", settings.github.repo.with_owner()),
            None => "; ?mode=pr pushes a branch only (no GitHub credential)".to_owned(),
        };
        format!("{}{pulls}", self.backend.describe())
    }
}

/// What a function commits and opens pull requests through.
pub struct GitParts {
    pub committer: Arc<dyn Committer>,
    pub pulls: Option<Arc<GithubPulls>>,
}

/// The variable a GitHub client's construction failure is about.
fn credential_var(config: &GithubConfig) -> &'static str {
    match config.credential {
        GithubCredential::App { .. } => "BERTH_GITHUB_APP_PRIVATE_KEY",
        GithubCredential::Token(_) => "BERTH_GITHUB_API_URL",
    }
}

impl GitBackend {
    fn from_env(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw_remote = get("BERTH_GIT_REMOTE").ok_or(ConfigError::Missing("BERTH_GIT_REMOTE"))?;
        let remote = RemoteUrl::parse(&raw_remote).map_err(|e| invalid("BERTH_GIT_REMOTE", e))?;
        let branch = get("BERTH_GIT_BRANCH").unwrap_or_else(|| "main".into());
        let max_attempts = match get("BERTH_GIT_MAX_ATTEMPTS") {
            None => None,
            Some(raw) => Some(
                raw.parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        invalid("BERTH_GIT_MAX_ATTEMPTS", "must be a number from 1 to 100")
                    })?,
            ),
        };
        let credential = github_credential_from_env(get)?;
        let on_github = raw_remote.starts_with("https://github.com/");
        let github = match get("BERTH_GIT_BACKEND").as_deref() {
            Some("github") => true,
            Some("git2") => false,
            Some(_) => return Err(invalid("BERTH_GIT_BACKEND", "must be git2 or github")),
            None => on_github && credential.is_some(),
        };
        if !github {
            let work_dir = get("BERTH_WORK_DIR").unwrap_or_else(|| "/tmp/berth".into());
            let mut git = Git2Config::new(remote, branch, work_dir);
            git.token = get("BERTH_GIT_TOKEN");
            if let Some(name) = get("BERTH_GIT_AUTHOR_NAME") {
                git.author_name = name;
            }
            if let Some(email) = get("BERTH_GIT_AUTHOR_EMAIL") {
                git.author_email = email;
            }
            git.max_attempts = max_attempts.unwrap_or(git.max_attempts);
            return Ok(Self::Git2(git));
        }
        let credential = credential.ok_or(ConfigError::Missing(
            "BERTH_GITHUB_TOKEN (or BERTH_GITHUB_APP_ID, BERTH_GITHUB_APP_PRIVATE_KEY and BERTH_GITHUB_APP_INSTALLATION_ID) for BERTH_GIT_BACKEND=github",
        ))?;
        let repo = repository_of(&raw_remote).ok_or_else(|| {
            invalid(
                "BERTH_GIT_REMOTE",
                "names no repository: the GitHub backend needs https://<host>/<owner>/<repo>",
            )
        })?;
        let api_url = github_api_url(get("BERTH_GITHUB_API_URL"))?;
        let mut config = GithubConfig::new(api_url, repo, branch, credential);
        config.max_attempts = max_attempts.unwrap_or(config.max_attempts);
        Ok(Self::Github(config))
    }

    fn committer(self) -> Result<Arc<dyn Committer>, ConfigError> {
        Ok(match self {
            Self::Git2(config) => Arc::new(Git2Committer::new(config)),
            Self::Github(config) => {
                let var = credential_var(&config);
                Arc::new(GithubCommitter::new(config).map_err(|e| invalid(var, e.to_string()))?)
            }
        })
    }

    fn branch(&self) -> &str {
        match self {
            Self::Git2(config) => &config.branch,
            Self::Github(config) => &config.branch,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Git2(config) => format!("Git over libgit2 to {:?}", config.remote),
            Self::Github(config) => format!(
                "GitHub's API at {} for {}",
                config.api_url,
                config.repo.with_owner()
            ),
        }
    }
}

/// `owner/repo` of a remote URL: its last two path segments, without `.git`.
fn repository_of(remote: &str) -> Option<RepoName> {
    let path = remote.split_once("://")?.1.split_once('/')?.1;
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let name = segments.next()?.trim_end_matches(".git");
    let owner = segments.next()?;
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (valid(owner) && valid(name)).then(|| RepoName {
        owner: owner.to_owned(),
        name: name.to_owned(),
    })
}

/// GitHub's API URL: [`GITHUB_API_URL`] unless set (GitHub Enterprise, a test server).
pub fn github_api_url(raw: Option<String>) -> Result<String, ConfigError> {
    let url = raw.unwrap_or_else(|| GITHUB_API_URL.into());
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains('@') {
        return Err(invalid(
            "BERTH_GITHUB_API_URL",
            "must be an http(s) URL without credentials",
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The GitHub credential: `BERTH_GITHUB_TOKEN`, or a GitHub App (`BERTH_GITHUB_APP_ID`,
/// `BERTH_GITHUB_APP_PRIVATE_KEY` or `BERTH_GITHUB_APP_PRIVATE_KEY_FILE`,
/// `BERTH_GITHUB_APP_INSTALLATION_ID`), not both. Errors never repeat a value.
pub fn github_credential_from_env(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<GithubCredential>, ConfigError> {
    let token = get("BERTH_GITHUB_TOKEN");
    let app_id = get("BERTH_GITHUB_APP_ID");
    if token.is_some() && app_id.is_some() {
        return Err(invalid(
            "BERTH_GITHUB_APP_ID",
            "set either BERTH_GITHUB_TOKEN or a GitHub App, not both",
        ));
    }
    if let Some(token) = token {
        return Ok(Some(GithubCredential::Token(token.into())));
    }
    let Some(app_id) = app_id else {
        return Ok(None);
    };
    let number = |var: &'static str, raw: String| {
        raw.trim()
            .parse::<u64>()
            .map_err(|_| invalid(var, "must be a number"))
    };
    let app_id = number("BERTH_GITHUB_APP_ID", app_id)?;
    let installation_id = number(
        "BERTH_GITHUB_APP_INSTALLATION_ID",
        get("BERTH_GITHUB_APP_INSTALLATION_ID")
            .ok_or(ConfigError::Missing("BERTH_GITHUB_APP_INSTALLATION_ID"))?,
    )?;
    let private_key_pem = match (
        get("BERTH_GITHUB_APP_PRIVATE_KEY"),
        get("BERTH_GITHUB_APP_PRIVATE_KEY_FILE"),
    ) {
        (Some(pem), None) => pem,
        (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
            invalid(
                "BERTH_GITHUB_APP_PRIVATE_KEY_FILE",
                format!("cannot read {path}: {}", e.kind()),
            )
        })?,
        (Some(_), Some(_)) => {
            return Err(invalid(
                "BERTH_GITHUB_APP_PRIVATE_KEY",
                "set either the key or BERTH_GITHUB_APP_PRIVATE_KEY_FILE, not both",
            ));
        }
        (None, None) => return Err(ConfigError::Missing("BERTH_GITHUB_APP_PRIVATE_KEY")),
    };
    Ok(Some(GithubCredential::App {
        app_id,
        private_key_pem: private_key_pem.into(),
        installation_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<GitSettings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        GitSettings::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn a_github_remote_with_a_credential_uses_the_github_backend() {
        let GitBackend::Github(config) = settings(&[
            ("BERTH_GIT_REMOTE", "https://github.com/acme/gitops.git"),
            ("BERTH_GITHUB_TOKEN", "ghp_secret_value"),
        ])
        .unwrap()
        .backend
        else {
            panic!("the GitHub backend")
        };
        assert_eq!(config.repo.with_owner(), "acme/gitops");
        assert_eq!(config.api_url, GITHUB_API_URL);
        assert_eq!(config.graphql_url(), "https://api.github.com/graphql");
        assert!(!format!("{config:?}").contains("ghp_secret_value"));

        // Without a credential, or when told, the same remote is plain Git.
        let plain = settings(&[("BERTH_GIT_REMOTE", "https://github.com/acme/gitops.git")]);
        assert!(matches!(plain.unwrap().backend, GitBackend::Git2(_)));
        let told = settings(&[
            ("BERTH_GIT_REMOTE", "https://github.com/acme/gitops.git"),
            ("BERTH_GITHUB_TOKEN", "t"),
            ("BERTH_GIT_BACKEND", "git2"),
            ("BERTH_GITHUB_AUTO_MERGE", "squash"),
        ])
        .unwrap();
        assert!(matches!(told.backend, GitBackend::Git2(_)));
        // Pushed branches still get their pull requests, through the same credential.
        let pulls = told.pull_requests.expect("pull requests");
        assert_eq!(pulls.github.repo.with_owner(), "acme/gitops");
        assert_eq!(pulls.auto_merge, Some(AutoMerge::Squash));
    }

    #[test]
    fn github_enterprise_serves_graphql_beside_its_rest_api() {
        let GitBackend::Github(config) = settings(&[
            (
                "BERTH_GIT_REMOTE",
                "https://ghe.example.com/platform/tenants",
            ),
            ("BERTH_GIT_BACKEND", "github"),
            ("BERTH_GITHUB_API_URL", "https://ghe.example.com/api/v3/"),
            ("BERTH_GITHUB_TOKEN", "t"),
        ])
        .unwrap()
        .backend
        else {
            panic!("the GitHub backend")
        };
        assert_eq!(config.graphql_url(), "https://ghe.example.com/api/graphql");
        assert_eq!(config.repo.with_owner(), "platform/tenants");
    }

    #[test]
    fn a_github_app_needs_its_three_settings_and_errors_name_no_value() {
        let app = [
            ("BERTH_GIT_REMOTE", "https://github.com/acme/gitops"),
            ("BERTH_GITHUB_APP_ID", "12"),
            ("BERTH_GITHUB_APP_INSTALLATION_ID", "34"),
            ("BERTH_GITHUB_APP_PRIVATE_KEY", "-----BEGIN SECRET-----"),
        ];
        let GitBackend::Github(config) = settings(&app).unwrap().backend else {
            panic!("the GitHub backend")
        };
        let shown = format!("{config:?}");
        assert!(
            shown.contains("app_id: 12") && !shown.contains("BEGIN SECRET"),
            "{shown}"
        );
        assert_eq!(
            settings(&app[..3]).unwrap_err(),
            ConfigError::Missing("BERTH_GITHUB_APP_PRIVATE_KEY")
        );
        let err =
            settings(&[app[0], ("BERTH_GITHUB_APP_ID", "twelve"), app[2], app[3]]).unwrap_err();
        assert!(err.to_string().starts_with("BERTH_GITHUB_APP_ID"), "{err}");
        assert!(!err.to_string().contains("twelve"), "{err}");
        let err =
            settings(&[("BERTH_GIT_REMOTE", "/r"), ("BERTH_GIT_BACKEND", "github")]).unwrap_err();
        assert!(err.to_string().starts_with("BERTH_GITHUB_TOKEN"), "{err}");
        let err =
            settings(&[("BERTH_GIT_REMOTE", "/r"), ("BERTH_GIT_BACKEND", "svn")]).unwrap_err();
        assert!(err.to_string().starts_with("BERTH_GIT_BACKEND"), "{err}");
    }
}
