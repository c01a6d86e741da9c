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
    TASK_STATE, TASK_STATE_SIZE, TIME_FROM_RQ,
};
use crate::slot::current_tid;
use crate::switch::{
    Clock, cpu_stat, queue_switch, record_delay, runq_draw, runq_weight, switch_period,
};
use crate::wakeup::{created, woken};
use p2pfaas_ebpf_common::CpuStat;

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
    let Some(st) = cpu_stat() else {
        return 0;
    };
    // Tasks are keyed by thread id here; 0 is the idle task.
    let mut now = RqTime { task: next, at: 0 };
    switch_period(
        st,
        &mut now,
        u64::from(prev_pid),
        prev_pid == 0,
        || prev_pid,
        u64::from(next_pid),
        next_pid == 0,
    );
    if RUNQ_LATENCY.load() == 0 {
        return 0;
    }
    if RUNQ_FROM_TASK.load() != 0 {
        if next_pid != 0 && runq_draw(st) {
            queued_delay(next);
        }
    } else {
        let prev_waits = prev_pid != 0 && (preempt & 0xff != 0 || task_runnable(prev));
        queue_switch(
            st,
            u64::from(prev_pid),
            prev_waits,
            u64::from(next_pid),
            next_pid == 0,
            &mut now,
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
    let clock = rq_clock(next);
    // The clock may not have moved since the stamp (the wake-up that queued the task also asked for
    // this switch, and the kernel skips that second clock update): a wait under the clock's update
    // granularity, counted as 0.
    if clock != 0 {
        record_delay(clock.saturating_sub(queued), runq_weight());
    }
}

/// `task->se.cfs_rq->rq->clock`: the clock of the run queue `task` is on (0 when a pointer is null).
/// For the task switching in, that is this CPU's, which `__schedule` has just updated.
#[inline(always)]
fn rq_clock(task: *const u8) -> u64 {
    let cfs_rq: *const u8 = field(task, TASK_CFS_RQ.load());
    if cfs_rq.is_null() {
        return 0;
    }
    let rq: *const u8 = field(cfs_rq, CFS_RQ_RQ.load());
    if rq.is_null() {
        return 0;
    }
    field(rq, RQ_CLOCK.load())
}

/// How often (run queue clock ns) a CPU measures the offset between its run queue clock and
/// `CLOCK_MONOTONIC` again: the two run at rates that differ by the NTP correction (at most 500 parts
/// per million, usually far less), so a period's ends are off by a few microseconds at most, for one
/// helper call per 10 ms of a CPU's switches.
const RESYNC_NS: u64 = 10_000_000;

/// [`Clock`] from the run queue's clock of `task` (the task switching in) where the loader enabled it
/// ([`TIME_FROM_RQ`]), else from `bpf_ktime_get_ns`. A run queue clock is the scheduler's own time
/// (`sched_clock`), not `CLOCK_MONOTONIC`, which userspace closes the open period with; the offset
/// between them is kept per CPU in `CpuStat`. The clock is the one `__schedule` set for this switch,
/// or a few microseconds older where the kernel skipped that update (the wake-up that asked for the
/// switch had just set it).
struct RqTime {
    task: *const u8,
    at: u64,
}

impl Clock for RqTime {
    #[inline(always)]
    fn now(&mut self, st: &mut CpuStat) -> u64 {
        if self.at != 0 {
            return self.at;
        }
        let rq = if TIME_FROM_RQ.load() != 0 {
            rq_clock(self.task)
        } else {
            0
        };
        self.at = if rq == 0 {
            unsafe { bpf_ktime_get_ns() }
        } else {
            if st.clock_synced_ns == 0 || rq.wrapping_sub(st.clock_synced_ns) > RESYNC_NS {
                st.clock_offset_ns = unsafe { bpf_ktime_get_ns() }.wrapping_sub(rq);
                st.clock_synced_ns = rq;
            }
            rq.wrapping_add(st.clock_offset_ns)
        };
        self.at
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
