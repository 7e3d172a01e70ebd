//! Group commit: a burst of direct-mode requests lands as a few commits.
//!
//! A request is recorded as pending (its payload stored on its record), then its caller tries
//! to take the store's one commit lease. The holder reads the branch once per batch, plans the
//! pending requests oldest first against the files as the ones before them left them
//! ([`berth_core::batch::plan_batch`]), commits them as one commit with one trailer each,
//! records every outcome, and repeats while requests wait and time allows. A caller without
//! the lease polls its own record until it has an outcome, taking the lease when it is free.
//!
//! Crash safety: a holder that dies (or cannot record) leaves the lease unreleased; the next
//! holder first looks on the branch for the trailers of the requests it is about to commit, and
//! records those it finds as committed instead of committing them again.
//!
//! Read it as: [`config`] (what is configured), [`waiter`] (a caller recording its request and
//! waiting for the outcome), [`lease`] (taking the one commit lease), [`leader`] (the holder's
//! loop), [`batch`] (one batch's plan, commit and outcomes).

pub mod batch;
pub mod config;
pub mod leader;
pub mod lease;
pub mod waiter;

pub use batch::Batch;
pub use config::{GroupCommit, WhenUndecided};
pub use leader::Leader;
pub use lease::drain;
pub use waiter::join;
