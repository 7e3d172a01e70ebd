//! The one HTTP client chart reads share, and how its answers map onto [`ChartError`]s.

use std::time::Duration;

use reqwest::{Response, StatusCode};

use crate::error::{ChartError, refused, unavailable};

/// Bytes an index, a tag list or a manifest may have: Bitnami's index reached 14 MB.
pub const MAX_INDEX_BYTES: usize = 32 * 1024 * 1024;
/// Bytes of one chart archive as downloaded (compressed).
pub const MAX_ARCHIVE_BYTES: usize = 20 * 1024 * 1024;

/// A client with short timeouts: a request path cannot wait long on a repository.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        // Registries redirect blob reads to object storage; reqwest drops the Authorization
        // header when a redirect leaves the host.
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap_or_default()
}

/// The body of a successful answer, within `limit` bytes; anything else as a [`ChartError`].
pub async fn body(
    sent: Result<Response, reqwest::Error>,
    repo: &str,
    what: &str,
    limit: usize,
) -> Result<Vec<u8>, ChartError> {
    let response = answered(sent, repo, what)?;
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(refused(
            repo,
            format!("{what} is larger than {} MiB", limit >> 20),
        ));
    }
    let mut response = response;
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unavailable(repo, format!("reading {what}: {}", plain(&e))))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(refused(
                repo,
                format!("{what} is larger than {} MiB", limit >> 20),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A response with a success status; a server error or no answer is `Unavailable`, a refusal
/// `Refused`.
pub fn answered(
    sent: Result<Response, reqwest::Error>,
    repo: &str,
    what: &str,
) -> Result<Response, ChartError> {
    let response = sent.map_err(|e| unavailable(repo, format!("{what}: {}", plain(&e))))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(unavailable(repo, format!("{what} answered {status}")));
    }
    let hint = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            "; check the credentials configured for it (BERTH_CHART_CREDENTIALS)"
        }
        _ => "",
    };
    Err(refused(repo, format!("{what} answered {status}{hint}")))
}

/// A reqwest error, short: URLs never carry credentials, and tokens stay in headers.
fn plain(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        e.to_string()
    }
}
