//! Part 2 of `scripts/bench rollout`: a rollout's waves committed through the real use-cases
//! (`berth_usecases::rollouts`), on each Git backend, with every DynamoDB call counted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use berth_bench::dynamo_recorder::DynamoRecorder;
use berth_bench::github::GithubServer;
use berth_bench::repository::{GITHUB_TOKEN, build_and_serve, github_committer, ms};
use berth_core::rollout::body::parse_rollout;
use berth_core::rollout::wave::{WaveTenant, plan_wave};
use berth_core::upstream::ChartShelf;
use berth_core::{EnvName, TenantName};
use berth_gitops::{Committer, Git2Committer, Git2Config};
use berth_store::{DynamoStore, PlannedTenant, Store};
use berth_usecases::rollouts::start::{StartAsk, start};
use berth_usecases::rollouts::step::{FleetHealth, StepScope, Stepped, TenantHealth, step_rollout};
use berth_usecases::{App, UseCaseError};
use serde_json::json;

/// The soak the bench's rollouts ask for; the clock is moved past it between ticks.
const SOAK_SECONDS: i64 = 600;

/// Every tenant ready for every commit, as a fleet that takes each wave well. Asks Git whether
/// the wave's commit is in the synced revision once per tick, as the status function does for
/// the few distinct revisions a fleet reports.
struct AllReady {
    committer: Arc<dyn Committer>,
}

#[async_trait]
impl FleetHealth for AllReady {
    async fn health(
        &self,
        tenants: &[PlannedTenant],
        commit: &str,
    ) -> Result<Vec<TenantHealth>, UseCaseError> {
        self.committer
            .contains(vec![(commit.to_owned(), commit.to_owned())])
            .await?;
        Ok(vec![TenantHealth::Ready; tenants.len()])
    }

    fn degraded(&self, _tenants: &[PlannedTenant]) -> Vec<String> {
        Vec::new()
    }
}

pub async fn measure(tenants: usize) -> anyhow::Result<()> {
    let base = tempfile::tempdir()?;
    let served = build_and_serve(base.path(), "rollout", tenants, 1)?;
    let recorder = DynamoRecorder::start().await;
    println!(
        "fleet rollout waves, {tenants} tenants, postgres 16.6 for every tenant in two waves of half the fleet"
    );
    let git2: Arc<dyn Committer> = Arc::new(Git2Committer::new(Git2Config::new(
        served.remote.clone(),
        "main",
        &served.scratch,
    )));
    run_backend("git daemon", git2, None, &recorder).await?;
    let server = GithubServer::start(served.repo.clone(), GITHUB_TOKEN).await;
    let github: Arc<dyn Committer> = Arc::new(github_committer(&server.url)?);
    run_backend("GitHub test server", github, Some(&server), &recorder).await?;
    // The daemon serves until here.
    drop(served);
    Ok(())
}

/// DynamoDB calls since `before`, as `Query 3, PutItem 1`.
fn calls_since(recorder: &DynamoRecorder, before: &BTreeMap<String, usize>) -> (usize, String) {
    let now = recorder.calls();
    let mut total = 0;
    let mut parts = Vec::new();
    for (op, n) in &now {
        let delta = n - before.get(op).copied().unwrap_or(0);
        if delta > 0 {
            total += delta;
            parts.push(format!("{op} {delta}"));
        }
    }
    (total, parts.join(", "))
}

async fn run_backend(
    name: &str,
    committer: Arc<dyn Committer>,
    github: Option<&GithubServer>,
    recorder: &DynamoRecorder,
) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = Arc::new(fresh_table(recorder).await?);
    let app = App::new(Arc::clone(&committer), store);
    let fleet = AllReady { committer };
    // A new rollout id per backend: the repository is the same, so the second plans 16.6
    // against the first's result and would change nothing; it moves to 16.7 instead.
    let version = if github.is_some() { "16.7" } else { "16.6" };
    let body = json!({
        "selector": {"has_module": "postgres"},
        "change": {"reconfigure": {"module": "postgres", "version": version}},
        "waves": ["50%"],
        "gates": {"soak": "10m"}
    });
    let spec = parse_rollout(&body).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("  {name}:");
    let before = recorder.calls();
    let started = Instant::now();
    let rollout = start(
        &app,
        StartAsk {
            body: &body,
            spec: &spec,
            requested_by: None,
            idempotency_key: None,
            mode: berth_usecases::Mode::Direct,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?
    .record;
    let (calls, detail) = calls_since(recorder, &before);
    println!(
        "    start (plan against the tip, recorded with its {} wave page(s)): {}, {calls} store call(s) ({detail})",
        rollout
            .wave_sizes
            .iter()
            .map(|n| n.div_ceil(1_000))
            .sum::<u32>(),
        ms(started.elapsed())
    );
    let mut now = 1_800_000_000;
    for wave in 1..=rollout.waves {
        // After the first: a tick sees the wave before ready (its soak starts), and the tick
        // after the soak commits this one.
        if wave > 1 {
            let tick = tick(&app, &fleet, &rollout.id, now, recorder).await?;
            println!(
                "    tick while wave {} soaks ({} tenants): {} added, {} store call(s) ({})",
                wave - 1,
                rollout.wave_sizes[wave as usize - 2],
                ms(tick.wall),
                tick.calls,
                tick.detail
            );
            now += SOAK_SECONDS;
        }
        let planning = plan_alone(&app, &spec, &rollout.id, wave).await?;
        let github_before = github.map(GithubServer::calls);
        let commit = tick_until_commit(&app, &fleet, &rollout.id, now, recorder).await?;
        let github_calls = match (github, github_before) {
            (Some(server), Some(before)) => format!(", {} GitHub call(s)", server.calls() - before),
            _ => String::new(),
        };
        println!(
            "    wave {wave} ({} tenants) as one commit: {} (planning it alone: {}){github_calls}, {} store call(s) ({})",
            rollout.wave_sizes[wave as usize - 1],
            ms(commit.wall),
            ms(planning),
            commit.calls,
            commit.detail
        );
        now += 1;
    }
    Ok(())
}

/// How long planning wave `number` takes on its own, against the files at the tip (read
/// first, not timed): the part of a wave's commit that is Berth's CPU.
async fn plan_alone(
    app: &App,
    spec: &berth_core::rollout::RolloutSpec,
    id: &str,
    number: u32,
) -> anyhow::Result<Duration> {
    let mut reads = vec!["tenants/".to_owned()];
    reads.extend(
        berth_core::schema::CHART_READS
            .iter()
            .map(|p| p.to_string()),
    );
    let snapshot = app.committer.read(reads).await?;
    let tenants: Vec<WaveTenant> = app
        .store
        .get_wave(id, number)
        .await?
        .into_iter()
        .map(|t| {
            Ok(WaveTenant {
                tenant: TenantName::parse("tenant", &t.tenant)?,
                envs: t
                    .envs
                    .iter()
                    .map(|e| EnvName::parse("env", e))
                    .collect::<Result<_, _>>()?,
                digest: t.digest,
            })
        })
        .collect::<Result<_, berth_core::FieldError>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    plan_wave(
        id,
        number as usize,
        spec,
        &tenants,
        &snapshot.files,
        &ChartShelf::default(),
        "2026-12-04T12:00:00Z",
    )?;
    Ok(started.elapsed())
}

struct Tick {
    wall: Duration,
    calls: usize,
    detail: String,
    stepped: Stepped,
}

async fn tick(
    app: &App,
    fleet: &AllReady,
    id: &str,
    now: i64,
    recorder: &DynamoRecorder,
) -> anyhow::Result<Tick> {
    let before = recorder.calls();
    let started = Instant::now();
    let record = app
        .store
        .get_rollout(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("rollout {id} is gone"))?;
    let stepped = step_rollout(app, fleet, record, now, StepScope::Full)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let wall = started.elapsed();
    let (calls, detail) = calls_since(recorder, &before);
    Ok(Tick {
        wall,
        calls,
        detail,
        stepped,
    })
}

/// The tick that commits the next wave (the one after the soak).
async fn tick_until_commit(
    app: &App,
    fleet: &AllReady,
    id: &str,
    now: i64,
    recorder: &DynamoRecorder,
) -> anyhow::Result<Tick> {
    let tick = tick(app, fleet, id, now, recorder).await?;
    match &tick.stepped {
        Stepped::Committed {
            commit: Some(_), ..
        } => Ok(tick),
        other => anyhow::bail!("expected a wave's commit, the step did {other:?}"),
    }
}

async fn fresh_table(recorder: &DynamoRecorder) -> anyhow::Result<DynamoStore> {
    let client = berth_store::dynamodb_client(Some(&recorder.url));
    let table = format!(
        "berth-bench-rollout-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    berth_store::create_table(&client, &table).await?;
    Ok(DynamoStore::new(client, table))
}
