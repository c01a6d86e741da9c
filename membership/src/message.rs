//! Wire types: what one membership message carries.
//!
//! Every message has the same envelope — the sender's identity, incarnation
//! and latest load — then a kind-specific body, then piggybacked member
//! updates and relayed loads of other members. The byte layout is in
//! [`codec`](crate::codec); this module holds no encoding logic.

use crate::member::{Identity, Load, State};

/// One decoded membership message.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// Who sent it. Replies go to `sender.addr`, never the transport source.
    pub(crate) sender: Identity,
    /// The member id the sender meant to reach, if it knew it (a join to a
    /// seed does not). A node with another id drops the message: its
    /// address was reused, and answering would keep the old id alive.
    pub(crate) to: Option<String>,
    /// The sender's incarnation: the envelope is an "alive" claim by the
    /// sender itself, so it can refute suspicion and revive a dead entry.
    pub(crate) incarnation: u32,
    /// The sender's load version (higher is newer).
    pub(crate) load_version: u64,
    /// The sender's load when it sent the message.
    pub(crate) load: Load,
    /// Kind-specific part.
    pub(crate) body: Body,
    /// Membership changes being disseminated (or a full state on join/sync).
    pub(crate) updates: Vec<Update>,
    /// Other members' loads being disseminated.
    pub(crate) loads: Vec<RelayedLoad>,
}

/// The kind-specific part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// Direct probe; answered with `Ack { seq }` to the sender.
    Ping { seq: u32 },
    /// Answer to a probe (direct, or forwarded by an intermediary).
    Ack { seq: u32 },
    /// "Probe `target` for me": the receiver sends `IndirectPing`.
    PingReq { seq: u32, target: String },
    /// Probe on behalf of `origin`; answered with `IndirectAck` to the sender.
    IndirectPing { seq: u32, origin: String },
    /// Answer to `IndirectPing`; the intermediary forwards `Ack` to `origin`.
    IndirectAck { seq: u32, origin: String },
    /// Join or reconnect: `updates` is the sender's state; answered by `Sync`.
    Join,
    /// The answer to `Join`: `updates` is the receiver's state.
    Sync,
    /// Periodic dissemination; nothing to answer.
    Gossip,
}

/// One member's state, as piggybacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Update {
    pub(crate) identity: Identity,
    pub(crate) incarnation: u32,
    pub(crate) state: State,
}

/// Another member's load, relayed.
#[derive(Debug, Clone)]
pub(crate) struct RelayedLoad {
    pub(crate) id: String,
    pub(crate) version: u64,
    /// How long ago the relaying node got it, so the receiver can date it
    /// without synchronised clocks (ages add up along the relay path).
    pub(crate) age_ms: u32,
    pub(crate) load: Load,
}
