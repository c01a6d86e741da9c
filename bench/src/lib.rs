//! `p2pfaas-bench`: drives real p2pfaas nodes with open-loop traffic and checks what they do against
//! queueing theory. See `bench/README.md` for the commands.
//!
//! # Layout
//! - [`theory`]: Erlang-B (M/M/K/K), M/M/K/K+Q and M/M/1/K blocking and delay; pure functions.
//! - [`arrivals`]: seeded arrival schedules — Poisson, deterministic, or a `time_s,rate` trace; pure.
//! - [`load`]: the shell that sends a schedule over pooled keep-alive HTTP/1.1 connections, and
//!   [`load::record`], the results file's rows and the run's summary.
//! - [`experiment`]: specs (TOML) of multi-node experiments, the cluster of real node processes they
//!   run on (loopback or network namespaces, optional link delay), and the report (JSON, CSV,
//!   markdown, SVG) with commit, machine and date.
//! - [`fleet`]: the same experiments on nodes that are already deployed (`run --fleet`): preflight,
//!   signed configuration per scheduler, per-node metrics, settings restored; and `fleet status`.
//! - [`progress`]: the one-line-per-second progress of `run` (local and fleet).
//! - [`soak`]: one cluster under steady load for minutes, each node's memory and descriptors sampled,
//!   and a verdict on growth.
//! - [`chaos`]: the fault suite — scenarios of faults injected into a real cluster under traffic,
//!   with every request accounted for (answered, rejected, errored, lost or hung).
//! - [`relay`]: a byte relay (nothing parsed), the floor `bench/forward.sh` sets under a proxy hop.
//! - [`sim`]: the discrete-event simulator: the same spec and report, on simulated nodes running the
//!   node's own admission rule, schedulers and learner; [`sim::compare`] puts two reports side by side.
//!
//! Each command's flags, help lines and exit code live in a `cli` module beside what it runs
//! (`theory::cli`, `load::cli`, `experiment::cli` for run/soak/demo, `sim::cli` for
//! simulate/compare, `chaos::cli`, `fleet::cli`); `cli.rs` holds the flag helpers they share. The
//! binary (`src/main.rs`) only picks the subcommand and prints the help.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod arrivals;
pub mod chaos;
mod cli;
pub mod experiment;
pub mod fleet;
pub mod load;
pub mod progress;
pub mod relay;
pub mod sim;
pub mod soak;
pub mod theory;
