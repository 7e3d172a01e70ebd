//! What kind of remote a URL names, and how to show it without its credentials.

use std::fmt;

/// A Git remote: a local path (or `file://`), or a network URL (`git://`, `https://`, ...).
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteUrl(String);

impl RemoteUrl {
    /// Refuses URLs that carry a password: tokens belong in configuration, not in URLs that
    /// end up in logs and error messages.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.trim().is_empty() {
            return Err("the Git remote is empty".into());
        }
        if let Some((_, rest)) = url.split_once("://")
            && let Some(authority) = rest.split('/').next()
            && let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            return Err(
                "the Git remote URL contains a password; set BERTH_GIT_TOKEN instead".into(),
            );
        }
        Ok(Self(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the local transport, which cannot fetch shallow and does not run hooks.
    pub fn is_local(&self) -> bool {
        self.0.starts_with("file://") || !self.0.contains("://")
    }

    /// The path of a local remote.
    pub fn local_path(&self) -> Option<&str> {
        if !self.is_local() {
            return None;
        }
        Some(self.0.strip_prefix("file://").unwrap_or(&self.0))
    }
}

impl fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteUrl({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_local_from_network() {
        assert!(RemoteUrl::parse("/srv/git/tenants.git").unwrap().is_local());
        assert_eq!(
            RemoteUrl::parse("file:///srv/x.git").unwrap().local_path(),
            Some("/srv/x.git")
        );
        assert!(
            !RemoteUrl::parse("git://127.0.0.1:9418/x.git")
                .unwrap()
                .is_local()
        );
        assert!(
            !RemoteUrl::parse("https://github.com/o/r.git")
                .unwrap()
                .is_local()
        );
    }

    #[test]
    fn refuses_passwords_in_urls() {
        assert!(RemoteUrl::parse("https://user:tok@github.com/o/r.git").is_err());
        assert!(RemoteUrl::parse("https://x-access-token@github.com/o/r.git").is_ok());
        assert!(RemoteUrl::parse("").is_err());
    }
}
