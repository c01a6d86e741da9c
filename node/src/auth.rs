//! Authentication between nodes and for admin calls: with a cluster key, peer, gossip and admin routes
//! require an HMAC-SHA256 signature over the method, the request target, a timestamp, a nonce and the
//! body's SHA-256, sent in three headers. A signature is valid within a replay window around its
//! timestamp, and only once (replays inside the window are refused by nonce).
//!
//! The original trusted `User-Agent: Machine`. Without a key the node keeps the loopback rule for admin
//! routes and accepts peers unauthenticated, and says so at start.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Header names.
pub mod header {
    /// Unix time of signing, in milliseconds.
    pub const TIMESTAMP: &str = "X-P2pfaas-Auth-Timestamp";
    /// A random value, unique per signed call.
    pub const NONCE: &str = "X-P2pfaas-Auth-Nonce";
    /// Hex HMAC-SHA256 of the canonical string.
    pub const SIGNATURE: &str = "X-P2pfaas-Auth-Signature";
}

/// Shortest accepted key: a short key is a guessable key.
pub const MIN_KEY_BYTES: usize = 16;
/// Most nonces remembered per window (bounds memory; beyond it signed calls are refused until the
/// window turns).
const MAX_REMEMBERED: usize = 1 << 20;

/// Why a call was refused (label of `p2pfaas_auth_failures_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A header is missing.
    #[error("unsigned: a cluster key is configured and the call carries no signature")]
    Missing,
    /// A header does not parse.
    #[error("malformed signature headers")]
    Malformed,
    /// The timestamp is outside the replay window.
    #[error("signature expired or from the future")]
    Expired,
    /// The signature does not match.
    #[error("signature does not match")]
    Forged,
    /// This signature was already used.
    #[error("signature already used (replay)")]
    Replayed,
    /// Too many calls in one window to remember them all.
    #[error("too many signed calls in the replay window")]
    Saturated,
}

impl AuthError {
    /// Every variant, in metric order.
    pub const ALL: [Self; 6] = [
        Self::Missing,
        Self::Malformed,
        Self::Expired,
        Self::Forged,
        Self::Replayed,
        Self::Saturated,
    ];

    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Expired => "expired",
            Self::Forged => "forged",
            Self::Replayed => "replayed",
            Self::Saturated => "saturated",
        }
    }
}

/// The three header values of a signed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// `X-P2pfaas-Auth-Timestamp`.
    pub timestamp: String,
    /// `X-P2pfaas-Auth-Nonce`.
    pub nonce: String,
    /// `X-P2pfaas-Auth-Signature`.
    pub signature: String,
}

/// Nonces seen in the current and the previous window.
#[derive(Debug, Default)]
struct Replay {
    window_start_ms: u64,
    current: HashSet<(u64, u64)>,
    previous: HashSet<(u64, u64)>,
}

/// The node's authenticator.
#[derive(Debug)]
pub struct Auth {
    key: Option<Vec<u8>>,
    window: Duration,
    replay: Mutex<Replay>,
    failures: [AtomicU64; 6],
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(now: SystemTime) -> u64 {
    u64::try_from(
        now.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(0)
}

impl Auth {
    /// An authenticator with `key` (none: everything passes `verify`) and a replay window.
    pub fn new(key: Option<Vec<u8>>, window: Duration) -> Self {
        Self {
            key,
            window,
            replay: Mutex::new(Replay::default()),
            failures: Default::default(),
        }
    }

    /// Whether a cluster key is configured.
    pub fn enabled(&self) -> bool {
        self.key.is_some()
    }

    /// Refusals so far, by reason (in [`AuthError::ALL`] order).
    pub fn failures(&self) -> [u64; 6] {
        std::array::from_fn(|i| self.failures[i].load(Relaxed))
    }

    fn mac(
        &self,
        method: &str,
        target: &str,
        ts: u64,
        nonce: u64,
        body: &[u8],
    ) -> Option<Hmac<Sha256>> {
        let key = self.key.as_deref()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        let digest = Sha256::digest(body);
        let mut text = format!("p2pfaas-v1\n{method}\n{target}\n{ts}\n{nonce:016x}\n");
        for b in digest {
            let _ = write!(text, "{b:02x}");
        }
        mac.update(text.as_bytes());
        Some(mac)
    }

    /// Signs a call, or `None` without a key.
    pub fn sign(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
        now: SystemTime,
        nonce: u64,
    ) -> Option<Signed> {
        let ts = unix_ms(now);
        let tag = self
            .mac(method, target, ts, nonce, body)?
            .finalize()
            .into_bytes();
        let mut signature = String::with_capacity(64);
        for b in tag {
            let _ = write!(signature, "{b:02x}");
        }
        Some(Signed {
            timestamp: ts.to_string(),
            nonce: format!("{nonce:016x}"),
            signature,
        })
    }

    /// Checks a call's signature headers (`header` looks one up). Without a key every call passes.
    pub fn verify<'h>(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
        now: SystemTime,
        header: impl Fn(&str) -> Option<&'h [u8]>,
    ) -> Result<(), AuthError> {
        if self.key.is_none() {
            return Ok(());
        }
        let result = self.check(method, target, body, now, header);
        if let Err(e) = result
            && let Some(i) = AuthError::ALL.iter().position(|x| *x == e)
        {
            self.failures[i].fetch_add(1, Relaxed);
        }
        result
    }

    fn check<'h>(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
        now: SystemTime,
        header: impl Fn(&str) -> Option<&'h [u8]>,
    ) -> Result<(), AuthError> {
        let text = |name| -> Result<&str, AuthError> {
            let v = header(name).ok_or(AuthError::Missing)?;
            std::str::from_utf8(v).map_err(|_| AuthError::Malformed)
        };
        let (ts, nonce, sig) = (
            text(header::TIMESTAMP)?,
            text(header::NONCE)?,
            text(header::SIGNATURE)?,
        );
        let ts: u64 = ts.trim().parse().map_err(|_| AuthError::Malformed)?;
        let nonce = u64::from_str_radix(nonce.trim(), 16).map_err(|_| AuthError::Malformed)?;
        let sig = decode_hex(sig.trim()).ok_or(AuthError::Malformed)?;
        let now_ms = unix_ms(now);
        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        if ts.abs_diff(now_ms) > window_ms {
            return Err(AuthError::Expired);
        }
        let mac = self
            .mac(method, target, ts, nonce, body)
            .ok_or(AuthError::Forged)?;
        mac.verify_slice(&sig).map_err(|_| AuthError::Forged)?;
        self.remember(ts, nonce, now_ms, window_ms)
    }

    /// Records a used (timestamp, nonce); a second use within the window is a replay. Two generations of
    /// one window each cover every timestamp that can still pass the window check.
    fn remember(&self, ts: u64, nonce: u64, now_ms: u64, window_ms: u64) -> Result<(), AuthError> {
        let mut r = self
            .replay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if now_ms.saturating_sub(r.window_start_ms) >= window_ms.saturating_mul(2) {
            r.previous.clear();
            r.current.clear();
            r.window_start_ms = now_ms;
        } else if now_ms.saturating_sub(r.window_start_ms) >= window_ms {
            let current = std::mem::take(&mut r.current);
            r.previous = current;
            r.window_start_ms = now_ms;
        }
        if r.previous.contains(&(ts, nonce)) || r.current.contains(&(ts, nonce)) {
            return Err(AuthError::Replayed);
        }
        if r.current.len() >= MAX_REMEMBERED {
            return Err(AuthError::Saturated);
        }
        r.current.insert((ts, nonce));
        Ok(())
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(
            Some(b"0123456789abcdef-cluster".to_vec()),
            Duration::from_secs(30),
        )
    }

    fn headers<'s>(s: &'s Signed) -> impl Fn(&str) -> Option<&'s [u8]> {
        move |name| match name {
            header::TIMESTAMP => Some(s.timestamp.as_bytes()),
            header::NONCE => Some(s.nonce.as_bytes()),
            header::SIGNATURE => Some(s.signature.as_bytes()),
            _ => None,
        }
    }

    #[test]
    fn signed_calls_pass_once() {
        let a = auth();
        let now = SystemTime::now();
        let s = a
            .sign("POST", "/peer/function/echo", b"body", now, 7)
            .expect("key");
        assert_eq!(
            a.verify("POST", "/peer/function/echo", b"body", now, headers(&s)),
            Ok(())
        );
        assert_eq!(
            a.verify("POST", "/peer/function/echo", b"body", now, headers(&s)),
            Err(AuthError::Replayed)
        );
        assert_eq!(a.failures()[4], 1);
    }

    #[test]
    fn anything_changed_is_forged() {
        let a = auth();
        let now = SystemTime::now();
        let s = a
            .sign("POST", "/configuration", b"{}", now, 1)
            .expect("key");
        assert_eq!(
            a.verify("POST", "/configuration", b"{ }", now, headers(&s)),
            Err(AuthError::Forged)
        );
        assert_eq!(
            a.verify("GET", "/configuration", b"{}", now, headers(&s)),
            Err(AuthError::Forged)
        );
        assert_eq!(
            a.verify("POST", "/configuratio", b"{}", now, headers(&s)),
            Err(AuthError::Forged)
        );
        let other = Auth::new(
            Some(b"another key of 16+ bytes".to_vec()),
            Duration::from_secs(30),
        );
        let s2 = other
            .sign("POST", "/configuration", b"{}", now, 1)
            .expect("key");
        assert_eq!(
            a.verify("POST", "/configuration", b"{}", now, headers(&s2)),
            Err(AuthError::Forged)
        );
    }

    #[test]
    fn stale_missing_and_malformed_are_refused() {
        let a = auth();
        let now = SystemTime::now();
        let old = a
            .sign("POST", "/x", b"", now - Duration::from_secs(31), 2)
            .expect("key");
        assert_eq!(
            a.verify("POST", "/x", b"", now, headers(&old)),
            Err(AuthError::Expired)
        );
        assert_eq!(
            a.verify("POST", "/x", b"", now, |_| None),
            Err(AuthError::Missing)
        );
        let mut bad = a.sign("POST", "/x", b"", now, 3).expect("key");
        bad.signature = "zz".into();
        assert_eq!(
            a.verify("POST", "/x", b"", now, headers(&bad)),
            Err(AuthError::Malformed)
        );
        // Without a key, nothing is checked.
        let open = Auth::new(None, Duration::from_secs(30));
        assert_eq!(open.verify("POST", "/x", b"", now, |_| None), Ok(()));
        assert!(open.sign("POST", "/x", b"", now, 1).is_none());
    }

    #[test]
    fn the_replay_memory_turns_over() {
        let a = Auth::new(Some(vec![7; 16]), Duration::from_millis(100));
        let t0 = SystemTime::now();
        let s = a.sign("GET", "/x", b"", t0, 9).expect("key");
        assert_eq!(a.verify("GET", "/x", b"", t0, headers(&s)), Ok(()));
        // Still inside the window 90 ms later: a replay.
        let t1 = t0 + Duration::from_millis(90);
        assert_eq!(
            a.verify("GET", "/x", b"", t1, headers(&s)),
            Err(AuthError::Replayed)
        );
        // Outside it, the timestamp check refuses it before the memory is consulted.
        let t2 = t0 + Duration::from_millis(250);
        assert_eq!(
            a.verify("GET", "/x", b"", t2, headers(&s)),
            Err(AuthError::Expired)
        );
    }
}
