//! Support code for Berth's workspace-level tests: real Git repositories (bare by path and
//! served by `git daemon` on 127.0.0.1), the DynamoDB endpoint `scripts/test` started, and
//! small helpers. Every server here listens on loopback only and is stopped when dropped.

pub mod api_server;
pub mod backend;
pub mod burst;
pub mod chart_repos;
pub mod commits;
pub mod dynamo_recorder;
pub mod fleet;
pub mod git;
pub mod github;
pub mod kube_server;
pub mod lambda;
pub mod net;
pub mod secrets;
pub mod serve;
pub mod stall;
pub mod tools;

pub use git::{
    GitDaemon, git, hand_commit, project_charts_and_catalog, project_root, seed_repo,
    seed_repo_with_tenants,
};
pub use net::{dynamodb_endpoint, free_port, wait_for_port};

/// A DynamoDB store on a fresh table of moto's server, for one test.
pub async fn dynamo_store() -> berth_store::DynamoStore {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let table = format!("berth-test-{}-{n}", std::process::id());
    let client = berth_store::dynamodb_client(Some(&dynamodb_endpoint()));
    berth_store::create_table(&client, &table)
        .await
        .expect("create the table on moto's server");
    berth_store::DynamoStore::new(client, table)
}
