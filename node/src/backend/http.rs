//! PLACEHOLDER on the issue-3 branch: replaced by the real backend.

use super::{BackendError, Call, Context, FunctionBackend, Output};
use crate::config::HttpTarget;

/// Placeholder.
#[derive(Debug, Clone)]
pub struct Http {
    config: HttpTarget,
}

impl Http {
    /// Placeholder.
    pub fn new(config: HttpTarget) -> Self {
        Self { config }
    }
}

impl FunctionBackend for Http {
    async fn invoke(
        &self,
        _ctx: &Context<'_>,
        _call: &Call<'_>,
        _out: &mut Output,
    ) -> Result<(), BackendError> {
        Err(BackendError::Unreachable(format!(
            "not implemented: {:?}",
            self.config
        )))
    }
}
