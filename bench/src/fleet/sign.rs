//! Signs admin calls the way the node checks them (`node/src/auth.rs`): HMAC-SHA256 with the cluster
//! key over `p2pfaas-v1\n{method}\n{target}\n{unix ms}\n{nonce as 16 hex}\n{hex SHA-256 of the body}`,
//! sent as three headers. The bench does not link the node library, so this is its own small copy of
//! the client half; `tests/fleet.rs` checks it against live nodes.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

/// `X-P2pfaas-Auth-Timestamp`: Unix time of signing, ms.
pub const TIMESTAMP: &str = "X-P2pfaas-Auth-Timestamp";
/// `X-P2pfaas-Auth-Nonce`: unique per call (16 hex digits).
pub const NONCE: &str = "X-P2pfaas-Auth-Nonce";
/// `X-P2pfaas-Auth-Signature`: hex HMAC-SHA256 of the canonical string.
pub const SIGNATURE: &str = "X-P2pfaas-Auth-Signature";

/// Shortest key the node accepts.
pub const MIN_KEY_BYTES: usize = 16;

/// A cluster key and a nonce counter.
#[derive(Debug)]
pub struct Signer {
    key: Vec<u8>,
    /// Nonces only need to be unique per timestamp on each node: a counter from a time-based start.
    next_nonce: AtomicU64,
}

impl Signer {
    /// A signer with `key` (already trimmed and checked for length); `seed` starts the nonces.
    pub fn new(key: Vec<u8>, seed: u64) -> Self {
        Self {
            key,
            next_nonce: AtomicU64::new(seed),
        }
    }

    /// The three headers for `method target` with `body`, signed at `unix_ms`.
    pub fn sign(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
        unix_ms: u64,
    ) -> [(&'static str, String); 3] {
        let nonce = self.next_nonce.fetch_add(1, Ordering::Relaxed);
        let signature = signature(&self.key, method, target, body, unix_ms, nonce);
        [
            (TIMESTAMP, unix_ms.to_string()),
            (NONCE, format!("{nonce:016x}")),
            (SIGNATURE, signature),
        ]
    }
}

/// The hex signature of one call.
fn signature(key: &[u8], method: &str, target: &str, body: &[u8], ts: u64, nonce: u64) -> String {
    let mut text = format!("p2pfaas-v1\n{method}\n{target}\n{ts}\n{nonce:016x}\n");
    for b in Sha256::digest(body) {
        let _ = write!(text, "{b:02x}");
    }
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in mac.finalize().into_bytes() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // Computed independently (Python's hmac and hashlib over the same canonical string).
        let sig = signature(b"0123456789abcdef-cluster", "POST", "/x", b"", 1000, 7);
        assert_eq!(
            sig,
            "ce0f1e32fdf86dff64bea07c5a4e35bb5b5128386968dd10f47d943e76bcda59"
        );
        for changed in [
            signature(b"0123456789abcdef-clustex", "POST", "/x", b"", 1000, 7),
            signature(b"0123456789abcdef-cluster", "GET", "/x", b"", 1000, 7),
            signature(b"0123456789abcdef-cluster", "POST", "/y", b"", 1000, 7),
            signature(b"0123456789abcdef-cluster", "POST", "/x", b"b", 1000, 7),
            signature(b"0123456789abcdef-cluster", "POST", "/x", b"", 1001, 7),
            signature(b"0123456789abcdef-cluster", "POST", "/x", b"", 1000, 8),
        ] {
            assert_ne!(sig, changed);
        }
    }

    #[test]
    fn headers_carry_a_fresh_nonce() {
        let s = Signer::new(vec![1; 16], 41);
        let a = s.sign("GET", "/learner/reset", b"", 5);
        let b = s.sign("GET", "/learner/reset", b"", 5);
        assert_eq!(a[1].1, "0000000000000029");
        assert_eq!(b[1].1, "000000000000002a");
        assert_ne!(a[2].1, b[2].1);
        assert_eq!(a[0], (TIMESTAMP, "5".to_owned()));
    }
}
