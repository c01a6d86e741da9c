//! Function backends: what actually runs a function once the scheduler chose this node. The request side
//! (`Call`) and the reply side (`Output`) are plain data; `Output` is reused per connection so the common
//! path does not allocate. Timeouts are applied by the caller, once, for every backend.
//!
//! This build has the built-in test functions (`backend/builtin.rs`); process, HTTP (OpenFaaS watchdog)
//! and gateway backends implement the same trait.

pub mod builtin;

use std::cell::RefCell;

use rand::rngs::SmallRng;

pub use builtin::Builtin;

use crate::config::BackendConfig;

/// One invocation as a backend sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// HTTP method of the client request.
    pub method: &'a str,
    /// Path after `/function/<name>` (empty or starting with `/`).
    pub path: &'a str,
    /// Query string without `?`.
    pub query: Option<&'a str>,
    /// The request's `Content-Type`.
    pub content_type: Option<&'a [u8]>,
    /// The request body.
    pub body: &'a [u8],
}

/// A function's reply, filled in by the backend.
#[derive(Debug, Default)]
pub struct Output {
    /// Status the function answered with.
    pub status: u16,
    /// Its `Content-Type`, empty when it sent none.
    pub content_type: Vec<u8>,
    /// Other end-to-end headers to pass through (name, value).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl Output {
    /// Clears the previous reply, keeping allocations.
    pub fn reset(&mut self) {
        self.status = 200;
        self.content_type.clear();
        self.headers.clear();
        self.body.clear();
    }
}

/// How a backend failed (the caller maps these to 502/504).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendError {
    /// The function could not be reached or started.
    Unreachable,
    /// The function broke without a usable reply.
    Failed,
}

/// Something that can run a function.
///
/// Futures are `!Send` by design: each worker thread runs its own calls (thread-per-core).
#[allow(
    async_fn_in_trait,
    reason = "backends run on one thread-per-core runtime; no Send bound is wanted"
)]
pub trait FunctionBackend {
    /// Runs one call, writing the reply into `out` (already reset). `rng` is borrowed only between awaits.
    async fn invoke(
        &self,
        call: &Call<'_>,
        rng: &RefCell<SmallRng>,
        out: &mut Output,
    ) -> Result<(), BackendError>;
}

/// Any configured backend (static dispatch; the set is closed and known at build time).
#[derive(Debug, Clone)]
pub enum Backend {
    /// A built-in test function.
    Builtin(Builtin),
}

impl Backend {
    /// Builds the backend a function's config names.
    pub fn from_config(config: &BackendConfig) -> Self {
        match config {
            BackendConfig::Builtin(b) => Self::Builtin(Builtin::new(*b)),
        }
    }
}

impl FunctionBackend for Backend {
    async fn invoke(
        &self,
        call: &Call<'_>,
        rng: &RefCell<SmallRng>,
        out: &mut Output,
    ) -> Result<(), BackendError> {
        match self {
            Self::Builtin(b) => b.invoke(call, rng, out).await,
        }
    }
}
