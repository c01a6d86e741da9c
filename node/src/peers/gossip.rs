//! The node's SWIM membership (crate `membership`): one state machine per node behind a mutex, fed by
//! `POST /peer/gossip` and by a timer on one worker, whose events and member loads update the peer table.
//!
//! Members learned through gossip get their liveness from SWIM (suspicion, incarnations, no resurrection
//! by stale gossip) and their load, id and functions from the load piggybacked on every message; peers
//! that never gossip (an original P2PFaaS node in `init_servers`) keep being refreshed by load probes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use p2pfaas_membership::{
    Config, DecodeError, Event, Identity, Load, Member, Membership, Outgoing,
};

use super::PeerTable;
use crate::scheduler::PeerLoad;

/// This node's load as gossip carries it, with `utilisation` (NaN when unknown).
pub fn local_load(node: &crate::node::Node, utilisation: f32) -> Load {
    let a = &node.admission;
    let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Load {
        running: to_u32(a.running()),
        queued: to_u32(a.queued()),
        slots: to_u32(a.slots()),
        queue_len: to_u32(a.queue_len()),
        functions: node
            .registry
            .snapshot()
            .1
            .iter()
            .map(|f| f.name().to_owned())
            .collect(),
        utilisation,
        group: node.group(),
    }
}

/// What one timer step produced.
#[derive(Debug, Default)]
pub struct Step {
    /// Messages to POST.
    pub outgoing: Vec<Outgoing>,
    /// Membership changes.
    pub events: Vec<Event>,
    /// Alive and suspect members with their loads.
    pub members: Vec<Member>,
}

/// The node's membership.
#[derive(Debug)]
pub struct Gossip {
    inner: Mutex<Membership>,
    epoch: Instant,
    /// Seeds the RNG of the membership built by each re-join (distinct per re-join).
    seed: u64,
    /// Messages produced outside a timer step (the goodbye of a re-join), sent with the next step's.
    pending: Mutex<Vec<Outgoing>>,
}

impl Gossip {
    /// Membership for this node (`id` at `addr`, starting with `load`), joining through `seeds`.
    pub fn new(
        id: &str,
        addr: &str,
        seeds: &[String],
        load: Load,
        config: Config,
        seed: u64,
    ) -> Result<Self, p2pfaas_membership::Error> {
        let mut m = Membership::try_new(Identity::new(id, addr), config, seed)?;
        let epoch = Instant::now();
        // The join message carries the load: peers must learn the functions with the first contact.
        m.set_local_load(load)?;
        m.join(seeds, Duration::ZERO);
        Ok(Self {
            inner: Mutex::new(m),
            epoch,
            seed,
            pending: Mutex::new(Vec::new()),
        })
    }

    /// Leaves the cluster under the current identity and joins again as `id` at `addr` (a run-time
    /// identity change), through `seeds` and every member active now. Safe the way a restart is: the
    /// goodbye makes peers drop the old identity at once, the old identity's incarnations cannot revive
    /// it, and the peer table keeps an address only for the identity that now answers there
    /// (see [`apply`]). On error (an invalid id or address) nothing changed.
    pub fn rejoin(
        &self,
        id: &str,
        addr: &str,
        seeds: &[String],
        load: Load,
    ) -> Result<(), p2pfaas_membership::Error> {
        let now = self.epoch.elapsed();
        let mut m = self.lock();
        let seed = self
            .seed
            .wrapping_add(u64::try_from(now.as_micros()).unwrap_or(u64::MAX));
        let mut next = Membership::try_new(Identity::new(id, addr), m.config().clone(), seed)?;
        next.set_local_load(load)?;
        let mut all = seeds.to_vec();
        all.extend(
            m.members()
                .into_iter()
                .filter(|x| x.state.is_active())
                .map(|x| x.identity.addr),
        );
        m.leave(now);
        let goodbye: Vec<Outgoing> = std::iter::from_fn(|| m.poll_send()).collect();
        next.join(&all, now);
        *m = next;
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(goodbye);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Membership> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Handles one received message body.
    pub fn handle(&self, from: &str, bytes: &[u8]) -> Result<(), DecodeError> {
        self.handle_at(from, bytes, self.epoch.elapsed())
    }

    fn handle_at(&self, from: &str, bytes: &[u8], now: Duration) -> Result<(), DecodeError> {
        self.lock().handle(from, bytes, now)
    }

    /// Publishes this node's load, drives the timers and drains what they produced into `step`.
    pub fn step(&self, local: Load, step: &mut Step) {
        self.step_at(local, step, self.epoch.elapsed());
    }

    fn step_at(&self, local: Load, step: &mut Step, now: Duration) {
        step.outgoing
            .append(&mut self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let mut m = self.lock();
        // Unchanged loads are not republished (the version only moves on a change).
        if !m.local().load.is_some_and(|s| s.load.same_as(&local)) {
            tracing::trace!(?local, "local load changed");
            let _invalid = m.set_local_load(local);
        }
        m.tick(now);
        while let Some(out) = m.poll_send() {
            step.outgoing.push(out);
        }
        while let Some(e) = m.poll_event() {
            step.events.push(e);
        }
        step.members = m.members();
    }

    /// Says goodbye to the cluster (at shutdown); returns the messages to send.
    pub fn leave(&self) -> Vec<Outgoing> {
        let now = self.epoch.elapsed();
        let mut m = self.lock();
        m.leave(now);
        std::iter::from_fn(|| m.poll_send()).collect()
    }
}

/// Applies a step's events and loads to the peer table. `versions` remembers the last load version
/// applied per member, so an unchanged load is not re-reported as fresh.
pub fn apply(table: &PeerTable, step: &Step, versions: &mut HashMap<String, u64>) {
    for event in &step.events {
        match event {
            Event::Up(who) => {
                if let Some(id) = table.add(&who.addr) {
                    table.mark_gossiping(id, true);
                }
            }
            Event::Down(who) | Event::Left(who) | Event::Removed(who) => {
                // Not when another identity answers at that address now (a node that changed its id).
                table.mark_down_if(&who.addr, &who.id);
                versions.remove(&who.id);
            }
            Event::IdentityConflict { id, kept, other } => {
                // Two live nodes claim one machine id: paths, learning actions and discovery all confuse
                // them. Counted and logged as an error (an operator must rename one); not fatal, since a
                // node that restarts at a new address also shows up as one, once.
                table.count_identity_conflict();
                tracing::error!(%id, %kept, %other, "two nodes use the same machine_id");
            }
            _ => {}
        }
    }
    for m in step.members.iter().filter(|m| m.state.is_active()) {
        let Some(sample) = &m.load else { continue };
        if versions.get(&m.identity.id) == Some(&sample.version) {
            continue;
        }
        let Some(id) = table.add(&m.identity.addr) else {
            continue;
        };
        versions.insert(m.identity.id.clone(), sample.version);
        table.report_identity(
            id,
            &m.identity.id,
            sample.load.functions.iter().cloned().collect(),
        );
        let (_, snapshot) = table.snapshot();
        if let Some(peer) = snapshot.get(id) {
            PeerTable::report_native(&peer.live);
            PeerTable::report_group(&peer.live, &sample.load.group);
            table.report_load(
                &peer.live,
                PeerLoad {
                    running: sample.load.running,
                    queued: sample.load.queued,
                    slots: sample.load.slots,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(functions: &[&str], running: u32) -> Load {
        Load {
            running,
            slots: 4,
            functions: functions.iter().map(|s| (*s).to_owned()).collect(),
            utilisation: f32::NAN,
            ..Load::default()
        }
    }

    /// Delivers messages both ways for two simulated seconds, 100 ms per round.
    fn exchange(a: &Gossip, b: &Gossip, sa: &mut Step, sb: &mut Step) {
        for round in 1..=20 {
            let now = Duration::from_millis(100 * round);
            for out in sa.outgoing.drain(..) {
                let _ = b.handle_at("127.0.0.1:1", &out.bytes, now);
            }
            for out in sb.outgoing.drain(..) {
                let _ = a.handle_at("127.0.0.1:2", &out.bytes, now);
            }
            a.step_at(load(&["echo"], 1), sa, now);
            b.step_at(load(&["echo", "sleep"], 2), sb, now);
        }
    }

    #[test]
    fn members_and_their_loads_reach_the_peer_table() {
        let a = Gossip::new(
            "a",
            "127.0.0.1:1",
            &[],
            load(&["echo"], 0),
            Config::default(),
            1,
        )
        .expect("valid");
        let b = Gossip::new(
            "b",
            "127.0.0.1:2",
            &["127.0.0.1:1".to_owned()],
            load(&["echo", "sleep"], 0),
            Config::default(),
            2,
        )
        .expect("valid");
        let (mut sa, mut sb) = (Step::default(), Step::default());
        a.step_at(load(&["echo"], 1), &mut sa, Duration::ZERO);
        b.step_at(load(&["echo", "sleep"], 2), &mut sb, Duration::ZERO);
        exchange(&a, &b, &mut sa, &mut sb);
        let table = PeerTable::new("a".into(), "127.0.0.1:1".into());
        let mut versions = HashMap::new();
        apply(&table, &sa, &mut versions);
        let (_, snap) = table.snapshot();
        let peer = snap.peers().first().expect("b is known to a");
        assert_eq!(peer.addr, "127.0.0.1:2");
        assert_eq!(peer.machine_id.as_deref(), Some("b"));
        assert!(peer.serves("sleep"));
        assert!(peer.speaks_native());
        assert!(peer.is_up());
        // b leaves: a marks it down.
        let bye = b.leave();
        let later = Duration::from_millis(2100);
        for out in bye {
            let _ = a.handle_at("127.0.0.1:2", &out.bytes, later);
        }
        let mut after = Step::default();
        a.step_at(load(&["echo"], 1), &mut after, later);
        apply(&table, &after, &mut versions);
        assert!(!table.snapshot().1.peers()[0].is_up());
    }
}
