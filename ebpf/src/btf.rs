//! The same measurements from BTF-enabled raw tracepoints (`tp_btf`), used where the kernel has BTF
//! (`/sys/kernel/btf/vmlinux`). They receive the tracepoint's arguments (`struct task_struct`
//! pointers) instead of a perf record the kernel first has to build, which is most of a classic
//! tracepoint's cost. Field offsets inside `task_struct` come from globals the loader fills in from
//! the kernel's BTF; since those globals are frozen read-only data, the verifier sees constants and
//! accepts direct loads from the BTF-typed pointers (no probe-read helper call).

use aya_ebpf::helpers::bpf_ktime_get_ns;
use aya_ebpf::macros::btf_tracepoint;
use aya_ebpf::programs::BtfTracePointContext;

use crate::exec::execed;
use crate::exit::exited;
use crate::maps::{
    CFS_RQ_RQ, RQ_CLOCK, RUNQ_FROM_TASK, RUNQ_LATENCY, TASK_CFS_RQ, TASK_LAST_QUEUED, TASK_PID,
    TASK_STATE, TASK_STATE_SIZE,
};
use crate::slot::current_tid;
use crate::switch::{close_slice, cpu_stat, open_slice, queue_switch, record_delay};
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

/// The `T` (`u64`, or a pointer the verifier then types from the member's BTF) at `at` in a BTF-typed
/// kernel object.
#[inline(always)]
fn field<T>(object: *const u8, at: u32) -> T {
    // SAFETY: `object` is a BTF-typed pointer (an argument, or a pointer member loaded from one) and
    // `at` a member offset from the kernel's BTF, frozen in `.rodata`; the verifier checks the load
    // against the member, and loads through pointers read from kernel objects are fault-handled.
    unsafe { core::ptr::read_volatile(object.add(at as usize).cast::<T>()) }
}

/// `sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next, ...)`. A preempted
/// task is runnable whatever its state says (the classic record reports it as TASK_REPORT_MAX).
#[btf_tracepoint(function = "sched_switch")]
pub fn sched_switch_btf(ctx: BtfTracePointContext) -> u32 {
    let preempt: u64 = ctx.arg(0);
    let prev: *const u8 = ctx.arg(1);
    let next: *const u8 = ctx.arg(2);
    let (prev_pid, next_pid) = (task_pid(prev), task_pid(next));
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(st) = cpu_stat() else {
        return 0;
    };
    // Tasks are keyed by thread id here; 0 is the idle task.
    close_slice(st, now, u64::from(prev_pid), prev_pid == 0, || prev_pid);
    open_slice(st, now, u64::from(next_pid), next_pid == 0);
    if RUNQ_LATENCY.load() == 0 {
        return 0;
    }
    if RUNQ_FROM_TASK.load() != 0 {
        if next_pid != 0 {
            queued_delay(next);
        }
    } else {
        let prev_waits = prev_pid != 0 && (preempt & 0xff != 0 || task_runnable(prev));
        queue_switch(
            u64::from(prev_pid),
            prev_waits,
            u64::from(next_pid),
            next_pid == 0,
            now,
        );
    }
    0
}

/// Records how long `next`, about to run, waited on this CPU's run queue, from the kernel's own
/// bookkeeping (`CONFIG_SCHED_INFO`, as `/proc/<pid>/schedstat` reports it): `enqueue_task` stamps
/// `sched_info.last_queued` with the run queue's clock when the task is woken or created, and so does
/// `sched_info_depart` when a task leaves the CPU still runnable (preempted, yielding).
/// `sched_info_switch` clears the stamp only after this tracepoint, in `context_switch`, and `now` is
/// the same clock, which `__schedule` has just updated (`rq->clock`, reached through the task's
/// `se.cfs_rq->rq`). A task moved to another CPU while waiting restarts its stamp there (the kernel
/// does so because run queue clocks are per CPU), so only its wait on the CPU it runs on counts.
#[inline(always)]
fn queued_delay(next: *const u8) {
    let queued: u64 = field(next, TASK_LAST_QUEUED.load());
    if queued == 0 {
        return;
    }
    let cfs_rq: *const u8 = field(next, TASK_CFS_RQ.load());
    if cfs_rq.is_null() {
        return;
    }
    let rq: *const u8 = field(cfs_rq, CFS_RQ_RQ.load());
    if rq.is_null() {
        return;
    }
    let clock: u64 = field(rq, RQ_CLOCK.load());
    // The clock may not have moved since the stamp (the wake-up that queued the task also asked for
    // this switch, and the kernel skips that second clock update): a wait under the clock's update
    // granularity, counted as 0.
    if clock != 0 {
        record_delay(clock.saturating_sub(queued));
    }
}

/// `sched_wakeup(struct task_struct *p)`.
#[btf_tracepoint(function = "sched_wakeup")]
pub fn sched_wakeup_btf(ctx: BtfTracePointContext) -> u32 {
    woken(u64::from(task_pid(ctx.arg(0))));
    0
}

/// `sched_wakeup_new(struct task_struct *p)`.
#[btf_tracepoint(function = "sched_wakeup_new")]
pub fn sched_wakeup_new_btf(ctx: BtfTracePointContext) -> u32 {
    let child = task_pid(ctx.arg(0));
    woken(u64::from(child));
    let creator = current_tid();
    created(u64::from(child), Some(child), u64::from(creator), creator);
    0
}

/// `sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`; `p` is
/// `current`.
#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec_btf(_ctx: BtfTracePointContext) -> u32 {
    let tid = current_tid();
    execed(u64::from(tid), tid);
    0
}

/// `sched_process_exit(struct task_struct *p, ...)`.
#[btf_tracepoint(function = "sched_process_exit")]
pub fn sched_process_exit_btf(ctx: BtfTracePointContext) -> u32 {
    let tid = task_pid(ctx.arg(0));
    exited(u64::from(tid), tid);
    0
}
