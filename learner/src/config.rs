//! Validated hyper-parameters.
//!
//! Owns [`Params`] (raw, all public, with defaults), its validated form
//! [`Config`], and [`TileConfig`] for tile coding. Validation happens once
//! here so the hot path never checks a parameter; every error names the
//! offending parameter.

use crate::error::{Error, Result};

/// When ε-greedy exploration decays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decay {
    /// Multiply ε by the decay factor after every action.
    PerStep,
    /// Multiply ε by the decay factor when the caller ends an episode.
    PerEpisode,
}

/// Raw hyper-parameters, mapped 1:1 from whatever the caller reads.
///
/// Turn them into a [`Config`] with [`Config::try_new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Step size α, in (0, 1].
    pub alpha: f32,
    /// Average-reward step size β (differential forms), in (0, 1].
    pub beta: f32,
    /// Discount γ (discounted forms), in [0, 1].
    pub gamma: f32,
    /// Initial exploration rate, in [0, 1].
    pub epsilon_start: f32,
    /// Exploration floor, in [0, `epsilon_start`].
    pub epsilon_min: f32,
    /// Multiplicative ε decay factor, in (0, 1] (1 = no decay).
    pub epsilon_decay: f32,
    /// When the decay is applied.
    pub decay: Decay,
    /// Softmax temperature τ, > 0 and finite.
    pub temperature: f32,
}

impl Default for Params {
    /// Values that learn on the 2-state and scheduling toy problems in the
    /// tests; callers are expected to tune them.
    fn default() -> Self {
        Self {
            alpha: 0.1,
            beta: 0.01,
            gamma: 0.9,
            epsilon_start: 0.1,
            epsilon_min: 0.01,
            epsilon_decay: 1.0,
            decay: Decay::PerStep,
            temperature: 1.0,
        }
    }
}

/// Validated hyper-parameters; immutable once built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    params: Params,
}

impl Config {
    /// Validates `params`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first parameter out of range
    /// (NaN is always out of range).
    pub fn try_new(params: Params) -> Result<Self> {
        let p = params;
        check(
            "alpha",
            p.alpha,
            p.alpha > 0.0 && p.alpha <= 1.0,
            "in (0, 1]",
        )?;
        check("beta", p.beta, p.beta > 0.0 && p.beta <= 1.0, "in (0, 1]")?;
        check(
            "gamma",
            p.gamma,
            (0.0..=1.0).contains(&p.gamma),
            "in [0, 1]",
        )?;
        check(
            "epsilon_start",
            p.epsilon_start,
            (0.0..=1.0).contains(&p.epsilon_start),
            "in [0, 1]",
        )?;
        check(
            "epsilon_min",
            p.epsilon_min,
            (0.0..=p.epsilon_start).contains(&p.epsilon_min),
            "in [0, epsilon_start]",
        )?;
        check(
            "epsilon_decay",
            p.epsilon_decay,
            p.epsilon_decay > 0.0 && p.epsilon_decay <= 1.0,
            "in (0, 1]",
        )?;
        check(
            "temperature",
            p.temperature,
            p.temperature > 0.0 && p.temperature.is_finite(),
            "> 0 and finite",
        )?;
        Ok(Self { params })
    }

    /// Step size α.
    pub fn alpha(&self) -> f32 {
        self.params.alpha
    }
    /// Average-reward step size β.
    pub fn beta(&self) -> f32 {
        self.params.beta
    }
    /// Discount γ.
    pub fn gamma(&self) -> f32 {
        self.params.gamma
    }
    /// Initial exploration rate.
    pub fn epsilon_start(&self) -> f32 {
        self.params.epsilon_start
    }
    /// Exploration floor.
    pub fn epsilon_min(&self) -> f32 {
        self.params.epsilon_min
    }
    /// Multiplicative ε decay factor.
    pub fn epsilon_decay(&self) -> f32 {
        self.params.epsilon_decay
    }
    /// When ε decays.
    pub fn decay(&self) -> Decay {
        self.params.decay
    }
    /// Softmax temperature.
    pub fn temperature(&self) -> f32 {
        self.params.temperature
    }
}

/// Tiling of one state dimension: values are clamped to `[low, high]` and
/// cut into tiles of `width`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dimension {
    /// Lowest value distinguished; smaller values share the first tile.
    pub low: f32,
    /// Highest value distinguished; larger values share the last tile.
    pub high: f32,
    /// Tile width, > 0.
    pub width: f32,
}

/// Upper bound on tilings, so the active-tile indices fit a stack array
/// (`[u32; MAX_TILINGS]`) and never need a heap buffer.
pub const MAX_TILINGS: usize = 64;

/// Validated tile-coding shape.
#[derive(Debug, Clone, PartialEq)]
pub struct TileConfig {
    tilings: usize,
    dimensions: Vec<Dimension>,
    table_size: usize,
}

impl TileConfig {
    /// Validates a tiling of `dimensions` with `tilings` offset tilings,
    /// hashed into `table_size` feature slots per action.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `tilings` (1..=[`MAX_TILINGS`]),
    /// `dimensions` (at least one), `low`/`high` (finite, `low < high`),
    /// `width` (> 0, finite) or `table_size` (a power of two ≥ `tilings`).
    pub fn try_new(tilings: usize, dimensions: &[Dimension], table_size: usize) -> Result<Self> {
        check_usize(
            "tilings",
            tilings,
            (1..=MAX_TILINGS).contains(&tilings),
            "in 1..=64",
        )?;
        check_usize(
            "dimensions",
            dimensions.len(),
            !dimensions.is_empty(),
            "at least one",
        )?;
        for d in dimensions {
            check(
                "low",
                d.low,
                d.low.is_finite() && d.low < d.high,
                "finite and < high",
            )?;
            check("high", d.high, d.high.is_finite(), "finite")?;
            check(
                "width",
                d.width,
                d.width > 0.0 && d.width.is_finite(),
                "> 0 and finite",
            )?;
        }
        check_usize(
            "table_size",
            table_size,
            table_size.is_power_of_two() && table_size >= tilings,
            "a power of two >= tilings",
        )?;
        Ok(Self {
            tilings,
            dimensions: dimensions.to_vec(),
            table_size,
        })
    }

    /// Number of tilings.
    pub fn tilings(&self) -> usize {
        self.tilings
    }
    /// Per-dimension ranges and widths.
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }
    /// Feature slots per action (a power of two).
    pub fn table_size(&self) -> usize {
        self.table_size
    }
}

fn check(name: &'static str, value: f32, ok: bool, expected: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            value: f64::from(value),
            expected,
        })
    }
}

fn check_usize(name: &'static str, value: usize, ok: bool, expected: &'static str) -> Result<()> {
    // Shapes are far below 2^53, so the conversion for display is exact.
    #[allow(clippy::cast_precision_loss, reason = "display only; shapes are small")]
    let value = value as f64;
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(r: Result<impl std::fmt::Debug>) -> &'static str {
        match r {
            Err(Error::InvalidParameter { name, .. }) => name,
            other => panic!("expected InvalidParameter, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        assert!(Config::try_new(Params::default()).is_ok());
    }

    #[test]
    fn each_parameter_is_named() {
        let d = Params::default();
        assert_eq!(
            name_of(Config::try_new(Params { alpha: 0.0, ..d })),
            "alpha"
        );
        assert_eq!(
            name_of(Config::try_new(Params { alpha: 1.5, ..d })),
            "alpha"
        );
        assert_eq!(
            name_of(Config::try_new(Params {
                beta: f32::NAN,
                ..d
            })),
            "beta"
        );
        assert_eq!(
            name_of(Config::try_new(Params { gamma: -0.1, ..d })),
            "gamma"
        );
        assert_eq!(
            name_of(Config::try_new(Params {
                epsilon_start: 2.0,
                ..d
            })),
            "epsilon_start"
        );
        assert_eq!(
            name_of(Config::try_new(Params {
                epsilon_min: 0.5,
                ..d
            })),
            "epsilon_min"
        );
        assert_eq!(
            name_of(Config::try_new(Params {
                epsilon_decay: 0.0,
                ..d
            })),
            "epsilon_decay"
        );
        assert_eq!(
            name_of(Config::try_new(Params {
                temperature: 0.0,
                ..d
            })),
            "temperature"
        );
    }

    #[test]
    fn tile_config_is_checked() {
        let dim = Dimension {
            low: 0.0,
            high: 10.0,
            width: 1.0,
        };
        assert!(TileConfig::try_new(8, &[dim], 1024).is_ok());
        assert_eq!(name_of(TileConfig::try_new(0, &[dim], 1024)), "tilings");
        assert_eq!(name_of(TileConfig::try_new(65, &[dim], 1024)), "tilings");
        assert_eq!(name_of(TileConfig::try_new(8, &[], 1024)), "dimensions");
        assert_eq!(name_of(TileConfig::try_new(8, &[dim], 1000)), "table_size");
        let bad = Dimension {
            low: 5.0,
            high: 1.0,
            width: 1.0,
        };
        assert_eq!(name_of(TileConfig::try_new(8, &[bad], 1024)), "low");
        let bad = Dimension { width: 0.0, ..dim };
        assert_eq!(name_of(TileConfig::try_new(8, &[bad], 1024)), "width");
    }
}
