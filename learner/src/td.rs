//! Temporal-difference updates over any [`ValueFunction`].
//!
//! Owns [`Td`] (one method per TD form, plus [`Td::step`] to dispatch on a
//! configured [`Form`]) and [`AverageReward`], the `R̄` estimate of the
//! differential forms. Updates cannot fail and never allocate: the scratch
//! buffer for `max`/expectation targets is sized at construction.
//!
//! The average reward uses the textbook update `R̄ ← R̄ + βδ` (Sutton & Barto
//! §10.3); the original P2PFaaS learner wrote `R̄ ← r + βδ`, which makes `R̄`
//! track the last reward instead of the average.

use crate::{
    config::Config,
    error::{Error, Result},
    value::{ValueFunction, max_value},
};

/// Which TD target [`Td::step`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Differential (average-reward) Sarsa: `δ = r − R̄ + Q(s',a') − Q(s,a)`.
    DifferentialSarsa,
    /// Discounted Sarsa: `δ = r + γQ(s',a') − Q(s,a)`.
    Sarsa,
    /// Q-learning: `δ = r + γ max_a' Q(s',a') − Q(s,a)`.
    QLearning,
    /// Expected Sarsa under ε-greedy: `δ = r + γ E_π[Q(s',·)] − Q(s,a)`.
    ExpectedSarsa,
}

/// One observed transition `(s, a, r, s', a')`.
///
/// `next_action` is the action the policy chose in `next_state`; only the
/// Sarsa forms read it.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    /// State `s` the action was taken in.
    pub state: &'a [f32],
    /// Action `a`.
    pub action: usize,
    /// Reward `r` observed for it.
    pub reward: f32,
    /// Next state `s'`.
    pub next_state: &'a [f32],
    /// Next action `a'` (Sarsa forms only).
    pub next_action: usize,
}

/// The running average-reward estimate `R̄` of the differential forms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AverageReward {
    value: f32,
    beta: f32,
}

impl AverageReward {
    /// `R̄ = 0` with step size `beta` (validated by [`Config`]).
    pub fn new(beta: f32) -> Self {
        Self { value: 0.0, beta }
    }

    /// Current estimate `R̄`.
    pub fn value(&self) -> f32 {
        self.value
    }

    /// `R̄ ← R̄ + βδ`.
    pub fn update(&mut self, delta: f32) {
        self.value += self.beta * delta;
    }
}

/// TD learner state: step sizes, `R̄`, and a scratch row of action values.
#[derive(Debug, Clone)]
pub struct Td {
    alpha: f32,
    gamma: f32,
    average: AverageReward,
    scratch: Vec<f32>,
}

impl Td {
    /// TD updates for value functions with `actions` actions.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `actions` when zero.
    pub fn try_new(config: &Config, actions: usize) -> Result<Self> {
        if actions == 0 {
            return Err(Error::InvalidParameter {
                name: "actions",
                value: 0.0,
                expected: ">= 1",
            });
        }
        Ok(Self {
            alpha: config.alpha(),
            gamma: config.gamma(),
            average: AverageReward::new(config.beta()),
            scratch: vec![0.0; actions],
        })
    }

    /// Takes new step sizes and discount from `config`, keeping the current
    /// average-reward estimate `R̄` (so a running learner can be retuned).
    pub fn reconfigure(&mut self, config: &Config) {
        self.alpha = config.alpha();
        self.gamma = config.gamma();
        self.average.beta = config.beta();
    }

    /// The average-reward estimate (moved only by differential Sarsa).
    pub fn average_reward(&self) -> AverageReward {
        self.average
    }

    /// One update of the given `form`; returns δ. `epsilon` is the behaviour
    /// policy's ε, read only by [`Form::ExpectedSarsa`].
    pub fn step<V>(&mut self, form: Form, v: &mut V, t: &Transition<'_>, epsilon: f32) -> f32
    where
        V: ValueFunction + ?Sized,
    {
        match form {
            Form::DifferentialSarsa => self.differential_sarsa(v, t),
            Form::Sarsa => self.sarsa(v, t),
            Form::QLearning => self.q_learning(v, t),
            Form::ExpectedSarsa => self.expected_sarsa(v, t, epsilon),
        }
    }

    /// Differential Sarsa: `δ = r − R̄ + Q(s',a') − Q(s,a)`, then
    /// `R̄ ← R̄ + βδ` and `Q(s,a) += αδ`. Returns δ.
    pub fn differential_sarsa<V>(&mut self, v: &mut V, t: &Transition<'_>) -> f32
    where
        V: ValueFunction + ?Sized,
    {
        let next = v.q(t.next_state, t.next_action);
        let delta = t.reward - self.average.value() + next - v.q(t.state, t.action);
        self.average.update(delta);
        v.update(t.state, t.action, self.alpha * delta);
        delta
    }

    /// Discounted Sarsa: `δ = r + γQ(s',a') − Q(s,a)`, `Q(s,a) += αδ`.
    pub fn sarsa<V>(&mut self, v: &mut V, t: &Transition<'_>) -> f32
    where
        V: ValueFunction + ?Sized,
    {
        let next = v.q(t.next_state, t.next_action);
        self.apply(v, t, next)
    }

    /// Q-learning: `δ = r + γ max_a' Q(s',a') − Q(s,a)`, `Q(s,a) += αδ`.
    pub fn q_learning<V>(&mut self, v: &mut V, t: &Transition<'_>) -> f32
    where
        V: ValueFunction + ?Sized,
    {
        v.q_all(t.next_state, &mut self.scratch);
        let next = max_value(&self.scratch);
        self.apply(v, t, next)
    }

    /// Expected Sarsa under ε-greedy: the target is
    /// `(1−ε)·max Q(s',·) + ε·mean Q(s',·)`, exact whatever the ties, since
    /// every greedy action has the max value.
    pub fn expected_sarsa<V>(&mut self, v: &mut V, t: &Transition<'_>, epsilon: f32) -> f32
    where
        V: ValueFunction + ?Sized,
    {
        v.q_all(t.next_state, &mut self.scratch);
        let max = max_value(&self.scratch);
        #[allow(clippy::cast_precision_loss, reason = "action counts are small")]
        let mean = self.scratch.iter().sum::<f32>() / self.scratch.len() as f32;
        let next = (1.0 - epsilon) * max + epsilon * mean;
        self.apply(v, t, next)
    }

    fn apply<V>(&self, v: &mut V, t: &Transition<'_>, next: f32) -> f32
    where
        V: ValueFunction + ?Sized,
    {
        let delta = t.reward + self.gamma * next - v.q(t.state, t.action);
        v.update(t.state, t.action, self.alpha * delta);
        delta
    }
}

#[cfg(test)]
mod tests;
