//! Admission control over a continuous load, with a near-exact solver.
//!
//! Each step one job arrives with a value `v ~ U(0, 1)`. The node's load `u`
//! is a fraction of its capacity. Accepting pays `v` and adds `size` to the
//! load if the job fits (`u + size ≤ 1`); accepting a job that does not fit
//! fails it and pays [`FAILED`]; rejecting pays 0. Then the load decays,
//! `u ← u·(1 − decay)`, as work completes. State: `(u, v)`, both
//! continuous. Average reward.
//!
//! The optimal policy accepts when `v` beats a threshold that rises with the
//! load (keep room for better jobs). Because `v` is independent of the past,
//! the relative value before `v` is seen, `W(u)`, satisfies a one-dimensional
//! Bellman equation whose expectation over `v` has a closed form; relative
//! value iteration on a fine grid of `u` (linear interpolation) solves it.

use rand::Rng;

/// Reject the job.
pub const REJECT: usize = 0;
/// Accept the job (if it fits).
pub const ACCEPT: usize = 1;
/// Number of actions.
pub const ACTIONS: usize = 2;
/// Reward of accepting a job that does not fit.
pub const FAILED: f64 = -1.0;

/// The task's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Load one accepted job adds, as a fraction of capacity.
    pub size: f64,
    /// Fraction of the load that completes each step.
    pub decay: f64,
}

/// Result of the solver.
#[derive(Debug, Clone)]
pub struct Solution {
    /// Optimal average reward per step.
    pub rho: f64,
    /// `W` at `u = i / (len − 1)`.
    pub w: Vec<f64>,
    /// Sweeps until the span of `T W − W` fell below the tolerance.
    pub sweeps: usize,
}

/// The simulator's state.
#[derive(Debug, Clone, Copy)]
pub struct State {
    /// Load, in `[0, 1]`.
    pub load: f64,
    /// Value of the waiting job, in `[0, 1)`.
    pub value: f64,
}

// === impl Spec ===

impl Spec {
    /// Jobs of 30% of capacity, 10% of the load completing per step: about
    /// one job in four fits when every job is accepted.
    #[must_use]
    pub fn small() -> Self {
        Self {
            size: 0.3,
            decay: 0.1,
        }
    }

    /// `(reward, load after decay)` of `action` on `state`.
    #[must_use]
    pub fn act(&self, state: State, action: usize) -> (f64, f64) {
        let (reward, load) = match (action, self.fits(state.load)) {
            (ACCEPT, true) => (state.value, state.load + self.size),
            (ACCEPT, false) => (FAILED, state.load),
            _ => (0.0, state.load),
        };
        (reward, load * (1.0 - self.decay))
    }

    /// Whether a job fits at `load`.
    #[must_use]
    pub fn fits(&self, load: f64) -> bool {
        load + self.size <= 1.0
    }

    /// Relative value iteration with `points` grid points on `[0, 1]`.
    #[must_use]
    pub fn solve(&self, points: usize, tol: f64) -> Solution {
        let mut w = vec![0.0; points];
        let mut next = vec![0.0; points];
        for sweep in 1..=100_000 {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for (i, n) in next.iter_mut().enumerate() {
                let u = i as f64 / (points - 1) as f64;
                *n = self.expected_best(u, &w);
                lo = lo.min(*n - w[i]);
                hi = hi.max(*n - w[i]);
            }
            let anchor = next[0];
            for (wv, nv) in w.iter_mut().zip(&next) {
                *wv = nv - anchor;
            }
            if hi - lo < tol {
                return Solution {
                    rho: 0.5 * (lo + hi),
                    w,
                    sweeps: sweep,
                };
            }
        }
        panic!("relative value iteration did not converge");
    }

    /// `E_v[max_a (r(u, v, a) + W(u'))]`, in closed form over `v ~ U(0, 1)`.
    fn expected_best(&self, u: f64, w: &[f64]) -> f64 {
        let reject = interpolate(w, u * (1.0 - self.decay));
        if !self.fits(u) {
            // Accepting would pay FAILED < 0 and leave the load as rejecting does.
            return reject;
        }
        let accept = interpolate(w, (u + self.size) * (1.0 - self.decay));
        // Accept iff v > c.
        let c = reject - accept;
        if c <= 0.0 {
            0.5 + accept
        } else if c >= 1.0 {
            reject
        } else {
            reject * c + (1.0 - c * c) / 2.0 + accept * (1.0 - c)
        }
    }

    /// Average reward of `policy` over `steps` simulated steps after
    /// `warmup`, from an empty node.
    pub fn simulate(
        &self,
        mut policy: impl FnMut(State) -> usize,
        warmup: usize,
        steps: usize,
        rng: &mut impl Rng,
    ) -> f64 {
        let mut state = State {
            load: 0.0,
            value: rng.r#gen(),
        };
        let mut total = 0.0;
        for i in 0..warmup + steps {
            let (reward, load) = self.act(state, policy(state));
            if i >= warmup {
                total += reward;
            }
            state = State {
                load,
                value: rng.r#gen(),
            };
        }
        total / steps as f64
    }
}

// === impl Solution ===

impl Solution {
    /// The optimal action: accept iff the job fits and its value beats the
    /// loss of relative value that its load causes.
    #[must_use]
    pub fn policy(&self, spec: &Spec, state: State) -> usize {
        if !spec.fits(state.load) {
            return REJECT;
        }
        let keep = 1.0 - spec.decay;
        let reject = interpolate(&self.w, state.load * keep);
        let accept = interpolate(&self.w, (state.load + spec.size) * keep);
        if state.value + accept > reject {
            ACCEPT
        } else {
            REJECT
        }
    }
}

/// `w` (samples at `i / (len − 1)`) at `x ∈ [0, 1]`, linearly interpolated.
fn interpolate(w: &[f64], x: f64) -> f64 {
    let scaled = x.clamp(0.0, 1.0) * (w.len() - 1) as f64;
    let i = (scaled as usize).min(w.len() - 2);
    let t = scaled - i as f64;
    w[i] * (1.0 - t) + w[i + 1] * t
}
