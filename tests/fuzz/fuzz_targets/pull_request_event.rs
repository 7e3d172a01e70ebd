//! Any body: the pull request parser never panics, and the repository and commit it lets
//! through are safe to put into a GitHub API path.
#![no_main]

use berth_events::events::parse_pull_request_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = parse_pull_request_event(data) {
        if let Ok((owner, name)) = event.owner_and_name() {
            for part in [owner, name] {
                assert!(!part.contains('/') && !part.contains('?') && !part.contains('#'));
            }
        }
        if let Ok(sha) = event.head_commit() {
            assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
});
