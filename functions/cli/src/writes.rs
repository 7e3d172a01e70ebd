//! What every write does after the API answered: print the request, and with `--wait` follow
//! it to ready.

use crate::Api;
use crate::client::{ApiClient, ClientError, Written, exit};
use crate::follow::{Goal, WaitArgs, follow};
use crate::output::{self, Format};

/// What every write takes: whether to follow its request, and where the API is.
#[derive(clap::Args, Clone)]
pub struct WriteArgs {
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub api: Api,
}

/// Prints `written`'s request, follows it when told, and says how the command exits.
pub async fn finish(
    api: &Api,
    client: &ApiClient,
    written: Written,
    wait: &WaitArgs,
) -> Result<u8, ClientError> {
    if !written.changed && api.output == Format::Table {
        eprintln!("nothing to change: the repository already says so");
    }
    if !wait.wait || !written.changed {
        output::print(api.output, &written.request, output::request);
        return Ok(exit::OK);
    }
    let (code, request) = follow(client, &written.request.id, Goal::Ready, wait.timeout)
        .await?
        .into_exit();
    if code == exit::TIMED_OUT {
        eprintln!(
            "timed out after {} with the request {}",
            humantime::format_duration(wait.timeout),
            request.state.as_str()
        );
    }
    output::print(api.output, &request, output::request);
    Ok(code)
}
