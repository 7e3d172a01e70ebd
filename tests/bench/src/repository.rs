//! A bare repository of many tenants and a long history, built fast with `git fast-import`,
//! and the small helpers the benchmarks that read it share.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use berth_core::body::{parse_create_tenant, parse_module_change};
use berth_core::{Action, RepoFiles, Request, TenantName, plan};
use berth_gitops::github::wire::RepoName;
use berth_gitops::{GithubCommitter, GithubConfig, GithubCredential};
use serde_json::json;

use crate::git::{GitDaemon, project_charts_and_catalog};
use crate::github;

pub fn tenant_name(i: usize) -> String {
    format!("t{i:05}")
}

/// A tenant's files as Berth's planner renders them: standard tier, dev and prod, postgres.
fn tenant_files(i: usize, catalog: &RepoFiles) -> anyhow::Result<RepoFiles> {
    let tier = ["bronze", "standard", "premium"][i % 3];
    let body = json!({"name": tenant_name(i), "tier": tier, "envs": ["dev", "prod"], "modules": ["postgres"]});
    let (tenant, new) = parse_create_tenant(&body)?;
    let request = Request {
        id: format!("01BENCH{i:05}"),
        tenant,
        action: Action::CreateTenant(new),
    };
    Ok(plan(&request, catalog)?.writes)
}

/// The values file Berth writes when `monitoring` is enabled in `env` for tenant `i`.
pub fn monitoring_file(i: usize, env: &str, catalog: &RepoFiles) -> anyhow::Result<Vec<u8>> {
    let mut files = catalog.clone();
    files.extend(tenant_files(i, catalog)?);
    let request = Request {
        id: format!("01MON{i:05}"),
        tenant: TenantName::parse("tenant", &tenant_name(i))?,
        action: Action::EnableModule(parse_module_change(env, "monitoring", &json!({}))?),
    };
    let mut change = plan(&request, &files)?;
    change
        .writes
        .pop_first()
        .map(|(_, bytes)| bytes)
        .context("enabling monitoring writes its file")
}

/// Writes a bare repository whose `main` has `history` commits: the first adds every tenant,
/// each later one toggles a monitoring module, as a stream of `git fast-import`.
pub fn build_repository(path: &Path, tenants: usize, history: usize) -> anyhow::Result<()> {
    run(Command::new("git")
        .args(["init", "--quiet", "--bare", "--initial-branch=main"])
        .arg(path))?;
    let mut import = Command::new("git")
        .arg("--git-dir")
        .arg(path)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(Stdio::piped())
        .spawn()
        .context("git fast-import")?;
    let mut stream = std::io::BufWriter::new(import.stdin.take().context("fast-import stdin")?);
    // The planner validates values against the charts, so the repository carries them too.
    let catalog = project_charts_and_catalog();
    for n in 0..history {
        let message = format!("history commit {n}\n");
        write!(
            stream,
            "commit refs/heads/main\ncommitter Bench <bench@localhost> {} +0000\ndata {}\n{message}",
            1_700_000_000 + n,
            message.len()
        )?;
        if n == 0 {
            let mut files = catalog.clone();
            for i in 0..tenants {
                files.extend(tenant_files(i, &catalog)?);
            }
            for (file, bytes) in files {
                write!(stream, "M 100644 inline {file}\ndata {}\n", bytes.len())?;
                stream.write_all(&bytes)?;
                stream.write_all(b"\n")?;
            }
        } else {
            let file = format!(
                "tenants/{}/dev/modules/monitoring.yaml",
                tenant_name(n % tenants)
            );
            if (n / tenants).is_multiple_of(2) {
                let monitoring = monitoring_file(n % tenants, "dev", &catalog)?;
                write!(
                    stream,
                    "M 100644 inline {file}\ndata {}\n",
                    monitoring.len()
                )?;
                stream.write_all(&monitoring)?;
                stream.write_all(b"\n")?;
            } else {
                writeln!(stream, "D {file}")?;
            }
        }
        stream.write_all(b"\n")?;
    }
    stream.write_all(b"done\n")?;
    drop(stream);
    if !import.wait()?.success() {
        bail!("git fast-import failed");
    }
    run(Command::new("git")
        .arg("--git-dir")
        .arg(path)
        .args(["gc", "--quiet"]))?;
    Ok(())
}

pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    if !out.status.success() {
        bail!("{command:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub const GITHUB_TOKEN: &str = "bench-github-token";

pub fn github_committer(url: &str) -> anyhow::Result<GithubCommitter> {
    let (owner, name) = github::REPOSITORY.split_once('/').context("owner/name")?;
    let config = GithubConfig::new(
        url,
        RepoName {
            owner: owner.into(),
            name: name.into(),
        },
        "main",
        GithubCredential::Token(GITHUB_TOKEN.to_owned().into()),
    );
    Ok(GithubCommitter::new(config)?)
}

/// A built repository served by `git daemon`, with a scratch folder beside it.
pub struct Served {
    pub repo: std::path::PathBuf,
    pub url: String,
    pub remote: berth_gitops::RemoteUrl,
    pub scratch: std::path::PathBuf,
    pub daemon: GitDaemon,
}

/// Builds `<base>/<name>.git` with `tenants` tenants and `history` commits and serves it.
pub fn build_and_serve(
    base: &Path,
    name: &str,
    tenants: usize,
    history: usize,
) -> anyhow::Result<Served> {
    let repo = base.join(format!("{name}.git"));
    let started = std::time::Instant::now();
    build_repository(&repo, tenants, history)?;
    eprintln!(
        "built {} with {tenants} tenants and {history} commits in {:.1} s",
        repo.display(),
        started.elapsed().as_secs_f64()
    );
    let daemon = GitDaemon::start(base);
    let url = daemon.url(name);
    let remote = berth_gitops::RemoteUrl::parse(&url).map_err(anyhow::Error::msg)?;
    let scratch = base.join(format!("scratch-{name}"));
    std::fs::create_dir_all(&scratch)?;
    Ok(Served {
        repo,
        url,
        remote,
        scratch,
        daemon,
    })
}
