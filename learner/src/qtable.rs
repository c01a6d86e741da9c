//! Tabular action values with fixed-capacity open addressing.
//!
//! Owns [`QTable`]: a map from exact state vectors to one value per action,
//! allocated once at construction. Keys are stored inline (a flat `Vec<f32>`
//! of `slots × dims`) and compared bit for bit, so `[1, 21]` and `[12, 1]`
//! are different states (the original learner concatenated digits into a
//! string key and merged them).
//!
//! When `capacity` states are stored the table is full: further new states
//! are not inserted, read as 0 and their updates are dropped and counted in
//! [`QTable::rejected`]. It never grows, because growing would allocate on
//! the request path.

use crate::{
    error::{Error, Result},
    value::ValueFunction,
};

/// Slot marker for "no key here". Stored hashes have their low bit forced to
/// 1 so they never equal it.
const EMPTY: u64 = 0;

/// A fixed-capacity Q-table.
#[derive(Debug, Clone)]
pub struct QTable {
    dims: usize,
    actions: usize,
    /// Maximum number of stored states; the slot count is at least twice
    /// this so linear probing always finds an empty slot and stays short.
    capacity: usize,
    /// `slots - 1`; slots is a power of two so the probe wraps with a mask.
    mask: usize,
    /// Per-slot key hash, [`EMPTY`] when free. Checked before the key to
    /// skip most full comparisons.
    hashes: Vec<u64>,
    /// `slots × dims` key components.
    keys: Vec<f32>,
    /// `slots × actions` values.
    values: Vec<f32>,
    len: usize,
    rejected: u64,
}

impl QTable {
    /// A table for states of `dims` components, `actions` actions and up to
    /// `capacity` distinct states. Allocates all storage now.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `dims`, `actions` or `capacity` when
    /// zero, or `capacity` when the storage size would overflow.
    pub fn try_new(dims: usize, actions: usize, capacity: usize) -> Result<Self> {
        let invalid = |name, value: usize, expected| {
            // Display only; shapes are far below 2^53.
            #[allow(clippy::cast_precision_loss, reason = "display only")]
            let value = value as f64;
            Error::InvalidParameter {
                name,
                value,
                expected,
            }
        };
        if dims == 0 {
            return Err(invalid("dims", dims, ">= 1"));
        }
        if actions == 0 {
            return Err(invalid("actions", actions, ">= 1"));
        }
        let slots = capacity
            .checked_mul(2)
            .and_then(usize::checked_next_power_of_two)
            .filter(|s| s.checked_mul(dims.max(actions)).is_some() && capacity > 0)
            .ok_or_else(|| invalid("capacity", capacity, ">= 1 and small enough to allocate"))?;
        Ok(Self {
            dims,
            actions,
            capacity,
            mask: slots - 1,
            hashes: vec![EMPTY; slots],
            keys: vec![0.0; slots * dims],
            values: vec![0.0; slots * actions],
            len: 0,
            rejected: 0,
        })
    }

    /// Number of stored states.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no state is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of stored states.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Updates dropped because their state was new and the table full.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Whether `state` is stored.
    pub fn contains(&self, state: &[f32]) -> bool {
        self.find(state).is_ok()
    }

    /// Removes every state; keeps the storage.
    pub fn clear(&mut self) {
        // Only inserting writes hashes, keys and values, so an empty table is as allocated: leave its
        // pages untouched (a node restarting with an empty saved table would otherwise fault in the
        // whole table, ~1.8 MB at the default capacity, before serving anything).
        if self.len > 0 {
            self.hashes.fill(EMPTY);
            self.keys.fill(0.0);
            self.values.fill(0.0);
        }
        self.len = 0;
        self.rejected = 0;
    }

    /// Stored `(state, values)` pairs, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&[f32], &[f32])> {
        self.hashes
            .iter()
            .enumerate()
            .filter(|(_, h)| **h != EMPTY)
            .map(|(slot, _)| (self.key(slot), self.row(slot)))
    }

    /// Sets all action values of `state`, inserting it if needed. Returns
    /// `false` (and stores nothing) when the state is new and the table full.
    ///
    /// # Panics
    /// If `state.len() != dims` or `values.len() != actions`.
    pub fn set(&mut self, state: &[f32], values: &[f32]) -> bool {
        assert_eq!(values.len(), self.actions, "one value per action");
        match self.slot_for_insert(state) {
            Some(slot) => {
                let a = self.actions;
                self.values[slot * a..(slot + 1) * a].copy_from_slice(values);
                true
            }
            None => false,
        }
    }

    fn key(&self, slot: usize) -> &[f32] {
        &self.keys[slot * self.dims..(slot + 1) * self.dims]
    }

    fn row(&self, slot: usize) -> &[f32] {
        &self.values[slot * self.actions..(slot + 1) * self.actions]
    }

    /// `Ok(slot)` holding `state`, or `Err(slot)`: the empty slot where it
    /// would be inserted, with its hash.
    fn find(&self, state: &[f32]) -> Result<usize, (usize, u64)> {
        assert_eq!(state.len(), self.dims, "state has the table's dims");
        let hash = hash_state(state);
        let mut slot = (hash as usize) & self.mask;
        loop {
            let h = self.hashes[slot];
            if h == EMPTY {
                return Err((slot, hash));
            }
            if h == hash && same_bits(self.key(slot), state) {
                return Ok(slot);
            }
            // Terminates: at most half the slots are used, so an empty one exists.
            slot = (slot + 1) & self.mask;
        }
    }

    fn slot_for_insert(&mut self, state: &[f32]) -> Option<usize> {
        match self.find(state) {
            Ok(slot) => Some(slot),
            Err(_) if self.len == self.capacity => {
                self.rejected += 1;
                None
            }
            Err((slot, hash)) => {
                self.hashes[slot] = hash;
                self.keys[slot * self.dims..(slot + 1) * self.dims].copy_from_slice(state);
                self.len += 1;
                Some(slot)
            }
        }
    }
}

impl ValueFunction for QTable {
    fn dims(&self) -> usize {
        self.dims
    }

    fn actions(&self) -> usize {
        self.actions
    }

    fn q(&self, state: &[f32], action: usize) -> f32 {
        assert!(action < self.actions, "action in range");
        self.find(state)
            .map_or(0.0, |slot| self.values[slot * self.actions + action])
    }

    fn q_all(&self, state: &[f32], out: &mut [f32]) {
        let out = &mut out[..self.actions];
        match self.find(state) {
            Ok(slot) => out.copy_from_slice(self.row(slot)),
            Err(_) => out.fill(0.0),
        }
    }

    fn update(&mut self, state: &[f32], action: usize, step: f32) {
        assert!(action < self.actions, "action in range");
        if let Some(slot) = self.slot_for_insert(state) {
            self.values[slot * self.actions + action] += step;
        }
    }
}

/// Hash of the exact bits of every component, prefixed by the length so
/// states of different lengths never share a bit stream. Low bit forced to 1
/// (see [`EMPTY`]).
fn hash_state(state: &[f32]) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3_u64 ^ state.len() as u64;
    for x in state {
        h = (h ^ u64::from(x.to_bits())).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 29;
    }
    fmix64(h) | 1
}

/// MurmurHash3 finaliser: spreads every input bit over the word so the low
/// bits used as the slot index are well mixed.
pub(crate) fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[cfg(test)]
mod tests;
