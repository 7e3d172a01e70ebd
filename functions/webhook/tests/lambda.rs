//! The webhook function as Lambda runs it: the real binary under cargo-lambda's runtime
//! emulator, API Gateway HTTP API events whose bodies are base64-encoded (as API Gateway sends a
//! body it does not take for text), signatures verified over the decoded raw bytes.

use berth_tests::dynamo_recorder::{DynamoRecorder, assert_grants_match};
use berth_tests::lambda::{LambdaFunction, http_api_event_base64, http_response, moto_table};
use berth_tests::secrets::MotoSecrets;
use berth_tests::{git, seed_repo};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

const BILLING_SECRET: &str = "whsec_billing_lambda_0123456789";
const GITHUB_SECRET: &str = "github-lambda-secret-0123456789";

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn signed_base64_deliveries_commit_once() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let dynamodb = DynamoRecorder::start().await;
    let moto = MotoSecrets::new();
    let secret = moto
        .create(
            "webhooks",
            &serde_json::json!({
                "billing": BILLING_SECRET,
                "signup": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "github": GITHUB_SECRET,
                "argocd": "argocd-lambda-token-0123456789",
            })
            .to_string(),
        )
        .await;
    let env = [
        ("BERTH_GIT_REMOTE", repo.display().to_string()),
        (
            "BERTH_WORK_DIR",
            dir.path().join("work").display().to_string(),
        ),
        ("BERTH_TABLE", moto_table().await),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url.clone()),
        // As the template gives them: names only, the values read from Secrets Manager.
        (
            "BERTH_WEBHOOK_SECRETS_BILLING_ARN",
            format!("{secret}#billing"),
        ),
        (
            "BERTH_WEBHOOK_SECRETS_SIGNUP_ARN",
            format!("{secret}#signup"),
        ),
        (
            "BERTH_WEBHOOK_SECRETS_GITHUB_ARN",
            format!("{secret}#github"),
        ),
        (
            "BERTH_WEBHOOK_SECRETS_ARGOCD_ARN",
            format!("{secret}#argocd"),
        ),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint.clone()),
        ("BERTH_GITHUB_API_URL", "http://127.0.0.1:9".into()),
    ];
    let function = LambdaFunction::start(std::path::Path::new(env!("CARGO_BIN_EXE_webhook")), &env);

    // GitHub's ping, signed over the raw bytes.
    let ping = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let signature = format!("sha256={}", hmac_hex(GITHUB_SECRET, ping));
    let headers = [
        ("content-type", "application/json"),
        ("x-github-event", "ping"),
        ("x-github-delivery", "d6f1c0de-0000-4000-8000-000000000001"),
        ("x-hub-signature-256", signature.as_str()),
    ];
    let event = http_api_event_base64("POST", "/webhooks/github", &headers, ping);
    let (status, body) = http_response(&function.invoke(&event).await);
    assert_eq!(status, 200, "{body}");

    // A subscription, Stripe-style; non-ASCII text in the body makes any re-encoding show.
    let subscription = json!({"id": "evt_lambda_1", "type": "customer.subscription.created",
        "created": now(), "data": {"object": {
            "id": "sub_1", "customer": "cus_1", "status": "active",
            "description": "Abonnement für Café ☕",
            "items": {"data": [{"price": {"id": "price_standard_monthly"}}]},
            "metadata": {"tenant": "acme", "envs": "dev", "modules": "postgres"}}}})
    .to_string();
    let t = now();
    let signed = format!("{t}.{subscription}");
    let stripe = format!("t={t},v1={}", hmac_hex(BILLING_SECRET, signed.as_bytes()));
    let headers = [
        ("content-type", "application/json"),
        ("stripe-signature", stripe.as_str()),
    ];
    let event = http_api_event_base64(
        "POST",
        "/webhooks/billing",
        &headers,
        subscription.as_bytes(),
    );
    let commits = || {
        git(&repo, &["rev-list", "--count", "main"])
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    let before = commits();
    let (status, first) = http_response(&function.invoke(&event).await);
    assert_eq!(
        (status, first["outcome"].as_str()),
        (200, Some("committed")),
        "{first}"
    );
    assert_eq!(commits(), before + 1);
    let spec = git(&repo, &["show", "main:tenants/acme/tenant.yaml"]);
    assert!(spec.contains("tier: standard"), "{spec}");

    // The same delivery again: the first answer, nothing committed.
    let (status, again) = http_response(&function.invoke(&event).await);
    assert_eq!((status, &again), (200, &first));
    assert_eq!(commits(), before + 1);

    // A body changed in transit fails its signature.
    let tampered = subscription.replace("Café", "Cafe");
    let event = http_api_event_base64("POST", "/webhooks/billing", &headers, tampered.as_bytes());
    let (status, body) = http_response(&function.invoke(&event).await);
    assert_eq!(status, 401, "{body}");

    // An Argo CD notification: the Application's status recorded, the tenant's requests moved.
    let notification = json!({"application": "acme-dev-postgres", "tenant": "acme", "env": "dev",
        "module": "postgres", "health": "Healthy", "sync": "Synced",
        "revision": git(&repo, &["rev-parse", "main"]).trim(),
        "reconciled_at": "2026-11-22T02:00:00Z"})
    .to_string();
    let argocd = [
        ("content-type", "application/json"),
        ("authorization", "Bearer argocd-lambda-token-0123456789"),
    ];
    let event = http_api_event_base64("POST", "/webhooks/argocd", &argocd, notification.as_bytes());
    let (status, body) = http_response(&function.invoke(&event).await);
    assert_eq!(status, 200, "{body}");

    // Every DynamoDB operation the function called is granted to it, and nothing more.
    assert_grants_match(&dynamodb, "WebhookFunction", &[]);
}
