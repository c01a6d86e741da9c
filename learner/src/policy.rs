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
    value::ValueFunction,
};

/// ε-greedy: a uniformly random action with probability ε, otherwise a
/// greedy one with ties broken uniformly at random.
#[derive(Debug, Clone)]
pub struct EpsilonGreedy {
    epsilon: f32,
    min: f32,
    factor: f32,
    decay: Decay,
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
            scratch: vec![0.0; actions],
        })
    }

    /// Current exploration rate.
    pub fn epsilon(&self) -> f32 {
        self.epsilon
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
            rng.gen_range(0..self.scratch.len())
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
        load_values(v, state, &mut self.scratch);
        argmax(&self.scratch, rng)
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
        let max = crate::value::max_value(&self.scratch);
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

/// Index of a maximum of `values`, uniformly among ties (reservoir sampling,
/// so no buffer of tied indices is needed).
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

fn argmax<R: Rng + ?Sized>(values: &[f32], rng: &mut R) -> usize {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    let mut ties = 0u32;
    for (a, &q) in values.iter().enumerate() {
        if q > best_value {
            best = a;
            best_value = q;
            ties = 1;
        } else if q == best_value {
            ties += 1;
            if rng.gen_range(0..ties) == 0 {
                best = a;
            }
        }
    }
    best
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
