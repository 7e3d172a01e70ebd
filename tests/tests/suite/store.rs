//! One suite, run against both store backends: the local file and DynamoDB on moto's server.

use berth_store::prelude::*;
use berth_store::{
    BatchRecords, Claim, CommittedWave, ErrorBody, IdempotencyRecord, LocalStore, ObservationWrite,
    PlannedTenant, RequestRecord, RequestState, RolloutRecord, RolloutState, StatusRecord, Store,
    StoredResponse, TenantEntry, WAVE_PAGE, wave_pages,
};
use berth_tests::dynamo_store;

fn request(id: &str, state: RequestState) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        action: "create_tenant".into(),
        source: "api".into(),
        requested_by: Some("token:ci".into()),
        tenant: "acme".into(),
        state,
        commit: None,
        branch: None,
        pr_url: None,
        pr_number: None,
        error: None,
        created_at: "2026-11-22T01:00:00Z".into(),
        updated_at: "2026-11-22T01:00:00Z".into(),
        batch_size: None,
        payload: None,
        reverts: None,
        reverted_by: None,
    }
}

fn pending(id: &str) -> RequestRecord {
    RequestRecord {
        payload: Some(format!(r#"{{"id":"{id}"}}"#)),
        ..request(id, RequestState::Accepted)
    }
}

fn tenant(name: &str) -> TenantEntry {
    TenantEntry {
        name: name.into(),
        tier: "standard".into(),
        state: "active".into(),
        display_name: Some(format!("{name} Inc.")),
        customer_id: Some(format!("cus_{name}")),
        last_request: "01X".into(),
        updated_at: "2026-11-22T01:00:00Z".into(),
        owner: Some(format!("ops@{name}.test")),
        git_digest: Some(format!("digest-{name}")),
        // What the index reads from Git round-trips on both backends.
        last_change: Some(berth_store::LastChange {
            commit: "a".repeat(40),
            author: "Ada <ada@x.test>".into(),
            at: "2026-11-22T00:59:00Z".into(),
            source: "git".into(),
            request: None,
        }),
        problems: vec![berth_store::IndexProblem {
            file: format!("tenants/{name}/tenant.yaml"),
            field: "tier".into(),
            reason: "unknown tier gold".into(),
        }],
    }
}

fn claim(key: &str, request_id: &str, expires_at: i64) -> IdempotencyRecord {
    IdempotencyRecord {
        source: "api".into(),
        key: key.into(),
        request_id: request_id.into(),
        fingerprint: "f1".into(),
        response: None,
        lease_expires_at: expires_at,
        expires_at,
    }
}

fn status(tenant: &str, env: &str, module: Option<&str>, health: &str) -> StatusRecord {
    StatusRecord {
        tenant: tenant.into(),
        env: env.into(),
        module: module.map(Into::into),
        health: health.into(),
        sync: Some("Synced".into()),
        revision: Some("abc".into()),
        ready: 1,
        desired: 1,
        urls: Vec::new(),
        reason: None,
        observed_at: "2026-11-22T01:00:00Z".into(),
        digest: health.into(),
    }
}

fn later() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600
}

async fn requests_round_trip(store: &dyn Store) {
    assert_eq!(store.get_request("01NONE").await.unwrap(), None);
    let mut r = request("01REQ", RequestState::Accepted);
    store.put_request(&r).await.unwrap();
    assert_eq!(store.get_request("01REQ").await.unwrap(), Some(r.clone()));
    let open_ids = |open: Vec<berth_store::RequestRecord>| -> Vec<String> {
        open.into_iter().map(|r| r.id).collect()
    };
    assert_eq!(
        open_ids(store.list_open_requests().await.unwrap()),
        ["01REQ"],
        "an accepted request is open: the sweep settles it if its run was interrupted"
    );
    r.state = RequestState::Rejected;
    r.error = Some(ErrorBody {
        code: "invalid".into(),
        message: "tier: unknown".into(),
        field: Some("tier".into()),
    });
    r.commit = Some("0123abcd".into());
    store.put_request(&r).await.unwrap();
    assert_eq!(store.get_request("01REQ").await.unwrap(), Some(r));
    assert!(store.list_open_requests().await.unwrap().is_empty());
}

async fn tenant_index(store: &dyn Store) {
    for name in ["zeta", "acme", "mid"] {
        store.put_tenant(&tenant(name)).await.unwrap();
    }
    // A tenant's statuses live beside its index entry and must not show up as tenants.
    store
        .put_statuses(&[status("acme", "dev", None, "healthy")])
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["acme", "mid", "zeta"]);
    assert_eq!(store.get_tenant("mid").await.unwrap(), Some(tenant("mid")));
    store.delete_tenant("mid").await.unwrap();
    assert_eq!(store.get_tenant("mid").await.unwrap(), None);
    assert_eq!(store.list_tenants().await.unwrap().len(), 2);
}

async fn idempotency_claims(store: &dyn Store) {
    assert_eq!(
        store
            .claim_idempotency(&claim("k1", "01A", later()))
            .await
            .unwrap(),
        Claim::Claimed
    );
    match store
        .claim_idempotency(&claim("k1", "01B", later()))
        .await
        .unwrap()
    {
        Claim::Existing(existing) => {
            assert_eq!(existing.request_id, "01A");
            assert_eq!(existing.response, None);
        }
        Claim::Claimed => panic!("a key is claimed once"),
    }
    let response = StoredResponse {
        status: 202,
        body: "{\"id\":\"01A\"}".into(),
    };
    store
        .complete_idempotency(&claim("k1", "01A", later()), &response)
        .await
        .unwrap();
    match store
        .claim_idempotency(&claim("k1", "01C", later()))
        .await
        .unwrap()
    {
        Claim::Existing(existing) => assert_eq!(existing.response, Some(response)),
        Claim::Claimed => panic!("a completed key stays claimed"),
    }
    // Released claims and expired ones can be claimed again.
    assert_eq!(
        store
            .claim_idempotency(&claim("k2", "01D", later()))
            .await
            .unwrap(),
        Claim::Claimed
    );
    store.release_idempotency("api", "k2").await.unwrap();
    assert_eq!(
        store
            .claim_idempotency(&claim("k2", "01E", later()))
            .await
            .unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        store
            .claim_idempotency(&claim("k3", "01F", 1))
            .await
            .unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        store
            .claim_idempotency(&claim("k3", "01G", later()))
            .await
            .unwrap(),
        Claim::Claimed
    );
    // Keys are per source.
    let mut other = claim("k1", "01H", later());
    other.source = "webhook:billing".into();
    assert_eq!(
        store.claim_idempotency(&other).await.unwrap(),
        Claim::Claimed
    );
}

async fn concurrent_claims_have_one_winner(store: &dyn Store) {
    let records: Vec<IdempotencyRecord> = (0..10)
        .map(|i| claim("race", &format!("01R{i}"), later()))
        .collect();
    let claims = records.iter().map(|r| store.claim_idempotency(r));
    let results = futures::future::join_all(claims).await;
    let winners = results
        .iter()
        .filter(|r| matches!(r, Ok(Claim::Claimed)))
        .count();
    assert_eq!(winners, 1, "{results:?}");
}

/// 20 retries of one key whose lease ran out, at once: exactly one takes the claim over, and
/// the claim then carries its lease; an answered claim is never taken over.
async fn expired_leases_are_taken_over_by_one_retry(store: &dyn Store) {
    // One reading of the clock: the assertions compare leases granted from it.
    let lease = later();
    let mut stale = claim("lease", "01ORIGINAL", lease);
    stale.lease_expires_at = 1_000; // long past
    assert_eq!(
        store.claim_idempotency(&stale).await.unwrap(),
        Claim::Claimed
    );
    let Claim::Existing(seen) = store
        .claim_idempotency(&claim("lease", "01X", later()))
        .await
        .unwrap()
    else {
        panic!("the claim exists")
    };
    assert_eq!(seen.request_id, "01ORIGINAL");
    let takeovers = (0..20).map(|i| store.take_over_idempotency(&seen, lease + i));
    let results = futures::future::join_all(takeovers).await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Ok(true)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let Claim::Existing(now) = store
        .claim_idempotency(&claim("lease", "01Y", later()))
        .await
        .unwrap()
    else {
        panic!("the claim exists")
    };
    assert_eq!(
        now.request_id, "01ORIGINAL",
        "the original request keeps its id"
    );
    assert_eq!(now.lease_expires_at, lease + winners[0] as i64);
    // The lease the losers saw is gone: a late retry with it loses too.
    assert!(!store.take_over_idempotency(&seen, later()).await.unwrap());
    // An answered claim stays answered.
    let response = berth_store::StoredResponse {
        status: 202,
        body: "{}".into(),
    };
    store
        .complete_idempotency(&claim("lease", "01Y", later()), &response)
        .await
        .unwrap();
    assert!(!store.take_over_idempotency(&now, later()).await.unwrap());
}

async fn statuses_in_batches(store: &dyn Store) {
    // More than one DynamoDB batch of 25.
    let records: Vec<StatusRecord> = (0..60)
        .map(|i| {
            status(
                "big",
                &format!("env{:02}", i / 3),
                Some(["a", "b", "c"][i % 3]),
                "healthy",
            )
        })
        .collect();
    store.put_statuses(&records).await.unwrap();
    let mut read = store.list_statuses("big").await.unwrap();
    read.sort_by_key(|r| r.slot());
    assert_eq!(read, records);
    // Overwrite one; the others stay.
    store
        .put_statuses(&[status("big", "env00", Some("a"), "degraded")])
        .await
        .unwrap();
    let read = store.list_statuses("big").await.unwrap();
    assert_eq!(read.len(), 60);
    assert_eq!(read.iter().filter(|r| r.health == "degraded").count(), 1);
    assert!(
        store.list_statuses("bi").await.unwrap().is_empty(),
        "a tenant's prefix is not another tenant"
    );
}

async fn billing_links_never_go_back_in_time(store: &dyn Store) {
    assert_eq!(store.get_billing("cus_1").await.unwrap(), None);
    let link = |at: i64, tenant: &str| berth_store::BillingLink {
        customer: "cus_1".into(),
        tenant: tenant.into(),
        last_event_at: at,
        registration: None,
        scheduled: Some(berth_store::ScheduledChange {
            action: "delete".into(),
            due_at: at + 30,
            request: "01X".into(),
        }),
    };
    assert!(
        store
            .put_billing_unless_newer(&link(100, "acme"))
            .await
            .unwrap()
    );
    assert!(
        store
            .put_billing_unless_newer(&link(100, "acme"))
            .await
            .unwrap(),
        "the same time is not older"
    );
    assert!(
        store
            .put_billing_unless_newer(&link(200, "acme"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_billing_unless_newer(&link(150, "older"))
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_billing("cus_1").await.unwrap(),
        Some(link(200, "acme"))
    );
}

async fn sweep_records(store: &dyn Store) {
    use berth_store::{ClusterHealth, Observation, TenantHealth};
    let health = |tenant: &str, h: &str| TenantHealth {
        tenant: tenant.into(),
        health: h.into(),
        observed_at: "2026-11-22T01:00:00Z".into(),
        digest: format!("d-{h}"),
    };
    let mut puts: Vec<Observation> = (0..30)
        .map(|i| Observation::Status(status("sw", &format!("e{i:02}"), None, "healthy")))
        .collect();
    puts.push(Observation::Health(health("sw", "healthy")));
    puts.push(Observation::Health(health("sx", "degraded")));
    let write = ObservationWrite {
        puts: &puts,
        ..ObservationWrite::default()
    };
    store.write_observations(write).await.unwrap();
    let digests = store.observation_digests().await.unwrap();
    assert_eq!(digests.len(), 32, "{digests:?}");
    for put in &puts {
        assert_eq!(
            digests.get(&put.key()).map(String::as_str),
            Some(put.digest())
        );
    }
    let removes: Vec<_> = puts[..5]
        .iter()
        .chain(&puts[31..])
        .map(Observation::key)
        .collect();
    let write = ObservationWrite {
        removes: &removes,
        ..ObservationWrite::default()
    };
    store.write_observations(write).await.unwrap();
    assert_eq!(store.observation_digests().await.unwrap().len(), 26);
    assert_eq!(store.list_statuses("sw").await.unwrap().len(), 25);
    assert_eq!(
        store.list_tenant_health().await.unwrap(),
        [health("sw", "healthy")]
    );

    for (id, state) in [
        ("01O1", RequestState::Committed),
        ("01O2", RequestState::Ready),
        ("01O3", RequestState::BranchPushed),
    ] {
        store.put_request(&request(id, state)).await.unwrap();
    }
    let open = |mut v: Vec<RequestRecord>| {
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        open(store.list_open_requests().await.unwrap()),
        ["01O1", "01O3"]
    );
    store
        .put_request(&request("01O1", RequestState::Ready))
        .await
        .unwrap();
    assert_eq!(open(store.list_open_requests().await.unwrap()), ["01O3"]);

    let mut link = berth_store::BillingLink {
        customer: "cus_s".into(),
        tenant: "sw".into(),
        last_event_at: 10,
        registration: None,
        scheduled: Some(berth_store::ScheduledChange {
            action: "suspend".into(),
            due_at: 20,
            request: "01S".into(),
        }),
    };
    assert!(store.put_billing_unless_newer(&link).await.unwrap());
    assert_eq!(
        store.list_scheduled_billing().await.unwrap(),
        [link.clone()]
    );
    link.scheduled = None;
    assert!(store.put_billing_unless_newer(&link).await.unwrap());
    assert!(store.list_scheduled_billing().await.unwrap().is_empty());

    assert_eq!(store.get_cluster_health().await.unwrap(), None);
    let cluster = ClusterHealth {
        status: "ok".into(),
        version: Some("v1.33.0".into()),
        message: None,
        observed_at: "2026-11-22T01:00:00Z".into(),
        clusters: vec![berth_store::MemberHealth {
            name: "prod-eu".into(),
            status: "error".into(),
            version: None,
            message: Some("connection refused".into()),
            environments: vec!["prod".into()],
            labels: [("region".to_owned(), "eu".to_owned())].into(),
            capacity: 200,
            placed: 3,
        }],
        argocd: Some(berth_store::ArgoSetup {
            application_sets: vec!["berth-modules".into()],
            projects: vec!["berth-tenants".into()],
            observed_at: "2026-11-22T01:00:00Z".into(),
        }),
    };
    store.put_cluster_health(&cluster).await.unwrap();
    assert_eq!(store.get_cluster_health().await.unwrap(), Some(cluster));
}

/// The generation is what lets a warm sweeper trust the digests it holds: every write changes
/// it, and a writer learns whether anyone wrote between its read and its write.
async fn each_write_of_observations_is_a_new_generation(store: &dyn Store) {
    assert_eq!(store.observation_generation().await.unwrap(), None);
    let first = vec![berth_store::Observation::Status(status(
        "gen", "dev", None, "healthy",
    ))];
    let write = |puts, seen| ObservationWrite {
        puts,
        seen,
        ..ObservationWrite::default()
    };
    let written = store.write_observations(write(&first, None)).await.unwrap();
    assert!(written.sole_writer, "nobody wrote before the first write");
    assert_eq!(
        store.observation_generation().await.unwrap().as_deref(),
        Some(written.generation.as_str())
    );
    // A writer that read the latest generation is the only writer since.
    let second = vec![berth_store::Observation::Status(status(
        "gen", "dev", None, "degraded",
    ))];
    let next = store
        .write_observations(write(&second, Some(&written.generation)))
        .await
        .unwrap();
    assert!(next.sole_writer);
    assert_ne!(next.generation, written.generation);
    // One that read an older generation learns someone else wrote in between.
    let late = store
        .write_observations(write(&first, Some(&written.generation)))
        .await
        .unwrap();
    assert!(!late.sole_writer, "a write it did not see came between");
    // Statuses recorded from elsewhere (an Argo CD notification) change it too.
    store
        .put_statuses(&[status("gen", "prod", None, "healthy")])
        .await
        .unwrap();
    assert_ne!(
        store.observation_generation().await.unwrap().as_deref(),
        Some(late.generation.as_str())
    );
}

async fn pending_requests_wait_in_order_until_they_have_an_outcome(store: &dyn Store) {
    for id in ["01P3", "01P1", "01P2"] {
        assert!(store.put_pending(&pending(id)).await.unwrap());
    }
    let ids = |records: Vec<RequestRecord>| records.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_pending(10).await.unwrap()),
        ["01P1", "01P2", "01P3"]
    );
    assert_eq!(ids(store.list_pending(2).await.unwrap()), ["01P1", "01P2"]);
    assert!(
        store.list_open_requests().await.unwrap().is_empty(),
        "a pending request is the group commit's, not the sweep's"
    );

    let mut committed = request("01P1", RequestState::Committed);
    committed.commit = Some("abc".into());
    committed.batch_size = Some(2);
    let mut rejected = request("01P2", RequestState::Rejected);
    rejected.error = Some(ErrorBody {
        code: "invalid".into(),
        message: "no".into(),
        field: Some("tier".into()),
    });
    store.put_tenant(&tenant("gone")).await.unwrap();
    store
        .record_batch(BatchRecords {
            requests: &[committed.clone(), rejected.clone()],
            tenants: &[tenant("acme")],
            removed_tenants: &["gone".to_owned()],
        })
        .await
        .unwrap();
    assert_eq!(
        store.get_tenant("acme").await.unwrap(),
        Some(tenant("acme"))
    );
    assert_eq!(store.get_tenant("gone").await.unwrap(), None);
    assert_eq!(ids(store.list_pending(10).await.unwrap()), ["01P3"]);
    assert_eq!(
        store.get_request("01P1").await.unwrap(),
        Some(committed.clone())
    );
    assert_eq!(ids(store.list_open_requests().await.unwrap()), ["01P1"]);

    // A retry racing the commit that settled its request must not make it pending again.
    assert!(!store.put_pending(&pending("01P1")).await.unwrap());
    assert!(!store.put_pending(&pending("01P2")).await.unwrap());
    assert_eq!(store.get_request("01P1").await.unwrap(), Some(committed));
    // A failed one may wait again: its retry runs it once more.
    store
        .put_request(&request("01P4", RequestState::Failed))
        .await
        .unwrap();
    assert!(store.put_pending(&pending("01P4")).await.unwrap());
    // So may a scheduled one, once it is due.
    store
        .put_request(&request("01P5", RequestState::Scheduled))
        .await
        .unwrap();
    assert!(store.put_pending(&pending("01P5")).await.unwrap());

    let many: Vec<RequestRecord> = (0..60)
        .map(|i| request(&format!("01M{i:03}"), RequestState::NoChange))
        .collect();
    let batch = BatchRecords {
        requests: &many,
        ..BatchRecords::default()
    };
    store.record_batch(batch).await.unwrap();
    assert_eq!(
        store.get_request("01M059").await.unwrap().map(|r| r.state),
        Some(RequestState::NoChange),
        "more than one batch of 25"
    );
}

async fn one_commit_lease_holder_at_a_time(store: &dyn Store) {
    assert_eq!(store.commit_lease().await.unwrap(), None);
    let taken = store.take_commit_lease("a", later()).await.unwrap();
    assert_eq!(taken.map(|t| t.after_unreleased), Some(false));
    assert_eq!(store.take_commit_lease("b", later()).await.unwrap(), None);
    // Releasing someone else's lease does nothing.
    store.release_commit_lease("b", true).await.unwrap();
    assert_eq!(store.take_commit_lease("b", later()).await.unwrap(), None);

    store.release_commit_lease("a", true).await.unwrap();
    let lease = store.commit_lease().await.unwrap().unwrap();
    assert!(lease.released);
    let taken = store.take_commit_lease("b", later()).await.unwrap();
    assert_eq!(taken.map(|t| t.after_unreleased), Some(false));

    // "b" lets go without recording everything: "c" hears of it.
    store.release_commit_lease("b", false).await.unwrap();
    let taken = store.take_commit_lease("c", later()).await.unwrap();
    assert_eq!(taken.map(|t| t.after_unreleased), Some(true));

    // "c" dies holding a lease that has run out: "d" takes it over and hears of it.
    let dead = store.take_commit_lease("d", later()).await.unwrap();
    assert_eq!(dead, None);
    store.release_commit_lease("c", false).await.unwrap();
    store
        .take_commit_lease("c2", later() - 7200)
        .await
        .unwrap()
        .unwrap();
    let taken = store.take_commit_lease("d", later()).await.unwrap();
    assert_eq!(taken.map(|t| t.after_unreleased), Some(true));
    assert_eq!(store.commit_lease().await.unwrap().unwrap().owner, "d");
}

async fn concurrent_lease_takers_have_one_winner(store: &dyn Store) {
    let store = std::sync::Arc::new(store);
    let takes = (0..16).map(|i| {
        let store = std::sync::Arc::clone(&store);
        async move {
            store
                .take_commit_lease(&format!("o{i}"), later())
                .await
                .unwrap()
        }
    });
    let won = futures::future::join_all(takes)
        .await
        .into_iter()
        .filter(Option::is_some)
        .count();
    assert_eq!(won, 1);
}

/// A rollout and its waves: created once, the waves read back in order across pages, the
/// state moved only by a writer that read the current version, open ones listed.
async fn rollouts_keep_their_waves_and_move_by_version(store: &dyn Store) {
    let planned = |n: usize| PlannedTenant {
        tenant: format!("t{n:05}"),
        envs: vec!["dev".into(), "prod".into()],
        digest: format!("sha256:{n:064x}"),
    };
    let waves = vec![
        vec![planned(0)],
        (1..=2_500).map(planned).collect::<Vec<_>>(),
    ];
    let pages = wave_pages("01ROLLOUT", &waves);
    assert_eq!(
        pages.len(),
        4,
        "one page, then 2,500 tenants in pages of {WAVE_PAGE}"
    );
    let rollout = RolloutRecord {
        id: "01ROLLOUT".into(),
        spec: r#"{"change": {"disable": {"module": "monitoring"}}}"#.into(),
        base: "0123abcd".into(),
        hash: "sha256:feed".into(),
        waves: 2,
        wave_sizes: vec![1, 2_500],
        state: RolloutState::Running,
        pause_reason: None,
        committed: vec![],
        version: 0,
        updated_at: "2026-12-04T12:00:00Z".into(),
        created_at: "2026-12-04T12:00:00Z".into(),
        requested_by: Some("token:ops".into()),
        left_out: vec![],
        claim: None,
        reverted: vec![],
        force_revert: false,
        default_commit: None,
        mode: "direct".into(),
    };
    assert!(store.create_rollout(&rollout, &pages).await.unwrap());
    assert!(
        !store.create_rollout(&rollout, &pages).await.unwrap(),
        "once"
    );
    let stored = store.get_rollout("01ROLLOUT").await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(store.get_wave("01ROLLOUT", 1).await.unwrap(), waves[0]);
    assert_eq!(
        store.get_wave("01ROLLOUT", 2).await.unwrap(),
        waves[1],
        "in order across pages"
    );
    assert!(store.get_wave("01ROLLOUT", 3).await.unwrap().is_empty());
    assert_eq!(store.list_open_rollouts().await.unwrap().len(), 1);

    let mut committed = stored.clone();
    committed.committed.push(CommittedWave {
        number: 1,
        commit: Some("beef".into()),
        committed_at: 100,
        tenants: 1,
        ..Default::default()
    });
    assert!(store.update_rollout(&committed, 1).await.unwrap());
    let mut stale = stored.clone();
    stale.state = RolloutState::Paused;
    assert!(
        !store.update_rollout(&stale, 1).await.unwrap(),
        "a writer that read version 1 is late"
    );
    let now = store.get_rollout("01ROLLOUT").await.unwrap().unwrap();
    assert_eq!(
        (now.version, now.committed.len(), now.state),
        (2, 1, RolloutState::Running)
    );
    let mut done = now.clone();
    done.state = RolloutState::Done;
    assert!(store.update_rollout(&done, 2).await.unwrap());
    assert!(
        store.list_open_rollouts().await.unwrap().is_empty(),
        "done is not open"
    );
    let listed = store.list_closed_rollouts(None, 10).await.unwrap();
    assert_eq!(
        listed
            .rollouts
            .iter()
            .map(|r| (r.id.as_str(), r.state))
            .collect::<Vec<_>>(),
        [("01ROLLOUT", RolloutState::Done)],
        "closed rollouts are still listed"
    );

    // Finished rollouts come in pages, newest id first; an open one is never among them.
    for (id, state) in [
        ("01ROLLOUA", RolloutState::Done),
        ("01ROLLOUZ", RolloutState::Running),
        ("01ROLLOUY", RolloutState::Aborted),
        ("01ROLLOUB", RolloutState::Reverted),
    ] {
        let other = RolloutRecord {
            id: id.into(),
            state,
            ..rollout.clone()
        };
        assert!(store.create_rollout(&other, &[]).await.unwrap());
    }
    let (mut seen, mut before) = (Vec::new(), None::<String>);
    for _ in 0..10 {
        let page = store
            .list_closed_rollouts(before.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.rollouts.len() <= 2);
        seen.extend(page.rollouts.iter().map(|r| r.id.clone()));
        if !page.more {
            break;
        }
        before = page.rollouts.last().map(|r| r.id.clone());
        assert!(before.is_some(), "more follows a page that has a last");
    }
    assert_eq!(seen, ["01ROLLOUY", "01ROLLOUT", "01ROLLOUB", "01ROLLOUA"]);
    let first = store.list_closed_rollouts(None, 2).await.unwrap();
    assert!(first.more, "a full page says more may follow");
}

macro_rules! suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn requests_round_trip() {
                super::requests_round_trip(&$make).await;
            }
            #[tokio::test]
            async fn tenant_index() {
                super::tenant_index(&$make).await;
            }
            #[tokio::test]
            async fn idempotency_claims() {
                super::idempotency_claims(&$make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_claims_have_one_winner() {
                super::concurrent_claims_have_one_winner(&$make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn expired_leases_are_taken_over_by_one_retry() {
                super::expired_leases_are_taken_over_by_one_retry(&$make).await;
            }
            #[tokio::test]
            async fn billing_links_never_go_back_in_time() {
                super::billing_links_never_go_back_in_time(&$make).await;
            }
            #[tokio::test]
            async fn sweep_records() {
                super::sweep_records(&$make).await;
            }
            #[tokio::test]
            async fn pending_requests_wait_in_order_until_they_have_an_outcome() {
                super::pending_requests_wait_in_order_until_they_have_an_outcome(&$make).await;
            }
            #[tokio::test]
            async fn one_commit_lease_holder_at_a_time() {
                super::one_commit_lease_holder_at_a_time(&$make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_lease_takers_have_one_winner() {
                super::concurrent_lease_takers_have_one_winner(&$make).await;
            }
            #[tokio::test]
            async fn each_write_of_observations_is_a_new_generation() {
                super::each_write_of_observations_is_a_new_generation(&$make).await;
            }
            #[tokio::test]
            async fn settled_requests_expire_and_open_ones_stay() {
                let store = $make;
                super::settled_requests_expire_and_open_ones_stay(
                    &store
                        .clone()
                        .with_request_retention(std::time::Duration::ZERO),
                    &store,
                )
                .await;
            }
            #[tokio::test]
            async fn statuses_in_batches() {
                super::statuses_in_batches(&$make).await;
            }
            #[tokio::test]
            async fn rollouts_keep_their_waves_and_move_by_version() {
                super::rollouts_keep_their_waves_and_move_by_version(&$make).await;
            }
        }
    };
}

/// `expiring` keeps settled records for no time at all, `keeping` for the default 30 days:
/// both on the same data.
async fn settled_requests_expire_and_open_ones_stay(expiring: &dyn Store, keeping: &dyn Store) {
    for state in [
        RequestState::Ready,
        RequestState::Failed,
        RequestState::Rejected,
        RequestState::NoChange,
    ] {
        let id = format!("01GONE{}", state_name(state));
        expiring.put_request(&request(&id, state)).await.unwrap();
        assert_eq!(
            expiring.get_request(&id).await.unwrap(),
            None,
            "{state:?} is settled: past its retention it reads as gone"
        );
        keeping.put_request(&request(&id, state)).await.unwrap();
        assert!(keeping.get_request(&id).await.unwrap().is_some());
    }
    for state in [
        RequestState::Accepted,
        RequestState::Committed,
        RequestState::PrOpened,
        RequestState::Degraded,
        RequestState::Scheduled,
    ] {
        let id = format!("01OPEN{}", state_name(state));
        expiring.put_request(&request(&id, state)).await.unwrap();
        assert!(
            expiring.get_request(&id).await.unwrap().is_some(),
            "{state:?} still moves: it never expires"
        );
    }
}

fn state_name(state: RequestState) -> String {
    serde_json::to_value(state)
        .unwrap()
        .as_str()
        .unwrap()
        .to_uppercase()
}

/// DynamoDB's TTL deletes what carries `expires_at` in epoch seconds: a settled record carries
/// it, 30 days out by default; an open one does not.
#[tokio::test]
async fn a_settled_record_carries_the_ttl_attribute_dynamodb_deletes_by() {
    let store = dynamo_store().await;
    store
        .put_request(&request("01TTLSETTLED", RequestState::Ready))
        .await
        .unwrap();
    store
        .put_request(&request("01TTLOPEN", RequestState::Committed))
        .await
        .unwrap();
    let client = berth_store::dynamodb_client(Some(&berth_tests::dynamodb_endpoint()));
    let expires_at = |id: &str| {
        let (client, table) = (client.clone(), store.table().to_owned());
        let key = format!("REQUEST#{id}");
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(key))
                .key(
                    "SK",
                    aws_sdk_dynamodb::types::AttributeValue::S("META".into()),
                )
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            item.get("expires_at")
                .map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let thirty_days = 30 * 24 * 3600;
    let at = expires_at("01TTLSETTLED")
        .await
        .expect("a TTL on the settled record");
    assert!(
        (now + thirty_days - 60..=now + thirty_days + 60).contains(&at),
        "{at}"
    );
    assert_eq!(expires_at("01TTLOPEN").await, None);
}

fn local() -> LocalStore {
    let dir = tempfile::tempdir().unwrap().keep();
    LocalStore::open(dir.join("store.json")).unwrap()
}

suite!(local_file, local());
suite!(dynamodb, dynamo_store().await);

#[tokio::test]
async fn local_store_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/store.json");
    {
        let store = LocalStore::open(&path).unwrap();
        store
            .put_request(&request("01KEEP", RequestState::Committed))
            .await
            .unwrap();
        store.put_tenant(&tenant("acme")).await.unwrap();
    }
    // Reading the file as a new process would: bypass the in-process sharing.
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("01KEEP") && text.contains("acme"));
    let reopened = LocalStore::open(&path).unwrap();
    assert_eq!(
        reopened.get_request("01KEEP").await.unwrap().unwrap().state,
        RequestState::Committed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_local_stores_on_one_file_lose_no_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.json");
    let (a, b) = (
        LocalStore::open(&path).unwrap(),
        LocalStore::open(&path).unwrap(),
    );
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .put_request(&request(&format!("01W{i:02}"), RequestState::Accepted))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(requests_on_disk(&path).len(), 40);
}

/// The file as a new process would read it, bypassing the in-process sharing.
fn requests_on_disk(path: &std::path::Path) -> Vec<String> {
    let on_disk: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    on_disk["requests"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_local_write_that_cannot_reach_the_disk_is_refused_and_not_seen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.json");
    let store = LocalStore::open(&path).unwrap();
    store
        .put_request(&request("01BEFORE", RequestState::Committed))
        .await
        .unwrap();
    // The temporary file every write goes through cannot be created while a folder holds its
    // name.
    let blocker = dir.path().join("store.json.tmp");
    std::fs::create_dir(&blocker).unwrap();
    let refused = store
        .put_request(&request("01LOST", RequestState::Accepted))
        .await;
    assert!(
        matches!(refused, Err(berth_store::StoreError::Unavailable(ref m)) if m.starts_with("write ") && m.contains("store.json")),
        "{refused:?}"
    );
    // Nobody is answered from a change that is not on disk: not this store, not another one
    // on the same file, not a pending-request listing.
    assert_eq!(store.get_request("01LOST").await.unwrap(), None);
    let other = LocalStore::open(&path).unwrap();
    assert_eq!(other.get_request("01LOST").await.unwrap(), None);
    assert!(store.get_request("01BEFORE").await.unwrap().is_some());

    std::fs::remove_dir(&blocker).unwrap();
    store.put_tenant(&tenant("acme")).await.unwrap();
    assert_eq!(requests_on_disk(&path), ["01BEFORE"]);
    assert_eq!(store.get_request("01LOST").await.unwrap(), None);
}

#[tokio::test]
async fn a_local_write_whose_caller_is_cut_off_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.json");
    let store = LocalStore::open(&path).unwrap();
    // The caller stops waiting as soon as its write has started, as at a request's deadline.
    let cut_off = tokio::time::timeout(
        std::time::Duration::ZERO,
        store.record_batch(BatchRecords {
            requests: &[
                request("01CUT1", RequestState::Committed),
                request("01CUT2", RequestState::Committed),
            ],
            tenants: &[tenant("acme")],
            removed_tenants: &[],
        }),
    )
    .await;
    assert!(cut_off.is_err(), "the write finished before its deadline");
    // The next write is answered only once the group holding it, or a later one, is on disk.
    store
        .put_request(&request("01NEXT", RequestState::Accepted))
        .await
        .unwrap();
    assert_eq!(requests_on_disk(&path), ["01CUT1", "01CUT2", "01NEXT"]);
    assert!(store.get_tenant("acme").await.unwrap().is_some());
}
