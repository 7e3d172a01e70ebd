//! Confirmations before what cannot be undone: what will be removed is shown, and the answer
//! must be the tenant's name. Without a terminal to ask on, the answer is no: scripts say
//! `--yes`.

use std::io::{BufRead, IsTerminal, Write};

use berth_contract::{ErrorDetail, TenantDetail};

use crate::client::{ApiClient, ClientError};

/// Whether to go ahead: at once with `yes`, else when the person asked (`ask`, shown tenant
/// `name` as it is now) confirms; otherwise says `declined` on stderr.
pub async fn unless_yes(
    client: &ApiClient,
    yes: bool,
    name: &str,
    ask: impl FnOnce(&TenantDetail) -> Result<bool, ClientError>,
    declined: &str,
) -> Result<bool, ClientError> {
    if yes || ask(&client.tenant(name).await?)? {
        return Ok(true);
    }
    eprintln!("{declined}");
    Ok(false)
}

/// Asks whether to delete `tenant`, showing every environment and module that goes with it.
pub fn delete_tenant(tenant: &TenantDetail) -> Result<bool, ClientError> {
    let mut lines = vec![format!(
        "Deleting tenant {} removes, with their data:",
        tenant.name
    )];
    for (env, detail) in &tenant.envs {
        let modules: Vec<&str> = detail.modules.keys().map(String::as_str).collect();
        lines.push(format!(
            "  {env} (namespace {}): {}",
            detail.namespace,
            if modules.is_empty() {
                "no modules".to_owned()
            } else {
                modules.join(", ")
            }
        ));
    }
    ask(&lines.join("\n"), &tenant.name)
}

/// Asks whether to disable `module` in `env` of `tenant`, warning that its data goes.
pub fn disable_module(tenant: &TenantDetail, env: &str, module: &str) -> Result<bool, ClientError> {
    let namespace = tenant
        .envs
        .get(env)
        .map_or_else(|| "-".to_owned(), |e| e.namespace.clone());
    let what = format!(
        "Disabling {module} in {env} of tenant {} (namespace {namespace}) removes its workloads \
         and deletes its data: volumes, databases and secrets it made go with it.",
        tenant.name
    );
    ask(&what, module)
}

/// Shows `what` and asks for `expected` to be typed back.
fn ask(what: &str, expected: &str) -> Result<bool, ClientError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(ClientError::Api {
            status: 400,
            error: ErrorDetail {
                code: "usage".into(),
                message: format!(
                    "{what}\nno terminal to confirm on: pass --yes to go ahead without asking"
                ),
                field: Some("--yes".into()),
            },
        });
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{what}\nType {expected} to confirm: ");
    let _ = stderr.flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| ClientError::Unexpected(e.to_string()))?;
    Ok(answer.trim() == expected)
}
