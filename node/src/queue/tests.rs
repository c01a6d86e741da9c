#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected values")]

use super::*;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::task::{Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;

/// Waker that appends its id to a shared log when woken.
struct Rec {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for Rec {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
    }
}

fn rec_waker(id: usize, log: &Arc<Mutex<Vec<usize>>>) -> Waker {
    Waker::from(Arc::new(Rec {
        id,
        log: Arc::clone(log),
    }))
}

fn poll_with(t: &mut Ticket, w: &Waker) -> Poll<Permit> {
    Pin::new(t).poll(&mut Context::from_waker(w))
}

fn poll_noop(t: &mut Ticket) -> Poll<Permit> {
    poll_with(t, Waker::noop())
}

fn run(a: &Arc<Admission>) -> Permit {
    match a.try_admit() {
        Admit::Run(p) => p,
        other => panic!("expected Run, got {other:?}"),
    }
}

fn wait(a: &Arc<Admission>) -> Ticket {
    match a.try_admit() {
        Admit::Wait(t) => t,
        other => panic!("expected Wait, got {other:?}"),
    }
}

fn ready(t: &mut Ticket) -> Permit {
    match poll_noop(t) {
        Poll::Ready(p) => p,
        Poll::Pending => panic!("expected the ticket to be granted"),
    }
}

#[test]
fn k4_q4_runs_waits_then_full() {
    let a = Admission::new(4, 4);
    let permits: Vec<_> = (0..4).map(|_| run(&a)).collect();
    let mut tickets: Vec<_> = (0..4).map(|_| wait(&a)).collect();
    assert!(matches!(a.try_admit(), Admit::Full));
    assert_eq!((a.running(), a.queued()), (4, 4));
    for t in &mut tickets {
        assert!(poll_noop(t).is_pending());
    }
    drop(tickets);
    assert_eq!((a.running(), a.queued()), (4, 0));
    drop(permits);
    assert_eq!((a.running(), a.queued()), (0, 0));
}

#[test]
fn dropping_permit_grants_oldest_ticket_fifo() {
    let a = Admission::new(1, 8);
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut p = run(&a);
    let mut tickets: Vec<_> = (0..5).map(|_| wait(&a)).collect();
    for (i, t) in tickets.iter_mut().enumerate() {
        assert!(poll_with(t, &rec_waker(i, &log)).is_pending());
    }
    for i in 0..5 {
        drop(p);
        assert_eq!(*log.lock().unwrap(), (0..=i).collect::<Vec<_>>());
        for (j, t) in tickets.iter_mut().enumerate().skip(i + 1) {
            assert!(poll_with(t, &rec_waker(j, &log)).is_pending(), "{j}");
        }
        p = ready(&mut tickets[i]);
        assert_eq!((a.running(), a.queued()), (1, 4 - i));
    }
    drop(p);
    drop(tickets);
    assert_eq!((a.running(), a.queued()), (0, 0));
}

#[test]
fn q0_is_full_immediately_when_slots_busy() {
    let a = Admission::new(2, 0);
    let _p1 = run(&a);
    let _p2 = run(&a);
    assert!(matches!(a.try_admit(), Admit::Full));
    assert_eq!(a.queued(), 0);
}

#[test]
fn try_run_never_queues() {
    let a = Admission::new(1, 4);
    let p = a.try_run().unwrap();
    assert!(a.try_run().is_none());
    assert_eq!((a.running(), a.queued()), (1, 0));
    // With a waiter queued, try_run must not overtake it, even once the slot
    // it waits for is handed over.
    let mut t = wait(&a);
    assert!(a.try_run().is_none());
    drop(p);
    assert!(a.try_run().is_none());
    let p = ready(&mut t);
    drop(p);
    assert!(a.try_run().is_some());
    assert_eq!((a.running(), a.queued()), (0, 0));
}

#[test]
fn growing_k_grants_waiters_immediately() {
    let a = Admission::new(4, 4);
    let _permits: Vec<_> = (0..4).map(|_| run(&a)).collect();
    let mut tickets: Vec<_> = (0..4).map(|_| wait(&a)).collect();
    a.set_limits(8, 4);
    assert_eq!((a.running(), a.queued()), (8, 0));
    let _granted: Vec<_> = tickets.iter_mut().map(ready).collect();
    assert_eq!(a.running(), 8);
}

#[test]
fn shrinking_k_lets_running_finish_but_starts_nothing() {
    let a = Admission::new(4, 4);
    let mut permits: Vec<_> = (0..4).map(|_| run(&a)).collect();
    a.set_limits(1, 4);
    assert_eq!(a.running(), 4); // running > K after a shrink is fine
    let mut t = wait(&a);
    assert!(a.try_run().is_none());
    for left in (1..4).rev() {
        permits.pop();
        assert_eq!(a.running(), left);
        assert!(
            poll_noop(&mut t).is_pending(),
            "granted with {left} running"
        );
    }
    permits.pop(); // running drops below K = 1
    let p = ready(&mut t);
    assert_eq!((a.running(), a.queued()), (1, 0));
    drop(p);
    assert_eq!(a.running(), 0);
}

#[test]
fn shrinking_q_keeps_waiters_but_refuses_new_ones() {
    let a = Admission::new(1, 3);
    let p = run(&a);
    let mut t1 = wait(&a);
    let _t2 = wait(&a);
    a.set_limits(1, 1);
    assert_eq!(a.queued(), 2);
    assert!(matches!(a.try_admit(), Admit::Full));
    drop(p);
    let _p1 = ready(&mut t1);
    assert_eq!(a.queued(), 1);
    assert!(matches!(a.try_admit(), Admit::Full));
}

#[test]
fn cancelled_ticket_is_uncounted_and_skipped() {
    let a = Admission::new(1, 4);
    let log = Arc::new(Mutex::new(Vec::new()));
    let p = run(&a);
    let mut t1 = wait(&a);
    let mut t2 = wait(&a);
    let mut t3 = wait(&a);
    for (i, t) in [&mut t1, &mut t2, &mut t3].into_iter().enumerate() {
        assert!(poll_with(t, &rec_waker(i + 1, &log)).is_pending());
    }
    drop(t2);
    assert_eq!(a.queued(), 2);
    drop(p);
    let p1 = ready(&mut t1);
    drop(p1);
    assert_eq!(*log.lock().unwrap(), vec![1, 3]);
    let p3 = ready(&mut t3);
    assert_eq!((a.running(), a.queued()), (1, 0));
    drop(p3);
    assert_eq!(a.running(), 0);
}

#[test]
fn granted_ticket_dropped_unpolled_returns_slot() {
    let a = Admission::new(1, 4);
    let p = run(&a);
    let t = wait(&a);
    drop(p);
    assert_eq!((a.running(), a.queued()), (1, 0)); // handed to `t`
    drop(t);
    assert_eq!((a.running(), a.queued()), (0, 0));
    assert!(matches!(a.try_admit(), Admit::Run(_)));
}

#[test]
fn granted_ticket_dropped_unpolled_passes_slot_to_next() {
    let a = Admission::new(1, 4);
    let p = run(&a);
    let t1 = wait(&a);
    let mut t2 = wait(&a);
    drop(p);
    drop(t1);
    let _p2 = ready(&mut t2);
    assert_eq!((a.running(), a.queued()), (1, 0));
}

#[test]
fn k0_queues_until_slots_appear() {
    let a = Admission::new(0, 2);
    assert!(a.try_run().is_none());
    let mut t = wait(&a);
    assert!(poll_noop(&mut t).is_pending());
    a.set_limits(1, 2);
    let _p = ready(&mut t);
}

#[test]
#[should_panic(expected = "polled after completion")]
fn polling_after_completion_panics() {
    let a = Admission::new(0, 1);
    let mut t = wait(&a);
    a.set_limits(1, 1);
    let _p = ready(&mut t);
    let _ = poll_noop(&mut t);
}

#[test]
fn cross_thread_wake() {
    let a = Admission::new(1, 1);
    let p = run(&a);
    let t = wait(&a);
    let h = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        drop(p);
    });
    let p2 = futures_executor::block_on(t);
    h.join().unwrap();
    assert_eq!(a.running(), 1);
    drop(p2);
    assert_eq!(a.running(), 0);
}

// ---------------------------------------------------------------------------
// Model test
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Admit,
    TryRun,
    DropPermit(usize),
    DropTicket(usize),
    PollTickets,
    SetLimits(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Admit),
        1 => Just(Op::TryRun),
        3 => any::<usize>().prop_map(Op::DropPermit),
        1 => any::<usize>().prop_map(Op::DropTicket),
        2 => Just(Op::PollTickets),
        1 => (0..6usize, 0..6usize).prop_map(|(k, q)| Op::SetLimits(k, q)),
    ]
}

/// Sequential reference model.
#[derive(Debug)]
struct Model {
    k: usize,
    q: usize,
    running: usize,
    waiting: VecDeque<usize>,
    /// Granted tickets not yet polled to completion.
    granted: Vec<usize>,
    /// Grant order.
    log: Vec<usize>,
}

impl Model {
    fn drain(&mut self) {
        while self.running < self.k {
            let Some(id) = self.waiting.pop_front() else {
                break;
            };
            self.running += 1;
            self.granted.push(id);
            self.log.push(id);
        }
    }
}

fn run_model(k0: usize, q0: usize, ops: Vec<Op>) {
    let a = Admission::new(k0, q0);
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut m = Model {
        k: k0,
        q: q0,
        running: 0,
        waiting: VecDeque::new(),
        granted: Vec::new(),
        log: Vec::new(),
    };
    let mut permits: Vec<Permit> = Vec::new();
    let mut tickets: Vec<(usize, Ticket)> = Vec::new();
    let mut next_id = 0;

    for op in ops {
        let running_before = a.running();
        let queued_before = a.queued();
        match op {
            Op::Admit => {
                let outcome = a.try_admit();
                if m.waiting.is_empty() && m.running < m.k {
                    m.running += 1;
                    let Admit::Run(p) = outcome else {
                        panic!("model: Run, got {outcome:?}")
                    };
                    permits.push(p);
                } else if m.waiting.len() < m.q {
                    let Admit::Wait(mut t) = outcome else {
                        panic!("model: Wait, got {outcome:?}")
                    };
                    assert!(queued_before < a.queue_len(), "enqueued beyond Q");
                    let id = next_id;
                    next_id += 1;
                    assert!(poll_with(&mut t, &rec_waker(id, &log)).is_pending());
                    m.waiting.push_back(id);
                    tickets.push((id, t));
                } else {
                    assert!(
                        matches!(outcome, Admit::Full),
                        "model: Full, got {outcome:?}"
                    );
                }
            }
            Op::TryRun => {
                let p = a.try_run();
                if m.waiting.is_empty() && m.running < m.k {
                    m.running += 1;
                    permits.push(p.expect("model: try_run succeeds"));
                } else {
                    assert!(p.is_none(), "model: try_run fails");
                }
            }
            Op::DropPermit(i) => {
                if !permits.is_empty() {
                    drop(permits.swap_remove(i % permits.len()));
                    m.running -= 1;
                    m.drain();
                }
            }
            Op::DropTicket(i) => {
                if !tickets.is_empty() {
                    let (id, t) = tickets.swap_remove(i % tickets.len());
                    drop(t);
                    if let Some(pos) = m.waiting.iter().position(|&w| w == id) {
                        m.waiting.remove(pos);
                    } else {
                        let pos = m.granted.iter().position(|&g| g == id).unwrap();
                        m.granted.swap_remove(pos);
                        m.running -= 1;
                        m.drain();
                    }
                }
            }
            Op::PollTickets => {
                let mut still = Vec::new();
                for (id, mut t) in tickets.drain(..) {
                    let granted = m.granted.contains(&id);
                    match poll_with(&mut t, &rec_waker(id, &log)) {
                        Poll::Ready(p) => {
                            assert!(granted, "ticket {id} ready but not granted in model");
                            m.granted.retain(|&g| g != id);
                            permits.push(p);
                        }
                        Poll::Pending => {
                            assert!(!granted, "ticket {id} granted in model but pending");
                            still.push((id, t));
                        }
                    }
                }
                tickets = still;
            }
            Op::SetLimits(k, q) => {
                a.set_limits(k, q);
                m.k = k;
                m.q = q;
                m.drain();
            }
        }
        // Invariants after each step.
        assert_eq!(a.running(), m.running, "running");
        assert_eq!(a.queued(), m.waiting.len(), "queued");
        assert_eq!(*log.lock().unwrap(), m.log, "grant order (FIFO)");
        // Every slot in use is held by exactly one permit or granted ticket.
        assert_eq!(
            a.running(),
            permits.len() + m.granted.len(),
            "slot accounting"
        );
        // Starting a job never takes running above K (only shrinks may).
        if a.running() > running_before {
            assert!(a.running() <= a.slots(), "started a job beyond K");
        }
        // No free slot while someone is waiting (no lost wake-up).
        assert!(
            a.queued() == 0 || a.running() >= a.slots(),
            "idle slot with waiters"
        );
    }

    // Grants are FIFO: the log is a subsequence of enqueue order (ids are
    // assigned in enqueue order), i.e. strictly increasing.
    assert!(m.log.windows(2).all(|w| w[0] < w[1]));

    // Release everything: every admitted job releases exactly once.
    drop(tickets);
    drop(permits);
    assert_eq!((a.running(), a.queued()), (0, 0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn matches_sequential_model(
        k in 0..6usize,
        q in 0..6usize,
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        run_model(k, q, ops);
    }
}

// ---------------------------------------------------------------------------
// Multi-threaded stress
// ---------------------------------------------------------------------------

/// Takes a permit (waiting on the ticket if needed), retrying when full.
fn acquire(a: &Arc<Admission>) -> (Permit, bool) {
    loop {
        match a.try_admit() {
            Admit::Run(p) => return (p, false),
            Admit::Wait(t) => return (futures_executor::block_on(t), true),
            Admit::Full => thread::yield_now(),
        }
    }
}

fn hold(holders: &AtomicUsize, max: usize, p: Permit) {
    let now = holders.fetch_add(1, SeqCst) + 1;
    assert!(now <= max, "{now} concurrent holders > {max}");
    // Hold the slot across a reschedule so that other threads pile up.
    thread::yield_now();
    holders.fetch_sub(1, SeqCst);
    drop(p);
}

#[test]
fn stress_k2_q8_four_threads() {
    const THREADS: usize = 4;
    const ITERS: usize = 20_000;
    let _cpu = exclusive_cpu();
    let a = Admission::new(2, 8);
    let holders = Arc::new(AtomicUsize::new(0));
    let waited = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (a, holders, waited) = (Arc::clone(&a), Arc::clone(&holders), Arc::clone(&waited));
            thread::spawn(move || {
                for _ in 0..ITERS {
                    let (p, w) = acquire(&a);
                    if w {
                        waited.fetch_add(1, SeqCst);
                    }
                    hold(&holders, 2, p);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!((a.running(), a.queued()), (0, 0));
    eprintln!(
        "stress: {} ops in {:?}, {} waited",
        THREADS * ITERS,
        start.elapsed(),
        waited.load(SeqCst)
    );
}

#[test]
fn stress_with_cancellation_and_resizing() {
    const THREADS: usize = 3;
    const ITERS: usize = 10_000;
    const MAX_K: usize = 3;
    let _cpu = exclusive_cpu();
    let a = Admission::new(2, 4);
    let holders = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let resizer = {
        let (a, stop) = (Arc::clone(&a), Arc::clone(&stop));
        thread::spawn(move || {
            let limits = [(1, 4), (MAX_K, 4), (2, 0), (1, 1), (MAX_K, 2)];
            let mut i = 0;
            while !stop.load(SeqCst) {
                let (k, q) = limits[i % limits.len()];
                a.set_limits(k, q);
                i += 1;
                thread::yield_now();
            }
            a.set_limits(2, 4);
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|n| {
            let (a, holders) = (Arc::clone(&a), Arc::clone(&holders));
            thread::spawn(move || {
                for i in 0..ITERS {
                    match a.try_admit() {
                        Admit::Run(p) => hold(&holders, MAX_K, p),
                        // Cancel some tickets right away (possibly already granted).
                        Admit::Wait(t) if (i + n) % 3 == 0 => drop(t),
                        Admit::Wait(t) => hold(&holders, MAX_K, futures_executor::block_on(t)),
                        Admit::Full => thread::yield_now(),
                    }
                }
            })
        })
        .collect();
    for h in workers {
        h.join().unwrap();
    }
    stop.store(true, SeqCst);
    resizer.join().unwrap();
    assert_eq!((a.running(), a.queued()), (0, 0));
}

// ---------------------------------------------------------------------------
// Targeted races (two threads started in lock-step, with swept delays)
// ---------------------------------------------------------------------------

/// Serialises the multi-threaded tests: there may be only two cores, and a
/// race test needs both of its threads running at the same time.
fn exclusive_cpu() -> std::sync::MutexGuard<'static, ()> {
    static CPU: Mutex<()> = Mutex::new(());
    CPU.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn spin(n: usize) {
    for _ in 0..n {
        std::hint::spin_loop();
    }
}

/// Runs `rounds` rounds; in each, `setup` runs alone, then `a` (this thread)
/// and `b` (a helper thread) start together, then `check` sees both results
/// once both are done. The start of the later thread is delayed by an offset
/// that is steered (from timestamps taken just before `a` and `b`) towards
/// the point where both act at the same instant, plus jitter, so that the
/// two critical sections overlap in many relative positions despite noisy
/// scheduling. Returns how many rounds `b` started first.
fn lockstep<S, RA, RB: Send>(
    rounds: usize,
    mut setup: impl FnMut(usize) -> S,
    mut a: impl FnMut(S) -> RA,
    b: impl Fn(usize) -> RB + Sync,
    mut check: impl FnMut(RA, RB),
) -> usize {
    let _cpu = exclusive_cpu();
    let go = AtomicUsize::new(0);
    // Offset in spin iterations: > 0 delays `a`, < 0 delays `b`.
    let b_delay = AtomicUsize::new(0);
    let mut offset: isize = 0;
    let mut b_first = 0;
    let (tx, rx) = std::sync::mpsc::channel();
    thread::scope(|s| {
        let (go, b, b_delay) = (&go, &b, &b_delay);
        s.spawn(move || {
            for r in 1..=rounds {
                while go.load(SeqCst) != r {
                    std::hint::spin_loop();
                }
                spin(b_delay.load(SeqCst));
                let tb = Instant::now();
                tx.send((tb, b(r))).unwrap();
            }
        });
        for r in 1..=rounds {
            let state = setup(r);
            let jitter = (r * 7919 % 65) as isize - 32;
            let eff = offset + jitter;
            b_delay.store((-eff).max(0) as usize, SeqCst);
            go.store(r, SeqCst);
            spin(eff.max(0) as usize);
            let ta = Instant::now();
            let ra = a(state);
            let (tb, rb) = rx.recv().unwrap();
            if tb < ta {
                b_first += 1;
                offset -= 2;
            } else {
                offset += 2;
            }
            offset = offset.clamp(-512, 512);
            check(ra, rb);
        }
    });
    b_first
}

/// A slot freed while a newcomer finds every slot busy and enqueues must be
/// handed to that newcomer (catches a missing drain after the push, or a
/// missing re-check after a drainer gives its reservation back).
#[test]
fn race_release_vs_enqueue_loses_no_wakeup() {
    let adm = Admission::new(1, 1);
    let mut waited = 0;
    let b_first = lockstep(
        20_000,
        |_| adm.try_run().unwrap(),
        drop,
        |_| adm.try_admit(),
        |(), outcome| match outcome {
            Admit::Run(p) => drop(p),
            Admit::Wait(mut t) => {
                waited += 1;
                let (running, queued) = (adm.running(), adm.queued());
                match poll_noop(&mut t) {
                    Poll::Ready(p) => drop(p),
                    Poll::Pending => {
                        panic!("lost wake-up: running={running} queued={queued}")
                    }
                }
            }
            Admit::Full => panic!("Full with an empty queue"),
        },
    );
    assert_eq!((adm.running(), adm.queued()), (0, 0));
    eprintln!("release vs enqueue: b first in {b_first}, queued in {waited} of 20000 rounds");
}

/// While a slot is being handed to a waiter, a concurrent newcomer must not
/// take it (FIFO), neither through `try_run` nor through `try_admit`.
#[test]
fn race_release_vs_newcomer_keeps_fifo() {
    let adm = Admission::new(1, 2);
    let b_first = lockstep(
        20_000,
        |_| (run(&adm), wait(&adm)),
        |(p, t)| {
            drop(p);
            t
        },
        |r| {
            if r % 2 == 0 {
                adm.try_run().map(Admit::Run).unwrap_or(Admit::Full)
            } else {
                adm.try_admit()
            }
        },
        |mut t, outcome| {
            let p = ready(&mut t);
            match outcome {
                Admit::Run(_) => panic!("newcomer overtook a waiter"),
                Admit::Full => drop(p),
                Admit::Wait(mut t2) => {
                    assert!(poll_noop(&mut t2).is_pending());
                    drop(p);
                    drop(ready(&mut t2));
                }
            }
        },
    );
    assert_eq!((adm.running(), adm.queued()), (0, 0));
    eprintln!("release vs newcomer: b first in {b_first} of 20000 rounds");
}

#[derive(Debug, Clone, Copy)]
enum RuleOp {
    Admit,
    Run,
    /// Release the i-th (mod count) running job.
    Release(usize),
}

fn rule_op() -> impl Strategy<Value = RuleOp> {
    prop_oneof![
        Just(RuleOp::Admit),
        Just(RuleOp::Run),
        (0usize..16).prop_map(RuleOp::Release)
    ]
}

proptest! {
    /// The pure rule (`rule::Sequential`, used by the simulator) and the atomic admission agree on every
    /// outcome and count, on one thread, for any sequence of admissions and releases.
    #[test]
    fn sequential_rule_matches_the_atomic_admission(
        k in 0usize..4, q in 0usize..4, ops in proptest::collection::vec(rule_op(), 0..60)
    ) {
        use crate::scheduler::Admission as Mode;
        use rule::{Sequential, Verdict};
        let a = Admission::new(k, q);
        let mut s = Sequential::new(k, q);
        let mut permits: Vec<Permit> = Vec::new();
        let mut tickets: VecDeque<Ticket> = VecDeque::new();
        for op in ops {
            match op {
                RuleOp::Admit => match (a.try_admit(), s.admit(Mode::Queue)) {
                    (Admit::Run(p), Verdict::Run) => permits.push(p),
                    (Admit::Wait(t), Verdict::Wait) => tickets.push_back(t),
                    (Admit::Full, Verdict::Full) => {}
                    (got, want) => prop_assert!(false, "{got:?} vs {want:?}"),
                },
                RuleOp::Run => match (a.try_run(), s.admit(Mode::NoQueue)) {
                    (Some(p), Verdict::Run) => permits.push(p),
                    (None, Verdict::Full) => {}
                    (got, want) => prop_assert!(false, "{got:?} vs {want:?}"),
                },
                RuleOp::Release(i) => {
                    if permits.is_empty() {
                        continue;
                    }
                    drop(permits.swap_remove(i % permits.len()));
                    let handed = s.release();
                    let granted = match tickets.front_mut().map(poll_noop) {
                        Some(Poll::Ready(p)) => {
                            tickets.pop_front();
                            permits.push(p);
                            true
                        }
                        _ => false,
                    };
                    prop_assert_eq!(handed, granted);
                }
            }
            prop_assert_eq!((a.running(), a.queued()), (s.running(), s.queued()));
        }
    }
}
