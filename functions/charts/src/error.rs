//! Why a chart could not be read. No message carries a credential or a token: URLs never hold
//! credentials (the catalog refuses them) and tokens stay in request headers.

use std::time::Duration;

/// A chart read that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChartError {
    /// The repository or registry did not answer, or answered with a server error: retry.
    #[error("{repo} did not answer: {reason}")]
    Unavailable {
        repo: String,
        reason: String,
        retry_after: Duration,
    },
    /// It answered, but with something Berth will not use: a digest that does not match, an
    /// archive Helm would refuse, a chart or version it does not have, credentials refused.
    #[error("{chart}: {reason}")]
    Refused { chart: String, reason: String },
}

/// How long a caller is told to wait after a repository did not answer.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

pub(crate) fn unavailable(repo: &str, reason: impl std::fmt::Display) -> ChartError {
    ChartError::Unavailable {
        repo: repo.to_owned(),
        reason: reason.to_string(),
        retry_after: RETRY_AFTER,
    }
}

pub(crate) fn refused(chart: impl std::fmt::Display, reason: impl Into<String>) -> ChartError {
    ChartError::Refused {
        chart: chart.to_string(),
        reason: reason.into(),
    }
}
