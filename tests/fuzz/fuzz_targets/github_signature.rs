//! Any `X-Hub-Signature-256` header and body: verification never panics, and never passes
//! without the secret.
#![no_main]

use berth_events::{SecretSet, verify_github};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    let Ok(header) = std::str::from_utf8(header) else { return };
    let secrets = SecretSet::parse("a-fuzzing-secret-of-ours").unwrap();
    assert!(verify_github(Some(header), body, &secrets).is_err());
});
