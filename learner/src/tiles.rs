//! Tile coding: a linear value function over tile features.
//!
//! Owns [`Tiles`]: N offset tilings of the clamped state space, each active
//! tile mapped to one of `table_size` feature slots (a power of two) per
//! action. Tiling `t` is displaced by `t·(2d+1)/N` tile widths in dimension
//! `d` (the asymmetric offsets recommended by Sutton & Barto §9.5.4), which
//! avoids the diagonal artefacts of uniform offsets.
//!
//! A tile is numbered in mixed radix (tiling, then one digit per dimension).
//! When every tile of every tiling fits in the table the number is the slot
//! itself, so no two tiles share a weight; otherwise it is hashed
//! (multiply-shift) into the table and distant tiles may collide.
//!
//! The active indices go into a caller-provided array
//! ([`Tiles::active`]); the value-function methods use a stack array of
//! [`MAX_TILINGS`], so nothing allocates after construction. Updates divide
//! the step by the number of tilings so `Q` moves by `α·δ`.

use crate::{
    config::{MAX_TILINGS, TileConfig},
    error::{Error, Result},
    qtable::fmix64,
    value::{LANES, ValueFunction},
};

/// Most actions tile coding supports. Bounds a weight row at 256 bytes, so
/// `q_all` stays a handful of vector adds per tiling.
pub const MAX_ACTIONS: usize = 64;

/// Fractional bits of the fixed-point tile coordinates in [`Tiles::active`].
const FRACTION: u32 = 32;

/// Odd multiplier of the multiply-shift hash (2³²/φ, Knuth's multiplicative
/// hashing): consecutive tile numbers land far apart in the table. 32-bit,
/// like the tile numbers, because SSE2 multiplies four 32-bit lanes at a
/// time but has no 64-bit multiply.
const GOLDEN: u32 = 0x9E37_79B9;

/// One chunk of a weight row. The alignment keeps a chunk inside one cache
/// line, so a 14-action row (two chunks) costs two aligned loads per tiling.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(32))]
struct Lanes([f32; LANES]);

/// How one state dimension becomes a digit of the tile number.
#[derive(Debug, Clone, Copy)]
struct Axis {
    low: f32,
    high: f32,
    inv_width: f32,
    /// Place value of this dimension's digit: the product of the digit
    /// counts of the dimensions before it (wrapping, see [`Tiles::active`]).
    radix: u32,
}

/// A tile-coded action-value function.
#[derive(Debug, Clone)]
pub struct Tiles {
    tilings: usize,
    actions: usize,
    axes: Vec<Axis>,
    /// `dims × tilings` displacements in [0, 1) tile widths, as fixed point
    /// with [`FRACTION`] bits. Dimension-major, so `active` reads one
    /// dimension's tilings in a row.
    offsets: Vec<u64>,
    /// Tile number of tiling `t`'s first tile: `t ×` tiles per tiling.
    bases: Vec<u32>,
    /// Whether tile numbers are slots already (every tile of every tiling
    /// fits in the table) or must be hashed into it.
    dense: bool,
    /// `32 − log2(table_size)` (31 for a one-slot table): the hash keeps the
    /// top bits of the product, which depend on every bit of the key.
    shift: u32,
    /// `table_size - 1`.
    mask: usize,
    /// `table_size` rows of `row` chunks, action-minor so one tile's weights
    /// for every action are adjacent for `q_all`.
    weights: Vec<Lanes>,
    /// Chunks per row: `actions / LANES`, rounded up; the padding lanes
    /// stay zero.
    row: usize,
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
    /// [`Error::InvalidParameter`] naming `actions` when zero or above
    /// [`MAX_ACTIONS`], or `table_size` when the weight table would overflow.
    pub fn try_new(config: &TileConfig, actions: usize) -> Result<Self> {
        if !(1..=MAX_ACTIONS).contains(&actions) {
            return Err(Error::InvalidParameter {
                name: "actions",
                #[allow(clippy::cast_precision_loss, reason = "display only")]
                value: actions as f64,
                expected: "1..=64",
            });
        }
        let row = actions.div_ceil(LANES);
        let n = config.tilings();
        let dims = config.dimensions();
        let size = config
            .table_size()
            .checked_mul(row)
            .ok_or(Error::InvalidParameter {
                name: "table_size",
                // Display only; the product overflowed, the factor did not.
                #[allow(clippy::cast_precision_loss, reason = "display only")]
                value: config.table_size() as f64,
                expected: "small enough that table_size × actions fits in memory",
            })?;
        let mut offsets = Vec::with_capacity(n * dims.len());
        for d in 0..dims.len() {
            for t in 0..n {
                // `(t·(2d+1) mod n) / n` tile widths, rounded down to a
                // multiple of 2⁻³² (exact when n is a power of two).
                let numerator = ((t * (2 * d + 1)) % n) as u64;
                offsets.push((numerator << FRACTION) / n as u64);
            }
        }
        // Tiles per tiling, exactly (None past u64), and the same product
        // wrapped to u32 for the place values used on the hot path.
        let (mut exact, mut radix) = (Some(1u64), 1u32);
        let mut axes = Vec::with_capacity(dims.len());
        for (d, dim) in dims.iter().enumerate() {
            let inv_width = 1.0 / dim.width;
            // The largest digit, computed with the very operations `active`
            // applies to `high`; rounding is monotonic, so no state exceeds it.
            let top = fixed((dim.high - dim.low) * inv_width);
            let max_offset = offsets[d * n..(d + 1) * n].iter().max().unwrap_or(&0);
            let digits = ((top + max_offset) >> FRACTION) + 1;
            axes.push(Axis {
                low: dim.low,
                high: dim.high,
                inv_width,
                radix,
            });
            exact = exact.and_then(|e| e.checked_mul(digits));
            #[allow(
                clippy::cast_possible_truncation,
                reason = "place values wrap by design"
            )]
            let digits = digits as u32;
            radix = radix.wrapping_mul(digits);
        }
        let slots = exact.and_then(|e| e.checked_mul(n as u64));
        // Below 2³¹ tiles no coordinate reaches the saturation of `fixed`.
        let dense = slots.is_some_and(|s| s <= config.table_size() as u64 && s <= 1 << 31);
        let bases = (0..n)
            .map(|t| {
                #[allow(clippy::cast_possible_truncation, reason = "t <= 64")]
                let t = t as u32;
                t.wrapping_mul(radix)
            })
            .collect();
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
            actions,
            axes,
            offsets,
            bases,
            dense,
            shift: 32u32
                .saturating_sub(config.table_size().trailing_zeros())
                .min(31),
            mask: config.table_size() - 1,
            weights: vec![Lanes([0.0; LANES]); size],
            row,
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

    /// Whether every tile has a slot of its own (no two tiles share a
    /// weight), which holds when `tilings × tiles per tiling ≤ table_size`.
    pub fn is_dense(&self) -> bool {
        self.dense
    }

    /// Writes the feature index (in `0..table_size`) of the active tile of
    /// each tiling into `out[..tilings]`. Deterministic: the same state
    /// always gives the same indices, across processes too.
    ///
    /// The tile number is `t × tiles per tiling + Σ digit_d × radix_d`,
    /// computed in wrapping u32 arithmetic: exact whenever the table is
    /// dense, and merely one more source of (hashed) collisions for tilings
    /// of over 2³² tiles.
    ///
    /// # Panics
    /// If `state.len() != dims` or `out.len() < tilings`.
    pub fn active(&self, state: &[f32], out: &mut [u32]) {
        assert_eq!(state.len(), self.axes.len(), "state has the tiling's dims");
        let out = &mut out[..self.tilings];
        // Dimension-outer: each component is clamped and scaled once, then
        // every tiling adds its digit, with no dependency between tilings.
        // The first dimension starts from the tiling's base (a separate copy
        // of the bases was a `memcpy` call).
        let mut first = true;
        for ((&x, axis), offsets) in state
            .iter()
            .zip(&self.axes)
            .zip(self.offsets.chunks_exact(self.tilings))
        {
            // NaN clamps to NaN and becomes coordinate 0: deterministic, if meaningless.
            let coordinate = fixed((x.clamp(axis.low, axis.high) - axis.low) * axis.inv_width);
            let digits = offsets.iter().map(|&offset| {
                // The digit is the integer part: a shift, where a float
                // floor per tiling was a saturating float-to-int cast that
                // does not vectorise on baseline x86-64. No overflow:
                // `coordinate < 2⁶³` and `offset < 2³²`.
                let digit = (coordinate + offset) >> FRACTION;
                // Both factors are below 2³², so this is one `pmuludq`.
                #[allow(clippy::cast_possible_truncation, reason = "wrapping place values")]
                let term = digit.wrapping_mul(u64::from(axis.radix)) as u32;
                term
            });
            if first {
                for ((key, &base), digit) in out.iter_mut().zip(&self.bases).zip(digits) {
                    *key = base.wrapping_add(digit);
                }
                first = false;
            } else {
                for (key, digit) in out.iter_mut().zip(digits) {
                    *key = key.wrapping_add(digit);
                }
            }
        }
        if !self.dense {
            for key in out.iter_mut() {
                // Tables of over 2³² slots cannot be indexed by u32 anyway.
                #[allow(clippy::cast_possible_truncation, reason = "see above")]
                let mask = self.mask as u32;
                *key = (key.wrapping_mul(GOLDEN) >> self.shift) & mask;
            }
        }
    }

    /// Every weight in file order (rows of `row × LANES`, padding included).
    pub(crate) fn weights(&self) -> impl Iterator<Item = f32> + '_ {
        self.weights.iter().flat_map(|lanes| lanes.0)
    }

    /// Number of weights [`weights`](Self::weights) yields.
    pub(crate) fn weight_count(&self) -> usize {
        self.weights.len() * LANES
    }

    /// Every weight in file order, for loading.
    pub(crate) fn weights_mut(&mut self) -> impl Iterator<Item = &mut f32> {
        self.weights.iter_mut().flat_map(|lanes| lanes.0.iter_mut())
    }

    pub(crate) fn layout(&self) -> u64 {
        self.layout
    }

    /// The weight of `action` in the row of feature `index`.
    fn weight(&self, index: u32, action: usize) -> f32 {
        self.weights[index as usize * self.row + action / LANES].0[action % LANES]
    }
}

impl Tiles {
    /// `out = Σ rows idx`, for rows of `R` chunks. A local accumulator stays
    /// in registers; summing into a stack row made each add a load, add and
    /// store through memory.
    fn sum_rows<const R: usize>(&self, idx: &[u32], out: &mut [f32]) {
        debug_assert_eq!(self.row, R);
        let mut acc = [[0.0_f32; LANES]; R];
        for &i in idx {
            let start = i as usize * R;
            let row = &self.weights[start..start + R];
            for (a, w) in acc.iter_mut().zip(row) {
                for (x, y) in a.iter_mut().zip(&w.0) {
                    *x += y;
                }
            }
        }
        for (out, a) in out.chunks_mut(LANES).zip(&acc) {
            store(out, a);
        }
    }
}

/// Writes `acc[..out.len()]` (at most [`LANES`]) in whole pieces of 8, 4, 2
/// and 1 values: a slice copy of a partial chunk was a `memcpy` call, and
/// value-by-value stores make the policy's vector loads wait for them.
fn store(out: &mut [f32], acc: &[f32; LANES]) {
    let mut at = 0;
    for piece in [8, 4, 2, 1] {
        if out.len() - at >= piece {
            out[at..at + piece].copy_from_slice(&acc[at..at + piece]);
            at += piece;
        }
    }
}

/// `scaled` (a non-negative coordinate in tile widths) as fixed point with
/// [`FRACTION`] fractional bits. Scaling by a power of two is exact; the cast
/// truncates below 2⁻³², saturates at 2⁶³ (2³¹ tiles) and maps NaN to 0.
fn fixed(scaled: f32) -> u64 {
    #[allow(clippy::cast_possible_truncation, reason = "saturating by design")]
    #[allow(
        clippy::cast_sign_loss,
        reason = "non-negative, and i64 saturates below 2^63"
    )]
    let coordinate = (scaled * (1u64 << FRACTION) as f32) as i64 as u64;
    coordinate
}

impl ValueFunction for Tiles {
    fn dims(&self) -> usize {
        self.axes.len()
    }

    fn actions(&self) -> usize {
        self.actions
    }

    fn q(&self, state: &[f32], action: usize) -> f32 {
        assert!(action < self.actions, "action in range");
        let mut idx = [0u32; MAX_TILINGS];
        let idx = &mut idx[..self.tilings];
        self.active(state, idx);
        idx.iter().map(|&i| self.weight(i, action)).sum()
    }

    fn q_all(&self, state: &[f32], out: &mut [f32]) {
        let mut idx = [0u32; MAX_TILINGS];
        let idx = &mut idx[..self.tilings];
        self.active(state, idx);
        let out = &mut out[..self.actions];
        // Up to 32 actions the whole row is summed at once, in registers:
        // the chunks' add chains then run side by side.
        match self.row {
            1 => self.sum_rows::<1>(idx, out),
            2 => self.sum_rows::<2>(idx, out),
            3 => self.sum_rows::<3>(idx, out),
            4 => self.sum_rows::<4>(idx, out),
            _ => {
                for (chunk, out) in out.chunks_mut(LANES).enumerate() {
                    let mut acc = [0.0_f32; LANES];
                    for &i in idx.iter() {
                        let row = &self.weights[i as usize * self.row + chunk].0;
                        for (x, y) in acc.iter_mut().zip(row) {
                            *x += y;
                        }
                    }
                    store(out, &acc);
                }
            }
        }
    }

    fn update(&mut self, state: &[f32], action: usize, step: f32) {
        assert!(action < self.actions, "action in range");
        let mut idx = [0u32; MAX_TILINGS];
        let idx = &mut idx[..self.tilings];
        self.active(state, idx);
        let share = step * self.step_scale;
        let (chunk, lane) = (action / LANES, action % LANES);
        for &i in idx.iter() {
            self.weights[i as usize * self.row + chunk].0[lane] += share;
        }
    }
}

#[cfg(test)]
mod tests;
