//! Plain data at the crate boundary: who a node is, its load, a member's
//! state as this node sees it, and the events the core reports.
//!
//! Nothing here holds protocol logic; the node copies these out freely.

use std::time::Duration;

/// Who a node is: its stable machine id and the `host:port` peers send to.
///
/// The member table is keyed by `id`; `addr` may change between
/// incarnations (a node restarted elsewhere takes its id over once the old
/// address is suspected or dead). Two live nodes claiming the same `id`
/// with different `addr`s are a misconfiguration: every other node keeps
/// whichever claim has the higher incarnation (ties: the one it already
/// holds), and both claimants see [`Event::IdentityConflict`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The machine id (`[discovery] machine_id`).
    pub id: String,
    /// The address peers use (`[discovery] advertise`), `host:port`.
    pub addr: String,
}

impl Identity {
    /// An identity from its id and advertised `host:port`.
    pub fn new(id: impl Into<String>, addr: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            addr: addr.into(),
        }
    }
}

/// A node's load, piggybacked on every message it sends.
#[derive(Debug, Clone, Default)]
pub struct Load {
    /// Invocations running now.
    pub running: u32,
    /// Invocations admitted and waiting for a slot.
    pub queued: u32,
    /// K: the node's execution slots.
    pub slots: u32,
    /// Capacity of the waiting queue.
    pub queue_len: u32,
    /// Functions this node serves (peers never forward others to it).
    pub functions: Vec<String>,
    /// Measured utilisation in 0..=1, or NaN when unknown (no eBPF/PSI).
    pub utilisation: f32,
    /// The node's group (the original's `machine_group_name`); empty when it has none.
    pub group: String,
}

impl Load {
    /// Field-wise equality that treats two NaN utilisations as equal, so an
    /// unchanged "unknown" load does not count as a change.
    pub fn same_as(&self, other: &Self) -> bool {
        self.running == other.running
            && self.queued == other.queued
            && self.slots == other.slots
            && self.queue_len == other.queue_len
            && self.functions == other.functions
            && self.utilisation.to_bits() == other.utilisation.to_bits()
            && self.group == other.group
    }
}

/// The latest load this node holds for a member.
#[derive(Debug, Clone)]
pub struct LoadSample {
    /// The load itself.
    pub load: Load,
    /// The owner's version counter; a higher version is newer, whoever relayed it.
    pub version: u64,
    /// When the owner's message carrying it was received; for a load relayed
    /// through other members, the receive time minus the age they reported.
    pub at: Duration,
}

/// A member's state as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Answering probes.
    Alive,
    /// Missed a probe cycle; declared dead unless it refutes in time.
    Suspect,
    /// Did not refute its suspicion; removed after `Config::remove_after`.
    Dead,
    /// Left the cluster on purpose.
    Left,
}

impl State {
    /// Whether schedulers may use the member (alive or merely suspected).
    pub fn is_active(self) -> bool {
        matches!(self, State::Alive | State::Suspect)
    }
}

/// One member as this node sees it.
#[derive(Debug, Clone)]
pub struct Member {
    /// Machine id and advertised address.
    pub identity: Identity,
    /// Current state.
    pub state: State,
    /// The member's incarnation: only the member itself ever raises it.
    pub incarnation: u32,
    /// Since when (caller's clock) the member has been in `state`.
    pub since: Duration,
    /// Latest load heard for it, if any.
    pub load: Option<LoadSample>,
}

/// A membership change worth telling the node about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A member became alive: joined, or refuted a suspicion or death.
    Up(Identity),
    /// A member missed a probe cycle (still usable, but doubtful).
    Suspect(Identity),
    /// A member did not refute its suspicion in time.
    Down(Identity),
    /// A member left on purpose.
    Left(Identity),
    /// A dead or left member was dropped from the table; its id is remembered
    /// (`Config::tombstone_for`) so stale gossip cannot bring it back.
    Removed(Identity),
    /// Someone described this node as suspect or dead; it raised its
    /// incarnation to `incarnation` to refute.
    Refuted {
        /// The new incarnation.
        incarnation: u32,
    },
    /// Another node claims `id` with a different address. Kept: whichever
    /// claim has the higher incarnation (see [`Identity`]).
    IdentityConflict {
        /// The contested id.
        id: String,
        /// The address we keep.
        kept: String,
        /// The other claimed address.
        other: String,
    },
}
