//! `scripts/bench charts`: what an upstream chart costs a request, on CloudNativePG's real
//! archives (`../shared/fixtures/charts`) served by a static Helm repository on 127.0.0.1:
//! - reading an archive (gunzip, untar, parse) and compiling its schemas, once per archive;
//! - checking one values file, on every plan;
//! - a plan enabling the upstream module against one enabling an in-repo module (the ratio is
//!   what upstream charts add to every write);
//! - a cold read (index and archive over loopback) against a warm one (nothing read);
//! - re-reading an index after its TTL, for the real chart's index and for one the size of
//!   Bitnami's before it was cut (about 15,000 entries).
//!
//! Usage: bench-charts [RUNS] [BIG_INDEX_ENTRIES]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_bench::repository::{median, ms};
use berth_charts::{ChartLibrary, ChartSettings, ReadKind, archive::read_chart, sha256_of};
use berth_core::body::{parse_create_tenant, parse_module_change};
use berth_core::catalog::CATALOG_PATH;
use berth_core::plan::plan_with_charts;
use berth_core::schema::ChartSchema;
use berth_core::upstream::{ChartRef, ChartShelf, ChartWant};
use berth_core::{Action, RepoFiles, Request, TenantName};
use serde_json::json;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/charts")
}

fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let samples = (0..runs)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed()
        })
        .collect();
    median(samples)
}

/// A static repository folder served on 127.0.0.1: the fixtures and an index of them, padded
/// with `extra` other charts' entries.
async fn serve(dir: &Path, extra: usize) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    std::fs::create_dir_all(dir)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let mut index = String::from("apiVersion: v1\nentries:\n");
    for (name, version, file) in [
        ("cluster", "0.8.1", "cluster-0.8.1.tgz"),
        ("cloudnative-pg", "0.29.0", "cloudnative-pg-0.29.0.tgz"),
    ] {
        let bytes = std::fs::read(fixtures().join(file)).context(file)?;
        std::fs::write(dir.join(file), &bytes)?;
        let digest = sha256_of(&bytes);
        let hex = digest.trim_start_matches("sha256:");
        index.push_str(&format!(
            "  {name}:\n  - name: {name}\n    version: {version}\n    digest: {hex}\n    urls: [{file}]\n    description: from the fixtures\n"
        ));
    }
    for i in 0..extra {
        index.push_str(&format!(
            "  other-{}:\n  - name: other-{}\n    version: 1.{}.0\n    apiVersion: v2\n    appVersion: 2.0.0\n    description: a chart the catalog does not name, as a big index holds thousands\n    digest: {:064x}\n    urls: [https://charts.example.com/other-{}-1.{}.0.tgz]\n    created: \"2022-06-01T00:00:00Z\"\n",
            i % 2000, i % 2000, i, i, i % 2000, i
        ));
    }
    // Several versions under one name are one list: regroup the padded entries by name.
    let index = regroup(&index);
    std::fs::write(dir.join("index.yaml"), index)?;
    let root = dir.to_path_buf();
    let router = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
            let root = root.clone();
            async move {
                use axum::http::{StatusCode, header};
                use axum::response::IntoResponse;
                let name = uri.path().trim_start_matches('/');
                if name.contains('/') || name.starts_with('.') {
                    return StatusCode::NOT_FOUND.into_response();
                }
                let Ok(bytes) = std::fs::read(root.join(name)) else {
                    return StatusCode::NOT_FOUND.into_response();
                };
                // As static hosts do: an ETag, and 304 to a request that has it.
                let etag = format!("\"{}\"", &sha256_of(&bytes)[7..23]);
                if headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    == Some(etag.as_str())
                {
                    return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
                }
                ([(header::ETAG, etag)], bytes).into_response()
            }
        },
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((url, task))
}

/// `entries:` with each name once, its versions together.
fn regroup(index: &str) -> String {
    let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut current = String::new();
    for line in index.lines().skip(2) {
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
            && !name.starts_with('-')
        {
            current = name.to_owned();
            continue;
        }
        by_name
            .entry(current.clone())
            .or_default()
            .push(line.to_owned());
    }
    let mut out = String::from("apiVersion: v1\nentries:\n");
    for (name, lines) in by_name {
        out.push_str(&format!("  {name}:\n"));
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn repo(chart_repo: &str) -> anyhow::Result<RepoFiles> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = RepoFiles::new();
    files.insert(CATALOG_PATH.into(), std::fs::read(root.join(CATALOG_PATH))?);
    for chart in [
        "tenant",
        "modules/postgres",
        "modules/vault",
        "modules/monitoring",
        "modules/data-lake",
    ] {
        for file in [
            "Chart.yaml",
            "values.yaml",
            "values.schema.json",
            "values-standard.yaml",
        ] {
            let path = format!("charts/{chart}/{file}");
            if let Ok(bytes) = std::fs::read(root.join(&path)) {
                files.insert(path, bytes);
            }
        }
    }
    let catalog = String::from_utf8(files[CATALOG_PATH].clone())?.replacen(
        "modules:\n",
        &format!("modules:\n  - name: pg-cluster\n    chart: {{repo: \"{chart_repo}\", name: cluster, versions: \"~0.8\", default: \"0.8.1\"}}\n"),
        1,
    );
    files.insert(CATALOG_PATH.into(), catalog.into_bytes());
    let (tenant, new) =
        parse_create_tenant(&json!({"name": "acme", "tier": "standard", "envs": ["dev"]}))?;
    let create = Request {
        id: "01CREATE".into(),
        tenant,
        action: Action::CreateTenant(new),
    };
    plan_with_charts(&create, &files, &ChartShelf::default())?.apply_to(&mut files);
    Ok(files)
}

fn enable(module: &str, values: serde_json::Value) -> anyhow::Result<Request> {
    Ok(Request {
        id: "01ENABLE".into(),
        tenant: TenantName::parse("tenant", "acme")?,
        action: Action::EnableModule(parse_module_change(
            "dev",
            module,
            &json!({"values": values}),
        )?),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(50);
    let big: usize = args
        .get(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(15_000);
    let dir = tempfile::tempdir()?;

    // Reading and compiling, on the real archives.
    let cluster_bytes = std::fs::read(fixtures().join("cluster-0.8.1.tgz"))?;
    let operator_bytes = std::fs::read(fixtures().join("cloudnative-pg-0.29.0.tgz"))?;
    let read_cluster = timed(runs, || read_chart(&cluster_bytes));
    let read_operator = timed(runs, || read_chart(&operator_bytes));
    let cluster = read_chart(&cluster_bytes)?;
    let none = RepoFiles::new();
    let compile = timed(runs, || {
        ChartSchema::for_upstream(&cluster, &none, "m", "standard", None)
    });
    let schema = ChartSchema::for_upstream(&cluster, &none, "m", "standard", None)?;
    let values = json!({"cluster": {"instances": 3, "storage": {"size": "10Gi"}}});
    let check = timed(runs * 10, || schema.violations(&values));

    // Cold and warm reads over loopback, then plans with and without the upstream chart.
    let (url, task) = serve(&dir.path().join("small"), 0).await?;
    let chart = ChartRef {
        repo: url.clone(),
        name: "cluster".into(),
    };
    let want_index = ChartWant::Index(chart.clone());
    let want_archive = ChartWant::Archive {
        chart: chart.clone(),
        version: "0.8.1".into(),
        digest: Some(sha256_of(&cluster_bytes)),
    };
    let mut cold = Vec::new();
    for _ in 0..runs.min(20) {
        let library = ChartLibrary::new(ChartSettings::default());
        let started = Instant::now();
        library.fetch(std::slice::from_ref(&want_index)).await?;
        library.fetch(std::slice::from_ref(&want_archive)).await?;
        cold.push(started.elapsed());
    }
    let library = ChartLibrary::new(ChartSettings::default());
    library
        .fetch(&[want_index.clone(), want_archive.clone()])
        .await?;
    let reads_before = library.reads(ReadKind::Index) + library.reads(ReadKind::Archive);
    let mut warm = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        library
            .fetch(&[want_index.clone(), want_archive.clone()])
            .await?;
        std::hint::black_box(library.shelf());
        warm.push(started.elapsed());
    }
    let warm_reads =
        library.reads(ReadKind::Index) + library.reads(ReadKind::Archive) - reads_before;
    let files = repo(&url)?;
    let shelf = library.shelf();
    let in_repo = enable("postgres", json!({"replicas": 2}))?;
    let upstream = enable("pg-cluster", json!({"cluster": {"instances": 3}}))?;
    let plan_in_repo = timed(runs, || {
        plan_with_charts(&in_repo, &files, &shelf).map(|c| c.writes.len())
    });
    let plan_upstream = timed(runs, || {
        plan_with_charts(&upstream, &files, &shelf).map(|c| c.writes.len())
    });
    plan_with_charts(&upstream, &files, &shelf).context("the upstream plan")?;
    task.abort();

    // An index read again after its TTL: the real one, and a Bitnami-sized one.
    let (big_url, big_task) = serve(&dir.path().join("big"), big).await?;
    let index_bytes = std::fs::metadata(dir.path().join("big/index.yaml"))?.len();
    let refresh = |repo: String| async move {
        let mut samples = Vec::new();
        for _ in 0..runs.clamp(1, 10) {
            let library = ChartLibrary::new(ChartSettings {
                index_ttl: Duration::ZERO,
                ..ChartSettings::default()
            });
            let started = Instant::now();
            library
                .fetch(&[ChartWant::Index(ChartRef {
                    repo: repo.clone(),
                    name: "cluster".into(),
                })])
                .await?;
            samples.push(started.elapsed());
        }
        anyhow::Ok(median(samples))
    };
    let (small_url, small_task) = serve(&dir.path().join("small2"), 0).await?;
    let small_refresh = refresh(small_url).await?;
    let big_refresh = refresh(big_url.clone()).await?;
    // One warm library asking again with the index's ETag: 304, nothing parsed.
    let warm_library = ChartLibrary::new(ChartSettings {
        index_ttl: Duration::ZERO,
        ..ChartSettings::default()
    });
    let big_want = [ChartWant::Index(ChartRef {
        repo: big_url,
        name: "cluster".into(),
    })];
    warm_library.fetch(&big_want).await?;
    let mut unchanged = Vec::new();
    for _ in 0..runs.clamp(1, 10) {
        let started = Instant::now();
        warm_library.fetch(&big_want).await?;
        unchanged.push(started.elapsed());
    }
    let big_unchanged = median(unchanged);
    big_task.abort();
    small_task.abort();

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!("upstream charts, CloudNativePG's real archives, median of {runs} runs");
    println!(
        "  read an archive (gunzip, untar, parse):  cluster 0.8.1 {}   cloudnative-pg 0.29.0 (with its subchart) {}",
        ms(read_cluster),
        ms(read_operator)
    );
    println!(
        "  compile cluster's schema:                 {}",
        ms(compile)
    );
    println!(
        "  check one values file against it:         {:.1} µs",
        check.as_secs_f64() * 1e6
    );
    println!(
        "  plan an enable, in-repo module:           {}",
        ms(plan_in_repo)
    );
    println!(
        "  plan an enable, upstream module (warm):   {}   ({:.2}x the in-repo plan)",
        ms(plan_upstream),
        ratio(plan_upstream, plan_in_repo)
    );
    println!(
        "  cold read, index + archive over loopback: {}",
        ms(median(cold.clone()))
    );
    println!(
        "  warm, within the TTL:                     {:.1} µs   ({} reads; {:.0}x faster than cold)",
        median(warm.clone()).as_secs_f64() * 1e6,
        warm_reads,
        ratio(median(cold), median(warm))
    );
    println!(
        "  index read again after its TTL:           real-size {}   {big} entries ({:.1} MB) {}   ({:.0}x)",
        ms(small_refresh),
        index_bytes as f64 / 1e6,
        ms(big_refresh),
        ratio(big_refresh, small_refresh)
    );
    println!(
        "  the same big index, unchanged (ETag, 304): {}   ({:.0}x less than reading it)",
        ms(big_unchanged),
        ratio(big_refresh, big_unchanged)
    );
    Ok(())
}
