//! PLACEHOLDER on the issue-3 branch: replaced by the pooled HTTP/1.1 client.

/// Per-worker keep-alive connections to HTTP functions.
#[derive(Debug, Default)]
pub struct Pool;

impl Pool {
    /// An empty pool.
    pub fn new() -> Self {
        Self
    }
}
