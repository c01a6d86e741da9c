//! Which wake-to-run waits the programs time (`RUNQ_SAMPLE`). Timing one costs per switch (the
//! enqueue stamp and the run queue's clock, or a clock read and a `WAKE_TS` store per wake-up), which
//! only matters when switches are many: above [`SAMPLE_ABOVE`] switches per second the programs time
//! a random 1 in [`SAMPLE_EVERY`] waits and count each [`SAMPLE_EVERY`] times in the histogram (so
//! its quantiles stay unbiased), below [`ALL_BELOW`] they time every wait again, so a quiet node (an
//! idle Pi) keeps every sample it gets. The gap between the two is hysteresis: a rate near one
//! threshold does not flip the mode every interval.

use aya::maps::{Array, MapData};
use p2pfaas_ebpf_common::map;

use super::Error;

/// One timed wait in this many while sampling (a power of two: the programs draw it with a mask).
pub const SAMPLE_EVERY: u32 = 4;
/// Switches per second (all CPUs) from which waits are sampled: there, timing every wait would cost
/// ≈ 15 ns × 10,000 = 0.015 % of a core, and sampling saves three quarters of whatever more it costs.
pub const SAMPLE_ABOVE: f64 = 10_000.0;
/// Switches per second under which every wait is timed again.
pub const ALL_BELOW: f64 = 5_000.0;

/// Whether to sample in the next interval, given the last interval's switch rate and whether waits
/// are sampled now.
pub(super) fn sample_next(switches_per_sec: f64, sampling: bool) -> bool {
    if sampling {
        switches_per_sec >= ALL_BELOW
    } else {
        switches_per_sec >= SAMPLE_ABOVE
    }
}

/// The `RUNQ_SAMPLE` map and the mode it holds.
pub(super) struct Sampling {
    map: Array<MapData, u32>,
    sampling: bool,
}

impl Sampling {
    /// Starts sampled (so does a node: the first interval's rate decides).
    pub(super) fn new(map: Array<MapData, u32>) -> Result<Self, Error> {
        // The map starts at 0, which is "every wait".
        let mut s = Self {
            map,
            sampling: false,
        };
        s.set(true)?;
        Ok(s)
    }

    pub(super) fn is_sampling(&self) -> bool {
        self.sampling
    }

    /// Samples (`true`) or times every wait (`false`) from now on.
    pub(super) fn set(&mut self, sampling: bool) -> Result<(), Error> {
        if sampling == self.sampling {
            return Ok(());
        }
        let mask = if sampling { SAMPLE_EVERY - 1 } else { 0 };
        self.map.set(0, mask, 0).map_err(|source| Error::Map {
            name: map::RUNQ_SAMPLE,
            source,
        })?;
        self.sampling = sampling;
        Ok(())
    }

    /// Follows the switch rate measured over the last interval ([`sample_next`]).
    pub(super) fn follow(&mut self, switches_per_sec: f64) -> Result<(), Error> {
        self.set(sample_next(switches_per_sec, self.sampling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_starts_above_the_high_threshold_and_stops_below_the_low_one() {
        assert!(SAMPLE_EVERY.is_power_of_two());
        // Timing every wait: only a rate at or above the high threshold turns sampling on.
        assert!(!sample_next(0.0, false));
        assert!(!sample_next(SAMPLE_ABOVE - 1.0, false));
        assert!(sample_next(SAMPLE_ABOVE, false));
        // Sampling: it stays on between the thresholds and goes off below the low one.
        assert!(sample_next(SAMPLE_ABOVE - 1.0, true));
        assert!(sample_next(ALL_BELOW, true));
        assert!(!sample_next(ALL_BELOW - 1.0, true));
        assert!(!sample_next(0.0, true));
    }
}
