//! What the routes that change the node share: the JSON object body they parse (naming the first bad
//! field), and running the change — merge, persist, apply — on the blocking pool, because it writes
//! files.

use serde_json::Value;

use crate::error::Error;
use crate::node::UpdateError;

/// Parses a JSON object, naming the first bad field.
pub(super) fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Error> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::BadInput("expected a JSON object".into())),
        Err(e) => Err(Error::BadInput(format!("malformed JSON: {e}"))),
    }
}

/// Runs a configuration change on the blocking pool (it writes files).
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UpdateError> + Send + 'static,
) -> Result<T, Error> {
    match monoio::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(UpdateError::Invalid(msg))) => Err(Error::BadInput(msg)),
        Ok(Err(UpdateError::Persist(e))) => Err(Error::Persist(e)),
        Err(_canceled) => Err(Error::Persist(std::io::Error::other(
            "configuration task was cancelled",
        ))),
    }
}
