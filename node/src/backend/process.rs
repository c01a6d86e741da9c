//! PLACEHOLDER on the issue-3 branch: replaced by the real backend.

use super::{BackendError, Call, Context, FunctionBackend, Output};
use crate::config::ProcessConfig;

/// Placeholder.
#[derive(Debug, Clone)]
pub struct Process {
    config: ProcessConfig,
}

impl Process {
    /// Placeholder.
    pub fn new(config: ProcessConfig) -> Self {
        Self { config }
    }
}

impl FunctionBackend for Process {
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
