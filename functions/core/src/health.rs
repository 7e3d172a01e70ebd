//! Berth's health vocabulary and how healths combine: the pure half of reading the cluster,
//! shared by the status sweep that records healths and the API that reports them.

use serde::{Deserialize, Serialize};

/// Berth's health vocabulary, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Suspended,
    Progressing,
    Degraded,
    Unhealthy,
    Missing,
    Unknown,
    /// Running in the cluster with Berth's labels, but Git no longer wants it.
    Orphaned,
}

impl Health {
    /// Reads a health as stored; anything else (Argo CD's own words included) maps to the
    /// nearest Berth health.
    pub fn parse(raw: &str) -> Health {
        match raw.to_ascii_lowercase().as_str() {
            "healthy" => Health::Healthy,
            "suspended" => Health::Suspended,
            "progressing" => Health::Progressing,
            "degraded" => Health::Degraded,
            "unhealthy" => Health::Unhealthy,
            "missing" => Health::Missing,
            "orphaned" => Health::Orphaned,
            _ => Health::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Suspended => "suspended",
            Health::Progressing => "progressing",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
            Health::Missing => "missing",
            Health::Unknown => "unknown",
            Health::Orphaned => "orphaned",
        }
    }
}

/// The worst of several healths; `unknown` when there are none.
pub fn worst(healths: impl IntoIterator<Item = Health>) -> Health {
    healths.into_iter().max().unwrap_or(Health::Unknown)
}

/// A tenant's overall health: the worst of the parts Git wants. Leftovers Git no longer wants
/// do not make a running tenant look broken; a tenant made only of leftovers is `orphaned`.
pub fn overall(healths: impl IntoIterator<Item = Health>) -> Health {
    let mut any_orphaned = false;
    let wanted = healths.into_iter().filter(|h| {
        any_orphaned |= *h == Health::Orphaned;
        *h != Health::Orphaned
    });
    match wanted.max() {
        Some(h) => h,
        None if any_orphaned => Health::Orphaned,
        None => Health::Unknown,
    }
}
