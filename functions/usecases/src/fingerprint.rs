//! A digest of what was asked, to tell a replay from a different request under the same key,
//! and one event from another when the sender gives no id.

use sha2::{Digest, Sha256};

/// SHA-256 over `method`, `path_and_query` and `body`, in hex.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b" ");
    hash.update(path_and_query.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}
