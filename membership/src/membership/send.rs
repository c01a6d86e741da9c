//! Building outgoing messages: the envelope every message carries, the
//! full state of a join/sync, and what ordinary messages piggyback.
//!
//! Piggybacked updates go least-sent first and are dropped after
//! `Config::retransmits` sends; the byte budget is fixed, so per-message
//! size does not grow with the cluster.

use std::time::Duration;

use rand::seq::SliceRandom;

use super::{Membership, Outgoing};
use crate::{
    codec,
    member::State,
    message::{Body, Message, RelayedLoad, Update},
};

impl Membership {
    /// Sends `body` to `to` (member `to_id` if known) with the envelope and
    /// either the full state (join, sync) or piggybacked updates.
    pub(super) fn send(&mut self, to: &str, to_id: Option<&str>, body: Body, now: Duration) {
        let full = matches!(body, Body::Join | Body::Sync);
        let mut msg = self.envelope(body, to_id);
        let mut budget = if full {
            self.config
                .max_message_bytes
                .saturating_sub(envelope_len(&msg))
        } else {
            self.config.piggyback_bytes
        };
        if full {
            self.fill_state(&mut msg, &mut budget, now);
        } else {
            self.piggyback(&mut msg, to_id, &mut budget, now);
        }
        self.emit(to, &msg);
    }

    /// Sends `body` carrying exactly `updates` (a direct notice).
    pub(super) fn send_with(&mut self, to: &str, to_id: &str, body: Body, updates: Vec<Update>) {
        let mut msg = self.envelope(body, Some(to_id));
        msg.updates = updates;
        self.emit(to, &msg);
    }

    /// Up to `n` random members worth gossiping to: active ones, and dead
    /// ones for `gossip_to_dead` after their death so they can refute.
    pub(super) fn gossip_targets(&mut self, now: Duration, n: usize) -> Vec<(String, String)> {
        let window = self.config.gossip_to_dead;
        let candidates: Vec<(String, String)> = self
            .members
            .values()
            .filter(|e| {
                e.state.is_active()
                    || (e.state == State::Dead && now.saturating_sub(e.since) < window)
            })
            .map(|e| (e.identity.id.clone(), e.identity.addr.clone()))
            .collect();
        candidates
            .choose_multiple(&mut self.rng, n)
            .cloned()
            .collect()
    }

    fn emit(&mut self, to: &str, msg: &Message) {
        let mut bytes = Vec::with_capacity(256);
        codec::encode(msg, &mut bytes);
        self.push_outgoing(Outgoing {
            to: to.to_owned(),
            bytes,
        });
    }

    fn envelope(&self, body: Body, to: Option<&str>) -> Message {
        Message {
            sender: self.identity.clone(),
            to: to.map(str::to_owned),
            incarnation: self.incarnation,
            load_version: self.load_version,
            load: self.load.clone(),
            body,
            updates: Vec::new(),
            loads: Vec::new(),
        }
    }

    /// The update to disseminate for `id` now (its current state), if any.
    fn update_for(&self, id: &str) -> Option<Update> {
        if id == self.identity.id {
            return Some(Update {
                identity: self.identity.clone(),
                incarnation: self.incarnation,
                state: if self.left { State::Left } else { State::Alive },
            });
        }
        self.members.get(id).map(|e| Update {
            identity: e.identity.clone(),
            incarnation: e.incarnation,
            state: e.state,
        })
    }

    /// Everything a joiner needs: this node, every active or left member
    /// (dead ones are not pushed: a partition's stale verdicts must not
    /// spread into the other side), then known loads, within the budget.
    fn fill_state(&mut self, msg: &mut Message, budget: &mut usize, now: Duration) {
        let mut ids = vec![self.identity.id.clone()];
        ids.extend(
            self.members
                .values()
                .filter(|e| e.state != State::Dead)
                .map(|e| e.identity.id.clone()),
        );
        // Shuffle so that, past the budget, different members get through
        // each time instead of always the same prefix.
        ids[1..].shuffle(&mut self.rng);
        for id in &ids {
            let Some(u) = self.update_for(id) else {
                continue;
            };
            let len = codec::update_len(&u);
            if len > *budget {
                break;
            }
            *budget -= len;
            msg.updates.push(u);
        }
        for id in &ids[1..] {
            let Some(l) = self.relayed_load(id, now) else {
                continue;
            };
            let len = codec::relayed_load_len(&l);
            if len > *budget {
                break;
            }
            *budget -= len;
            msg.loads.push(l);
        }
    }

    fn piggyback(
        &mut self,
        msg: &mut Message,
        to_id: Option<&str>,
        budget: &mut usize,
        now: Duration,
    ) {
        let limit = self.config.retransmits(self.cluster_size());
        let mut queue: Vec<(u32, String)> = self
            .member_bcast
            .iter()
            .map(|(id, n)| (*n, id.clone()))
            .collect();
        queue.sort_by_key(|(n, _)| *n);
        for (n, id) in queue {
            let Some(u) = self.update_for(&id) else {
                self.member_bcast.remove(&id);
                continue;
            };
            let len = codec::update_len(&u);
            if len > *budget {
                continue;
            }
            *budget -= len;
            msg.updates.push(u);
            self.bump(true, id, n + 1, limit);
        }
        let mut queue: Vec<(u32, String)> = self
            .load_bcast
            .iter()
            .map(|(id, n)| (*n, id.clone()))
            .collect();
        queue.sort_by_key(|(n, _)| *n);
        for (n, id) in queue {
            if to_id == Some(id.as_str()) {
                continue;
            }
            let Some(l) = self.relayed_load(&id, now) else {
                self.load_bcast.remove(&id);
                continue;
            };
            let len = codec::relayed_load_len(&l);
            if len > *budget {
                continue;
            }
            *budget -= len;
            msg.loads.push(l);
            self.bump(false, id, n + 1, limit);
        }
    }

    fn bump(&mut self, member: bool, id: String, sent: u32, limit: u32) {
        let queue = if member {
            &mut self.member_bcast
        } else {
            &mut self.load_bcast
        };
        if sent >= limit {
            queue.remove(&id);
        } else {
            queue.insert(id, sent);
        }
    }

    fn relayed_load(&self, id: &str, now: Duration) -> Option<RelayedLoad> {
        let e = self.members.get(id).filter(|e| e.state.is_active())?;
        let s = e.load.as_ref()?;
        let age = now.saturating_sub(s.at).as_millis();
        Some(RelayedLoad {
            id: id.to_owned(),
            version: s.version,
            age_ms: u32::try_from(age).unwrap_or(u32::MAX),
            load: s.load.clone(),
        })
    }
}

/// Encoded size of `msg` with its update and load lists still empty.
fn envelope_len(msg: &Message) -> usize {
    let mut buf = Vec::with_capacity(128);
    codec::encode(msg, &mut buf);
    buf.len()
}
