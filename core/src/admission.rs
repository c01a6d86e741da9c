//! The admission rule itself, pure: when a job starts, when it may wait, and who gets a freed slot.
//! The node's lock-free `queue::Admission` applies these predicates inside its CAS loops; [`Sequential`]
//! applies them to plain counters for single-threaded callers (the discrete-event simulator), which keep
//! their own FIFO of waiting jobs and pop it when [`Sequential::release`] says so.

use crate::scheduler::Admission as Mode;

/// Upper bound for K and Q: far above any real node, low enough that counters cannot overflow.
pub const MAX_SLOTS: usize = 65_536;

/// A slot is free: fewer than `slots` (K) jobs hold one.
pub fn slot_free(running: usize, slots: usize) -> bool {
    running < slots
}

/// A newcomer may start at once: nobody is waiting (FIFO: no overtaking) and a slot is free.
pub fn starts_now(running: usize, queued: usize, slots: usize) -> bool {
    queued == 0 && slot_free(running, slots)
}

/// A newcomer that cannot start may take a waiting place: fewer than `queue_len` (Q) are waiting.
pub fn may_wait(queued: usize, queue_len: usize) -> bool {
    queued < queue_len
}

/// A freed slot goes straight to the oldest waiter: somebody waits and a slot is free.
pub fn hands_on(running: usize, queued: usize, slots: usize) -> bool {
    queued > 0 && slot_free(running, slots)
}

/// What a newcomer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Holds a slot now.
    Run,
    /// Took a waiting place (the caller queues it, FIFO).
    Wait,
    /// Refused: every slot busy and the queue full (or not allowed to queue).
    Full,
}

/// K slots and a queue of Q, as plain counters: the same rule as the node's `queue::Admission` for one
/// thread, without tickets or permits. The caller owns the FIFO of waiting jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sequential {
    slots: usize,
    queue_len: usize,
    running: usize,
    queued: usize,
}

impl Sequential {
    /// K = `slots`, Q = `queue_len`, empty.
    pub fn new(slots: usize, queue_len: usize) -> Self {
        Self {
            slots,
            queue_len,
            running: 0,
            queued: 0,
        }
    }

    /// Admits a newcomer in `mode`: `Queue` as the node's `Admission::try_admit`, `NoQueue` as its
    /// `Admission::try_run`.
    pub fn admit(&mut self, mode: Mode) -> Verdict {
        if starts_now(self.running, self.queued, self.slots) {
            self.running += 1;
            Verdict::Run
        } else if mode == Mode::Queue && may_wait(self.queued, self.queue_len) {
            self.queued += 1;
            Verdict::Wait
        } else {
            Verdict::Full
        }
    }

    /// A job releases its slot; true when the oldest waiter takes it (the caller pops its FIFO).
    pub fn release(&mut self) -> bool {
        self.running = self.running.saturating_sub(1);
        if hands_on(self.running, self.queued, self.slots) {
            self.queued -= 1;
            self.running += 1;
            true
        } else {
            false
        }
    }

    /// Jobs holding a slot.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Jobs waiting.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// K.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Q.
    pub fn queue_len(&self) -> usize {
        self.queue_len
    }
}
