//! Sampled wake-to-run latency, for the programs that time wake-ups themselves
//! ([`RunqSource::WakeTs`](super::RunqSource): the raw tracepoint programs of kernels without BTF, and
//! `tp_btf` where the kernel's BTF lacks the `sched_info` members). Their `sched_wakeup` program runs
//! on every wake-up, and a program run costs about what the whole `sched_switch` program costs; so it
//! is attached for one sample interval in [`CYCLE`] (the window, also flagged in `WAKE_WINDOW` so
//! `sched_switch` samples preemptions alike), and the quantiles of the waits measured in the last
//! window are reported until the next window closes. At the default 100 ms interval that is 100 ms
//! of every second, the latency figures refreshed once a second.

use aya::Ebpf;
use aya::maps::{Array, MapData};

use super::link::Attachment;
use super::{Error, Kind};
use crate::load::kernel::{RUNQ_SLOTS, quantile_us};

/// One window every `CYCLE` sample intervals.
pub const CYCLE: u32 = 10;

/// The `sched_wakeup` program's attachment, opened and closed by [`Window::tick`].
pub(super) struct Window {
    wakeup: Attachment,
    /// `WAKE_WINDOW`: 1 while attached.
    flag: Array<MapData, u32>,
    /// Sample intervals since the load.
    ticks: u32,
    /// The histogram when the last window closed; the next window's waits are counted from it.
    since: [u64; RUNQ_SLOTS],
    /// p50 and p99 (µs) of the last closed window.
    quantiles: (Option<f64>, Option<f64>),
}

impl Window {
    /// Opens the first window now (the program is loaded, not attached); `runq` is the histogram now.
    pub(super) fn open(
        ebpf: &mut Ebpf,
        kind: Kind,
        flag: Array<MapData, u32>,
        runq: [u64; RUNQ_SLOTS],
    ) -> Result<Self, Error> {
        let mut window = Self {
            wakeup: Attachment::new(kind, "sched_wakeup")?,
            flag,
            ticks: 0,
            since: runq,
            quantiles: (None, None),
        };
        window.set(ebpf, true)?;
        Ok(window)
    }

    /// Whether `sched_wakeup` is attached now.
    pub(super) fn is_open(&self) -> bool {
        self.wakeup.is_attached()
    }

    /// One sample interval has passed and `runq` is the histogram now: closes an open window (its
    /// waits give the quantiles), opens the next one when it is due, and returns the p50 and p99 to
    /// report.
    pub(super) fn tick(
        &mut self,
        ebpf: &mut Ebpf,
        runq: &[u64; RUNQ_SLOTS],
    ) -> Result<(Option<f64>, Option<f64>), Error> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.is_open() {
            self.set(ebpf, false)?;
            let delta: [u64; RUNQ_SLOTS] =
                std::array::from_fn(|i| runq[i].saturating_sub(self.since[i]));
            self.quantiles = (quantile_us(&delta, 0.50), quantile_us(&delta, 0.99));
            self.since = *runq;
        }
        if self.ticks.is_multiple_of(CYCLE) {
            self.set(ebpf, true)?;
        }
        Ok(self.quantiles)
    }

    fn set(&mut self, ebpf: &mut Ebpf, open: bool) -> Result<(), Error> {
        let flag_err = |source| Error::Map {
            name: p2pfaas_ebpf_common::map::WAKE_WINDOW,
            source,
        };
        // The flag is up only while the program is attached: set after attaching, cleared before
        // detaching.
        if open {
            self.wakeup.set(ebpf, true)?;
            self.flag.set(0, 1, 0).map_err(flag_err)
        } else {
            self.flag.set(0, 0, 0).map_err(flag_err)?;
            self.wakeup.set(ebpf, false)
        }
    }
}
