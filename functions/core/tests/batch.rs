//! Group commit planning: a batch lands exactly as its requests committed one after another
//! would, a refused request is left out with its field, and the commit names every request.

use berth_core::batch::{BatchLimits, BatchOutcome, plan_batch};
use berth_core::body::parse_module_change;
use berth_core::request::trailer_request_ids;
use berth_core::{Action, PlanError, RepoFiles, Request, TenantName, plan};
use serde_json::{Value, json};

mod common;

use common::repo;

use common::create;

fn enable(id: &str, tenant: &str, env: &str, module: &str, body: Value) -> Request {
    Request {
        id: id.into(),
        tenant: TenantName::parse("tenant", tenant).unwrap(),
        action: Action::EnableModule(parse_module_change(env, module, &body).unwrap()),
    }
}

fn delete(id: &str, tenant: &str) -> Request {
    Request {
        id: id.into(),
        tenant: TenantName::parse("tenant", tenant).unwrap(),
        action: Action::DeleteTenant,
    }
}

fn outcomes(requests: &[Request], files: &RepoFiles, limits: BatchLimits) -> Vec<BatchOutcome> {
    plan_batch(requests, files, limits, &Default::default())
        .outcomes
        .into_iter()
        .map(|(_, o)| o)
        .collect()
}

#[test]
fn a_batch_lands_as_its_requests_would_one_after_another() {
    let requests = [
        create(
            "01A",
            json!({"name": "acme", "tier": "standard", "envs": ["dev"]}),
        ),
        enable(
            "01B",
            "acme",
            "dev",
            "postgres",
            json!({"values": {"replicas": 2}}),
        ),
        create(
            "01C",
            json!({"name": "globex", "tier": "bronze", "envs": ["dev", "prod"]}),
        ),
    ];
    let tip = repo();
    let batch = plan_batch(&requests, &tip, BatchLimits::default(), &Default::default());
    assert_eq!(batch.included(), 3);

    let mut one_by_one = tip.clone();
    for request in &requests {
        let change = plan(request, &one_by_one).unwrap();
        change.apply_to(&mut one_by_one);
    }
    let mut batched = tip.clone();
    batch.change.apply_to(&mut batched);
    assert_eq!(batched, one_by_one, "the same bytes either way");

    let message = &batch.change.message;
    assert!(
        message.starts_with("Berth: 3 changes for 2 tenants\n"),
        "{message}"
    );
    assert!(
        message.contains("- Enable postgres for acme in dev"),
        "{message}"
    );
    assert_eq!(
        trailer_request_ids(message).collect::<Vec<_>>(),
        ["01A", "01B", "01C"]
    );
}

#[test]
fn a_refused_request_is_left_out_with_its_field_and_the_others_commit() {
    let requests = [
        create(
            "01A",
            json!({"name": "acme", "tier": "standard", "envs": ["dev"]}),
        ),
        create(
            "01B",
            json!({"name": "acme", "tier": "bronze", "envs": ["dev"]}),
        ),
        enable("01C", "acme", "dev", "postgres", json!({})),
        enable("01D", "nobody", "dev", "postgres", json!({})),
    ];
    let batch = plan_batch(
        &requests,
        &repo(),
        BatchLimits::default(),
        &Default::default(),
    );
    let refused: Vec<(&str, String)> = batch
        .outcomes
        .iter()
        .filter_map(|(id, o)| match o {
            BatchOutcome::Refused(PlanError::Field(e)) => Some((id.as_str(), e.field.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [("01B", "name".to_owned()), ("01D", "tenant".to_owned())]
    );
    assert_eq!(
        trailer_request_ids(&batch.change.message).collect::<Vec<_>>(),
        ["01A", "01C"]
    );
}

#[test]
fn a_request_the_batch_already_satisfied_changes_nothing() {
    let twice = [
        enable("01A", "acme", "dev", "postgres", json!({})),
        enable("01B", "acme", "dev", "postgres", json!({})),
    ];
    let mut tip = repo();
    let created = create(
        "01C",
        json!({"name": "acme", "tier": "standard", "envs": ["dev"]}),
    );
    let change = plan(&created, &tip).unwrap();
    change.apply_to(&mut tip);
    let batch = plan_batch(&twice, &tip, BatchLimits::default(), &Default::default());
    assert_eq!(
        batch.outcomes,
        [
            ("01A".to_owned(), BatchOutcome::Included),
            ("01B".to_owned(), BatchOutcome::NoChange)
        ]
    );
    assert_eq!(
        batch.change.message,
        plan(&twice[0], &tip).unwrap().message,
        "a lone change keeps its own message"
    );
}

#[test]
fn requests_that_undo_each_other_commit_nothing() {
    let requests = [
        create(
            "01A",
            json!({"name": "acme", "tier": "standard", "envs": ["dev"]}),
        ),
        delete("01B", "acme"),
    ];
    let batch = plan_batch(
        &requests,
        &repo(),
        BatchLimits::default(),
        &Default::default(),
    );
    assert!(batch.change.is_empty());
    assert!(
        batch
            .outcomes
            .iter()
            .all(|(_, o)| *o == BatchOutcome::NoChange)
    );
}

#[test]
fn past_its_limits_a_batch_defers_the_rest_in_order() {
    let requests: Vec<Request> = (0..5)
        .map(|i| {
            create(
                &format!("01{i}"),
                json!({"name": format!("t{i}"), "tier": "bronze", "envs": ["dev"]}),
            )
        })
        .collect();
    let by_count = BatchLimits {
        max_requests: 2,
        ..BatchLimits::default()
    };
    use BatchOutcome::{Deferred, Included};
    assert_eq!(
        outcomes(&requests, &repo(), by_count),
        [Included, Included, Deferred, Deferred, Deferred]
    );

    let one_size = plan(&requests[0], &repo())
        .unwrap()
        .writes
        .values()
        .map(Vec::len)
        .sum::<usize>();
    let by_bytes = BatchLimits {
        max_requests: 100,
        max_bytes: one_size * 3,
    };
    assert_eq!(
        outcomes(&requests, &repo(), by_bytes),
        [Included, Included, Included, Deferred, Deferred]
    );
    let tiny = BatchLimits {
        max_requests: 100,
        max_bytes: 1,
    };
    assert_eq!(
        outcomes(&requests[..2], &repo(), tiny),
        [Included, Deferred],
        "a request larger than the bound still commits, alone"
    );
}
