//! The `berth` command: a client of any Berth API (`BERTH_URL` and `BERTH_TOKEN`, or a profile
//! `berth login` saved), and `berth dev`, which runs Berth in one local process on its embedded
//! defaults.

mod changes;
mod client;
mod clusters;
mod confirm;
mod dev;
mod doctor;
mod follow;
mod modules;
mod output;
mod profile;
mod requests;
mod rollouts;
mod tenants;
mod values;
mod writes;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::client::{ApiClient, ClientError, exit};
use crate::output::Format;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Tenant changes as GitOps commits",
    after_help = "Exit codes: 0 done, 1 failed or degraded, 2 usage or validation error, 3 timed out, 4 unreachable or unauthorised."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The API used when neither a URL nor a profile says otherwise: `berth dev`'s.
const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Where the API is and who calls it.
#[derive(Args, Clone)]
struct Api {
    /// The API's base URL; without it, the profile's.
    #[arg(long, env = "BERTH_URL")]
    url: Option<String>,
    /// A bearer token the API accepts (never printed); without it, the profile's.
    #[arg(long, env = "BERTH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A profile `berth login` saved; without it, the current one.
    #[arg(long, env = "BERTH_PROFILE")]
    profile: Option<String>,
    /// How to print the answer.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: Format,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on a local port, committing into a local bare repository.
    Dev(dev::DevArgs),
    /// Save a profile: the API's URL and a token (read from standard input), checked first.
    Login {
        /// The API's base URL.
        #[arg(long)]
        url: String,
        /// The profile's name.
        #[arg(long, default_value = "default")]
        profile: String,
    },
    /// Whether the API answers, and its version.
    Health(Api),
    /// Checks a deployment as its operator would: the API and the token's role, Git read and
    /// write, the catalog and every chart's schema, the store, the cluster and Argo CD, the
    /// clocks. One line per check; exits 1 when one failed.
    Doctor(Api),
    /// The tiers, environments and modules tenants can have.
    Catalog(Api),
    /// A tenant's live health, module by module. Exits 1 when it is degraded.
    Status {
        tenant: String,
        #[command(flatten)]
        api: Api,
    },
    /// The catalog's clusters: reachable or not, and what Git places on each.
    Clusters {
        #[command(subcommand)]
        command: clusters::Clusters,
    },
    /// List, show, create, change, suspend, resume, move and delete tenants.
    Tenants {
        #[command(subcommand)]
        command: tenants::Tenants,
    },
    /// Enable, change and disable a tenant's modules, and see their status.
    Modules {
        #[command(subcommand)]
        command: modules::Modules,
    },
    /// One change to many tenants, in waves: so far, the plan.
    Rollouts {
        #[command(subcommand)]
        command: rollouts::Rollouts,
    },
    /// Show a request, wait for it to reach a state, or revert it.
    Requests {
        #[command(subcommand)]
        command: requests::Requests,
    },
    /// A tenant's changes, newest first: who asked, what, which files; commits made by hand
    /// too.
    History {
        tenant: String,
        /// Entries per page (1 to 100).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
        /// Older than this commit: the `more: --before` of the previous page.
        #[arg(long)]
        before: Option<String>,
        #[command(flatten)]
        api: Api,
    },
    /// Copy module versions and values from one environment of a tenant onto another.
    Promote {
        tenant: String,
        /// The environment copied from.
        #[arg(long)]
        from: String,
        /// The environment copied onto.
        #[arg(long)]
        to: String,
        /// Only this module; repeat for more. Every module of --from when left out.
        #[arg(long = "module")]
        modules: Vec<String>,
        /// Print the diff it would commit; commit nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        write: writes::WriteArgs,
    },
}

impl Api {
    /// The URL and token to call with. A profile's token only ever goes to its own URL: with
    /// an explicit URL, the token must be explicit too.
    fn target(&self) -> Result<(String, Option<String>), ClientError> {
        if let Some(url) = &self.url {
            return Ok((url.clone(), self.token.clone()));
        }
        let config = profile::Config::load(&profile::config_dir()?)?;
        match config.profile(self.profile.as_deref())? {
            Some(profile) => {
                let token = match &self.token {
                    Some(token) => token.clone(),
                    None => profile.token()?,
                };
                Ok((profile.url.clone(), Some(token)))
            }
            None => Ok((DEFAULT_URL.to_owned(), self.token.clone())),
        }
    }

    fn client(&self) -> Result<ApiClient, ClientError> {
        let (url, token) = self.target()?;
        let token = token.ok_or_else(|| {
            ClientError::usage(
                "BERTH_TOKEN",
                "no token: set BERTH_TOKEN, pass --token, or `berth login`",
            )
        })?;
        ApiClient::new(&url, &token)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse().command;
    if let Command::Dev(args) = command {
        berth_usecases::telemetry::init_tracing(false);
        return match dev::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(exit::FAILED)
            }
        };
    }
    match run(command).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(command: Command) -> Result<u8, ClientError> {
    match command {
        Command::Dev(_) => Ok(exit::OK),
        Command::Login { url, profile } => {
            let saved = profile::login(&url, &profile).await?;
            eprintln!(
                "logged in to {url} as profile {profile} ({})",
                saved.display()
            );
            Ok(exit::OK)
        }
        Command::Health(api) => {
            // No token needed: anyone may ask whether it answers.
            let (url, token) = api.target()?;
            let health = ApiClient::new(&url, token.as_deref().unwrap_or_default())?
                .health()
                .await?;
            output::print(api.output, &health, |h, _| {
                format!("{} (version {})", h.status, h.version)
            });
            Ok(exit::OK)
        }
        Command::Doctor(api) => doctor::run(&api).await,
        Command::Catalog(api) => {
            let catalog = api.client()?.catalog().await?;
            output::print(api.output, &catalog, output::catalog);
            Ok(exit::OK)
        }
        Command::Status { tenant, api } => {
            let status = api.client()?.tenant_status(&tenant).await?;
            output::print(api.output, &status, output::tenant_status);
            Ok(modules::health_exit(&[status.health.as_str()]))
        }
        Command::Clusters { command } => clusters::run(command).await,
        Command::Rollouts { command } => rollouts::run(command).await,
        Command::Tenants { command } => tenants::run(command).await,
        Command::Modules { command } => modules::run(command).await,
        Command::Requests { command } => requests::run(command).await,
        Command::History {
            tenant,
            limit,
            before,
            api,
        } => changes::history(&api, &tenant, limit, before.as_deref()).await,
        Command::Promote {
            tenant,
            from,
            to,
            modules,
            dry_run,
            write: writes::WriteArgs { wait, api },
        } => {
            let asked = changes::Promotion {
                tenant,
                from,
                to,
                modules,
                dry_run,
            };
            changes::promote(&api, asked, &wait).await
        }
    }
}
