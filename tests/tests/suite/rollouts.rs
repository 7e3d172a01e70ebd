//! Fleet rollouts over the API, so far their plan (`dry_run=true`): waves against the branch
//! tip with each tenant's diff, the tenants left out, refusals naming the tenant and field, and
//! who may ask. Nothing is committed.

use std::sync::Arc;

use berth_core::body::{parse_create_tenant, parse_module_change};
use berth_core::{Action, RepoFiles, Request, TenantName, plan};
use berth_store::prelude::*;
use berth_tests::api_server::{ACME_OPERATOR, ApiServer, OPERATOR, VIEWER, call_api};
use berth_tests::{dynamo_store, git};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Fixture {
    api: ApiServer,
    repo: std::path::PathBuf,
    client: Client,
    _dir: tempfile::TempDir,
}

fn apply(files: &mut RepoFiles, request: Request) {
    plan(&request, files).unwrap().apply_to(files);
}

/// The project's catalog and charts with `premium` premium and `standard` standard tenants
/// (`acme` among the standard ones), each with postgres 16.4 in dev and prod, seeded as one
/// commit.
async fn fleet(premium: usize, standard: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut files = berth_tests::git::project_charts_and_catalog();
    let names = (0..premium)
        .map(|i| (format!("p{i:02}"), "premium"))
        .chain((0..standard).map(|i| {
            (
                if i == 0 {
                    "acme".to_owned()
                } else {
                    format!("s{i:02}")
                },
                "standard",
            )
        }));
    for (tenant, tier) in names {
        let (name, new) =
            parse_create_tenant(&json!({"name": tenant, "tier": tier, "envs": ["dev", "prod"]}))
                .unwrap();
        apply(
            &mut files,
            Request {
                id: "01CREATE".into(),
                tenant: name,
                action: Action::CreateTenant(new),
            },
        );
        for env in ["dev", "prod"] {
            let change = parse_module_change(env, "postgres", &json!({"version": "16.4"})).unwrap();
            let tenant = TenantName::parse("t", &tenant).unwrap();
            apply(
                &mut files,
                Request {
                    id: "01ENABLE".into(),
                    tenant,
                    action: Action::EnableModule(change),
                },
            );
        }
    }
    let repo = dir.path().join("origin.git");
    berth_gitops::seed_bare_repository(&repo, "main", &files, "Seed").unwrap();
    let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
    let api = ApiServer::start(repo.to_str().unwrap(), &dir.path().join("api"), store).await;
    Fixture {
        api,
        repo,
        client: Client::new(),
        _dir: dir,
    }
}

impl Fixture {
    async fn plan(&self, token: &str, body: Value) -> (StatusCode, Value) {
        call_api(
            &self.client,
            &self.api.url,
            Some(token),
            Method::POST,
            "/v1/rollouts?dry_run=true",
            Some(body),
        )
        .await
    }

    fn tip(&self) -> String {
        git(&self.repo, &["rev-parse", "main"]).trim().to_owned()
    }
}

fn upgrade() -> Value {
    json!({
        "selector": {"tiers": ["premium"], "has_module": "postgres"},
        "change": {"reconfigure": {"module": "postgres", "version": "16.6"}},
        "canaries": ["p00"]
    })
}

#[tokio::test]
async fn a_dry_run_answers_the_waves_with_each_tenants_diff_and_commits_nothing() {
    let f = fleet(12, 3).await;
    let before = f.tip();
    let (status, plan) = f.plan(OPERATOR, upgrade()).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["revision"], before.as_str());
    let waves: Vec<Vec<String>> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            w["tenants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["tenant"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(waves[0], ["p00"], "the canary first");
    let sizes: Vec<usize> = waves.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [1, 2, 4, 5],
        "10 % and 50 % of the 11 after the canary, rounded up, then the rest"
    );
    assert_eq!(plan["tenants"], 12);
    let first = &plan["waves"][0]["tenants"][0];
    assert_eq!(first["envs"], json!(["dev", "prod"]));
    let diff = first["files"][0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-  version: '16.4'") || diff.contains("-  version: 16.4"),
        "{diff}"
    );
    assert!(diff.contains("16.6"), "{diff}");
    assert_eq!(f.tip(), before, "nothing committed");
    let (_, again) = f.plan(OPERATOR, upgrade()).await;
    assert_eq!(
        again["hash"], plan["hash"],
        "the same tip and body plan the same bytes"
    );
}

#[tokio::test]
async fn an_invalid_tenant_refuses_the_plan_unless_skipped_and_no_ops_are_listed() {
    let f = fleet(1, 2).await;
    // data-lake needs premium (and vault first): every tenant's result is invalid.
    let enable = json!({"change": {"enable": {"module": "data-lake"}}});
    let (status, body) = f.plan(OPERATOR, enable.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("tenants.acme."),
        "{body}"
    );
    let mut skipping = enable;
    skipping["skip_invalid"] = json!(true);
    let (status, plan) = f.plan(OPERATOR, skipping).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["tenants"], 0);
    assert_eq!(plan["left_out"].as_array().unwrap().len(), 3);
    assert!(
        plan["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["reason"] == "invalid"),
        "{plan}"
    );
    // Everyone already on 16.4: a no-op for each, listed.
    let same = json!({"change": {"reconfigure": {"module": "postgres", "version": "16.4"}}});
    let (_, plan) = f.plan(OPERATOR, same).await;
    assert!(
        plan["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["reason"] == "no_change"),
        "{plan}"
    );
    let (status, body) = f
        .plan(
            OPERATOR,
            json!({"change": {"reconfigure": {"module": "postgres"}}}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("change.reconfigure"))
    );
}

#[tokio::test]
async fn who_may_plan_and_only_dry_runs_so_far() {
    let f = fleet(1, 2).await;
    let (status, _) = f.plan(VIEWER, upgrade()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer may not");
    let (status, body) = f.plan(ACME_OPERATOR, upgrade()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["field"], "selector.tenants");
    let own = json!({"selector": {"tenants": ["acme"]}, "change": {"reconfigure": {"module": "postgres", "version": "16.6"}}});
    let (status, plan) = f.plan(ACME_OPERATOR, own).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["tenants"], 1);
    let (status, body) = call_api(
        &f.client,
        &f.api.url,
        Some(OPERATOR),
        Method::POST,
        "/v1/rollouts",
        Some(upgrade()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
    assert_eq!(body["error"]["field"], "dry_run");
}
