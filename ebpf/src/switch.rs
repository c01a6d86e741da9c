//! `sched/sched_switch`: closes the slice that just ended on this CPU (busy and tracked time), counts the
//! switch, records when a preempted task went back on the run queue, and closes the wake-to-run delay
//! of the task now starting. [`switched`] is the part shared with the `tp_btf` variant (`btf.rs`).

use aya_ebpf::helpers::bpf_ktime_get_ns;
use aya_ebpf::macros::tracepoint;
use aya_ebpf::programs::TracePointContext;
use p2pfaas_ebpf_common::{RUNQ_SLOTS, tracked};

use crate::maps::{
    CPU_STATS, RUNQ_HIST, RUNQ_LATENCY, SWITCH_NEXT_PID, SWITCH_PREV_PID, SWITCH_PREV_STATE,
    SWITCH_PREV_STATE_SIZE, TRACKED, WAKE_TS,
};

#[tracepoint]
pub fn sched_switch(ctx: TracePointContext) -> u32 {
    match try_sched_switch(&ctx) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

fn try_sched_switch(ctx: &TracePointContext) -> Result<(), i64> {
    // SAFETY: offsets come from this kernel's tracefs format file (set by the loader); `read_at` is a
    // bounded probe read of the tracepoint record, which the verifier checks.
    let prev_pid: u32 = unsafe { ctx.read_at(SWITCH_PREV_PID.load() as usize) }?;
    let next_pid: u32 = unsafe { ctx.read_at(SWITCH_NEXT_PID.load() as usize) }?;
    let prev_state: u64 = if SWITCH_PREV_STATE_SIZE.load() == 8 {
        unsafe { ctx.read_at::<u64>(SWITCH_PREV_STATE.load() as usize) }?
    } else {
        u64::from(unsafe { ctx.read_at::<u32>(SWITCH_PREV_STATE.load() as usize) }?)
    };
    // The kernel reports preemption as TASK_REPORT_MAX (0x100 and up), so "no sleep state bit in the
    // low byte" means the task leaving is still runnable.
    switched(prev_pid, prev_state & 0xff == 0, next_pid);
    Ok(())
}

/// One context switch on this CPU, whichever program saw it (classic or `tp_btf`): closes the slice
/// that just ended, counts the switch and does the wake-to-run bookkeeping through `WAKE_TS`.
#[inline(always)]
pub(crate) fn switched(prev_pid: u32, prev_runnable: bool, next_pid: u32) {
    let now = unsafe { bpf_ktime_get_ns() };
    account(prev_pid, next_pid, now);
    if RUNQ_LATENCY.load() == 0 {
        return;
    }
    // Preempted (or yielding) tasks stay runnable: their wait for a CPU starts now.
    if prev_pid != 0 && prev_runnable {
        let _ = WAKE_TS.insert(prev_pid, now, 0);
    }

    if next_pid != 0 {
        // SAFETY: the value is copied out at once; a concurrent delete cannot free it under us because
        // map values live until the end of the RCU read section this program runs in.
        if let Some(&woken) = unsafe { WAKE_TS.get(next_pid) } {
            let _ = WAKE_TS.remove(next_pid);
            if now > woken {
                record_delay(now - woken);
            }
        }
    }
}

/// Closes the slice that just ended on this CPU (busy and tracked time) and counts the switch.
#[inline(always)]
pub(crate) fn account(prev_pid: u32, next_pid: u32, now: u64) {
    if let Some(st) = CPU_STATS.get_ptr_mut(0) {
        // SAFETY: a per-CPU slot, only touched by programs on this CPU, which do not nest here.
        let st = unsafe { &mut *st };
        if st.last_switch_ns != 0 && now > st.last_switch_ns {
            let slice = now - st.last_switch_ns;
            if prev_pid != 0 {
                st.busy_ns += slice;
            }
            // Whether the task now leaving is tracked was decided when it switched in: one map lookup
            // per switch instead of two.
            if st.curr_tracked == tracked::FUNCTION {
                st.tracked_ns += slice;
            } else if st.curr_tracked == tracked::NODE {
                st.node_ns += slice;
            }
        }
        st.switches += 1;
        st.last_switch_ns = now;
        st.curr_busy = u32::from(next_pid != 0);
        st.curr_tracked = if next_pid == 0 {
            0
        } else {
            tracked_as(next_pid)
        };
    }
}

/// What thread `id` is in `TRACKED` (0: not tracked).
#[inline(always)]
pub(crate) fn tracked_as(id: u32) -> u32 {
    // SAFETY: the value is copied out at once (see `WAKE_TS` above).
    unsafe { TRACKED.get(id) }.copied().unwrap_or(0)
}

/// Adds one wake-to-run delay to this CPU's histogram.
#[inline(always)]
pub(crate) fn record_delay(ns: u64) {
    let slot = log2_slot(ns / 1000);
    if let Some(h) = RUNQ_HIST.get_ptr_mut(0) {
        // SAFETY: per-CPU slot (see above); `slot < RUNQ_SLOTS` by construction.
        let h = unsafe { &mut *h };
        if let Some(c) = h.slots.get_mut(slot) {
            *c += 1;
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
