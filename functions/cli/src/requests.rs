//! `berth requests show | wait`: a request, or following it until it reaches a state.

use std::time::Duration;

use clap::Subcommand;

use crate::Api;
use crate::client::{ClientError, exit};
use crate::follow::{Goal, follow};
use crate::output;
use crate::writes::WriteArgs;

#[derive(Subcommand)]
pub enum Requests {
    /// A request and where it is in its life.
    Show {
        id: String,
        #[command(flatten)]
        api: Api,
    },
    /// Follows a request until it reaches `--until`, fails, or `--timeout` passes.
    Wait {
        id: String,
        /// The state to wait for.
        #[arg(long, value_enum, default_value = "ready")]
        until: Goal,
        /// How long to wait (`90s`, `10m`).
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        timeout: Duration,
        #[command(flatten)]
        api: Api,
    },
    /// Undo a request: restore the files it changed to what they were before it, as a new
    /// request. Refused when a later change touched them, unless --force.
    Revert {
        id: String,
        /// Restore over later changes to the same files.
        #[arg(long)]
        force: bool,
        /// The tenant's name: needed to revert its creation, which deletes it.
        #[arg(long, value_name = "TENANT")]
        confirm: Option<String>,
        #[command(flatten)]
        write: WriteArgs,
    },
}

pub async fn run(command: Requests) -> Result<u8, ClientError> {
    match command {
        Requests::Show { id, api } => {
            let request = api.client()?.request(&id).await?;
            output::print(api.output, &request, output::request);
            Ok(exit::OK)
        }
        Requests::Wait {
            id,
            until,
            timeout,
            api,
        } => {
            let (code, request) = follow(&api.client()?, &id, until, timeout)
                .await?
                .into_exit();
            if code == exit::TIMED_OUT {
                eprintln!("timed out waiting for {id} to be {until:?}");
            }
            output::print(api.output, &request, output::request);
            Ok(code)
        }
        Requests::Revert {
            id,
            force,
            confirm,
            write: WriteArgs { wait, api },
        } => crate::changes::revert(&api, &id, force, confirm.as_deref(), &wait).await,
    }
}
