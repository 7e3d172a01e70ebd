//! `scripts/bench lambda`: for each function, its zip's size (from `scripts/package`) and the
//! time from process start to the first answered invocation under cargo-lambda's runtime
//! emulator, beside a warm invocation of the same event, median of N cold starts. The cold
//! start's own cost is the difference: what the first answer takes beyond what the invocation
//! itself waits on.
//!
//! Each function runs twice: with its secrets in its environment, and with their Secrets
//! Manager ARNs only (moto's), read on the first request; the difference is what reading
//! secrets at run time adds to a cold start's first answer.
//!
//! Usage: bench-lambda [COLD_STARTS]   (scripts/bench sets BERTH_CARGO_LAMBDA, BERTH_FUNCTIONS_DIR,
//! BERTH_PACKAGE_DIR and the DynamoDB endpoint)

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use berth_bench::secrets::MotoSecrets;
use berth_bench::{git, lambda, net};

pub use git::project_root;
pub use net::dynamodb_endpoint;

const GITHUB_SECRET: &str = "github-bench-secret-0123456789";

struct Figures {
    function: &'static str,
    /// Where its secrets came from: `env` or `secrets manager`.
    secrets: &'static str,
    zip_bytes: Option<u64>,
    first: Duration,
    warm: Duration,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The event that wakes each function and what it must answer.
fn event(function: &str) -> Value {
    match function {
        "api" => lambda::http_api_event("GET", "/healthz", &[], None, None),
        "webhook" => {
            let ping = br#"{"zen":"Design for failure.","hook_id":1}"#;
            let mut mac = Hmac::<Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).expect("key");
            mac.update(ping);
            let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            lambda::http_api_event_base64(
                "POST",
                "/webhooks/github",
                &[
                    ("x-github-event", "ping"),
                    ("x-github-delivery", "bench-ping"),
                    ("x-hub-signature-256", &signature),
                ],
                ping,
            )
        }
        _ => json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
    }
}

fn answered(function: &str, response: &Value) -> bool {
    match function {
        "status" => response["revision"].is_string(),
        _ => response["statusCode"] == 200,
    }
}

async fn measure(
    (function, secrets): (&'static str, &'static str),
    binaries: &std::path::Path,
    packages: Option<&std::path::Path>,
    env: &[(&str, String)],
    cold_starts: usize,
) -> anyhow::Result<Figures> {
    let binary = binaries.join(function);
    let emulator = lambda::Emulator::start();
    let event = event(function);
    let (mut firsts, mut warms) = (Vec::new(), Vec::new());
    for _ in 0..cold_starts {
        let started = Instant::now();
        let mut child = emulator.spawn_function(&binary, env);
        let cold = emulator.invoke(&event).await;
        firsts.push(started.elapsed());
        let started = Instant::now();
        let warm = emulator.invoke(&event).await;
        warms.push(started.elapsed());
        // Stopped before anything can return early, so no process is left behind.
        let killed = child.kill();
        child.wait()?;
        killed?;
        for response in [&cold, &warm] {
            anyhow::ensure!(answered(function, response), "{function}: {response}");
        }
    }
    let zip_bytes = packages
        .map(|dir| dir.join(function).join("bootstrap.zip"))
        .and_then(|zip| std::fs::metadata(zip).ok())
        .map(|m| m.len());
    Ok(Figures {
        function,
        secrets,
        zip_bytes,
        first: median(firsts),
        warm: median(warms),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cold_starts: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()
        .context("COLD_STARTS must be a number")?
        .unwrap_or(10);
    let binaries =
        PathBuf::from(std::env::var("BERTH_FUNCTIONS_DIR").context("BERTH_FUNCTIONS_DIR")?);
    let packages = std::env::var("BERTH_PACKAGE_DIR").ok().map(PathBuf::from);
    let dir = tempfile::tempdir()?;
    let repo = dir.path().join("origin.git");
    berth_gitops::seed_bare_repository(&repo, "main", &git::project_charts_and_catalog(), "Seed")?;
    let common = vec![
        ("BERTH_GIT_REMOTE", repo.display().to_string()),
        (
            "BERTH_WORK_DIR",
            dir.path().join("work").display().to_string(),
        ),
        ("BERTH_TABLE", lambda::moto_table().await),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint()),
    ];
    let with = |extra: &[(&'static str, &str)]| {
        let mut env = common.clone();
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    };
    let api = with(&[("BERTH_API_TOKENS", "admin=bench-admin-token-0123456789")]);
    let webhook = with(&[
        (
            "BERTH_WEBHOOK_SECRETS_BILLING",
            "whsec_billing_bench_0123456789",
        ),
        (
            "BERTH_WEBHOOK_SECRETS_SIGNUP",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        ("BERTH_WEBHOOK_SECRETS_GITHUB", GITHUB_SECRET),
        (
            "BERTH_WEBHOOK_SECRETS_ARGOCD",
            "argocd-bench-token-0123456789",
        ),
    ]);
    // No cluster: an empty sweep (Git and the store only).
    let status = with(&[("HOME", "/nonexistent")]);
    // The same secrets in moto's Secrets Manager, given by ARN, as the template gives them; the
    // Git token too (a path remote sends none, but each function reads it).
    let moto = MotoSecrets::new();
    let webhooks_arn = moto
        .create(
            "webhooks",
            &json!({"billing": "whsec_billing_bench_0123456789",
                    "signup": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    "github": GITHUB_SECRET, "argocd": "argocd-bench-token-0123456789"})
            .to_string(),
        )
        .await;
    let tokens_arn = moto
        .create("api-tokens", "admin=bench-admin-token-0123456789")
        .await;
    let git_arn = moto.create("git-token", "bench-git-token-0123456789").await;
    let by_arn = |extra: Vec<(&'static str, String)>| {
        let mut env = common.clone();
        env.push(("BERTH_GIT_TOKEN_ARN", git_arn.clone()));
        env.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint.clone()));
        env.extend(extra);
        env
    };
    let api_arn = by_arn(vec![("BERTH_API_TOKENS_ARN", tokens_arn)]);
    let webhook_arn = by_arn(
        [
            ("BERTH_WEBHOOK_SECRETS_BILLING_ARN", "billing"),
            ("BERTH_WEBHOOK_SECRETS_SIGNUP_ARN", "signup"),
            ("BERTH_WEBHOOK_SECRETS_GITHUB_ARN", "github"),
            ("BERTH_WEBHOOK_SECRETS_ARGOCD_ARN", "argocd"),
        ]
        .into_iter()
        .map(|(var, key)| (var, format!("{webhooks_arn}#{key}")))
        .collect(),
    );
    let status_arn = by_arn(vec![("HOME", "/nonexistent".to_owned())]);
    let mut all = Vec::new();
    for (function, env, env_arn) in [
        ("api", &api, &api_arn),
        ("webhook", &webhook, &webhook_arn),
        ("status", &status, &status_arn),
    ] {
        for (secrets, env) in [("env", env), ("secrets manager", env_arn)] {
            let measured = measure(
                (function, secrets),
                &binaries,
                packages.as_deref(),
                env,
                cold_starts,
            );
            all.push(measured.await?);
        }
    }
    println!();
    println!(
        "lambda functions under cargo-lambda's emulator (binaries in {}; medians of {cold_starts} cold starts)",
        binaries.display()
    );
    println!(
        "{:<8}  {:<15}  {:>10}  {:>14}  {:>14}  {:>18}",
        "function", "secrets", "zip", "first answer", "warm answer", "cold start's own"
    );
    for f in &all {
        let zip = f.zip_bytes.map_or("not built".to_owned(), |b| {
            format!("{:.2} MB", b as f64 / 1e6)
        });
        println!(
            "{:<8}  {:<15}  {:>10}  {:>14}  {:>14}  {:>18}",
            f.function,
            f.secrets,
            zip,
            ms(f.first),
            ms(f.warm),
            ms(f.first.saturating_sub(f.warm))
        );
    }
    for pair in all.chunks(2) {
        if let [from_env, from_manager] = pair {
            let added = from_manager.first.as_secs_f64() - from_env.first.as_secs_f64();
            println!(
                "{}: secrets read at run time add {:+.1} ms to the first answer (target <= 20 ms)",
                from_env.function,
                added * 1000.0
            );
        }
    }
    println!("targets: each zip <= 10 MB; cold start's own <= 50 ms");
    Ok(())
}
