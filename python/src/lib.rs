//! The native part of the `p2pfaas` Python package (`python/`): the simulator of `p2pfaas-bench` and
//! the bridge that lets Python make the learning decisions of simulated nodes ([`runner`]). The
//! Python bindings (`py`) are behind the `python` feature, which maturin turns on; without it the
//! crate builds and tests as plain Rust, with no Python installed.

#![warn(missing_docs, unreachable_pub)]

pub mod runner;

#[cfg(feature = "python")]
mod py;
