//! `scripts/bench rollout [TENANTS]`: fleet rollouts over TENANTS tenants (default 5,000).
//!
//! 1. The plan: a fleet built from the project's catalog and charts (a third premium, each with
//!    postgres in dev and prod), "postgres 16.6 for every premium tenant" with the default
//!    waves. Target: 5,000 tenants within 2 s.
//! 2. The waves: "postgres 16.6 for every tenant" in two waves of half the fleet each, on a
//!    bare repository served by `git daemon` and on the GitHub test server over it, with the
//!    store on moto through a counting proxy. For each wave: the commit's wall time and calls
//!    (target: a 2,500-tenant wave as one commit within 5 s on the GitHub test server); for the
//!    status step while the rollout runs: the store calls and wall time it adds to a tick
//!    (target: O(wave), never O(fleet)).
//!
//! Usage: bench-rollout [TENANTS]. The store: moto at `BERTH_TEST_DYNAMODB_ENDPOINT`.

use std::path::Path;
use std::time::Instant;

use berth_core::body::{parse_create_tenant, parse_module_change};
use berth_core::plan::plan_with_charts;
use berth_core::rollout::body::parse_rollout;
use berth_core::rollout::plan::plan_rollout;
use berth_core::upstream::ChartShelf;
use berth_core::{Action, RepoFiles, Request, TenantName};
use serde_json::json;

mod waves;

fn project_files() -> anyhow::Result<RepoFiles> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = RepoFiles::new();
    let mut stack = vec![root.join("charts")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(&root)?.to_string_lossy().into_owned();
                files.insert(relative, std::fs::read(&path)?);
            }
        }
    }
    files.insert(
        "tenants/catalog.yaml".into(),
        std::fs::read(root.join("tenants/catalog.yaml"))?,
    );
    Ok(files)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tenants: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(5_000);
    measure_plan(tenants)?;
    waves::measure(tenants).await
}

fn measure_plan(tenants: usize) -> anyhow::Result<()> {
    let mut files = project_files()?;
    let started = Instant::now();
    let none = ChartShelf::default();
    for i in 0..tenants {
        let tier = if i % 3 == 0 { "premium" } else { "standard" };
        let name = format!("t{i:05}");
        let (tenant, new) =
            parse_create_tenant(&json!({"name": name, "tier": tier, "envs": ["dev", "prod"]}))?;
        let create = Request {
            id: "01CREATE".into(),
            tenant: tenant.clone(),
            action: Action::CreateTenant(new),
        };
        plan_with_charts(&create, &files, &none)?.apply_to(&mut files);
        for env in ["dev", "prod"] {
            let change = parse_module_change(env, "postgres", &json!({"version": "16.4"}))?;
            let enable = Request {
                id: "01ENABLE".into(),
                tenant: TenantName::parse("t", &name)?,
                action: Action::EnableModule(change),
            };
            plan_with_charts(&enable, &files, &none)?.apply_to(&mut files);
        }
    }
    let built = started.elapsed();
    let spec = parse_rollout(&json!({
        "selector": {"tiers": ["premium"], "has_module": "postgres"},
        "change": {"reconfigure": {"module": "postgres", "version": "16.6"}}
    }))
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let plan = plan_rollout(&spec, &files, &none, "2026-12-04T12:00:00Z")?;
    let planned = started.elapsed();
    let sizes: Vec<usize> = plan.waves.iter().map(Vec::len).collect();
    let bytes: usize = plan
        .waves
        .iter()
        .flatten()
        .map(|t| t.change.writes.values().map(Vec::len).sum::<usize>())
        .sum();
    println!(
        "fleet rollout plan, {tenants} tenants ({} files; built in {:.1} s)",
        files.len(),
        built.as_secs_f64()
    );
    println!(
        "  plan (postgres 16.6 for every premium tenant): {:.2} s for {} tenants in waves {:?} ({:.1} MB of files written)",
        planned.as_secs_f64(),
        plan.tenants(),
        sizes,
        bytes as f64 / 1e6
    );
    println!(
        "  per selected tenant: {:.2} ms   (target: 5,000 tenants within 2 s)",
        planned.as_secs_f64() * 1000.0 / plan.tenants().max(1) as f64
    );
    Ok(())
}
