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
    epoch_seconds_at(SystemTime::now() + delay)
}

/// Seconds since the Unix epoch at `at` (0 before it).
pub fn epoch_seconds_at(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `epoch_seconds` as the API shows a time (the epoch itself for a time before it).
pub fn rfc3339_at(epoch_seconds: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(epoch_seconds).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The time rollouts are gated on, in epoch seconds: the system's, or one a test moves by hand
/// (a paused clock: a soak of ten minutes passes when the test says so, not after ten minutes).
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(std::sync::Arc<std::sync::atomic::AtomicI64>),
}

impl Clock {
    /// A clock that stands at `epoch_seconds` until [`Clock::advance`] moves it.
    pub fn manual(epoch_seconds: i64) -> Self {
        Self::Manual(std::sync::Arc::new(std::sync::atomic::AtomicI64::new(
            epoch_seconds,
        )))
    }

    pub fn now(&self) -> i64 {
        match self {
            Self::System => epoch_seconds_now(),
            Self::Manual(at) => at.load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Moves a manual clock on; the system's moves by itself.
    pub fn advance(&self, by: Duration) {
        if let Self::Manual(at) = self {
            at.fetch_add(by.as_secs() as i64, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
