//! `sched_switch` as a raw tracepoint (no BTF needed): counts the switch, keeps the CPU's accounting
//! periods (busy, node and function time) and does the wake-to-run bookkeeping. The arguments are used
//! as values only (task addresses as keys); the thread id of the task leaving, which is the current
//! task, comes from a helper, and only when a slice's owner is not known from `TASKS` yet. The period
//! and queue steps are shared with `tp_btf` (`btf.rs`).
//!
//! A clock read is the largest cost of a run on the hosts measured (≈ 65 ns of the ≈ 95 ns a run cost
//! on the 2-vCPU VM, ebpf/README.md), so a run reads the clock only when it needs a time: when what the
//! CPU accounts to changes (idle or busy, and which kind of task, [`switch_period`]) and for a
//! wake-to-run wait timed with `WAKE_TS`. A switch between two tasks that count alike (two untracked
//! tasks, two node threads, …) reads no clock and changes only the switch count.

use aya_ebpf::helpers::bpf_ktime_get_ns;
use aya_ebpf::macros::raw_tracepoint;
use aya_ebpf::programs::RawTracePointContext;
use p2pfaas_ebpf_common::{CpuStat, RUNQ_SLOTS, tracked};

use crate::maps::{CPU_STATS, RUNQ_HIST, RUNQ_LATENCY, RUNQ_SAMPLE, SWITCH_HAS_STATE, WAKE_WINDOW};
use crate::slot::{self, UNKNOWN, current_tid};

/// `sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int
/// prev_state)`; `prev_state` only since Linux 5.18 ([`SWITCH_HAS_STATE`]).
#[raw_tracepoint(tracepoint = "sched_switch")]
pub fn sched_switch(ctx: RawTracePointContext) -> u32 {
    let preempt: u64 = ctx.arg(0);
    let prev: u64 = ctx.arg(1);
    let next: u64 = ctx.arg(2);
    let Some(st) = cpu_stat() else {
        return 0;
    };
    // The idle task is the one with thread id 0; learnt once per CPU, then known by its address.
    let prev_idle = if st.idle_task == 0 {
        let idle = current_tid() == 0;
        if idle {
            st.idle_task = prev;
        }
        idle
    } else {
        prev == st.idle_task
    };
    let next_idle = next == st.idle_task;
    let mut now = Ktime::default();
    switch_period(st, &mut now, prev, prev_idle, current_tid, next, next_idle);
    if RUNQ_LATENCY.load() != 0 {
        // The kernel passes the state read before the switch; a preempted task is runnable whatever
        // it says. Without the argument (before 5.18), only preemption counts as runnable.
        let runnable =
            preempt & 0xff != 0 || (SWITCH_HAS_STATE.load() != 0 && ctx.arg::<u64>(3) & 0xff == 0);
        queue_switch(st, prev, !prev_idle && runnable, next, next_idle, &mut now);
    }
    0
}

/// The time of one program run (`CLOCK_MONOTONIC` ns), read on first use only.
pub(crate) trait Clock {
    /// Now; `st` is this CPU's counters (a clock may keep its calibration there).
    fn now(&mut self, st: &mut CpuStat) -> u64;
}

/// [`Clock`] from `bpf_ktime_get_ns`.
#[derive(Default)]
pub(crate) struct Ktime(u64);

impl Clock for Ktime {
    #[inline(always)]
    fn now(&mut self, _st: &mut CpuStat) -> u64 {
        // 0 stands for "not read yet": the monotonic clock is never 0 once the kernel runs programs.
        if self.0 == 0 {
            self.0 = unsafe { bpf_ktime_get_ns() };
        }
        self.0
    }
}

/// This CPU's counters.
#[inline(always)]
pub(crate) fn cpu_stat() -> Option<&'static mut CpuStat> {
    // SAFETY: a per-CPU slot, only touched by programs on this CPU, which do not nest here.
    CPU_STATS.get_ptr_mut(0).map(|p| unsafe { &mut *p })
}

/// Counts the switch and keeps the accounting periods: a period is a stretch of time in which the CPU
/// runs tasks that count alike (idle; or busy and one [`tracked`] kind), from `last_switch_ns` on, with
/// what it counts as in `curr_busy` and `curr_tracked`. When `next` counts as the period does, the
/// period goes on and nothing is timed; otherwise it is closed now (busy, node and function time) and
/// `next` opens the next one. What `prev` is, when its period started with it unknown, is settled
/// now (`tid` gives its thread id).
#[inline(always)]
pub(crate) fn switch_period(
    st: &mut CpuStat,
    now: &mut impl Clock,
    prev: u64,
    prev_idle: bool,
    tid: impl FnOnce() -> u32,
    next: u64,
    next_idle: bool,
) {
    st.switches += 1;
    let busy = st.curr_busy != 0 && !prev_idle;
    let mut kind = st.curr_tracked;
    if busy && kind == UNKNOWN {
        kind = slot::kind_of(prev, tid());
        st.curr_tracked = kind;
    }
    let next_kind = if next_idle {
        0
    } else {
        slot::cached_kind(next)
    };
    let goes_on = if next_idle {
        !busy
    } else {
        busy && next_kind == kind && kind != UNKNOWN
    };
    if goes_on && st.last_switch_ns != 0 {
        return;
    }
    let at = now.now(st);
    close_period(st, at, busy, kind);
    st.last_switch_ns = at;
    st.curr_busy = u32::from(!next_idle);
    st.curr_tracked = next_kind;
}

/// Adds the period that ends at `now` to the CPU's times: busy time when `busy`, and node or function
/// time by its `kind`.
#[inline(always)]
pub(crate) fn close_period(st: &mut CpuStat, now: u64, busy: bool, kind: u32) {
    if st.last_switch_ns == 0 || now <= st.last_switch_ns || !busy {
        return;
    }
    let slice = now - st.last_switch_ns;
    st.busy_ns += slice;
    if kind == tracked::FUNCTION {
        st.tracked_ns += slice;
    } else if kind == tracked::NODE {
        st.node_ns += slice;
    }
}

/// Wake-to-run bookkeeping through `WAKE_TS`: a task leaving still runnable starts waiting now (while
/// wake-ups are sampled, `WAKE_WINDOW`, and if this wait is drawn, [`runq_draw`]); the task starting
/// stops waiting. Every wait that started is drawn, so each is counted with the current weight.
#[inline(always)]
pub(crate) fn queue_switch(
    st: &mut CpuStat,
    prev: u64,
    prev_waits: bool,
    next: u64,
    next_idle: bool,
    now: &mut impl Clock,
) {
    if prev_waits && WAKE_WINDOW.get(0).is_some_and(|open| *open != 0) && runq_draw(st) {
        slot::wait_starts(prev, now.now(st));
    }
    if !next_idle && let Some(at) = slot::wait_ends(next) {
        let now = now.now(st);
        if now > at {
            // A wait drawn just before the node changed the sampling gets the new weight: a few
            // waits per change, which happens only when the switch rate crosses its thresholds.
            record_delay(now - at, runq_weight());
        }
    }
}

/// The current sampling mask (`RUNQ_SAMPLE`; 0: every wait is timed).
#[inline(always)]
fn runq_mask() -> u32 {
    RUNQ_SAMPLE.get(0).copied().unwrap_or(0)
}

/// How many waits one timed wait stands for.
#[inline(always)]
pub(crate) fn runq_weight() -> u64 {
    u64::from(runq_mask()) + 1
}

/// Whether to time this wake-to-run wait: always when every wait is timed, else when this CPU's
/// random number has the mask's bits clear (a random 1 in `mask + 1`: a counter would alias with a
/// periodic switch pattern, such as two tasks taking turns).
#[inline(always)]
pub(crate) fn runq_draw(st: &mut CpuStat) -> bool {
    let mask = runq_mask();
    if mask == 0 {
        return true;
    }
    // xorshift32 (13, 17, 5); a CPU's first draw seeds it from its switch count (never 0 after `| 1`).
    let mut x = if st.sample_rng == 0 {
        st.switches as u32 | 1
    } else {
        st.sample_rng
    };
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    st.sample_rng = x;
    x & mask == 0
}

/// Adds one wake-to-run delay, standing for `weight` waits, to this CPU's histogram.
#[inline(always)]
pub(crate) fn record_delay(ns: u64, weight: u64) {
    let slot = log2_slot(ns / 1000);
    if let Some(h) = RUNQ_HIST.get_ptr_mut(0) {
        // SAFETY: per-CPU slot (see above); `slot < RUNQ_SLOTS` by construction.
        let h = unsafe { &mut *h };
        if let Some(c) = h.slots.get_mut(slot) {
            *c += weight;
        }
    }
}

/// 0 for 0 µs, else 1 + floor(log2(us)), capped at the last slot. Written as a fixed sequence of
/// compares (no loop) for the verifier.
#[inline(always)]
fn log2_slot(us: u64) -> usize {
    if us == 0 {
        return 0;
    }
    let mut v = us;
    let mut bits = 1usize;
    for shift in [32u32, 16, 8, 4, 2, 1] {
        if v >> shift != 0 {
            v >>= shift;
            bits += shift as usize;
        }
    }
    bits.min(RUNQ_SLOTS - 1)
}
