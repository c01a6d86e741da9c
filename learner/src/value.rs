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

/// Width of the blocks the hot loops work in: eight `f32` are one 256-bit
/// vector, or two 128-bit ones on baseline x86-64.
pub(crate) const LANES: usize = 8;

/// Largest value in `values` (`-inf` when empty or all NaN; NaNs are
/// ignored).
///
/// Used by targets that need `max_a Q`, where which maximiser wins does not
/// matter, and by the policies before they pick among the maximisers.
pub(crate) fn max_value(values: &[f32]) -> f32 {
    // `if q > m` keeps `m` when `q` is NaN and compiles to one `maxps`;
    // `f32::max` adds NaN fix-ups to every lane.
    fn larger(m: f32, q: f32) -> f32 {
        if q > m { q } else { m }
    }
    // Eight independent running maxima, then a halving tree: a single fold
    // is a chain of dependent max operations, one per action.
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (m, &q) in lanes.iter_mut().zip(chunk) {
            *m = larger(*m, q);
        }
    }
    for (m, &q) in lanes.iter_mut().zip(rest) {
        *m = larger(*m, q);
    }
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            lanes[i] = larger(lanes[i], lanes[i + width]);
        }
        width /= 2;
    }
    lanes[0]
}

#[cfg(test)]
mod tests {
    use super::max_value;

    #[test]
    fn max_value_of_any_length() {
        assert_eq!(max_value(&[]), f32::NEG_INFINITY);
        for len in 1..=20 {
            for at in 0..len {
                let mut v: Vec<f32> = (0..len).map(|i| -(i as f32)).collect();
                v[at] = 5.0;
                assert_eq!(max_value(&v), 5.0, "len {len}, max at {at}");
            }
        }
        assert_eq!(max_value(&[f32::NAN, 1.0, f32::NAN]), 1.0);
    }
}
