//! Node-wide admission control: `K` execution slots plus a FIFO wait queue of
//! length `Q`.
//!
//! A request asks [`Admission::try_admit`] for a slot. If a slot is free and
//! nobody is waiting it gets a [`Permit`] at once ([`Admit::Run`]); otherwise,
//! if fewer than `Q` requests are waiting, it gets a [`Ticket`]
//! ([`Admit::Wait`]), a future that resolves to a [`Permit`] when a slot is
//! handed to it in FIFO order; otherwise it is rejected ([`Admit::Full`]).
//! `Q = 0` means "no queue": reject as soon as every slot is busy. Dropping a
//! [`Permit`] frees its slot and hands it straight to the oldest waiter.
//! The rule itself (who starts, who waits, who gets a freed slot) is the pure
//! [`rule`] module (in `p2pfaas-core`), which single-threaded callers such as the simulator use
//! directly through [`rule::Sequential`].
//!
//! The structure is shared via [`Arc`] by every per-core runtime of the node
//! and is lock-free: four atomic counters plus a [`SegQueue`] of waiters.
//! `K` and `Q` can be changed at run time with [`Admission::set_limits`] with
//! immediate effect: raising `K` grants slots to queued waiters immediately;
//! lowering `K` lets running jobs finish normally, but no job starts until
//! `running < K` again (so `running > K` after a shrink is expected). Lowering
//! `Q` below the current number of waiters keeps those waiters; it only stops
//! new enqueues until the queue is shorter than the new `Q`.
//!
//! # Protocol
//!
//! * `running` counts slots in use: permits, granted-but-unpolled tickets and
//!   transient *reservations* made by `drain`. A slot is
//!   only ever taken with a CAS that checks `running < K` (`try_reserve`).
//! * `queued` counts waiters in state `Waiting`. It is incremented (CAS bounded
//!   by `Q`) *before* the waiter is pushed and decremented only after the
//!   waiter left `Waiting` (granted or cancelled), so `queued` is never smaller
//!   than the number of `Waiting` waiters. Newcomers run directly only when
//!   `queued == 0`, so they never overtake a waiter.
//! * Each waiter has a state `Waiting -> Granted` (by a drainer) or
//!   `Waiting -> Cancelled` (by dropping its [`Ticket`]); both transitions are
//!   CASes from `Waiting`, so exactly one side wins and the slot is never both
//!   handed out and lost. Cancelled waiters stay in the [`SegQueue`] and are
//!   removed lazily: a drainer that pops one discards it and keeps its
//!   reservation for the next entry. (Consequence: while every slot stays busy,
//!   entries of cancelled waiters accumulate, one small `Arc` each, until the
//!   next slot is freed.)
//! * `drain()`: `SeqCst` fence; return at once if the queue is empty (the
//!   uncontended fast path); then loop { reserve a slot (else stop); pop
//!   entries until one is `Waiting`, CAS it to `Granted`, decrement `queued`,
//!   wake it, loop again; if the queue runs empty, give the reservation back
//!   (`running -= 1`), `SeqCst` fence, and stop only if the queue is still
//!   empty, else loop }.
//! * Every event that can create "a slot is free and a waiter is queued" runs
//!   `drain()` afterwards on the same thread: release (`running -= 1`),
//!   enqueue (push), `set_limits` (store `K`), and giving a reservation back.
//!
//! # Why no wake-up is lost
//!
//! The danger is the store-buffering race between a thread `A` that makes the
//! queue non-empty (push) and then looks at `running`, and a thread `B` that
//! makes a slot free (`running -= 1`, or `K` raised) and then looks at the
//! queue. Both sides execute a `SeqCst` fence between their write and their
//! read (`drain` starts with a fence; the un-reserve path fences before
//! `is_empty`), and all our own accesses are `SeqCst`. The fences are totally
//! ordered. If `A`'s fence comes first, `B`'s later queue read (`is_empty` or
//! `pop`) observes the push (the [`SegQueue`] linearises a push at its `SeqCst`
//! tail CAS and an empty-check reads the tail after a fence), so `B` finds the
//! waiter (or finds that someone else already popped it, which only happens
//! under a reservation, i.e. it was granted or was cancelled). If `B`'s fence
//! comes first, `A`'s read of `running`/`K` observes `B`'s write or a later
//! one, so `A` sees the free slot, unless another thread has taken it in
//! between; that thread holds it as a permit or a reservation, and its own
//! later `running -= 1` is again such a racing event, so the argument repeats
//! (there are finitely many modifications of `running`). Hence at quiescence it
//! never holds that `running < K` while a `Waiting` waiter is queued.
//! On the waiter side, [`Ticket::poll`] registers its waker with an
//! [`AtomicWaker`] and re-checks the state afterwards, and the granter changes
//! the state before calling `wake`, so a grant racing with a poll is either
//! seen by the re-check or wakes the newly registered waker.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicU8, AtomicUsize, fence};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use crossbeam_queue::SegQueue;

/// The pure admission rule, in the decision core (`p2pfaas_core::admission`).
pub use p2pfaas_core::admission as rule;
#[cfg(test)]
mod tests;

/// Waiter state: in the queue, waiting for a slot.
const WAITING: u8 = 0;
/// Waiter state: a slot was handed to it (counted in `running`).
const GRANTED: u8 = 1;
/// Waiter state: its ticket was dropped while waiting; the queue entry is stale.
const CANCELLED: u8 = 2;

/// One queued request, shared between its [`Ticket`] and the wait queue.
#[derive(Debug)]
struct Waiter {
    /// `WAITING`, `GRANTED` or `CANCELLED`.
    state: AtomicU8,
    /// Waker of the task polling the ticket (may live on another thread).
    waker: AtomicWaker,
}

/// Admission control shared by all cores: `K` slots and a FIFO queue of `Q`.
///
/// Create it with [`Admission::new`] and share the returned [`Arc`].
#[derive(Debug)]
pub struct Admission {
    /// `K`: maximum number of jobs allowed to start concurrently.
    slots: AtomicUsize,
    /// `Q`: maximum number of waiting requests (0 = no queue).
    queue_len: AtomicUsize,
    /// Slots in use: permits, granted tickets and transient reservations.
    running: AtomicUsize,
    /// Number of waiters in state `Waiting`.
    queued: AtomicUsize,
    /// FIFO of waiters; may contain stale (cancelled) entries.
    waiters: SegQueue<Arc<Waiter>>,
}

/// Outcome of [`Admission::try_admit`].
#[derive(Debug)]
#[must_use = "dropping the outcome immediately releases the slot or the queue place"]
pub enum Admit {
    /// A slot was free: run now, holding the permit until the job is done.
    Run(Permit),
    /// Every slot is busy (or others are waiting): await the ticket.
    Wait(Ticket),
    /// Every slot is busy and the queue is full: reject the request.
    Full,
}

impl Admission {
    /// Creates the admission control with `slots` (`K`) execution slots and a
    /// wait queue of `queue_len` (`Q`) places.
    #[must_use]
    pub fn new(slots: usize, queue_len: usize) -> Arc<Self> {
        Arc::new(Self {
            slots: AtomicUsize::new(slots),
            queue_len: AtomicUsize::new(queue_len),
            running: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            waiters: SegQueue::new(),
        })
    }

    /// Runs now if a slot is free and nobody is waiting (FIFO: newcomers never
    /// overtake waiters); otherwise enqueues a waiter if fewer than `Q` are
    /// waiting; otherwise returns [`Admit::Full`].
    ///
    /// Allocates only in the [`Admit::Wait`] case (one `Arc` for the waiter).
    pub fn try_admit(self: &Arc<Self>) -> Admit {
        if let Some(permit) = self.try_run() {
            return Admit::Run(permit);
        }
        // Claim a queue place first (bounded by the current Q) ...
        let mut queued = self.queued.load(SeqCst);
        loop {
            if !rule::may_wait(queued, self.queue_len.load(SeqCst)) {
                return Admit::Full;
            }
            match self
                .queued
                .compare_exchange_weak(queued, queued + 1, SeqCst, SeqCst)
            {
                Ok(_) => break,
                Err(current) => queued = current,
            }
        }
        // ... then enter the queue, then drain: a slot freed between our
        // `try_run` and the push is picked up here (see module docs).
        let waiter = Arc::new(Waiter {
            state: AtomicU8::new(WAITING),
            waker: AtomicWaker::new(),
        });
        self.waiters.push(Arc::clone(&waiter));
        self.drain();
        Admit::Wait(Ticket {
            waiter,
            admission: Some(Arc::clone(self)),
        })
    }

    /// Like [`try_admit`](Self::try_admit) but never queues (for "loss"
    /// schedulers): returns a [`Permit`] if a slot is free and nobody waits,
    /// else `None`.
    pub fn try_run(self: &Arc<Self>) -> Option<Permit> {
        // `rule::starts_now`, with the slot taken by CAS.
        if self.queued.load(SeqCst) == 0 && self.try_reserve() {
            Some(Permit {
                admission: Arc::clone(self),
            })
        } else {
            None
        }
    }

    /// Sets `K` and `Q` with immediate effect. If `K` grew, queued waiters are
    /// granted the new slots right away. If `K` shrank, running jobs continue
    /// and no job starts until `running < K`. If `Q` shrank, current waiters
    /// keep their place; only new enqueues are refused.
    pub fn set_limits(&self, slots: usize, queue_len: usize) {
        self.queue_len.store(queue_len, SeqCst);
        self.slots.store(slots, SeqCst);
        self.drain();
    }

    /// Current `K` (number of execution slots).
    pub fn slots(&self) -> usize {
        self.slots.load(SeqCst)
    }

    /// Current `Q` (wait queue length; 0 = no queue).
    pub fn queue_len(&self) -> usize {
        self.queue_len.load(SeqCst)
    }

    /// Slots currently in use (may transiently include a slot being handed
    /// to a waiter, and may exceed [`slots`](Self::slots) after a shrink).
    pub fn running(&self) -> usize {
        self.running.load(SeqCst)
    }

    /// Requests currently waiting in the queue (cancelled ones excluded).
    pub fn queued(&self) -> usize {
        self.queued.load(SeqCst)
    }

    /// Takes one slot if `running < K` (CAS loop). Returns whether it did.
    fn try_reserve(&self) -> bool {
        let mut running = self.running.load(SeqCst);
        loop {
            if !rule::slot_free(running, self.slots.load(SeqCst)) {
                return false;
            }
            match self
                .running
                .compare_exchange_weak(running, running + 1, SeqCst, SeqCst)
            {
                Ok(_) => return true,
                Err(current) => running = current,
            }
        }
    }

    /// Frees one slot and hands it on.
    fn release(&self) {
        self.running.fetch_sub(1, SeqCst);
        self.drain();
    }

    /// Hands free slots to queued waiters in FIFO order until either no slot
    /// is free or no waiter is left. See the module docs for the argument.
    fn drain(&self) {
        // Orders the caller's preceding write (push / `running -= 1` / store
        // of K) before our reads of `running`, `K` and the queue.
        fence(SeqCst);
        // Fast path (no waiter entries): nothing to hand out. This read is the
        // "look at the queue" half of the race argument, like the re-check in
        // the un-reserve path below.
        if self.waiters.is_empty() {
            return;
        }
        'reserve: while self.try_reserve() {
            // We hold a reservation: give it to the first waiter still waiting.
            loop {
                match self.waiters.pop() {
                    Some(waiter) => {
                        if waiter
                            .state
                            .compare_exchange(WAITING, GRANTED, SeqCst, SeqCst)
                            .is_ok()
                        {
                            self.queued.fetch_sub(1, SeqCst);
                            waiter.waker.wake();
                            continue 'reserve;
                        }
                        // Cancelled: drop the stale entry, keep the reservation.
                    }
                    None => {
                        // Nobody to hand it to: give the reservation back, then
                        // re-check, since a waiter pushed after our pop saw
                        // the slot as taken by this very reservation.
                        self.running.fetch_sub(1, SeqCst);
                        fence(SeqCst);
                        if self.waiters.is_empty() {
                            return;
                        }
                        continue 'reserve;
                    }
                }
            }
        }
    }
}

/// Proof of holding one slot. Dropping it frees the slot and hands it to the
/// oldest waiter, if any; it releases exactly once.
#[derive(Debug)]
#[must_use = "dropping a permit immediately releases its slot"]
pub struct Permit {
    /// The admission the slot belongs to.
    admission: Arc<Admission>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release();
    }
}

/// A place in the FIFO wait queue: a [`Future`] resolving to a [`Permit`] once
/// a slot is handed to it.
///
/// Dropping a ticket that is still waiting cancels it (the queued count is
/// decremented at once; the stale queue entry is skipped when popped).
/// Dropping it after a slot was granted but before it was polled to
/// completion releases that slot, so nothing leaks. Polling it again after it
/// returned its permit panics.
#[derive(Debug)]
#[must_use = "dropping a ticket cancels it"]
pub struct Ticket {
    /// Shared with the queue entry.
    waiter: Arc<Waiter>,
    /// `None` once the permit has been handed out.
    admission: Option<Arc<Admission>>,
}

impl Future for Ticket {
    type Output = Permit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let this = &mut *self;
        if this.waiter.state.load(SeqCst) != GRANTED {
            this.waiter.waker.register(cx.waker());
            // Re-check: a grant before `register` did not see our waker.
            if this.waiter.state.load(SeqCst) != GRANTED {
                return Poll::Pending;
            }
        }
        match this.admission.take() {
            Some(admission) => Poll::Ready(Permit { admission }),
            None => panic!("Ticket polled after completion"),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let Some(admission) = self.admission.take() else {
            return; // Completed: the permit owns the slot now.
        };
        match self
            .waiter
            .state
            .compare_exchange(WAITING, CANCELLED, SeqCst, SeqCst)
        {
            Ok(_) => {
                admission.queued.fetch_sub(1, SeqCst);
            }
            // Granted but never turned into a permit: give the slot back.
            Err(_) => admission.release(),
        }
    }
}
