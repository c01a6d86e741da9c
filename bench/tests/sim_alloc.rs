//! The simulator does not allocate per event: a counting global allocator shows that ten times more
//! arrivals cost only a handful more allocations (the result vectors doubling), not one per request.
//! Counting (`p2pfaas-alloc-count`) is limited to the test's own thread.

use p2pfaas_alloc_count::count;
use p2pfaas_bench::experiment::spec::Spec;
use p2pfaas_bench::sim::{self, SimOptions};

#[global_allocator]
static GLOBAL: p2pfaas_alloc_count::Counting = p2pfaas_alloc_count::Counting;

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
    let (report, allocations) = count(|| sim::run(spec, &options));
    let report = report.expect("simulates");
    assert!(report.rows.iter().all(|r| r.sent >= arrivals * 9 / 10));
    allocations
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
