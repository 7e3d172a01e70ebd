//! What a sweep records of the clusters: one health record for the fleet (the hub's state,
//! and each catalog cluster's beside it), and the statuses of tenant-envs placed on a cluster
//! that did not answer, which read `unknown` with the reason while the others are judged.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_cluster::{Health, SlotStatus};
use berth_core::DesiredState;
use berth_core::catalog::Cluster;
use berth_store::{ClusterHealth, MemberHealth};

use crate::fleet::FleetRead;

/// How stale the stored health may grow before an unchanged sweep writes it again.
pub const HEALTH_REFRESH: Duration = Duration::from_secs(5 * 60);

/// The health of the hub and of every cluster of `clusters`, as `read` found them.
pub fn fleet_health(
    read: &FleetRead,
    hub_configured: bool,
    clusters: &[Cluster],
    desired: &DesiredState,
    now: &str,
) -> ClusterHealth {
    let status = match (&read.hub.objects, hub_configured) {
        (Ok(_), _) => "ok",
        // A fact about the deployment, not an outage: the API answers it with 200.
        (Err(_), false) => "not_configured",
        (Err(_), true) => "error",
    };
    let placed = desired.cluster_load();
    let members = clusters
        .iter()
        .map(|cluster| {
            let name = cluster.name.to_string();
            let member = read.members.get(&name);
            let error = member.and_then(|m| m.objects.as_ref().err());
            MemberHealth {
                status: if member.is_some() && error.is_none() {
                    "ok"
                } else {
                    "error"
                }
                .into(),
                version: member.and_then(|m| m.version.clone()),
                message: error.cloned(),
                environments: cluster.environments.iter().map(|e| e.to_string()).collect(),
                labels: cluster.labels.clone(),
                capacity: cluster.capacity,
                placed: placed.of(&cluster.name),
                name,
            }
        })
        .collect();
    ClusterHealth {
        status: status.into(),
        version: read.hub.version.clone(),
        message: read.hub.objects.as_ref().err().cloned(),
        observed_at: now.to_owned(),
        clusters: members,
        argocd: None,
    }
}

/// Whether `new` says what `old` says, and `old` is recent enough to stand for this sweep.
pub fn same_health(old: &ClusterHealth, new: &ClusterHealth) -> bool {
    let names = |h: &ClusterHealth| {
        h.argocd
            .as_ref()
            .map(|a| (a.application_sets.clone(), a.projects.clone()))
    };
    let unchanged = (&old.status, &old.version, &old.message, &old.clusters)
        == (&new.status, &new.version, &new.message, &new.clusters)
        && names(old) == names(new);
    unchanged && age(&old.observed_at, &new.observed_at).is_some_and(|a| a < HEALTH_REFRESH)
}

fn age(then: &str, now: &str) -> Option<Duration> {
    let then = humantime::parse_rfc3339_weak(then).ok()?;
    let now = humantime::parse_rfc3339_weak(now).ok()?;
    now.duration_since(then).ok()
}

/// Marks `unknown` every slot of a tenant-env placed on a cluster that did not answer: what
/// the hub says of its Application is not what runs there now.
pub fn mark_unreachable(
    slots: &mut [SlotStatus],
    desired: &DesiredState,
    unreachable: &BTreeMap<&str, &str>,
) {
    if unreachable.is_empty() {
        return;
    }
    for slot in slots {
        let clusters = desired.clusters_of(&slot.key.tenant, &slot.key.env);
        let Some((name, reason)) = clusters.iter().find_map(|c| unreachable.get_key_value(c))
        else {
            continue;
        };
        *slot = SlotStatus::unobserved(
            slot.key.clone(),
            Health::Unknown,
            &format!("cluster {name} could not be read: {reason}"),
        );
    }
}
