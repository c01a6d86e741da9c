//! `sched/sched_wakeup` and `sched/sched_wakeup_new`: a task became runnable; its wait for a CPU starts.
//! A new task whose parent (the current task) is tracked joins the tracked set as what its parent is,
//! so the node's function processes are attributed without the node having to report every child.

use aya_ebpf::helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns};
use aya_ebpf::macros::tracepoint;
use aya_ebpf::programs::TracePointContext;

use crate::maps::{CPU_STATS, RUNQ_LATENCY, TRACKED, WAKE_TS, WAKEUP_NEW_PID, WAKEUP_PID};
use crate::switch::tracked_as;

#[tracepoint]
pub fn sched_wakeup(ctx: TracePointContext) -> u32 {
    // SAFETY: offset from this kernel's format file; bounded probe read.
    match unsafe { ctx.read_at::<u32>(WAKEUP_PID.load() as usize) } {
        Ok(pid) => {
            woken(pid);
            0
        }
        Err(_) => 1,
    }
}

#[tracepoint]
pub fn sched_wakeup_new(ctx: TracePointContext) -> u32 {
    // SAFETY: as above.
    let Ok(pid) = (unsafe { ctx.read_at::<u32>(WAKEUP_NEW_PID.load() as usize) }) else {
        return 1;
    };
    created(pid);
    0
}

/// A new task is runnable: what `sched_wakeup_new` does in both variants (classic and `tp_btf`).
#[inline(always)]
pub(crate) fn created(pid: u32) {
    woken(pid);
    // `current` is the thread that created the task (a new process or a new thread of its process);
    // the new task is what its creator is (a node thread, or part of a function process).
    let kind = tracked_as(bpf_get_current_pid_tgid() as u32);
    if kind != 0 {
        let _ = TRACKED.insert(pid, kind, 0);
    }
}

/// A task became runnable: what `sched_wakeup` does in both variants.
#[inline(always)]
pub(crate) fn woken(pid: u32) {
    if pid == 0 {
        return;
    }
    let now = unsafe { bpf_ktime_get_ns() };
    // Waking a task that is already runnable does not fire this tracepoint, so this is the first wake-up.
    if RUNQ_LATENCY.load() != 0 {
        let _ = WAKE_TS.insert(pid, now, 0);
    }
    if let Some(st) = CPU_STATS.get_ptr_mut(0) {
        // SAFETY: per-CPU slot, programs on one CPU do not nest here.
        unsafe { (*st).wakeups += 1 };
    }
}
