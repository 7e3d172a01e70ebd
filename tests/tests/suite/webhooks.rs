//! The webhooks end to end over HTTP on 127.0.0.1, with the real committer on a bare repository
//! and the DynamoDB store on moto's server: signed deliveries become commits once, however often
//! they arrive; unsigned ones change nothing.

use std::path::PathBuf;
use std::sync::Arc;

use berth_store::prelude::*;
use berth_tests::api_server::{
    ARGOCD_TOKEN, ApiServer, BILLING_SECRET, SIGNUP_SECRET, signup_headers,
};
use berth_tests::{dynamo_store, git, seed_repo};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

struct Fixture {
    server: ApiServer,
    repo: PathBuf,
    store: berth_store::DynamoStore,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), "origin");
        let store = dynamo_store().await;
        let server = ApiServer::start(
            repo.to_str().unwrap(),
            &dir.path().join("work"),
            Arc::new(store.clone()),
        )
        .await;
        Self {
            server,
            repo,
            store,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    fn tip(&self) -> String {
        git(&self.repo, &["rev-parse", "main"]).trim().to_owned()
    }

    fn commits(&self) -> usize {
        git(&self.repo, &["rev-list", "--count", "main"])
            .trim()
            .parse()
            .unwrap()
    }

    /// Sends a Standard Webhooks delivery signed with `secret` at `timestamp`.
    async fn signup_response(
        &self,
        id: &str,
        body: &str,
        secret: &str,
        timestamp: i64,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/webhooks/signup", self.server.url));
        for (name, value) in signup_headers(id, body, secret, timestamp) {
            request = request.header(name, value);
        }
        request.body(body.to_owned()).send().await.unwrap()
    }

    async fn signup(
        &self,
        id: &str,
        body: &str,
        secret: &str,
        timestamp: i64,
    ) -> (StatusCode, Value) {
        let response = self.signup_response(id, body, secret, timestamp).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signup_body(name: &str) -> String {
    json!({"type": "tenant.signup", "data": {"name": name, "tier": "standard", "envs": ["dev"], "modules": ["postgres"], "owner": "ops@example.test"}}).to_string()
}

#[tokio::test]
async fn a_signup_creates_a_tenant_commit() {
    let f = Fixture::new().await;
    let (status, answer) = f
        .signup("msg_1", &signup_body("acme"), SIGNUP_SECRET, now())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "committed");
    assert_eq!(answer["request"]["source"], "webhook:signup");
    assert_eq!(answer["request"]["commit"], f.tip());
    let spec = git(&f.repo, &["show", "main:tenants/acme/tenant.yaml"]);
    assert!(spec.contains("tier: standard"), "{spec}");
    let record = f
        .store
        .get_request(answer["request"]["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.tenant, "acme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_delivery_ten_times_at_once_commits_once() {
    let f = Fixture::new().await;
    let before = f.commits();
    let (body, ts) = (signup_body("acme"), now());
    let sends = (0..10).map(|_| f.signup("msg_dup", &body, SIGNUP_SECRET, ts));
    let answers = futures::future::join_all(sends).await;
    for (status, answer) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::CONFLICT,
            "{status} {answer}"
        );
    }
    assert_eq!(f.commits(), before + 1, "exactly one commit");
    // Once the first is done, a redelivery gets the first answer, byte for byte.
    let first = answers
        .iter()
        .find(|(s, a)| *s == StatusCode::OK && a["outcome"] == "committed")
        .unwrap()
        .1
        .clone();
    let (status, again) = f.signup("msg_dup", &body, SIGNUP_SECRET, ts).await;
    assert_eq!((status, again), (StatusCode::OK, first));
}

#[tokio::test]
async fn bad_signatures_are_refused_and_record_nothing() {
    let f = Fixture::new().await;
    let tip = f.tip();
    let body = signup_body("acme");
    let (status, answer) = f
        .signup(
            "msg_bad",
            &body,
            "whsec_c29tZW9uZS1lbHNlcy1zZWNyZXQta2V5",
            now(),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
    let (status, _) = f
        .signup("msg_bad", &body, SIGNUP_SECRET, now() - 3600)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an old timestamp is refused"
    );
    let unsigned = f
        .client
        .post(format!("{}/webhooks/signup", f.server.url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(f.tip(), tip);
    // Nothing was claimed: the properly signed delivery of the same id still goes through.
    let (status, answer) = f.signup("msg_bad", &body, SIGNUP_SECRET, now()).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("committed"))
    );
}

#[tokio::test]
async fn oversized_unknown_and_invalid_events() {
    let f = Fixture::new().await;
    let tip = f.tip();
    let huge =
        json!({"type": "tenant.signup", "data": {"name": "x".repeat(1024 * 1024)}}).to_string();
    let (status, _) = f.signup("msg_huge", &huge, SIGNUP_SECRET, now()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, answer) = f
        .signup(
            "msg_other",
            &json!({"type": "tenant.deleted", "data": {}}).to_string(),
            SIGNUP_SECRET,
            now(),
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("ignored"))
    );

    let invalid =
        json!({"type": "tenant.signup", "data": {"name": "acme", "tier": "gold", "envs": ["dev"]}})
            .to_string();
    let (status, answer) = f
        .signup("msg_invalid", &invalid, SIGNUP_SECRET, now())
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("rejected")),
        "answered 200 so the sender stops"
    );
    assert_eq!(
        answer["error"]["field"], "data.tier",
        "fields are named from the event's root"
    );
    let record = f
        .store
        .get_request(answer["request"]["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state, berth_store::RequestState::Rejected);

    let malformed =
        json!({"type": "tenant.signup", "data": {"name": "acme", "envs": "dev"}}).to_string();
    let (_, answer) = f
        .signup("msg_malformed", &malformed, SIGNUP_SECRET, now())
        .await;
    assert_eq!(answer["error"]["field"], "data.tier");
    assert_eq!(f.tip(), tip, "nothing committed");
}

#[tokio::test]
async fn a_taken_name_is_a_conflict_recorded_on_the_request() {
    let f = Fixture::new().await;
    f.signup("msg_a", &signup_body("acme"), SIGNUP_SECRET, now())
        .await;
    let (status, answer) = f
        .signup("msg_b", &signup_body("acme"), SIGNUP_SECRET, now())
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("rejected"))
    );
    assert_eq!(answer["error"]["code"], "conflict");
    let record = f
        .store
        .get_request(answer["request"]["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.error.unwrap().code, "conflict");
}

#[tokio::test]
async fn argocd_notifications_record_the_applications_status() {
    let f = Fixture::new().await;
    let event = json!({"application": "acme-dev-postgres", "tenant": "acme", "env": "dev", "module": "postgres",
                       "health": "Healthy", "sync": "Synced", "revision": "0123abcd", "reconciled_at": "2026-11-22T02:00:00Z"});
    let send = |token: &'static str| {
        f.client
            .post(format!("{}/webhooks/argocd", f.server.url))
            .bearer_auth(token)
            .json(&event)
            .send()
    };
    assert_eq!(
        send("not-the-argocd-token-at-all").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(f.store.list_statuses("acme").await.unwrap().is_empty());
    // What the last sweep saw of the slot: the notification keeps its replica counts and URLs.
    let swept = berth_store::StatusRecord {
        tenant: "acme".into(),
        env: "dev".into(),
        module: Some("postgres".into()),
        health: "progressing".into(),
        sync: Some("OutOfSync".into()),
        revision: Some("ffff0000".into()),
        ready: 1,
        desired: 2,
        urls: vec!["https://db.acme.example.com".into()],
        reason: Some("statefulset/postgres: 1 of 2 pods ready during a rolling update".into()),
        observed_at: "2026-11-22T01:00:00Z".into(),
        digest: "from-the-sweep".into(),
    };
    f.store
        .put_statuses(std::slice::from_ref(&swept))
        .await
        .unwrap();
    let answer: Value = send(ARGOCD_TOKEN).await.unwrap().json().await.unwrap();
    assert_eq!(answer["outcome"], "recorded");
    let statuses = f.store.list_statuses("acme").await.unwrap();
    assert_eq!(statuses.len(), 1);
    let recorded = &statuses[0];
    assert_eq!(
        (recorded.module.as_deref(), recorded.health.as_str()),
        (Some("postgres"), "healthy")
    );
    assert_eq!(
        (recorded.sync.as_deref(), recorded.revision.as_deref()),
        (Some("Synced"), Some("0123abcd"))
    );
    assert_eq!((recorded.ready, recorded.desired), (1, 2));
    assert_eq!(
        (&recorded.urls, &recorded.reason),
        (&swept.urls, &swept.reason)
    );
    assert_ne!(
        recorded.digest, swept.digest,
        "the next sweep writes its own view"
    );
}

impl Fixture {
    /// Sends a billing event signed Stripe-style, now.
    async fn billing(&self, event: Value) -> (StatusCode, Value) {
        let body = event.to_string();
        let t = now();
        let mut mac = Hmac::<Sha256>::new_from_slice(BILLING_SECRET.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        let header = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
        let response = self
            .client
            .post(format!("{}/webhooks/billing", self.server.url))
            .header("stripe-signature", header)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn spec(&self, tenant: &str) -> String {
        git(
            &self.repo,
            &["show", &format!("main:tenants/{tenant}/tenant.yaml")],
        )
    }
}

const T0: i64 = 1_800_000_000;

fn subscription(id: &str, kind: &str, created: i64, status: &str, price: &str) -> Value {
    json!({"id": id, "type": kind, "created": created, "data": {"object": {
        "id": "sub_1", "customer": "cus_1", "status": status,
        "items": {"data": [{"price": {"id": price}}]},
        "metadata": {"tenant": "acme", "envs": "dev", "modules": "postgres"}}}})
}

fn customer_event(id: &str, kind: &str, created: i64) -> Value {
    json!({"id": id, "type": kind, "created": created, "data": {"object": {"customer": "cus_1"}}})
}

#[tokio::test]
async fn a_subscription_drives_the_tenant_in_event_order() {
    let f = Fixture::new().await;
    let (status, answer) = f
        .billing(subscription(
            "evt_1",
            "customer.subscription.created",
            T0,
            "active",
            "price_standard_monthly",
        ))
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("committed")),
        "{answer}"
    );
    assert!(
        f.spec("acme").contains("tier: standard") && f.spec("acme").contains("customer_id: cus_1"),
        "{}",
        f.spec("acme")
    );

    let before = f.commits();
    let (_, answer) = f
        .billing(subscription(
            "evt_2",
            "customer.subscription.updated",
            T0 + 10,
            "active",
            "price_premium_monthly",
        ))
        .await;
    assert_eq!(answer["outcome"], "committed", "{answer}");
    assert_eq!(f.commits(), before + 1, "a tier change is one commit");
    assert!(f.spec("acme").contains("tier: premium"));

    // An older update arriving late changes nothing.
    let (_, answer) = f
        .billing(subscription(
            "evt_3",
            "customer.subscription.updated",
            T0 + 5,
            "active",
            "price_bronze_monthly",
        ))
        .await;
    assert_eq!(answer["outcome"], "ignored", "{answer}");
    assert!(f.spec("acme").contains("tier: premium"));

    // A failed payment schedules a suspension after the grace period (7 days), no commit now.
    let tip = f.tip();
    let (_, answer) = f
        .billing(subscription(
            "evt_4",
            "customer.subscription.updated",
            T0 + 20,
            "past_due",
            "price_premium_monthly",
        ))
        .await;
    assert_eq!(answer["outcome"], "scheduled", "{answer}");
    assert_eq!(f.tip(), tip);
    let link = f.store.get_billing("cus_1").await.unwrap().unwrap();
    let scheduled = link.scheduled.unwrap();
    assert_eq!(
        (scheduled.action.as_str(), scheduled.due_at),
        ("suspend", T0 + 20 + 7 * 24 * 3600)
    );

    // Cancelled: suspended now, deletion scheduled after the retention period (30 days).
    let (_, answer) = f
        .billing(customer_event(
            "evt_5",
            "customer.subscription.deleted",
            T0 + 30,
        ))
        .await;
    assert_eq!(answer["outcome"], "committed", "{answer}");
    assert!(f.spec("acme").contains("state: suspended"));
    let scheduled = f
        .store
        .get_billing("cus_1")
        .await
        .unwrap()
        .unwrap()
        .scheduled
        .unwrap();
    assert_eq!(scheduled.action, "delete");
    assert!(
        (scheduled.due_at - (now() + 30 * 24 * 3600)).abs() < 120,
        "{scheduled:?}"
    );

    // Paid again: resumed, nothing scheduled any more.
    let (_, answer) = f
        .billing(customer_event("evt_6", "invoice.paid", T0 + 40))
        .await;
    assert_eq!(answer["outcome"], "committed", "{answer}");
    assert!(f.spec("acme").contains("state: active"));
    assert_eq!(
        f.store
            .get_billing("cus_1")
            .await
            .unwrap()
            .unwrap()
            .scheduled,
        None
    );
}

#[tokio::test]
async fn an_unknown_price_is_recorded_and_answered_200() {
    let f = Fixture::new().await;
    let tip = f.tip();
    let (status, answer) = f
        .billing(subscription(
            "evt_x",
            "customer.subscription.created",
            T0,
            "active",
            "price_gold",
        ))
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("rejected")),
        "the sender must not retry forever"
    );
    assert_eq!(
        answer["error"]["field"],
        "data.object.items.data[0].price.id"
    );
    let record = f
        .store
        .get_request(answer["request"]["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(record.error.unwrap().message.contains("price_gold"));
    assert_eq!(f.tip(), tip);
}

#[tokio::test]
async fn a_subscription_is_provisioned_once_it_is_active() {
    let f = Fixture::new().await;
    let tip = f.tip();
    let (_, answer) = f
        .billing(subscription(
            "evt_a",
            "customer.subscription.created",
            T0,
            "incomplete",
            "price_bronze_monthly",
        ))
        .await;
    assert_eq!(answer["outcome"], "accepted", "{answer}");
    assert_eq!(answer["request"]["action"], "register_tenant");
    assert_eq!(f.tip(), tip, "nothing provisioned before payment");
    let (_, answer) = f
        .billing(subscription(
            "evt_b",
            "customer.subscription.updated",
            T0 + 1,
            "active",
            "price_bronze_monthly",
        ))
        .await;
    assert_eq!(answer["outcome"], "committed", "{answer}");
    assert!(f.spec("acme").contains("tier: bronze"));
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_so_the_sender_retries() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    // Nothing listens on this port: every store call fails.
    let port = berth_tests::free_port();
    let client = berth_store::dynamodb_client(Some(&format!("http://127.0.0.1:{port}")));
    let store = berth_store::DynamoStore::new(client, "missing");
    let server = ApiServer::start(
        repo.to_str().unwrap(),
        &dir.path().join("work"),
        Arc::new(store),
    )
    .await;
    let f = Fixture {
        server,
        repo,
        store: dynamo_store().await,
        client: reqwest::Client::new(),
        _dir: dir,
    };
    let tip = f.tip();
    let response = f
        .signup_response("msg_down", &signup_body("acme"), SIGNUP_SECRET, now())
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(f.tip(), tip, "nothing was committed");
}

/// What a webhook Lambda killed at its timeout leaves in the store: the event's claim, unanswered,
/// held by request `request_id`, its lease `lease_left` seconds from now (past when negative),
/// and the request's record still `accepted`.
async fn interrupted_delivery(
    f: &Fixture,
    event_id: &str,
    body: &str,
    request_id: &str,
    lease_left: i64,
) {
    use berth_store::{IdempotencyRecord, RequestRecord, RequestState};
    f.store
        .release_idempotency("webhook:signup", event_id)
        .await
        .unwrap();
    let claim = IdempotencyRecord {
        source: "webhook:signup".into(),
        key: event_id.into(),
        request_id: request_id.into(),
        fingerprint: berth_usecases::fingerprint::fingerprint(
            "POST",
            "webhook:signup",
            body.as_bytes(),
        ),
        response: None,
        lease_expires_at: now() + lease_left,
        expires_at: now() + 86_400,
    };
    assert_eq!(
        f.store.claim_idempotency(&claim).await.unwrap(),
        berth_store::Claim::Claimed
    );
    let tenant = serde_json::from_str::<Value>(body).unwrap()["data"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = RequestRecord::new(
        request_id,
        "create_tenant",
        "webhook:signup",
        &tenant,
        RequestState::Accepted,
        "2026-11-22T12:00:00Z".into(),
    );
    f.store.put_request(&record).await.unwrap();
}

#[tokio::test]
async fn a_delivery_killed_after_its_commit_is_answered_with_that_commit() {
    let f = Fixture::new().await;
    let body = signup_body("acme");
    let (status, first) = f
        .signup("msg_killed_after", &body, SIGNUP_SECRET, now())
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (request_id, commit) = (
        first["request"]["id"].as_str().unwrap().to_owned(),
        first["request"]["commit"].as_str().unwrap().to_owned(),
    );
    let commits = f.commits();
    // Killed after the push, before the record and the answer were stored; the lease ran out.
    interrupted_delivery(&f, "msg_killed_after", &body, &request_id, -1).await;

    let (status, again) = f
        .signup("msg_killed_after", &body, SIGNUP_SECRET, now())
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["outcome"], "committed", "{again}");
    assert_eq!(again["request"]["id"], request_id.as_str());
    assert_eq!(
        again["request"]["commit"],
        commit.as_str(),
        "answered with that commit"
    );
    assert_eq!(f.commits(), commits, "nothing committed again");
    // And the answer is kept: a third delivery replays it.
    let (_, third) = f
        .signup("msg_killed_after", &body, SIGNUP_SECRET, now())
        .await;
    assert_eq!(third, again);
}

#[tokio::test]
async fn a_delivery_killed_before_its_commit_commits_once_on_redelivery() {
    let f = Fixture::new().await;
    let body = signup_body("beta");
    let request_id = ulid::Ulid::new().to_string();
    let commits = f.commits();
    // Killed with the claim live: a redelivery now is told when to come back.
    interrupted_delivery(&f, "msg_killed_before", &body, &request_id, 30).await;
    let response = f
        .signup_response("msg_killed_before", &body, SIGNUP_SECRET, now())
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let retry_after: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(f.commits(), commits);

    // Once the lease has run out, the redelivery takes the claim over and commits, once, under
    // the interrupted request's id.
    interrupted_delivery(&f, "msg_killed_before", &body, &request_id, -1).await;
    let (status, answer) = f
        .signup("msg_killed_before", &body, SIGNUP_SECRET, now())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "committed", "{answer}");
    assert_eq!(answer["request"]["id"], request_id.as_str());
    assert_eq!(f.commits(), commits + 1);
    let message = git(&f.repo, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.contains(&format!("Berth-Request: {request_id}")),
        "{message}"
    );
    let (_, again) = f
        .signup("msg_killed_before", &body, SIGNUP_SECRET, now())
        .await;
    assert_eq!(again, answer);
    assert_eq!(f.commits(), commits + 1);
}

/// A signed signup delivery, for a router called in-process.
fn signup_request(id: &str, body: &str) -> axum::http::Request<axum::body::Body> {
    let mut request = axum::http::Request::post("/webhooks/signup");
    for (name, value) in signup_headers(id, body, SIGNUP_SECRET, now()) {
        request = request.header(name, value);
    }
    request
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap()
}

/// A Git remote that stalls mid-delivery, on a paused clock: the delivery answers 503 with
/// `Retry-After` once its deadline passes, and hands its claim over at once; when the remote
/// is back, the redelivery takes the claim over and commits, once, under the same request id.
#[tokio::test(start_paused = true)]
async fn a_delivery_held_past_its_deadline_answers_503_and_the_redelivery_commits() {
    use axum::body::to_bytes;
    use berth_gitops::{Git2Committer, Git2Config, RemoteUrl};
    use berth_http::deadline::DEFAULT_REQUEST_BUDGET;
    use berth_http::{ApiConfig, AppState, webhook_router};
    use berth_store::{Claim, IdempotencyRecord, LocalStore};
    use berth_tests::stall::StallingProxy;
    use std::time::Duration;
    use tower::ServiceExt;

    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let daemon = berth_tests::GitDaemon::start(dir.path());
    let proxy = Arc::new(StallingProxy::start(daemon.port));
    let committer = Git2Committer::new(Git2Config::new(
        RemoteUrl::parse(&proxy.git_url("origin")).unwrap(),
        "main",
        dir.path().join("work"),
    ));
    let store = Arc::new(LocalStore::open(dir.path().join("store.json")).unwrap());
    let app = AppState::new(Arc::new(committer), store.clone(), ApiConfig::new(vec![]));
    let router = webhook_router(
        app,
        berth_tests::api_server::webhook_secrets("http://127.0.0.1:9"),
    );
    let deliver = |id: &str, body: &str| router.clone().oneshot(signup_request(id, body));
    let commits = || -> usize {
        git(&repo, &["rev-list", "--count", "main"])
            .trim()
            .parse()
            .unwrap()
    };

    // A first delivery while the remote answers: the cache is warm, as in a running function.
    let warm = deliver("msg_warm", &signup_body("warm")).await.unwrap();
    assert_eq!(warm.status(), StatusCode::OK);
    let before = commits();

    proxy.stall();
    let body = signup_body("acme");
    let stalled = tokio::spawn(deliver("msg_stalled", &body));
    // Waited for off the runtime's thread, which the delivery needs to get that far.
    let held = tokio::task::spawn_blocking({
        let proxy = Arc::clone(&proxy);
        move || proxy.wait_for_stalled(Duration::from_secs(20))
    })
    .await
    .unwrap();
    assert!(held, "the delivery reached the remote");
    // Time passes only on the test's clock: the deadline comes, the remote still says nothing.
    tokio::time::advance(DEFAULT_REQUEST_BUDGET + Duration::from_secs(1)).await;
    let response = stalled.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let answer: Value =
        serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(answer["error"]["code"], "timeout", "{answer}");

    // The claim is handed over: unanswered, its lease already over.
    let probe = IdempotencyRecord {
        source: "webhook:signup".into(),
        key: "msg_stalled".into(),
        request_id: "probe".into(),
        fingerprint: String::new(),
        response: None,
        lease_expires_at: now() + 60,
        expires_at: now() + 86_400,
    };
    let Claim::Existing(claim) = store.claim_idempotency(&probe).await.unwrap() else {
        panic!("the event is still claimed, by the stalled delivery's request")
    };
    assert_eq!(claim.response, None);
    assert!(
        claim.lease_expires_at <= now(),
        "the lease ended with the 503"
    );
    assert_eq!(commits(), before, "nothing landed");

    // The remote is back: the redelivery commits, once, under the stalled request's id.
    proxy.forward();
    let response = deliver("msg_stalled", &body).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value =
        serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(answer["outcome"], "committed", "{answer}");
    assert_eq!(answer["request"]["id"], claim.request_id.as_str());
    assert_eq!(commits(), before + 1);
    let message = git(&repo, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.contains(&format!("Berth-Request: {}", claim.request_id)),
        "{message}"
    );
}
