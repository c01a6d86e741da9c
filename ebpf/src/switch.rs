//! `sched_switch` as a raw tracepoint (no BTF needed): closes the slice that just ended on this CPU
//! (busy and tracked time), counts the switch, notes what the task starting is, and does the
//! wake-to-run bookkeeping. The arguments are used as values only (task addresses as keys); the thread
//! id of the task leaving, which is the current task, comes from a helper, and only when a slice's
//! owner is not known from `TASKS` yet. The slice and queue steps are shared with `tp_btf` (`btf.rs`).

use aya_ebpf::helpers::bpf_ktime_get_ns;
use aya_ebpf::macros::raw_tracepoint;
use aya_ebpf::programs::RawTracePointContext;
use p2pfaas_ebpf_common::{CpuStat, RUNQ_SLOTS, tracked};

use crate::maps::{CPU_STATS, RUNQ_HIST, RUNQ_LATENCY, SWITCH_HAS_STATE, WAKE_WINDOW};
use crate::slot::{self, UNKNOWN, current_tid};

/// `sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int
/// prev_state)`; `prev_state` only since Linux 5.18 ([`SWITCH_HAS_STATE`]).
#[raw_tracepoint(tracepoint = "sched_switch")]
pub fn sched_switch(ctx: RawTracePointContext) -> u32 {
    let preempt: u64 = ctx.arg(0);
    let prev: u64 = ctx.arg(1);
    let next: u64 = ctx.arg(2);
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(st) = cpu_stat() else {
        return 0;
    };
    // The idle task is the one with thread id 0; learnt once per CPU, then known by its address.
    let prev_idle = if st.idle_task == 0 {
        let idle = current_tid() == 0;
        if idle {
            st.idle_task = prev;
        }
        idle
    } else {
        prev == st.idle_task
    };
    close_slice(st, now, prev, prev_idle, current_tid);
    let next_idle = next == st.idle_task;
    open_slice(st, now, next, next_idle);
    if RUNQ_LATENCY.load() != 0 {
        // The kernel passes the state read before the switch; a preempted task is runnable whatever
        // it says. Without the argument (before 5.18), only preemption counts as runnable.
        let runnable =
            preempt & 0xff != 0 || (SWITCH_HAS_STATE.load() != 0 && ctx.arg::<u64>(3) & 0xff == 0);
        queue_switch(prev, !prev_idle && runnable, next, next_idle, now);
    }
    0
}

/// This CPU's counters.
#[inline(always)]
pub(crate) fn cpu_stat() -> Option<&'static mut CpuStat> {
    // SAFETY: a per-CPU slot, only touched by programs on this CPU, which do not nest here.
    CPU_STATS.get_ptr_mut(0).map(|p| unsafe { &mut *p })
}

/// Closes the slice of `prev` (the current task), which ends now: busy time unless it is the idle
/// task, and node or function time by what it is: known from when it started running, or looked up
/// now (`tid` gives its thread id).
#[inline(always)]
pub(crate) fn close_slice(
    st: &mut CpuStat,
    now: u64,
    prev: u64,
    prev_idle: bool,
    tid: impl FnOnce() -> u32,
) {
    if st.last_switch_ns == 0 || now <= st.last_switch_ns || prev_idle {
        return;
    }
    let slice = now - st.last_switch_ns;
    st.busy_ns += slice;
    let kind = if st.curr_tracked == UNKNOWN {
        slot::kind_of(prev, tid())
    } else {
        st.curr_tracked
    };
    if kind == tracked::FUNCTION {
        st.tracked_ns += slice;
    } else if kind == tracked::NODE {
        st.node_ns += slice;
    }
}

/// Counts the switch and notes what runs from now on (for userspace to close the open slice): one
/// array look-up, no hash map.
#[inline(always)]
pub(crate) fn open_slice(st: &mut CpuStat, now: u64, next: u64, next_idle: bool) {
    st.switches += 1;
    st.last_switch_ns = now;
    st.curr_busy = u32::from(!next_idle);
    st.curr_tracked = if next_idle {
        0
    } else {
        slot::cached_kind(next)
    };
}

/// Wake-to-run bookkeeping through `WAKE_TS`: a task leaving still runnable starts waiting now (while
/// wake-ups are sampled, `WAKE_WINDOW`); the task starting stops waiting.
#[inline(always)]
pub(crate) fn queue_switch(prev: u64, prev_waits: bool, next: u64, next_idle: bool, now: u64) {
    if prev_waits && WAKE_WINDOW.get(0).is_some_and(|open| *open != 0) {
        slot::wait_starts(prev, now);
    }
    if !next_idle
        && let Some(at) = slot::wait_ends(next)
        && now > at
    {
        record_delay(now - at);
    }
}

/// Adds one wake-to-run delay to this CPU's histogram.
#[inline(always)]
pub(crate) fn record_delay(ns: u64) {
    let slot = log2_slot(ns / 1000);
    if let Some(h) = RUNQ_HIST.get_ptr_mut(0) {
        // SAFETY: per-CPU slot (see above); `slot < RUNQ_SLOTS` by construction.
        let h = unsafe { &mut *h };
        if let Some(c) = h.slots.get_mut(slot) {
            *c += 1;
        }
    }
}

/// 0 for 0 µs, else 1 + floor(log2(us)), capped at the last slot. Written as a fixed sequence of
/// compares (no loop) for the verifier.
#[inline(always)]
fn log2_slot(us: u64) -> usize {
    if us == 0 {
        return 0;
    }
    let mut v = us;
    let mut bits = 1usize;
    for shift in [32u32, 16, 8, 4, 2, 1] {
        if v >> shift != 0 {
            v >>= shift;
            bits += shift as usize;
        }
    }
    bits.min(RUNQ_SLOTS - 1)
}
