//! `berth rollouts`: one change to many tenants, in waves. So far `plan`: the waves a rollout
//! body would commit, each tenant's files, and the tenants left out, with nothing committed.

use std::io::Read;
use std::path::PathBuf;

use berth_contract::{RolloutBody, RolloutPlanView};
use clap::Subcommand;
use comfy_table::Cell;

use crate::Api;
use crate::client::{ClientError, exit};
use crate::output::{self, styled_table};

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
}

pub async fn run(command: Rollouts) -> Result<u8, ClientError> {
    match command {
        Rollouts::Plan { file, api } => {
            let body = read_body(&file)?;
            let plan = api.client()?.plan_rollout(&body).await?;
            output::print(api.output, &plan, table);
            Ok(exit::OK)
        }
    }
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
