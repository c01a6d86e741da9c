//! PLACEHOLDER on the issue-3 branch: replaced by the real backend.

use super::{BackendError, Call, Context, FunctionBackend, Output};
use crate::config::OpenFaasConfig;

/// Placeholder.
#[derive(Debug, Clone)]
pub struct OpenFaas {
    config: OpenFaasConfig,
}

impl OpenFaas {
    /// Placeholder.
    pub fn new(config: OpenFaasConfig) -> Self {
        Self { config }
    }
}

impl FunctionBackend for OpenFaas {
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
