//! Maps and load-time globals shared by the programs. Maps use BTF definitions (`#[btf_map]`) so their
//! key and value types are described to the kernel and bpftool prints named fields.

use aya_ebpf::Global;
use aya_ebpf::btf_maps::{Array, HashMap, PerCpuArray};
use aya_ebpf::macros::btf_map;
use p2pfaas_ebpf_common::{CpuStat, NodeState, RunqHist};

#[btf_map]
pub(crate) static CPU_STATS: PerCpuArray<CpuStat, 1> = PerCpuArray::new();

#[btf_map]
pub(crate) static RUNQ_HIST: PerCpuArray<RunqHist, 1> = PerCpuArray::new();

/// A preallocated plain hash, not LRU: LRU updates cost about twice as much and this map is written on
/// every wake-up. Entries cannot pile up: a woken task either runs (`sched_switch` deletes its entry)
/// or exits (`sched_process_exit` does), and 16384 is far above the tasks runnable at once.
#[btf_map]
pub(crate) static WAKE_TS: HashMap<u32, u64, 16384> = HashMap::new();

/// Thread ids, because `sched_switch` only sees thread ids. Not LRU: entries must not be evicted
/// silently; inserts beyond the limit fail and the thread is simply not attributed to the node.
#[btf_map]
pub(crate) static TRACKED: HashMap<u32, u32, 8192> = HashMap::new();

#[btf_map]
pub(crate) static NODE_STATE: Array<NodeState, 1> = Array::new();

#[unsafe(no_mangle)]
pub(crate) static SWITCH_PREV_PID: Global<u32> = Global::new(24);
#[unsafe(no_mangle)]
pub(crate) static SWITCH_PREV_STATE: Global<u32> = Global::new(32);
#[unsafe(no_mangle)]
pub(crate) static SWITCH_PREV_STATE_SIZE: Global<u32> = Global::new(8);
#[unsafe(no_mangle)]
pub(crate) static SWITCH_NEXT_PID: Global<u32> = Global::new(56);
#[unsafe(no_mangle)]
pub(crate) static WAKEUP_PID: Global<u32> = Global::new(24);
#[unsafe(no_mangle)]
pub(crate) static WAKEUP_NEW_PID: Global<u32> = Global::new(24);
#[unsafe(no_mangle)]
pub(crate) static EXIT_PID: Global<u32> = Global::new(24);

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

/// 1 (`tp_btf` only, set when the loader found the offsets above): `sched_switch` takes the delay from
/// `next->sched_info.last_queued` and the run queue's clock instead of `WAKE_TS`, and the loader does
/// not attach `sched_wakeup`: no map update per wake-up, no lookup and delete per switch.
#[unsafe(no_mangle)]
pub(crate) static RUNQ_FROM_TASK: Global<u32> = Global::new(0);

/// 0 turns the wake-to-run latency off: `sched_switch` skips `WAKE_TS` and the loader does not attach
/// `sched_wakeup`, which halves the probes' cost per context switch (see the node's probe_cost bench).
#[unsafe(no_mangle)]
pub(crate) static RUNQ_LATENCY: Global<u32> = Global::new(1);
