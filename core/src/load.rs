//! The machine's load as a scheduler sees it: one [`LoadSample`], plain data. Measuring it is the node's
//! job (eBPF, PSI, `/proc`); the simulator computes the same fields from its own state. Nothing here
//! reads a clock or a file.

use serde::Serialize;

/// Where a sample came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// No sample yet (the sampler has not completed its first interval).
    None,
    /// eBPF programs on the scheduler tracepoints.
    Ebpf,
    /// `/proc/stat` plus PSI (`/proc/pressure/cpu`).
    Psi,
    /// `/proc/stat` and `/proc/loadavg` only.
    Procfs,
}

impl Source {
    /// The label used in `/metrics` and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Ebpf => "ebpf",
            Self::Psi => "psi",
            Self::Procfs => "procfs",
        }
    }
}

/// One load measurement over the last sampling interval. Plain data (`Copy`), cheap to read per decision.
///
/// Ratios are fractions (0..1), never percentages. A field a source cannot measure is `None`
/// (serialised as `null`), never a made-up zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LoadSample {
    /// Which source measured it.
    pub source: Source,
    /// Busy share of all CPUs over the interval (0..1): time not spent in the idle task (eBPF) or in
    /// idle/iowait (`/proc/stat`).
    pub utilisation: f64,
    /// Busy share of the busiest CPU (0..1); a single hot core is invisible in the mean on big machines.
    pub utilisation_max_cpu: f64,
    /// Median wake-to-run delay (µs) of tasks that started running in the interval; eBPF only.
    pub runq_latency_p50_us: Option<f64>,
    /// 99th percentile of the wake-to-run delay (µs); eBPF only.
    pub runq_latency_p99_us: Option<f64>,
    /// CPU time used by the node's function processes (the processes its `process` backend starts, and
    /// theirs), not by the node's own threads, as a share of all CPUs (0..1). eBPF: exact per switch
    /// (a task of the node's tree counts once it calls exec); procfs: reaped children only.
    pub function_cpu_share: f64,
    /// Context switches per second on the whole machine.
    pub context_switches_per_sec: f64,
    /// PSI CPU "some" pressure over the interval: the share of time at least one runnable task waited
    /// for a CPU (0..1). `None` without PSI.
    pub cpu_pressure: Option<f64>,
    /// `/proc/loadavg` one-minute load average.
    pub load_avg_1m: f64,
    /// CPUs measured.
    pub cpus: u32,
    /// Length of the interval this sample covers, in milliseconds.
    pub interval_ms: f64,
    /// When the sample was taken, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

impl LoadSample {
    /// The value before the first sample: source `none`, everything zero.
    pub const EMPTY: Self = Self {
        source: Source::None,
        utilisation: 0.0,
        utilisation_max_cpu: 0.0,
        runq_latency_p50_us: None,
        runq_latency_p99_us: None,
        function_cpu_share: 0.0,
        context_switches_per_sec: 0.0,
        cpu_pressure: None,
        load_avg_1m: 0.0,
        cpus: 0,
        interval_ms: 0.0,
        timestamp_ms: 0,
    };
}
