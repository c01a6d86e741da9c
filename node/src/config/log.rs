//! `[log]`: the log format and filter, and their validation.

use super::raw::RawLog;
use super::{ConfigError, field_err};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// `EnvFilter` directive, e.g. `info` or `p2pfaas_node=debug`.
    pub level: String,
}

/// Validates `[log]`.
pub(super) fn validate(raw: RawLog) -> Result<LogConfig, ConfigError> {
    Ok(LogConfig {
        format: match raw.format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(field_err(
                    "log.format",
                    format!("expected text or json, got {other:?}"),
                ));
            }
        },
        level: raw.level.unwrap_or_else(|| "info".into()),
    })
}
