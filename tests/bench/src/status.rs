//! `scripts/bench status`: status sweeps over a fleet of tenants (5,000 × 4 modules by default,
//! 20,000 module workloads) whose desired state is a real bare repository, whose cluster is the
//! Kubernetes API test server on 127.0.0.1, and whose store is DynamoDB on each emulator given:
//! moto and dynalite. Per store it runs a first sweep, an unchanged sweep by a cold sweeper (a
//! new process: digests from the index) and by a warm one (digests confirmed by the
//! generation), one with a Deployment changed, then the unchanged sweeps again after HISTORY
//! settled requests were written beside the fleet (100,000 by default), to show the cost does
//! not grow with the table's history.
//!
//! For each sweep and each phase it prints wall time and Berth's own CPU time: this process's,
//! less the Kubernetes test server's, which runs on threads of its own; and the emulator's CPU.
//! The repository is served by `git daemon`, so packing it is the server's CPU, as GitHub's is.
//!
//! Usage: bench-status [TENANTS] [HISTORY]
//! Stores: moto at `BERTH_TEST_DYNAMODB_ENDPOINT` (`MOTO_PID`), dynalite at
//! `BERTH_BENCH_DYNALITE_ENDPOINT` (`DYNALITE_PID`), each when set (scripts/bench sets both).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use berth_cluster::{ClusterConnector, ClusterSource};
use berth_gitops::{Git2Committer, Git2Config, RemoteUrl, seed_bare_repository};
use berth_status::{SweepReport, Sweeper};
use berth_store::{BatchRecords, DynamoStore, RequestRecord, RequestState, Store};
use berth_usecases::App;

use berth_bench::cpu::{CpuSampler, process_cpu};
use berth_bench::{fleet, git, kube_server};

const KUBE_TOKEN: &str = "bench-kube-token-0123456789";
/// The name of the Kubernetes test server's threads, whose CPU is not Berth's.
const KUBE_THREADS: &str = "kube-server";
/// Settled requests written per `record_batch` while filling the table's history.
const HISTORY_CHUNK: usize = 1_000;
/// The variable the fleet catalog's clusters name for their token.
const MEMBER_TOKEN_ENV: &str = "BENCH_MEMBER_TOKEN";
/// The clusters of the many-cluster run.
const MEMBERS: usize = 4;

/// One DynamoDB implementation to measure against.
struct Emulator {
    name: &'static str,
    endpoint: String,
    pid: Option<String>,
    /// dynalite has no UpdateTimeToLive; nothing here needs the TTL to run.
    has_ttl: bool,
    /// The most settled requests written to it: moto's writes slow down as its table grows
    /// (a BatchWriteItem passed the client's 10 s timeout past 30,000 items in one run).
    history_cap: usize,
}

impl Emulator {
    fn from_env() -> Vec<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut found = Vec::new();
        if let Some(endpoint) = var("BERTH_TEST_DYNAMODB_ENDPOINT") {
            found.push(Self {
                name: "moto",
                endpoint,
                pid: var("MOTO_PID"),
                has_ttl: true,
                history_cap: 20_000,
            });
        }
        if let Some(endpoint) = var("BERTH_BENCH_DYNALITE_ENDPOINT") {
            found.push(Self {
                name: "dynalite",
                endpoint,
                pid: var("DYNALITE_PID"),
                has_ttl: false,
                history_cap: usize::MAX,
            });
        }
        found
    }

    fn cpu(&self) -> Duration {
        self.pid
            .as_deref()
            .and_then(process_cpu)
            .unwrap_or_default()
    }
}

/// `VmRSS` or `VmHWM` of this process, in MiB.
fn memory(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// One sweep, measured.
struct Measured {
    report: SweepReport,
    wall: Duration,
    own_cpu: Duration,
    peak_growth_mib: f64,
}

/// The world every sweep of one store shares.
struct Bench<'a> {
    /// The hub (where the Applications are), then any catalog clusters.
    kubes: Vec<&'a kube_server::KubeServer>,
    remote: &'a str,
    work: std::path::PathBuf,
    store: Arc<dyn Store>,
    emulator: &'a Emulator,
}

impl Bench<'_> {
    /// A sweeper as a new process has it: clients of its own, nothing in memory.
    fn sweeper(&self, name: &str) -> anyhow::Result<Sweeper> {
        let committer = Git2Committer::new(Git2Config::new(
            RemoteUrl::parse(self.remote).map_err(anyhow::Error::msg)?,
            "main",
            self.work.join(name),
        ));
        let services = App::new(Arc::new(committer), Arc::clone(&self.store));
        let vars = [
            ("BERTH_KUBE_SERVER", self.kubes[0].url.clone()),
            ("BERTH_KUBE_TOKEN", KUBE_TOKEN.to_owned()),
        ];
        let source = ClusterSource::from_env(|k| {
            vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        })?
        .context("cluster source")?;
        // The catalog's clusters, when it has any, take the same token.
        let token: berth_status::fleet::Environment =
            Arc::new(|name| (name == MEMBER_TOKEN_ENV).then(|| KUBE_TOKEN.to_owned()));
        Ok(
            Sweeper::new(services, Some(Arc::new(ClusterConnector::new(source))))
                .with_environment(token),
        )
    }

    fn total_calls(&self) -> usize {
        self.kubes.iter().map(|k| k.total_calls()).sum()
    }

    /// Runs one sweep and prints its figures; the peak is the sweep's own (reset before it).
    async fn measured(&self, label: &str, sweeper: &Sweeper) -> anyhow::Result<Measured> {
        // Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
        std::fs::write("/proc/self/clear_refs", "5").context("resetting the peak RSS")?;
        let baseline = memory("VmRSS:");
        let calls_before = self.total_calls();
        let emulator_before = self.emulator.cpu();
        let sampler = CpuSampler::start(KUBE_THREADS);
        let started = Instant::now();
        let report = sweeper.sweep().await?;
        let ended = Instant::now();
        let samples = sampler.stop();
        let wall = ended - started;
        let peak = memory("VmHWM:");
        if report.cluster != "ok" {
            bail!("the sweep could not read the cluster: {}", report.cluster);
        }
        let own_cpu = samples.between(started, ended);
        println!(
            "{label:<38} {:>7.0} ms wall {:>6.0} ms Berth CPU {:>6.0} ms {} CPU  {:>5} k8s calls {:>6} writes  peak RSS +{:.1} MiB{}",
            ms(wall),
            ms(own_cpu),
            ms(self.emulator.cpu().saturating_sub(emulator_before)),
            self.emulator.name,
            self.total_calls() - calls_before,
            report.writes,
            peak - baseline,
            if report.digests_cached {
                "  (digests cached)"
            } else {
                ""
            },
        );
        // The phases follow one another from the sweep's start (DIGESTS is part of STORE).
        let m = &report.millis;
        let mut from = started;
        let mut phases = Vec::new();
        for (name, millis) in [
            ("git", m.git),
            ("index", m.index),
            ("cluster", m.cluster),
            ("store", m.store),
            ("requests", m.requests),
        ] {
            let to = from + Duration::from_millis(millis as u64);
            phases.push(format!(
                "{name} {millis} ms / {:.0} ms CPU",
                ms(samples.between(from, to))
            ));
            from = to;
        }
        println!(
            "{:<38} {} (digests {} ms)",
            "",
            phases.join(", "),
            m.digests
        );
        let index = &report.index.pass;
        println!(
            "{:<38} index: {} written, {} removed, {} store reads, {} Git reads{}",
            "",
            index.written,
            index.removed,
            index.store_reads,
            index.git_reads,
            if index.tip_unmoved {
                " (tip unmoved)"
            } else {
                ""
            },
        );
        if let Some(error) = &report.index.error {
            bail!("the tenant index could not be reconciled: {error}");
        }
        Ok(Measured {
            report,
            wall,
            own_cpu,
            peak_growth_mib: peak - baseline,
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes `count` settled requests, as a year of traffic leaves them.
async fn write_history(store: &dyn Store, count: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut written = 0;
    while written < count {
        let chunk: Vec<RequestRecord> = (written..count.min(written + HISTORY_CHUNK))
            .map(|i| {
                let mut record = RequestRecord::new(
                    &format!("01HISTORY{i:017}"),
                    "enable_module",
                    "api",
                    &fleet::tenant_name(i % 5_000),
                    RequestState::Ready,
                    "2026-01-01T00:00:00Z".into(),
                );
                record.commit = Some("0".repeat(40));
                record.batch_size = Some(1);
                record
            })
            .collect();
        let batch = BatchRecords {
            requests: &chunk,
            ..BatchRecords::default()
        };
        store.record_batch(batch).await?;
        written += chunk.len();
    }
    Ok(started.elapsed())
}

/// Every sweep of the benchmark against one store; returns the figures the targets judge.
async fn run_on(
    emulator: &Emulator,
    kube: &kube_server::KubeServer,
    remote: &str,
    dir: &std::path::Path,
    tenants: usize,
    history: usize,
) -> anyhow::Result<Figures> {
    let client = berth_store::dynamodb_client(Some(&emulator.endpoint));
    let table = format!("berth-bench-{}-{}", emulator.name, std::process::id());
    if emulator.has_ttl {
        berth_store::create_table(&client, &table).await?;
    } else {
        berth_store::create_table_without_ttl(&client, &table).await?;
    }
    let bench = Bench {
        kubes: vec![kube],
        remote,
        work: dir.join(emulator.name),
        store: Arc::new(DynamoStore::new(client, table)),
        emulator,
    };
    println!();
    println!("store: {}", emulator.name);
    let warm = bench.sweeper("warm")?;
    let first = bench.measured("first sweep (empty store)", &warm).await?;
    let cold = bench
        .measured("unchanged, cold sweeper", &bench.sweeper("cold")?)
        .await?;
    let unchanged = bench.measured("unchanged, warm sweeper", &warm).await?;
    // A tenant the fleet has at any size (a missing one would add an orphan instead).
    kube.replace(
        fleet::DEPLOYMENTS,
        fleet::deployment(&fleet::tenant_name(tenants / 2), "prod", "vault", 3, 3),
    );
    let changed = bench
        .measured("one Deployment changed, warm", &warm)
        .await?;
    kube.replace(
        fleet::DEPLOYMENTS,
        fleet::deployment(&fleet::tenant_name(tenants / 2), "prod", "vault", 2, 2),
    );
    bench.measured("changed back, warm", &warm).await?;
    let history = history.min(emulator.history_cap);
    let filled = write_history(bench.store.as_ref(), history).await?;
    println!(
        "{:<38} {:>7.0} ms to write {history} settled requests beside the fleet",
        "",
        ms(filled)
    );
    let cold_history = bench
        .measured(
            "unchanged, cold, with the history",
            &bench.sweeper("cold-history")?,
        )
        .await?;
    let warm_history = bench
        .measured("unchanged, warm, with the history", &warm)
        .await?;
    if cold.report.writes != 0 || unchanged.report.writes != 0 || changed.report.writes != 1 {
        bail!("the sweep wrote more than what changed");
    }
    if cold_history.report.writes != 0 || warm_history.report.writes != 0 {
        bail!("the history changed what the sweep wrote");
    }
    Ok(Figures {
        workloads: first.report.slots - first.report.tenants,
        cold,
        cold_history,
        warm: unchanged,
    })
}

/// What the targets judge, for one store.
struct Figures {
    workloads: usize,
    cold: Measured,
    cold_history: Measured,
    warm: Measured,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The targets: wall and CPU judged on the warm sweeper (the scheduled function's steady
/// state), the cold one shown beside; the history judged on the cold sweeper, which reads the
/// digests from the index, the one read that could grow with the table.
fn print_targets(name: &str, figures: &Figures) {
    let Figures {
        workloads,
        cold,
        cold_history,
        warm,
    } = figures;
    let ratio = cold_history.wall.as_secs_f64() / cold.wall.as_secs_f64().max(1e-9);
    let peak = [cold, cold_history, warm]
        .iter()
        .map(|m| m.peak_growth_mib)
        .fold(0.0, f64::max);
    let wall_target = if name == "dynalite" {
        verdict(warm.wall <= Duration::from_secs(2))
    } else {
        "judged on dynalite"
    };
    println!("{name}, unchanged sweep of {workloads} workloads:");
    println!(
        "  warm: {:.0} ms wall (target ≤ 2000 ms: {wall_target}), Berth's CPU {:.0} ms (target ≤ 1000 ms: {})",
        ms(warm.wall),
        ms(warm.own_cpu),
        verdict(warm.own_cpu <= Duration::from_secs(1)),
    );
    println!(
        "  cold (a new instance: Git fetched, digests read from the index): {:.0} ms wall, Berth's CPU {:.0} ms",
        ms(cold.wall),
        ms(cold.own_cpu),
    );
    println!(
        "  peak RSS growth {peak:.1} MiB (target ≤ 128: {}); cold with the history {:.0} ms, {ratio:.2}x (target ≤ 1.10x: {})",
        verdict(peak <= 128.0),
        ms(cold_history.wall),
        verdict(ratio <= 1.10),
    );
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let tenants: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()
        .context("TENANTS must be a number")?
        .unwrap_or(5_000);
    let history: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()
        .context("HISTORY must be a number")?
        .unwrap_or(100_000);
    let emulators = Emulator::from_env();
    if emulators.is_empty() {
        bail!("no store: set BERTH_TEST_DYNAMODB_ENDPOINT or BERTH_BENCH_DYNALITE_ENDPOINT");
    }
    // The Kubernetes test server on threads of its own, so its CPU can be told from Berth's.
    let kube_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(KUBE_THREADS)
        .enable_all()
        .build()?;
    let start = || {
        let server = kube_runtime.block_on(kube_server::KubeServer::start());
        server.require_token(KUBE_TOKEN);
        server
    };
    let kube = start();
    // The many-cluster run: a hub of its own, and the clusters beside it.
    let hub = start();
    let members: Vec<kube_server::KubeServer> = (0..MEMBERS).map(|_| start()).collect();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(tenants, history, &emulators, &kube, (&hub, &members)))
}

async fn run(
    tenants: usize,
    history: usize,
    emulators: &[Emulator],
    kube: &kube_server::KubeServer,
    many: (&kube_server::KubeServer, &[kube_server::KubeServer]),
) -> anyhow::Result<()> {
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
    let mut objects = 0;
    for (path, list) in fleet.objects(&revision) {
        objects += list.len();
        kube.add_all(path, list);
    }
    println!(
        "fleet: {tenants} tenants x 1 env x {} modules: {} files in Git, {objects} objects in the cluster (set up in {:.1} s); history: {history} settled requests",
        fleet.modules.len(),
        files.len(),
        started.elapsed().as_secs_f64()
    );
    let daemon = git::GitDaemon::start(dir.path());
    let remote = daemon.url("fleet");
    let mut results = Vec::new();
    for emulator in emulators {
        let figures = run_on(emulator, kube, &remote, dir.path(), tenants, history).await?;
        results.push((emulator.name, figures));
    }
    // Judged where the one-cluster sweep is: dynalite when it runs.
    let judged = emulators
        .iter()
        .position(|e| e.name == "dynalite")
        .unwrap_or(0);
    let spread = run_on_clusters(&emulators[judged], many, &fleet, &daemon, dir.path()).await?;
    println!();
    for (name, figures) in &results {
        print_targets(name, figures);
    }
    let (name, one) = &results[judged];
    let ratio = spread.wall.as_secs_f64() / one.warm.wall.as_secs_f64().max(1e-9);
    println!(
        "{name}, unchanged warm sweep over {MEMBERS} clusters of {} workloads each: {:.0} ms wall, Berth's CPU {:.0} ms; one cluster of all {}: {:.0} ms, {ratio:.2}x (target ≤ 1.50x: {})",
        one.workloads.div_ceil(MEMBERS),
        ms(spread.wall),
        ms(spread.own_cpu),
        one.workloads,
        ms(one.warm.wall),
        verdict(ratio <= 1.5),
    );
    Ok(())
}

/// The same fleet spread over [`MEMBERS`] clusters (by name, tenant `i` on cluster
/// `i % MEMBERS`), each its own Kubernetes test server, with Argo CD's Applications on a hub:
/// the warm sweeper's unchanged sweep, which reads all of them side by side.
async fn run_on_clusters(
    emulator: &Emulator,
    (hub, members): (&kube_server::KubeServer, &[kube_server::KubeServer]),
    fleet: &fleet::Fleet,
    daemon: &git::GitDaemon,
    dir: &std::path::Path,
) -> anyhow::Result<Measured> {
    let names: Vec<String> = (1..=members.len()).map(|i| format!("prod-{i}")).collect();
    let clusters: Vec<(String, String)> = names
        .iter()
        .cloned()
        .zip(members.iter().map(|m| m.url.clone()))
        .collect();
    let mut base = git::project_charts_and_catalog();
    let catalog = base
        .get_mut("tenants/catalog.yaml")
        .context("the project's catalog")?;
    catalog.extend_from_slice(
        fleet::clusters_catalog(
            &clusters,
            &fleet.envs,
            fleet.tenants.max(1),
            MEMBER_TOKEN_ENV,
        )
        .as_bytes(),
    );
    let files = fleet.placed_files(&base, &names);
    let revision = seed_bare_repository(&dir.join("fleet-clusters.git"), "main", &files, "Fleet")?;
    let (applications, objects) = fleet.placed_objects(&revision, &names);
    hub.add_all(fleet::APPLICATIONS, applications);
    for (member, lists) in members.iter().zip(objects) {
        for (path, list) in lists {
            member.add_all(path, list);
        }
    }
    let client = berth_store::dynamodb_client(Some(&emulator.endpoint));
    let table = format!(
        "berth-bench-clusters-{}-{}",
        emulator.name,
        std::process::id()
    );
    berth_store::create_table_without_ttl(&client, &table).await?;
    let remote = daemon.url("fleet-clusters");
    let mut kubes = vec![hub];
    kubes.extend(members.iter());
    let bench = Bench {
        kubes,
        remote: &remote,
        work: dir.join("clusters"),
        store: Arc::new(DynamoStore::new(client, table)),
        emulator,
    };
    println!();
    println!(
        "store: {}, the fleet over {} clusters",
        emulator.name,
        members.len()
    );
    let warm = bench.sweeper("clusters-warm")?;
    bench.measured("first sweep (empty store)", &warm).await?;
    let unchanged = bench.measured("unchanged, warm sweeper", &warm).await?;
    if unchanged.report.writes != 0 {
        bail!("the many-cluster sweep wrote what did not change");
    }
    Ok(unchanged)
}
