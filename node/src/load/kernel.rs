//! Turns two readings of the eBPF maps into load figures. Pure arithmetic on plain counters (no aya
//! types), so it is unit-tested on any build; `load::ebpf` converts the map values into these.

use super::LoadSample;

/// Log2 latency buckets, as in `p2pfaas_ebpf_common::RunqHist` (kept in step by a test in `load::ebpf`).
pub const RUNQ_SLOTS: usize = 32;

/// One CPU's counters (see `p2pfaas_ebpf_common::CpuStat` for their meaning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuCounters {
    /// Busy ns up to `last_switch_ns`.
    pub busy_ns: u64,
    /// Start of the open accounting period: the last switch that changed what the CPU counts as
    /// (idle, busy, node, function; ns, `CLOCK_MONOTONIC`); 0 = never switched.
    pub last_switch_ns: u64,
    /// Context switches.
    pub switches: u64,
    /// Function-process ns up to `last_switch_ns`.
    pub tracked_ns: u64,
    /// Node-thread ns up to `last_switch_ns`.
    pub node_ns: u64,
    /// The running task is not idle.
    pub curr_busy: bool,
    /// The running task belongs to a function process.
    pub curr_tracked: bool,
    /// The running task is one of the node's threads.
    pub curr_node: bool,
}

impl CpuCounters {
    /// Busy, function and node ns up to `now`, counting the period still open.
    fn until(&self, now: u64) -> (u64, u64, u64) {
        let open = if self.last_switch_ns != 0 && now > self.last_switch_ns {
            now - self.last_switch_ns
        } else {
            0
        };
        (
            self.busy_ns + if self.curr_busy { open } else { 0 },
            self.tracked_ns + if self.curr_tracked { open } else { 0 },
            self.node_ns + if self.curr_node { open } else { 0 },
        )
    }
}

/// One reading of every map, taken at `at_ns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// When the maps were read (`CLOCK_MONOTONIC` ns, the clock of `bpf_ktime_get_ns`).
    pub at_ns: u64,
    /// Per possible CPU.
    pub cpus: Vec<CpuCounters>,
    /// Run-queue latency histogram summed over CPUs.
    pub runq: [u64; RUNQ_SLOTS],
}

/// What the kernel measured over one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// Busy share per possible CPU (0..1).
    pub per_cpu: Vec<f64>,
    /// Sum of busy ns over all CPUs during the interval.
    pub busy_ns: u64,
    /// Sum over all CPUs of the ns the node's function processes ran.
    pub tracked_ns: u64,
    /// Sum over all CPUs of the ns the node's own threads ran (not in `function_cpu_share`).
    pub node_ns: u64,
    /// Context switches in the interval.
    pub switches: u64,
    /// Interval length (ns).
    pub elapsed_ns: u64,
    /// Median wake-to-run delay (µs), if any task was measured.
    pub runq_p50_us: Option<f64>,
    /// 99th percentile wake-to-run delay (µs).
    pub runq_p99_us: Option<f64>,
}

impl Measured {
    /// Overwrites the fields the kernel measures better than procfs. `sample.cpus` (online CPUs from
    /// `/proc/stat`) is the denominator, since possible-but-offline CPUs never run anything.
    pub fn apply(&self, sample: &mut LoadSample) {
        let capacity = self.elapsed_ns as f64 * f64::from(sample.cpus.max(1));
        let secs = self.elapsed_ns as f64 / 1e9;
        if capacity > 0.0 {
            sample.utilisation = (self.busy_ns as f64 / capacity).clamp(0.0, 1.0);
            sample.function_cpu_share = (self.tracked_ns as f64 / capacity).clamp(0.0, 1.0);
        }
        if secs > 0.0 {
            sample.context_switches_per_sec = self.switches as f64 / secs;
        }
        sample.utilisation_max_cpu = self.per_cpu.iter().copied().fold(0.0, f64::max);
        sample.runq_latency_p50_us = self.runq_p50_us;
        sample.runq_latency_p99_us = self.runq_p99_us;
        sample.source = super::Source::Ebpf;
    }
}

/// Differences two snapshots. Counters never go backwards while the programs stay loaded; saturating
/// arithmetic keeps a reload from producing huge values.
pub fn measure(prev: &Snapshot, cur: &Snapshot) -> Measured {
    let elapsed_ns = cur.at_ns.saturating_sub(prev.at_ns);
    let mut per_cpu = Vec::with_capacity(cur.cpus.len());
    let (mut busy_ns, mut tracked_ns, mut node_ns, mut switches) = (0u64, 0u64, 0u64, 0u64);
    for (c, p) in cur.cpus.iter().zip(&prev.cpus) {
        let (cb, ct, cn) = c.until(cur.at_ns);
        let (pb, pt, pn) = p.until(prev.at_ns);
        let busy = cb.saturating_sub(pb).min(elapsed_ns);
        busy_ns += busy;
        tracked_ns += ct.saturating_sub(pt).min(elapsed_ns);
        node_ns += cn.saturating_sub(pn).min(elapsed_ns);
        switches += c.switches.saturating_sub(p.switches);
        per_cpu.push(if elapsed_ns == 0 {
            0.0
        } else {
            busy as f64 / elapsed_ns as f64
        });
    }
    let mut delta = [0u64; RUNQ_SLOTS];
    for (d, (c, p)) in delta.iter_mut().zip(cur.runq.iter().zip(&prev.runq)) {
        *d = c.saturating_sub(*p);
    }
    Measured {
        per_cpu,
        busy_ns,
        tracked_ns,
        node_ns,
        switches,
        elapsed_ns,
        runq_p50_us: quantile_us(&delta, 0.50),
        runq_p99_us: quantile_us(&delta, 0.99),
    }
}

/// The `q` quantile of a log2 histogram (slot 0: [0, 1) µs; slot i: [2^(i-1), 2^i) µs), interpolated
/// linearly inside the bucket. `None` for an empty histogram.
pub fn quantile_us(slots: &[u64; RUNQ_SLOTS], q: f64) -> Option<f64> {
    let total: u64 = slots.iter().sum();
    if total == 0 {
        return None;
    }
    let target = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    for (i, &n) in slots.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if (below + n) as f64 >= target {
            let (lo, hi) = if i == 0 {
                (0.0, 1.0)
            } else {
                let lo = (1u64 << (i - 1)) as f64;
                (lo, lo * 2.0)
            };
            let within = ((target - below as f64) / n as f64).clamp(0.0, 1.0);
            return Some(lo + (hi - lo) * within);
        }
        below += n;
    }
    None
}
