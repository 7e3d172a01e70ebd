//! Berth's integration tests, one module per area, in one binary: one link instead of one per
//! area, and a target folder a CI disk holds. One area runs with a filter, as
//! `cargo nextest run -p berth-tests -E 'test(/^status::/)'`.

mod api;
mod applicationsets;
mod charts;
mod cluster;
mod clusters;
mod contract;
mod doctor;
mod examples;
mod github;
mod github_backend;
mod gitops;
mod group_commit;
mod history;
mod index;
mod infra;
mod metrics;
mod pull_requests;
mod rollouts;
mod secrets;
mod status;
mod store;
mod upstream_charts;
mod webhooks;
