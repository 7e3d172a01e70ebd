//! `berth modules ...`: enable (or change), disable, and the live status of a tenant's modules.

use std::path::PathBuf;

use berth_contract::ModuleChangeBody;
use clap::Subcommand;

use crate::Api;
use crate::client::{ClientError, exit};
use crate::writes::WriteArgs;
use crate::{confirm, output, values, writes};

#[derive(Subcommand)]
pub enum Modules {
    /// Enable a module in an environment, or change its version and values.
    Enable {
        tenant: String,
        env: String,
        module: String,
        /// Pin the chart's version.
        #[arg(long)]
        version: Option<String>,
        /// A value over the chart's defaults (`replicas=2`, `resources.cpu=1`); repeat for more.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// A YAML file of values; --set applies over it.
        #[arg(long = "values", value_name = "FILE")]
        values_file: Option<PathBuf>,
        /// Also enable, in the same commit, the modules this one needs.
        #[arg(long)]
        with_dependencies: bool,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Disable a module in an environment: its workloads and data go. Asks first.
    Disable {
        tenant: String,
        env: String,
        module: String,
        /// Disable without asking (required without a terminal).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Each module's health and ready/desired replicas, as the cluster runs them.
    Status {
        tenant: String,
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
        #[command(flatten)]
        api: Api,
    },
}

pub async fn run(command: Modules) -> Result<u8, ClientError> {
    match command {
        Modules::Enable {
            tenant,
            env,
            module,
            version,
            sets,
            values_file,
            with_dependencies,
            write: WriteArgs { wait, api },
        } => {
            let body = ModuleChangeBody {
                version,
                values: values::module_values(values_file.as_deref(), &sets)?,
                enable_dependencies: with_dependencies.then_some(true),
            };
            let client = api.client()?;
            let written = client.enable_module(&tenant, &env, &module, &body).await?;
            writes::finish(&api, &client, written, &wait).await
        }
        Modules::Disable {
            tenant,
            env,
            module,
            yes,
            write: WriteArgs { wait, api },
        } => {
            let client = api.client()?;
            let ask = |detail: &_| confirm::disable_module(detail, &env, &module);
            if !confirm::unless_yes(&client, yes, &tenant, ask, "nothing disabled").await? {
                return Ok(exit::FAILED);
            }
            let written = client.disable_module(&tenant, &env, &module).await?;
            writes::finish(&api, &client, written, &wait).await
        }
        Modules::Status { tenant, env, api } => {
            let mut status = api.client()?.tenant_status(&tenant).await?;
            status
                .statuses
                .retain(|s| s.module.is_some() && env.as_ref().is_none_or(|e| *e == s.env));
            output::print(api.output, &status.statuses, |s, colour| {
                output::statuses(s, colour)
            });
            Ok(health_exit(
                &status
                    .statuses
                    .iter()
                    .map(|s| s.health.as_str())
                    .collect::<Vec<_>>(),
            ))
        }
    }
}

/// 1 when any part is degraded, else 0: a script can gate on it.
pub fn health_exit(healths: &[&str]) -> u8 {
    if healths.contains(&"degraded") {
        exit::FAILED
    } else {
        exit::OK
    }
}
