//! Secrets read at run time from Secrets Manager (moto's): the functions hold ARNs only, read
//! the values on first use, keep them for `BERTH_SECRETS_TTL`, and read again early (once a
//! minute at most) when a webhook signature fails against the kept ones. The clock is a manual
//! one only the test moves. The routers are the functions' own (`api_router`, `webhook_router`)
//! behind `live_router`, as the binaries serve them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use berth_http::live_router::live_router;
use berth_http::{Function, Settings, api_router, webhook_router};
use berth_tests::secrets::{CountingReader, MotoSecrets};
use berth_tests::seed_repo;
use berth_usecases::settings::ConfigError;
use berth_usecases::settings::live::Live;
use berth_usecases::settings::secrets::{SecretReader, SecretsManagerReader};
use berth_usecases::time::Clock;
use hmac::{Hmac, Mac};
use tower::ServiceExt;

const OLD: &str = "github-secret-before-rotation-0123";
const NEW: &str = "github-secret-after-rotation-45678";

fn webhook_secrets_json(github: &str) -> String {
    serde_json::json!({
        "billing": "whsec_billing_runtime_0123456789",
        "signup": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "github": github,
        "argocd": "argocd-runtime-token-0123456789",
    })
    .to_string()
}

struct Served {
    router: Router,
    clock: Clock,
    _dir: tempfile::TempDir,
}

/// The environment of a function whose Git and store are local, plus `extra`.
fn base_env(dir: &std::path::Path, extra: &[(&str, String)]) -> HashMap<String, String> {
    let repo = seed_repo(dir, "origin");
    let mut env: HashMap<String, String> = [
        ("BERTH_GIT_REMOTE", repo.display().to_string()),
        ("BERTH_WORK_DIR", dir.join("work").display().to_string()),
        (
            "BERTH_STORE_FILE",
            dir.join("store.json").display().to_string(),
        ),
        ("BERTH_GITHUB_API_URL", "http://127.0.0.1:9".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    env
}

fn start(
    function: Function,
    extra: &[(&str, String)],
    reader: Arc<dyn SecretReader>,
) -> Result<Served, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(dir.path(), extra);
    let clock = Clock::manual(1_800_000_000);
    let live = Live::from_env(
        Arc::new(move |name| env.get(name).cloned()),
        clock.clone(),
        || reader,
        Box::new(move |var| {
            let mut settings = Settings::from_env(function, var)?;
            let webhooks = settings.webhooks.take();
            let state = settings.into_state()?;
            Ok(match webhooks {
                Some(secrets) => webhook_router(state, secrets),
                None => api_router(state),
            })
        }),
    )?;
    Ok(Served {
        router: live_router(Arc::new(live)),
        clock,
        _dir: dir,
    })
}

/// The webhook function with every sender's secret in one JSON secret, by key.
async fn webhook_function(moto: &MotoSecrets, reader: Arc<CountingReader>) -> (Served, String) {
    let arn = moto.create("webhooks", &webhook_secrets_json(OLD)).await;
    let extra: Vec<(&str, String)> = ["BILLING", "SIGNUP", "GITHUB", "ARGOCD"]
        .iter()
        .map(|sender| {
            let var: &'static str =
                Box::leak(format!("BERTH_WEBHOOK_SECRETS_{sender}_ARN").into_boxed_str());
            (var, format!("{arn}#{}", sender.to_lowercase()))
        })
        .collect();
    let function = start(Function::Webhook, &extra, reader).expect("starts with ARNs only");
    (function, arn)
}

/// GitHub's ping, delivery `n`, signed with `secret`: its status.
async fn ping(router: &Router, n: u32, secret: &str) -> StatusCode {
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let request = Request::post("/webhooks/github")
        .header("content-type", "application/json")
        .header("x-github-event", "ping")
        .header(
            "x-github-delivery",
            format!("d6f1c0de-0000-4000-8000-{n:012}"),
        )
        .header("x-hub-signature-256", signature)
        .body(Body::from(&body[..]))
        .unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_webhook_secret_is_read_again_after_the_ttl() {
    let moto = MotoSecrets::new();
    let reader = moto.counting_reader();
    let (f, arn) = webhook_function(&moto, reader.clone()).await;
    assert_eq!(
        reader.reads(),
        0,
        "nothing is read before the first request"
    );
    assert_eq!(ping(&f.router, 1, OLD).await, StatusCode::OK);
    assert_eq!(reader.reads(), 1, "one read serves the four senders' keys");

    // A bad signature spends this minute's early read; nothing has rotated yet.
    assert_eq!(
        ping(&f.router, 2, "not-the-secret-at-all-0123").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(reader.reads(), 2);
    moto.rotate(&arn, &webhook_secrets_json(NEW)).await;
    f.clock.advance(Duration::from_secs(30));
    assert_eq!(
        ping(&f.router, 3, NEW).await,
        StatusCode::UNAUTHORIZED,
        "within the minute no early read: the kept secret still serves"
    );
    assert_eq!(ping(&f.router, 4, OLD).await, StatusCode::OK);
    assert_eq!(reader.reads(), 2);

    // Past the TTL (5 minutes by default) the rotation is read, with no redeploy.
    f.clock.advance(Duration::from_secs(300));
    assert_eq!(ping(&f.router, 5, NEW).await, StatusCode::OK);
    assert_eq!(reader.reads(), 3);
    assert_eq!(ping(&f.router, 6, NEW).await, StatusCode::OK);
    assert_eq!(reader.reads(), 3, "kept for the TTL");
    f.clock.advance(Duration::from_secs(61));
    assert_eq!(ping(&f.router, 7, OLD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(reader.reads(), 4, "the early read found nothing new");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_that_rotated_first_is_accepted_after_one_early_read() {
    let moto = MotoSecrets::new();
    let reader = moto.counting_reader();
    let (f, arn) = webhook_function(&moto, reader.clone()).await;
    assert_eq!(ping(&f.router, 1, OLD).await, StatusCode::OK);
    moto.rotate(&arn, &webhook_secrets_json(NEW)).await;
    f.clock.advance(Duration::from_secs(10));
    assert_eq!(
        ping(&f.router, 2, NEW).await,
        StatusCode::OK,
        "the refused signature read the secrets early and was tried again"
    );
    assert_eq!(reader.reads(), 2);
    assert_eq!(ping(&f.router, 3, NEW).await, StatusCode::OK);
    assert_eq!(reader.reads(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_signatures_read_the_secrets_early_at_most_once_a_minute() {
    let moto = MotoSecrets::new();
    let reader = moto.counting_reader();
    let (f, _) = webhook_function(&moto, reader.clone()).await;
    for n in 0..100 {
        assert_eq!(
            ping(&f.router, n, "forged-secret-0123456789").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(reader.reads(), 2, "the first read, and one early read");
    f.clock.advance(Duration::from_secs(59));
    for n in 100..200 {
        ping(&f.router, n, "forged-secret-0123456789").await;
    }
    assert_eq!(reader.reads(), 2, "still within the minute");
    f.clock.advance(Duration::from_secs(2));
    for n in 200..300 {
        ping(&f.router, n, "forged-secret-0123456789").await;
    }
    assert_eq!(reader.reads(), 3, "one more in the next minute");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_manager_down_at_first_use_answers_503_and_later_serves() {
    let moto = MotoSecrets::new();
    let arn = moto
        .create("api-tokens", "admin=runtime-admin-token-0123456789")
        .await;
    let down = Arc::new(SecretsManagerReader::new(Some("http://127.0.0.1:9".into())));
    let f = start(
        Function::Api,
        &[("BERTH_API_TOKENS_ARN", arn.clone())],
        down,
    )
    .unwrap();
    let request = || {
        Request::get("/v1/tenants")
            .header("authorization", "Bearer runtime-admin-token-0123456789")
            .body(Body::empty())
            .unwrap()
    };
    let answer = f.router.clone().oneshot(request()).await.unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers().contains_key("retry-after"));
    let body = axum::body::to_bytes(answer.into_body(), 10_000)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("secrets_unavailable"), "{body}");
    assert!(
        !body.contains(&arn),
        "the secret's ARN is the operator's, not the caller's: {body}"
    );

    // The same function with Secrets Manager up: the token read at run time lets the admin in.
    let f = start(
        Function::Api,
        &[("BERTH_API_TOKENS_ARN", arn)],
        moto.counting_reader(),
    )
    .unwrap();
    let answer = f.router.clone().oneshot(request()).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

#[test]
fn a_value_and_an_arn_for_one_secret_are_refused_together() {
    let err = start(
        Function::Api,
        &[
            (
                "BERTH_API_TOKENS",
                "admin=runtime-admin-token-0123456789".into(),
            ),
            ("BERTH_API_TOKENS_ARN", "berth/api-tokens".into()),
        ],
        Arc::new(SecretsManagerReader::new(Some("http://127.0.0.1:9".into()))),
    )
    .err()
    .expect("refused");
    let message = err.to_string();
    assert!(
        message.starts_with("BERTH_API_TOKENS: is set, and so is BERTH_API_TOKENS_ARN"),
        "{message}"
    );
    assert!(message.contains("drop BERTH_API_TOKENS"), "{message}");
    assert!(
        !message.contains("runtime-admin-token"),
        "the value never appears: {message}"
    );
}
