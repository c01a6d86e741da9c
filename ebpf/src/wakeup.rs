//! `sched_wakeup` and `sched_wakeup_new` (raw tracepoints): a task became runnable; its wait for a CPU
//! starts. A new task whose creator (the current task) is tracked becomes what its creator is, so the
//! node's function processes are attributed without the node having to report every child.

use aya_ebpf::helpers::{bpf_get_current_task, bpf_ktime_get_ns};
use aya_ebpf::macros::raw_tracepoint;
use aya_ebpf::programs::RawTracePointContext;

use crate::maps::{RUNQ_FROM_TASK, RUNQ_LATENCY, TRACKED};
use crate::slot::{self, current_tid};
use crate::switch::{cpu_stat, runq_draw};

/// `sched_wakeup(struct task_struct *p)`.
#[raw_tracepoint(tracepoint = "sched_wakeup")]
pub fn sched_wakeup(ctx: RawTracePointContext) -> u32 {
    woken(ctx.arg(0));
    0
}

/// `sched_wakeup_new(struct task_struct *p)`: the new task is known by its address only, so it enters
/// `TRACKED` when it first runs (`slot::kind_of`).
#[raw_tracepoint(tracepoint = "sched_wakeup_new")]
pub fn sched_wakeup_new(ctx: RawTracePointContext) -> u32 {
    let child: u64 = ctx.arg(0);
    woken(child);
    // SAFETY: a helper without arguments; the address is only used as a key.
    let creator = unsafe { bpf_get_current_task() };
    created(child, None, creator, current_tid());
    0
}

/// A new task (`child`, with its thread id where the caller can read it) was made by the current task
/// (`creator`, thread id `creator_tid`): it is what its creator is (a node thread, or part of a
/// function process). Both variants.
#[inline(always)]
pub(crate) fn created(child: u64, child_tid: Option<u32>, creator: u64, creator_tid: u32) {
    let kind = slot::kind_of(creator, creator_tid);
    if kind == 0 {
        return;
    }
    match child_tid {
        Some(tid) => {
            let _ = TRACKED.insert(tid, kind, 0);
            slot::remember(child, kind, false);
        }
        None => slot::remember(child, kind, true),
    }
}

/// Task `key` became runnable: what `sched_wakeup` does in both variants (and `sched_wakeup_new`).
/// Its wait is timed if drawn ([`runq_draw`]); the clock is read only then.
#[inline(always)]
pub(crate) fn woken(key: u64) {
    let Some(st) = cpu_stat() else {
        return;
    };
    st.wakeups += 1;
    // Waking a task that is already runnable does not fire this tracepoint, so this is the first wake-up.
    if RUNQ_LATENCY.load() != 0 && RUNQ_FROM_TASK.load() == 0 && runq_draw(st) {
        slot::wait_starts(key, unsafe { bpf_ktime_get_ns() });
    }
}
