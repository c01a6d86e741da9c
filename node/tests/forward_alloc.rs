//! Counts the heap allocations of a forwarded call: two nodes (origin A, executor B) and the client run
//! on this test's one monoio runtime, so the workspace's counting allocator (`p2pfaas-alloc-count`,
//! which counts this thread only) sees every allocation of both nodes' native peer path.
//!
//! Both nodes are warmed up first (connections open, pools, tables and buffers sized); the steady state
//! is then counted over `CALLS` calls of `echo` that A forwards to B. Origin and executor allocate
//! nothing per call; the only allocations allowed are the executor's at-most-once table growing (see
//! `GROWTH`).

use std::collections::BTreeSet;
use std::time::Duration;

use p2pfaas_alloc_count::count;

mod alloc_support;
use alloc_support::{Client, node, runtime, serve};

#[global_allocator]
static GLOBAL: p2pfaas_alloc_count::Counting = p2pfaas_alloc_count::Counting;

const WARM_UP: usize = 200;
const CALLS: usize = 1000;
/// The executor's at-most-once table (`p2pfaas_core::jobs::JobTable`) remembers every received job id
/// for two minutes, inline (no allocation per id), in storage that doubles as it fills: over the
/// counted calls it grows from ~`WARM_UP` to ~`WARM_UP + CALLS` ids, i.e. a few doublings of its
/// record queue and index (3 + 3 allocations: none left with both pre-sized). Once it holds two
/// minutes of ids it stops growing (`core/tests/jobs_alloc.rs` proves zero there). Measured 6 (the one
/// more once seen here is `block_on`'s own, measured and subtracted below).
const GROWTH: usize = 8;

const ECHO: &str = r#"
[functions.echo]
backend = "builtin"
builtin = "echo"
"#;

#[test]
fn a_forwarded_call_allocates_nothing() {
    let dir = std::env::temp_dir().join(format!("p2pfaas-forward-alloc-{}", std::process::id()));
    let (a, b) = (node("a", &dir, ECHO), node("b", &dir, ECHO));
    let mut rt = runtime();
    let (mut client, warm) = rt.block_on(async {
        let addr_a = serve(&a).await;
        let addr_b = serve(&b).await;
        let id = a.peers.add(&addr_b.to_string()).expect("peer b");
        a.peers
            .report_identity(id, "b", BTreeSet::from(["echo".to_owned()]));
        let request = format!(
            "POST /function/echo HTTP/1.1\r\nHost: {addr_a}\r\nX-P2pfaas-Scheduler-Forward: true\r\n\
             Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
        )
        .into_bytes();
        let mut client = Client::connect(addr_a, request).await;
        let mut warm = 0;
        for _ in 0..WARM_UP {
            let answer = client.call().await;
            assert_eq!((answer.status, answer.body_len), (200, 5));
            warm += usize::from(answer.forwarded);
        }
        (client, warm)
    });
    assert_eq!(warm, WARM_UP, "every warm-up call was forwarded to b");
    // `block_on` itself allocates (monoio boxes the future as a task): measured, not guessed.
    let ((), runtime) = count(|| rt.block_on(async {}));
    // The nodes' tasks stay on the runtime between `block_on`s: every poll of both nodes and the client
    // during the counted calls runs inside `count`, on this thread.
    let (calls, allocations) = count(|| {
        rt.block_on(async {
            let calls = async {
                let mut calls = 0;
                for _ in 0..CALLS {
                    let answer = client.call().await;
                    assert_eq!(answer.status, 200);
                    calls += usize::from(answer.forwarded);
                }
                calls
            };
            monoio::time::timeout(Duration::from_secs(60), calls).await
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(calls.expect("in time"), CALLS, "every call was forwarded");
    eprintln!(
        "{allocations} allocations over {CALLS} forwarded calls ({runtime} of them `block_on`'s own)"
    );
    let allocations = allocations - runtime;
    assert!(
        allocations <= GROWTH,
        "the peer path allocates in steady state: {allocations} allocations over {CALLS} forwarded \
         calls (allowed: {GROWTH}, for the executor's at-most-once table growing)"
    );
}
