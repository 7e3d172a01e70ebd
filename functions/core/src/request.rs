//! A validated request: what the API and the webhooks ask Berth to change.

use serde_json::{Map, Value};

use crate::names::{EnvName, ModuleName, TenantName, TierName};

/// The commit trailer naming the request a commit carries out: how a retry, or the status
/// sweep, finds whether an interrupted request landed.
pub const REQUEST_TRAILER: &str = "Berth-Request";

/// The trailer line for request `id`.
pub fn request_trailer(id: &str) -> String {
    format!("{REQUEST_TRAILER}: {id}")
}

/// Whether commit `message` carries request `request_id`'s trailer.
pub fn carries_request(message: &str, request_id: &str) -> bool {
    message.lines().any(|line| {
        line.trim()
            .strip_prefix(REQUEST_TRAILER)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|id| id.trim() == request_id)
    })
}

/// One request, always about one tenant. `id` is the request's ULID; it ends up in the
/// commit's `Berth-Request` trailer and, for a new tenant, in `created_by`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: String,
    pub tenant: TenantName,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateTenant(NewTenant),
    UpdateTenant(TenantPatch),
    DeleteTenant,
    EnableModule(ModuleChange),
    DisableModule { env: EnvName, module: ModuleName },
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewTenant {
    pub tier: TierName,
    pub envs: Vec<EnvName>,
    /// Enabled in every listed environment.
    pub modules: Vec<ModuleName>,
    pub display_name: Option<String>,
    pub owner: Option<String>,
    /// The billing system's customer id, for tenants created by a subscription.
    pub customer_id: Option<String>,
}

/// A partial update; at least one field is set (the body parser makes sure).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantPatch {
    pub tier: Option<TierName>,
    pub display_name: Option<String>,
    pub owner: Option<String>,
    pub suspended: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleChange {
    pub env: EnvName,
    pub module: ModuleName,
    pub version: Option<String>,
    /// Value overrides, merged at the top level of the module's values file.
    pub values: Map<String, Value>,
    /// Also enable the module's missing dependencies instead of refusing the request.
    pub enable_dependencies: bool,
}

impl Action {
    /// The action's name in request records and responses.
    pub fn name(&self) -> &'static str {
        match self {
            Action::CreateTenant(_) => "create_tenant",
            Action::UpdateTenant(p) if p.is_only_suspension(true) => "suspend_tenant",
            Action::UpdateTenant(p) if p.is_only_suspension(false) => "resume_tenant",
            Action::UpdateTenant(_) => "update_tenant",
            Action::DeleteTenant => "delete_tenant",
            Action::EnableModule(_) => "enable_module",
            Action::DisableModule { .. } => "disable_module",
        }
    }
}

impl TenantPatch {
    fn is_only_suspension(&self, suspended: bool) -> bool {
        self.suspended == Some(suspended)
            && self.tier.is_none()
            && self.display_name.is_none()
            && self.owner.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trailer_written_is_the_trailer_found() {
        let message = format!("Create tenant acme\n\n{}\n", request_trailer("01ABC"));
        assert!(carries_request(&message, "01ABC"));
        assert!(!carries_request(&message, "01AB"));
        assert!(!carries_request("Berth-Requester: 01ABC", "01ABC"));
        assert!(!carries_request("Create tenant acme", "01ABC"));
    }
}
