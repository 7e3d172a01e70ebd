//! `berth dev`: everything in one process on 127.0.0.1. The state folder keeps the seeded bare
//! repository, the committer's cache, the store file and the admin token, so a restart picks
//! up where the last run stopped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use berth_cluster::{ClusterConnector, ClusterSource};
use berth_core::RepoFiles;
use berth_gitops::{
    Committer, Git2Committer, Git2Config, GithubPulls, RemoteUrl, seed_bare_repository,
};
use berth_http::auth::{Role, TokenGrant};
use berth_http::config::webhook_secrets_from_env;
use berth_http::{ApiConfig, AppState, WebhookSecrets, api_router, webhook_router};
use berth_status::{Sweeper, WakeSweeper};
use berth_store::LocalStore;
use berth_usecases::settings::git::GitSettings;
use clap::Args;
use tokio::sync::Notify;

#[derive(Args)]
pub struct DevArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Folder for the repository, the store and the token.
    #[arg(long, default_value = ".berth")]
    state: PathBuf,
    /// The project whose charts/ and tenants/ seed the repository on first start.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Seconds between two status sweeps (an Argo CD notification also starts one).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    sweep_every: u64,
}

/// The folders of the project that seed the local GitOps repository.
const SEED_FOLDERS: &[&str] = &["charts", "tenants"];

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("--state: cannot create {}", args.state.display()))?;
    let state_dir = args.state.canonicalize()?;
    let token = ensure_admin_token(&state_dir.join("admin-token"))?;
    let (committer, pulls, repository_line, git_hint) = committer(&state_dir, &args.project)?;
    let retention =
        berth_usecases::settings::request_retention_from_env(|k| std::env::var(k).ok())?;
    let store = LocalStore::open(state_dir.join("store.json"))?.with_request_retention(retention);
    let secrets_path = state_dir.join("webhook-secrets.env");
    let secrets = ensure_webhook_secrets(&secrets_path)?;
    let mut grants = vec![TokenGrant::new(&token, Role::Admin, None).named("dev-admin")];
    // More callers beside the admin (a viewer, a tenant's own token), to try what each sees.
    if let Some(extra) = std::env::var("BERTH_API_TOKENS")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        grants.extend(berth_http::config::parse_tokens(&extra)?);
    }
    let mut config = ApiConfig::new(grants);
    if let Some(lease) = berth_usecases::settings::claim_lease_from_env(|k| std::env::var(k).ok())?
    {
        config.claim_lease = lease;
    }
    let group_commit = berth_usecases::settings::group_commit_from_env(
        |k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()),
        config.claim_lease,
    )?;
    let trigger = Arc::new(Notify::new());
    let mut app = AppState::new(committer, Arc::new(store), config)
        .with_status_refresh(Arc::new(WakeSweeper(Arc::clone(&trigger))))
        .with_request_retention(retention);
    app.app.group_commit = group_commit;
    // Off unless BERTH_METRICS=emf: then EMF lines on standard output, as on Lambda.
    app.app.metrics =
        berth_usecases::settings::metrics_from_env(|k| std::env::var(k).ok())?.for_function("dev");
    if let Some(pulls) = pulls {
        app = app.with_pull_requests(pulls);
    }
    let router = api_router(app.clone()).merge(webhook_router(app.clone(), secrets));
    let cluster = ClusterSource::from_env(|k| std::env::var(k).ok())
        .context("the cluster's configuration")?;
    let cluster_line = match &cluster {
        Some(source) => format!(
            "Cluster: reading {source:?}, sweeping every {} s into the store.",
            args.sweep_every
        ),
        None => "Cluster: none. No kubeconfig found (KUBECONFIG, ~/.kube/config, BERTH_KUBE_SERVER): statuses read unknown and /v1/cluster/health answers not_configured saying so.".to_owned(),
    };
    let sweeper = Sweeper::new(
        app.app.clone(),
        cluster.map(|s| Arc::new(ClusterConnector::new(s))),
    )
    .with_claim_lease(app.config.claim_lease);
    tokio::spawn(sweep_forever(
        sweeper,
        trigger,
        Duration::from_secs(args.sweep_every),
    ));

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen: cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "warning: {} is not a loopback address; anyone who can reach it and has the token can write",
            args.listen
        );
    }
    println!("Berth dev is serving {url}");
    println!("  console:    {url}/console/ (sign in with the admin token)");
    println!("  repository: {repository_line}");
    println!("  store:      {}", state_dir.join("store.json").display());
    println!(
        "  admin token (kept in {}): {token}",
        state_dir.join("admin-token").display()
    );
    println!(
        "  webhook secrets: {} (BERTH_WEBHOOK_SECRETS_* override them)",
        secrets_path.display()
    );
    println!();
    // A newcomer's first `berth …` must not answer "command not found": say where it is.
    let binary = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "berth".into());
    println!("The berth CLI is this binary: {binary}");
    println!("  put it on your PATH with: cargo install --locked --path functions/cli");
    println!("Point the berth CLI at it:");
    println!("  export BERTH_URL={url} BERTH_TOKEN={token}");
    println!("Try:");
    println!("  berth doctor");
    println!("  berth tenants create acme --tier standard --env dev --module postgres");
    println!("  curl -s -H 'Authorization: Bearer {token}' {url}/v1/catalog");
    println!(
        "  curl -s -X POST -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n    -d '{{\"name\":\"acme\",\"tier\":\"standard\",\"envs\":[\"dev\"],\"modules\":[\"postgres\"]}}' {url}/v1/tenants"
    );
    if let Some(hint) = git_hint {
        println!("  {hint}");
    }
    println!();
    println!("{cluster_line}");

    axum_serve(listener, router).await
}

/// The committer: to `BERTH_GIT_REMOTE` through the backend the environment names, as the
/// functions do (GitHub, or its test server, with `BERTH_GIT_BACKEND=github`), else to the
/// state folder's seeded repository. Returns it, the pull requests when GitHub is configured,
/// the banner's line about them and a command to look at the repository when it is local.
type DevGit = (
    Arc<dyn Committer>,
    Option<Arc<GithubPulls>>,
    String,
    Option<String>,
);

fn committer(state_dir: &Path, project: &Path) -> anyhow::Result<DevGit> {
    let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if get("BERTH_GIT_REMOTE").is_some() {
        let work_dir = state_dir.join("work").display().to_string();
        let settings = GitSettings::from_env(|name| match name {
            "BERTH_WORK_DIR" => get(name).or_else(|| Some(work_dir.clone())),
            _ => get(name),
        })?;
        let line = format!("{} (from BERTH_GIT_REMOTE)", settings.describe());
        let git = settings.into_parts()?;
        return Ok((git.committer, git.pulls, line, None));
    }
    let repo = state_dir.join("repo.git");
    let seeded = ensure_repository(&repo, project)?;
    let remote = RemoteUrl::parse(&repo.display().to_string()).map_err(anyhow::Error::msg)?;
    let committer = Git2Committer::new(Git2Config::new(remote, "main", state_dir.join("work")));
    let line = format!(
        "{} ({}); BERTH_GIT_REMOTE points Berth elsewhere",
        repo.display(),
        if seeded {
            "seeded now from charts/ and tenants/"
        } else {
            "reused"
        }
    );
    let hint = format!("git --git-dir {} log --stat -1", repo.display());
    Ok((Arc::new(committer), None, line, Some(hint)))
}

/// Sweeps at every tick, and at once when an Argo CD notification arrives; a failed sweep is
/// logged and the next tick tries again. Ends with the process.
async fn sweep_forever(sweeper: Sweeper, trigger: Arc<Notify>, every: Duration) {
    loop {
        match sweeper.sweep().await {
            Ok(report) if report.writes + report.removes + report.requests_advanced > 0 => {
                tracing::info!(
                    writes = report.writes,
                    removes = report.removes,
                    requests_advanced = report.requests_advanced,
                    cluster = %report.cluster,
                    "status sweep"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "status sweep failed; trying again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = trigger.notified() => {}
        }
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) })
        .await?;
    Ok(())
}

/// Seeds the bare repository from the project on first start; returns whether it did.
fn ensure_repository(repo: &Path, project: &Path) -> anyhow::Result<bool> {
    if repo.exists() {
        git2::Repository::open_bare(repo)
            .with_context(|| format!("{} exists but is not a bare repository", repo.display()))?;
        return Ok(false);
    }
    let mut files = RepoFiles::new();
    for folder in SEED_FOLDERS {
        collect_files(&project.join(folder), folder, &mut files)?;
    }
    if !files.contains_key(berth_core::catalog::CATALOG_PATH) {
        bail!(
            "--project: {} has no tenants/catalog.yaml to seed the repository with",
            project.display()
        );
    }
    berth_core::plan::load_catalog(&files).context("the project's tenants/catalog.yaml")?;
    seed_bare_repository(repo, "main", &files, "Seed from the Berth project")?;
    Ok(true)
}

/// Regular files under `dir`, keyed by `prefix/relative/path`; symlinks are skipped.
fn collect_files(dir: &Path, prefix: &str, files: &mut RepoFiles) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        let key = format!("{prefix}/{name}");
        if kind.is_dir() {
            collect_files(&entry.path(), &key, files)?;
        } else if kind.is_file() {
            files.insert(key, std::fs::read(entry.path())?);
        }
    }
    Ok(())
}

/// The webhook secrets: from `BERTH_WEBHOOK_SECRETS_*` where set, else kept in `path` (made on
/// first start, readable by this user only) as `NAME=value` lines.
fn ensure_webhook_secrets(path: &Path) -> anyhow::Result<WebhookSecrets> {
    let mut kept: std::collections::BTreeMap<String, String> = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let fresh = || hex::encode(rand::random::<[u8; 24]>());
    let defaults = [
        (
            "BERTH_WEBHOOK_SECRETS_BILLING",
            format!("whsec_{}", fresh()),
        ),
        // Standard Webhooks keys are base64 after `whsec_`; hex digits are valid base64.
        ("BERTH_WEBHOOK_SECRETS_SIGNUP", format!("whsec_{}", fresh())),
        ("BERTH_WEBHOOK_SECRETS_GITHUB", fresh()),
        ("BERTH_WEBHOOK_SECRETS_ARGOCD", fresh()),
    ];
    let mut changed = false;
    for (name, value) in defaults {
        if !kept.contains_key(name) {
            kept.insert(name.to_owned(), value);
            changed = true;
        }
    }
    if changed {
        let lines: String = kept
            .iter()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect();
        write_private(path, &lines)?;
    }
    let secrets = webhook_secrets_from_env(|name| {
        std::env::var(name).ok().or_else(|| kept.get(name).cloned())
    })?;
    Ok(secrets)
}

/// Reads the admin token, or makes one (32 random bytes, hex) readable by this user only.
fn ensure_admin_token(path: &Path) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let token = existing.trim().to_owned();
        if token.len() >= berth_http::auth::MIN_TOKEN_LEN {
            return Ok(token);
        }
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    write_private(path, &format!("{token}\n"))?;
    Ok(token)
}

/// Writes a file only this user can read: it holds secrets.
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())?;
    Ok(())
}
