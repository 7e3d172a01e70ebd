//! `berth history`, `berth promote` and `berth requests revert`: a tenant's changes, and
//! moving or undoing them as new requests.

use berth_contract::PromoteBody;

use crate::Api;
use crate::client::{ClientError, exit};
use crate::follow::WaitArgs;
use crate::{output, writes};

/// `berth history <tenant>`: one page, newest first.
pub async fn history(
    api: &Api,
    tenant: &str,
    limit: u32,
    before: Option<&str>,
) -> Result<u8, ClientError> {
    let page = api.client()?.history(tenant, limit, before).await?;
    output::print(api.output, &page, output::history);
    Ok(exit::OK)
}

/// What `berth promote` was asked.
pub struct Promotion {
    pub tenant: String,
    pub from: String,
    pub to: String,
    pub modules: Vec<String>,
    pub dry_run: bool,
}

/// `berth promote`: the planned diff with `--dry-run`, else the request (followed with `--wait`).
pub async fn promote(api: &Api, asked: Promotion, wait: &WaitArgs) -> Result<u8, ClientError> {
    let client = api.client()?;
    let body = PromoteBody {
        from: asked.from,
        modules: (!asked.modules.is_empty()).then_some(asked.modules),
    };
    if asked.dry_run {
        let planned = client
            .plan_promotion(&asked.tenant, &asked.to, &body)
            .await?;
        output::print(api.output, &planned, output::planned_change);
        return Ok(exit::OK);
    }
    let written = client.promote(&asked.tenant, &asked.to, &body).await?;
    writes::finish(api, &client, written, wait).await
}

/// `berth requests revert <id>`.
pub async fn revert(
    api: &Api,
    id: &str,
    force: bool,
    confirm: Option<&str>,
    wait: &WaitArgs,
) -> Result<u8, ClientError> {
    let client = api.client()?;
    let written = client.revert(id, force, confirm).await?;
    writes::finish(api, &client, written, wait).await
}
