//! Tile coding: a linear value function over hashed tile features.
//!
//! Owns [`Tiles`]: N offset tilings of the clamped state space, each active
//! tile hashed into a fixed table of `table_size` feature slots (a power of
//! two) per action. Tiling `t` is displaced by `t·(2d+1)/N` tile widths in
//! dimension `d` (the asymmetric offsets recommended by Sutton & Barto §9.5.4),
//! which avoids the diagonal artefacts of uniform offsets.
//!
//! The active indices go into a caller-provided array
//! ([`Tiles::active`]); the value-function methods use a stack array of
//! [`MAX_TILINGS`], so nothing allocates after construction. Updates divide
//! the step by the number of tilings so `Q` moves by `α·δ`.

use crate::{
    config::{MAX_TILINGS, TileConfig},
    error::{Error, Result},
    qtable::fmix64,
    value::ValueFunction,
};

/// Most actions tile coding supports: `q_all` sums rows in a stack array of this size.
pub const MAX_ACTIONS: usize = 64;

/// Width of the chunks `q_all` adds (eight f32 = one 256-bit vector).
const LANES: usize = 8;

/// A tile-coded action-value function.
#[derive(Debug, Clone)]
pub struct Tiles {
    tilings: usize,
    dims: usize,
    actions: usize,
    lows: Vec<f32>,
    highs: Vec<f32>,
    inv_widths: Vec<f32>,
    /// `tilings × dims` displacements, in tile widths, in [0, 1).
    offsets: Vec<f32>,
    /// Per-tiling hash seeds, mixed once here instead of on every lookup.
    seeds: Vec<u64>,
    /// `table_size - 1`.
    mask: usize,
    /// `table_size × stride` weights, action-minor so one tile's weights for
    /// every action share a cache line in `q_all`.
    weights: Vec<f32>,
    /// Row length: `actions` rounded up to a multiple of [`LANES`], so `q_all`
    /// adds whole fixed-width chunks that the compiler vectorises.
    stride: usize,
    /// `1 / tilings`, precomputed for `update`.
    step_scale: f32,
    /// Hash of the configuration, so weights saved under another tiling are
    /// refused on load.
    layout: u64,
}

impl Tiles {
    /// Tile coding over `config` with `actions` actions. Allocates all
    /// weights now (zeros).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `actions` when zero, or
    /// `table_size` when the weight table would overflow.
    pub fn try_new(config: &TileConfig, actions: usize) -> Result<Self> {
        if !(1..=MAX_ACTIONS).contains(&actions) {
            return Err(Error::InvalidParameter {
                name: "actions",
                #[allow(clippy::cast_precision_loss, reason = "display only")]
                value: actions as f64,
                expected: "1..=64",
            });
        }
        let stride = actions.next_multiple_of(LANES);
        let n = config.tilings();
        let dims = config.dimensions();
        let size = config
            .table_size()
            .checked_mul(stride)
            .ok_or(Error::InvalidParameter {
                name: "table_size",
                // Display only; the product overflowed, the factor did not.
                #[allow(clippy::cast_precision_loss, reason = "display only")]
                value: config.table_size() as f64,
                expected: "small enough that table_size × actions fits in memory",
            })?;
        let mut offsets = Vec::with_capacity(n * dims.len());
        for t in 0..n {
            for d in 0..dims.len() {
                // Exact in f32: both factors are small integers.
                #[allow(clippy::cast_precision_loss, reason = "t, d <= 64")]
                let displacement = ((t * (2 * d + 1)) % n) as f32 / n as f32;
                offsets.push(displacement);
            }
        }
        let mut layout = fmix64(n as u64 ^ (config.table_size() as u64) << 8);
        for d in dims {
            for x in [d.low, d.high, d.width] {
                layout = fmix64(layout ^ u64::from(x.to_bits()));
            }
        }
        #[allow(clippy::cast_precision_loss, reason = "n <= 64")]
        let step_scale = 1.0 / n as f32;
        Ok(Self {
            tilings: n,
            dims: dims.len(),
            actions,
            lows: dims.iter().map(|d| d.low).collect(),
            highs: dims.iter().map(|d| d.high).collect(),
            inv_widths: dims.iter().map(|d| 1.0 / d.width).collect(),
            offsets,
            // Mixed before the coordinates are folded in: a plain `seed ^ t` let
            // (tiling 1, coord c) collide with (tiling 2, coord c ^ 3).
            seeds: (0..n)
                .map(|t| fmix64(0x1319_8A2E_0370_7344_u64 ^ t as u64))
                .collect(),
            mask: config.table_size() - 1,
            weights: vec![0.0; size],
            stride,
            step_scale,
            layout,
        })
    }

    /// Number of tilings (= active tiles per state).
    pub fn tilings(&self) -> usize {
        self.tilings
    }

    /// Feature slots per action.
    pub fn table_size(&self) -> usize {
        self.mask + 1
    }

    /// Writes the feature index (in `0..table_size`) of the active tile of
    /// each tiling into `out[..tilings]`. Deterministic: the same state
    /// always gives the same indices, across processes too.
    ///
    /// # Panics
    /// If `state.len() != dims` or `out.len() < tilings`.
    pub fn active(&self, state: &[f32], out: &mut [u32]) {
        assert_eq!(state.len(), self.dims, "state has the tiling's dims");
        for ((slot, offsets), &seed) in out[..self.tilings]
            .iter_mut()
            .zip(self.offsets.chunks_exact(self.dims))
            .zip(&self.seeds)
        {
            let mut h = seed;
            for d in 0..self.dims {
                // NaN clamps to NaN and casts to 0: deterministic, if meaningless.
                let x = state[d].clamp(self.lows[d], self.highs[d]);
                // Non-negative after clamping, so truncation is floor; `floor()`
                // is a libm call on baseline x86-64 and cost ~24 calls per state.
                let coord = (x - self.lows[d]) * self.inv_widths[d] + offsets[d];
                // Coordinates are small non-negative integers (range / width + 1).
                #[allow(clippy::cast_possible_truncation, reason = "bounded by range / width")]
                #[allow(clippy::cast_sign_loss, reason = "non-negative after clamping")]
                let coord = coord as u32;
                h = (h ^ u64::from(coord)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                h ^= h >> 29;
            }
            // mask < 2^32 is not guaranteed, but indices are taken modulo the
            // table, which is what `& mask` does before the narrowing.
            #[allow(clippy::cast_possible_truncation, reason = "masked to table_size")]
            let index = (fmix64(h) as usize & self.mask) as u32;
            *slot = index;
        }
    }

    pub(crate) fn weights(&self) -> &[f32] {
        &self.weights
    }

    pub(crate) fn weights_mut(&mut self) -> &mut [f32] {
        &mut self.weights
    }

    pub(crate) fn layout(&self) -> u64 {
        self.layout
    }
}

impl ValueFunction for Tiles {
    fn dims(&self) -> usize {
        self.dims
    }

    fn actions(&self) -> usize {
        self.actions
    }

    fn q(&self, state: &[f32], action: usize) -> f32 {
        assert!(action < self.actions, "action in range");
        let mut idx = [0u32; MAX_TILINGS];
        self.active(state, &mut idx);
        idx[..self.tilings]
            .iter()
            .map(|&i| self.weights[i as usize * self.stride + action])
            .sum()
    }

    fn q_all(&self, state: &[f32], out: &mut [f32]) {
        let mut idx = [0u32; MAX_TILINGS];
        self.active(state, &mut idx);
        let mut acc = [0.0_f32; MAX_ACTIONS];
        let acc = &mut acc[..self.stride];
        for &i in &idx[..self.tilings] {
            let start = i as usize * self.stride;
            let row = &self.weights[start..start + self.stride];
            for (a, w) in acc.chunks_exact_mut(LANES).zip(row.chunks_exact(LANES)) {
                for (x, y) in a.iter_mut().zip(w) {
                    *x += y;
                }
            }
        }
        out[..self.actions].copy_from_slice(&acc[..self.actions]);
    }

    fn update(&mut self, state: &[f32], action: usize, step: f32) {
        assert!(action < self.actions, "action in range");
        let mut idx = [0u32; MAX_TILINGS];
        self.active(state, &mut idx);
        let share = step * self.step_scale;
        for &i in &idx[..self.tilings] {
            self.weights[i as usize * self.stride + action] += share;
        }
    }
}

#[cfg(test)]
mod tests;
