//! Readiness exactly as `kubectl rollout status` judges it (kubectl's
//! `DeploymentStatusViewer` and `StatefulSetStatusViewer`), then mapped onto Berth's health:
//! a rollout under way is `progressing`; a finished one is `healthy` when every desired replica
//! is ready, `degraded` when some are, `unhealthy` when none are; a deadline exceeded is
//! `degraded`; a workload scaled to zero or paused is `suspended`.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use serde::Serialize;

pub use berth_core::health::{Health, overall, worst};

/// A workload's health with its replica counts and the reason, in kubectl's words where
/// kubectl has words for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub health: Health,
    pub ready: i32,
    pub desired: i32,
    pub reason: String,
}

fn readiness(health: Health, ready: i32, desired: i32, reason: impl Into<String>) -> Readiness {
    Readiness {
        health,
        ready,
        desired,
        reason: reason.into(),
    }
}

/// A finished rollout: judged by how many desired replicas are ready.
fn by_ready(ready: i32, desired: i32) -> Readiness {
    match ready {
        r if r >= desired => readiness(Health::Healthy, ready, desired, "rollout complete"),
        0 => readiness(
            Health::Unhealthy,
            ready,
            desired,
            format!("0 of {desired} replicas ready"),
        ),
        r => readiness(
            Health::Degraded,
            ready,
            desired,
            format!("{r} of {desired} replicas ready"),
        ),
    }
}

/// A Deployment: generation vs observedGeneration, ProgressDeadlineExceeded, updatedReplicas,
/// old replicas still terminating, availableReplicas; paused or scaled to zero is suspended.
pub fn deployment_readiness(deployment: &Deployment) -> Readiness {
    let spec = deployment.spec.clone().unwrap_or_default();
    let status = deployment.status.clone().unwrap_or_default();
    let desired = spec.replicas.unwrap_or(1);
    let available = status.available_replicas.unwrap_or(0);
    if spec.paused == Some(true) {
        return readiness(Health::Suspended, available, desired, "rollout paused");
    }
    if desired == 0 {
        return readiness(Health::Suspended, available, desired, "scaled to zero");
    }
    let generation = deployment.metadata.generation.unwrap_or(0);
    if generation > status.observed_generation.unwrap_or(0) {
        return readiness(
            Health::Progressing,
            available,
            desired,
            "waiting for the deployment spec update to be observed",
        );
    }
    let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if deadline_exceeded {
        return readiness(
            Health::Degraded,
            available,
            desired,
            "progress deadline exceeded",
        );
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    if updated < desired {
        return readiness(
            Health::Progressing,
            available,
            desired,
            format!("{updated} of {desired} new replicas updated"),
        );
    }
    if replicas > updated {
        return readiness(
            Health::Progressing,
            available,
            desired,
            format!("{} old replicas pending termination", replicas - updated),
        );
    }
    if available < updated {
        // kubectl keeps waiting here; with none available at all, Berth calls it unhealthy.
        let health = if available == 0 {
            Health::Unhealthy
        } else {
            Health::Progressing
        };
        return readiness(
            health,
            available,
            desired,
            format!("{available} of {updated} updated replicas available"),
        );
    }
    by_ready(available, desired)
}

/// A StatefulSet: observedGeneration, readyReplicas, partitioned rolling updates,
/// currentRevision vs updateRevision; `OnDelete` (which kubectl cannot follow) is judged by
/// readiness alone.
pub fn statefulset_readiness(set: &StatefulSet) -> Readiness {
    let spec = set.spec.clone().unwrap_or_default();
    let status = set.status.clone().unwrap_or_default();
    let desired = spec.replicas.unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    if desired == 0 {
        return readiness(Health::Suspended, ready, desired, "scaled to zero");
    }
    let observed = status.observed_generation.unwrap_or(0);
    if observed == 0 || set.metadata.generation.unwrap_or(0) > observed {
        return readiness(
            Health::Progressing,
            ready,
            desired,
            "waiting for the statefulset spec update to be observed",
        );
    }
    let strategy = spec.update_strategy.unwrap_or_default();
    if strategy.type_.as_deref() == Some("OnDelete") {
        return by_ready(ready, desired);
    }
    if ready < desired {
        let rolling =
            status.update_revision.is_some() && status.update_revision != status.current_revision;
        if rolling {
            return readiness(
                Health::Progressing,
                ready,
                desired,
                format!("{ready} of {desired} pods ready during a rolling update"),
            );
        }
        return by_ready(ready, desired);
    }
    let partition = strategy
        .rolling_update
        .and_then(|r| r.partition)
        .unwrap_or(0);
    if partition > 0 {
        let updated = status.updated_replicas.unwrap_or(0);
        let expected = desired - partition;
        if updated < expected {
            return readiness(
                Health::Progressing,
                ready,
                desired,
                format!("partitioned rollout: {updated} of {expected} new pods updated"),
            );
        }
        return readiness(
            Health::Healthy,
            ready,
            desired,
            format!("partitioned rollout complete: {updated} new pods updated"),
        );
    }
    if status.update_revision != status.current_revision {
        return readiness(
            Health::Progressing,
            ready,
            desired,
            "waiting for the rolling update to finish",
        );
    }
    by_ready(ready, desired)
}
