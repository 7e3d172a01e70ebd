//! The test support the benchmarks share: the servers, harnesses and helpers of `tests/src`,
//! compiled here from their files without the test crate's dependencies (which a release build
//! would have to compile). Each benchmark is a binary beside this library.

#[path = "../../src/burst.rs"]
pub mod burst;
pub mod cpu;
#[path = "../../src/dynamo_recorder.rs"]
pub mod dynamo_recorder;
#[path = "../../src/fleet.rs"]
pub mod fleet;
#[path = "../../src/git.rs"]
pub mod git;
#[allow(unused_imports)]
#[path = "../../src/github/mod.rs"]
pub mod github;
#[path = "../../src/kube_server.rs"]
pub mod kube_server;
#[path = "../../src/lambda.rs"]
pub mod lambda;
#[path = "../../src/net.rs"]
pub mod net;
pub mod repository;
#[path = "../../src/secrets.rs"]
pub mod secrets;
#[path = "../../src/serve.rs"]
pub mod serve;
#[path = "../../src/tools.rs"]
pub mod tools;

// Where the support files expect them, at the root of the crate that includes them.
pub use git::project_root;
pub use net::dynamodb_endpoint;
