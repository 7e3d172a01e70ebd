//! `scripts/bench status`: one status sweep over a fleet of tenants (5,000 × 4 modules by
//! default) whose desired state is a real bare repository, whose cluster is the Kubernetes API
//! test server on 127.0.0.1, and whose store is DynamoDB on moto's server. Prints wall time,
//! peak memory of the sweep, Kubernetes calls and store writes; then the same sweep with nothing
//! changed (writes must be 0), then one with one Deployment changed.
//!
//! Usage: bench-status [TENANTS]   (needs BERTH_TEST_DYNAMODB_ENDPOINT, as scripts/bench sets)

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use berth_cluster::{ClusterConnector, ClusterSource};
use berth_gitops::{Git2Committer, Git2Config, RemoteUrl, seed_bare_repository};
use berth_status::{SweepReport, Sweeper};
use berth_usecases::Services;

use berth_bench::{fleet, git, kube_server, net};

const KUBE_TOKEN: &str = "bench-kube-token-0123456789";

/// `VmRSS` or `VmHWM` of this process, in MiB.
fn memory(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs one sweep and prints its figures; the peak is the sweep's own (reset before it).
async fn measured(
    label: &str,
    sweeper: &Sweeper,
    kube: &kube_server::KubeServer,
) -> anyhow::Result<SweepReport> {
    // Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").context("resetting the peak RSS")?;
    let baseline = memory("VmRSS:");
    let calls_before = kube.total_calls();
    let started = Instant::now();
    let report = sweeper.sweep().await?;
    let wall = started.elapsed();
    let peak = memory("VmHWM:");
    println!(
        "{label:<28} {:>9.0} ms  {:>6} slots  {:>4} k8s calls  {:>6} writes  {:>4} removes  peak RSS {:>7.1} MiB (+{:.1} over {:.1})",
        wall.as_secs_f64() * 1000.0,
        report.slots,
        kube.total_calls() - calls_before,
        report.writes,
        report.removes,
        peak,
        peak - baseline,
        baseline,
    );
    let m = &report.millis;
    println!(
        "{:<28} git {} ms, cluster {} ms, observe and store {} ms (reading digests {} ms), requests {} ms",
        "", m.git, m.cluster, m.store, m.digests, m.requests
    );
    if report.cluster != "ok" {
        bail!("the sweep could not read the cluster: {}", report.cluster);
    }
    Ok(report)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tenants: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()
        .context("TENANTS must be a number")?
        .unwrap_or(5_000);
    let fleet = fleet::Fleet {
        tenants,
        envs: vec!["prod"],
        modules: vec!["postgres", "vault", "data-lake", "monitoring"],
    };
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let files = fleet.files(&git::project_charts_and_catalog());
    let repo = dir.path().join("fleet.git");
    let revision = seed_bare_repository(&repo, "main", &files, "Fleet")?;
    let kube = kube_server::KubeServer::start().await;
    kube.require_token(KUBE_TOKEN);
    let mut objects = 0;
    for (path, list) in fleet.objects(&revision) {
        objects += list.len();
        kube.add_all(path, list);
    }
    let client = berth_store::dynamodb_client(Some(&net::dynamodb_endpoint()));
    let table = format!("berth-bench-{}", std::process::id());
    berth_store::create_table(&client, &table).await?;
    let store = Arc::new(berth_store::DynamoStore::new(client, table));
    let services = Services::new(
        Arc::new(Git2Committer::new(Git2Config::new(
            RemoteUrl::parse(repo.to_str().context("path")?).map_err(anyhow::Error::msg)?,
            "main",
            dir.path().join("work"),
        ))),
        store,
    );
    let vars = [
        ("BERTH_KUBE_SERVER", kube.url.clone()),
        ("BERTH_KUBE_TOKEN", KUBE_TOKEN.to_owned()),
    ];
    let source =
        ClusterSource::from_env(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))?
            .context("cluster source")?;
    let sweeper = Sweeper::new(services, Some(Arc::new(ClusterConnector::new(source))));
    println!(
        "fleet: {tenants} tenants x 1 env x {} modules: {} files in Git, {objects} objects in the cluster (set up in {:.1} s)",
        fleet.modules.len(),
        files.len(),
        started.elapsed().as_secs_f64()
    );

    let first = measured("first sweep (empty store)", &sweeper, &kube).await?;
    let second = measured("second sweep (no change)", &sweeper, &kube).await?;
    // A tenant the fleet has at any size (a missing one would add an orphan instead).
    kube.replace(
        fleet::DEPLOYMENTS,
        fleet::deployment(&fleet::tenant_name(tenants / 2), "prod", "vault", 3, 3),
    );
    let third = measured("one Deployment changed", &sweeper, &kube).await?;
    println!();
    println!(
        "writes: first {}, unchanged {} (target 0), one change {} (target 1)",
        first.writes, second.writes, third.writes
    );
    if second.writes != 0 || third.writes != 1 {
        bail!("the sweep wrote more than what changed");
    }
    Ok(())
}
