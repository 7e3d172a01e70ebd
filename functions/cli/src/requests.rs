//! `berth requests show | wait`: a request, or following it until it reaches a state.

use std::time::Duration;

use berth_contract::{RequestState, RequestView};
use clap::Subcommand;

use crate::Api;
use crate::client::{ClientError, exit};
use crate::output;

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Goal {
    Committed,
    Merged,
    Synced,
    Ready,
}

/// How far along `state` is, or `None` when it ended short of any goal.
fn progress(state: RequestState) -> Option<Goal> {
    use RequestState as S;
    match state {
        S::Committed | S::BranchPushed | S::PrOpened => Some(Goal::Committed),
        S::Merged => Some(Goal::Merged),
        S::Synced => Some(Goal::Synced),
        S::Ready | S::NoChange => Some(Goal::Ready),
        S::Accepted | S::Scheduled | S::Rejected | S::Failed | S::Degraded => None,
    }
}

/// Whether `state` is final without reaching a goal.
fn failed(state: RequestState) -> bool {
    matches!(
        state,
        RequestState::Rejected | RequestState::Failed | RequestState::Degraded
    )
}

/// How often a waiting request is read again.
const POLL: Duration = Duration::from_secs(2);

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
            let client = api.client()?;
            let deadline = tokio::time::Instant::now() + timeout;
            let mut last: Option<RequestState> = None;
            loop {
                let request: RequestView = client.request(&id).await?;
                if last != Some(request.state) {
                    eprintln!("{}: {}", request.id, request.state.as_str());
                    last = Some(request.state);
                }
                if progress(request.state).is_some_and(|reached| reached >= until) {
                    output::print(api.output, &request, output::request);
                    return Ok(exit::OK);
                }
                if failed(request.state) {
                    output::print(api.output, &request, output::request);
                    return Ok(exit::FAILED);
                }
                if tokio::time::Instant::now() + POLL > deadline {
                    eprintln!("timed out waiting for {id} to be {until:?}");
                    return Ok(exit::TIMED_OUT);
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }
}
