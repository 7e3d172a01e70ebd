//! The API end to end over HTTP on 127.0.0.1: the real router, the real Git2 committer on a
//! bare repository, and the DynamoDB store on moto's server. Every error status of the README's
//! "Errors" is reached by a real bad input.

use berth_store::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

use berth_tests::api_server::{ACME_OPERATOR, ADMIN, ApiServer, OPERATOR, VIEWER};
use berth_tests::{dynamo_store, git, seed_repo};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Fixture {
    server: ApiServer,
    repo: PathBuf,
    client: Client,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), "origin");
        let server = ApiServer::start(
            repo.to_str().unwrap(),
            &dir.path().join("work"),
            Arc::new(dynamo_store().await),
        )
        .await;
        Self {
            server,
            repo,
            client: Client::new(),
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = &self.server.url;
        berth_tests::api_server::call_api(&self.client, url, token, method, path, body).await
    }

    fn tip(&self) -> String {
        git(&self.repo, &["rev-parse", "main"]).trim().to_owned()
    }

    fn show(&self, path: &str) -> String {
        git(&self.repo, &["show", &format!("main:{path}")])
    }

    fn files(&self) -> String {
        git(
            &self.repo,
            &["ls-tree", "-r", "--name-only", "main", "tenants/"],
        )
    }
}

fn error_of(body: &Value) -> (&str, Option<&str>) {
    (
        body["error"]["code"].as_str().unwrap_or("<none>"),
        body["error"]["field"].as_str(),
    )
}

const ACME: &str = r#"{"name": "acme", "tier": "standard", "envs": ["dev", "prod"], "modules": ["postgres"], "owner": "ops@acme.test"}"#;

fn acme() -> Value {
    serde_json::from_str(ACME).unwrap()
}

#[tokio::test]
async fn a_tenant_lifecycle_lands_as_commits() {
    let f = Fixture::new().await;

    let (status, created) = f
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(acme()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["state"], "committed");
    assert_eq!(created["action"], "create_tenant");
    assert_eq!(created["requested_by"], "token:admin", "who asked is kept");
    assert_eq!(created["commit"], f.tip());
    assert!(
        f.show("tenants/acme/tenant.yaml")
            .contains(&format!("created_by: {}", created["id"].as_str().unwrap()))
    );
    let (status, record) = f
        .call(
            Method::GET,
            &format!("/v1/requests/{}", created["id"].as_str().unwrap()),
            Some(VIEWER),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut record = record;
    let changes = record
        .as_object_mut()
        .unwrap()
        .remove("changes")
        .expect("a landed request shows the files it changed");
    assert_eq!(record, created, "the rest is the write's answer");
    assert_eq!(changes.as_array().unwrap().len(), 5, "{changes}");

    let (status, enabled) = f
        .call(
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/vault",
            Some(OPERATOR),
            Some(json!({"version": "1.4.2", "values": {"replicas": 2}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{enabled}");
    assert!(
        f.show("tenants/acme/dev/modules/vault.yaml")
            .contains("version: 1.4.2")
    );
    let (_, tenant) = f
        .call(Method::GET, "/v1/tenants/acme", Some(VIEWER), None)
        .await;
    assert_eq!(
        tenant["envs"]["dev"]["modules"]["vault"]["values"]["replicas"],
        2
    );
    assert_eq!(tenant["owner"], "ops@acme.test");

    let (status, disabled) = f
        .call(
            Method::DELETE,
            "/v1/tenants/acme/envs/dev/modules/vault",
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(
        (status, disabled["action"].as_str()),
        (StatusCode::ACCEPTED, Some("disable_module"))
    );
    assert!(!f.files().contains("vault"));

    let (status, _) = f
        .call(
            Method::PATCH,
            "/v1/tenants/acme",
            Some(ADMIN),
            Some(json!({"tier": "premium"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(
        f.show("tenants/acme/prod/base.yaml")
            .contains("tier: premium")
    );
    let (_, list) = f.call(Method::GET, "/v1/tenants", Some(VIEWER), None).await;
    assert_eq!(list["tenants"][0]["tier"], "premium");

    let (status, suspended) = f
        .call(
            Method::PATCH,
            "/v1/tenants/acme",
            Some(ADMIN),
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(
        (status, suspended["action"].as_str()),
        (StatusCode::ACCEPTED, Some("suspend_tenant"))
    );
    assert!(
        f.show("tenants/acme/dev/modules/postgres.yaml")
            .contains("suspended: true")
    );
    let (_, list) = f.call(Method::GET, "/v1/tenants", Some(VIEWER), None).await;
    assert_eq!(list["tenants"][0]["state"], "suspended");

    let (status, body) = f
        .call(Method::DELETE, "/v1/tenants/acme", Some(ADMIN), None)
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            ("invalid", Some("confirm"))
        )
    );
    let (status, body) = f
        .call(
            Method::DELETE,
            "/v1/tenants/acme?confirm=acme2",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            ("invalid", Some("confirm"))
        )
    );
    assert!(f.files().contains("tenants/acme/"));
    let (status, deleted) = f
        .call(
            Method::DELETE,
            "/v1/tenants/acme?confirm=acme",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        (status, deleted["action"].as_str()),
        (StatusCode::ACCEPTED, Some("delete_tenant"))
    );
    assert_eq!(f.files(), "tenants/catalog.yaml\n");
    let (status, _) = f
        .call(Method::GET, "/v1/tenants/acme", Some(VIEWER), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = f.call(Method::GET, "/v1/tenants", Some(VIEWER), None).await;
    assert_eq!(list["tenants"], json!([]));
    // Seed + create + enable + disable + tier + suspend + delete.
    assert_eq!(git(&f.repo, &["rev-list", "--count", "main"]).trim(), "7");
}

#[tokio::test]
async fn a_repeated_request_answers_no_change() {
    let f = Fixture::new().await;
    f.call(Method::POST, "/v1/tenants", Some(ADMIN), Some(acme()))
        .await;
    let tip = f.tip();
    let (status, body) = f
        .call(
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/postgres",
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("no_change"))
    );
    assert_eq!(f.tip(), tip);
}

#[tokio::test]
async fn every_error_status_is_reached_by_a_real_bad_input() {
    let f = Fixture::new().await;
    f.call(Method::POST, "/v1/tenants", Some(ADMIN), Some(acme()))
        .await;
    let tip = f.tip();

    // 400: malformed JSON.
    let response = f
        .client
        .post(format!("{}/v1/tenants", f.server.url))
        .bearer_auth(ADMIN)
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "malformed"
    );

    // 401: no token, a wrong token.
    let (status, body) = f.call(Method::GET, "/v1/tenants", None, None).await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (status, _) = f
        .call(
            Method::POST,
            "/v1/tenants",
            Some("not-a-token-of-ours-at-all"),
            Some(acme()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // 403: a viewer writing; a token scoped to acme acting on another tenant.
    let (status, body) = f
        .call(
            Method::PATCH,
            "/v1/tenants/acme",
            Some(VIEWER),
            Some(json!({"tier": "premium"})),
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let other = json!({"name": "beta", "tier": "bronze", "envs": ["dev"]});
    let (status, _) = f
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ACME_OPERATOR),
            Some(other),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f
        .call(
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/monitoring",
            Some(ACME_OPERATOR),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the scoped token may act on its own tenant"
    );
    let tip = {
        assert_ne!(f.tip(), tip);
        f.tip()
    };

    // 404: an unknown tenant, an unknown request, an unknown route.
    let (status, body) = f
        .call(
            Method::PATCH,
            "/v1/tenants/ghost",
            Some(ADMIN),
            Some(json!({"tier": "premium"})),
        )
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::NOT_FOUND, ("not_found", Some("tenant")))
    );
    let (status, _) = f
        .call(
            Method::GET,
            "/v1/requests/01J00000000000000000000000",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f.call(Method::GET, "/v1/nothing", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // 409: a taken name.
    let (status, body) = f
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(acme()))
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::CONFLICT, ("conflict", Some("name")))
    );

    // 413: a body over 1 MiB.
    let huge = json!({"name": "big", "tier": "bronze", "envs": ["dev"], "display_name": "x".repeat(1024 * 1024 + 1)});
    let (status, body) = f
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(huge))
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );

    // 422: an unknown field, a bad name, an unknown module, a bad query parameter.
    let cases = [
        (
            Method::POST,
            "/v1/tenants",
            json!({"name": "x", "tier": "bronze", "envs": ["dev"], "colour": "red"}),
            "colour",
        ),
        (
            Method::POST,
            "/v1/tenants",
            json!({"name": "Not_A_Name", "tier": "bronze", "envs": ["dev"]}),
            "name",
        ),
        (
            Method::POST,
            "/v1/tenants",
            json!({"name": "x", "tier": "bronze", "envs": ["dev"], "modules": ["kafka"]}),
            "modules[0]",
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/kafka",
            json!({}),
            "module",
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/postgres",
            json!({"values": {"suspended": false}}),
            "values.suspended",
        ),
        (
            Method::PATCH,
            "/v1/tenants/acme?mode=yolo",
            json!({"tier": "premium"}),
            "mode",
        ),
        (
            Method::PATCH,
            "/v1/tenants/Acme",
            json!({"tier": "premium"}),
            "tenant",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = f.call(method.clone(), path, Some(ADMIN), Some(body)).await;
        assert_eq!(
            (status, error_of(&answer).1),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{method} {path}: {answer}"
        );
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }

    // 503: no sweep has read the cluster yet.
    let (status, body) = f
        .call(Method::GET, "/v1/cluster/health", Some(VIEWER), None)
        .await;
    assert_eq!(
        (status, error_of(&body).0, body["status"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "cluster_not_observed",
            Some("error")
        )
    );

    assert_eq!(f.tip(), tip, "no refused request changed the repository");
}

#[tokio::test]
async fn a_refused_request_is_recorded_with_its_reason() {
    let f = Fixture::new().await;
    let body = json!({"name": "low", "tier": "bronze", "envs": ["dev"], "modules": ["vault"]});
    let response = f
        .client
        .post(format!("{}/v1/tenants", f.server.url))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(error_of(&answer), ("invalid", Some("modules[0]")));
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs tier standard"),
        "{answer}"
    );
    let (status, record) = f
        .call(
            Method::GET,
            &format!("/v1/requests/{id}"),
            Some(VIEWER),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["state"], "rejected");
    assert_eq!(record["error"], answer["error"]);
    assert_eq!(record["commit"], Value::Null);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let f = Fixture::new().await;
    let send = |key: &'static str, body: Value| {
        f.client
            .post(format!("{}/v1/tenants", f.server.url))
            .bearer_auth(ADMIN)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send("key-1", acme()).await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let tip = f.tip();

    let again = send("key-1", acme()).await.unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(f.tip(), tip, "a replay commits nothing");

    let reused = send(
        "key-1",
        json!({"name": "other", "tier": "bronze", "envs": ["dev"]}),
    )
    .await
    .unwrap();
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reused.json::<Value>().await.unwrap()["error"]["code"],
        "idempotency_key_reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_with_one_key_commit_once() {
    let f = Fixture::new().await;
    let seed = f.tip();
    let sends = (0..10).map(|_| {
        f.client
            .post(format!("{}/v1/tenants", f.server.url))
            .bearer_auth(ADMIN)
            .header("Idempotency-Key", "same")
            .json(&acme())
            .send()
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::ACCEPTED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert_eq!(
        git(&f.repo, &["rev-list", "--count", &format!("{seed}..main")]).trim(),
        "1"
    );
}

#[tokio::test]
async fn pr_mode_pushes_a_branch_and_records_it() {
    let f = Fixture::new().await;
    let tip = f.tip();
    let (status, body) = f
        .call(
            Method::POST,
            "/v1/tenants?mode=pr",
            Some(ADMIN),
            Some(acme()),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "branch_pushed");
    let branch = format!("berth/{}", body["id"].as_str().unwrap());
    assert_eq!(body["branch"], branch);
    assert_eq!(f.tip(), tip, "main is untouched until the branch is merged");
    assert_eq!(git(&f.repo, &["rev-parse", &branch]).trim(), body["commit"]);
    let (_, list) = f.call(Method::GET, "/v1/tenants", Some(VIEWER), None).await;
    assert_eq!(
        list["tenants"],
        json!([]),
        "an unmerged branch is not a tenant yet"
    );
}

#[tokio::test]
async fn scoped_tokens_see_only_their_tenant() {
    let f = Fixture::new().await;
    f.call(Method::POST, "/v1/tenants", Some(ADMIN), Some(acme()))
        .await;
    let (_, created) = f
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN),
            Some(json!({"name": "beta", "tier": "bronze", "envs": ["dev"]})),
        )
        .await;
    let (_, list) = f
        .call(Method::GET, "/v1/tenants", Some(ACME_OPERATOR), None)
        .await;
    assert_eq!(list["tenants"].as_array().unwrap().len(), 1);
    assert_eq!(list["tenants"][0]["name"], "acme");
    let (status, _) = f
        .call(Method::GET, "/v1/tenants/beta", Some(ACME_OPERATOR), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f
        .call(
            Method::GET,
            &format!("/v1/requests/{}", created["id"].as_str().unwrap()),
            Some(ACME_OPERATOR),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `GET /v1/me` tells a client (the console) who the API takes its caller to be, from the
/// credential alone: the role, the one tenant a scoped token acts on, whether it may write.
#[tokio::test]
async fn each_caller_learns_who_the_api_takes_it_to_be() {
    let f = Fixture::new().await;
    for (token, identity, role, tenant, can_write) in [
        (ADMIN, "token:admin", "admin", Value::Null, true),
        (VIEWER, "token:viewer", "viewer", Value::Null, false),
        (
            ACME_OPERATOR,
            "token:operator:acme",
            "operator",
            json!("acme"),
            true,
        ),
    ] {
        let (status, me) = f.call(Method::GET, "/v1/me", Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["identity"], identity, "{me}");
        assert_eq!(me["role"], role, "{me}");
        assert_eq!(
            me.get("tenant").cloned().unwrap_or(Value::Null),
            tenant,
            "{me}"
        );
        assert_eq!(me["can_write"], can_write, "{me}");
    }
    let (status, _) = f.call(Method::GET, "/v1/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = f
        .call(Method::GET, "/v1/me", Some("not-a-token-0123456789"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_catalog_and_health_are_served() {
    let f = Fixture::new().await;
    let (status, body) = f.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = f.call(Method::GET, "/v1/catalog", Some(VIEWER), None).await;
    assert_eq!(status, StatusCode::OK);
    let modules: Vec<&str> = body["catalog"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(modules, ["monitoring", "postgres", "vault", "data-lake"]);
    assert_eq!(body["revision"], f.tip());
}

#[tokio::test]
async fn values_outside_the_charts_schema_are_refused_before_commit() {
    let f = Fixture::new().await;
    f.call(Method::POST, "/v1/tenants", Some(ADMIN), Some(acme()))
        .await;
    let tip = f.tip();
    let cases = [
        (
            "postgres",
            json!({"values": {"replicas": "two"}}),
            "values.replicas",
        ),
        (
            "postgres",
            json!({"values": {"routes": [{"path": "/db"}]}}),
            "values.routes",
        ),
        (
            "postgres",
            json!({"values": {"resources": {"requests": {"cpu": "lots", "memory": "1Gi"}}}}),
            "values.resources.requests.cpu",
        ),
        (
            "vault",
            json!({"values": {"routes": [{"path": "no-slash"}]}}),
            "values.routes[0].path",
        ),
        (
            "vault",
            json!({"values": {"autoscaling": {"enabled": true, "max_replicas": 500}}}),
            "values.autoscaling.max_replicas",
        ),
    ];
    for (module, body, field) in cases {
        let path = format!("/v1/tenants/acme/envs/dev/modules/{module}");
        let (status, answer) = f
            .call(Method::PUT, &path, Some(ADMIN), Some(body.clone()))
            .await;
        assert_eq!(
            (status, error_of(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, ("invalid", Some(field))),
            "{body}: {answer}"
        );
    }
    assert_eq!(f.tip(), tip, "nothing was committed");
    let (status, _) = f
        .call(
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/vault",
            Some(ADMIN),
            Some(json!({"values": {"routes": [{"path": "/vault"}]}})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "values inside the schema pass"
    );
}

#[tokio::test]
async fn tenant_status_comes_from_the_store_with_an_etag() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let store = dynamo_store().await;
    let server = ApiServer::start(
        repo.to_str().unwrap(),
        &dir.path().join("work"),
        Arc::new(store.clone()),
    )
    .await;
    let f = Fixture {
        server,
        repo,
        client: Client::new(),
        _dir: dir,
    };
    f.call(Method::POST, "/v1/tenants", Some(ADMIN), Some(acme()))
        .await;

    let get = |etag: Option<String>| {
        let mut request = f
            .client
            .get(format!("{}/v1/tenants/acme/status", f.server.url))
            .bearer_auth(VIEWER);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = get(None).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = first.json().await.unwrap();
    assert_eq!(
        (
            body["health"].as_str(),
            body["statuses"].as_array().unwrap().len()
        ),
        (Some("unknown"), 0),
        "nothing observed yet"
    );

    let status = |module: &str, health: &str| berth_store::StatusRecord {
        tenant: "acme".into(),
        env: "dev".into(),
        module: Some(module.into()),
        health: health.into(),
        sync: Some("Synced".into()),
        revision: Some("abc".into()),
        ready: 1,
        desired: 1,
        urls: Vec::new(),
        reason: None,
        observed_at: "2026-11-22T03:00:00Z".into(),
        digest: health.into(),
    };

    store
        .put_statuses(&[status("postgres", "healthy"), status("vault", "degraded")])
        .await
        .unwrap();
    let changed = get(Some(etag.clone())).await.unwrap();
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "the status changed, so the old ETag no longer matches"
    );
    let etag = changed.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = changed.json().await.unwrap();
    assert_eq!(
        body["health"], "degraded",
        "a tenant is as healthy as its worst module"
    );
    let unchanged = get(Some(etag)).await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert!(unchanged.text().await.unwrap().is_empty());

    let (_, tenant) = f
        .call(Method::GET, "/v1/tenants/acme", Some(VIEWER), None)
        .await;
    assert_eq!(tenant["health"], "degraded");
    let (status_code, _) = f
        .call(Method::GET, "/v1/tenants/ghost/status", Some(VIEWER), None)
        .await;
    assert_eq!(status_code, StatusCode::NOT_FOUND);
    let (status_code, _) = f
        .call(
            Method::GET,
            "/v1/tenants/acme/status",
            Some("acme-operator-token-0123456789"),
            None,
        )
        .await;
    assert_eq!(status_code, StatusCode::OK);
}

/// A settled record lives for the request retention; after it, Git answers: the commit that
/// carried the request, with its tenant and action from the commit's trailers.
#[tokio::test]
async fn an_expired_request_is_answered_from_git() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let forever = dynamo_store().await;
    let expiring: Arc<dyn berth_store::Store> = Arc::new(
        forever
            .clone()
            .with_request_retention(std::time::Duration::ZERO),
    );
    let fixture = Fixture {
        server: ApiServer::start_with_request_retention(
            repo.to_str().unwrap(),
            &dir.path().join("work"),
            Arc::clone(&expiring),
            std::time::Duration::ZERO,
        )
        .await,
        repo,
        client: Client::new(),
        _dir: dir,
    };
    let (status, created) = fixture
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(acme()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Committed is not settled: the record stays while the sweep still moves it.
    let (status, open) = fixture.request(&id, ADMIN).await;
    assert_eq!(
        (status, open["state"].as_str()),
        (StatusCode::OK, Some("committed"))
    );
    // The sweep settles it; past the retention its record reads as gone.
    let mut record = forever.get_request(&id).await.unwrap().unwrap();
    record.state = berth_store::RequestState::Ready;
    expiring.put_request(&record).await.unwrap();
    assert_eq!(forever.get_request(&id).await.unwrap(), None);

    let (status, expired) = fixture.request(&id, ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{expired}");
    assert_eq!(expired["state"], "expired");
    assert_eq!(expired["commit"].as_str(), Some(fixture.tip().as_str()));
    assert_eq!(
        (
            &expired["tenant"],
            &expired["action"],
            &expired["batch_size"]
        ),
        (&json!("acme"), &json!("create_tenant"), &json!(1))
    );
    assert_eq!(expired["created_at"], created["created_at"]);
    // Its tenant's own operator sees it: the tenant comes from the commit's trailers.
    let (status, _) = fixture.request(&id, ACME_OPERATOR).await;
    assert_eq!(status, StatusCode::OK);

    // An id older than the retention that no commit carries: gone for good, and said so.
    let message = fixture.unknown_request_refusal().await;
    assert!(message.contains("has expired"), "{message}");
}

/// Under the default retention, an id too young to have expired is not looked for in Git.
#[tokio::test]
async fn an_unknown_recent_request_is_simply_not_found() {
    let message = Fixture::new().await.unknown_request_refusal().await;
    assert!(message.starts_with("no request"), "{message}");
}

impl Fixture {
    /// `GET /v1/requests/{id}` as `token`.
    async fn request(&self, id: &str, token: &str) -> (StatusCode, Value) {
        let path = format!("/v1/requests/{id}");
        self.call(Method::GET, &path, Some(token), None).await
    }

    /// The 404's message for a request id never made.
    async fn unknown_request_refusal(&self) -> String {
        let (status, body) = self.request(&ulid::Ulid::new().to_string(), ADMIN).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        body["error"]["message"].as_str().unwrap().to_owned()
    }
}

/// The tenant list pages in name order with a cursor, filters by text, tier and health, and
/// counts by health; a malformed part of the query is refused by name.
#[tokio::test]
async fn the_tenant_list_pages_filters_and_counts() {
    let f = Fixture::new().await;
    for (name, tier) in [
        ("gamma", "premium"),
        ("acme", "standard"),
        ("beta", "standard"),
    ] {
        let body = json!({"name": name, "tier": tier, "envs": ["dev"], "display_name": format!("{name} Corp")});
        let (status, answer) = f
            .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(body))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    let names = |page: &Value| -> Vec<String> {
        page["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = f.call(Method::GET, "/v1/tenants", Some(VIEWER), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&all), ["acme", "beta", "gamma"]);
    assert_eq!(all["total"], 3);
    assert!(all.get("next_after").is_none(), "{all}");
    let health_total: u64 = all["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(health_total, 3, "{all}");

    let (_, first) = f
        .call(Method::GET, "/v1/tenants?limit=2", Some(VIEWER), None)
        .await;
    assert_eq!(
        (names(&first), first["next_after"].as_str()),
        (vec!["acme".to_owned(), "beta".to_owned()], Some("beta"))
    );
    assert_eq!(first["total"], 3);
    let (_, second) = f
        .call(
            Method::GET,
            "/v1/tenants?limit=2&after=beta",
            Some(VIEWER),
            None,
        )
        .await;
    assert_eq!(names(&second), ["gamma"]);
    assert!(second.get("next_after").is_none());

    let (_, found) = f
        .call(Method::GET, "/v1/tenants?q=BETA%20corp", Some(VIEWER), None)
        .await;
    assert_eq!(names(&found), ["beta"]);
    let (_, premium) = f
        .call(Method::GET, "/v1/tenants?tier=premium", Some(VIEWER), None)
        .await;
    assert_eq!(
        (names(&premium), premium["total"].as_u64()),
        (vec!["gamma".to_owned()], Some(1))
    );
    let health = all["tenants"][0]["health"].as_str().unwrap().to_owned();
    let (_, same) = f
        .call(
            Method::GET,
            &format!("/v1/tenants?health={health}"),
            Some(VIEWER),
            None,
        )
        .await;
    assert_eq!(same["total"], all["counts"][health.as_str()]);
    // A scoped token pages only its own tenant.
    let (_, scoped) = f
        .call(
            Method::GET,
            "/v1/tenants?limit=10",
            Some(ACME_OPERATOR),
            None,
        )
        .await;
    assert_eq!(
        (names(&scoped), scoped["total"].as_u64()),
        (vec!["acme".to_owned()], Some(1))
    );

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("health=fine", "health"),
        ("state=gone", "state"),
        ("sort=name", "sort"),
    ] {
        let (status, body) = f
            .call(
                Method::GET,
                &format!("/v1/tenants?{query}"),
                Some(VIEWER),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(error_of(&body).1, Some(field), "{query}: {body}");
    }
}

/// Every successful GET carries the ETag of its body: the tenant list and a tenant answer 304
/// to a caller holding the tag, and 200 with a new one once something changed.
#[tokio::test]
async fn every_get_answers_304_while_nothing_changed() {
    let f = Fixture::new().await;
    let (status, _) = f
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(acme()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let get = |path: &'static str, held: Option<String>| {
        let (client, url) = (f.client.clone(), f.server.url.clone());
        async move {
            let mut request = client.get(format!("{url}{path}")).bearer_auth(VIEWER);
            if let Some(tag) = held {
                request = request.header("if-none-match", tag);
            }
            request.send().await.unwrap()
        }
    };
    for path in ["/v1/tenants", "/v1/tenants/acme"] {
        let first = get(path, None).await;
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = get(path, Some(tag.clone())).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), tag);
        assert!(again.bytes().await.unwrap().is_empty(), "a 304 has no body");
        let other = get(path, Some("\"something-else\"".into())).await;
        assert_eq!(other.status(), StatusCode::OK, "{path}");
    }
    let list_tag = get("/v1/tenants", None).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json!({"tier": "premium"});
    let (status, _) = f
        .call(Method::PATCH, "/v1/tenants/acme", Some(ADMIN), Some(body))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let changed = get("/v1/tenants", Some(list_tag.clone())).await;
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "the tier changed: the old tag no longer matches"
    );
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), list_tag);
}
