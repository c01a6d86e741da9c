//! Intentionally empty: the programs are the `p2pfaas` binary (`src/main.rs`). This library target lets
//! the node depend on the crate from its build script, so cargo reruns that script when the crate changes.
#![no_std]
