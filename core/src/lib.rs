#![doc = include_str!("../README.md")]
//!
//! # Layout
//! - [`scheduler`]: the `Scheduler` trait, its inputs (`JobMeta`, `NodeView`, `PeerView`) and outputs
//!   (`Decision`, `Note`), descriptor parsing, and one file per algorithm family.
//! - [`invocation`]: the invocation state machine — override headers, decision, probes, Tau, forward,
//!   local run or reject, the outcome of a forward and the one fallback — driven by the node's HTTP
//!   handler and by the simulator.
//! - [`jobs`]: at most once — an executor's bounded, time-limited table of the job ids it received,
//!   which refuses a second copy and answers an origin's cancel truthfully.
//! - [`admission`]: the K-slot + queue admission rule as pure predicates, and `Sequential`, the rule on
//!   plain counters for single-threaded callers.
//! - [`learning`]: the learning agent (Q-table, policy, TD learner, EID window) shared by a node's
//!   workers, and its parameters and state features.
//! - [`load`]: the machine's load sample as schedulers read it.
//!
//! Nothing in this crate reads a clock, touches a file, a socket, a thread or the environment: time
//! and randomness are the caller's. `clippy.toml` bans the calls that would, and `scripts/test.sh`
//! fails when the crate's dependency tree gains a runtime (`monoio`, `tokio`, `libc`, `aya`).
#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod admission;
pub mod invocation;
pub mod jobs;

pub mod learning;
pub mod load;
pub mod scheduler;
