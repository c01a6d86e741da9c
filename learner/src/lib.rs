//! Reinforcement learning for p2pfaas schedulers.
//!
//! **Zero allocation after construction: only constructors allocate.** Every
//! buffer (Q-table slots, tile weights, policy and TD scratch rows) is sized
//! by `try_new`; acting and training touch only that memory, which
//! `tests/no_alloc.rs` checks with a counting allocator. Nothing here does
//! I/O (weights are encoded to and decoded from bytes; storing them is the
//! caller's), and nothing reads the clock or a thread-local RNG: randomness is
//! the caller's [`rand::Rng`].
//!
//! # Layout
//! - [`config`]: validated hyper-parameters ([`config::Config`]) and tile
//!   shapes ([`config::TileConfig`]).
//! - [`value`]: the [`value::ValueFunction`] trait the rest is written against.
//! - [`qtable`]: exact-state Q-table with fixed-capacity open addressing.
//! - [`tiles`]: tile coding with hashed, fixed-size weight tables.
//! - [`td`]: differential Sarsa, discounted Sarsa, Q-learning, expected Sarsa.
//! - [`policy`]: ε-greedy (decaying) and softmax action selection.
//! - [`persist`]: the weight file format, encoded to and decoded from bytes.
//! - [`window`]: the EID training window.
//! - [`error`]: construction and load errors (`step` cannot fail).
//!
//! # Example
//! ```
//! use p2pfaas_learner::{config::{Config, Params}, policy::EpsilonGreedy,
//!     qtable::QTable, td::{Td, Transition}};
//! use rand::{SeedableRng, rngs::SmallRng};
//!
//! let config = Config::try_new(Params::default())?;
//! let mut q = QTable::try_new(2, 3, 1024)?;
//! let mut policy = EpsilonGreedy::try_new(&config, 3)?;
//! let mut td = Td::try_new(&config, 3)?;
//! let mut rng = SmallRng::seed_from_u64(7);
//!
//! let (s, s2) = ([1.0, 21.0], [12.0, 1.0]);
//! let a = policy.act(&q, &s, &mut rng);
//! let a2 = policy.act(&q, &s2, &mut rng);
//! td.differential_sarsa(&mut q, &Transition {
//!     state: &s, action: a, reward: 1.0, next_state: &s2, next_action: a2,
//! });
//! # Ok::<(), p2pfaas_learner::error::Error>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod config;
pub mod error;
pub mod persist;
pub mod policy;
pub mod qtable;
pub mod td;
pub mod tiles;
pub mod value;
pub mod window;

pub use error::{Error, Result};
