//! The signature schemes of the webhooks (the README's "Webhooks"). Each takes the raw body and the relevant headers'
//! values, and either passes or says why not, without echoing what it was given.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::SecretSet;

type HmacSha256 = Hmac<Sha256>;

/// How far a signed timestamp may be from now, either way, by default.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error("the signed timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// Whether any of `keys` signs `parts` (concatenated) as one of `candidates`, in constant time.
fn any_key_signs(keys: &[Vec<u8>], parts: &[&[u8]], candidates: &[Vec<u8>]) -> bool {
    let mut matched = false;
    for key in keys {
        let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
            continue;
        };
        for part in parts {
            mac.update(part);
        }
        let tag = mac.finalize().into_bytes();
        for candidate in candidates {
            // Every pair is compared, whatever matched before.
            matched |= bool::from(tag.as_slice().ct_eq(candidate.as_slice()));
        }
    }
    matched
}

fn check_timestamp(timestamp: i64, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    if (now - timestamp).abs() > tolerance {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Stripe style: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 of
/// `<t>.<body>` keyed with the `whsec_...` string's bytes. `v0` and unknown schemes are ignored;
/// any matching `v1` passes. Returns the signed timestamp.
pub fn verify_stripe(
    header: Option<&str>,
    body: &[u8],
    secrets: &SecretSet,
    now: i64,
    tolerance: i64,
) -> Result<i64, SignatureError> {
    const NAME: &str = "Stripe-Signature";
    let header = header.ok_or(SignatureError::Missing(NAME))?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for item in header.split(',') {
        let (key, value) = item
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed(NAME))?;
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed(NAME))?,
                );
            }
            "t" => return Err(SignatureError::Malformed(NAME)),
            // A v1 that is not 32 bytes of hex can never match: leave it out.
            "v1" => {
                if let Ok(bytes) = hex::decode(value)
                    && bytes.len() == 32
                {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed(NAME))?;
    if candidates.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    check_timestamp(timestamp, now, tolerance)?;
    let keys: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
    let t = timestamp.to_string();
    if any_key_signs(&keys, &[t.as_bytes(), b".", body], &candidates) {
        Ok(timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` (space-separated
/// `v1,<base64>` entries), HMAC-SHA256 of `<id>.<timestamp>.<body>` keyed with the base64 after
/// `whsec_`. An empty or malformed entry never passes. Returns the signed timestamp.
///
/// The signature each secret makes is the scheme's own crate's (`standardwebhooks`, from the
/// specification's authors). Its `verify` is not called: it reads the system clock with a fixed
/// 5-minute tolerance, where Berth applies `BERTH_WEBHOOK_TOLERANCE_SECONDS` and its tests a fixed
/// clock; and it stops at the first matching entry, where every entry is compared here with
/// every secret, in constant time.
pub fn verify_standard_webhooks(
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    secrets: &SecretSet,
    now: i64,
    tolerance: i64,
) -> Result<i64, SignatureError> {
    let id = id
        .filter(|i| !i.is_empty())
        .ok_or(SignatureError::Missing("webhook-id"))?;
    let raw_timestamp = timestamp.ok_or(SignatureError::Missing("webhook-timestamp"))?;
    let signature = signature.ok_or(SignatureError::Missing("webhook-signature"))?;
    let ts: i64 = raw_timestamp
        .parse()
        .ok()
        // What is signed is the timestamp as sent: one that does not read back the same (a
        // leading zero, a sign) could be signed over other text than the one checked.
        .filter(|ts: &i64| ts.to_string() == raw_timestamp)
        .ok_or(SignatureError::Malformed("webhook-timestamp"))?;
    let candidates: Vec<&str> = signature
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter(|b64| !b64.is_empty())
        .collect();
    if candidates.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    check_timestamp(ts, now, tolerance)?;
    let mut matched = false;
    for secret in secrets.iter() {
        // A secret that is empty or not base64 after `whsec_` can never sign: it is left out.
        if secret.strip_prefix("whsec_").unwrap_or(secret).is_empty() {
            continue;
        }
        let Ok(webhook) = standardwebhooks::Webhook::new(secret) else {
            continue;
        };
        // A body that is not UTF-8 is one the scheme's crate cannot sign: nothing matches it.
        let Ok(signed) = webhook.sign(id, ts, body) else {
            continue;
        };
        let expected = signed.split_once(',').map_or("", |(_, b64)| b64);
        for candidate in &candidates {
            // Every pair is compared, whatever matched before.
            matched |= bool::from(candidate.as_bytes().ct_eq(expected.as_bytes()));
        }
    }
    if matched {
        Ok(ts)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body. `sha1=` is refused.
pub fn verify_github(
    header: Option<&str>,
    body: &[u8],
    secrets: &SecretSet,
) -> Result<(), SignatureError> {
    const NAME: &str = "X-Hub-Signature-256";
    let header = header.ok_or(SignatureError::Missing(NAME))?;
    let hex_signature = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed(NAME))?;
    let candidate = hex::decode(hex_signature)
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or(SignatureError::Malformed(NAME))?;
    let keys: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
    if any_key_signs(&keys, &[body], &[candidate]) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A bearer token (Argo CD notifications): `Authorization: Bearer <token>`, compared in
/// constant time (through digests, so lengths do not leak) with every configured secret.
pub fn verify_bearer(header: Option<&str>, secrets: &SecretSet) -> Result<(), SignatureError> {
    const NAME: &str = "Authorization";
    let header = header.ok_or(SignatureError::Missing(NAME))?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or(SignatureError::Malformed(NAME))?
        .trim();
    let presented = Sha256::digest(token.as_bytes());
    let mut matched = false;
    for secret in secrets.iter() {
        matched |= bool::from(
            Sha256::digest(secret.as_bytes())
                .as_slice()
                .ct_eq(presented.as_slice()),
        );
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}
