//! Applying what a message says: the sender's own alive claim, piggybacked
//! updates, and loads.
//!
//! Precedence (SWIM with the "never resurrect" rule): for one member,
//! - `Alive(i)` overrides any state at an incarnation below `i`;
//! - `Suspect(i)` overrides `Alive(≤ i)` and `Suspect(< i)`;
//! - `Dead(i)` overrides `Alive(≤ i)`, `Suspect(≤ i)` and anything `< i`;
//! - `Left(i)` overrides `Alive`, `Suspect` and `Dead` at `≤ i`, and
//!   anything `< i`.
//!
//! Only a member raises its own incarnation, so an `Alive` newer than a
//! `Dead(i)` necessarily originates from the member itself after it learned
//! of its death (or restarted): stale gossip, at `≤ i`, never brings it
//! back, and neither does gossip about a removed (tombstoned) id.
//!
//! A node told it is suspect or dead at its current incarnation raises it
//! and disseminates `Alive` (refutation). A node that messages us while we
//! hold it suspect, dead or at a newer incarnation is told so directly, so
//! it can refute even when no gossip would reach it (healed partitions,
//! restarts).

use std::time::Duration;

use super::{Entry, Membership, Tombstone};
use crate::{
    member::{Event, Identity, LoadSample, State},
    message::{Body, Message, Update},
};

impl Membership {
    /// Applies everything in `msg` except its body. Returns whether this
    /// node refuted something the message said about it.
    pub(super) fn absorb(&mut self, msg: &Message, now: Duration) -> bool {
        let mut refuted = false;
        let header = Update {
            identity: msg.sender.clone(),
            incarnation: msg.incarnation,
            state: State::Alive,
        };
        self.apply(&header, now, &mut refuted);
        self.notify_if_stale(&header);
        if let Some(e) = self.members.get_mut(&msg.sender.id)
            && e.identity.addr == msg.sender.addr
        {
            // Straight from the owner, so the freshest there is: always
            // taken (a restarted node's version counter starts over), and
            // relayed onwards when it is news.
            if e.load
                .as_ref()
                .is_none_or(|s| s.version != msg.load_version)
            {
                self.load_bcast.insert(msg.sender.id.clone(), 0);
            }
            e.load = Some(LoadSample {
                load: msg.load.clone(),
                version: msg.load_version,
                at: now,
            });
        }
        for u in &msg.updates {
            self.apply(u, now, &mut refuted);
        }
        for l in &msg.loads {
            let Some(e) = self.members.get_mut(&l.id) else {
                continue;
            };
            if e.load.as_ref().is_some_and(|s| s.version >= l.version) {
                continue;
            }
            e.load = Some(LoadSample {
                load: l.load.clone(),
                version: l.version,
                at: now.saturating_sub(Duration::from_millis(u64::from(l.age_ms))),
            });
            self.load_bcast.insert(l.id.clone(), 0);
        }
        refuted
    }

    /// Applies one member update.
    pub(super) fn apply(&mut self, u: &Update, now: Duration, refuted: &mut bool) {
        if u.identity.id == self.identity.id {
            self.apply_to_self(u, refuted);
            return;
        }
        if let Some(t) = self.tombstones.get_mut(&u.identity.id) {
            if u.incarnation <= t.incarnation {
                return;
            }
            if u.state != State::Alive {
                // A newer death or leave raises the bar a rejoin must clear.
                if matches!(u.state, State::Dead | State::Left) {
                    t.incarnation = u.incarnation;
                    t.state = u.state;
                }
                return;
            }
            self.tombstones.remove(&u.identity.id);
        }
        let Some(e) = self.members.get(&u.identity.id) else {
            self.insert_new(u, now);
            return;
        };
        let newer = match u.state {
            State::Alive => u.incarnation > e.incarnation,
            State::Suspect => {
                (e.state == State::Alive && u.incarnation >= e.incarnation)
                    || (e.state == State::Suspect && u.incarnation > e.incarnation)
            }
            // A death or leave newer than what we hold wins over anything:
            // the member rejoined (unseen by us) and is gone again.
            State::Dead => {
                (e.state.is_active() && u.incarnation >= e.incarnation)
                    || u.incarnation > e.incarnation
            }
            State::Left => {
                (e.state != State::Left && u.incarnation >= e.incarnation)
                    || u.incarnation > e.incarnation
            }
        };
        if !newer {
            return;
        }
        let (was, was_since, old_addr) = (e.state, e.since, e.identity.addr.clone());
        let load = if old_addr == u.identity.addr {
            e.load.clone()
        } else {
            None
        };
        if old_addr != u.identity.addr {
            // Same id, another address, newer incarnation: the newer claim
            // wins (a restart elsewhere, or a misconfigured duplicate).
            self.push_event(Event::IdentityConflict {
                id: u.identity.id.clone(),
                kept: u.identity.addr.clone(),
                other: old_addr,
            });
        }
        self.members.insert(
            u.identity.id.clone(),
            Entry {
                identity: u.identity.clone(),
                incarnation: u.incarnation,
                state: u.state,
                // A suspicion at a newer incarnation is a new suspicion: its
                // timeout starts again. Otherwise the clock runs on.
                since: if was == u.state && u.state != State::Suspect {
                    was_since
                } else {
                    now
                },
                load,
            },
        );
        self.enqueue_member(u.identity.id.clone());
        if was != u.state {
            self.push_event(state_event(u.state, &u.identity));
        }
    }

    fn insert_new(&mut self, u: &Update, now: Duration) {
        match u.state {
            State::Alive | State::Suspect => {
                if self.members.len() >= self.config.max_members {
                    return;
                }
                self.members.insert(
                    u.identity.id.clone(),
                    Entry {
                        identity: u.identity.clone(),
                        incarnation: u.incarnation,
                        state: u.state,
                        since: now,
                        load: None,
                    },
                );
                self.enqueue_member(u.identity.id.clone());
                self.push_event(Event::Up(u.identity.clone()));
                if u.state == State::Suspect {
                    self.push_event(Event::Suspect(u.identity.clone()));
                }
            }
            State::Dead | State::Left => {
                // Never seen alive: only remember the id, so an older alive
                // claim still in flight cannot add it afterwards.
                if self.tombstones.len() < self.config.max_members {
                    self.tombstones.insert(
                        u.identity.id.clone(),
                        Tombstone {
                            addr: u.identity.addr.clone(),
                            incarnation: u.incarnation,
                            state: u.state,
                            until: now + self.config.tombstone_for,
                        },
                    );
                }
            }
        }
    }

    fn apply_to_self(&mut self, u: &Update, refuted: &mut bool) {
        if self.left {
            return;
        }
        let other_addr = u.identity.addr != self.identity.addr;
        if other_addr && self.conflict.as_deref() != Some(u.identity.addr.as_str()) {
            // Report each other address claiming our id once.
            self.conflict = Some(u.identity.addr.clone());
            self.push_event(Event::IdentityConflict {
                id: u.identity.id.clone(),
                kept: self.identity.addr.clone(),
                other: u.identity.addr.clone(),
            });
        }
        let stale_claim = if other_addr {
            // Our id at another address. While that claim is alive we do not
            // escalate incarnations against it (two live claimants would never
            // stop). Once it is suspect, dead or left — we restarted at a new
            // address, or the other claimant is gone — we take the id over.
            u.state != State::Alive && u.incarnation >= self.incarnation
        } else {
            u.incarnation > self.incarnation
                || (u.state != State::Alive && u.incarnation >= self.incarnation)
        };
        if stale_claim {
            self.incarnation = u.incarnation.saturating_add(1);
            self.enqueue_member(self.identity.id.clone());
            self.push_event(Event::Refuted {
                incarnation: self.incarnation,
            });
            *refuted = true;
        }
    }

    /// Tells a sender what we hold about its id when that is not what it
    /// claims — suspect, dead or left, a newer incarnation, or another
    /// address — so it can refute (or take its id over) even if no gossip
    /// would reach it.
    fn notify_if_stale(&mut self, header: &Update) {
        let id = &header.identity.id;
        let held = match (self.members.get(id), self.tombstones.get(id)) {
            (Some(e), _) => (e.identity.addr.clone(), e.state, e.incarnation),
            (None, Some(t)) => (t.addr.clone(), t.state, t.incarnation),
            _ => return,
        };
        let (addr, state, incarnation) = held;
        let stale = match state {
            State::Alive => {
                incarnation > header.incarnation
                    || (addr != header.identity.addr && incarnation >= header.incarnation)
            }
            // A left node ignores this; a restarted one refutes and is back.
            State::Suspect | State::Dead | State::Left => incarnation >= header.incarnation,
        };
        if stale {
            let notice = Update {
                identity: Identity::new(id.clone(), addr),
                incarnation,
                state,
            };
            let (to, id) = (header.identity.addr.clone(), header.identity.id.clone());
            self.send_with(&to, &id, Body::Gossip, vec![notice]);
        }
    }

    /// (Re)starts disseminating the current state of `id`.
    pub(super) fn enqueue_member(&mut self, id: String) {
        self.member_bcast.insert(id, 0);
    }
}

fn state_event(state: State, identity: &Identity) -> Event {
    let identity = identity.clone();
    match state {
        State::Alive => Event::Up(identity),
        State::Suspect => Event::Suspect(identity),
        State::Dead => Event::Down(identity),
        State::Left => Event::Left(identity),
    }
}
