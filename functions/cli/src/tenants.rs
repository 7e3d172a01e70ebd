//! `berth tenants ...`: list, show, create, update, suspend, resume, delete.

use berth_contract::{CreateTenantBody, PatchTenantBody};
use clap::Subcommand;

use crate::Api;
use crate::client::{ClientError, exit};
use crate::follow::WaitArgs;
use crate::writes::WriteArgs;
use crate::{confirm, output, writes};

#[derive(Subcommand)]
pub enum Tenants {
    /// The tenants the token may see, with their health.
    List(Api),
    /// One tenant: its environments, modules and their health.
    Show {
        name: String,
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
        /// A label its clusters must carry, as KEY=VALUE (`region=eu`); repeat for more.
        #[arg(long = "constraint", value_parser = key_value)]
        constraints: Vec<(String, String)>,
        /// The cluster of an environment, as ENV=CLUSTER, over the placement policy (admins
        /// only); repeat for more.
        #[arg(long = "cluster", value_parser = key_value)]
        clusters: Vec<(String, String)>,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Change a tenant's tier, display name or owner.
    Update {
        name: String,
        #[arg(long)]
        tier: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Suspend a tenant: its workloads scale to zero, its data is kept.
    Suspend {
        name: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Resume a suspended tenant.
    Resume {
        name: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Move an environment to another cluster, make before break: it runs on both until the new
    /// one is ready, then on the new one alone. Admins only.
    Move {
        name: String,
        /// The environment moved.
        #[arg(long)]
        env: String,
        /// The cluster it moves to.
        #[arg(long, required_unless_present = "abort", conflicts_with = "abort")]
        to: Option<String>,
        /// Move although stateful modules' data is not copied (the answer names them).
        #[arg(long)]
        confirm: bool,
        /// Abort the move under way instead: the environment stays on its old cluster.
        #[arg(long)]
        abort: bool,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Delete a tenant and everything it runs, data included. Asks first.
    Delete {
        name: String,
        /// Delete without asking (required without a terminal).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        write: WriteArgs,
    },
}

/// `KEY=VALUE`, split at the first `=`.
fn key_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((key, value)) if !key.is_empty() && !value.is_empty() => {
            Ok((key.to_owned(), value.to_owned()))
        }
        _ => Err(format!("{raw:?} is not KEY=VALUE")),
    }
}

pub async fn run(command: Tenants) -> Result<u8, ClientError> {
    match command {
        Tenants::List(api) => {
            let list = api.client()?.tenants().await?;
            output::print(api.output, &list, output::tenants);
            Ok(exit::OK)
        }
        Tenants::Show { name, api } => {
            let tenant = api.client()?.tenant(&name).await?;
            output::print(api.output, &tenant, output::tenant);
            Ok(exit::OK)
        }
        Tenants::Create {
            name,
            tier,
            envs,
            modules,
            display_name,
            owner,
            constraints,
            clusters,
            write: WriteArgs { wait, api },
        } => {
            let body = CreateTenantBody {
                name,
                tier,
                envs,
                modules,
                display_name,
                owner,
                constraints: constraints.into_iter().collect(),
                clusters: clusters.into_iter().collect(),
            };
            let client = api.client()?;
            let written = client.create_tenant(&body).await?;
            writes::finish(&api, &client, written, &wait).await
        }
        Tenants::Update {
            name,
            tier,
            display_name,
            owner,
            write: WriteArgs { wait, api },
        } => {
            let body = PatchTenantBody {
                tier,
                display_name,
                owner,
                suspended: None,
            };
            if body == PatchTenantBody::default() {
                return Err(ClientError::usage(
                    "--tier",
                    "nothing to change: give --tier, --display-name or --owner",
                ));
            }
            patch(&api, &name, &body, &wait).await
        }
        Tenants::Suspend {
            name,
            write: WriteArgs { wait, api },
        } => patch(&api, &name, &suspended(true), &wait).await,
        Tenants::Resume {
            name,
            write: WriteArgs { wait, api },
        } => patch(&api, &name, &suspended(false), &wait).await,
        Tenants::Move {
            name,
            env,
            to,
            confirm,
            abort,
            write: WriteArgs { wait, api },
        } => {
            let client = api.client()?;
            let written = match to {
                Some(to) if !abort => client.move_env(&name, &env, &to, confirm).await?,
                _ => client.abort_move(&name, &env).await?,
            };
            if let Some(notice) = &written.request.notice {
                eprintln!("{notice}");
            }
            writes::finish(&api, &client, written, &wait).await
        }
        Tenants::Delete {
            name,
            yes,
            write: WriteArgs { wait, api },
        } => {
            let client = api.client()?;
            let ask = confirm::delete_tenant;
            if !confirm::unless_yes(&client, yes, &name, ask, "nothing deleted").await? {
                return Ok(exit::FAILED);
            }
            let written = client.delete_tenant(&name).await?;
            writes::finish(&api, &client, written, &wait).await
        }
    }
}

fn suspended(suspended: bool) -> PatchTenantBody {
    PatchTenantBody {
        suspended: Some(suspended),
        ..Default::default()
    }
}

async fn patch(
    api: &Api,
    name: &str,
    body: &PatchTenantBody,
    wait: &WaitArgs,
) -> Result<u8, ClientError> {
    let client = api.client()?;
    let written = client.update_tenant(name, body).await?;
    writes::finish(api, &client, written, wait).await
}
