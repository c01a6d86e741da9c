//! Maps and load-time globals shared by the programs. Maps use BTF definitions (`#[btf_map]`) so their
//! key and value types are described to the kernel and bpftool prints named fields.

use aya_ebpf::Global;
use aya_ebpf::btf_maps::{Array, HashMap, PerCpuArray};
use aya_ebpf::macros::btf_map;
use p2pfaas_ebpf_common::{CpuStat, NodeState, RunqHist, TASK_SLOTS, TaskSlot, WakeSlot};

#[btf_map]
pub(crate) static CPU_STATS: PerCpuArray<CpuStat, 1> = PerCpuArray::new();

#[btf_map]
pub(crate) static RUNQ_HIST: PerCpuArray<RunqHist, 1> = PerCpuArray::new();

/// Wake-up (or preemption) times of runnable tasks, direct-mapped by task key (`slot.rs`): an array,
/// so a store or a look-up is a few instructions the verifier inlines, where a hash map costs a
/// helper call and a lock. Shared by all CPUs, because a task is often woken on one CPU and run on
/// another. A collision overwrites the older entry: that wait is simply not measured.
#[btf_map]
pub(crate) static WAKE_TS: Array<WakeSlot, TASK_SLOTS> = Array::new();

/// What each recently seen task is (node thread, function process, or neither), direct-mapped by
/// task key like `WAKE_TS`: the switch path reads it instead of looking `TRACKED` up on every switch.
#[btf_map]
pub(crate) static TASKS: Array<TaskSlot, TASK_SLOTS> = Array::new();

/// Thread ids, because the node knows its threads by id. Not LRU: entries must not be evicted
/// silently; inserts beyond the limit fail and the thread is simply not attributed to the node.
#[btf_map]
pub(crate) static TRACKED: HashMap<u32, u32, 8192> = HashMap::new();

/// Bumped by the node whenever it adds to `TRACKED`: `TASKS` entries from an older generation are
/// looked up again (they may say "not tracked" about a thread the node has just added).
#[btf_map]
pub(crate) static TRACKED_GEN: Array<u32, 1> = Array::new();

/// 1 while the node has `sched_wakeup` attached (the wake-up sampling window, node/src/load/ebpf/wake.rs):
/// `sched_switch` starts the wait of a preempted task only then, so preemptions and wake-ups are
/// sampled alike.
#[btf_map]
pub(crate) static WAKE_WINDOW: Array<u32, 1> = Array::new();

#[btf_map]
pub(crate) static NODE_STATE: Array<NodeState, 1> = Array::new();

/// Which wake-to-run waits are timed (`p2pfaas_ebpf_common::map::RUNQ_SAMPLE`): 0, every one (the
/// initial value); else a mask on this CPU's random number (`switch::runq_weight`). Set by the node
/// from the switch rate, since the timing costs per switch.
#[btf_map]
pub(crate) static RUNQ_SAMPLE: Array<u32, 1> = Array::new();

/// Raw tracepoint variant: 1 when `sched_switch` passes `prev_state` as its fourth argument (Linux
/// 5.18 and later); before, only the `preempt` argument says the task leaving is still runnable.
#[unsafe(no_mangle)]
pub(crate) static SWITCH_HAS_STATE: Global<u32> = Global::new(1);

/// `tp_btf` variant (`btf.rs`): byte offsets of `pid` and `__state` (or `state`) in `struct
/// task_struct`, and the state's size (4, or 8 before Linux 5.14), read by the loader from the kernel's
/// BTF (the loader always sets them).
#[unsafe(no_mangle)]
pub(crate) static TASK_PID: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static TASK_STATE: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static TASK_STATE_SIZE: Global<u32> = Global::new(4);

/// `tp_btf` variant, wake-to-run latency from the kernel's own enqueue timestamp (`btf.rs`,
/// [`RUNQ_FROM_TASK`]): byte offsets of `sched_info.last_queued` and `se.cfs_rq` in `struct
/// task_struct`, of `rq` in `struct cfs_rq` and of `clock` in `struct rq`, from the kernel's BTF.
#[unsafe(no_mangle)]
pub(crate) static TASK_LAST_QUEUED: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static TASK_CFS_RQ: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static CFS_RQ_RQ: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static RQ_CLOCK: Global<u32> = Global::new(0);

/// 1 (`tp_btf` only, set when the loader found the run queue offsets above): `sched_switch` times the
/// CPU's periods with the run queue's clock instead of calling `bpf_ktime_get_ns` (`btf.rs`).
#[unsafe(no_mangle)]
pub(crate) static TIME_FROM_RQ: Global<u32> = Global::new(0);

/// 1 (`tp_btf` only, set when the loader found the offsets above): `sched_switch` takes the delay from
/// `next->sched_info.last_queued` and the run queue's clock instead of `WAKE_TS`, and the loader does
/// not attach `sched_wakeup`: no store per wake-up, no look-up per switch.
#[unsafe(no_mangle)]
pub(crate) static RUNQ_FROM_TASK: Global<u32> = Global::new(0);

/// 0 turns the wake-to-run latency off: `sched_switch` skips `WAKE_TS` and the loader does not attach
/// `sched_wakeup`.
#[unsafe(no_mangle)]
pub(crate) static RUNQ_LATENCY: Global<u32> = Global::new(1);
