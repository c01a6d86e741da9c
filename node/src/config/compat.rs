//! `[compat]`: what clients and original nodes see where the original behaved differently, and its
//! validation.

use super::raw::RawCompat;
use super::{ConfigError, field_err};

/// `[compat]`: choices for tools written against the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompatConfig {
    /// HTTP status of a capacity reject (no slot, queue full) as clients and original (JSON-protocol)
    /// nodes see it: 429 (default, with `Retry-After`) or 500, the original's status, which its
    /// benchmark client and plots count as a reject. Native peers always get 429.
    pub reject_status: u16,
}

/// Validates `[compat]`.
pub(super) fn validate(raw: &RawCompat) -> Result<CompatConfig, ConfigError> {
    Ok(CompatConfig {
        reject_status: match raw.reject_status.unwrap_or(429) {
            s @ (429 | 500) => s,
            other => {
                return Err(field_err(
                    "compat.reject_status",
                    format!("expected 429 or 500, got {other}"),
                ));
            }
        },
    })
}
