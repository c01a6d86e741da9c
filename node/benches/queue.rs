//! Cost of one admit + release cycle of the node-wide [`Admission`] control.
//!
//! * `uncontended/try_admit+drop`: one thread, K = 4, Q = 4; each iteration is
//!   `try_admit()` -> `Run(permit)` -> drop the permit (the fast path taken by
//!   every request when the node is not saturated).
//! * `uncontended/try_run+drop`: same via the never-queueing `try_run`.
//! * `contended_2t/free_slots`: 2 threads hammer the same `Admission` with
//!   K = 64 (slots are always free): pure cache-line contention on the
//!   counters. The reported time per iteration is the wall time for *each*
//!   thread to complete one admit + release while the other does the same.
//! * `contended_2t/k1_handoff`: 2 threads, K = 1, Q = 8: a thread finding the
//!   slot busy queues a ticket and parks on it (`futures_executor::block_on`),
//!   and the releasing thread hands the slot over and unparks it. Measures the
//!   full hand-off path including the cross-thread wake; dominated by thread
//!   parking on the shared cores.
//!
//! Run with:
//! `cargo bench --bench queue -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use p2pfaas_node::queue::{Admission, Admit};

/// One admit + release; waits on the ticket if the request was queued.
fn cycle(a: &Arc<Admission>) {
    match a.try_admit() {
        Admit::Run(p) => drop(black_box(p)),
        Admit::Wait(t) => drop(black_box(futures_executor::block_on(t))),
        Admit::Full => panic!("queue full in benchmark"),
    }
}

/// Runs `iters` cycles on each of `threads` threads at once; returns the
/// longest per-thread wall time (measured between a barrier and the end).
fn contended(a: &Arc<Admission>, threads: usize, iters: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (a, barrier) = (Arc::clone(a), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    cycle(&a);
                }
                start.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("bench thread panicked"))
        .max()
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("uncontended");
    let a = Admission::new(4, 4);
    g.bench_function("try_admit+drop", |b| b.iter(|| cycle(&a)));
    g.bench_function("try_run+drop", |b| {
        b.iter(|| drop(black_box(a.try_run())));
    });
    g.finish();

    let mut g = c.benchmark_group("contended_2t");
    let free = Admission::new(64, 8);
    g.bench_function("free_slots", |b| {
        b.iter_custom(|iters| contended(&free, 2, iters));
    });
    let k1 = Admission::new(1, 8);
    g.bench_function("k1_handoff", |b| {
        b.iter_custom(|iters| contended(&k1, 2, iters));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
