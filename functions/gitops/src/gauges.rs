//! What a committer saw that operators watch: races lost to other writers, and how much of
//! GitHub's rate limit is left. Counted here, emitted as metrics by the use-cases.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug)]
pub struct CommitterGauges {
    lost_races: AtomicU64,
    /// GitHub's `x-ratelimit-remaining` and `x-ratelimit-limit` on the last answer; -1 before one.
    rate_remaining: AtomicI64,
    rate_limit: AtomicI64,
}

impl Default for CommitterGauges {
    fn default() -> Self {
        Self {
            lost_races: AtomicU64::new(0),
            rate_remaining: AtomicI64::new(-1),
            rate_limit: AtomicI64::new(-1),
        }
    }
}

/// GitHub's rate limit as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub remaining: u64,
    pub limit: u64,
}

impl RateLimit {
    pub fn percent_left(&self) -> f64 {
        if self.limit == 0 {
            return 0.0;
        }
        self.remaining as f64 * 100.0 / self.limit as f64
    }
}

impl CommitterGauges {
    pub fn lost_race(&self) {
        self.lost_races.fetch_add(1, Ordering::Relaxed);
    }

    /// The races lost since the last call: each is counted once, whoever asks.
    pub fn take_lost_races(&self) -> u64 {
        self.lost_races.swap(0, Ordering::Relaxed)
    }

    /// Notes GitHub's rate-limit headers, when an answer carries both.
    pub fn saw_rate_limit(&self, remaining: Option<&str>, limit: Option<&str>) {
        let parse = |v: Option<&str>| v.and_then(|v| v.trim().parse::<i64>().ok());
        if let (Some(remaining), Some(limit)) = (parse(remaining), parse(limit)) {
            self.rate_remaining.store(remaining, Ordering::Relaxed);
            self.rate_limit.store(limit, Ordering::Relaxed);
        }
    }

    pub fn rate_limit(&self) -> Option<RateLimit> {
        let remaining = u64::try_from(self.rate_remaining.load(Ordering::Relaxed)).ok()?;
        let limit = u64::try_from(self.rate_limit.load(Ordering::Relaxed)).ok()?;
        Some(RateLimit { remaining, limit })
    }
}
