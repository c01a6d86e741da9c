//! `sched/sched_process_exec`: a task of the node's tree replaced its program. The node never execs, so
//! a node task doing so is a function process the `process` backend started (forked from a node
//! thread, then exec); from now on it and everything it starts count as the function's.

use aya_ebpf::helpers::bpf_get_current_pid_tgid;
use aya_ebpf::macros::tracepoint;
use aya_ebpf::programs::TracePointContext;
use p2pfaas_ebpf_common::tracked;

use crate::maps::TRACKED;
use crate::switch::tracked_as;

#[tracepoint]
pub fn sched_process_exec(_ctx: TracePointContext) -> u32 {
    execed();
    0
}

/// What `sched_process_exec` does in both variants (classic and `tp_btf`). The exec'ing task is
/// `current`; its thread id is the process id afterwards (a fresh child has one thread).
#[inline(always)]
pub(crate) fn execed() {
    let tid = bpf_get_current_pid_tgid() as u32;
    if tracked_as(tid) == tracked::NODE {
        let _ = TRACKED.insert(tid, tracked::FUNCTION, 0);
    }
}
