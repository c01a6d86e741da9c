//! `[peers]`: forwarding and probing timeouts, the refresh interval and the peer protocol, and their
//! validation.

use std::time::Duration;

use super::raw::RawPeers;
use super::{ConfigError, field_err, millis};

/// Which peer protocol to speak when forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerProtocol {
    /// The original's JSON until the peer shows it speaks native, then native.
    Auto,
    /// Always the original's JSON (base64 payload).
    Json,
    /// Always native (raw body, metadata in headers).
    Native,
}

/// `[peers]`.
#[derive(Debug, Clone, Copy)]
pub struct PeersConfig {
    /// Longest wait for a forwarded job's answer (also bounded by the request deadline).
    pub forward_timeout: Duration,
    /// Longest wait for a load probe.
    pub probe_timeout: Duration,
    /// How often each known peer's load and functions are refreshed.
    pub refresh_interval: Duration,
    /// Protocol choice.
    pub protocol: PeerProtocol,
}

/// Validates `[peers]`.
pub(super) fn validate(raw: &RawPeers) -> Result<PeersConfig, ConfigError> {
    Ok(PeersConfig {
        forward_timeout: millis(
            "peers.forward_timeout_ms",
            raw.forward_timeout_ms.unwrap_or(30_000),
        )?,
        probe_timeout: millis(
            "peers.probe_timeout_ms",
            raw.probe_timeout_ms.unwrap_or(1_000),
        )?,
        refresh_interval: millis(
            "peers.refresh_interval_ms",
            raw.refresh_interval_ms.unwrap_or(1_000),
        )?,
        protocol: match raw.protocol.as_deref().unwrap_or("auto") {
            "auto" => PeerProtocol::Auto,
            "json" => PeerProtocol::Json,
            "native" => PeerProtocol::Native,
            other => {
                return Err(field_err(
                    "peers.protocol",
                    format!("expected auto, json or native, got {other:?}"),
                ));
            }
        },
    })
}
