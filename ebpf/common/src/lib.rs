//! Map value types shared by the kernel programs (`p2pfaas-ebpf`) and the node that reads them
//! (`p2pfaas-node`, feature `ebpf`). Everything is `#[repr(C)]` plain old data of `u64`/`u32` fields so
//! the layout is identical on both sides and the BTF the compiler emits names every field (so
//! `bpftool map dump pinned /sys/fs/bpf/p2pfaas/<MAP>` prints them). No logic lives here.
#![no_std]
#![warn(missing_docs)]

/// Per-CPU counters kept by `sched_switch` and the wake-up programs (map [`map::CPU_STATS`], a per-CPU
/// array with one entry). Times are `bpf_ktime_get_ns` nanoseconds (`CLOCK_MONOTONIC`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStat {
    /// Nanoseconds this CPU ran a task other than its idle task, up to `last_switch_ns`.
    pub busy_ns: u64,
    /// When what this CPU runs last changed between idle, untracked, node and function tasks (0: no
    /// switch seen yet): the start of the open accounting period. Switches between tasks that count
    /// alike leave it alone.
    pub last_switch_ns: u64,
    /// Context switches on this CPU.
    pub switches: u64,
    /// Wake-ups (`sched_wakeup` + `sched_wakeup_new`) issued from this CPU. `sched_wakeup` is attached
    /// only when the wake-to-run delay is timed with `WAKE_TS`; otherwise only new tasks count.
    pub wakeups: u64,
    /// Nanoseconds this CPU ran the node's function processes ([`tracked::FUNCTION`] in
    /// [`map::TRACKED`]).
    pub tracked_ns: u64,
    /// Nanoseconds this CPU ran the node's own threads ([`tracked::NODE`]).
    pub node_ns: u64,
    /// This CPU's idle task as the raw tracepoint programs key it (its `task_struct` address; 0 until
    /// they have seen it leave the CPU once), so they can tell the idle task switching in.
    pub idle_task: u64,
    /// `tp_btf` programs timing with the run queue's clock ([`global::TIME_FROM_RQ`]):
    /// `CLOCK_MONOTONIC` minus that clock (wrapping), as last measured on this CPU.
    pub clock_offset_ns: u64,
    /// The run queue clock when `clock_offset_ns` was measured (0: never).
    pub clock_synced_ns: u64,
    /// 1 when the CPU has run tasks other than its idle task since `last_switch_ns`: userspace adds
    /// the open period, because a busy loop alone on a CPU may not switch for seconds.
    pub curr_busy: u32,
    /// What the tasks running since `last_switch_ns` are in [`map::TRACKED`] (0: not tracked; same
    /// reason; `u32::MAX`: not known before the period ends, so not attributed while open).
    pub curr_tracked: u32,
    /// This CPU's xorshift32 state for sampling wake-to-run waits ([`map::RUNQ_SAMPLE`]; 0: not
    /// seeded yet).
    pub sample_rng: u32,
    /// Explicit padding (the layout is shared with the node).
    pub _pad: u32,
}

/// log2 of [`TASK_SLOTS`].
pub const TASK_SLOT_BITS: u32 = 12;

/// Entries in the direct-mapped per-task tables [`map::WAKE_TS`] and [`map::TASKS`]: far more than the
/// tasks runnable at once on an edge node, so collisions (which lose one sample) stay rare.
pub const TASK_SLOTS: usize = 1 << TASK_SLOT_BITS;

/// One entry of [`map::WAKE_TS`]: when task `key` became runnable (woken, created or preempted).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WakeSlot {
    /// The task (thread id for the `tp_btf` programs, `task_struct` address for the raw ones); 0: empty.
    pub key: u64,
    /// `bpf_ktime_get_ns` at the wake-up.
    pub at_ns: u64,
}

/// One entry of [`map::TASKS`]: what task `key` is, as of [`map::TRACKED_GEN`] `generation`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskSlot {
    /// The task, keyed as in [`WakeSlot`]; 0: empty.
    pub key: u64,
    /// 0 (not tracked), [`tracked::NODE`] or [`tracked::FUNCTION`].
    pub kind: u32,
    /// The `TRACKED_GEN` value this was looked up at; older entries are looked up again.
    pub generation: u32,
    /// 1: a new task of a tracked one, known by address only; enters `TRACKED` when it first runs.
    pub pending: u32,
    /// Explicit padding (the layout is shared with the node).
    pub _pad: u32,
}

/// Number of run-queue latency buckets.
pub const RUNQ_SLOTS: usize = 32;

/// Wake-to-run delay histogram (map [`map::RUNQ_HIST`], per-CPU, one entry), log2 buckets of
/// microseconds: `slots[0]` counts delays below 1 µs and `slots[i]` (i ≥ 1) counts delays in
/// `[2^(i-1), 2^i)` µs; the last slot also takes everything longer.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunqHist {
    /// Bucket counts.
    pub slots: [u64; RUNQ_SLOTS],
}

impl Default for RunqHist {
    fn default() -> Self {
        Self {
            slots: [0; RUNQ_SLOTS],
        }
    }
}

/// The node's own scheduler state, written by the node every sample (map [`map::NODE_STATE`], an array
/// with one entry) so one `bpftool` command shows kernel load and scheduler load side by side.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeState {
    /// Jobs holding an execution slot.
    pub running: u64,
    /// Jobs waiting in the queue.
    pub queued: u64,
    /// K, the execution slots.
    pub slots: u64,
    /// The node's process id.
    pub pid: u64,
    /// When the node last wrote this entry (`CLOCK_MONOTONIC` ns).
    pub updated_ns: u64,
    /// Node-wide CPU utilisation of the last sample, in parts per million.
    pub utilisation_ppm: u64,
}

/// Map names (also the pin file names under the pin directory).
pub mod map {
    /// [`CpuStat`](super::CpuStat) per CPU.
    pub const CPU_STATS: &str = "CPU_STATS";
    /// [`RunqHist`](super::RunqHist) per CPU.
    pub const RUNQ_HIST: &str = "RUNQ_HIST";
    /// [`WakeSlot`](super::WakeSlot)s: tasks woken or preempted and not yet running again.
    pub const WAKE_TS: &str = "WAKE_TS";
    /// [`TaskSlot`](super::TaskSlot)s: what each recently seen task is, so a switch need not look
    /// `TRACKED` up.
    pub const TASKS: &str = "TASKS";
    /// One `u32` the node bumps after each change to `TRACKED` (older `TASKS` entries are stale).
    pub const TRACKED_GEN: &str = "TRACKED_GEN";
    /// Thread ids of the tracked process tree → what they are ([`tracked`](super::tracked)). Seeded
    /// by the node with its main thread; the programs add every thread or process a tracked thread
    /// creates (`sched_wakeup_new`, same kind as its creator), turn a node task that calls exec into
    /// a function process (`sched_process_exec`) and drop ids at exit.
    pub const TRACKED: &str = "TRACKED";
    /// One `u32`, 1 while the node samples wake-ups (`sched_wakeup` attached).
    pub const WAKE_WINDOW: &str = "WAKE_WINDOW";
    /// [`NodeState`](super::NodeState), written by the node.
    pub const NODE_STATE: &str = "NODE_STATE";
    /// One `u32` the node sets: 0 times every wake-to-run wait; a mask `m` (2^k − 1) times a random
    /// 1 in `m + 1` of them, each counted `m + 1` times in `RUNQ_HIST` so its quantiles stay unbiased.
    pub const RUNQ_SAMPLE: &str = "RUNQ_SAMPLE";
}

/// Values in [`map::TRACKED`].
pub mod tracked {
    /// One of the node's own threads: its main thread (seeded by the node) and every thread it starts.
    pub const NODE: u32 = 1;
    /// A function process: a task of the node's tree that called exec (the node itself never does),
    /// and everything it starts.
    pub const FUNCTION: u32 = 2;
}

/// Globals the loader sets from the kernel's version (raw tracepoint programs) or from its BTF
/// (`task_struct` offsets, `tp_btf` programs), so no offset is compiled in.
pub mod global {
    /// Raw tracepoint programs: 1 when `sched_switch` has its `prev_state` argument (Linux 5.18+).
    pub const SWITCH_HAS_STATE: &str = "SWITCH_HAS_STATE";
    /// `tp_btf` programs: byte offset of `pid` in `struct task_struct` (from the kernel's BTF).
    pub const TASK_PID: &str = "TASK_PID";
    /// `tp_btf` programs: byte offset of `__state` (`state` before Linux 5.14) in `struct task_struct`.
    pub const TASK_STATE: &str = "TASK_STATE";
    /// `tp_btf` programs: size of that state in bytes (4, or 8 for the old `long state`).
    pub const TASK_STATE_SIZE: &str = "TASK_STATE_SIZE";
    /// `tp_btf` programs: byte offset of `sched_info.last_queued` in `struct task_struct`.
    pub const TASK_LAST_QUEUED: &str = "TASK_LAST_QUEUED";
    /// `tp_btf` programs: byte offset of `se.cfs_rq` in `struct task_struct`.
    pub const TASK_CFS_RQ: &str = "TASK_CFS_RQ";
    /// `tp_btf` programs: byte offset of `rq` in `struct cfs_rq`.
    pub const CFS_RQ_RQ: &str = "CFS_RQ_RQ";
    /// `tp_btf` programs: byte offset of `clock` in `struct rq`.
    pub const RQ_CLOCK: &str = "RQ_CLOCK";
    /// `tp_btf` programs, 1: time switches with the run queue's clock (`next->se.cfs_rq->rq->clock`,
    /// which `__schedule` has just updated; needs `TASK_CFS_RQ`, `CFS_RQ_RQ` and `RQ_CLOCK`), turned
    /// into `CLOCK_MONOTONIC` with an offset each CPU measures again every few milliseconds, rather
    /// than reading the clock with a helper.
    pub const TIME_FROM_RQ: &str = "TIME_FROM_RQ";
    /// `tp_btf` programs, 1: take the wake-to-run delay from the kernel's `sched_info.last_queued`
    /// stamp at `sched_switch` (needs the four offsets above), not from `WAKE_TS`, and leave
    /// `sched_wakeup` unattached.
    pub const RUNQ_FROM_TASK: &str = "RUNQ_FROM_TASK";
    /// 1: measure wake-to-run latency (`WAKE_TS`, `RUNQ_HIST`, program `sched_wakeup`); 0: skip it.
    pub const RUNQ_LATENCY: &str = "RUNQ_LATENCY";
}

/// Program names (the functions in the kernel crate) and their raw tracepoints, loaded where the
/// kernel has no BTF: plain `raw_tp` programs need none, since they only use the tracepoint's
/// arguments as values and take the current task's ids from helpers. `sched_wakeup` is only needed
/// for the wake-to-run latency ([`global::RUNQ_LATENCY`]).
pub const PROGRAMS: [(&str, &str); 5] = [
    ("sched_switch", "sched_switch"),
    ("sched_wakeup", "sched_wakeup"),
    ("sched_wakeup_new", "sched_wakeup_new"),
    ("sched_process_exec", "sched_process_exec"),
    ("sched_process_exit", "sched_process_exit"),
];

/// The `tp_btf` twins of [`PROGRAMS`] (program name, raw tracepoint), loaded instead where the kernel
/// has BTF: same maps, same order; they read thread ids and states directly from the tasks.
pub const BTF_PROGRAMS: [(&str, &str); 5] = [
    ("sched_switch_btf", "sched_switch"),
    ("sched_wakeup_btf", "sched_wakeup"),
    ("sched_wakeup_new_btf", "sched_wakeup_new"),
    ("sched_process_exec_btf", "sched_process_exec"),
    ("sched_process_exit_btf", "sched_process_exit"),
];

// SAFETY: each type is `repr(C)`, `Copy`, made only of integers, and has no padding (u64 fields, then
// pairs of u32), so every bit pattern is a valid value.
#[cfg(feature = "user")]
mod pod {
    unsafe impl aya::Pod for super::CpuStat {}
    unsafe impl aya::Pod for super::RunqHist {}
    unsafe impl aya::Pod for super::NodeState {}
    unsafe impl aya::Pod for super::WakeSlot {}
    unsafe impl aya::Pod for super::TaskSlot {}
}
