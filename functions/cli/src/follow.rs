//! Following a request through its life (committed -> synced -> ready) until it reaches a
//! goal, fails, or time runs out. On a terminal a live line shows the state and the parts still
//! pending; piped, each new state is a line of its own.

use std::time::Duration;

use berth_contract::{ModuleStatus, RequestState, RequestView};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::client::{ApiClient, ClientError, exit};

/// How often a followed request is read again.
const POLL: Duration = Duration::from_secs(2);

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Goal {
    Committed,
    Merged,
    Synced,
    Ready,
}

/// `--wait` and `--timeout`, on every write.
#[derive(clap::Args, Clone)]
pub struct WaitArgs {
    /// Follow the request until it is ready (or fails, or --timeout passes).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (`90s`, `10m`).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// How a followed request ended.
pub enum Followed {
    Reached(RequestView),
    Failed(RequestView),
    TimedOut(RequestView),
}

impl Followed {
    /// The exit code it stands for (0 reached, 1 failed, 3 timed out) and the request as last
    /// read.
    pub fn into_exit(self) -> (u8, RequestView) {
        match self {
            Followed::Reached(request) => (exit::OK, request),
            Followed::Failed(request) => (exit::FAILED, request),
            Followed::TimedOut(request) => (exit::TIMED_OUT, request),
        }
    }
}

/// How far along `state` is, or `None` when it ended short of any goal.
fn progress(state: RequestState) -> Option<Goal> {
    use RequestState as S;
    match state {
        // An expired request is known to have landed, and nothing more.
        S::Committed | S::BranchPushed | S::PrOpened | S::Expired => Some(Goal::Committed),
        S::Merged => Some(Goal::Merged),
        S::Synced => Some(Goal::Synced),
        S::Ready | S::NoChange => Some(Goal::Ready),
        S::Accepted | S::Scheduled | S::Rejected | S::Failed | S::Degraded => None,
    }
}

/// Whether `state` is final without reaching a goal (an expired request will never say more).
fn failed(state: RequestState) -> bool {
    matches!(
        state,
        RequestState::Rejected
            | RequestState::Failed
            | RequestState::Degraded
            | RequestState::Expired
    )
}

/// The parts of `statuses` not yet running `commit` healthily: `env/module (health ready/desired)`.
pub fn pending(statuses: &[ModuleStatus], commit: Option<&str>) -> Vec<String> {
    statuses
        .iter()
        .filter(|s| s.health != "healthy" || (commit.is_some() && s.revision.as_deref() != commit))
        .map(|s| {
            format!(
                "{}/{} ({} {}/{})",
                s.env,
                s.module.as_deref().unwrap_or("base"),
                s.health,
                s.ready,
                s.desired
            )
        })
        .collect()
}

/// One line for the request's state and what it waits on.
fn status_line(request: &RequestView, pending: &[String]) -> String {
    let mut line = format!(
        "{} {}: {}",
        request.action,
        request.tenant,
        request.state.as_str()
    );
    if !pending.is_empty() && !matches!(request.state, RequestState::Accepted) {
        line.push_str(&format!(" · waiting on {}", pending.join(", ")));
    }
    line
}

/// Follows request `id` until it reaches `until`, fails, or `timeout` passes.
pub async fn follow(
    client: &ApiClient,
    id: &str,
    until: Goal,
    timeout: Duration,
) -> Result<Followed, ClientError> {
    let live = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = if live {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    } else {
        None
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_line = String::new();
    let outcome = loop {
        let request = client.request(id).await?;
        let statuses = if matches!(
            progress(request.state),
            Some(Goal::Committed | Goal::Merged | Goal::Synced)
        ) {
            // The tenant's statuses say what is still pending; a failure to read them only
            // shortens the line.
            client
                .tenant_status(&request.tenant)
                .await
                .map(|s| s.statuses)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let line = status_line(&request, &pending(&statuses, request.commit.as_deref()));
        if line != last_line {
            match &bar {
                Some(bar) => bar.set_message(line.clone()),
                None => eprintln!("{line}"),
            }
            last_line = line;
        }
        if progress(request.state).is_some_and(|reached| reached >= until) {
            break Followed::Reached(request);
        }
        if failed(request.state) {
            break Followed::Failed(request);
        }
        if tokio::time::Instant::now() + POLL > deadline {
            break Followed::TimedOut(request);
        }
        tokio::time::sleep(POLL).await;
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(outcome)
}
