//! The one front door for writes, read top to bottom:
//! - [`run`]: what the API and the webhooks both call: claim the idempotency key ([`claim`]),
//!   submit (or settle an interrupted first run), keep the answer for replays;
//! - [`submit`]: one request recorded, planned and committed (or handed to [`group_commit`]),
//!   its outcome recorded;
//! - [`settle`]: a request whose run was interrupted, settled from what Git holds (by the
//!   retry, or by the sweep);
//! - [`outcome`]: what a write ends as;
//! - [`tenant_index`]: the tenant index as a write leaves it;
//! - [`group_commit`]: a burst of direct-mode requests landing as a few commits;
//! - [`timing`]: the deadlines, budgets and leases, derived once.

pub mod claim;
pub mod group_commit;
pub mod measure;
pub mod outcome;
pub mod run;
pub mod settle;
pub mod submit;
pub mod tenant_index;
pub mod timing;

pub use outcome::{Submitted, Unsettled};
pub use submit::{Submission, submit_until};
