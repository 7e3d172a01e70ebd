//! Credentials for private chart repositories and registries, from the configuration
//! (`BERTH_CHART_CREDENTIALS`, a secret like the others): never in the catalog, a log, an
//! error or `Debug` output.

use std::fmt;

/// One repository's username and password (or token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// `host[/path]` the credential is for: a repository URL under it uses it.
    pub prefix: String,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("prefix", &self.prefix)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Every configured credential.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials(Vec<Credential>);

/// Why `BERTH_CHART_CREDENTIALS` cannot be used; never repeats a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("BERTH_CHART_CREDENTIALS: entry {entry}: {reason}")]
pub struct CredentialsError {
    pub entry: usize,
    pub reason: &'static str,
}

impl Credentials {
    /// Parses `host[/path]=username:password` entries separated by commas or new lines.
    pub fn parse(raw: &str) -> Result<Self, CredentialsError> {
        let mut all = Vec::new();
        for (i, entry) in raw
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let error = |reason| CredentialsError {
                entry: i + 1,
                reason,
            };
            let (prefix, secret) = entry
                .split_once('=')
                .ok_or_else(|| error("must be host[/path]=username:password"))?;
            let (username, password) = secret
                .split_once(':')
                .ok_or_else(|| error("must be host[/path]=username:password"))?;
            let prefix = prefix.trim().trim_end_matches('/');
            if prefix.is_empty() || prefix.contains("://") || username.is_empty() {
                return Err(error(
                    "needs a host without a scheme, a username and a password",
                ));
            }
            all.push(Credential {
                prefix: prefix.to_owned(),
                username: username.to_owned(),
                password: password.to_owned(),
            });
        }
        Ok(Self(all))
    }

    /// The credential for a repository URL: the longest prefix of its host and path.
    pub fn for_url(&self, url: &str) -> Option<&Credential> {
        let bare = url.split_once("://").map_or(url, |(_, rest)| rest);
        self.0
            .iter()
            .filter(|c| {
                bare == c.prefix
                    || bare
                        .strip_prefix(&c.prefix)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|c| c.prefix.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_longest_prefix_and_never_shows_the_password() {
        let all = Credentials::parse(
            "registry.example.com=ci:one, registry.example.com/team=team:p:w:d\n",
        )
        .unwrap();
        let team = all
            .for_url("oci://registry.example.com/team/charts")
            .unwrap();
        assert_eq!(
            (team.username.as_str(), team.password.as_str()),
            ("team", "p:w:d")
        );
        assert_eq!(
            all.for_url("oci://registry.example.com/other")
                .unwrap()
                .username,
            "ci"
        );
        assert!(all.for_url("https://registry.example.community").is_none());
        assert!(!format!("{all:?}").contains("one"));
        let err = Credentials::parse("host-only").unwrap_err();
        assert!(!err.to_string().contains("host-only") || err.entry == 1);
    }
}
