//! `sched_process_exit` (raw tracepoint): a thread exited; forget it so its id or address is not
//! attributed after reuse.

use aya_ebpf::macros::raw_tracepoint;
use aya_ebpf::programs::RawTracePointContext;

use crate::maps::TRACKED;
use crate::slot::{self, UNKNOWN, current_tid};
use crate::switch::cpu_stat;

/// `sched_process_exit(struct task_struct *p, ...)`; `p` is the current task.
#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn sched_process_exit(ctx: RawTracePointContext) -> u32 {
    exited(ctx.arg(0), current_tid());
    0
}

/// What `sched_process_exit` does in both variants. The exiting task is the one running here: what the
/// open period counts as, when it started with this task unknown, is settled now, while `TRACKED`
/// still has it (a task that starts and ends in one slice, such as a short function process, would
/// otherwise be looked up only after it is gone).
#[inline(always)]
pub(crate) fn exited(key: u64, tid: u32) {
    if let Some(st) = cpu_stat()
        && st.curr_tracked == UNKNOWN
    {
        st.curr_tracked = slot::kind_of(key, tid);
    }
    let _ = TRACKED.remove(tid);
    slot::forget(key);
}
