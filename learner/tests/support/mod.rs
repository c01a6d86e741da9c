//! Shared support for the learner's integration tests: small MDPs with exact
//! solutions, so convergence can be judged against the optimum rather than
//! against a previous run.
//!
//! - [`access_control`]: average reward, finite (differential Sarsa, Q-table).
//! - [`gridworld`]: discounted, finite, stochastic (Q-learning, Q-table).
//! - [`admission`]: average reward, continuous state (tile coding).

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different part of the support code"
)]

pub mod access_control;
pub mod admission;
pub mod gridworld;
