//! `[http]`: request size limits and timeouts, and their validation.

use std::time::Duration;

use super::raw::RawHttp;
use super::{ConfigError, bounded, millis};

/// `[http]`.
#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    /// Largest request head (request line + headers); larger gets 431.
    pub max_head_bytes: usize,
    /// Largest request body; larger gets 413.
    pub max_body_bytes: usize,
    /// Largest response an HTTP function may send back (larger fails the call with 502).
    pub max_response_bytes: usize,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed to receive a request and produce its response (queueing included).
    pub request_timeout: Duration,
    /// How long a SIGTERM waits for in-flight requests.
    pub shutdown_grace: Duration,
}

/// Validates `[http]`.
pub(super) fn validate(raw: &RawHttp) -> Result<HttpConfig, ConfigError> {
    Ok(HttpConfig {
        max_head_bytes: bounded(
            "http.max_head_bytes",
            raw.max_head_bytes.unwrap_or(16 * 1024),
            1024,
            1 << 20,
        )?,
        max_body_bytes: bounded(
            "http.max_body_bytes",
            raw.max_body_bytes.unwrap_or(4 << 20),
            0,
            1 << 30,
        )?,
        max_response_bytes: bounded(
            "http.max_response_bytes",
            raw.max_response_bytes.unwrap_or(16 << 20),
            0,
            1 << 30,
        )?,
        idle_timeout: millis(
            "http.idle_timeout_ms",
            raw.idle_timeout_ms.unwrap_or(60_000),
        )?,
        request_timeout: millis(
            "http.request_timeout_ms",
            raw.request_timeout_ms.unwrap_or(60_000),
        )?,
        shutdown_grace: millis(
            "http.shutdown_grace_ms",
            raw.shutdown_grace_ms.unwrap_or(30_000),
        )?,
    })
}
