//! Any body: the Argo CD notification parser never panics, and what it accepts names a tenant,
//! an env and a health.
#![no_main]

use berth_events::events::parse_argocd_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = parse_argocd_event(data) {
        assert!(!event.tenant.is_empty() && !event.env.is_empty() && !event.health.is_empty());
    }
});
