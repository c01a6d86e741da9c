//! The executor's at-most-once table allocates nothing once it holds its working set of ids: counted
//! with the workspace's counting allocator (`p2pfaas-alloc-count`, this thread only) over a long run
//! of arrive → start → end, both when ids leave by expiry and when they leave by eviction.

use std::time::Duration;

use p2pfaas_alloc_count::count;
use p2pfaas_core::jobs::{Arrival, JobTable};

#[global_allocator]
static GLOBAL: p2pfaas_alloc_count::Counting = p2pfaas_alloc_count::Counting;

const CALLS: u64 = 100_000;

/// Runs `calls` jobs with ids `<origin>/<n>` from `n = from`, one every millisecond from `from` ms,
/// with ids written into the caller's buffer `id`.
fn jobs(t: &mut JobTable, id: &mut String, from: u64, calls: u64) {
    for n in from..from + calls {
        let now = Duration::from_millis(n);
        id.clear();
        id.push_str("a-machine-id-of-some-length/");
        id.push_str(itoa::Buffer::new().format(1_733_500_000_000_000 + n));
        assert_eq!(t.arrive(id, now), Arrival::New);
        assert!(t.start(id, now));
        t.end(id, 200);
    }
}

#[test]
fn a_table_in_steady_state_allocates_nothing() {
    // Ids leave by expiry: 2 s of ttl at one id per ms holds ~2,000 ids.
    let mut by_ttl = JobTable::new(100_000, Duration::from_secs(2), Duration::ZERO);
    // Ids leave by eviction: 1,000 at most.
    let mut by_capacity = JobTable::new(1_000, Duration::from_secs(3600), Duration::ZERO);
    let mut id = String::with_capacity(64);
    for t in [&mut by_ttl, &mut by_capacity] {
        jobs(t, &mut id, 0, 10_000);
        let ((), allocations) = count(|| jobs(t, &mut id, 10_000, CALLS));
        assert!(
            allocations == 0,
            "the job table allocates in steady state: {allocations} allocations over {CALLS} jobs"
        );
    }
    assert!((1_900..=2_001).contains(&by_ttl.len()), "{}", by_ttl.len());
    assert_eq!(by_capacity.len(), 1_000);
}
