//! The api function as Lambda runs it: the real binary under cargo-lambda's runtime emulator,
//! API Gateway HTTP API (payload 2.0) events carrying the JWT authorizer's claims, committing
//! into a bare repository and recording in moto's DynamoDB.

use berth_tests::dynamo_recorder::{DynamoRecorder, assert_grants_match};
use berth_tests::lambda::{LambdaFunction, http_api_event, http_response, moto_table};
use berth_tests::{git, seed_repo};
use serde_json::{Value, json};

struct Fixture {
    function: LambdaFunction,
    dynamodb: DynamoRecorder,
    repo: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), "origin");
        let dynamodb = DynamoRecorder::start().await;
        let mut env = vec![
            ("BERTH_GIT_REMOTE", repo.display().to_string()),
            (
                "BERTH_WORK_DIR",
                dir.path().join("work").display().to_string(),
            ),
            ("BERTH_TABLE", moto_table().await),
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url.clone()),
            ("BERTH_API_AUTH", "jwt".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let function = LambdaFunction::start(std::path::Path::new(env!("CARGO_BIN_EXE_api")), &env);
        Self {
            function,
            dynamodb,
            repo,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        claims: Option<&[(&str, &str)]>,
    ) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        let event = http_api_event(
            method,
            path,
            &[("content-type", "application/json")],
            body.as_deref().map(str::as_bytes),
            claims,
        );
        http_response(&self.function.invoke(&event).await)
    }
}

const ADMIN: &[(&str, &str)] = &[("sub", "alice"), ("berth_role", "admin")];
const VIEWER: &[(&str, &str)] = &[("sub", "val"), ("berth_role", "viewer")];
/// An operator limited to tenant globex.
const GLOBEX_OPERATOR: &[(&str, &str)] = &[
    ("sub", "gus"),
    ("berth_role", "[viewer operator]"),
    ("berth_tenant", "globex"),
];

fn acme() -> Value {
    json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]})
}

#[tokio::test]
async fn api_gateway_jwt_claims_decide_who_may_do_what() {
    let f = Fixture::start(&[]).await;

    let (status, body) = f.call("GET", "/healthz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{body}"
    );

    // No claims: the function was reached without the authorizer.
    let (status, body) = f.call("GET", "/v1/tenants", None, None).await;
    assert_eq!(status, 401, "{body}");

    // A verified JWT without a Berth role.
    let (status, body) = f
        .call(
            "GET",
            "/v1/tenants",
            None,
            Some(&[("sub", "x"), ("scope", "openid")]),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["field"], "berth_role", "{body}");

    // A viewer reads but may not write.
    let (status, _) = f.call("GET", "/v1/tenants", None, Some(VIEWER)).await;
    assert_eq!(status, 200);
    let (status, body) = f
        .call("POST", "/v1/tenants", Some(acme()), Some(VIEWER))
        .await;
    assert_eq!(status, 403, "{body}");

    // An admin creates: committed on main, recorded in DynamoDB with who asked.
    let (status, record) = f
        .call("POST", "/v1/tenants", Some(acme()), Some(ADMIN))
        .await;
    assert_eq!(status, 202, "{record}");
    assert_eq!(record["state"], "committed");
    assert_eq!(record["requested_by"], "jwt:alice");
    let tip = git(&f.repo, &["rev-parse", "main"]);
    assert_eq!(record["commit"].as_str(), Some(tip.trim()));
    let message = git(&f.repo, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.contains(&format!(
            "Berth-Request: {}",
            record["id"].as_str().unwrap()
        )),
        "{message}"
    );
    let (status, stored) = f
        .call(
            "GET",
            &format!("/v1/requests/{}", record["id"].as_str().unwrap()),
            None,
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["requested_by"], "jwt:alice");
    assert_eq!(stored["commit"], record["commit"]);

    // A tenant-scoped operator (its role from an array claim) is refused on another tenant.
    let (status, body) = f
        .call("GET", "/v1/tenants/acme", None, Some(GLOBEX_OPERATOR))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = f
        .call(
            "PUT",
            "/v1/tenants/acme/envs/dev/modules/monitoring",
            Some(json!({})),
            Some(GLOBEX_OPERATOR),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        tip,
        git(&f.repo, &["rev-parse", "main"]),
        "nothing committed"
    );
    let (status, body) = f
        .call("GET", "/v1/tenants", None, Some(GLOBEX_OPERATOR))
        .await;
    assert_eq!(
        (status, body["tenants"].as_array().map(Vec::len)),
        (200, Some(0))
    );

    // Every other kind of store access the api makes: a keyed write (claim, answer), its
    // replay, and a deletion (the tenant index removed).
    let keyed = http_api_event(
        "PUT",
        "/v1/tenants/acme/envs/dev/modules/monitoring",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", "lambda-key-1"),
        ],
        Some(b"{}"),
        Some(ADMIN),
    );
    let (status, first) = http_response(&f.function.invoke(&keyed).await);
    assert_eq!(status, 202, "{first}");
    let (status, replayed) = http_response(&f.function.invoke(&keyed).await);
    assert_eq!((status, replayed), (202, first));
    // A fleet rollout is recorded with its wave pages in one transaction.
    let rollout =
        json!({"selector": {"tenants": ["acme"]}, "change": {"disable": {"module": "monitoring"}}});
    let (status, body) = f
        .call("POST", "/v1/rollouts", Some(rollout), Some(ADMIN))
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = f
        .call("DELETE", "/v1/tenants/acme?confirm=acme", None, Some(ADMIN))
        .await;
    assert_eq!(status, 202, "{body}");
    // The doctor describes the table: its indexes are in place.
    let (status, body) = f.call("GET", "/v1/doctor", None, Some(ADMIN)).await;
    assert_eq!(status, 200, "{body}");
    let store = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "store")
        .unwrap();
    assert_eq!(store["status"], "ok", "{body}");

    // The IAM policy grants exactly the DynamoDB operations the function called, and
    // DeleteItem: a retry that finds an interrupted tenant deletion landed removes the index
    // entry with it, a path this scenario does not take (a group commit deletes in its batch).
    assert_grants_match(&f.dynamodb, "ApiFunction", &["DeleteItem"]);
}

#[tokio::test]
async fn cognito_groups_name_the_role() {
    let f = Fixture::start(&[("BERTH_JWT_ROLE_CLAIM", "cognito:groups")]).await;
    let groups: &[(&str, &str)] = &[("sub", "c-1"), ("cognito:groups", "[staff operator]")];
    let (status, record) = f
        .call("POST", "/v1/tenants", Some(acme()), Some(groups))
        .await;
    assert_eq!(status, 202, "{record}");
    assert_eq!(record["requested_by"], "jwt:c-1");
    // The default claim no longer counts.
    let (status, body) = f.call("GET", "/v1/tenants", None, Some(ADMIN)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["field"], "cognito:groups");
}
