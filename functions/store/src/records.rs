//! The records of the store (the README's "What the store holds"), as both backends keep them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use berth_core::request_state::RequestState;

/// The error of a request, in the API's error shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `REQUEST#<id> / META`. Serialized as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: String,
    pub action: String,
    /// Who asked: `api`, or `webhook:<sender>`.
    pub source: String,
    /// For the API, which caller: `token:<name>` or `jwt:<sub>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    pub tenant: String,
    pub state: RequestState,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub pr_url: Option<String>,
    /// The pull request's number, once one is open for the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<u64>,
    pub error: Option<ErrorBody>,
    pub created_at: String,
    pub updated_at: String,
    /// How many requests landed in the same commit (1 for a commit of its own): a group
    /// commit carries a burst of requests at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// The request itself (as JSON) while it waits for a group commit: whoever holds the
    /// commit lease plans it from here. Cleared once the request has an outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// For a revert, the request it undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverts: Option<String>,
    /// The revert that undid this request, once one landed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
}

impl RequestRecord {
    /// Whether the request waits for a group commit: accepted, with its payload stored.
    pub fn is_pending(&self) -> bool {
        self.state == RequestState::Accepted && self.payload.is_some()
    }

    /// A record created at `now`: nothing committed, no error yet.
    pub fn new(
        id: &str,
        action: &str,
        source: &str,
        tenant: &str,
        state: RequestState,
        now: String,
    ) -> Self {
        Self {
            id: id.to_owned(),
            action: action.to_owned(),
            source: source.to_owned(),
            requested_by: None,
            tenant: tenant.to_owned(),
            state,
            commit: None,
            branch: None,
            pr_url: None,
            pr_number: None,
            error: None,
            created_at: now.clone(),
            updated_at: now,
            batch_size: None,
            payload: None,
            reverts: None,
            reverted_by: None,
        }
    }
}

/// `LEASE#COMMIT / META`: who may commit pending requests to the branch, until when. One
/// holder at a time; one that died is taken over once its lease has run out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitLease {
    /// The leadership's own id (a ULID), unique to one holder.
    pub owner: String,
    /// Epoch seconds. Not named `expires_at`, which the table's TTL would delete, losing
    /// whether the holder released it.
    pub lease_until: i64,
    /// The holder recorded every outcome and let go. Unreleased, the next holder first looks
    /// on the branch for requests the last one committed but did not record.
    pub released: bool,
}

/// The commit lease, just taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTaken {
    /// The last holder neither released it nor recorded all it did (it died, or the store
    /// failed it): its last batch may be on the branch without its outcomes.
    pub after_unreleased: bool,
}

/// `TENANT#<t> / META`: the index for fast listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantEntry {
    pub name: String,
    pub tier: String,
    /// `active` or `suspended`.
    pub state: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// The billing system's customer id, for tenants a subscription created.
    #[serde(default)]
    pub customer_id: Option<String>,
    pub last_request: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The digest of the tenant's folder in Git as this entry was read from it
    /// (`berth_core::tenant_index::folder_digests`); `None` when Berth's own request wrote the
    /// entry, which the next reconciliation with Git then reads again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_digest: Option<String>,
    /// The commit that last changed the tenant's folder, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change: Option<LastChange>,
    /// Why the tenant is `invalid` in Git; empty for a valid tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<IndexProblem>,
}

/// The commit that last changed a tenant's folder, and who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastChange {
    pub commit: String,
    /// `Name <email>` of the commit's author; for Berth's own requests, who asked.
    pub author: String,
    /// RFC 3339.
    pub at: String,
    /// `git` for a commit made outside Berth (by hand, by a person's pull request), `berth`
    /// for one of Berth's requests.
    pub source: String,
    /// Berth's request, when `source` is `berth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// One thing wrong with a tenant's files in Git, named by file and field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexProblem {
    pub file: String,
    /// Dotted; empty for the file as a whole.
    #[serde(default)]
    pub field: String,
    pub reason: String,
}

/// `TENANT#<t> / STATUS#<env>#<module|_>`: what the cluster runs, as the status function saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    pub tenant: String,
    pub env: String,
    /// `None` for the tenant-env's base Application.
    #[serde(default)]
    pub module: Option<String>,
    pub health: String,
    #[serde(default)]
    pub sync: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    pub ready: u32,
    pub desired: u32,
    /// Where the slot is reachable: `http(s)://<host>` of its Ingresses in the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Why the health is what it is, naming the workload or Application that decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the status function saw this status first (it rewrites an item only on change).
    pub observed_at: String,
    /// A digest of everything above but `observed_at`: the sweep writes only when it changes.
    pub digest: String,
}

impl StatusRecord {
    /// The sort key's tail: `<env>#<module|_>`.
    pub fn slot(&self) -> String {
        format!("{}#{}", self.env, self.module.as_deref().unwrap_or("_"))
    }
}

/// `TENANT#<t> / HEALTH`: a tenant's overall health, for listing tenants without their statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantHealth {
    pub tenant: String,
    pub health: String,
    pub observed_at: String,
    pub digest: String,
}

/// What one sweep writes: a slot's status or a tenant's overall health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    Status(StatusRecord),
    Health(TenantHealth),
}

/// The key of an [`Observation`]: the tenant and the item's sort key (`STATUS#<env>#<module|_>`
/// or `HEALTH`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObservationKey {
    pub tenant: String,
    pub item: String,
}

pub const HEALTH_ITEM: &str = "HEALTH";

impl Observation {
    pub fn key(&self) -> ObservationKey {
        match self {
            Observation::Status(s) => ObservationKey {
                tenant: s.tenant.clone(),
                item: format!("STATUS#{}", s.slot()),
            },
            Observation::Health(h) => ObservationKey {
                tenant: h.tenant.clone(),
                item: HEALTH_ITEM.to_owned(),
            },
        }
    }

    pub fn digest(&self) -> &str {
        match self {
            Observation::Status(s) => &s.digest,
            Observation::Health(h) => &h.digest,
        }
    }
}

/// What a write of observations left behind: the generation it stored, and whether it was the
/// only writer since the generation its caller had read (`seen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservationsWritten {
    /// Identifies the stored observations as this write left them.
    pub generation: String,
    /// No other writer stored observations between the caller's read of `seen` and the end of
    /// this write: the caller's digests plus its own changes are exactly what is stored.
    pub sole_writer: bool,
}

/// `CLUSTER / HEALTH`: whether the last sweep could read the cluster, and its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterHealth {
    /// `ok`, `error`, or `not_configured` (the status function has no cluster to read).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub observed_at: String,
    /// Each cluster of the catalog, as the same sweep read it; empty without clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<MemberHealth>,
    /// The Argo CD objects of Berth's setup found on the hub, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoSetup>,
}

/// The ApplicationSets and AppProjects on the hub, by name, and when they were listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgoSetup {
    pub application_sets: Vec<String>,
    pub projects: Vec<String>,
    pub observed_at: String,
}

/// One cluster of the catalog as a sweep saw it, with what the catalog and Git say of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberHealth {
    pub name: String,
    /// `ok` or `error`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub environments: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub capacity: u32,
    /// Tenant-envs placed on it in Git, a move's counted on both clusters.
    pub placed: u32,
}

/// An answer given once and replayed for the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// `IDEMP#<source>#<key> / META`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub source: String,
    pub key: String,
    pub request_id: String,
    /// A digest of what was asked (method, path, body), so a key reused for another request
    /// is refused rather than answered with an unrelated response.
    pub fingerprint: String,
    #[serde(default)]
    pub response: Option<StoredResponse>,
    /// Epoch seconds until which the request holding the claim may still be running (the
    /// claim's lease). An unanswered claim past it belongs to a process that died or was timed
    /// out: a retry takes it over. 0 in claims written before leases existed.
    #[serde(default)]
    pub lease_expires_at: i64,
    /// Epoch seconds; DynamoDB's TTL removes the item after this.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Claimed,
    Existing(IdempotencyRecord),
}

/// A change billing asked for, due at a time (suspension after the grace period, deletion after
/// the retention period); carried out by the status sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledChange {
    /// `suspend` or `delete`.
    pub action: String,
    /// Epoch seconds.
    pub due_at: i64,
    /// The request that scheduled it.
    pub request: String,
}

/// A subscription that arrived before it could be provisioned (not active or paid yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub tier: String,
    pub envs: Vec<String>,
    pub modules: Vec<String>,
}

/// `CUSTOMER#<id> / META`: which tenant a billing customer is, and the newest billing event
/// applied to it, so an older event never overwrites a newer state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingLink {
    pub customer: String,
    pub tenant: String,
    /// The `created` time (epoch seconds) of the newest event applied.
    pub last_event_at: i64,
    #[serde(default)]
    pub registration: Option<Registration>,
    #[serde(default)]
    pub scheduled: Option<ScheduledChange>,
}

/// `INDEX / GIT`: the branch tip the tenant index was last brought fully in line with, so a
/// process that starts cold knows, from one read, that an unmoved tip needs no reconciling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexTip {
    pub tip: String,
}

/// What a group commit (or the tenant index's reconciliation with Git) writes at once: request
/// records, the tenant index entries written, and the tenants removed from it.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchRecords<'a> {
    pub requests: &'a [RequestRecord],
    pub tenants: &'a [TenantEntry],
    pub removed_tenants: &'a [String],
}

/// One write of what a sweep observed: the items to put and to remove, and the generation the
/// writer read its digests at (`None` when it read none).
#[derive(Debug, Clone, Copy, Default)]
pub struct ObservationWrite<'a> {
    pub puts: &'a [Observation],
    pub removes: &'a [ObservationKey],
    pub seen: Option<&'a str>,
}
