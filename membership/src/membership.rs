//! The SWIM state machine: [`Membership`] and its public entry points.
//!
//! Inputs are plain calls (`join`, `leave`, `handle`, `tick`,
//! `set_local_load`) that take the caller's `now`; outputs are queued and
//! drained with [`Membership::poll_send`] and [`Membership::poll_event`].
//! It never does I/O, reads a clock or spawns anything. The protocol rules
//! live in the child modules:
//! - `merge`: applying updates (incarnation precedence, refutation,
//!   tombstones, identity conflicts) and recording loads;
//! - `timer`: what `tick` drives (probes, suspicion, removal, gossip rounds,
//!   join retries and reconnects);
//! - `send`: building outgoing messages and choosing what to piggyback.

mod merge;
mod send;
mod timer;

use std::{
    collections::{BTreeMap, VecDeque},
    time::Duration,
};

use rand::{SeedableRng, rngs::SmallRng};

use crate::{
    codec,
    config::Config,
    error::{DecodeError, Error, Result},
    member::{Event, Identity, Load, LoadSample, Member, State},
    message::Body,
};

/// Queued outputs beyond this are dropped oldest-first: a node that stops
/// draining must not grow the core without bound. Losing a message is
/// something SWIM tolerates by design.
const MAX_QUEUED: usize = 4096;

/// A message for the node to deliver: `POST http://{to}/peer/gossip` with
/// `bytes` as the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Destination `host:port`.
    pub to: String,
    /// Encoded message.
    pub bytes: Vec<u8>,
}

/// One member in the table.
#[derive(Debug, Clone)]
struct Entry {
    identity: Identity,
    incarnation: u32,
    state: State,
    /// When `state` was entered: drives suspicion and removal deadlines.
    since: Duration,
    load: Option<LoadSample>,
}

/// A removed member, remembered so stale gossip cannot resurrect it.
#[derive(Debug, Clone)]
struct Tombstone {
    /// Kept so reconnects can still reach a member removed as dead.
    addr: String,
    incarnation: u32,
    state: State,
    until: Duration,
}

/// The probe in flight (at most one per node, as in SWIM).
#[derive(Debug, Clone)]
struct Probe {
    target: String,
    incarnation: u32,
    seq: u32,
    started: Duration,
    indirect_sent: bool,
}

/// Sans-IO SWIM membership with load piggybacking. See the crate docs.
///
/// `Clone` copies the whole state, RNG included (simulations fork runs).
#[derive(Debug, Clone)]
pub struct Membership {
    config: Config,
    identity: Identity,
    /// Only this node raises it: to refute suspicion or death, or to win
    /// over older claims of its own id.
    incarnation: u32,
    left: bool,
    load: Load,
    /// Bumped whenever `set_local_load` changes the load.
    load_version: u64,
    /// The own load changed since the last gossip round.
    load_dirty: bool,
    rng: SmallRng,
    /// Keyed by id; a `BTreeMap` so iteration, and so every run, is
    /// deterministic for a given seed.
    members: BTreeMap<String, Entry>,
    tombstones: BTreeMap<String, Tombstone>,
    seeds: Vec<String>,
    /// Some peer answered a join (or joined through us).
    joined: bool,
    next_join: Duration,
    probe: Option<Probe>,
    probe_order: Vec<String>,
    next_probe: Duration,
    seq: u32,
    next_gossip: Duration,
    next_reconnect: Duration,
    next_sync: Duration,
    /// Timer phases were drawn (on the first `tick` or `join`).
    started: bool,
    /// Member ids (self included) whose current state is being
    /// disseminated, with how many times it was sent.
    member_bcast: BTreeMap<String, u32>,
    /// Member ids whose latest load is being relayed, with send counts.
    load_bcast: BTreeMap<String, u32>,
    /// Last other address seen claiming our id, so a conflict is reported
    /// once per address rather than once per message.
    conflict: Option<String>,
    outgoing: VecDeque<Outgoing>,
    events: VecDeque<Event>,
}

impl Membership {
    /// A core for `identity`. `seed` drives every random choice (probe
    /// order, indirect probes, gossip targets), so a run is reproducible.
    pub fn try_new(identity: Identity, config: Config, seed: u64) -> Result<Self> {
        config.validate()?;
        if !codec::valid_str(&identity.id) {
            return Err(Error::InvalidIdentity { field: "id" });
        }
        if !codec::valid_str(&identity.addr) {
            return Err(Error::InvalidIdentity { field: "addr" });
        }
        Ok(Self {
            config,
            identity,
            incarnation: 0,
            left: false,
            load: Load {
                utilisation: f32::NAN,
                ..Load::default()
            },
            load_version: 0,
            load_dirty: false,
            rng: SmallRng::seed_from_u64(seed),
            members: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            seeds: Vec::new(),
            joined: false,
            next_join: Duration::ZERO,
            probe: None,
            probe_order: Vec::new(),
            next_probe: Duration::ZERO,
            seq: 0,
            next_gossip: Duration::ZERO,
            next_reconnect: Duration::ZERO,
            next_sync: Duration::ZERO,
            started: false,
            member_bcast: BTreeMap::new(),
            load_bcast: BTreeMap::new(),
            conflict: None,
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Contacts `seeds` (`host:port`; their ids need not be known) with a
    /// state exchange, resent every `join_retry` until one answers. Seeds
    /// that are not members later are retried by the reconnect timer.
    pub fn join(&mut self, seeds: &[String], now: Duration) {
        self.seeds = seeds
            .iter()
            .filter(|s| codec::valid_str(s) && **s != self.identity.addr)
            .cloned()
            .collect();
        self.left = false;
        timer::start(self, now);
        self.join_seeds(now);
    }

    /// Leaves on purpose: marks this node `Left` and tells a few members
    /// right away; gossip continues from `tick` until the news is spread.
    /// Incoming messages are ignored from now on.
    pub fn leave(&mut self, now: Duration) {
        if self.left {
            return;
        }
        self.left = true;
        self.probe = None;
        self.enqueue_member(self.identity.id.clone());
        let targets = self.gossip_targets(now, 2 * self.config.gossip_fanout);
        for (id, addr) in targets {
            self.send(&addr, Some(&id), Body::Gossip, now);
        }
    }

    /// Sets the load piggybacked on every later message. Loads that cannot
    /// be encoded (more than 255 functions, an empty or over-long name,
    /// over [`MAX_LOAD_BYTES`](crate::config::MAX_LOAD_BYTES)) are refused.
    pub fn set_local_load(&mut self, load: Load) -> Result<()> {
        if !codec::valid_load(&load) {
            return Err(Error::InvalidLoad);
        }
        if !load.same_as(&self.load) {
            self.load = load;
            self.load_version += 1;
            self.load_dirty = true;
        }
        Ok(())
    }

    /// Records a member's load learned outside gossip — from the load
    /// headers of a peer's HTTP response — as if it came in that member's
    /// own message (`version` is the member's [`LoadSample::version`]).
    /// Ignored for unknown or inactive members and loads that cannot be
    /// encoded.
    pub fn observe_load(&mut self, id: &str, version: u64, load: Load, now: Duration) {
        if !codec::valid_load(&load) {
            return;
        }
        let Some(e) = self.members.get_mut(id).filter(|e| e.state.is_active()) else {
            return;
        };
        if e.load.as_ref().is_none_or(|s| s.version != version) {
            self.load_bcast.insert(id.to_owned(), 0);
        }
        e.load = Some(LoadSample {
            load,
            version,
            at: now,
        });
    }

    /// Handles one message body received from a peer. `from_addr` is the
    /// transport source, informational only: replies go to the address the
    /// sender advertises. On error nothing changed.
    pub fn handle(
        &mut self,
        from_addr: &str,
        bytes: &[u8],
        now: Duration,
    ) -> Result<(), DecodeError> {
        let _ = from_addr;
        if bytes.len() > self.config.max_message_bytes {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: self.config.max_message_bytes,
            });
        }
        let msg = codec::decode(bytes)?;
        if msg.sender.id == self.identity.id && msg.sender.addr == self.identity.addr {
            return Err(DecodeError::FromSelf);
        }
        if self.left || msg.to.as_ref().is_some_and(|to| *to != self.identity.id) {
            // Left: we are out. Misaddressed: meant for a previous owner of
            // our address; answering would keep that id alive.
            return Ok(());
        }
        let refuted = self.absorb(&msg, now);
        let sender = msg.sender.addr.as_str();
        let sender_id = Some(msg.sender.id.as_str());
        match msg.body {
            Body::Ping { seq } => self.send(sender, sender_id, Body::Ack { seq }, now),
            Body::Ack { seq } => {
                if self.probe.as_ref().is_some_and(|p| p.seq == seq) {
                    self.probe = None;
                }
            }
            Body::PingReq { seq, target } => {
                // Only on behalf of known members and towards known
                // members: a peer must not make us message arbitrary hosts.
                let origin = msg.sender.addr.clone();
                if let Some(target_id) = self.id_of_addr(&target) {
                    let body = Body::IndirectPing { seq, origin };
                    self.send(&target, Some(&target_id), body, now);
                }
            }
            Body::IndirectPing { seq, origin } => {
                self.send(sender, sender_id, Body::IndirectAck { seq, origin }, now);
            }
            Body::IndirectAck { seq, origin } => {
                if let Some(origin_id) = self.id_of_addr(&origin) {
                    self.send(&origin, Some(&origin_id), Body::Ack { seq }, now);
                }
            }
            Body::Join => {
                self.joined = true;
                self.send(sender, sender_id, Body::Sync, now);
            }
            Body::Sync => {
                if !self.joined {
                    // Members that joined at the same time may have missed
                    // each other's gossip: exchange state again soon.
                    self.next_sync = now + self.config.join_retry;
                }
                self.joined = true;
                if refuted {
                    // Our answer carried a stale incarnation; send the new one.
                    self.send(sender, sender_id, Body::Gossip, now);
                }
            }
            Body::Gossip => {
                if refuted {
                    self.send(sender, sender_id, Body::Gossip, now);
                }
            }
        }
        Ok(())
    }

    /// Drives every timer; call it at least every few tens of milliseconds.
    pub fn tick(&mut self, now: Duration) {
        timer::run(self, now);
    }

    /// Next message to deliver, if any.
    pub fn poll_send(&mut self) -> Option<Outgoing> {
        self.outgoing.pop_front()
    }

    /// Next membership event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Alive and suspect members (not this node), ordered by id.
    pub fn members(&self) -> Vec<Member> {
        self.members
            .values()
            .filter(|e| e.state.is_active())
            .map(Entry::to_member)
            .collect()
    }

    /// Any member still in the table (dead and left ones until removal).
    pub fn get(&self, id: &str) -> Option<Member> {
        self.members.get(id).map(Entry::to_member)
    }

    /// This node as peers should see it.
    pub fn local(&self) -> Member {
        Member {
            identity: self.identity.clone(),
            state: if self.left { State::Left } else { State::Alive },
            incarnation: self.incarnation,
            since: Duration::ZERO,
            load: Some(LoadSample {
                load: self.load.clone(),
                version: self.load_version,
                at: Duration::ZERO,
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // === internal helpers shared by the child modules ===

    fn push_event(&mut self, event: Event) {
        if self.events.len() >= MAX_QUEUED {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    fn push_outgoing(&mut self, out: Outgoing) {
        if self.outgoing.len() >= MAX_QUEUED {
            self.outgoing.pop_front();
        }
        self.outgoing.push_back(out);
    }

    fn id_of_addr(&self, addr: &str) -> Option<String> {
        self.members
            .values()
            .find(|e| e.identity.addr == addr)
            .map(|e| e.identity.id.clone())
    }

    /// Members counted for timeouts and retransmit limits: active ones and self.
    fn cluster_size(&self) -> usize {
        1 + self
            .members
            .values()
            .filter(|e| e.state.is_active())
            .count()
    }

    fn join_seeds(&mut self, now: Duration) {
        self.next_join = now + self.config.join_retry;
        for seed in self.seeds.clone() {
            let id = self.id_of_addr(&seed);
            self.send(&seed, id.as_deref(), Body::Join, now);
        }
    }
}

impl Entry {
    fn to_member(&self) -> Member {
        Member {
            identity: self.identity.clone(),
            state: self.state,
            incarnation: self.incarnation,
            since: self.since,
            load: self.load.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
