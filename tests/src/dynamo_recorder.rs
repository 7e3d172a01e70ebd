//! A loopback proxy in front of moto's DynamoDB server that counts the DynamoDB operations that
//! pass through it (the `X-Amz-Target` header: `DynamoDB_20120810.PutItem` → `PutItem`), so a
//! test can compare what a function's real binary calls with what its IAM policy grants, and a
//! benchmark can say how many store calls a run made. It also reads every answer and counts the
//! items returned, by the family their `PK` names (`REQUEST`, `TENANT`, `IDEMP`, ...), and the
//! items a Query or Scan examined (`ScannedCount`, what DynamoDB bills): what a test needs to
//! show a sweep reads no request, claim or customer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use tokio::task::JoinHandle;

#[derive(Clone)]
struct Forward {
    target: String,
    client: reqwest::Client,
    seen: Arc<Mutex<Tally>>,
    refusal: Arc<Mutex<Option<Refusal>>>,
}

/// Calls whose body holds `needle` pass `allowed` times, then are answered 500, as a store
/// that stopped answering (or a process that died before the call) leaves them.
struct Refusal {
    needle: String,
    allowed: usize,
    seen: usize,
}

impl Refusal {
    fn refuses(&mut self, body: &[u8]) -> bool {
        let needle = self.needle.as_bytes();
        if !body.windows(needle.len()).any(|w| w == needle) {
            return false;
        }
        self.seen += 1;
        self.seen > self.allowed
    }
}

/// What passed through so far.
#[derive(Debug, Clone, Default)]
struct Tally {
    calls: BTreeMap<String, usize>,
    /// Items returned by GetItem, Query, Scan and BatchGetItem, by `PK` family.
    items: BTreeMap<String, usize>,
    /// Items Queries and Scans examined, returned or filtered out.
    scanned: usize,
}

impl Tally {
    fn count_answer(&mut self, body: &[u8]) {
        let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let mut items: Vec<&serde_json::Value> = answer["Items"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        if answer["Item"].is_object() {
            items.push(&answer["Item"]);
        }
        if let Some(tables) = answer["Responses"].as_object() {
            items.extend(tables.values().filter_map(|t| t.as_array()).flatten());
        }
        for item in items {
            let pk = item["PK"]["S"].as_str().unwrap_or_default();
            let family = pk.split('#').next().unwrap_or_default();
            *self.items.entry(family.to_owned()).or_default() += 1;
        }
        self.scanned += answer["ScannedCount"].as_u64().unwrap_or(0) as usize;
    }
}

pub struct DynamoRecorder {
    /// The endpoint to give the function (`AWS_ENDPOINT_URL_DYNAMODB`).
    pub url: String,
    seen: Arc<Mutex<Tally>>,
    refusal: Arc<Mutex<Option<Refusal>>>,
    task: JoinHandle<()>,
}

impl DynamoRecorder {
    /// Forwards everything to moto's server (`BERTH_TEST_DYNAMODB_ENDPOINT`).
    pub async fn start() -> Self {
        Self::forwarding_to(crate::dynamodb_endpoint()).await
    }

    /// Forwards everything to the DynamoDB emulator at `target` (a loopback address).
    pub async fn forwarding_to(target: String) -> Self {
        let seen = Arc::new(Mutex::new(Tally::default()));
        let refusal = Arc::new(Mutex::new(None));
        let forward = Forward {
            target,
            client: reqwest::Client::new(),
            seen: Arc::clone(&seen),
            refusal: Arc::clone(&refusal),
        };
        let router = Router::new().fallback(forward_one).with_state(forward);
        let (url, task) = crate::serve::serve_loopback(router).await;
        Self {
            url,
            seen,
            refusal,
            task,
        }
    }

    /// From now on, lets `allowed` calls whose body holds `needle` through and answers every
    /// later one `500 InternalServerError` without passing it on.
    pub fn refuse_after(&self, needle: &str, allowed: usize) {
        if let Ok(mut refusal) = self.refusal.lock() {
            *refusal = Some(Refusal {
                needle: needle.to_owned(),
                allowed,
                seen: 0,
            });
        }
    }

    /// The operations seen so far, by name.
    pub fn operations(&self) -> BTreeSet<String> {
        self.calls().into_keys().collect()
    }

    /// How many calls of each operation were seen so far.
    pub fn calls(&self) -> BTreeMap<String, usize> {
        self.tally().calls
    }

    /// How many items were returned so far, by the family of their `PK` (`TENANT#acme` is a
    /// `TENANT` item).
    pub fn items_returned(&self) -> BTreeMap<String, usize> {
        self.tally().items
    }

    /// How many items Queries and Scans examined so far.
    pub fn items_scanned(&self) -> usize {
        self.tally().scanned
    }

    /// Starts counting afresh.
    pub fn reset(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Tally::default();
        }
    }

    fn tally(&self) -> Tally {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for DynamoRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward_one(
    State(forward): State<Forward>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(operation) = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('.').next())
        && let Ok(mut seen) = forward.seen.lock()
    {
        *seen.calls.entry(operation.to_owned()).or_default() += 1;
    }
    let refused = forward
        .refusal
        .lock()
        .map(|mut r| r.as_mut().is_some_and(|r| r.refuses(&body)))
        .unwrap_or(false);
    if refused {
        let error = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"refused by the test"}"#;
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .header("content-type", "application/x-amz-json-1.0")
            .body(Body::from(error))
            .unwrap_or_else(|_| Response::new(Body::empty()));
    }
    let mut request = forward.client.request(method, &forward.target).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            if let Ok(mut seen) = forward.seen.lock() {
                seen.count_answer(&bytes);
            }
            response
                .body(Body::from(bytes))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Err(e) => Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from(e.to_string()))
            .unwrap_or_else(|_| Response::new(Body::empty())),
    }
}

/// Asserts that every DynamoDB operation `recorder` saw is granted to `function` in the SAM
/// template, and that the grants beyond them are exactly `unexercised` (paths a scenario does
/// not take, named by the caller with the reason).
pub fn assert_grants_match(recorder: &DynamoRecorder, function: &str, unexercised: &[&str]) {
    let granted = granted_dynamodb_actions(function);
    let called = recorder.operations();
    assert!(
        called.is_subset(&granted),
        "{function} called {called:?}, but is granted only {granted:?}"
    );
    assert_eq!(
        granted.difference(&called).collect::<Vec<_>>(),
        unexercised,
        "{function} is granted more than it calls"
    );
}

/// The DynamoDB actions the SAM template grants the function `logical_id`, without the
/// `dynamodb:` prefix.
pub fn granted_dynamodb_actions(logical_id: &str) -> BTreeSet<String> {
    let path = crate::project_root().join("infra/aws/template.yaml");
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_slice(&std::fs::read(&path).expect("read the SAM template"))
            .expect("the SAM template parses");
    let policies = &template["Resources"][logical_id]["Properties"]["Policies"];
    let mut granted = BTreeSet::new();
    for policy in policies.as_sequence().into_iter().flatten() {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            for action in statement["Action"].as_sequence().into_iter().flatten() {
                if let Some(name) = action.as_str().and_then(|a| a.strip_prefix("dynamodb:")) {
                    granted.insert(name.to_owned());
                }
            }
        }
    }
    granted
}
