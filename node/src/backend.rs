//! Function backends: what actually runs a function once the scheduler chose this node. The request side
//! (`Call`) and the reply side (`Output`) are plain data; `Output` is reused per connection so the common
//! path does not allocate. Timeouts are applied by the caller, once, for every backend.
//!
//! Implementations: built-in test functions (`backend/builtin.rs`), a local process per call
//! (`backend/process.rs`), an OpenFaaS-watchdog HTTP function (`backend/http.rs`) and a function behind an
//! OpenFaaS gateway (`backend/openfaas.rs`).

pub mod builtin;
pub mod http;
pub mod openfaas;
pub mod process;

use std::cell::RefCell;

use rand::rngs::SmallRng;

pub use builtin::Builtin;

use crate::config::BackendConfig;
use crate::http::client::Pool;
use crate::http::codec::{Limits, RequestHead};

/// The client's request headers, borrowed from the parsed head.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    head: Option<&'a RequestHead>,
    buf: &'a [u8],
}

impl<'a> Headers<'a> {
    /// Headers of a parsed request.
    pub fn new(head: &'a RequestHead, buf: &'a [u8]) -> Self {
        Self {
            head: Some(head),
            buf,
        }
    }

    /// All headers in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let buf = self.buf;
        self.head.into_iter().flat_map(move |h| h.headers(buf))
    }
}

/// What a backend may use besides the call: the worker's RNG and its connection pool.
pub struct Context<'a> {
    /// Seeded per worker; borrow only between awaits.
    pub rng: &'a RefCell<SmallRng>,
    /// This worker's keep-alive connections to HTTP functions.
    pub pool: &'a Pool,
    /// Limits for reading a function's HTTP response (`http.max_head_bytes`, `http.max_response_bytes`).
    pub response_limits: Limits,
}

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
    /// The request headers (hop-by-hop ones are filtered by backends that forward them).
    pub headers: Headers<'a>,
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
    /// Execution time reported by the platform (OpenFaaS `X-Duration-Seconds`), if any.
    pub reported_duration: Option<std::time::Duration>,
}

impl Output {
    /// First value of a reply header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Clears the previous reply, keeping allocations.
    pub fn reset(&mut self) {
        self.status = 200;
        self.content_type.clear();
        self.headers.clear();
        self.body.clear();
        self.reported_duration = None;
    }
}

/// How a backend failed (the caller maps these to 502/504). The detail ends up in the error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The function could not be reached or started.
    Unreachable(String),
    /// The function broke without a usable reply (e.g. a non-zero exit, with stderr's tail).
    Failed(String),
    /// The function ran past its own time limit.
    Timeout,
}

/// Something that can run a function.
///
/// Futures are `!Send` by design: each worker thread runs its own calls (thread-per-core).
#[allow(
    async_fn_in_trait,
    reason = "backends run on one thread-per-core runtime; no Send bound is wanted"
)]
pub trait FunctionBackend {
    /// Runs one call, writing the reply into `out` (already reset). The caller applies the function's
    /// timeout by dropping this future, so a backend must clean up on drop (kill a process, close a socket).
    async fn invoke(
        &self,
        ctx: &Context<'_>,
        call: &Call<'_>,
        out: &mut Output,
    ) -> Result<(), BackendError>;
}

/// Any configured backend (static dispatch; the set is closed and known at build time).
#[derive(Debug, Clone)]
pub enum Backend {
    /// A built-in test function.
    Builtin(Builtin),
    /// A local command per call.
    Process(process::Process),
    /// An OpenFaaS-watchdog HTTP function.
    Http(http::Http),
    /// A function behind an OpenFaaS gateway.
    OpenFaas(openfaas::OpenFaas),
}

impl Backend {
    /// Builds the backend a function's config names.
    pub fn from_config(config: &BackendConfig) -> Self {
        match config {
            BackendConfig::Builtin(b) => Self::Builtin(Builtin::new(*b)),
            BackendConfig::Process(p) => Self::Process(process::Process::new(p.clone())),
            BackendConfig::Http(t) => Self::Http(http::Http::new(t.clone())),
            BackendConfig::OpenFaas(o) => Self::OpenFaas(openfaas::OpenFaas::new(o.clone())),
        }
    }
}

impl FunctionBackend for Backend {
    async fn invoke(
        &self,
        ctx: &Context<'_>,
        call: &Call<'_>,
        out: &mut Output,
    ) -> Result<(), BackendError> {
        match self {
            Self::Builtin(b) => b.invoke(ctx, call, out).await,
            Self::Process(p) => p.invoke(ctx, call, out).await,
            Self::Http(h) => h.invoke(ctx, call, out).await,
            Self::OpenFaas(o) => o.invoke(ctx, call, out).await,
        }
    }
}
