//! `scripts/bench commit`: the latency of committing one module change into a repository with
//! 5,000 tenants, served by `git daemon` on 127.0.0.1 (a network transport, as GitHub is for a
//! Lambda), for Berth's committer with a warm and a cold cache, against what existing
//! write-back tools do: `git clone --depth 1`, edit, `git commit`, `git push` with the git CLI.
//! Run for a short and a long history to show the latency does not grow with history. The
//! GitHub backend runs beside it against the GitHub test server over the same repository: its
//! calls per commit, and its latency.
//!
//! Usage: bench-commit [TENANTS] [HISTORY,HISTORY...] [RUNS]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use berth_core::body::parse_module_change;
use berth_core::{Action, RepoFiles, Request, TenantName, plan};
use berth_gitops::{CommitOutcome, CommitRequest, Committer, Git2Committer, Git2Config, Target};
use serde_json::json;

use berth_bench::git::project_charts_and_catalog;
use berth_bench::github;
use berth_bench::repository::{
    GITHUB_TOKEN, Served, build_and_serve, github_committer, median, monitoring_file, ms, run,
    tenant_name,
};

/// The change every approach makes: toggle `monitoring` in `prod` for tenant `i`.
fn toggle_request(i: usize, enable: bool, run: usize) -> anyhow::Result<Request> {
    let tenant = TenantName::parse("tenant", &tenant_name(i))?;
    let env = berth_core::EnvName::parse("env", "prod")?;
    let module = berth_core::ModuleName::parse("module", "monitoring")?;
    let action = if enable {
        Action::EnableModule(parse_module_change("prod", "monitoring", &json!({}))?)
    } else {
        Action::DisableModule { env, module }
    };
    Ok(Request {
        id: format!("01RUN{run:06}"),
        tenant,
        action,
    })
}

async fn berth_commit(committer: &dyn Committer, request: Request) -> anyhow::Result<Duration> {
    let reads = berth_core::plan::read_set(&request.tenant);
    let commit = CommitRequest {
        request_id: request.id.clone(),
        reads,
        target: Target::Branch,
    };
    let started = Instant::now();
    let outcome = committer
        .commit(
            commit,
            Arc::new(move |files: &RepoFiles| plan(&request, files)),
        )
        .await?;
    let elapsed = started.elapsed();
    if !matches!(outcome, CommitOutcome::Committed { .. }) {
        bail!("expected a commit, got {outcome:?}");
    }
    Ok(elapsed)
}

/// What write-back tools do: shallow clone, edit, commit, push, with the git CLI.
fn clone_commit(
    url: &str,
    scratch: &Path,
    request: &Request,
    bytes: Option<&[u8]>,
) -> anyhow::Result<Duration> {
    let dir = scratch.join(&request.id);
    let file = format!("tenants/{}/prod/modules/monitoring.yaml", request.tenant);
    let started = Instant::now();
    run(Command::new("git")
        .args([
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--single-branch",
            "--branch",
            "main",
            "--no-tags",
            url,
        ])
        .arg(&dir))?;
    let git = |args: &[&str]| -> anyhow::Result<()> {
        run(Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["-c", "user.name=Bench", "-c", "user.email=bench@localhost"])
            .args(args))
    };
    match bytes {
        Some(bytes) => {
            std::fs::write(dir.join(&file), bytes)?;
            git(&["add", &file])?;
        }
        None => git(&["rm", "--quiet", &file])?,
    }
    git(&["commit", "--quiet", "-m", "toggle monitoring"])?;
    git(&["push", "--quiet", "origin", "main"])?;
    let elapsed = started.elapsed();
    std::fs::remove_dir_all(&dir)?;
    Ok(elapsed)
}

struct Figures {
    history: usize,
    warm: Duration,
    cold: Duration,
    clone: Duration,
    github: GithubFigures,
}

/// The GitHub backend's medians and its calls per commit.
struct GithubFigures {
    warm: Duration,
    cold: Duration,
    warm_calls: f64,
    cold_calls: f64,
}

/// Commits `requests` through the GitHub backend against the test server over `repo`: the
/// warm committer first fills its cache, each cold one is new.
async fn measure_github(
    repo: &Path,
    runs: usize,
    next: &mut impl FnMut() -> anyhow::Result<Request>,
) -> anyhow::Result<GithubFigures> {
    let server = github::GithubServer::start(repo.to_owned(), GITHUB_TOKEN).await;
    let warm_committer = github_committer(&server.url)?;
    berth_commit(&warm_committer, next()?).await?;
    let (mut warm, calls_before) = (Vec::new(), server.calls());
    for _ in 0..runs * 3 {
        warm.push(berth_commit(&warm_committer, next()?).await?);
    }
    let warm_calls = (server.calls() - calls_before) as f64 / (runs * 3) as f64;
    let (mut cold, calls_before) = (Vec::new(), server.calls());
    for _ in 0..runs {
        let committer = github_committer(&server.url)?;
        cold.push(berth_commit(&committer, next()?).await?);
    }
    let cold_calls = (server.calls() - calls_before) as f64 / runs as f64;
    Ok(GithubFigures {
        warm: median(warm),
        cold: median(cold),
        warm_calls,
        cold_calls,
    })
}

async fn measure(
    base: &Path,
    tenants: usize,
    history: usize,
    runs: usize,
) -> anyhow::Result<Figures> {
    // The daemon serves until this function returns.
    let Served {
        repo,
        url,
        remote,
        scratch,
        daemon: _daemon,
    } = build_and_serve(base, &format!("h{history}"), tenants, history)?;
    let catalog = project_charts_and_catalog();

    // Each run toggles a tenant's monitoring, so every run commits something, whatever the
    // number of tenants (at a tiny size runs come back to the same tenants).
    let mut enabled = vec![false; tenants];
    let mut run_no = history * 10;
    let mut next = || {
        run_no += 1;
        let tenant = run_no % tenants;
        enabled[tenant] = !enabled[tenant];
        toggle_request(tenant, enabled[tenant], run_no)
            .map(|request| (tenant, enabled[tenant], request))
    };
    let warm_committer = Git2Committer::new(Git2Config::new(
        remote.clone(),
        "main",
        scratch.join("warm"),
    ));
    berth_commit(&warm_committer, next()?.2).await?; // fills the cache
    let mut warm = Vec::new();
    for _ in 0..runs * 3 {
        warm.push(berth_commit(&warm_committer, next()?.2).await?);
    }
    let mut cold = Vec::new();
    for i in 0..runs {
        let committer = Git2Committer::new(Git2Config::new(
            remote.clone(),
            "main",
            scratch.join(format!("cold-{i}")),
        ));
        cold.push(berth_commit(&committer, next()?.2).await?);
    }
    let mut clone = Vec::new();
    for _ in 0..runs {
        let (tenant, enable, request) = next()?;
        let bytes = if enable {
            Some(monitoring_file(tenant, "prod", &catalog)?)
        } else {
            None
        };
        clone.push(clone_commit(&url, &scratch, &request, bytes.as_deref())?);
    }
    let github = measure_github(&repo, runs, &mut || next().map(|(_, _, r)| r)).await?;
    Ok(Figures {
        history,
        warm: median(warm),
        cold: median(cold),
        clone: median(clone),
        github,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // BERTH_LOG=debug shows where a commit spends its time.
    if let Ok(filter) = std::env::var("BERTH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tenants: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let histories: Vec<usize> = match args.get(1) {
        Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![200, 20_000],
    };
    let runs: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(10);
    let dir = tempfile::tempdir()?;
    let base: PathBuf = dir.path().to_owned();

    let mut all = Vec::new();
    for history in &histories {
        all.push(measure(&base, tenants, *history, runs).await?);
    }
    println!();
    println!(
        "commit latency, one module change, {tenants} tenants, git daemon on 127.0.0.1 (medians; warm {} runs, cold and clone {runs})",
        runs * 3
    );
    println!(
        "{:>9}  {:>12}  {:>12}  {:>16}  {:>13}  {:>13}",
        "history", "berth warm", "berth cold", "clone+commit+push", "warm speedup", "cold speedup"
    );
    for f in &all {
        let ratio = |d: Duration| f.clone.as_secs_f64() / d.as_secs_f64();
        println!(
            "{:>9}  {:>12}  {:>12}  {:>16}  {:>12.1}x  {:>12.1}x",
            f.history,
            ms(f.warm),
            ms(f.cold),
            ms(f.clone),
            ratio(f.warm),
            ratio(f.cold)
        );
    }
    if let (Some(first), Some(last)) = (all.first(), all.last())
        && all.len() > 1
    {
        println!(
            "history {} -> {}: berth warm x{:.2}, berth cold x{:.2} (1.00 = no growth with history)",
            first.history,
            last.history,
            last.warm.as_secs_f64() / first.warm.as_secs_f64(),
            last.cold.as_secs_f64() / first.cold.as_secs_f64()
        );
    }
    println!("targets: warm >= 20x, cold >= 2x faster than clone+commit+push");
    println!();
    println!(
        "GitHub backend against the GitHub test server over the same repository (medians; warm {} runs, cold {runs})",
        runs * 3
    );
    println!(
        "{:>9}  {:>12}  {:>12}  {:>16}  {:>16}",
        "history", "github warm", "github cold", "calls/commit warm", "calls/commit cold"
    );
    for f in &all {
        println!(
            "{:>9}  {:>12}  {:>12}  {:>17.2}  {:>17.2}",
            f.history,
            ms(f.github.warm),
            ms(f.github.cold),
            f.github.warm_calls,
            f.github.cold_calls
        );
    }
    if let (Some(first), Some(last)) = (all.first(), all.last())
        && all.len() > 1
    {
        println!(
            "history {} -> {}: github warm x{:.2} (1.00 = no growth with history)",
            first.history,
            last.history,
            last.github.warm.as_secs_f64() / first.github.warm.as_secs_f64()
        );
    }
    println!("target: 2 calls per direct commit with a warm cache");
    Ok(())
}
