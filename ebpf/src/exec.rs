//! `sched_process_exec` (raw tracepoint): a task of the node's tree replaced its program. The node never
//! execs, so a node task doing so is a function process the `process` backend started (forked from a
//! node thread, then exec); from now on it and everything it starts count as the function's.

use aya_ebpf::helpers::bpf_ktime_get_ns;
use aya_ebpf::macros::raw_tracepoint;
use aya_ebpf::programs::RawTracePointContext;
use p2pfaas_ebpf_common::tracked;

use crate::maps::TRACKED;
use crate::slot::{self, current_tid};
use crate::switch::{close_period, cpu_stat};

/// `sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`; `p` is the
/// current task.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn sched_process_exec(ctx: RawTracePointContext) -> u32 {
    execed(ctx.arg(0), current_tid());
    0
}

/// What `sched_process_exec` does in both variants: the exec'ing task is `current` (`key`, thread id
/// `tid`, which is the process id afterwards: a fresh child has one thread).
#[inline(always)]
pub(crate) fn execed(key: u64, tid: u32) {
    if slot::kind_of(key, tid) == tracked::NODE {
        let _ = TRACKED.insert(tid, tracked::FUNCTION, 0);
        slot::remember(key, tracked::FUNCTION, false);
        // It runs here now: the CPU's period so far was the node's (this task, and maybe node threads
        // before it), the rest is the function's.
        if let Some(st) = cpu_stat() {
            let now = unsafe { bpf_ktime_get_ns() };
            close_period(st, now, st.curr_busy != 0, tracked::NODE);
            st.last_switch_ns = now;
            st.curr_busy = 1;
            st.curr_tracked = tracked::FUNCTION;
        }
    }
}
