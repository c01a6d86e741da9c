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
pub mod reply;

use std::cell::RefCell;
use std::time::Duration;

use rand::rngs::SmallRng;

pub use builtin::Builtin;
pub use reply::{BackendError, Headers, Output, ReplyHeaders};

use crate::config::BackendConfig;
use crate::http::client::Pool;
use crate::http::codec::Limits;

/// What a backend may use besides the call: the worker's RNG and its connection pool.
pub struct Context<'a> {
    /// Seeded per worker; borrow only between awaits.
    pub rng: &'a RefCell<SmallRng>,
    /// This worker's keep-alive connections to HTTP functions.
    pub pool: &'a Pool,
    /// This worker's estimate of how late its timers fire (used by the `sleep` built-in).
    pub timer_lateness: &'a TimerLateness,
    /// Limits for reading a function's HTTP response (`http.max_head_bytes`, `http.max_response_bytes`).
    pub response_limits: Limits,
}

/// A running estimate of how much later than asked a runtime sleep ends on this worker.
///
/// monoio's timer wheel has 1 ms ticks and rounds deadlines up, and a busy thread wakes later still:
/// asked for 20 ms, a sleep took 21.3–21.7 ms here. The `sleep` built-in asks for that much less so
/// the time a job holds its slot has the configured mean (what Erlang-B and the simulator assume).
#[derive(Debug, Default)]
pub struct TimerLateness {
    ewma_ns: std::cell::Cell<f64>,
}

impl TimerLateness {
    /// Weight of one observation: the estimate settles within a few dozen sleeps.
    const GAIN: f64 = 1.0 / 16.0;

    /// How much shorter to ask for, at most `want` (a sleep is never negative).
    pub fn lead(&self, want: Duration) -> Duration {
        Duration::from_nanos(self.ewma_ns.get() as u64).min(want)
    }

    /// Records that a sleep asked for `asked` took `took`.
    pub fn observe(&self, asked: Duration, took: Duration) {
        let late = took.saturating_sub(asked).as_nanos() as f64;
        let e = self.ewma_ns.get();
        self.ewma_ns.set(e + Self::GAIN * (late - e));
    }
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
    /// The job's id (`X-P2pfaas-Job-Id` to an HTTP function, `Http_X_P2pfaas_Job_Id` to a process).
    pub job_id: Option<&'a str>,
}

/// The job id as an extra request header for functions behind HTTP (it wins over a client's header
/// of that name).
pub(crate) fn job_header<'a>(call: &Call<'a>) -> Option<(&'static str, &'a [u8])> {
    call.job_id.map(|id| ("X-P2pfaas-Job-Id", id.as_bytes()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_lateness_settles_on_the_observed_delay_and_never_exceeds_the_sleep() {
        let t = TimerLateness::default();
        assert_eq!(t.lead(Duration::from_millis(20)), Duration::ZERO);
        for _ in 0..200 {
            let asked = Duration::from_millis(20).saturating_sub(t.lead(Duration::from_millis(20)));
            t.observe(asked, asked + Duration::from_micros(1500));
        }
        let lead = t.lead(Duration::from_millis(20));
        assert!(
            lead.abs_diff(Duration::from_micros(1500)) < Duration::from_micros(10),
            "{lead:?}"
        );
        assert_eq!(
            t.lead(Duration::from_micros(300)),
            Duration::from_micros(300)
        );
        // An early wake-up (never seen, but possible with a coarse clock) counts as on time.
        t.observe(Duration::from_millis(5), Duration::from_millis(4));
        assert!(t.lead(Duration::from_millis(20)) < lead);
    }
}
