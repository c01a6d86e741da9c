//! `[auth]`: the cluster key, read from its file at start, and the replay window of signed calls.
//! The key is never printed.

use std::time::Duration;

use super::raw::RawAuth;
use super::{ConfigError, field_err, millis};

/// `[auth]`.
#[derive(Clone)]
pub struct AuthConfig {
    /// The cluster key (read from `cluster_key_file` at start), if any.
    pub cluster_key: Option<Vec<u8>>,
    /// How far a signature's timestamp may be from now.
    pub replay_window: Duration,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("AuthConfig")
            .field("cluster_key", &self.cluster_key.as_ref().map(|_| "<set>"))
            .field("replay_window", &self.replay_window)
            .finish()
    }
}

/// Validates `[auth]`, reading the key file if one is named.
pub(super) fn validate(raw: &RawAuth) -> Result<AuthConfig, ConfigError> {
    Ok(AuthConfig {
        cluster_key: match raw.cluster_key_file.as_deref() {
            None => None,
            Some(path) => Some(read_key(path)?),
        },
        replay_window: millis(
            "auth.replay_window_ms",
            raw.replay_window_ms.unwrap_or(30_000),
        )?,
    })
}

/// Reads the cluster key file: its bytes, without surrounding whitespace, at least
/// [`crate::auth::MIN_KEY_BYTES`] of them.
fn read_key(path: &str) -> Result<Vec<u8>, ConfigError> {
    let field = "auth.cluster_key_file";
    let bytes =
        std::fs::read(path).map_err(|e| field_err(field, format!("cannot read {path:?}: {e}")))?;
    let key = bytes.trim_ascii().to_vec();
    if key.len() < crate::auth::MIN_KEY_BYTES {
        return Err(field_err(
            field,
            format!(
                "{path:?} holds {} bytes; a cluster key needs at least {}",
                key.len(),
                crate::auth::MIN_KEY_BYTES
            ),
        ));
    }
    Ok(key)
}
