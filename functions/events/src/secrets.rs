//! The secrets of one sender: several may be valid at once, so a sender can rotate.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("no secret given")]
    Empty,
    #[error("secret {0} is shorter than 16 characters")]
    TooShort(usize),
}

/// Secrets as configured: comma-separated, every one valid. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretSet(Vec<String>);

impl SecretSet {
    /// Parses `a,b,c`; blank entries are ignored, short ones refused (numbered from 1).
    pub fn parse(raw: &str) -> Result<Self, SecretsError> {
        let secrets: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if secrets.is_empty() {
            return Err(SecretsError::Empty);
        }
        if let Some(i) = secrets.iter().position(|s| s.len() < 16) {
            return Err(SecretsError::TooShort(i + 1));
        }
        Ok(Self(secrets))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretSet({} secrets)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_and_hides_them() {
        let set = SecretSet::parse(" whsec_aaaaaaaaaaaaaaaa , ,whsec_bbbbbbbbbbbbbbbb").unwrap();
        assert_eq!(set.iter().count(), 2);
        assert_eq!(format!("{set:?}"), "SecretSet(2 secrets)");
        assert_eq!(SecretSet::parse(" , "), Err(SecretsError::Empty));
        assert_eq!(
            SecretSet::parse("whsec_aaaaaaaaaaaaaaaa,short"),
            Err(SecretsError::TooShort(2))
        );
    }
}
