//! The eBPF source (feature `ebpf`): loads the object built from `ebpf/` by build.rs, attaches either
//! its `tp_btf` programs (where the kernel has BTF; `task_struct` offsets read from it) or its raw
//! tracepoint programs (which need no BTF and no offsets), pins the maps under
//! `load.pin_dir` (replacing stale pins from a crashed node) and reads them each interval. Dropping
//! [`Probes`] detaches the programs and removes the pins.

use std::path::{Path, PathBuf};

use aya::maps::{Array, HashMap, MapData, PerCpuArray};
use aya::programs::{BtfTracePoint, RawTracePoint};
use aya::util::KernelVersion;
use aya::{Btf, Ebpf, EbpfLoader};
use p2pfaas_ebpf_common::{
    BTF_PROGRAMS, CpuStat, NodeState, PROGRAMS, RunqHist, global, map, tracked,
};

mod link;
mod pin;
mod sampling;
mod wake;

pub use pin::Pinned;

use super::btf::{self, TaskOffsets};
use super::kernel::{self, CpuCounters, Measured, Snapshot};
pub use crate::config::EbpfPrograms;
use crate::config::LoadConfig;

pub use sampling::{ALL_BELOW, SAMPLE_ABOVE, SAMPLE_EVERY};
pub use wake::CYCLE as WAKE_CYCLE;

/// The tracepoint of the per-switch program.
const SWITCH: &str = "sched_switch";

/// The object built by build.rs (aya-build) from the `ebpf` crate.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/p2pfaas"));

/// Why the eBPF source is unavailable. Start-up only; the sampler falls back to PSI/procfs (or fails
/// when `load.source = "ebpf"`), and the message is the reason exported in `/metrics`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused the object (no BPF, no privileges, seccomp, …).
    #[error("loading the eBPF object: {}", chain(.0))]
    Load(#[source] aya::EbpfError),
    /// The object lacks a program or map the node expects (built from another version).
    #[error("the eBPF object has no {0}")]
    Missing(&'static str),
    /// A program could not be loaded or attached.
    #[error("program {name}: {}", chain(.source))]
    Program {
        /// Program name.
        name: &'static str,
        /// aya's error.
        #[source]
        source: aya::programs::ProgramError,
    },
    /// A map could not be opened or written.
    #[error("map {name}: {}", chain(.source))]
    Map {
        /// Map name.
        name: &'static str,
        /// aya's error.
        #[source]
        source: aya::maps::MapError,
    },
    /// The `tp_btf` programs were asked for (`load.ebpf_programs = "btf"`) without kernel BTF.
    #[error("tp_btf programs need kernel BTF, and the loader was told to use none")]
    NoKernelBtf,
    /// The `task_struct` offsets could not be read from the kernel's BTF.
    #[error(transparent)]
    TaskOffsets(#[from] btf::Error),
    /// aya could not parse the kernel's BTF (it needs it to find the `tp_btf` attach points).
    #[error("parsing {}: {}", btf::VMLINUX, chain(.0))]
    KernelBtf(#[source] aya::BtfError),
    /// The monotonic clock could not be read.
    #[error("clock_gettime(CLOCK_MONOTONIC): {0}")]
    Clock(nix::Error),
}

/// An error and its sources, joined with ": " (aya's own messages omit the OS error).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

/// Loader settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to pin the maps; `None` pins nothing.
    pub pin_dir: Option<PathBuf>,
    /// Use the kernel's BTF (`false` stands for a kernel without it, and proves the classic programs
    /// need none: no relocations against it, and no `tp_btf` programs).
    pub kernel_btf: bool,
    /// Measure wake-to-run latency.
    pub runq_latency: bool,
    /// Let the `tp_btf` programs take that latency from the kernel's own enqueue stamp
    /// ([`RunqSource::SchedInfo`]) when the kernel's BTF has its members (`false` stands for a kernel
    /// without them and gets [`RunqSource::WakeTs`], as the classic programs always do, and switches
    /// timed with `bpf_ktime_get_ns` instead of the run queue's clock).
    pub sched_info: bool,
    /// `tp_btf` or classic programs (`auto`: `tp_btf` when `kernel_btf` and they load).
    pub programs: EbpfPrograms,
}

/// The kind of programs attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// BTF-enabled raw tracepoints.
    TpBtf,
    /// Plain raw tracepoints, which need no BTF (what `load.ebpf_programs = "classic"` names).
    RawTp,
}

/// What a tracked thread counts as (its CPU time goes to `node_ns` or to `tracked_ns`, the function
/// share).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracked {
    /// One of the node's own threads.
    Node,
    /// Part of a function process.
    Function,
}

/// Where the wake-to-run delays in `RUNQ_HIST` come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunqSource {
    /// Not measured (`load.runq_latency = false`).
    Off,
    /// The programs' own wake-up timestamps (map `WAKE_TS`, program `sched_wakeup`): the raw
    /// tracepoint programs, and `tp_btf` where the kernel's BTF lacks the run queue members.
    WakeTs,
    /// The kernel's enqueue stamp (`task_struct.sched_info.last_queued`) and run queue clock, read by
    /// the `tp_btf` `sched_switch`; no map and no `sched_wakeup` program.
    SchedInfo,
}

impl RunqSource {
    /// The label in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::WakeTs => "wake_ts",
            Self::SchedInfo => "sched_info",
        }
    }
}

impl Kind {
    /// The label in logs and `/metrics` (`p2pfaas_ebpf_programs_info{kind}`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TpBtf => "tp_btf",
            Self::RawTp => "raw_tp",
        }
    }
}

impl Options {
    /// The node's settings: pins under `load.pin_dir`, kernel BTF when present.
    pub fn from_config(config: &LoadConfig) -> Self {
        Self {
            pin_dir: Some(config.pin_dir.clone()),
            kernel_btf: true,
            runq_latency: config.runq_latency,
            sched_info: true,
            programs: config.ebpf_programs,
        }
    }
}

/// Loaded, attached programs and the maps the sampler reads.
pub struct Probes {
    /// Owns the programs and their links; dropping it detaches them.
    ebpf: Ebpf,
    /// The sampled `sched_wakeup` attachment ([`RunqSource::WakeTs`] only).
    wake: Option<wake::Window>,
    /// Which wake-to-run waits are timed, following the switch rate.
    runq_sampling: sampling::Sampling,
    /// `sched_switch`'s attachment, kept so the probe cost bench can take it off and put it back
    /// ([`Probes::set_switch_attached`]).
    switch: link::Attachment,
    cpu_stats: PerCpuArray<MapData, CpuStat>,
    runq: PerCpuArray<MapData, RunqHist>,
    tracked: HashMap<MapData, u32, u32>,
    /// Bumped after each change to `tracked`, so the programs look cached answers up again.
    tracked_gen: Array<MapData, u32>,
    node_state: Array<MapData, NodeState>,
    /// Pins to remove on drop (only the ones this process created).
    pins: Vec<PathBuf>,
    pin_dir: Option<PathBuf>,
    prev: Option<Snapshot>,
    pid: u32,
    kind: Kind,
    runq_source: RunqSource,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("pins", &self.pins)
            .finish_non_exhaustive()
    }
}

impl Probes {
    /// Loads, attaches and pins; then tracks this process (and, through the programs, its children).
    /// With `programs = auto` a `tp_btf` failure is logged and the raw tracepoint programs are loaded
    /// instead.
    pub fn load(options: &Options) -> Result<Self, Error> {
        let want_btf = match options.programs {
            EbpfPrograms::Classic => false,
            EbpfPrograms::Btf if !options.kernel_btf => return Err(Error::NoKernelBtf),
            EbpfPrograms::Btf => true,
            // No BTF for relocations stands for a kernel without BTF (Raspberry Pi OS).
            EbpfPrograms::Auto => options.kernel_btf && Path::new(btf::VMLINUX).exists(),
        };
        let probes = if want_btf {
            match Self::load_btf(options) {
                Ok(p) => p,
                Err(e) if options.programs == EbpfPrograms::Btf => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "tp_btf programs unavailable; using raw tracepoints");
                    Self::load_kind(options, Attach::RawTp)?
                }
            }
        } else {
            Self::load_kind(options, Attach::RawTp)?
        };
        tracing::info!(
            programs = probes.kind.as_str(),
            runq_latency = probes.runq_source.as_str(),
            "eBPF load probes attached"
        );
        Ok(probes)
    }

    fn load_btf(options: &Options) -> Result<Self, Error> {
        let offsets = btf::task_offsets()?;
        let kernel = Btf::from_sys_fs().map_err(Error::KernelBtf)?;
        Self::load_kind(options, Attach::TpBtf(offsets, &kernel))
    }

    fn load_kind(options: &Options, attach: Attach<'_>) -> Result<Self, Error> {
        let runq_source = match &attach {
            _ if !options.runq_latency => RunqSource::Off,
            Attach::TpBtf(task, _) if options.sched_info && task.run_queue.is_some() => {
                RunqSource::SchedInfo
            }
            _ => RunqSource::WakeTs,
        };
        let mut globals = match &attach {
            Attach::TpBtf(task, _) => {
                let mut globals = vec![
                    (global::TASK_PID, task.pid),
                    (global::TASK_STATE, task.state),
                    (global::TASK_STATE_SIZE, task.state_size),
                ];
                // The run queue clock times the switches whenever the BTF has it (`sched_info`
                // false stands for a kernel without those members: then neither).
                if let (true, Some(rq)) = (options.sched_info, task.run_queue) {
                    globals.extend([
                        (global::TIME_FROM_RQ, 1),
                        (global::TASK_CFS_RQ, rq.cfs_rq),
                        (global::CFS_RQ_RQ, rq.rq),
                        (global::RQ_CLOCK, rq.clock),
                    ]);
                    if runq_source == RunqSource::SchedInfo {
                        globals.extend([
                            (global::RUNQ_FROM_TASK, 1),
                            (global::TASK_LAST_QUEUED, rq.last_queued),
                        ]);
                    }
                }
                globals
            }
            // `sched_switch` gained its `prev_state` argument in Linux 5.18; reading an argument the
            // tracepoint lacks would fail the attach.
            Attach::RawTp => vec![(
                global::SWITCH_HAS_STATE,
                u32::from(
                    KernelVersion::current().is_ok_and(|v| v >= KernelVersion::new(5, 18, 0)),
                ),
            )],
        };
        globals.push((global::RUNQ_LATENCY, u32::from(options.runq_latency)));
        let mut loader = EbpfLoader::new();
        if !options.kernel_btf {
            loader.btf(None);
        }
        for (name, value) in &globals {
            loader.override_global(name, value, true);
        }
        let mut ebpf = loader.load(OBJECT).map_err(Error::Load)?;
        // Wake-ups only start wake-to-run timers (`WAKE_TS`); without them there is nothing to do, and
        // with them the program is attached in sampling windows (`wake.rs`), not here.
        let sampled = |event: &str| event == "sched_wakeup";
        let skip = |event: &str| sampled(event) && runq_source != RunqSource::WakeTs;
        let (kind, programs) = match attach {
            Attach::TpBtf(_, kernel) => {
                for (name, event) in BTF_PROGRAMS.into_iter().filter(|(_, e)| !skip(e)) {
                    let err = |source| Error::Program { name, source };
                    let program: &mut BtfTracePoint = ebpf
                        .program_mut(name)
                        .ok_or(Error::Missing(name))?
                        .try_into()
                        .map_err(err)?;
                    program.load(event, kernel).map_err(err)?;
                }
                (Kind::TpBtf, BTF_PROGRAMS)
            }
            Attach::RawTp => {
                for (name, _) in PROGRAMS.into_iter().filter(|(_, e)| !skip(e)) {
                    let err = |source| Error::Program { name, source };
                    let program: &mut RawTracePoint = ebpf
                        .program_mut(name)
                        .ok_or(Error::Missing(name))?
                        .try_into()
                        .map_err(err)?;
                    program.load().map_err(err)?;
                }
                (Kind::RawTp, PROGRAMS)
            }
        };
        let mut switch = None;
        for (_, event) in programs.into_iter().filter(|(_, e)| !sampled(e)) {
            let mut program = link::Attachment::new(kind, event)?;
            program.set(&mut ebpf, true)?;
            if event == SWITCH {
                switch = Some(program);
            }
        }
        let switch = switch.ok_or(Error::Missing(SWITCH))?;
        let pins = match &options.pin_dir {
            Some(dir) => pin::pin_all(&ebpf, dir),
            None => Vec::new(),
        };
        let mut take = |name: &'static str| ebpf.take_map(name).ok_or(Error::Missing(name));
        let map_err = |name| move |source| Error::Map { name, source };
        let cpu_stats =
            PerCpuArray::try_from(take(map::CPU_STATS)?).map_err(map_err(map::CPU_STATS))?;
        let runq = PerCpuArray::try_from(take(map::RUNQ_HIST)?).map_err(map_err(map::RUNQ_HIST))?;
        let tracked: HashMap<MapData, u32, u32> =
            HashMap::try_from(take(map::TRACKED)?).map_err(map_err(map::TRACKED))?;
        let node_state =
            Array::try_from(take(map::NODE_STATE)?).map_err(map_err(map::NODE_STATE))?;
        let tracked_gen =
            Array::try_from(take(map::TRACKED_GEN)?).map_err(map_err(map::TRACKED_GEN))?;
        let wake_window =
            Array::try_from(take(map::WAKE_WINDOW)?).map_err(map_err(map::WAKE_WINDOW))?;
        let runq_sampling = sampling::Sampling::new(
            Array::try_from(take(map::RUNQ_SAMPLE)?).map_err(map_err(map::RUNQ_SAMPLE))?,
        )?;
        let wake = if runq_source == RunqSource::WakeTs {
            let runq_now = snapshot(&cpu_stats, &runq)?.runq;
            Some(wake::Window::open(&mut ebpf, kind, wake_window, runq_now)?)
        } else {
            None
        };
        let pid = std::process::id();
        let mut probes = Self {
            ebpf,
            wake,
            runq_sampling,
            switch,
            cpu_stats,
            runq,
            tracked,
            tracked_gen,
            node_state,
            pins,
            pin_dir: options.pin_dir.clone(),
            prev: None,
            pid,
            kind,
            runq_source,
        };
        probes.track(pid, Tracked::Node)?;
        // Claim the pins at once: another node starting now checks this pid before replacing them.
        probes.publish_node_state(0, 0, 0, 0.0);
        probes.prev = Some(probes.snapshot()?);
        Ok(probes)
    }

    /// Adds a thread id (e.g. of a thread or process started before the probes) to the tracked set, as
    /// one of the node's threads or as a function process; threads and processes it creates later join
    /// automatically (as the same), threads it already has do not.
    pub fn track(&mut self, pid: u32, as_: Tracked) -> Result<(), Error> {
        let kind = match as_ {
            Tracked::Node => tracked::NODE,
            Tracked::Function => tracked::FUNCTION,
        };
        let map_err = |name| move |source| Error::Map { name, source };
        self.tracked
            .insert(pid, kind, 0)
            .map_err(map_err(map::TRACKED))?;
        let generation = self
            .tracked_gen
            .get(&0, 0)
            .map_err(map_err(map::TRACKED_GEN))?;
        self.tracked_gen
            .set(0, generation.wrapping_add(1), 0)
            .map_err(map_err(map::TRACKED_GEN))
    }

    /// The kind of programs attached.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Where the wake-to-run delays come from.
    pub fn runq_source(&self) -> RunqSource {
        self.runq_source
    }

    /// The directory the maps are pinned in, if they are.
    pub fn pin_dir(&self) -> Option<&Path> {
        self.pin_dir.as_deref()
    }

    /// Reads the maps and measures the interval since the previous call. Where wake-ups are sampled
    /// (`wake.rs`), this also moves the sampling window on, and the latency quantiles are those of
    /// the last closed window.
    pub fn sample(&mut self) -> Result<Measured, Error> {
        let cur = self.snapshot()?;
        let mut measured = match &self.prev {
            Some(prev) => kernel::measure(prev, &cur),
            None => kernel::measure(&cur, &cur),
        };
        if let Some(window) = &mut self.wake {
            (measured.runq_p50_us, measured.runq_p99_us) =
                window.tick(&mut self.ebpf, &cur.runq)?;
        }
        if measured.elapsed_ns > 0 {
            self.runq_sampling
                .follow(measured.switches as f64 * 1e9 / measured.elapsed_ns as f64)?;
        }
        self.prev = Some(cur);
        Ok(measured)
    }

    /// Whether the programs time a random 1 in [`SAMPLE_EVERY`] wake-to-run waits (each counted
    /// [`SAMPLE_EVERY`] times) rather than every one. The probes start sampled; each
    /// [`sample`](Self::sample) then follows the switch rate ([`SAMPLE_ABOVE`], [`ALL_BELOW`]).
    pub fn runq_sampling(&self) -> bool {
        self.runq_sampling.is_sampling()
    }

    /// Sets the wake-to-run sampling until the next [`sample`](Self::sample) (for tests, and the
    /// probe cost bench, which times both modes).
    pub fn set_runq_sampling(&mut self, sampling: bool) -> Result<(), Error> {
        self.runq_sampling.set(sampling)
    }

    /// Each loaded program's name, run count and total run time as the kernel keeps them, which it
    /// does only while BPF run-time statistics are enabled (`aya::sys::enable_stats`; the probe cost
    /// bench does so): what the programs themselves cost, without the wall-clock noise around them.
    pub fn program_stats(&self) -> Vec<(&str, u64, std::time::Duration)> {
        self.ebpf
            .programs()
            .filter_map(|(name, program)| {
                let info = program.info().ok()?;
                Some((name, info.run_count(), info.run_time()))
            })
            .collect()
    }

    /// Detaches `sched_switch` (`false`) or attaches it again (`true`), leaving everything else as it
    /// is. For the probe cost bench (`node/benches/probe_cost.rs`), which times the switch path with
    /// and without it in alternating segments of one loaded set, keeping the attach (which patches
    /// kernel text) and the load out of the timed part; the node keeps it attached from load to drop.
    pub fn set_switch_attached(&mut self, attached: bool) -> Result<(), Error> {
        self.switch.set(&mut self.ebpf, attached)
    }

    /// Whether `sched_wakeup` is attached now, where wake-ups are timed by the programs (attached
    /// in one sample interval of [`WAKE_CYCLE`]); `None` elsewhere (no `sched_wakeup` at all).
    pub fn wake_window_open(&self) -> Option<bool> {
        self.wake.as_ref().map(wake::Window::is_open)
    }

    /// Writes the node's scheduler state into the pinned `NODE_STATE` map (best effort: a failed write
    /// only makes the bpftool view stale).
    pub fn publish_node_state(
        &mut self,
        running: usize,
        queued: usize,
        slots: usize,
        utilisation: f64,
    ) {
        let to64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let state = NodeState {
            running: to64(running),
            queued: to64(queued),
            slots: to64(slots),
            pid: u64::from(self.pid),
            updated_ns: monotonic_ns().unwrap_or(0),
            utilisation_ppm: (utilisation.clamp(0.0, 1.0) * 1e6) as u64,
        };
        if let Err(e) = self.node_state.set(0, state, 0) {
            tracing::debug!(error = %e, "cannot write NODE_STATE");
        }
    }

    fn snapshot(&self) -> Result<Snapshot, Error> {
        snapshot(&self.cpu_stats, &self.runq)
    }
}

/// Which programs to attach, with what they need.
#[derive(Clone, Copy)]
enum Attach<'a> {
    /// `tp_btf`: the `task_struct` offsets and the kernel's BTF (for the attach points).
    TpBtf(TaskOffsets, &'a Btf),
    /// Plain raw tracepoints (no BTF, no offsets).
    RawTp,
}

/// Reads both per-CPU maps at "now".
fn snapshot(
    cpu_stats: &PerCpuArray<MapData, CpuStat>,
    runq: &PerCpuArray<MapData, RunqHist>,
) -> Result<Snapshot, Error> {
    let map_err = |name| move |source| Error::Map { name, source };
    let stats = cpu_stats.get(&0, 0).map_err(map_err(map::CPU_STATS))?;
    let hists = runq.get(&0, 0).map_err(map_err(map::RUNQ_HIST))?;
    let at_ns = monotonic_ns()?;
    let cpus = stats.iter().map(counters).collect();
    let mut sum = [0u64; kernel::RUNQ_SLOTS];
    for h in hists.iter() {
        for (total, n) in sum.iter_mut().zip(h.slots) {
            *total += n;
        }
    }
    Ok(Snapshot {
        at_ns,
        cpus,
        runq: sum,
    })
}

impl Drop for Probes {
    fn drop(&mut self) {
        for pin in &self.pins {
            if let Err(e) = std::fs::remove_file(pin) {
                tracing::warn!(pin = %pin.display(), error = %e, "cannot remove pinned map");
            }
        }
        if let Some(dir) = &self.pin_dir {
            // Only succeeds when empty: another node's pins (or a user's) are left alone.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn counters(s: &CpuStat) -> CpuCounters {
    CpuCounters {
        busy_ns: s.busy_ns,
        last_switch_ns: s.last_switch_ns,
        switches: s.switches,
        tracked_ns: s.tracked_ns,
        node_ns: s.node_ns,
        curr_busy: s.curr_busy != 0,
        curr_tracked: s.curr_tracked == tracked::FUNCTION,
        curr_node: s.curr_tracked == tracked::NODE,
    }
}

/// `CLOCK_MONOTONIC` in ns: the clock `bpf_ktime_get_ns` reads, so open slices can be closed at "now".
fn monotonic_ns() -> Result<u64, Error> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_err(Error::Clock)?;
    let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
    let nanos = u64::try_from(t.tv_nsec()).unwrap_or(0);
    Ok(secs * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    #[test]
    fn histogram_width_matches_the_kernel_side() {
        assert_eq!(super::kernel::RUNQ_SLOTS, p2pfaas_ebpf_common::RUNQ_SLOTS);
    }
}
