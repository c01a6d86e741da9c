//! The [`ValueFunction`] trait: the one interface TD updates and policies use.
//!
//! Owns the contract only; the implementations are [`QTable`](crate::qtable::QTable)
//! and [`Tiles`](crate::tiles::Tiles). No method may allocate: callers run
//! them millions of times per second on the request path.

/// An action-value function `Q(s, a)` over `f32` state vectors and a fixed
/// number of discrete actions.
///
/// # Panics
/// Methods may panic if `state.len() != dims()`, `action >= actions()` or
/// `out.len() < actions()`: those are caller bugs, not runtime conditions.
pub trait ValueFunction {
    /// Length of every state vector.
    fn dims(&self) -> usize;

    /// Number of discrete actions.
    fn actions(&self) -> usize;

    /// `Q(state, action)`.
    fn q(&self, state: &[f32], action: usize) -> f32;

    /// Writes `Q(state, a)` for every action into `out[..actions()]`.
    ///
    /// Implementations override this when sharing the state lookup across
    /// actions is cheaper than calling [`q`](Self::q) per action.
    fn q_all(&self, state: &[f32], out: &mut [f32]) {
        for (a, slot) in out[..self.actions()].iter_mut().enumerate() {
            *slot = self.q(state, a);
        }
    }

    /// Moves `Q(state, action)` by `step` (already `α·δ`).
    ///
    /// Function approximators spread `step` over their features so that the
    /// estimate itself moves by `step` (tile coding divides by the number of
    /// tilings).
    fn update(&mut self, state: &[f32], action: usize, step: f32);
}

/// Largest value in `values` (`-inf` when empty).
///
/// Used by targets that need `max_a Q`, where which maximiser wins does not
/// matter; policies break ties at random instead.
pub(crate) fn max_value(values: &[f32]) -> f32 {
    values.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}
