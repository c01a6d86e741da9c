//! Shared support for the learner's integration tests: small MDPs with exact
//! solutions, so convergence can be judged against the optimum rather than
//! against a previous run.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different part of the support code"
)]

pub mod access_control;
