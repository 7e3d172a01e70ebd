//! Timestamps as the API shows them: RFC 3339, UTC, whole seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Seconds since the Unix epoch, now.
pub fn epoch_seconds_now() -> i64 {
    epoch_seconds_after(Duration::ZERO)
}

pub fn epoch_seconds_after(delay: Duration) -> i64 {
    (SystemTime::now() + delay)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
