//! Correlates what Git wants ([`DesiredState`]) with what one sweep read from the cluster
//! ([`ClusterObjects`]) into one status per tenant / env / module slot. Pure: no I/O.
//!
//! A slot's health is the worst of its Application's health and its workloads' readiness; a slot
//! Git wants with neither an Application nor a workload is `missing`; an Application or workload
//! carrying Berth's labels for a slot Git does not want is `orphaned`.

use std::collections::BTreeMap;

use berth_core::DesiredState;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::networking::v1::Ingress;
use kube::core::ObjectMeta;

use crate::application::Application;
pub use crate::labels::{CLUSTER_LABEL, ENV_LABEL, MODULE_LABEL, TENANT_LABEL};
use crate::readiness::{Health, Readiness, deployment_readiness, statefulset_readiness, worst};

/// A tenant-env's base Application (`module: None`) or one of its modules.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotKey {
    pub tenant: String,
    pub env: String,
    pub module: Option<String>,
}

/// What Argo CD says about the Application of a slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationState {
    /// `status.health.status`, as Argo CD spells it.
    pub health: Option<String>,
    /// `status.sync.status`: `Synced`, `OutOfSync`, `Unknown`.
    pub sync: Option<String>,
    /// `status.sync.revision`: the commit the Application was last compared with.
    pub revision: Option<String>,
    /// `status.operationState.phase` and `.message` of the last sync operation.
    pub operation_phase: Option<String>,
    pub operation_message: Option<String>,
    /// `status.operationState.syncResult.revision`: the commit that operation synced.
    pub operation_revision: Option<String>,
    /// The cluster it targets, by its `berth.dev/cluster` label; `None` for Applications of
    /// tenant-envs that are not placed.
    pub cluster: Option<String>,
}

impl ApplicationState {
    /// Takes the fields Berth needs from an Application; empty ones count as absent.
    pub fn from_application(app: Application) -> Self {
        let cluster = app
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(CLUSTER_LABEL))
            .filter(|c| !c.is_empty() && c.as_str() != "in-cluster")
            .cloned();
        let status = app.status.unwrap_or_default();
        let sync = status.sync.unwrap_or_default();
        let operation = status.operation_state.unwrap_or_default();
        let text = |v: Option<String>| v.filter(|s| !s.is_empty());
        Self {
            health: text(status.health.unwrap_or_default().status),
            sync: text(sync.status),
            revision: text(sync.revision),
            operation_phase: text(operation.phase),
            operation_message: text(operation.message),
            operation_revision: text(operation.sync_result.unwrap_or_default().revision),
            cluster,
        }
    }

    /// The last sync operation failed (Argo CD's `Failed` or `Error` phase).
    pub fn sync_failed(&self) -> bool {
        matches!(self.operation_phase.as_deref(), Some("Failed" | "Error"))
    }
}

/// One slot's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotStatus {
    pub key: SlotKey,
    pub health: Health,
    pub ready: i32,
    pub desired: i32,
    pub application: Option<ApplicationState>,
    /// `http(s)://<host>` of every Ingress of the slot, sorted.
    pub urls: Vec<String>,
    pub reason: String,
}

/// One object of a sweep, reduced to what the sweep needs and the slot its labels name.
#[derive(Debug, Clone, PartialEq)]
pub struct Part<T> {
    pub slot: SlotKey,
    /// `kind/name`, for reasons.
    pub name: String,
    pub value: T,
}

/// Everything one sweep read from the cluster, reduced page by page, and how many list calls
/// it took. Objects without Berth's tenant and env labels are not part of it.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    pub applications: Vec<Part<ApplicationState>>,
    pub workloads: Vec<Part<Readiness>>,
    /// The `http(s)://host` of each Ingress.
    pub ingresses: Vec<Part<Vec<String>>>,
    pub calls: u32,
}

fn part<T>(meta: &ObjectMeta, kind: &str, value: T) -> Option<Part<T>> {
    Some(Part {
        slot: slot_of(meta)?,
        name: format!("{kind}/{}", meta.name.as_deref().unwrap_or_default()),
        value,
    })
}

impl ClusterObjects {
    pub fn deployment_part(d: &Deployment) -> Option<Part<Readiness>> {
        part(&d.metadata, "deployment", deployment_readiness(d))
    }

    pub fn statefulset_part(s: &StatefulSet) -> Option<Part<Readiness>> {
        part(&s.metadata, "statefulset", statefulset_readiness(s))
    }

    pub fn ingress_part(i: &Ingress) -> Option<Part<Vec<String>>> {
        part(&i.metadata, "ingress", ingress_urls(i))
    }

    pub fn application_part(a: Application) -> Option<Part<ApplicationState>> {
        let slot = slot_of(&a.metadata)?;
        let name = format!(
            "application/{}",
            a.metadata.name.as_deref().unwrap_or_default()
        );
        Some(Part {
            slot,
            name,
            value: ApplicationState::from_application(a),
        })
    }
}

/// Everything the cluster runs for one slot.
#[derive(Default)]
struct Found {
    application: Option<ApplicationState>,
    workloads: Vec<(String, Readiness)>,
    urls: Vec<String>,
}

fn slot_of(meta: &ObjectMeta) -> Option<SlotKey> {
    let labels = meta.labels.as_ref()?;
    Some(SlotKey {
        tenant: labels.get(TENANT_LABEL)?.clone(),
        env: labels.get(ENV_LABEL)?.clone(),
        module: labels.get(MODULE_LABEL).cloned(),
    })
}

fn ingress_urls(ingress: &Ingress) -> Vec<String> {
    let Some(spec) = &ingress.spec else {
        return Vec::new();
    };
    let tls_hosts: Vec<&String> = spec
        .tls
        .iter()
        .flatten()
        .flat_map(|t| t.hosts.iter().flatten())
        .collect();
    spec.rules
        .iter()
        .flatten()
        .filter_map(|rule| rule.host.as_ref())
        .map(|host| {
            let scheme = if tls_hosts.contains(&host) {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}")
        })
        .collect()
}

fn gather(objects: &ClusterObjects) -> BTreeMap<SlotKey, Found> {
    let mut found: BTreeMap<SlotKey, Found> = BTreeMap::new();
    for app in &objects.applications {
        let slot = found.entry(app.slot.clone()).or_default();
        // A tenant-env being moved has an Application on each cluster: the slot is as far along
        // as the one further behind.
        slot.application = Some(match slot.application.take() {
            Some(kept) => further_behind(kept, app.value.clone()),
            None => app.value.clone(),
        });
    }
    for w in &objects.workloads {
        let workload = (w.name.clone(), w.value.clone());
        found
            .entry(w.slot.clone())
            .or_default()
            .workloads
            .push(workload);
    }
    for i in &objects.ingresses {
        let urls = i.value.iter().cloned();
        found.entry(i.slot.clone()).or_default().urls.extend(urls);
    }
    found
}

/// Of two Applications of one slot, the one not synced, else the less healthy.
fn further_behind(a: ApplicationState, b: ApplicationState) -> ApplicationState {
    let synced = |x: &ApplicationState| x.sync.as_deref() == Some("Synced");
    let health = |x: &ApplicationState| Health::parse(x.health.as_deref().unwrap_or("unknown"));
    match (synced(&a), synced(&b)) {
        (false, true) => a,
        (true, false) => b,
        // Health orders from best to worst.
        _ if health(&b) > health(&a) => b,
        _ => a,
    }
}

/// Judges one slot from what was found for it.
fn judge(key: SlotKey, found: Found, wanted: bool) -> SlotStatus {
    let Found {
        application,
        workloads,
        mut urls,
    } = found;
    urls.sort();
    urls.dedup();
    let ready = workloads.iter().map(|(_, r)| r.ready).sum();
    let desired = workloads.iter().map(|(_, r)| r.desired).sum();
    let app_health = application
        .as_ref()
        .map(|a| Health::parse(a.health.as_deref().unwrap_or("unknown")));
    let (health, reason) = if !wanted {
        (
            Health::Orphaned,
            "in the cluster but no longer in Git".into(),
        )
    } else if application.is_none() && workloads.is_empty() {
        (
            Health::Missing,
            "enabled in Git, but no Application or workload is in the cluster".into(),
        )
    } else {
        let health = worst(
            app_health
                .into_iter()
                .chain(workloads.iter().map(|(_, r)| r.health)),
        );
        (health, explain(health, app_health, &workloads))
    };
    SlotStatus {
        key,
        health,
        ready,
        desired,
        application,
        urls,
        reason,
    }
}

/// Names the part that made the slot as bad as it is.
fn explain(health: Health, app: Option<Health>, workloads: &[(String, Readiness)]) -> String {
    if let Some((name, r)) = workloads.iter().find(|(_, r)| r.health == health) {
        return format!("{name}: {}", r.reason);
    }
    match app {
        Some(h) if h == health => format!("the Argo CD Application reports {}", h.as_str()),
        _ => health.as_str().to_owned(),
    }
}

/// One status per slot Git wants, and one per orphaned slot the cluster still runs, ordered by
/// tenant, env and module.
pub fn observe(desired: &DesiredState, objects: &ClusterObjects) -> Vec<SlotStatus> {
    let mut found = gather(objects);
    let mut statuses = Vec::new();
    for key in wanted_slots(desired) {
        let slot = found.remove(&key).unwrap_or_default();
        statuses.push(judge(key, slot, true));
    }
    for (key, slot) in found {
        let wanted = desired.wants(&key.tenant, &key.env, key.module.as_deref());
        statuses.push(judge(key, slot, wanted));
    }
    statuses.sort_by(|a, b| a.key.cmp(&b.key));
    statuses
}

/// Every slot Git wants, reported `unknown` with `reason`: what a sweep records when it
/// cannot read the cluster.
pub fn unknown_everywhere(desired: &DesiredState, reason: &str) -> Vec<SlotStatus> {
    wanted_slots(desired)
        .into_iter()
        .map(|key| SlotStatus::unobserved(key, Health::Unknown, reason))
        .collect()
}

impl SlotStatus {
    /// A slot about which nothing is known but `health` and why: no Application, no workload.
    pub fn unobserved(key: SlotKey, health: Health, reason: &str) -> Self {
        Self {
            key,
            health,
            ready: 0,
            desired: 0,
            application: None,
            urls: Vec::new(),
            reason: reason.to_owned(),
        }
    }
}

/// The base slot of every tenant-env, and every enabled module.
pub fn wanted_slots(desired: &DesiredState) -> Vec<SlotKey> {
    let mut keys = Vec::new();
    for (tenant, t) in &desired.tenants {
        for (env, modules) in &t.envs {
            let key = |module: Option<String>| SlotKey {
                tenant: tenant.to_string(),
                env: env.to_string(),
                module,
            };
            keys.push(key(None));
            keys.extend(modules.iter().map(|m| key(Some(m.to_string()))));
        }
    }
    keys
}
