//! The `berth` command. `berth dev` runs Berth in one local process on its embedded defaults:
//! a local bare Git repository seeded from this project, the local store, no network.

mod dev;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "berth", version, about = "Tenant changes as GitOps commits")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on a local port, committing into a local bare repository.
    Dev(dev::DevArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    berth_http::telemetry::init_tracing(false);
    match Cli::parse().command {
        Command::Dev(args) => dev::run(args).await,
    }
}
