//! Sans-IO SWIM membership for p2pfaas, with each node's load piggybacked
//! on every message.
//!
//! A [`Membership`] is a plain state machine. The node feeds it message
//! bodies ([`Membership::handle`]) and the time ([`Membership::tick`]),
//! and drains messages to deliver ([`Membership::poll_send`]: POST the
//! bytes to `http://{to}/peer/gossip`) and events
//! ([`Membership::poll_event`]). Time is a [`Duration`](std::time::Duration)
//! since any epoch the caller likes; randomness comes from a seed. Nothing
//! here does I/O, reads a clock, spawns a thread or uses `unsafe`.
//!
//! # Layout
//! - [`member`]: boundary data — [`Identity`], [`Load`], [`Member`],
//!   [`State`], [`Event`].
//! - [`config`]: timings and limits ([`Config`]) and their validation.
//! - `message`: wire types (envelope, bodies, updates, relayed loads).
//! - `codec`: the versioned binary encoding and its bounded decoder.
//! - [`membership`]: the state machine; `membership/merge.rs` applies
//!   updates (incarnations, refutation, tombstones), `membership/timer.rs`
//!   drives probes, suspicion, removal, gossip and reconnects, and
//!   `membership/send.rs` builds messages and picks what to piggyback.
//! - [`error`]: [`Error`] (construction) and [`DecodeError`] (bad input).
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use p2pfaas_membership::{Config, Identity, Membership};
//!
//! let mut a = Membership::try_new(Identity::new("a", "127.0.0.1:18080"), Config::default(), 1)?;
//! let mut b = Membership::try_new(Identity::new("b", "127.0.0.1:18081"), Config::default(), 2)?;
//! b.join(&["127.0.0.1:18080".to_owned()], Duration::ZERO);
//! // Deliver messages until both are quiet (a real node POSTs them).
//! for _ in 0..4 {
//!     while let Some(out) = b.poll_send() {
//!         a.handle("127.0.0.1:18081", &out.bytes, Duration::ZERO).expect("valid");
//!     }
//!     while let Some(out) = a.poll_send() {
//!         b.handle("127.0.0.1:18080", &out.bytes, Duration::ZERO).expect("valid");
//!     }
//! }
//! assert_eq!(a.members()[0].identity.id, "b");
//! assert_eq!(b.members()[0].identity.id, "a");
//! # Ok::<(), p2pfaas_membership::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod codec;
pub mod config;
pub mod error;
pub mod member;
pub mod membership;
mod message;

pub use config::Config;
pub use error::{DecodeError, Error};
pub use member::{Event, Identity, Load, LoadSample, Member, State};
pub use membership::{Membership, Outgoing};
