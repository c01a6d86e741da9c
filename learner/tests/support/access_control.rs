//! A scaled-down access-control queuing task (Sutton & Barto, example 10.2),
//! with an exact solver.
//!
//! `k` servers; each step one customer arrives with a priority drawn
//! uniformly from `rewards` (e.g. `[1, 2, 4, 8]`). The agent accepts or
//! rejects it. Accepting when a server is free occupies the server and pays
//! the priority's reward; accepting with no free server, and rejecting, pay
//! nothing. After the action, each busy server frees with probability `p`.
//! State: (free servers, priority of the waiting customer).
//!
//! The task is a finite, unichain, aperiodic average-reward MDP, so relative
//! value iteration finds its optimal average reward ρ* and an optimal policy,
//! and the gain of any fixed policy can be computed exactly.

use rand::Rng;

/// Reject the waiting customer.
pub const REJECT: usize = 0;
/// Accept the waiting customer (served if a server is free).
pub const ACCEPT: usize = 1;
/// Number of actions.
pub const ACTIONS: usize = 2;

/// An observation: free servers and the waiting customer's priority index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// Free servers, `0..=k`.
    pub free: usize,
    /// Index into the reward table, `0..rewards.len()`.
    pub priority: usize,
}

/// The MDP's parameters (no dynamic state).
#[derive(Debug, Clone)]
pub struct Spec {
    /// Servers.
    pub servers: usize,
    /// Reward of serving each priority.
    pub rewards: Vec<f64>,
    /// Probability that a busy server frees in one step.
    pub p_free: f64,
}

/// The simulator: a [`Spec`] plus the current state.
#[derive(Debug, Clone)]
pub struct AccessControl {
    spec: Spec,
    state: State,
}

/// Result of the exact solver.
#[derive(Debug, Clone)]
pub struct Solution {
    /// Optimal average reward per step.
    pub rho: f64,
    /// Optimal action per state index ([`Spec::index`]).
    pub policy: Vec<usize>,
    /// Relative values `h(s)` with `h(0) = 0`.
    pub values: Vec<f64>,
    /// Sweeps until the span of `T h − h` fell below the tolerance.
    pub sweeps: usize,
}

// === impl Spec ===

impl Spec {
    /// The scaled-down task: 4 servers, rewards `[1, 2, 4, 8]`, `p = 0.06`.
    #[must_use]
    pub fn small() -> Self {
        Self {
            servers: 4,
            rewards: vec![1.0, 2.0, 4.0, 8.0],
            p_free: 0.06,
        }
    }

    /// Number of states, `(k + 1) · priorities`.
    #[must_use]
    pub fn states(&self) -> usize {
        (self.servers + 1) * self.rewards.len()
    }

    /// Dense index of a state.
    #[must_use]
    pub fn index(&self, s: State) -> usize {
        s.free * self.rewards.len() + s.priority
    }

    /// Inverse of [`Spec::index`].
    #[must_use]
    pub fn state(&self, index: usize) -> State {
        State {
            free: index / self.rewards.len(),
            priority: index % self.rewards.len(),
        }
    }

    /// Immediate reward and free servers right after the action.
    fn act(&self, s: State, action: usize) -> (f64, usize) {
        if action == ACCEPT && s.free > 0 {
            (self.rewards[s.priority], s.free - 1)
        } else {
            (0.0, s.free)
        }
    }

    /// `P(j of busy servers free)`, binomial.
    fn freed(&self, busy: usize, j: usize) -> f64 {
        let mut c = 1.0;
        for i in 0..j {
            c = c * (busy - i) as f64 / (i + 1) as f64;
        }
        c * self.p_free.powi(j as i32) * (1.0 - self.p_free).powi((busy - j) as i32)
    }

    /// `r(s, a) + Σ_s' P(s' | s, a) · h(s')`.
    fn backup(&self, s: State, action: usize, h: &[f64]) -> f64 {
        let (r, free) = self.act(s, action);
        let busy = self.servers - free;
        let prio = self.rewards.len();
        let mut expect = 0.0;
        for j in 0..=busy {
            let pj = self.freed(busy, j);
            let base = (free + j) * prio;
            let mean: f64 = h[base..base + prio].iter().sum::<f64>() / prio as f64;
            expect += pj * mean;
        }
        r + expect
    }

    /// Relative value iteration to tolerance `tol` on the span of `T h − h`.
    /// ρ* lies between the minimum and maximum of `T h − h`; the midpoint is
    /// returned, within `tol / 2` of ρ*.
    #[must_use]
    pub fn solve(&self, tol: f64) -> Solution {
        let n = self.states();
        let mut h = vec![0.0; n];
        let mut next = vec![0.0; n];
        let mut policy = vec![REJECT; n];
        for sweep in 1..=1_000_000 {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for i in 0..n {
                let s = self.state(i);
                let (mut best, mut arg) = (f64::NEG_INFINITY, REJECT);
                for a in 0..ACTIONS {
                    let q = self.backup(s, a, &h);
                    if q > best + 1e-12 {
                        (best, arg) = (q, a);
                    }
                }
                next[i] = best;
                policy[i] = arg;
                lo = lo.min(best - h[i]);
                hi = hi.max(best - h[i]);
            }
            let anchor = next[0];
            for (hv, nv) in h.iter_mut().zip(&next) {
                *hv = nv - anchor;
            }
            if hi - lo < tol {
                return Solution {
                    rho: 0.5 * (lo + hi),
                    policy,
                    values: h,
                    sweeps: sweep,
                };
            }
        }
        panic!("relative value iteration did not converge");
    }

    /// Exact gain (average reward per step) of a fixed deterministic policy,
    /// by power iteration on its Markov chain's stationary distribution.
    #[must_use]
    pub fn gain(&self, policy: &[usize]) -> f64 {
        let n = self.states();
        let prio = self.rewards.len();
        let mut dist = vec![1.0 / n as f64; n];
        let mut next = vec![0.0; n];
        for _ in 0..200_000 {
            next.iter_mut().for_each(|x| *x = 0.0);
            for i in 0..n {
                let (_, free) = self.act(self.state(i), policy[i]);
                let busy = self.servers - free;
                for j in 0..=busy {
                    let mass = dist[i] * self.freed(busy, j) / prio as f64;
                    for q in 0..prio {
                        next[(free + j) * prio + q] += mass;
                    }
                }
            }
            let diff: f64 = dist.iter().zip(&next).map(|(a, b)| (a - b).abs()).sum();
            std::mem::swap(&mut dist, &mut next);
            if diff < 1e-13 {
                break;
            }
        }
        (0..n)
            .map(|i| dist[i] * self.act(self.state(i), policy[i]).0)
            .sum()
    }
}

// === impl AccessControl ===

impl AccessControl {
    /// Starts with every server free and a random first customer.
    pub fn new(spec: Spec, rng: &mut impl Rng) -> Self {
        let priority = rng.gen_range(0..spec.rewards.len());
        let state = State {
            free: spec.servers,
            priority,
        };
        Self { spec, state }
    }

    /// The parameters.
    #[must_use]
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// Applies `action` to the waiting customer, frees servers at random, and
    /// draws the next customer.
    pub fn step(&mut self, action: usize, rng: &mut impl Rng) -> (f64, State) {
        let (reward, free) = self.spec.act(self.state, action);
        let busy = self.spec.servers - free;
        let freed = (0..busy).filter(|_| rng.gen_bool(self.spec.p_free)).count();
        self.state = State {
            free: free + freed,
            priority: rng.gen_range(0..self.spec.rewards.len()),
        };
        (reward, self.state)
    }

    /// Average reward of `policy` (indexed by [`Spec::index`]) over `steps`
    /// simulated steps, after `warmup` steps.
    pub fn simulate(
        &mut self,
        policy: &[usize],
        warmup: usize,
        steps: usize,
        rng: &mut impl Rng,
    ) -> f64 {
        for _ in 0..warmup {
            let a = policy[self.spec.index(self.state)];
            self.step(a, rng);
        }
        let mut total = 0.0;
        for _ in 0..steps {
            let a = policy[self.spec.index(self.state)];
            total += self.step(a, rng).0;
        }
        total / steps as f64
    }
}
