//! From slot statuses to the store's records: one status item per slot and one overall health
//! per tenant, each with a digest of its content, so an unchanged cluster writes nothing.

use std::collections::BTreeMap;

use berth_cluster::{Health, SlotStatus, overall};
use berth_store::{Observation, StatusRecord, TenantHealth};
use sha2::{Digest, Sha256};

/// A digest of the observable content (everything but the time it was observed): of its JSON
/// as an array, serialized straight from `parts` (a tuple), without building a JSON value.
fn digest(parts: &impl serde::Serialize) -> String {
    let json = serde_json::to_vec(parts).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..16])
}

/// The status record of one slot, observed at `now`.
pub fn status_record(slot: &SlotStatus, now: &str) -> StatusRecord {
    let app = slot.application.as_ref();
    let sync = app.and_then(|a| a.sync.clone());
    let revision = app.and_then(|a| a.revision.clone());
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    let digest = digest(&(
        slot.health.as_str(),
        slot.ready,
        slot.desired,
        &sync,
        &revision,
        &slot.urls,
        &slot.reason,
    ));
    StatusRecord {
        tenant: slot.key.tenant.clone(),
        env: slot.key.env.clone(),
        module: slot.key.module.clone(),
        health: slot.health.as_str().to_owned(),
        sync,
        revision,
        ready: count(slot.ready),
        desired: count(slot.desired),
        urls: slot.urls.clone(),
        reason: Some(slot.reason.clone()).filter(|r| !r.is_empty()),
        observed_at: now.to_owned(),
        digest,
    }
}

/// Every slot's record and every tenant's overall health.
pub fn observations(slots: &[SlotStatus], now: &str) -> Vec<Observation> {
    let mut by_tenant: BTreeMap<&str, Vec<Health>> = BTreeMap::new();
    let mut out: Vec<Observation> = Vec::with_capacity(slots.len() + slots.len() / 4);
    for slot in slots {
        by_tenant
            .entry(slot.key.tenant.as_str())
            .or_default()
            .push(slot.health);
        out.push(Observation::Status(status_record(slot, now)));
    }
    for (tenant, healths) in by_tenant {
        let health = overall(healths).as_str();
        out.push(Observation::Health(TenantHealth {
            tenant: tenant.to_owned(),
            health: health.to_owned(),
            observed_at: now.to_owned(),
            digest: digest(&(health,)),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_cluster::{ApplicationState, SlotKey};

    fn slot(tenant: &str, module: Option<&str>, health: Health, ready: i32) -> SlotStatus {
        SlotStatus {
            key: SlotKey {
                tenant: tenant.into(),
                env: "dev".into(),
                module: module.map(Into::into),
            },
            health,
            ready,
            desired: 2,
            application: Some(ApplicationState {
                health: Some("Healthy".into()),
                sync: Some("Synced".into()),
                revision: Some("abc".into()),
                ..Default::default()
            }),
            urls: vec!["https://acme.example".into()],
            reason: "rollout complete".into(),
        }
    }

    #[test]
    fn the_digest_ignores_the_time_and_follows_the_content() {
        let a = status_record(
            &slot("acme", None, Health::Healthy, 2),
            "2026-01-01T00:00:00Z",
        );
        let b = status_record(
            &slot("acme", None, Health::Healthy, 2),
            "2026-02-02T00:00:00Z",
        );
        let c = status_record(
            &slot("acme", None, Health::Degraded, 1),
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.digest, c.digest);
        assert_eq!((a.ready, a.desired), (2, 2));
        assert_eq!(a.revision.as_deref(), Some("abc"));
        assert_eq!(a.urls, ["https://acme.example"]);
    }

    /// Digests stored by earlier releases stay valid: the same bytes are hashed as when the
    /// content was built as a JSON array, so an upgrade rewrites nothing.
    #[test]
    fn the_digest_is_the_one_earlier_releases_stored() {
        let slot = slot("acme", Some("postgres"), Health::Healthy, 2);
        let record = status_record(&slot, "2026-01-01T00:00:00Z");
        let app = slot.application.as_ref().unwrap();
        let earlier = serde_json::json!([
            "healthy",
            2,
            2,
            app.sync,
            app.revision,
            slot.urls,
            slot.reason
        ]);
        assert_eq!(
            record.digest,
            hex::encode(&Sha256::digest(earlier.to_string().as_bytes())[..16])
        );
        let health = observations(&[slot], "now").pop().unwrap();
        assert_eq!(
            health.digest(),
            hex::encode(&Sha256::digest(b"[\"healthy\"]")[..16])
        );
    }

    #[test]
    fn each_tenant_gets_its_overall_health() {
        let slots = [
            slot("acme", None, Health::Healthy, 2),
            slot("acme", Some("postgres"), Health::Degraded, 1),
            slot("beta", None, Health::Healthy, 2),
            slot("beta", Some("old"), Health::Orphaned, 1),
        ];
        let healths: Vec<(String, String)> = observations(&slots, "now")
            .into_iter()
            .filter_map(|o| match o {
                Observation::Health(h) => Some((h.tenant, h.health)),
                Observation::Status(_) => None,
            })
            .collect();
        assert_eq!(
            healths,
            [
                ("acme".to_owned(), "degraded".to_owned()),
                ("beta".to_owned(), "healthy".to_owned())
            ]
        );
    }
}
