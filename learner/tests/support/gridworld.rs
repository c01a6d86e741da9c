//! A slippery gridworld, continuing and discounted, with an exact solver.
//!
//! `rows × cols` cells; actions move one cell north, east, south or west.
//! With probability `slip` the move goes to one of the two perpendicular
//! directions instead (half each); a move off the grid stays put. Stepping
//! onto the goal pays +1 and onto the pit −1, and both return the agent to
//! the start cell; every other step pays 0. Rewards are discounted by γ.
//!
//! Goal and pit are never occupied (the agent is sent back at once), so the
//! learnable states are the other cells. Q-value iteration gives `Q*`
//! exactly (to a tolerance far below any learning error).

use rand::Rng;

/// North, east, south, west.
pub const ACTIONS: usize = 4;
const MOVES: [(isize, isize); ACTIONS] = [(-1, 0), (0, 1), (1, 0), (0, -1)];

/// A cell, `(row, column)`.
pub type Cell = (usize, usize);

/// The MDP's parameters.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Grid height.
    pub rows: usize,
    /// Grid width.
    pub cols: usize,
    /// Probability of sliding sideways.
    pub slip: f64,
    /// Discount γ.
    pub gamma: f64,
    /// +1, then back to `start`.
    pub goal: Cell,
    /// −1, then back to `start`.
    pub pit: Cell,
    /// Where the agent starts and returns to.
    pub start: Cell,
}

/// `Q*` and what follows from it.
#[derive(Debug, Clone)]
pub struct Solution {
    /// `Q*(s, a)`, by [`Spec::index`] then action.
    pub q: Vec<[f64; ACTIONS]>,
    /// Sweeps until the largest change fell below the tolerance.
    pub sweeps: usize,
}

// === impl Spec ===

impl Spec {
    /// 4 × 4, goal in the top-right corner with the pit just below it,
    /// start bottom-left, 20% slip, γ = 0.9: the optimal route keeps away
    /// from the pit even where that is longer.
    #[must_use]
    pub fn small() -> Self {
        Self {
            rows: 4,
            cols: 4,
            slip: 0.2,
            gamma: 0.9,
            goal: (0, 3),
            pit: (1, 3),
            start: (3, 0),
        }
    }

    /// Number of cells (including goal and pit).
    #[must_use]
    pub fn cells(&self) -> usize {
        self.rows * self.cols
    }

    /// Dense index of a cell.
    #[must_use]
    pub fn index(&self, c: Cell) -> usize {
        c.0 * self.cols + c.1
    }

    /// Inverse of [`Spec::index`].
    #[must_use]
    pub fn cell(&self, index: usize) -> Cell {
        (index / self.cols, index % self.cols)
    }

    /// Whether the agent can be in `c` (not goal, not pit).
    #[must_use]
    pub fn is_state(&self, c: Cell) -> bool {
        c != self.goal && c != self.pit
    }

    /// The cell one move in `direction` from `c` (or `c` at the edge).
    fn neighbour(&self, c: Cell, direction: usize) -> Cell {
        let (dr, dc) = MOVES[direction];
        match (c.0.checked_add_signed(dr), c.1.checked_add_signed(dc)) {
            (Some(r), Some(col)) if r < self.rows && col < self.cols => (r, col),
            _ => c,
        }
    }

    /// Reward and next state of arriving at `target`.
    fn arrive(&self, target: Cell) -> (f64, Cell) {
        if target == self.goal {
            (1.0, self.start)
        } else if target == self.pit {
            (-1.0, self.start)
        } else {
            (0.0, target)
        }
    }

    /// The three outcomes of `action` in `c`: `(probability, reward, next)`.
    fn outcomes(&self, c: Cell, action: usize) -> [(f64, f64, Cell); 3] {
        let directions = [action, (action + 1) % ACTIONS, (action + 3) % ACTIONS];
        let probabilities = [1.0 - self.slip, self.slip / 2.0, self.slip / 2.0];
        std::array::from_fn(|i| {
            let (r, next) = self.arrive(self.neighbour(c, directions[i]));
            (probabilities[i], r, next)
        })
    }

    /// Q-value iteration until no value moves by more than `tol`.
    #[must_use]
    pub fn solve(&self, tol: f64) -> Solution {
        let mut q = vec![[0.0; ACTIONS]; self.cells()];
        for sweep in 1..=100_000 {
            let v: Vec<f64> = q
                .iter()
                .map(|row| row.iter().copied().fold(f64::MIN, f64::max))
                .collect();
            let mut change: f64 = 0.0;
            for (i, row) in q.iter_mut().enumerate() {
                let c = self.cell(i);
                for (a, value) in row.iter_mut().enumerate() {
                    let backup: f64 = self
                        .outcomes(c, a)
                        .iter()
                        .map(|&(p, r, next)| p * (r + self.gamma * v[self.index(next)]))
                        .sum();
                    change = change.max((backup - *value).abs());
                    *value = backup;
                }
            }
            if change < tol {
                return Solution { q, sweeps: sweep };
            }
        }
        panic!("value iteration did not converge");
    }

    /// Samples `action` in `c`: `(reward, next)`.
    pub fn step(&self, c: Cell, action: usize, rng: &mut impl Rng) -> (f64, Cell) {
        let u: f64 = rng.r#gen();
        let direction = if u < 1.0 - self.slip {
            action
        } else if u < 1.0 - self.slip / 2.0 {
            (action + 1) % ACTIONS
        } else {
            (action + 3) % ACTIONS
        };
        self.arrive(self.neighbour(c, direction))
    }
}

// === impl Solution ===

impl Solution {
    /// `V*(s) = max_a Q*(s, a)`.
    #[must_use]
    pub fn value(&self, index: usize) -> f64 {
        self.q[index].iter().copied().fold(f64::MIN, f64::max)
    }

    /// Whether `action` is optimal in state `index` (ties within `1e-9`).
    #[must_use]
    pub fn is_optimal(&self, index: usize, action: usize) -> bool {
        self.q[index][action] >= self.value(index) - 1e-9
    }

    /// Smallest gap between the best action and any non-optimal one, over
    /// the states `include` admits: how sharply the greedy check separates.
    #[must_use]
    pub fn margin(&self, include: impl Fn(usize) -> bool) -> f64 {
        (0..self.q.len())
            .filter(|&i| include(i))
            .flat_map(|i| {
                let best = self.value(i);
                self.q[i]
                    .iter()
                    .map(move |&q| best - q)
                    .filter(|&gap| gap > 1e-9)
            })
            .fold(f64::INFINITY, f64::min)
    }
}
