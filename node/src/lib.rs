#![doc = include_str!("../README.md")]
//!
//! # Layout
//! - [`config`]: raw input (file, `P2PFAAS_*` env, flags) validated once into a typed `Config`.
//! - [`runtime`]: one monoio runtime per worker thread, `SO_REUSEPORT` listeners, driver choice, signals.
//! - [`blocking`]: the on-demand thread pool for work that must not run on an I/O thread.
//! - [`http`]: accept loop, per-connection task, routing, handlers, the sans-IO HTTP/1.1 codec, and
//!   `http::respond`, the only place errors become status codes.
//! - [`queue`]: the lock-free K-slot admission with its FIFO wait queue.
//! - [`scheduler`]: the sans-IO `Scheduler` trait, decisions and the algorithms (re-exported from
//!   `p2pfaas-core`, where they live).
//! - [`peers`]: the table of peers (ids, addresses, functions, loads) and the peer protocol's wire format.
//! - [`learning`]: the learning agent (re-exported from `p2pfaas-core`; `store` keeps its weights).
//! - [`agent`]: external agents choosing the learning actions (`learner.external`): wire format,
//!   per-worker connection, the original learner's HTTP routes as an agent.
//! - [`backend`]: the `FunctionBackend` trait and the built-in functions.
//! - [`registry`]: the function table, published as snapshots, and its run-time changes.
//! - [`load`]: the load sampler (eBPF with feature `ebpf`, else PSI/procfs) and its lock-free sample.
//! - [`node`] / [`worker`]: state shared by all workers / owned by one.
//! - [`jobs`]: at most once — ids for the jobs this node originates and the table of ids it received.
//! - [`auth`]: HMAC-SHA256 signatures with a cluster key for peer and admin calls.
//! - [`snapshot`]: the dashboard's per-second node snapshot, cluster frame and SSE framing.
//! - [`history`]: the dashboard's last five minutes of this node, a fixed lock-free ring.
//! - [`metrics`], [`store`], [`shutdown`], [`error`].
#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod agent;
pub mod auth;
pub mod backend;
pub mod blocking;
pub mod config;
pub mod error;
pub mod history;
pub mod http;
pub mod jobs;
pub use p2pfaas_core::learning;
pub mod load;
pub mod metrics;
pub mod node;
pub mod peers;
pub mod queue;
pub mod registry;
pub mod runtime;
pub use p2pfaas_core::scheduler;
pub mod shutdown;
pub mod snapshot;
pub mod store;
pub mod worker;
