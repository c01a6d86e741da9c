//! `sched/sched_process_exit`: a thread exited; forget it so ids are not attributed after reuse.

use aya_ebpf::macros::tracepoint;
use aya_ebpf::programs::TracePointContext;

use crate::maps::{EXIT_PID, TRACKED, WAKE_TS};

#[tracepoint]
pub fn sched_process_exit(ctx: TracePointContext) -> u32 {
    // SAFETY: offset from this kernel's format file; bounded probe read.
    match unsafe { ctx.read_at::<u32>(EXIT_PID.load() as usize) } {
        Ok(pid) => {
            exited(pid);
            0
        }
        Err(_) => 1,
    }
}

/// What `sched_process_exit` does in both variants (classic and `tp_btf`).
#[inline(always)]
pub(crate) fn exited(pid: u32) {
    let _ = TRACKED.remove(pid);
    let _ = WAKE_TS.remove(pid);
}
