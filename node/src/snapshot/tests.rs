use std::time::Duration;

use super::*;
use crate::metrics::Outcome;

fn sample(id: &str, forwarded: u64) -> NodeSnapshot {
    NodeSnapshot {
        id: id.into(),
        addr: "127.0.0.1:1".into(),
        t: 1_700_000_000_000,
        uptime_s: 1.5,
        running: 2,
        queued: 1,
        slots: 4,
        queue_len: 4,
        counters: Totals {
            calls: Calls {
                ok: 10,
                ..Calls::default()
            },
            forwarded,
            ..Totals::default()
        },
        scheduler: "NoScheduler(false)".into(),
        driver: "epoll".into(),
        load: Load::from(&LoadSample::EMPTY),
        learner: Learner::default(),
        peers: vec![Link {
            id: "b".into(),
            addr: "127.0.0.1:2".into(),
            up: true,
            forwarded,
        }],
    }
}

#[test]
fn totals_sum_every_shard_by_outcome_and_bucket() {
    let (a, b) = (WorkerMetrics::new(), WorkerMetrics::new());
    let (fa, fb) = (FunctionMetrics::default(), FunctionMetrics::default());
    fa.record(Outcome::Ok, Duration::from_micros(50));
    fa.record(Outcome::Overloaded, Duration::ZERO);
    fb.record(Outcome::Ok, Duration::from_millis(30));
    fb.record(Outcome::Rejected, Duration::ZERO);
    fb.record(Outcome::Timeout, Duration::ZERO);
    fb.record(Outcome::FunctionError, Duration::ZERO);
    a.forwarded
        .fetch_add(3, std::sync::atomic::Ordering::Relaxed);
    b.forwarded
        .fetch_add(4, std::sync::atomic::Ordering::Relaxed);
    b.deadline_met
        .fetch_add(5, std::sync::atomic::Ordering::Relaxed);
    a.deadline_missed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = totals(&[&a, &b], [&fa, &fb]);
    assert_eq!(
        t.calls,
        Calls {
            ok: 2,
            overloaded: 1,
            rejected: 1,
            timeout: 1,
            failed: 1
        }
    );
    // 50 µs falls in the first bucket (≤ 100 µs), 30 ms in the ≤ 50 ms one; only answered calls count.
    assert_eq!(t.latency.iter().sum::<u64>(), 2);
    assert_eq!(t.latency[0], 1);
    let b50ms = LATENCY_BOUNDS.iter().position(|b| *b == 0.05).unwrap_or(99);
    assert_eq!(t.latency[b50ms], 1);
    assert_eq!((t.forwarded, t.deadline_met, t.deadline_missed), (7, 5, 1));
}

#[test]
fn a_snapshot_round_trips_through_json_with_its_field_names() {
    let s = sample("a", 9);
    let text = serde_json::to_string(&s).unwrap_or_default();
    for field in [
        "\"id\":\"a\"",
        "\"running\":2",
        "\"calls\":{\"ok\":10,",
        "\"forwarded\":9,",
        "\"slots\":4",
        "\"scheduler\":\"NoScheduler(false)\"",
        "\"source\":\"none\"",
        "\"epsilon\":",
        "\"runq_p99_us\":null",
    ] {
        assert!(text.contains(field), "{field} missing from {text}");
    }
    assert!(!text.contains('\n'), "compact JSON has no newline");
    let back: NodeSnapshot = serde_json::from_str(&text).unwrap_or_else(|_| sample("x", 0));
    assert_eq!(back, s);
    // A whole snapshot of a node with one peer stays small: the per-second cost is this many bytes.
    assert!(text.len() < 1024, "{} bytes", text.len());
}

#[test]
fn the_frame_lists_this_node_first_and_names_missing_peers() {
    let own = serde_json::to_value(sample("a", 1)).unwrap_or_default();
    let b = serde_json::to_value(sample("b", 2)).unwrap_or_default();
    let peers = [
        PeerState {
            id: "b",
            addr: "127.0.0.1:2",
            snapshot: Some(&b),
        },
        PeerState {
            id: "c",
            addr: "127.0.0.1:3",
            snapshot: None,
        },
    ];
    let f = frame(&own, "a", true, &peers);
    let v = serde_json::to_value(&f).unwrap_or_default();
    assert_eq!(v["self"], "a");
    assert_eq!(v["signed"], true);
    assert_eq!(v["nodes"][0]["id"], "a");
    assert_eq!(v["nodes"][1]["id"], "b");
    assert_eq!(v["nodes"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["unreachable"][0]["id"], "c");
    assert_eq!(
        v["bounds"].as_array().map(Vec::len),
        Some(BUCKETS - 1),
        "the +Inf bucket has no bound"
    );
}

#[test]
fn sse_events_put_every_line_in_a_data_field_and_end_with_a_blank_line() {
    let mut out = Vec::new();
    sse_event(&mut out, br#"{"a":1}"#);
    assert_eq!(out, b"data: {\"a\":1}\n\n");
    out.clear();
    sse_event(&mut out, b"one\r\ntwo\nthree");
    assert_eq!(out, b"data: one\ndata: two\ndata: three\n\n");
    // Two events in a row parse as two: each is terminated by exactly one blank line.
    out.clear();
    sse_event(&mut out, b"x");
    sse_event(&mut out, b"y");
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.split("\n\n").filter(|e| !e.is_empty()).count(), 2);
}

#[test]
fn the_stream_head_is_an_uncached_event_stream_closed_by_the_server() {
    let head = String::from_utf8_lossy(SSE_HEAD);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(head.contains("\r\nContent-Type: text/event-stream\r\n"));
    assert!(head.contains("\r\nCache-Control: no-store\r\n"));
    assert!(head.contains("\r\nConnection: close\r\n\r\n"));
    assert!(!head.to_ascii_lowercase().contains("content-length"));
    assert!(head.ends_with("\r\n\r\nretry: 2000\n\n"));
}
