//! Any Standard Webhooks headers and body: verification never panics, and never passes without
//! the secret.
#![no_main]

use berth_events::{SecretSet, verify_standard_webhooks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '\n');
    let (id, timestamp, signature, body) = (parts.next(), parts.next(), parts.next(), parts.next().unwrap_or(""));
    let secrets = SecretSet::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let result = verify_standard_webhooks(id, timestamp, signature, body.as_bytes(), &secrets, 1_614_265_330, 300);
    assert!(result.is_err());
});
