//! The same measurements from BTF-enabled raw tracepoints (`tp_btf`), used where the kernel has BTF
//! (`/sys/kernel/btf/vmlinux`). They receive the tracepoint's arguments (`struct task_struct`
//! pointers) instead of a perf record the kernel first has to build, which is most of a classic
//! tracepoint's cost. Field offsets inside `task_struct` come from globals the loader fills in from
//! the kernel's BTF; since those globals are frozen read-only data, the verifier sees constants and
//! accepts direct loads from the BTF-typed pointers (no probe-read helper call).

use aya_ebpf::macros::btf_tracepoint;
use aya_ebpf::programs::BtfTracePointContext;

use crate::exit::exited;
use crate::maps::{TASK_PID, TASK_STATE, TASK_STATE_SIZE};
use crate::switch::switched;
use crate::wakeup::{created, woken};

/// `task->pid` (the thread id).
#[inline(always)]
fn task_pid(task: *const u8) -> u32 {
    // SAFETY: `task` is a `struct task_struct *` argument the verifier knows by its BTF type, and the
    // offset is the `pid` member's from the same BTF; the verifier checks the load against it.
    unsafe { core::ptr::read_volatile(task.add(TASK_PID.load() as usize).cast::<u32>()) }
}

/// Whether `task` is still runnable as it leaves the CPU: no sleep bit in the low byte of its state
/// (`__state`, or `state` before Linux 5.14), the same rule the classic program applies to the record.
#[inline(always)]
fn task_runnable(task: *const u8) -> bool {
    let at = TASK_STATE.load() as usize;
    // SAFETY: as in `task_pid`; the size comes from BTF too (4 for `__state`, 8 for the old `long`).
    let state = unsafe {
        if TASK_STATE_SIZE.load() == 8 {
            core::ptr::read_volatile(task.add(at).cast::<u64>())
        } else {
            u64::from(core::ptr::read_volatile(task.add(at).cast::<u32>()))
        }
    };
    state & 0xff == 0
}

/// `sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next, ...)`. A preempted
/// task is runnable whatever its state says (the classic record reports it as TASK_REPORT_MAX).
#[btf_tracepoint(function = "sched_switch")]
pub fn sched_switch_btf(ctx: BtfTracePointContext) -> u32 {
    let preempt: u64 = ctx.arg(0);
    let prev: *const u8 = ctx.arg(1);
    let next: *const u8 = ctx.arg(2);
    switched(
        task_pid(prev),
        preempt & 0xff != 0 || task_runnable(prev),
        task_pid(next),
    );
    0
}

/// `sched_wakeup(struct task_struct *p)`.
#[btf_tracepoint(function = "sched_wakeup")]
pub fn sched_wakeup_btf(ctx: BtfTracePointContext) -> u32 {
    woken(task_pid(ctx.arg(0)));
    0
}

/// `sched_wakeup_new(struct task_struct *p)`.
#[btf_tracepoint(function = "sched_wakeup_new")]
pub fn sched_wakeup_new_btf(ctx: BtfTracePointContext) -> u32 {
    created(task_pid(ctx.arg(0)));
    0
}

/// `sched_process_exit(struct task_struct *p, ...)`.
#[btf_tracepoint(function = "sched_process_exit")]
pub fn sched_process_exit_btf(ctx: BtfTracePointContext) -> u32 {
    exited(task_pid(ctx.arg(0)));
    0
}
