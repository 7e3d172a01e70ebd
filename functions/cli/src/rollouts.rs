//! `berth rollouts`: one change to many tenants, in waves. `plan` shows the waves a body would
//! commit; `start` records it for the status function to commit wave by wave; `list`, `show`
//! (`--wait` follows it live) and `pause`, `resume`, `abort`, `revert` steer it.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use berth_contract::{RolloutBody, RolloutList, RolloutPlanView, RolloutView};
use clap::Subcommand;
use comfy_table::Cell;

use crate::Api;
use crate::client::{ApiClient, ClientError, exit};
use crate::output::{self, styled_table};

/// How often `show --wait` reads the rollout again.
const POLL: Duration = Duration::from_secs(2);

#[derive(Subcommand)]
pub enum Rollouts {
    /// The plan of a rollout (its body as JSON, from a file or `-` for standard input): the
    /// waves against the branch tip, each tenant's changed files, and the tenants left out.
    /// Nothing is committed.
    Plan {
        /// The rollout's body (`POST /v1/rollouts`), as JSON.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        api: Api,
    },
    /// Starts a rollout: its plan is recorded, and the status function commits each wave once
    /// the one before is ready and soaked.
    Start {
        /// The rollout's body (`POST /v1/rollouts`), as JSON; `-` for standard input.
        #[arg(long)]
        file: PathBuf,
        /// A retry with the same key answers the rollout the first call started.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// `direct` commits each wave; `pr` opens a pull request per wave to approve.
        #[arg(long, value_parser = ["direct", "pr"])]
        mode: Option<String>,
        #[command(flatten)]
        api: Api,
    },
    /// Rollouts, newest first: every open one, then finished ones a page at a time.
    List {
        /// Finished rollouts on the page.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
        /// Older than this rollout: the `more: --before` of the previous page.
        #[arg(long)]
        before: Option<String>,
        #[command(flatten)]
        api: Api,
    },
    /// One rollout: its waves and every tenant's state.
    Show {
        id: String,
        /// Follow it until it is done, paused, aborted or reverted.
        #[arg(long)]
        wait: bool,
        /// How long --wait waits (`30m`, `2h`).
        #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
        timeout: Duration,
        #[command(flatten)]
        api: Api,
    },
    /// No wave is committed until it is resumed.
    Pause {
        id: String,
        #[command(flatten)]
        api: Api,
    },
    Resume {
        id: String,
        #[command(flatten)]
        api: Api,
    },
    /// Stops it; the waves applied stay as they are.
    Abort {
        id: String,
        #[command(flatten)]
        api: Api,
    },
    /// Reverts every applied wave, newest first; a tenant changed since is reported and left
    /// as it is unless --force.
    Revert {
        id: String,
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        api: Api,
    },
}

pub async fn run(command: Rollouts) -> Result<u8, ClientError> {
    match command {
        Rollouts::Plan { file, api } => {
            let body = read_body(&file)?;
            let plan = api.client()?.plan_rollout(&body).await?;
            output::print(api.output, &plan, table);
            Ok(exit::OK)
        }
        Rollouts::Start {
            file,
            idempotency_key,
            mode,
            api,
        } => {
            let body = read_body(&file)?;
            let rollout = api
                .client()?
                .start_rollout(&body, idempotency_key.as_deref(), mode.as_deref())
                .await?;
            output::print(api.output, &rollout, rollout_table);
            Ok(exit::OK)
        }
        Rollouts::List { limit, before, api } => {
            let list = api.client()?.rollouts(limit, before.as_deref()).await?;
            output::print(api.output, &list, list_table);
            Ok(exit::OK)
        }
        Rollouts::Show {
            id,
            wait,
            timeout,
            api,
        } => {
            let client = api.client()?;
            let (rollout, code) = if wait {
                follow(&client, &id, timeout).await?
            } else {
                (client.rollout(&id).await?, exit::OK)
            };
            output::print(api.output, &rollout, rollout_table);
            Ok(code)
        }
        Rollouts::Pause { id, api } => steer(api, &id, "pause", false).await,
        Rollouts::Resume { id, api } => steer(api, &id, "resume", false).await,
        Rollouts::Abort { id, api } => steer(api, &id, "abort", false).await,
        Rollouts::Revert { id, force, api } => steer(api, &id, "revert", force).await,
    }
}

async fn steer(api: Api, id: &str, action: &str, force: bool) -> Result<u8, ClientError> {
    let rollout = api.client()?.steer_rollout(id, action, force).await?;
    output::print(api.output, &rollout, rollout_table);
    Ok(exit::OK)
}

/// Follows rollout `id` until it settles (done, paused, aborted, reverted) or `timeout`
/// passes: live on a terminal, one line per change otherwise. Exits 0 when done, 1 when it
/// paused, was aborted or reverted, 3 on the timeout.
async fn follow(
    client: &ApiClient,
    id: &str,
    timeout: Duration,
) -> Result<(RolloutView, u8), ClientError> {
    let live = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = live.then(|| {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::new();
    let outcome = loop {
        let rollout = client.rollout(id).await?;
        let line = progress_line(&rollout);
        if line != last {
            match &bar {
                Some(bar) => bar.set_message(line.clone()),
                None => eprintln!("{line}"),
            }
            last = line;
        }
        match rollout.state.as_str() {
            "done" => break (rollout, exit::OK),
            "paused" | "aborted" | "reverted" => break (rollout, exit::FAILED),
            _ => {}
        }
        if tokio::time::Instant::now() + POLL > deadline {
            break (rollout, exit::TIMED_OUT);
        }
        tokio::time::sleep(POLL).await;
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(outcome)
}

/// `running · wave 2/4 soaking · ready 5, syncing 3, planned 32`.
fn progress_line(rollout: &RolloutView) -> String {
    let current = rollout
        .waves
        .iter()
        .rev()
        .find(|w| w.state != "planned")
        .map(|w| format!(" · wave {}/{} {}", w.number, rollout.waves.len(), w.state))
        .unwrap_or_default();
    let counts: Vec<String> = rollout
        .counts
        .iter()
        .map(|(state, n)| format!("{state} {n}"))
        .collect();
    let mut line = format!("{}{current} · {}", rollout.state, counts.join(", "));
    if let Some(reason) = &rollout.pause_reason {
        line.push_str(&format!(" · {reason}"));
    }
    line
}

/// The rollout's line, then one row per wave, then the tenants not simply on their way.
fn rollout_table(rollout: &RolloutView, colour: bool) -> String {
    let rows = rollout
        .waves
        .iter()
        .map(|w| {
            let counts: Vec<String> = w.counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
            vec![
                Cell::new(w.number),
                Cell::new(&w.state),
                Cell::new(counts.join(", ")),
                Cell::new(w.commit.as_deref().map_or("", |c| &c[..c.len().min(12)])),
                Cell::new(w.committed_at.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let mut out = format!(
        "rollout {} · {}\n\n{}",
        rollout.id,
        progress_line(rollout),
        styled_table(
            &["WAVE", "STATE", "TENANTS", "COMMIT", "COMMITTED"],
            rows,
            colour
        )
    );
    let noted: Vec<Vec<Cell>> = rollout
        .waves
        .iter()
        .flat_map(|w| w.tenants.iter().map(move |t| (w.number, t)))
        .filter(|(_, t)| t.reason.is_some())
        .map(|(n, t)| {
            vec![
                Cell::new(&t.tenant),
                Cell::new(n),
                Cell::new(&t.state),
                Cell::new(t.reason.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    if !noted.is_empty() {
        out.push_str("\n\n");
        out.push_str(&styled_table(
            &["TENANT", "WAVE", "STATE", "WHY"],
            noted,
            colour,
        ));
    }
    out
}

fn list_table(list: &RolloutList, colour: bool) -> String {
    let rows = list
        .rollouts
        .iter()
        .map(|r| {
            let counts: Vec<String> = r.counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
            vec![
                Cell::new(&r.id),
                Cell::new(&r.state),
                Cell::new(r.waves.len()),
                Cell::new(counts.join(", ")),
                Cell::new(&r.created_at),
            ]
        })
        .collect();
    let mut text = styled_table(
        &["ID", "STATE", "WAVES", "TENANTS", "CREATED"],
        rows,
        colour,
    );
    if let Some(next) = &list.next_before {
        text.push_str(&format!("\nmore: --before {next}"));
    }
    text
}

/// The body, checked against the contract's shape before anything is sent.
fn read_body(file: &PathBuf) -> Result<RolloutBody, ClientError> {
    let mut text = String::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    read.map_err(|e| ClientError::usage("file", format!("cannot read {}: {e}", file.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| ClientError::usage("file", format!("not a rollout body: {e}")))
}

/// One row per wave (its tenants, the first few named), then the tenants left out.
fn table(plan: &RolloutPlanView, colour: bool) -> String {
    let rows = plan
        .waves
        .iter()
        .map(|w| {
            let names: Vec<&str> = w.tenants.iter().map(|t| t.tenant.as_str()).collect();
            let shown = if names.len() > 6 {
                format!("{}, … ({} more)", names[..6].join(", "), names.len() - 6)
            } else {
                names.join(", ")
            };
            let files: usize = w.tenants.iter().map(|t| t.files.len()).sum();
            vec![
                Cell::new(w.number),
                Cell::new(w.tenants.len()),
                Cell::new(files),
                Cell::new(shown),
            ]
        })
        .collect();
    let mut out = format!(
        "{} tenant(s) in {} wave(s), planned at {} (plan {})\n\n{}",
        plan.tenants,
        plan.waves.len(),
        &plan.revision[..plan.revision.len().min(12)],
        &plan.hash[..plan.hash.len().min(19)],
        styled_table(&["WAVE", "TENANTS", "FILES", "WHO"], rows, colour)
    );
    if !plan.left_out.is_empty() {
        let rows = plan
            .left_out
            .iter()
            .map(|l| {
                vec![
                    Cell::new(&l.tenant),
                    Cell::new(&l.reason),
                    Cell::new(l.detail.as_deref().unwrap_or("")),
                ]
            })
            .collect();
        out.push_str("\n\n");
        out.push_str(&styled_table(&["LEFT OUT", "WHY", "DETAIL"], rows, colour));
    }
    out
}

#[cfg(test)]
mod tests {
    use berth_contract::{LeftOutView, TenantPlanView, WavePlanView};

    use super::*;

    #[test]
    fn the_plan_reads_wave_by_wave_then_what_is_left_out() {
        let tenant = |name: &str| TenantPlanView {
            tenant: name.into(),
            envs: vec!["prod".into()],
            files: vec![],
        };
        let plan = RolloutPlanView {
            revision: "0123456789abcdef".into(),
            hash: "sha256:feedface".into(),
            tenants: 9,
            waves: vec![
                WavePlanView {
                    number: 1,
                    tenants: vec![tenant("acme")],
                },
                WavePlanView {
                    number: 2,
                    tenants: (0..8).map(|i| tenant(&format!("t{i}"))).collect(),
                },
            ],
            left_out: vec![LeftOutView {
                tenant: "globex".into(),
                reason: "held".into(),
                detail: Some("until 2027-01-05T00:00:00Z".into()),
            }],
        };
        let text = table(&plan, false);
        assert!(
            text.starts_with("9 tenant(s) in 2 wave(s), planned at 0123456789ab"),
            "{text}"
        );
        assert!(
            text.contains("t0, t1, t2, t3, t4, t5, … (2 more)"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.contains("globex") && l.contains("held") && l.contains("2027-01-05")),
            "{text}"
        );
    }
}
