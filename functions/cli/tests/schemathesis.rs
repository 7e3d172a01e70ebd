//! The API contract checked by a tool no one here wrote: schemathesis runs the whole
//! `openapi.json` against `berth dev` (with the Kubernetes test server as its cluster), with
//! every check it has and a bounded number of examples, and finds nothing.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use std::time::{Duration, Instant};

use support::{Dev, admin_token, kubeconfig};

/// Examples per operation and phase: enough to reach every status a route documents, small
/// enough for CI.
const MAX_EXAMPLES: &str = "5";
/// The whole run's bound; schemathesis itself has none.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// A fixed seed, so CI is repeatable; `BERTH_SCHEMATHESIS_SEED` explores another.
const DEFAULT_SEED: &str = "94825133476522005055001036023491646565";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_against_berth_dev() {
    let kube = berth_tests::kube_server::KubeServer::start().await;
    let kube_token = "schemathesis-kube-token-0123";
    kube.require_token(kube_token);
    let state = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(state.path(), &kube.url, kube_token);
    let dev = Dev::start_with(
        state.path(),
        &[],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    let token = admin_token(state.path());
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let hooks = project.join("tests/schemathesis");
    let seed = std::env::var("BERTH_SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    // To a file, not a pipe: a full pipe would stall the run while this test waits on it.
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(berth_tests::tools::tool("BERTH_SCHEMATHESIS"))
        .arg("--config-file")
        .arg(hooks.join("schemathesis.toml"))
        .arg("run")
        .arg(project.join("openapi.json"))
        .args(["--url", &dev.url])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "all",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            &seed,
        ])
        .args(["--request-timeout", "30", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", "berth_hooks")
        .env("PYTHONPATH", &hooks)
        .current_dir(state.path())
        .stdout(Stdio::from(report.reopen().expect("the report file")))
        .stderr(Stdio::from(report.reopen().expect("the report file")))
        .spawn()
        .expect("start schemathesis");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("schemathesis runs") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("schemathesis ran past {RUN_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let output = std::fs::read_to_string(report.path()).unwrap();
    assert!(
        status.success(),
        "schemathesis found failures (seed {seed}):\n{output}"
    );
    let operations = operations_in(&project.join("openapi.json"));
    assert!(
        output.contains(&format!("Tested: {operations}")),
        "all {operations} operations tested:\n{output}"
    );
}

/// How many operations (a method on a path) the document has.
fn operations_in(document: &Path) -> usize {
    let document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(document).unwrap()).unwrap();
    document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|path| path.as_object().unwrap().keys())
        .filter(|key| ["get", "put", "post", "patch", "delete"].contains(&key.as_str()))
        .count()
}
