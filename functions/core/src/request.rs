//! A validated request: what the API and the webhooks ask Berth to change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::names::{ClusterName, EnvName, ModuleName, TenantName, TierName};

/// The commit trailer naming the request a commit carries out: how a retry, or the status
/// sweep, finds whether an interrupted request landed.
pub const REQUEST_TRAILER: &str = "Berth-Request";

/// The trailer line for request `id`.
pub fn request_trailer(id: &str) -> String {
    format!("{REQUEST_TRAILER}: {id}")
}

/// The trailer naming the tenant of the request whose `Berth-Request` trailer precedes it.
pub const TENANT_TRAILER: &str = "Berth-Tenant";
/// The trailer naming the action of the request whose `Berth-Request` trailer precedes it.
pub const ACTION_TRAILER: &str = "Berth-Action";

/// The trailer naming the request a revert undoes, after the revert's own trailers.
pub const REVERTS_TRAILER: &str = "Berth-Reverts";

/// The trailer lines for `request`: its id, then its tenant and action, so Git alone can say
/// what a request was about once its record has expired from the store; a revert also names
/// the request it undoes.
pub fn request_trailers(request: &Request) -> String {
    let mut trailers = format!(
        "{}\n{TENANT_TRAILER}: {}\n{ACTION_TRAILER}: {}",
        request_trailer(&request.id),
        request.tenant,
        request.action.name()
    );
    if let Action::Revert(restore) = &request.action {
        trailers.push_str(&format!("\n{REVERTS_TRAILER}: {}", restore.reverts));
    }
    trailers
}

/// A request as a commit's trailers describe it. Commits made before the tenant and action
/// trailers existed carry the id alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedRequest {
    pub id: String,
    pub tenant: Option<String>,
    pub action: Option<String>,
    /// For a revert, the request it undoes.
    pub reverts: Option<String>,
}

/// Every request commit `message` carries, in order: each `Berth-Request` trailer with the
/// `Berth-Tenant` and `Berth-Action` trailers that follow it.
pub fn trailer_requests(message: &str) -> Vec<CarriedRequest> {
    let mut carried: Vec<CarriedRequest> = Vec::new();
    for (key, value) in message.lines().filter_map(trailer) {
        match (key, carried.last_mut()) {
            (REQUEST_TRAILER, _) => carried.push(CarriedRequest {
                id: value.to_owned(),
                tenant: None,
                action: None,
                reverts: None,
            }),
            (TENANT_TRAILER, Some(last)) => last.tenant = Some(value.to_owned()),
            (ACTION_TRAILER, Some(last)) => last.action = Some(value.to_owned()),
            (REVERTS_TRAILER, Some(last)) => last.reverts = Some(value.to_owned()),
            _ => {}
        }
    }
    carried
}

/// Whether commit `message` carries request `request_id`'s trailer.
pub fn carries_request(message: &str, request_id: &str) -> bool {
    trailer_request_ids(message).any(|id| id == request_id)
}

/// The request ids of every `Berth-Request` trailer in commit `message`, in order: one for a
/// request's own commit, one per request for a group commit.
pub fn trailer_request_ids(message: &str) -> impl Iterator<Item = &str> {
    message
        .lines()
        .filter_map(trailer)
        .filter_map(|(key, value)| (key == REQUEST_TRAILER).then_some(value))
}

/// A message line read as a trailer: `Key: value`, the value trimmed and not empty.
fn trailer(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.trim().split_once(':')?;
    let value = value.trim();
    (!value.is_empty()).then_some((key, value))
}

/// One request, always about one tenant. `id` is the request's ULID; it ends up in the
/// commit's `Berth-Request` trailer and, for a new tenant, in `created_by`. Serializable so a
/// request waiting for a group commit can be stored and planned by whoever commits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: String,
    pub tenant: TenantName,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Action {
    CreateTenant(NewTenant),
    UpdateTenant(TenantPatch),
    DeleteTenant,
    EnableModule(ModuleChange),
    DisableModule {
        env: EnvName,
        module: ModuleName,
    },
    /// Restores the files an earlier request changed to what they were before it.
    Revert(Restore),
    /// Copies module versions and value overrides from one environment onto another.
    Promote(Promotion),
    /// Phase 1 of a move: runs the env on its cluster and on another.
    MoveEnv(Move),
    /// Phase 3 of a move: runs the env on the cluster it moved to alone.
    FinishMove {
        env: EnvName,
        to: ClusterName,
    },
    /// Drops the cluster a move was going to, before the move ends.
    AbortMove {
        env: EnvName,
    },
}

/// A move of one tenant-env to another cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Move {
    pub env: EnvName,
    pub to: ClusterName,
    /// The caller confirmed that the data of stateful modules is not moved.
    #[serde(default)]
    pub confirmed: bool,
}

/// What a revert restores, gathered from Git when the revert is asked for: the request is then
/// planned, like any other, against the files at the tip (and again after a lost race).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restore {
    /// The request being reverted.
    pub reverts: String,
    /// The commit it landed in.
    pub commit: String,
    /// That commit's headline, for the revert's own.
    pub title: String,
    /// Each path the reverted request touched, with its content before it (`None`: the file did
    /// not exist, so restoring deletes it).
    pub before: BTreeMap<String, Option<String>>,
    /// Each of those paths as the reverted request left it. A path whose content at the tip
    /// differs was changed since: a conflict, unless `force`.
    pub left: BTreeMap<String, Option<String>>,
    /// For a changed path, the later change that last touched it, as a person would name it
    /// (`request 01J…`, `commit 1a2b3c4`), when the history walk found it.
    pub changed_by: BTreeMap<String, String>,
    /// Restore over later changes anyway; the commit message says which.
    pub force: bool,
}

/// A promotion of a tenant's modules from `from` onto `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    pub from: EnvName,
    pub to: EnvName,
    /// The modules to copy; empty means every module enabled in `from`.
    pub modules: Vec<ModuleName>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTenant {
    pub tier: TierName,
    pub envs: Vec<EnvName>,
    /// Enabled in every listed environment.
    pub modules: Vec<ModuleName>,
    pub display_name: Option<String>,
    pub owner: Option<String>,
    /// The billing system's customer id, for tenants created by a subscription.
    pub customer_id: Option<String>,
    /// Labels a cluster must carry to take the tenant's envs (`region: eu`); kept in
    /// `tenant.yaml`.
    #[serde(default)]
    pub constraints: BTreeMap<String, String>,
    /// Clusters an admin chose, by env, over the placement policy.
    #[serde(default)]
    pub clusters: BTreeMap<EnvName, ClusterName>,
}

/// A partial update; at least one field is set (the body parser makes sure).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantPatch {
    pub tier: Option<TierName>,
    pub display_name: Option<String>,
    pub owner: Option<String>,
    pub suspended: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            Action::Revert(_) => "revert",
            Action::Promote(_) => "promote",
            Action::MoveEnv(_) => "move_env",
            Action::FinishMove { .. } => "finish_move",
            Action::AbortMove { .. } => "abort_move",
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

    #[test]
    fn a_group_commit_carries_every_request_of_its_batch() {
        let message = format!(
            "Berth: 2 changes\n\n- a\n- b\n\n{}\n{}\n",
            request_trailer("01A"),
            request_trailer("01B")
        );
        assert_eq!(
            trailer_request_ids(&message).collect::<Vec<_>>(),
            ["01A", "01B"]
        );
        assert!(carries_request(&message, "01B"));
    }

    #[test]
    fn each_request_of_a_commit_keeps_its_own_tenant_and_action() {
        let request = |id: &str, tenant: &str, action: Action| Request {
            id: id.into(),
            tenant: TenantName::parse("tenant", tenant).unwrap(),
            action,
        };
        let message = format!(
            "Berth: 2 changes\n\n- a\n- b\n\n{}\n{}\n{}\n",
            request_trailers(&request("01A", "acme", Action::DeleteTenant)),
            request_trailer("01OLD"),
            request_trailers(&request("01B", "beta", Action::DeleteTenant)),
        );
        let carried = trailer_requests(&message);
        let summary: Vec<_> = carried
            .iter()
            .map(|c| (c.id.as_str(), c.tenant.as_deref(), c.action.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("01A", Some("acme"), Some("delete_tenant")),
                ("01OLD", None, None),
                ("01B", Some("beta"), Some("delete_tenant")),
            ]
        );
        assert_eq!(trailer_request_ids(&message).count(), 3);
    }

    #[test]
    fn a_request_survives_being_stored_while_it_waits() {
        let request = Request {
            id: "01A".into(),
            tenant: TenantName::parse("name", "acme").unwrap(),
            action: Action::EnableModule(ModuleChange {
                env: EnvName::parse("env", "dev").unwrap(),
                module: ModuleName::parse("module", "postgres").unwrap(),
                version: Some("1.2.3".into()),
                values: serde_json::json!({"replicas": 2})
                    .as_object()
                    .unwrap()
                    .clone(),
                enable_dependencies: true,
            }),
        };
        let stored = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&stored).unwrap(), request);
    }
}
