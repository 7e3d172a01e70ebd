//! `scripts/bench history`: how long a tenant's history takes to read, over a long branch
//! served by `git daemon` on 127.0.0.1 and by the GitHub test server over the same repository,
//! against what a person does without Berth: a full clone, then `git log -- tenants/<t>/`.
//! A busy tenant (changed every few commits) and a quiet one (changed every few thousand) show
//! what the walk's bound buys: a page costs about the same however long the branch is.
//!
//! Usage: bench-history [TENANTS,TENANTS...] [HISTORY] [RUNS]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_gitops::{Committer, FolderHistory, Git2Committer, Git2Config};

use berth_bench::github;
use berth_bench::repository::{
    GITHUB_TOKEN, Served, build_and_serve, github_committer, median, ms, run, tenant_name,
};

/// Entries per page, as the API's default.
const PAGE: usize = 20;
/// Pages read at most when walking a whole history: a bound on the benchmark itself.
const MAX_PAGES: usize = 1_000;

struct Figures {
    tenants: usize,
    changes: usize,
    first_cold: Duration,
    first_warm: Duration,
    whole: Duration,
    pages: usize,
    summary: Duration,
    github_first: Duration,
    github_first_calls: usize,
    github_whole: Duration,
    github_whole_calls: usize,
    clone_log: Duration,
}

async fn page(
    committer: &dyn Committer,
    folder: &str,
    before: Option<String>,
) -> anyhow::Result<FolderHistory> {
    committer
        .folder_history(folder.to_owned(), before, PAGE)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the branch has no such commit"))
}

/// Every page of `folder`'s history: how long, how many pages, how many entries, the newest.
async fn whole(
    committer: &dyn Committer,
    folder: &str,
) -> anyhow::Result<(Duration, usize, usize, Option<String>)> {
    let started = Instant::now();
    let (mut before, mut pages, mut entries, mut newest) = (None, 0, 0, None);
    while pages < MAX_PAGES {
        let history = page(committer, folder, before).await?;
        pages += 1;
        entries += history.commits.len();
        if newest.is_none() {
            newest = history.commits.first().map(|c| c.sha.clone());
        }
        match history.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    Ok((started.elapsed(), pages, entries, newest))
}

/// A person's way: clone everything, then ask `git log` for the folder's commits and files.
fn clone_and_log(url: &str, scratch: &Path, folder: &str) -> anyhow::Result<Duration> {
    let dir = scratch.join(format!("clone-{}", ulid::Ulid::new()));
    let started = Instant::now();
    run(Command::new("git")
        .args([
            "clone",
            "--quiet",
            "--bare",
            "--single-branch",
            "--branch",
            "main",
            url,
        ])
        .arg(&dir))?;
    run(Command::new("git").arg("--git-dir").arg(&dir).args([
        "log",
        "--first-parent",
        "--name-status",
        "main",
        "--",
        folder,
    ]))?;
    let elapsed = started.elapsed();
    std::fs::remove_dir_all(&dir)?;
    Ok(elapsed)
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
    } = build_and_serve(base, &format!("t{tenants}"), tenants, history)?;
    let folder = format!("tenants/{}/", tenant_name(0));

    let mut cold = Vec::new();
    for i in 0..runs {
        let committer = Git2Committer::new(Git2Config::new(
            remote.clone(),
            "main",
            scratch.join(format!("cold-{i}")),
        ));
        let started = Instant::now();
        page(&committer, &folder, None).await?;
        cold.push(started.elapsed());
    }
    let warm_committer = Git2Committer::new(Git2Config::new(
        remote.clone(),
        "main",
        scratch.join("warm"),
    ));
    page(&warm_committer, &folder, None).await?;
    let mut warm = Vec::new();
    for _ in 0..runs * 3 {
        let started = Instant::now();
        page(&warm_committer, &folder, None).await?;
        warm.push(started.elapsed());
    }
    let (whole_time, pages, changes, newest) = whole(&warm_committer, &folder).await?;
    let sha = newest.ok_or_else(|| anyhow::anyhow!("the tenant has no history"))?;
    let mut summary = Vec::new();
    for _ in 0..runs * 3 {
        let started = Instant::now();
        warm_committer
            .commit_files(sha.clone(), folder.clone())
            .await?;
        summary.push(started.elapsed());
    }

    let server = github::GithubServer::start(repo.clone(), GITHUB_TOKEN).await;
    let committer = github_committer(&server.url)?;
    let calls = server.calls();
    let started = Instant::now();
    page(&committer, &folder, None).await?;
    let github_first = started.elapsed();
    let github_first_calls = server.calls() - calls;
    let calls = server.calls();
    let (github_whole, _, github_changes, _) = whole(&committer, &folder).await?;
    let github_whole_calls = server.calls() - calls;
    if github_changes != changes {
        anyhow::bail!("GitHub listed {github_changes} changes, Git {changes}");
    }

    let mut clone_log = Vec::new();
    for _ in 0..runs {
        clone_log.push(clone_and_log(&url, &scratch, &folder)?);
    }
    Ok(Figures {
        tenants,
        changes,
        first_cold: median(cold),
        first_warm: median(warm),
        whole: whole_time,
        pages,
        summary: median(summary),
        github_first,
        github_first_calls,
        github_whole,
        github_whole_calls,
        clone_log: median(clone_log),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tenant_counts: Vec<usize> = match args.first() {
        Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![100, 5_000],
    };
    let history: usize = args
        .get(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let runs: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(5);
    let dir = tempfile::tempdir()?;

    let mut all = Vec::new();
    for tenants in &tenant_counts {
        all.push(measure(dir.path(), *tenants, history, runs).await?);
    }
    println!();
    println!(
        "a tenant's history, {history} commits on main, git daemon on 127.0.0.1 (medians; pages of {PAGE})"
    );
    println!(
        "{:>8}  {:>8}  {:>12}  {:>12}  {:>16}  {:>12}  {:>14}  {:>18}  {:>18}",
        "tenants",
        "changes",
        "page cold",
        "page warm",
        "whole (pages)",
        "diff summary",
        "clone + log",
        "GitHub page",
        "GitHub whole"
    );
    for f in &all {
        println!(
            "{:>8}  {:>8}  {:>12}  {:>12}  {:>16}  {:>12}  {:>14}  {:>18}  {:>18}",
            f.tenants,
            f.changes,
            ms(f.first_cold),
            ms(f.first_warm),
            format!("{} ({})", ms(f.whole), f.pages),
            ms(f.summary),
            ms(f.clone_log),
            format!("{} ({} calls)", ms(f.github_first), f.github_first_calls),
            format!("{} ({} calls)", ms(f.github_whole), f.github_whole_calls),
        );
    }
    println!();
    for f in &all {
        println!(
            "{} tenants: a cold first page is {:.1}x faster than clone + log; a warm one {:.1}x",
            f.tenants,
            f.clone_log.as_secs_f64() / f.first_cold.as_secs_f64(),
            f.clone_log.as_secs_f64() / f.first_warm.as_secs_f64(),
        );
    }
    Ok(())
}
