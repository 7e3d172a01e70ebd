//! Any `Stripe-Signature` header and body: verification never panics, and never passes without
//! the secret.
#![no_main]

use berth_events::{SecretSet, verify_stripe};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    let Ok(header) = std::str::from_utf8(header) else { return };
    let secrets = SecretSet::parse("whsec_fuzzing_secret_0123456789").unwrap();
    assert!(verify_stripe(Some(header), body, &secrets, 1_800_000_000, 300).is_err());
});
