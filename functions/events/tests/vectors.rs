//! The published test vectors of each scheme, and the ways a signature must fail.

use berth_events::{
    SecretSet, SignatureError, verify_bearer, verify_github, verify_standard_webhooks,
    verify_stripe,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const TOLERANCE: i64 = 300;

fn set(secrets: &[&str]) -> SecretSet {
    SecretSet::parse(&secrets.join(",")).unwrap()
}

// GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITHUB_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn github_documented_vector() {
    assert_eq!(
        verify_github(
            Some(GITHUB_SIGNATURE),
            b"Hello, World!",
            &set(&[GITHUB_SECRET])
        ),
        Ok(())
    );
    assert_eq!(
        verify_github(
            Some(GITHUB_SIGNATURE),
            b"Hello, World?",
            &set(&[GITHUB_SECRET])
        ),
        Err(SignatureError::Mismatch)
    );
    // Rotation: the right secret second in the list.
    assert_eq!(
        verify_github(
            Some(GITHUB_SIGNATURE),
            b"Hello, World!",
            &set(&["an-older-secret-value", GITHUB_SECRET])
        ),
        Ok(())
    );
}

#[test]
fn github_refuses_sha1_truncated_and_missing() {
    let secrets = set(&[GITHUB_SECRET]);
    let body = b"Hello, World!";
    assert_eq!(
        verify_github(
            Some("sha1=0123456789abcdef0123456789abcdef01234567"),
            body,
            &secrets
        ),
        Err(SignatureError::Malformed("X-Hub-Signature-256"))
    );
    assert_eq!(
        verify_github(
            Some(&GITHUB_SIGNATURE[..GITHUB_SIGNATURE.len() - 2]),
            body,
            &secrets
        ),
        Err(SignatureError::Malformed("X-Hub-Signature-256"))
    );
    assert_eq!(
        verify_github(Some("sha256="), body, &secrets),
        Err(SignatureError::Malformed("X-Hub-Signature-256"))
    );
    assert_eq!(
        verify_github(None, body, &secrets),
        Err(SignatureError::Missing("X-Hub-Signature-256"))
    );
}

// The Standard Webhooks reference vector.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TIMESTAMP: i64 = 1614265330;
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn standard(
    signature: &str,
    body: &[u8],
    secrets: &SecretSet,
    now: i64,
) -> Result<i64, SignatureError> {
    verify_standard_webhooks(
        Some(SW_ID),
        Some(&SW_TIMESTAMP.to_string()),
        Some(signature),
        body,
        secrets,
        now,
        TOLERANCE,
    )
}

#[test]
fn standard_webhooks_reference_vector() {
    let secrets = set(&[SW_SECRET]);
    assert_eq!(
        standard(SW_SIGNATURE, SW_BODY, &secrets, SW_TIMESTAMP),
        Ok(SW_TIMESTAMP)
    );
    // Several entries, one of them right; and rotation.
    let several = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {SW_SIGNATURE}");
    assert_eq!(
        standard(&several, SW_BODY, &secrets, SW_TIMESTAMP),
        Ok(SW_TIMESTAMP)
    );
    let rotated = set(&["whsec_c2Vjb25kLXNlY3JldC1rZXktdmFsdWU=", SW_SECRET]);
    assert_eq!(
        standard(SW_SIGNATURE, SW_BODY, &rotated, SW_TIMESTAMP),
        Ok(SW_TIMESTAMP)
    );
}

#[test]
fn standard_webhooks_refuses_what_it_must() {
    let secrets = set(&[SW_SECRET]);
    for bad in [
        "",
        "v1,",
        "v1, ",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O",
        "v1,!!!",
    ] {
        assert!(
            standard(bad, SW_BODY, &secrets, SW_TIMESTAMP).is_err(),
            "{bad:?} must not pass"
        );
    }
    assert_eq!(
        standard(
            SW_SIGNATURE,
            SW_BODY,
            &secrets,
            SW_TIMESTAMP + TOLERANCE + 1
        ),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        standard(
            SW_SIGNATURE,
            SW_BODY,
            &secrets,
            SW_TIMESTAMP - TOLERANCE - 1
        ),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        standard(SW_SIGNATURE, SW_BODY, &secrets, SW_TIMESTAMP + TOLERANCE),
        Ok(SW_TIMESTAMP)
    );
    // The same JSON re-serialized is other bytes: raw bytes only.
    assert_eq!(
        standard(
            SW_SIGNATURE,
            br#"{"test":2432232314}"#,
            &secrets,
            SW_TIMESTAMP
        ),
        Err(SignatureError::Mismatch)
    );
    let missing = verify_standard_webhooks(
        None,
        Some("1"),
        Some(SW_SIGNATURE),
        SW_BODY,
        &secrets,
        1,
        TOLERANCE,
    );
    assert_eq!(missing, Err(SignatureError::Missing("webhook-id")));
}

/// A Stripe-style signature computed from the documented algorithm.
fn stripe_sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

const STRIPE_SECRET: &str = "whsec_test_0123456789abcdefghij";
const NOW: i64 = 1_800_000_000;

#[test]
fn stripe_style_signatures() {
    let body = br#"{"id":"evt_1","type":"customer.subscription.created"}"#;
    let secrets = set(&[STRIPE_SECRET]);
    let good = stripe_sign(STRIPE_SECRET, NOW, body);
    let header = format!("t={NOW},v1={good}");
    assert_eq!(
        verify_stripe(Some(&header), body, &secrets, NOW, TOLERANCE),
        Ok(NOW)
    );
    // v0 and unknown schemes are ignored; any matching v1 passes.
    let header = format!("t={NOW},v0=deadbeef,v1={},v1={good},v9=zz", "00".repeat(32));
    assert_eq!(
        verify_stripe(Some(&header), body, &secrets, NOW, TOLERANCE),
        Ok(NOW)
    );
    // Rotation.
    let rotated = set(&["whsec_previous_secret_value", STRIPE_SECRET]);
    assert_eq!(
        verify_stripe(
            Some(&format!("t={NOW},v1={good}")),
            body,
            &rotated,
            NOW,
            TOLERANCE
        ),
        Ok(NOW)
    );
}

#[test]
fn stripe_style_refusals() {
    let body = br#"{"id":"evt_1"}"#;
    let secrets = set(&[STRIPE_SECRET]);
    let good = stripe_sign(STRIPE_SECRET, NOW, body);
    let check = |header: &str, body: &[u8], now: i64| {
        verify_stripe(Some(header), body, &secrets, now, TOLERANCE)
    };
    assert_eq!(
        check(&format!("t={NOW},v1={good}"), body, NOW + TOLERANCE + 1),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        check(&format!("t={NOW},v1={good}"), body, NOW - TOLERANCE - 1),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        check(&format!("t={NOW},v1={}", &good[..40]), body, NOW),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(&format!("t={NOW},v1="), body, NOW),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(&format!("t={NOW},v0={good}"), body, NOW),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(&format!("v1={good}"), body, NOW),
        Err(SignatureError::Malformed("Stripe-Signature"))
    );
    assert_eq!(
        check(&format!("t={NOW},t={NOW},v1={good}"), body, NOW),
        Err(SignatureError::Malformed("Stripe-Signature"))
    );
    assert_eq!(
        check("", body, NOW),
        Err(SignatureError::Malformed("Stripe-Signature"))
    );
    assert_eq!(
        check(&format!("t={NOW},v1={good}"), br#"{"id": "evt_1"}"#, NOW),
        Err(SignatureError::Mismatch),
        "re-serialized body"
    );
    let other = stripe_sign("whsec_someone_elses_secret", NOW, body);
    assert_eq!(
        check(&format!("t={NOW},v1={other}"), body, NOW),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_stripe(None, body, &secrets, NOW, TOLERANCE),
        Err(SignatureError::Missing("Stripe-Signature"))
    );
}

#[test]
fn bearer_tokens() {
    let secrets = set(&["argocd-token-0123456789", "argocd-token-next-0123456789"]);
    assert_eq!(
        verify_bearer(Some("Bearer argocd-token-next-0123456789"), &secrets),
        Ok(())
    );
    assert_eq!(
        verify_bearer(Some("Bearer argocd-token-012345678"), &secrets),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_bearer(Some("Basic abc"), &secrets),
        Err(SignatureError::Malformed("Authorization"))
    );
    assert_eq!(
        verify_bearer(None, &secrets),
        Err(SignatureError::Missing("Authorization"))
    );
}

#[test]
fn errors_never_echo_what_was_sent() {
    let secrets = set(&[STRIPE_SECRET]);
    let header = format!("t={NOW},v1={}", "ab".repeat(32));
    let err = verify_stripe(Some(&header), b"{}", &secrets, NOW, TOLERANCE)
        .unwrap_err()
        .to_string();
    assert!(
        !err.contains("abab") && !err.contains(STRIPE_SECRET),
        "{err}"
    );
}
