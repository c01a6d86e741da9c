//! The simulator does not allocate per event: a counting global allocator shows that ten times more
//! arrivals cost only a handful more allocations (the result vectors doubling), not one per request.
//! Counting is limited to the test's own thread (a const thread-local flag, which never allocates).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use p2pfaas_bench::experiment::spec::Spec;
use p2pfaas_bench::sim::{self, SimOptions};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if ARMED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// Forwarding to `System` needs `unsafe impl`, which this test file allows itself; the crate under
// test stays `forbid(unsafe_code)`.
#[allow(unsafe_code, reason = "a GlobalAlloc impl is unsafe by definition")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SPEC: &str = r#"
name = "alloc"
[cluster]
nodes = 12
slots = 10
queue_len = 2
link_delay_ms = 5
[function]
builtin = "sleep"
mean_ms = 1000
[traffic]
rho = [0.9]
duration_s = 1
warmup_s = 10
[simulation]
probe_delay_ms = 1
view_refresh_ms = 500
[[mix]]
deadline_ms = 1500
[[scheduler]]
name = "PowerOfNScheduler"
parameters = ["1", "9", "false", "2"]
[[scheduler]]
name = "LeastLoadedCached"
parameters = ["2", "9"]
[[scheduler]]
name = "LearningScheduler"
parameters = ["1"]
"#;

fn allocations(spec: &Spec, arrivals: u64) -> usize {
    let options = SimOptions {
        arrivals: Some(arrivals),
        progress: false,
        // Counted on this thread only.
        threads: 1,
        save_weights: None,
    };
    ALLOCATIONS.store(0, Ordering::SeqCst);
    ARMED.with(|a| a.set(true));
    let report = sim::run(spec, &options);
    ARMED.with(|a| a.set(false));
    let report = report.expect("simulates");
    assert!(report.rows.iter().all(|r| r.sent >= arrivals * 9 / 10));
    ALLOCATIONS.load(Ordering::SeqCst)
}

#[test]
fn ten_times_the_arrivals_cost_no_allocation_per_request() {
    let spec = Spec::parse(SPEC).expect("valid spec");
    let small = allocations(&spec, 10_000);
    let large = allocations(&spec, 100_000);
    // 90,000 more requests per scheduler: a few Vec doublings and heap/slab growth, not 270,000.
    assert!(
        large.saturating_sub(small) < 300,
        "{small} allocations for 10⁴ arrivals, {large} for 10⁵"
    );
}
