//! Pairs the node's own decisions with their rewards for training, whatever order jobs finish in.
//!
//! A Sarsa transition for decision `e` needs `(s_e, a_e, r_e)` and the next decision's `(s_{e+1}, a_{e+1})`.
//! The next decision is known as soon as it is taken; only `r_e` arrives late (when job `e` ends). So each
//! decision is recorded in a ring slot when it is taken, its reward when its job ends, and the transition
//! `e → e+1` is trained at whichever of "reward of `e`" and "decision `e+1`" happens second — once, with no
//! waiting for slow jobs. (The EID window, which the client-side `/train` path uses, must wait for whole
//! entries in EID order: instant rejections then race ahead of slow jobs and their gaps get skipped.)
//! A slot is reused `capacity` decisions later; a reward that arrives after that is dropped and counted.
//! Storage is allocated once.

use p2pfaas_learner::window::Transition;

/// The ring.
#[derive(Debug)]
pub(super) struct Pairing {
    mask: usize,
    dims: usize,
    eids: Vec<u64>,
    states: Vec<f32>,
    actions: Vec<u32>,
    rewards: Vec<f32>,
    rewarded: Vec<bool>,
    /// Rewards for decisions no longer in the ring (or never taken).
    pub(super) late: u64,
}

/// Marks an empty slot: EIDs start at 1. Zero, so that a new ring is zeroed memory, which the allocator
/// hands out untouched (with `u64::MAX` every agent wrote 32 KiB at start-up, resident for good).
const EMPTY: u64 = 0;

impl Pairing {
    /// A ring of `capacity` decisions (rounded up to a power of two) of `dims` state values.
    pub(super) fn new(capacity: usize, dims: usize) -> Self {
        let cap = capacity.max(2).next_power_of_two();
        Self {
            mask: cap - 1,
            dims,
            eids: vec![EMPTY; cap],
            states: vec![0.0; cap * dims],
            actions: vec![0; cap],
            rewards: vec![0.0; cap],
            rewarded: vec![false; cap],
            late: 0,
        }
    }

    fn slot(&self, eid: u64) -> usize {
        // Truncation is the point: the low bits pick the slot.
        #[allow(clippy::cast_possible_truncation, reason = "masked to the ring size")]
        let low = eid as usize;
        low & self.mask
    }

    fn state(&self, slot: usize) -> &[f32] {
        &self.states[slot * self.dims..(slot + 1) * self.dims]
    }

    /// Records decision `eid`; trains `eid − 1 → eid` if that reward is already in.
    pub(super) fn decide(
        &mut self,
        eid: u64,
        state: &[f32],
        action: u32,
        train: impl FnOnce(Transition<'_>),
    ) {
        let slot = self.slot(eid);
        self.eids[slot] = eid;
        self.states[slot * self.dims..(slot + 1) * self.dims].copy_from_slice(state);
        self.actions[slot] = action;
        self.rewarded[slot] = false;
        if let Some(prev) = eid.checked_sub(1) {
            let p = self.slot(prev);
            if self.eids[p] == prev && self.rewarded[p] {
                train(self.transition(prev, p, slot));
            }
        }
    }

    /// Records the reward of decision `eid`; trains `eid → eid + 1` if that decision was taken. Returns
    /// false (and counts it) when the decision is no longer in the ring or was already rewarded.
    pub(super) fn reward(
        &mut self,
        eid: u64,
        reward: f32,
        train: impl FnOnce(Transition<'_>),
    ) -> bool {
        let slot = self.slot(eid);
        if eid == EMPTY || self.eids[slot] != eid || self.rewarded[slot] {
            self.late += 1;
            return false;
        }
        self.rewards[slot] = reward;
        self.rewarded[slot] = true;
        let next = self.slot(eid + 1);
        if self.eids[next] == eid + 1 {
            train(self.transition(eid, slot, next));
        }
        true
    }

    fn transition(&self, eid: u64, from: usize, to: usize) -> Transition<'_> {
        Transition {
            eid,
            state: self.state(from),
            action: self.actions[from],
            reward: self.rewards[from],
            next_state: self.state(to),
            next_action: self.actions[to],
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Decisions 1..=n with state [e] and action e % 3; rewards in a given order, each interleaved right
    /// after some decision. Returns the trained (eid, reward, next_state) triples.
    fn run(n: u64, order: &[u64], lag: &[usize]) -> Vec<(u64, f32, f32)> {
        let mut p = Pairing::new(64, 1);
        let mut out = Vec::new();
        let mut next_reward = 0;
        for e in 1..=n {
            p.decide(e, &[e as f32], (e % 3) as u32, |t: Transition<'_>| {
                out.push((t.eid, t.reward, t.next_state[0]));
            });
            // Deliver up to `lag[e]` rewards (in `order`) whose decision exists.
            for _ in 0..lag.get(e as usize).copied().unwrap_or(1) {
                match order.get(next_reward) {
                    Some(&r) if r <= e => {
                        next_reward += 1;
                        p.reward(r, r as f32 * 10.0, |t: Transition<'_>| {
                            out.push((t.eid, t.reward, t.next_state[0]));
                        });
                    }
                    _ => break,
                }
            }
        }
        for &r in &order[next_reward..] {
            p.reward(r, r as f32 * 10.0, |t: Transition<'_>| {
                out.push((t.eid, t.reward, t.next_state[0]));
            });
        }
        out
    }

    #[test]
    fn reward_before_and_after_the_next_decision() {
        let mut p = Pairing::new(8, 1);
        let mut out = Vec::new();
        p.decide(1, &[1.0], 1, |_: Transition<'_>| {
            unreachable!("nothing to pair yet")
        });
        // Reward of 1 before decision 2: trained at decision 2.
        assert!(p.reward(1, 0.5, |_: Transition<'_>| unreachable!(
            "decision 2 not taken"
        )));
        p.decide(2, &[2.0], 0, |t: Transition<'_>| {
            out.push((t.eid, t.reward, t.next_action));
        });
        assert_eq!(out, vec![(1, 0.5, 0)]);
        // Decision 3 before the reward of 2: trained at the reward.
        p.decide(3, &[3.0], 1, |_: Transition<'_>| {
            unreachable!("reward of 2 not in")
        });
        assert!(p.reward(2, 1.0, |t: Transition<'_>| out.push((
            t.eid,
            t.reward,
            t.next_action
        ))));
        assert_eq!(out, vec![(1, 0.5, 0), (2, 1.0, 1)]);
        // Duplicates and unknown EIDs are refused.
        assert!(!p.reward(2, 1.0, |_: Transition<'_>| unreachable!()));
        assert!(!p.reward(99, 1.0, |_: Transition<'_>| unreachable!()));
        assert_eq!(p.late, 2);
    }

    #[test]
    fn eid_zero_is_never_a_decision() {
        // Zero marks empty slots; a reward for it must not pair an empty slot with decision 1.
        let mut p = Pairing::new(8, 1);
        p.decide(1, &[1.0], 1, |_: Transition<'_>| {
            unreachable!("no decision 0")
        });
        assert!(!p.reward(0, 1.0, |_: Transition<'_>| unreachable!("no decision 0")));
        assert!(!p.reward(8, 1.0, |_: Transition<'_>| unreachable!("slot 0 is empty")));
        assert_eq!(p.late, 2);
    }

    #[test]
    fn overwritten_slots_drop_late_rewards() {
        let mut p = Pairing::new(4, 1);
        for e in 1..=6 {
            p.decide(e, &[0.0], 0, |_: Transition<'_>| {
                unreachable!("no rewards yet")
            });
        }
        assert!(!p.reward(1, 1.0, |_: Transition<'_>| unreachable!("slot reused by 5")));
        assert!(p.reward(5, 1.0, |t: Transition<'_>| assert_eq!(
            (t.eid, t.next_state),
            (5, &[0.0][..])
        )));
    }

    proptest! {
        /// Any reward order within the ring: each transition e → e+1 (e < n) is trained exactly once,
        /// with e's reward and e+1's state.
        #[test]
        fn every_transition_once(n in 2u64..40, seed in any::<u64>(), lag in proptest::collection::vec(0usize..3, 41)) {
            let mut order: Vec<u64> = (1..=n).collect();
            // A deterministic shuffle from the seed.
            let mut x = seed | 1;
            for i in (1..order.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut trained = run(n, &order, &lag);
            trained.sort_by_key(|t| t.0);
            let want: Vec<(u64, f32, f32)> =
                (1..n).map(|e| (e, e as f32 * 10.0, (e + 1) as f32)).collect();
            prop_assert_eq!(trained, want);
        }
    }
}
