//! What identifies an upstream chart, and what a plan asks its caller to read from a chart
//! repository ([`crate::error::PlanError::ChartsNeeded`]). Kept apart from
//! [`crate::upstream`] so errors can name them without depending on the rest.

use serde::{Deserialize, Serialize};

/// Where a chart is published: the identity its index and archives are cached under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChartRef {
    pub repo: String,
    pub name: String,
}

impl std::fmt::Display for ChartRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} from {}", self.name, self.repo)
    }
}

/// Something a plan needs from a chart repository that the shelf it was given lacks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChartWant {
    /// The chart's versions, to resolve a range or a default.
    Index(ChartRef),
    /// One archive, to validate values against; without a digest, the one the version's
    /// OCI manifest names.
    Archive {
        chart: ChartRef,
        version: String,
        digest: Option<String>,
    },
}
