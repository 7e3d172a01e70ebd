//! Support code for Berth's workspace-level tests: real Git repositories (bare by path and
//! served by `git daemon` on 127.0.0.1), the DynamoDB endpoint `scripts/test` started, and
//! small helpers. Every server here listens on loopback only and is stopped when dropped.

pub mod git;
pub mod net;

pub use git::{GitDaemon, git, seed_repo};
pub use net::{dynamodb_endpoint, free_port, wait_for_port};
