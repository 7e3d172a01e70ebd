//! `scripts/bench burst`: N concurrent tenant creations, each through an API instance of its own
//! (its own committer cache and DynamoDB client, as separate Lambda invocations have), against
//! the GitHub test server and against `git daemon`, with group commit on and off. The instances
//! share one table on moto's server, then one on dynalite (a second emulator, so one emulator's
//! pace can be told from Berth's), then one local store file (as the requests of one `berth dev`
//! process do: Berth's costs without an emulator's).
//!
//! Prints the commits made, the calls and commit mutations GitHub got (or the pushes git daemon
//! got), the races lost, wall time, and p50/p99 latency per request, beside a lone request's
//! latency on the same backend and store. It counts the store calls (through a counting proxy
//! in front of the emulator) and, when `MOTO_PID` or `DYNALITE_PID` names the emulator's process
//! (scripts/bench exports both), its CPU time over each run: an emulator serves one call at a
//! time, so CPU time near the wall time means it set the pace.
//!
//! Usage: bench-burst [N] [github|git-daemon] [moto|dynalite|local]   (default 300, both
//! backends, every store). `BERTH_BENCH_GITHUB_LATENCY_MS` makes the GitHub test server answer
//! every call that much later, as GitHub across a network would (default 0); `BERTH_BATCH_MAX`
//! and `BERTH_BATCH_WAIT` are read as the functions read them. `RUST_LOG` (e.g. `berth_usecases::write::group_commit=info`) shows each
//! batch's timing on standard error.

use std::time::{Duration, Instant};

use anyhow::Context;
use berth_usecases::settings::group_commit_from_env;
use berth_usecases::write::group_commit::GroupCommit;
use berth_usecases::write::timing::DEFAULT_CLAIM_LEASE;
use comfy_table::Table;
use tokio::task::JoinSet;

use berth_bench::burst::{Answer, Backend, Burst, create_body, send};
use berth_bench::dynamo_recorder::DynamoRecorder;

/// Lone requests measured per backend and mode; their median is "a lone commit".
const LONE_REQUESTS: usize = 5;

/// The store the instances share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SharedStore {
    /// One table on moto's server, a client per instance, as separate Lambda invocations have.
    Moto,
    /// The same on dynalite (`BERTH_BENCH_DYNALITE_ENDPOINT`), a second DynamoDB emulator
    /// (Node.js, in memory), so one emulator's pace can be told from Berth's.
    Dynalite,
    /// One local store file, as the requests of one `berth dev` process share: Berth's own
    /// costs without an emulator's.
    Local,
}

/// What one burst (or one series of lone requests) measured.
struct Figures {
    backend: Backend,
    store: SharedStore,
    group_commit: bool,
    requests: usize,
    committed: usize,
    other_answers: Vec<(u16, usize)>,
    commits: usize,
    /// GitHub: every API call; git daemon: none counted.
    calls: Option<usize>,
    /// GitHub: commit mutations; git daemon: pushes.
    writes: usize,
    lost_races: usize,
    /// By operation, counted on an emulator only.
    store_calls: Option<std::collections::BTreeMap<String, usize>>,
    /// The emulator's CPU time over the run, when its process is known.
    emulator_cpu: Option<Duration>,
    wall: Duration,
    p50: Duration,
    p99: Duration,
}

/// What every run shares, read once from the environment.
#[derive(Debug, Clone, Copy)]
struct Setup {
    /// Group commit as the functions read it (`BERTH_BATCH_MAX`, `BERTH_BATCH_WAIT`).
    group: GroupCommit,
    /// How much later the GitHub test server answers each call.
    github_latency: Duration,
}

impl Setup {
    fn group(&self, on: bool) -> Option<GroupCommit> {
        on.then_some(self.group)
    }
}

/// The `p`th percentile of `sorted` (nearest rank).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// What the servers saw of one run, besides the answers.
struct Seen<'a> {
    burst: &'a Burst,
    store: SharedStore,
    recorder: Option<&'a DynamoRecorder>,
    emulator_cpu_before: Option<Duration>,
}

impl<'a> Seen<'a> {
    fn start(burst: &'a Burst, store: SharedStore, recorder: Option<&'a DynamoRecorder>) -> Self {
        Self {
            burst,
            store,
            recorder,
            emulator_cpu_before: recorder.and(emulator_cpu(store)),
        }
    }
}

/// A burst's repository and servers on `store`; on an emulator, behind a proxy counting store
/// calls.
async fn start(
    setup: Setup,
    backend: Backend,
    store: SharedStore,
    dir: &std::path::Path,
) -> anyhow::Result<(Burst, Option<DynamoRecorder>)> {
    let started = match store {
        SharedStore::Moto => {
            let recorder = DynamoRecorder::start().await;
            let burst = Burst::start(backend, dir, &recorder.url).await;
            (burst, Some(recorder))
        }
        SharedStore::Dynalite => {
            let endpoint = std::env::var("BERTH_BENCH_DYNALITE_ENDPOINT")
                .context("BERTH_BENCH_DYNALITE_ENDPOINT is not set (scripts/bench sets it)")?;
            let recorder = DynamoRecorder::forwarding_to(endpoint).await;
            let burst = Burst::start_without_ttl(backend, dir, &recorder.url).await;
            (burst, Some(recorder))
        }
        SharedStore::Local => (Burst::start_with_local_store(backend, dir).await, None),
    };
    if let Some(server) = &started.0.github {
        server.set_latency(setup.github_latency);
    }
    Ok(started)
}

/// `BERTH_BENCH_GITHUB_LATENCY_MS`: how much later the GitHub test server answers each call, as
/// GitHub across a network would (default 0: loopback speed).
fn github_latency() -> anyhow::Result<Duration> {
    let Ok(millis) = std::env::var("BERTH_BENCH_GITHUB_LATENCY_MS") else {
        return Ok(Duration::ZERO);
    };
    let millis: u64 = millis
        .parse()
        .context("BERTH_BENCH_GITHUB_LATENCY_MS must be a number of milliseconds")?;
    Ok(Duration::from_millis(millis))
}

/// The emulator's CPU time so far (user and system), when `MOTO_PID` or `DYNALITE_PID` names
/// its process.
fn emulator_cpu(store: SharedStore) -> Option<Duration> {
    let pid = match store {
        SharedStore::Moto => "MOTO_PID",
        SharedStore::Dynalite => "DYNALITE_PID",
        SharedStore::Local => return None,
    };
    berth_bench::cpu::process_cpu(&std::env::var(pid).ok()?)
}

/// Measures `answers` (sent in `wall`) against what the servers saw.
fn figures(
    seen: Seen<'_>,
    group_commit: bool,
    answers: &[Answer],
    wall: Duration,
) -> anyhow::Result<Figures> {
    let burst = seen.burst;
    let mut latencies: Vec<Duration> = answers.iter().map(|a| a.latency).collect();
    latencies.sort();
    let mut other: std::collections::BTreeMap<u16, usize> = Default::default();
    for answer in answers.iter().filter(|a| a.status != 202) {
        *other.entry(answer.status).or_default() += 1;
    }
    let (calls, writes) = match (&burst.github, burst.pushes()) {
        (Some(server), _) => (Some(server.calls()), server.commit_mutations()),
        (None, Some(pushes)) => (None, pushes),
        (None, None) => anyhow::bail!("a burst has a server"),
    };
    Ok(Figures {
        backend: burst.backend,
        store: seen.store,
        group_commit,
        requests: answers.len(),
        committed: answers.iter().filter(|a| a.status == 202).count(),
        other_answers: other.into_iter().collect(),
        commits: burst.commits(),
        calls,
        writes,
        lost_races: burst.lost_races(),
        store_calls: seen.recorder.map(DynamoRecorder::calls),
        emulator_cpu: seen
            .emulator_cpu_before
            .zip(emulator_cpu(seen.store))
            .map(|(before, after)| after.saturating_sub(before)),
        wall,
        p50: percentile(&latencies, 50),
        p99: percentile(&latencies, 99),
    })
}

/// `count` creations sent at once, each through an instance of its own.
async fn run_burst(
    setup: Setup,
    backend: Backend,
    store: SharedStore,
    group_commit: bool,
    count: usize,
) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let (burst, recorder) = start(setup, backend, store, dir.path()).await?;
    let routers: Vec<_> = (0..count)
        .map(|i| burst.instance(i, setup.group(group_commit)))
        .collect();
    let seen = Seen::start(&burst, store, recorder.as_ref());
    let started = Instant::now();
    let mut sends = JoinSet::new();
    for (i, router) in routers.into_iter().enumerate() {
        let body = create_body(&format!("t{i:05}"));
        sends.spawn(async move { send(router, "POST", "/v1/tenants", &body, None).await });
    }
    let mut answers = Vec::with_capacity(count);
    while let Some(answer) = sends.join_next().await {
        answers.push(answer.context("a request task")?);
    }
    let wall = started.elapsed();
    figures(seen, group_commit, &answers, wall)
}

/// `LONE_REQUESTS` creations one after another, each through a fresh instance (a cold cache, as
/// each burst instance has): what a request costs with nobody else writing.
async fn run_lone(
    setup: Setup,
    backend: Backend,
    store: SharedStore,
    group_commit: bool,
) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let (burst, recorder) = start(setup, backend, store, dir.path()).await?;
    let seen = Seen::start(&burst, store, recorder.as_ref());
    let started = Instant::now();
    let mut answers = Vec::with_capacity(LONE_REQUESTS);
    for i in 0..LONE_REQUESTS {
        let router = burst.instance(i, setup.group(group_commit));
        let body = create_body(&format!("lone{i}"));
        answers.push(send(router, "POST", "/v1/tenants", &body, None).await);
    }
    figures(seen, group_commit, &answers, started.elapsed())
}

fn store_name(store: SharedStore) -> &'static str {
    match store {
        SharedStore::Moto => "moto",
        SharedStore::Dynalite => "dynalite",
        SharedStore::Local => "local file",
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Github => "GitHub test server",
        Backend::GitDaemon => "git daemon",
    }
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn row(label: &str, f: &Figures) -> Vec<String> {
    let others: Vec<String> = f
        .other_answers
        .iter()
        .map(|(status, n)| format!("{n}x{status}"))
        .collect();
    vec![
        backend_name(f.backend).to_owned(),
        store_name(f.store).to_owned(),
        if f.group_commit { "on" } else { "off" }.to_owned(),
        label.to_owned(),
        format!("{}/{}", f.committed, f.requests),
        others.join(" "),
        f.commits.to_string(),
        f.calls.map_or("-".to_owned(), |c| c.to_string()),
        f.writes.to_string(),
        f.lost_races.to_string(),
        f.store_calls
            .as_ref()
            .map_or("-".to_owned(), |c| c.values().sum::<usize>().to_string()),
        f.emulator_cpu
            .map_or("-".to_owned(), |cpu| format!("{:.2} s", cpu.as_secs_f64())),
        format!("{:.2} s", f.wall.as_secs_f64()),
        millis(f.p50),
        millis(f.p99),
    ]
}

/// The targets for a burst with group commit on, against the lone request's median.
fn targets(burst: &Figures, lone: &Figures, n: usize) -> String {
    let store = store_name(burst.store);
    let races_per_commit = burst.lost_races as f64 / burst.commits.max(1) as f64;
    let ratio = burst.p99.as_secs_f64() / lone.p50.as_secs_f64().max(f64::EPSILON);
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    format!(
        "{}, {store}: {} commits for {n} requests (target <= {}: {}), {races_per_commit:.2} lost races per commit (target <= 1: {}), p99 {} = {ratio:.1}x a lone request's {} (target <= 3x: {})",
        backend_name(burst.backend),
        burst.commits,
        n.div_ceil(10),
        verdict(burst.commits <= n.div_ceil(10)),
        verdict(races_per_commit <= 1.0),
        millis(burst.p99),
        millis(lone.p50),
        verdict(ratio <= 3.0),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()
        .context("N must be a number")?
        .unwrap_or(300);
    let backends = match std::env::args().nth(2).as_deref() {
        None => vec![Backend::Github, Backend::GitDaemon],
        Some("github") => vec![Backend::Github],
        Some("git-daemon") => vec![Backend::GitDaemon],
        Some(other) => anyhow::bail!("unknown backend {other:?}: github or git-daemon"),
    };
    let stores = match std::env::args().nth(3).as_deref() {
        None => vec![SharedStore::Moto, SharedStore::Dynalite, SharedStore::Local],
        Some("moto") => vec![SharedStore::Moto],
        Some("dynalite") => vec![SharedStore::Dynalite],
        Some("local") => vec![SharedStore::Local],
        Some(other) => anyhow::bail!("unknown store {other:?}: moto, dynalite or local"),
    };
    // BERTH_GROUP_COMMIT is not read: every run is measured both on and off.
    let group = group_commit_from_env(
        |name| match name {
            "BERTH_GROUP_COMMIT" => None,
            _ => std::env::var(name).ok(),
        },
        DEFAULT_CLAIM_LEASE,
    )?
    .unwrap_or_default();
    let setup = Setup {
        group,
        github_latency: github_latency()?,
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut table = Table::new();
    table.set_header([
        "backend",
        "store",
        "group commit",
        "run",
        "committed",
        "other answers",
        "commits",
        "GitHub calls",
        "mutations / pushes",
        "lost races",
        "store calls",
        "emulator CPU",
        "wall",
        "p50",
        "p99",
    ]);
    let mut verdicts = Vec::new();
    let mut store_calls = Vec::new();
    for backend in backends {
        for &store in &stores {
            let lone_on = run_lone(setup, backend, store, true).await?;
            let lone_off = run_lone(setup, backend, store, false).await?;
            let burst_on = run_burst(setup, backend, store, true, n).await?;
            let burst_off = run_burst(setup, backend, store, false, n).await?;
            let lone = format!("{LONE_REQUESTS} lone, in turn");
            let burst = format!("burst of {n}");
            table.add_row(row(&lone, &lone_on));
            table.add_row(row(&burst, &burst_on));
            table.add_row(row(&lone, &lone_off));
            table.add_row(row(&burst, &burst_off));
            for (mode, f) in [("on", &burst_on), ("off", &burst_off)] {
                if let Some(calls) = &f.store_calls {
                    let calls: Vec<String> =
                        calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
                    store_calls.push(format!(
                        "store calls, {}, group commit {mode}, burst of {n}: {}",
                        backend_name(backend),
                        calls.join(", ")
                    ));
                }
            }
            // The lone request the target compares with is today's: one commit per request.
            verdicts.push(targets(&burst_on, &lone_off, n));
        }
    }
    println!("{table}");
    println!(
        "p50/p99: per request, sent to an API instance of its own; lone: the median of {LONE_REQUESTS} requests sent one after another, nobody else writing."
    );
    println!(
        "group commit: at most {} requests a commit (BERTH_BATCH_MAX).",
        setup.group.limits.max_requests
    );
    println!(
        "GitHub test server: every call answered {} ms after it is carried out (BERTH_BENCH_GITHUB_LATENCY_MS).",
        setup.github_latency.as_millis()
    );
    println!(
        "lost races: GitHub's refused commit mutations; git daemon's pushes that landed no commit."
    );
    for line in store_calls {
        println!("{line}");
    }
    for verdict in verdicts {
        println!("{verdict}");
    }
    Ok(())
}
