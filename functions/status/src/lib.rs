//! The status function (the README's "Status"): one sweep reads the desired state from Git at the
//! branch tip, what the cluster runs (one paged list per kind), and the requests in flight; it
//! records a status per tenant / env / module, writing only the items whose digest changed, and
//! moves requests through their lifecycle. Due billing schedules are carried out as ordinary
//! requests.
//!
//! The Lambda binary (`status`) runs one sweep per invocation; `berth dev` runs it on a timer.

mod argocd;
pub mod fleet;
mod health;
pub mod lifecycle;
pub mod metrics;
pub mod moves;
pub mod observations;
pub mod refresh;
pub mod report;
mod requests;
mod rollouts;
pub mod sweep;

pub use refresh::{AdvanceFromStore, WakeSweeper};
pub use sweep::{SweepError, SweepReport, Sweeper, sync_timeout_from_env};
