//! The two direct-mapped tables keyed by task (`WAKE_TS`, `TASKS`), and what a task is. A task's key is
//! its thread id in the `tp_btf` programs and its `task_struct` address in the raw tracepoint ones,
//! which cannot read the thread id of a task other than the current one without BTF: both are unique
//! among live tasks, and `sched_process_exit` clears a task's entries before its key can be reused.
//!
//! The tables are shared by all CPUs and written without atomics: two CPUs writing one slot at the
//! same moment can leave a torn entry, which costs one sample (a wait or a slice counted as
//! untracked), never memory safety. A collision between two live tasks only evicts the older entry,
//! except a pending one (a new task known by address only), which stays until its task first leaves
//! a CPU or exits.

use p2pfaas_ebpf_common::{TASK_SLOT_BITS, TaskSlot, WakeSlot};

use crate::maps::{TASKS, TRACKED, TRACKED_GEN, WAKE_TS};

/// `TaskSlot::kind` / `CpuStat::curr_tracked` when not known yet (resolved when the task leaves the CPU).
pub(crate) const UNKNOWN: u32 = u32::MAX;

/// The slot of `key` in a table (Fibonacci hashing: task addresses and thread ids both spread well).
#[inline(always)]
fn index(key: u64) -> u32 {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TASK_SLOT_BITS)) as u32
}

#[inline(always)]
fn generation() -> u32 {
    TRACKED_GEN.get(0).copied().unwrap_or(0)
}

#[inline(always)]
fn task_slot(key: u64) -> Option<&'static mut TaskSlot> {
    // SAFETY: an array value lives as long as the map; concurrent writers are the tolerated race
    // described in the module docs (plain integers, no invariant between fields that memory depends on).
    TASKS.get_ptr_mut(index(key)).map(|p| unsafe { &mut *p })
}

/// What task `key` is according to `TASKS` alone ([`UNKNOWN`] when the entry is missing, stale, or
/// still has to be copied into `TRACKED`): the cheap look-up made as a task starts running.
#[inline(always)]
pub(crate) fn cached_kind(key: u64) -> u32 {
    match task_slot(key) {
        Some(s) if s.key == key && s.pending == 0 && s.generation == generation() => s.kind,
        _ => UNKNOWN,
    }
}

/// What task `key` (thread id `tid`) is: from `TASKS` when current, else from `TRACKED`, then
/// remembered in `TASKS`. A task the programs learned about by address only (a new task of a
/// tracked one, raw tracepoints) enters `TRACKED` here, under the thread id it is now known by.
#[inline(always)]
pub(crate) fn kind_of(key: u64, tid: u32) -> u32 {
    let generation = generation();
    let Some(slot) = task_slot(key) else {
        return tracked_as(tid);
    };
    if slot.key == key && slot.pending != 0 {
        let _ = TRACKED.insert(tid, slot.kind, 0);
        slot.pending = 0;
        slot.generation = generation;
        return slot.kind;
    }
    if slot.key == key && slot.generation == generation {
        return slot.kind;
    }
    let kind = tracked_as(tid);
    if slot.pending != 0 && slot.key != key {
        // Another task's pending entry is the only record of what that new task is (it is not in
        // `TRACKED` until it first leaves a CPU): evicting it would count a node thread or a function
        // process as untracked for good. This task is looked up in `TRACKED` again next time instead.
        return kind;
    }
    *slot = TaskSlot {
        key,
        kind,
        generation,
        pending: 0,
        _pad: 0,
    };
    kind
}

/// Records what task `key` is; `pending` when its thread id is unknown (so not in `TRACKED` yet).
#[inline(always)]
pub(crate) fn remember(key: u64, kind: u32, pending: bool) {
    if let Some(slot) = task_slot(key) {
        *slot = TaskSlot {
            key,
            kind,
            generation: generation(),
            pending: u32::from(pending),
            _pad: 0,
        };
    }
}

/// What thread `tid` is in `TRACKED` (0: not tracked).
#[inline(always)]
fn tracked_as(tid: u32) -> u32 {
    // SAFETY: the value is copied out at once; map values live until the end of the RCU read section
    // this program runs in.
    unsafe { TRACKED.get(tid) }.copied().unwrap_or(0)
}

/// Task `key` became runnable at `now`: its wait for a CPU starts.
#[inline(always)]
pub(crate) fn wait_starts(key: u64, now: u64) {
    if let Some(w) = WAKE_TS.get_ptr_mut(index(key)) {
        // SAFETY: as in `task_slot`.
        unsafe { *w = WakeSlot { key, at_ns: now } };
    }
}

/// Task `key` starts running: when its wait began, if `WAKE_TS` has it (the entry is consumed).
#[inline(always)]
pub(crate) fn wait_ends(key: u64) -> Option<u64> {
    let w = WAKE_TS.get_ptr_mut(index(key))?;
    // SAFETY: as in `task_slot`.
    let w = unsafe { &mut *w };
    if w.key != key {
        return None;
    }
    w.key = 0;
    Some(w.at_ns)
}

/// Task `key` exited: its entries go, so a task that later gets the same key starts clean.
#[inline(always)]
pub(crate) fn forget(key: u64) {
    if let Some(s) = task_slot(key)
        && s.key == key
    {
        s.key = 0;
        // A task that exits before it ever left a CPU leaves no pending entry to block the slot.
        s.pending = 0;
    }
    if let Some(w) = WAKE_TS.get_ptr_mut(index(key)) {
        // SAFETY: as in `task_slot`.
        let w = unsafe { &mut *w };
        if w.key == key {
            w.key = 0;
        }
    }
}

/// The current task's thread id.
#[inline(always)]
pub(crate) fn current_tid() -> u32 {
    // The lower half is the thread id (the upper one the process id).
    aya_ebpf::helpers::bpf_get_current_pid_tgid() as u32
}
