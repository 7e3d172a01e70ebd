//! The `berth` command: a client of any Berth API (`BERTH_URL`, `BERTH_TOKEN`), and `berth dev`,
//! which runs Berth in one local process on its embedded defaults.

mod client;
mod confirm;
mod dev;
mod output;
mod requests;

use std::process::ExitCode;

use berth_contract::CreateTenantBody;
use clap::{Args, Parser, Subcommand};

use crate::client::{ApiClient, ClientError, exit};
use crate::output::Format;

#[derive(Parser)]
#[command(name = "berth", version, about = "Tenant changes as GitOps commits")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the API is and who calls it.
#[derive(Args, Clone)]
struct Api {
    /// The API's base URL.
    #[arg(long, env = "BERTH_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A bearer token the API accepts (never printed).
    #[arg(long, env = "BERTH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// How to print the answer.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: Format,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on a local port, committing into a local bare repository.
    Dev(dev::DevArgs),
    /// Whether the API answers, and its version.
    Health(Api),
    /// The tiers, environments and modules tenants can have.
    Catalog(Api),
    /// List, show and create tenants.
    Tenants {
        #[command(subcommand)]
        command: Tenants,
    },
    /// Show a request, or wait for it to reach a state.
    Requests {
        #[command(subcommand)]
        command: requests::Requests,
    },
}

#[derive(Subcommand)]
enum Tenants {
    /// The tenants the token may see, with their health.
    List(Api),
    /// One tenant: its environments, modules and their health.
    Show {
        name: String,
        #[command(flatten)]
        api: Api,
    },
    /// Suspend a tenant: its workloads scale to zero, its data is kept.
    Suspend {
        name: String,
        #[command(flatten)]
        api: Api,
    },
    /// Resume a suspended tenant.
    Resume {
        name: String,
        #[command(flatten)]
        api: Api,
    },
    /// Delete a tenant and everything it runs, data included. Asks first.
    Delete {
        name: String,
        /// Delete without asking (required without a terminal).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        api: Api,
    },
    /// Create a tenant.
    Create {
        name: String,
        /// A tier of the catalog.
        #[arg(long)]
        tier: String,
        /// An environment; repeat for more.
        #[arg(long = "env", required = true)]
        envs: Vec<String>,
        /// A module to enable in every environment; repeat for more.
        #[arg(long = "module")]
        modules: Vec<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        api: Api,
    },
}

impl Api {
    fn client(&self) -> Result<ApiClient, ClientError> {
        let token = self.token.as_deref().ok_or_else(|| ClientError::Api {
            status: 400,
            error: berth_contract::ErrorDetail {
                code: "usage".into(),
                message: "no token: set BERTH_TOKEN or pass --token".into(),
                field: Some("BERTH_TOKEN".into()),
            },
        })?;
        ApiClient::new(&self.url, token)
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
        Command::Health(api) => {
            // No token needed: anyone may ask whether it answers.
            let client = ApiClient::new(&api.url, api.token.as_deref().unwrap_or_default())?;
            let health = client.health().await?;
            output::print(api.output, &health, |h| {
                format!("{} (version {})", h.status, h.version)
            });
            Ok(exit::OK)
        }
        Command::Catalog(api) => {
            let catalog = api.client()?.catalog().await?;
            output::print(api.output, &catalog, output::catalog);
            Ok(exit::OK)
        }
        Command::Tenants { command } => tenants(command).await,
        Command::Requests { command } => requests::run(command).await,
    }
}

async fn tenants(command: Tenants) -> Result<u8, ClientError> {
    match command {
        Tenants::List(api) => {
            let list = api.client()?.tenants().await?;
            output::print(api.output, &list, output::tenants);
        }
        Tenants::Show { name, api } => {
            let tenant = api.client()?.tenant(&name).await?;
            output::print(api.output, &tenant, output::tenant);
        }
        Tenants::Suspend { name, api } => {
            let written = api.client()?.set_suspended(&name, true).await?;
            output::print(api.output, &written.request, output::request);
        }
        Tenants::Resume { name, api } => {
            let written = api.client()?.set_suspended(&name, false).await?;
            output::print(api.output, &written.request, output::request);
        }
        Tenants::Delete { name, yes, api } => {
            let client = api.client()?;
            if !yes {
                let tenant = client.tenant(&name).await?;
                if !confirm::delete_tenant(&tenant)? {
                    eprintln!("nothing deleted");
                    return Ok(exit::FAILED);
                }
            }
            let written = client.delete_tenant(&name).await?;
            output::print(api.output, &written.request, output::request);
        }
        Tenants::Create {
            name,
            tier,
            envs,
            modules,
            display_name,
            owner,
            api,
        } => {
            let body = CreateTenantBody {
                name,
                tier,
                envs,
                modules,
                display_name,
                owner,
            };
            let written = api.client()?.create_tenant(&body).await?;
            if !written.changed && api.output == Format::Table {
                eprintln!("nothing to change: the repository already says so");
            }
            output::print(api.output, &written.request, output::request);
        }
    }
    Ok(exit::OK)
}
