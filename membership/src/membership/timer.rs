//! Everything `tick` drives, in order: join retries, the probe cycle,
//! suspicion deadlines, reconnects, anti-entropy, removal and tombstone
//! expiry, gossip rounds. All deadlines compare against the caller's `now`.
//!
//! Probe cycle (SWIM): each `probe_period` one member, taken round-robin
//! from a shuffled list, gets a `Ping`; without an `Ack` after
//! `probe_timeout`, `indirect_probes` others are asked to probe it; without
//! any ack after another `probe_timeout` it becomes `Suspect` (SWIM waits
//! for the end of the period; not waiting saves detection time when the
//! period is much longer than a round trip), and `Dead` after the suspicion
//! timeout unless it refutes.

use std::time::Duration;

use rand::{Rng, seq::SliceRandom};

use super::{Membership, Probe, Tombstone};
use crate::{
    member::{Event, State},
    message::{Body, Update},
};

pub(super) fn run(m: &mut Membership, now: Duration) {
    start(m, now);
    if !m.left {
        if !m.joined && !m.seeds.is_empty() && now >= m.next_join {
            m.join_seeds(now);
        }
        probe(m, now);
        suspicion(m, now);
        reconnect(m, now);
        anti_entropy(m, now);
    }
    removal(m, now);
    gossip(m, now);
}

/// Draws each periodic timer's first deadline at a random point of its
/// period, so nodes started together do not probe and gossip in lockstep.
pub(super) fn start(m: &mut Membership, now: Duration) {
    if m.started {
        return;
    }
    m.started = true;
    let c = &m.config;
    let (probe, gossip, reconnect) = (c.probe_period, c.gossip_interval, c.reconnect_interval);
    m.next_probe = now + probe.mul_f64(m.rng.r#gen::<f64>());
    m.next_gossip = now + gossip.mul_f64(m.rng.r#gen::<f64>());
    m.next_reconnect = now + reconnect.mul_f64(m.rng.r#gen::<f64>());
    m.next_sync = now + m.config.sync_interval.mul_f64(m.rng.r#gen::<f64>());
}

fn probe(m: &mut Membership, now: Duration) {
    if let Some(p) = m.probe.clone() {
        if !p.indirect_sent && now >= p.started + m.config.probe_timeout {
            indirect(m, &p, now);
        }
        if now < p.started + 2 * m.config.probe_timeout {
            return;
        }
        m.probe = None;
        let suspect = m
            .members
            .get(&p.target)
            .filter(|e| e.state == State::Alive && e.incarnation == p.incarnation)
            .map(|e| Update {
                identity: e.identity.clone(),
                incarnation: e.incarnation,
                state: State::Suspect,
            });
        if let Some(u) = suspect {
            let mut refuted = false;
            m.apply(&u, now, &mut refuted);
        }
    }
    if now < m.next_probe {
        return;
    }
    let Some(target) = next_target(m) else { return };
    let Some(e) = m.members.get(&target) else {
        return;
    };
    let (addr, incarnation) = (e.identity.addr.clone(), e.incarnation);
    m.seq = m.seq.wrapping_add(1);
    m.probe = Some(Probe {
        target: target.clone(),
        incarnation,
        seq: m.seq,
        started: now,
        indirect_sent: false,
    });
    m.next_probe = now + m.config.probe_period;
    m.send(&addr, Some(&target), Body::Ping { seq: m.seq }, now);
}

/// Next active member in the shuffled round-robin order (reshuffled once
/// exhausted), so every member is probed once per round.
fn next_target(m: &mut Membership) -> Option<String> {
    loop {
        match m.probe_order.pop() {
            Some(id) => {
                if m.members.get(&id).is_some_and(|e| e.state.is_active()) {
                    return Some(id);
                }
            }
            None => {
                let mut ids: Vec<String> = m
                    .members
                    .values()
                    .filter(|e| e.state.is_active())
                    .map(|e| e.identity.id.clone())
                    .collect();
                if ids.is_empty() {
                    return None;
                }
                ids.shuffle(&mut m.rng);
                m.probe_order = ids;
            }
        }
    }
}

fn indirect(m: &mut Membership, p: &Probe, now: Duration) {
    if let Some(probe) = m.probe.as_mut() {
        probe.indirect_sent = true;
    }
    let Some(target) = m.members.get(&p.target).map(|e| e.identity.addr.clone()) else {
        return;
    };
    let helpers: Vec<(String, String)> = m
        .members
        .values()
        .filter(|e| e.state == State::Alive && e.identity.id != p.target)
        .map(|e| (e.identity.id.clone(), e.identity.addr.clone()))
        .collect();
    let chosen: Vec<(String, String)> = helpers
        .choose_multiple(&mut m.rng, m.config.indirect_probes)
        .cloned()
        .collect();
    for (id, addr) in chosen {
        let body = Body::PingReq {
            seq: p.seq,
            target: target.clone(),
        };
        m.send(&addr, Some(&id), body, now);
    }
}

fn suspicion(m: &mut Membership, now: Duration) {
    let timeout = m.config.suspicion_timeout(m.cluster_size());
    let expired: Vec<Update> = m
        .members
        .values()
        .filter(|e| e.state == State::Suspect && now >= e.since + timeout)
        .map(|e| Update {
            identity: e.identity.clone(),
            incarnation: e.incarnation,
            state: State::Dead,
        })
        .collect();
    let mut refuted = false;
    for u in expired {
        m.apply(&u, now, &mut refuted);
    }
}

fn removal(m: &mut Membership, now: Duration) {
    let after = m.config.remove_after;
    let gone: Vec<String> = m
        .members
        .values()
        .filter(|e| matches!(e.state, State::Dead | State::Left) && now >= e.since + after)
        .map(|e| e.identity.id.clone())
        .collect();
    for id in gone {
        let Some(e) = m.members.remove(&id) else {
            continue;
        };
        m.member_bcast.remove(&id);
        m.load_bcast.remove(&id);
        if m.tombstones.len() >= m.config.max_members {
            // Bounded like the table: forget the tombstone closest to expiry.
            let oldest = m
                .tombstones
                .iter()
                .min_by_key(|(_, t)| t.until)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                m.tombstones.remove(&k);
            }
        }
        m.tombstones.insert(
            id,
            Tombstone {
                addr: e.identity.addr.clone(),
                incarnation: e.incarnation,
                state: e.state,
                until: now + m.config.tombstone_for,
            },
        );
        m.push_event(Event::Removed(e.identity));
    }
    m.tombstones.retain(|_, t| t.until > now);
}

fn gossip(m: &mut Membership, now: Duration) {
    if now < m.next_gossip {
        return;
    }
    m.next_gossip = now + m.config.gossip_interval;
    if m.member_bcast.is_empty() && m.load_bcast.is_empty() && !m.load_dirty {
        return;
    }
    m.load_dirty = false;
    for (id, addr) in m.gossip_targets(now, m.config.gossip_fanout) {
        m.send(&addr, Some(&id), Body::Gossip, now);
    }
}

/// Once per `reconnect_interval`, a state exchange with one dead member
/// (or removed-as-dead one) or one seed that is not a live member: how a
/// healed partition or a restarted seed is found again.
fn reconnect(m: &mut Membership, now: Duration) {
    if now < m.next_reconnect {
        return;
    }
    m.next_reconnect = now + m.config.reconnect_interval;
    if !m.joined {
        return;
    }
    let mut candidates: Vec<String> = m
        .members
        .values()
        .filter(|e| e.state == State::Dead)
        .map(|e| e.identity.addr.clone())
        .collect();
    candidates.extend(
        m.tombstones
            .values()
            .filter(|t| t.state == State::Dead)
            .map(|t| t.addr.clone()),
    );
    for seed in &m.seeds {
        let live = m
            .members
            .values()
            .any(|e| e.state.is_active() && e.identity.addr == *seed);
        if !live {
            candidates.push(seed.clone());
        }
    }
    let Some(addr) = candidates.choose(&mut m.rng).cloned() else {
        return;
    };
    let id = m.id_of_addr(&addr);
    m.send(&addr, id.as_deref(), Body::Join, now);
}

/// Once per `sync_interval`, a state exchange with one random alive member.
fn anti_entropy(m: &mut Membership, now: Duration) {
    if !m.joined || now < m.next_sync {
        return;
    }
    // A state exchange costs O(members) bytes: stretching the interval
    // past 16 members keeps its per-node cost flat in cluster size.
    let scale = (m.cluster_size() as f64 / 16.0).max(1.0);
    m.next_sync = now + m.config.sync_interval.mul_f64(scale);
    let alive: Vec<(String, String)> = m
        .members
        .values()
        .filter(|e| e.state == State::Alive)
        .map(|e| (e.identity.id.clone(), e.identity.addr.clone()))
        .collect();
    if let Some((id, addr)) = alive.choose(&mut m.rng).cloned() {
        m.send(&addr, Some(&id), Body::Join, now);
    }
}
