//! Any body: the billing event parser never panics, and what it accepts has an id and a customer.
#![no_main]

use berth_events::billing::{BillingEventKind, parse_billing_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = parse_billing_event(data) {
        assert!(!event.id.is_empty());
        assert!(matches!(event.kind, BillingEventKind::Other(_)) || !event.customer.is_empty());
    }
});
