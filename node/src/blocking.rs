//! The blocking pool: threads for work that must never run on an I/O thread (CPU-bound built-ins,
//! process functions, which hold a thread for their whole run, and file writes).
//!
//! Threads are started on demand up to a limit and exit after sitting idle, so a node configured with a
//! large K costs no memory until that many blocking calls actually run at once. The limit can be raised
//! or lowered at run time (K changes). Submitting takes a short mutex: every job it guards costs far more
//! (a fork, a file write, milliseconds of CPU) than the lock, and the I/O hot path never submits.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use monoio::blocking::{BlockingTask, ThreadPool};

/// How long an idle thread waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    queue: VecDeque<BlockingTask>,
    /// Threads alive.
    threads: usize,
    /// Threads running a job; the others are waiting for one (or about to check the queue).
    busy: usize,
    max: usize,
}

impl State {
    /// A queued job has no free thread to take it, and the limit allows one more.
    fn needs_thread(&self) -> bool {
        self.threads - self.busy < self.queue.len() && self.threads < self.max
    }
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
}

/// A handle on the pool; clones share it.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("Pool")
            .field("threads", &s.threads)
            .field("busy", &s.busy)
            .field("max", &s.max)
            .field("queued", &s.queue.len())
            .finish()
    }
}

impl Pool {
    /// A pool that runs at most `max` jobs at once (at least 1); no thread starts until needed.
    pub fn new(max: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    max: max.max(1),
                    ..State::default()
                }),
                work: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the limit; queued jobs start at once if it grew.
    pub fn set_max(&self, max: usize) {
        let mut s = self.lock();
        s.max = max.max(1);
        while s.needs_thread() {
            if !self.spawn(&mut s) {
                break;
            }
        }
    }

    /// Threads alive now (for tests and metrics).
    pub fn threads(&self) -> usize {
        self.lock().threads
    }

    /// Starts one more thread; false if the OS refused (jobs then wait for a running thread).
    fn spawn(&self, s: &mut State) -> bool {
        let shared = Arc::clone(&self.shared);
        let started = thread::Builder::new()
            .name("p2pfaas-blocking".into())
            .spawn(move || run(&shared))
            .is_ok();
        if started {
            s.threads += 1;
        } else {
            tracing::warn!("cannot start a blocking-pool thread; jobs wait for a free one");
        }
        started
    }
}

/// One pool thread: take jobs until idle for `IDLE_EXIT`, or until the pool shrank below its count.
fn run(shared: &Shared) {
    let mut s = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if s.threads > s.max {
            break;
        }
        if let Some(task) = s.queue.pop_front() {
            s.busy += 1;
            drop(s);
            task.run();
            s = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            s.busy -= 1;
            continue;
        }
        let (guard, timeout) = shared
            .work
            .wait_timeout(s, IDLE_EXIT)
            .unwrap_or_else(PoisonError::into_inner);
        s = guard;
        if timeout.timed_out() && s.queue.is_empty() {
            break;
        }
    }
    s.threads -= 1;
}

impl ThreadPool for Pool {
    fn schedule_task(&self, task: BlockingTask) {
        let mut s = self.lock();
        s.queue.push_back(task);
        // Wake one waiting thread per job (each notify reaches a different waiter); start a thread when
        // every existing one is already spoken for.
        self.shared.work.notify_one();
        if s.needs_thread() {
            self.spawn(&mut s);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use super::*;

    /// Runs `n` blocking jobs that each wait on a barrier-like counter, inside a monoio runtime using `pool`.
    fn run_jobs(pool: &Pool, n: usize, hold: Duration) -> usize {
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .attach_thread_pool(Box::new(pool.clone()))
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        rt.block_on(async {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (peak, now) = (Arc::clone(&peak), Arc::clone(&now));
                    monoio::spawn_blocking(move || {
                        let c = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(c, Ordering::SeqCst);
                        thread::sleep(hold);
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            for h in handles {
                assert!(h.await.is_ok());
            }
        });
        peak.load(Ordering::SeqCst)
    }

    #[test]
    fn starts_threads_on_demand_up_to_the_limit() {
        let pool = Pool::new(3);
        assert_eq!(pool.threads(), 0, "no thread before the first job");
        assert_eq!(run_jobs(&pool, 6, Duration::from_millis(100)), 3);
        assert!(pool.threads() <= 3);
    }

    #[test]
    fn raising_the_limit_takes_effect() {
        let pool = Pool::new(1);
        assert_eq!(run_jobs(&pool, 3, Duration::from_millis(50)), 1);
        pool.set_max(4);
        let t0 = Instant::now();
        assert_eq!(run_jobs(&pool, 4, Duration::from_millis(200)), 4);
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
}
