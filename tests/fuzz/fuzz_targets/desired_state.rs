//! Any tenants tree: the sweep's reader of Git's desired state never panics, and every tenant it
//! accepts is one whose folder holds a readable tenant.yaml, with environments only from paths.
#![no_main]

use berth_core::{RepoFiles, desired_state};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Entries separated by NUL, each `path\ncontent`, all under tenants/.
    let mut files = RepoFiles::new();
    for entry in data.split(|b| *b == 0) {
        let (path, content) = match entry.iter().position(|b| *b == b'\n') {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry, &b""[..]),
        };
        let path = format!("tenants/{}", String::from_utf8_lossy(path));
        files.insert(path, content.to_vec());
    }
    let state = desired_state(&files);
    for (tenant, desired) in &state.tenants {
        assert!(files.contains_key(&format!("tenants/{tenant}/tenant.yaml")));
        for env in desired.envs.keys() {
            let prefix = format!("tenants/{tenant}/{env}/");
            assert!(files.keys().any(|p| p.starts_with(&prefix)));
        }
    }
});
