//! Action selection: ε-greedy and softmax.
//!
//! Owns [`EpsilonGreedy`] (with per-step or per-episode decay to a floor) and
//! [`Softmax`]. Randomness always comes from the caller's [`Rng`], so tests
//! are seeded and the learner never touches a thread-local RNG. Each policy
//! holds a scratch buffer of one value per action, sized at construction, so
//! acting never allocates.

use rand::Rng;

use crate::{
    config::{Config, Decay},
    error::{Error, Result},
    value::{LANES, ValueFunction, max_value},
};

/// ε-greedy: a uniformly random action with probability ε, otherwise a
/// greedy one with ties broken uniformly at random.
#[derive(Debug, Clone)]
pub struct EpsilonGreedy {
    epsilon: f32,
    min: f32,
    factor: f32,
    decay: Decay,
    actions: usize,
    /// One value per action, then `-inf` up to a multiple of [`LANES`], so
    /// [`argmax`] scans whole vectors; the padding is never written.
    scratch: Vec<f32>,
}

impl EpsilonGreedy {
    /// ε-greedy over `actions` actions, starting at `config.epsilon_start()`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `actions` when zero.
    pub fn try_new(config: &Config, actions: usize) -> Result<Self> {
        check_actions(actions)?;
        Ok(Self {
            epsilon: config.epsilon_start(),
            min: config.epsilon_min(),
            factor: config.epsilon_decay(),
            decay: config.decay(),
            actions,
            scratch: vec![f32::NEG_INFINITY; actions.next_multiple_of(LANES)],
        })
    }

    /// Current exploration rate.
    pub fn epsilon(&self) -> f32 {
        self.epsilon
    }

    /// Sets the current exploration rate (the original's `epsilon` key), kept
    /// within `[epsilon_min, 1]`; decay continues from there.
    pub fn set_epsilon(&mut self, epsilon: f32) {
        self.epsilon = epsilon.clamp(self.min, 1.0);
    }

    /// Takes the floor, decay factor and decay mode from `config`, keeping
    /// the current ε (raised to the new floor if below it); `epsilon_start`
    /// only matters to a new policy.
    pub fn reconfigure(&mut self, config: &Config) {
        self.min = config.epsilon_min();
        self.factor = config.epsilon_decay();
        self.decay = config.decay();
        self.epsilon = self.epsilon.max(self.min);
    }

    /// Chooses an action for `state`; decays ε afterwards under
    /// [`Decay::PerStep`].
    ///
    /// # Panics
    /// If `v.actions()` differs from the `actions` given at construction.
    pub fn act<V, R>(&mut self, v: &V, state: &[f32], rng: &mut R) -> usize
    where
        V: ValueFunction + ?Sized,
        R: Rng + ?Sized,
    {
        let action = if rng.r#gen::<f32>() < self.epsilon {
            rng.gen_range(0..self.actions)
        } else {
            self.greedy(v, state, rng)
        };
        if self.decay == Decay::PerStep {
            self.decay();
        }
        action
    }

    /// A greedy action for `state`, ties broken uniformly at random. Does
    /// not decay ε.
    pub fn greedy<V, R>(&mut self, v: &V, state: &[f32], rng: &mut R) -> usize
    where
        V: ValueFunction + ?Sized,
        R: Rng + ?Sized,
    {
        load_values(v, state, &mut self.scratch[..self.actions]);
        argmax(&self.scratch, self.actions, rng)
    }

    /// Marks the end of an episode; decays ε under [`Decay::PerEpisode`].
    pub fn end_episode(&mut self) {
        if self.decay == Decay::PerEpisode {
            self.decay();
        }
    }

    fn decay(&mut self) {
        self.epsilon = (self.epsilon * self.factor).max(self.min);
    }
}

/// Softmax (Boltzmann): action `a` with probability ∝ `exp(Q(s,a)/τ)`.
#[derive(Debug, Clone)]
pub struct Softmax {
    temperature: f32,
    scratch: Vec<f32>,
}

impl Softmax {
    /// Softmax over `actions` actions with `config.temperature()`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `actions` when zero.
    pub fn try_new(config: &Config, actions: usize) -> Result<Self> {
        check_actions(actions)?;
        Ok(Self {
            temperature: config.temperature(),
            scratch: vec![0.0; actions],
        })
    }

    /// Samples an action for `state`.
    ///
    /// # Panics
    /// If `v.actions()` differs from the `actions` given at construction.
    pub fn act<V, R>(&mut self, v: &V, state: &[f32], rng: &mut R) -> usize
    where
        V: ValueFunction + ?Sized,
        R: Rng + ?Sized,
    {
        load_values(v, state, &mut self.scratch);
        // Subtracting the max keeps exp() in range for any Q scale.
        let max = max_value(&self.scratch);
        let mut total = 0.0;
        for q in &mut self.scratch {
            *q = ((*q - max) / self.temperature).exp();
            total += *q;
        }
        let mut u = rng.r#gen::<f32>() * total;
        for (a, &p) in self.scratch.iter().enumerate() {
            if u < p {
                return a;
            }
            u -= p;
        }
        // Rounding can leave u just above the last weight.
        self.scratch.len() - 1
    }
}

/// Fills `scratch` with every action's value for `state`.
///
/// # Panics
/// If the policy was built for a different number of actions than `v` has.
fn load_values<V: ValueFunction + ?Sized>(v: &V, state: &[f32], scratch: &mut [f32]) {
    assert_eq!(
        v.actions(),
        scratch.len(),
        "policy sized for the value function"
    );
    v.q_all(state, scratch);
}

/// Index of a maximum of `values[..actions]`, uniformly among ties (one
/// draw from `rng` when there are several maximisers, none otherwise); 0
/// when every value is NaN. `values` is padded with `-inf` to a multiple of
/// [`LANES`].
///
/// Branch-free scans: a compare-and-branch loop mispredicted wherever the
/// running maximum changed, which with learned values is anywhere.
fn argmax<R: Rng + ?Sized>(values: &[f32], actions: usize, rng: &mut R) -> usize {
    let max = max_value(values);
    // The maximisers of each block of 64 actions, as a bit mask; padding is
    // masked off (it ties with the max when every value is -inf).
    let block_mask = |block: usize| {
        let start = block * 64;
        let mut mask = maximisers(&values[start..values.len().min(start + 64)], max);
        if actions - start < 64 {
            mask &= (1 << (actions - start)) - 1;
        }
        mask
    };
    let blocks = actions.div_ceil(64);
    if blocks == 1 {
        return pick(block_mask(0), rng);
    }
    let ties: u32 = (0..blocks).map(|b| block_mask(b).count_ones()).sum();
    let mut skip = if ties > 1 { rng.gen_range(0..ties) } else { 0 };
    for b in 0..blocks {
        let mask = block_mask(b);
        if skip < mask.count_ones() {
            return b * 64 + nth_bit(mask, skip);
        }
        skip -= mask.count_ones();
    }
    0
}

/// Bit `i` set where `block[i] == max`; `block` is at most 64 values, a
/// multiple of [`LANES`].
fn maximisers(block: &[f32], max: f32) -> u64 {
    let mut mask = 0;
    for (c, chunk) in block.chunks_exact(LANES).enumerate() {
        let mut bits = 0u64;
        for (i, &q) in chunk.iter().enumerate() {
            bits |= u64::from(q == max) << i;
        }
        mask |= bits << (c * LANES);
    }
    mask
}

/// A uniformly chosen set bit of `mask` (0 when none is set).
fn pick<R: Rng + ?Sized>(mask: u64, rng: &mut R) -> usize {
    match mask.count_ones() {
        0 => 0,
        1 => mask.trailing_zeros() as usize,
        ties => nth_bit(mask, rng.gen_range(0..ties)),
    }
}

/// Position of the `n`-th (from 0) set bit of `mask`.
fn nth_bit(mut mask: u64, n: u32) -> usize {
    for _ in 0..n {
        mask &= mask - 1;
    }
    mask.trailing_zeros() as usize
}

fn check_actions(actions: usize) -> Result<()> {
    if actions == 0 {
        return Err(Error::InvalidParameter {
            name: "actions",
            value: 0.0,
            expected: ">= 1",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
