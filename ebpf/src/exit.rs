//! `sched_process_exit` (raw tracepoint): a thread exited; forget it so its id or address is not
//! attributed after reuse.

use aya_ebpf::macros::raw_tracepoint;
use aya_ebpf::programs::RawTracePointContext;

use crate::maps::TRACKED;
use crate::slot::{self, current_tid};

/// `sched_process_exit(struct task_struct *p, ...)`; `p` is the current task.
#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn sched_process_exit(ctx: RawTracePointContext) -> u32 {
    exited(ctx.arg(0), current_tid());
    0
}

/// What `sched_process_exit` does in both variants.
#[inline(always)]
pub(crate) fn exited(key: u64, tid: u32) {
    let _ = TRACKED.remove(tid);
    slot::forget(key);
}
