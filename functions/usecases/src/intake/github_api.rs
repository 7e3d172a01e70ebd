//! The GitHub API client the GitHub events use (commit statuses, plan comments, the missed
//! reviews' query): its base URL, its credential and the bounds on every call.

use berth_gitops::GithubCredential;
use octocrab::Octocrab;
use octocrab::secrecy::ExposeSecret;

/// Bounds on each GitHub call, inside a request's deadline (26 s).
const GITHUB_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
const GITHUB_IO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Why the GitHub client cannot be built. The sources are octocrab's and jsonwebtoken's errors,
/// which never hold the credential.
#[derive(Debug, thiserror::Error)]
pub enum GithubApiError {
    #[error("{url:?} is not a URL")]
    NotAUrl {
        url: String,
        #[source]
        source: octocrab::Error,
    },
    #[error("the GitHub App's private key is not an RSA key in PEM form")]
    PrivateKey(#[source] octocrab::jsonwebtoken::errors::Error),
    #[error("cannot build the GitHub client")]
    Client(#[source] octocrab::Error),
    #[error("cannot use the GitHub App's installation")]
    Installation(#[source] octocrab::Error),
}

/// Where GitHub's API is (github.com, GitHub Enterprise, or a test server) and the token.
#[derive(Clone)]
pub struct GithubApi {
    pub client: Octocrab,
}

impl std::fmt::Debug for GithubApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GithubApi")
    }
}

impl GithubApi {
    /// A client for `base_url` with `credential` (never logged): a token, or a GitHub App
    /// whose installation tokens octocrab mints and renews.
    pub fn new(
        base_url: &str,
        credential: Option<GithubCredential>,
    ) -> Result<Self, GithubApiError> {
        // A stalled GitHub must fail a call well inside a request's deadline.
        let mut builder = Octocrab::builder()
            .base_uri(base_url)
            .map_err(|source| GithubApiError::NotAUrl {
                url: base_url.to_owned(),
                source,
            })?
            .set_connect_timeout(Some(GITHUB_CONNECT_TIMEOUT))
            .set_read_timeout(Some(GITHUB_IO_TIMEOUT))
            .set_write_timeout(Some(GITHUB_IO_TIMEOUT));
        let mut installation = None;
        match credential {
            Some(GithubCredential::Token(token)) => {
                builder = builder.personal_token(token.expose_secret().to_owned());
            }
            Some(GithubCredential::App {
                app_id,
                private_key_pem,
                installation_id,
            }) => {
                let key =
                    octocrab::EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
                        .map_err(GithubApiError::PrivateKey)?;
                builder = builder.app(octocrab::models::AppId(app_id), key);
                installation = Some(octocrab::models::InstallationId(installation_id));
            }
            None => {}
        }
        let client = builder.build().map_err(GithubApiError::Client)?;
        let client = match installation {
            Some(id) => client
                .installation(id)
                .map_err(GithubApiError::Installation)?,
            None => client,
        };
        Ok(Self { client })
    }
}
