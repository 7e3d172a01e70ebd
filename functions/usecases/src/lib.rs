//! Berth's application logic: what a request, an event or a due schedule does, whichever edge
//! it came through. The edges (`berth-http` for the API and the webhooks, `berth-status` for
//! the sweep) parse and authenticate, then call in here; this crate plans with `berth-core`,
//! commits with `berth-gitops` and records with `berth-store`, and answers with typed values
//! the edges turn into their own shapes. It knows nothing of HTTP.

pub mod app;
pub mod error;
pub mod fingerprint;
pub mod git_index;
pub mod group_commit;
pub mod history;
pub mod intake;
pub mod lookup;
pub mod preview;
pub mod pull_request;
pub mod revert;
pub mod schedules;
pub mod settings;
pub mod submit;
pub mod telemetry;
pub mod time;

pub use app::{App, Mode, StatusRefresh};
pub use error::{ErrorKind, UseCaseError};
