//! Any signup data: the create-tenant parser never panics, and a name it accepts is one safe
//! path segment.
#![no_main]

use berth_core::body::parse_create_tenant;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok((name, new)) = parse_create_tenant(&value) {
        let name = name.as_str();
        assert!(!name.is_empty() && !name.contains('/') && !name.contains('.'));
        assert!(!new.envs.is_empty());
    }
});
