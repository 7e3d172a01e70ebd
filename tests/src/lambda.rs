//! A Lambda function run as Lambda runs it: cargo-lambda's runtime emulator (`cargo lambda watch
//! --only-lambda-apis`, installed by `scripts/test` into `.venv`) serves the Lambda runtime API
//! on loopback, the function's real release-or-debug binary polls it, and an invocation is the
//! HTTP call `cargo lambda invoke` makes. Both processes stop when the value is dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::net::{free_port, wait_for_port};

/// How long one invocation may take before the test fails (the emulator's own limit).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The name the emulator gives a function started outside it.
const FUNCTION_NAME: &str = "_";

/// cargo-lambda's emulator of the Lambda runtime API and invoke API, on a loopback port.
pub struct Emulator {
    process: Child,
    port: u16,
    client: reqwest::Client,
}

/// The emulator binary `scripts/test` exports.
fn cargo_lambda() -> std::path::PathBuf {
    crate::tools::tool("BERTH_CARGO_LAMBDA")
}

impl Emulator {
    /// Starts `cargo lambda watch --only-lambda-apis` on a free loopback port.
    pub fn start() -> Self {
        let port = free_port();
        let process = Command::new(cargo_lambda())
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
            .args(["-P", &port.to_string()])
            .args(["--timeout", &INVOKE_TIMEOUT.as_secs().to_string()])
            .current_dir(crate::project_root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start cargo lambda watch: {e}"));
        let emulator = Self {
            process,
            port,
            client: reqwest::Client::builder()
                .timeout(INVOKE_TIMEOUT + Duration::from_secs(5))
                .build()
                .expect("http client"),
        };
        assert!(
            wait_for_port(port, Duration::from_secs(60)),
            "cargo lambda watch did not listen on 127.0.0.1:{port}"
        );
        emulator
    }

    /// Starts `binary` as the function this emulator serves, with the variables Lambda sets and
    /// `env` on top of this process's environment (AWS credentials, moto's endpoint).
    pub fn spawn_function(&self, binary: &Path, env: &[(&str, String)]) -> Child {
        let mut command = Command::new(binary);
        command
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt", self.port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("BERTH_LOG", "warn")
            .stdout(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()))
    }

    /// Delivers `event` and returns the function's response, as `cargo lambda invoke` prints it.
    pub async fn invoke(&self, event: &Value) -> Value {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{FUNCTION_NAME}/invocations",
            self.port
        );
        let response = self
            .client
            .post(url)
            .json(event)
            .send()
            .await
            .expect("invoke through the emulator");
        let status = response.status();
        let text = response.text().await.expect("invocation response");
        assert!(
            status.is_success(),
            "the emulator answered {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One function under its own emulator; both stop when dropped.
pub struct LambdaFunction {
    function: Child,
    emulator: Emulator,
}

impl LambdaFunction {
    pub fn start(binary: &Path, env: &[(&str, String)]) -> Self {
        let emulator = Emulator::start();
        let function = emulator.spawn_function(binary, env);
        Self { function, emulator }
    }

    pub async fn invoke(&self, event: &Value) -> Value {
        self.emulator.invoke(event).await
    }
}

impl Drop for LambdaFunction {
    fn drop(&mut self) {
        let _ = self.function.kill();
        let _ = self.function.wait();
    }
}

/// An API Gateway HTTP API (payload format 2.0) event for `method` `path`, with the JWT
/// authorizer's `claims` in its request context when given, as API Gateway sends it.
pub fn http_api_event(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    claims: Option<&[(&str, &str)]>,
) -> Value {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut header_map = serde_json::Map::new();
    header_map.insert(
        "host".into(),
        json!("abc123.execute-api.us-east-1.amazonaws.com"),
    );
    header_map.insert("user-agent".into(), json!("berth-tests"));
    for (name, value) in headers {
        header_map.insert(name.to_ascii_lowercase(), json!(value));
    }
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": "abc123",
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "abc123",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                 "sourceIp": "192.0.2.10", "userAgent": "berth-tests"},
        "requestId": ulid::Ulid::new().to_string(),
        "routeKey": "$default",
        "stage": "$default",
        "time": "22/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1_795_000_000_000_u64,
    });
    if let Some(claims) = claims {
        let claims: serde_json::Map<String, Value> = claims
            .iter()
            .map(|(k, v)| ((*k).into(), json!(v)))
            .collect();
        context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": header_map,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    if let Some(body) = body {
        match std::str::from_utf8(body) {
            Ok(text) => event["body"] = json!(text),
            Err(_) => panic!("use http_api_event_base64 for a binary body"),
        }
    }
    event
}

/// Like [`http_api_event`], with the body base64-encoded (`isBase64Encoded: true`), as API
/// Gateway sends a body it does not take for text.
pub fn http_api_event_base64(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Value {
    use base64::Engine;
    let mut event = http_api_event(method, path, headers, None, None);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    event["isBase64Encoded"] = json!(true);
    event
}

/// The status and JSON body of an API Gateway (payload 2.0) response.
pub fn http_response(response: &Value) -> (u16, Value) {
    let status = response["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("no statusCode in {response}")) as u16;
    let body = response["body"].as_str().unwrap_or_default();
    let body = if response["isBase64Encoded"] == json!(true) {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64 body");
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        body.to_owned()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// A fresh table on moto's server, for a function under the emulator to use by name.
pub async fn moto_table() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let table = format!("berth-lambda-{}-{n}", std::process::id());
    let client = berth_store::dynamodb_client(Some(&crate::dynamodb_endpoint()));
    berth_store::create_table(&client, &table)
        .await
        .expect("create the table on moto's server");
    table
}
