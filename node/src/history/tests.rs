use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::snapshot::Calls;

/// A record whose every field is derived from `n`, so a torn read shows as a mismatch.
fn numbered(n: u32) -> Record {
    Record {
        t_s: 1_700_000_000 + n,
        interval_ms: 1000 + n % 7,
        load: (n % 60_000) as u16,
        slots: (n % 50_000) as u16,
        calls: n.wrapping_mul(3),
        rejected: n.wrapping_mul(5),
        deadline_met: n.wrapping_mul(7),
        deadline_missed: n.wrapping_mul(11),
        p99_us: (!n.is_multiple_of(3)).then_some(n.wrapping_mul(13) % 5_000_000),
    }
}

fn records(ring: &Ring) -> Vec<Record> {
    let mut out = Vec::new();
    ring.read_into(&mut out);
    out
}

#[test]
fn an_empty_ring_has_no_records() {
    let ring = Ring::new();
    assert!(records(&ring).is_empty());
    assert_eq!(ring.written(), 0);
}

#[test]
fn a_record_round_trips_through_its_words() {
    for n in [0, 1, 2, 3, 299, 65_535, 1_000_003] {
        let r = numbered(n);
        assert_eq!(Record::decode(&r.encode()), r);
    }
    let edge = Record {
        load: u16::MAX,
        slots: u16::MAX,
        p99_us: Some(0),
        ..Record::default()
    };
    assert_eq!(Record::decode(&edge.encode()), edge);
}

#[test]
fn before_it_is_full_the_ring_returns_what_was_pushed_in_order() {
    let ring = Ring::new();
    for n in 0..10 {
        ring.push(&numbered(n));
    }
    assert_eq!(records(&ring), (0..10).map(numbered).collect::<Vec<_>>());
}

#[test]
fn it_wraps_around_keeping_the_last_len_records_oldest_first() {
    let ring = Ring::new();
    let total = 2 * LEN as u32 + 17;
    for n in 0..total {
        ring.push(&numbered(n));
        let got = records(&ring);
        // Bounded at every step, always ending with the newest.
        assert_eq!(got.len(), (n as usize + 1).min(LEN));
        assert_eq!(got.last(), Some(&numbered(n)));
    }
    assert_eq!(ring.written(), u64::from(total));
    let want: Vec<Record> = (total - LEN as u32..total).map(numbered).collect();
    assert_eq!(records(&ring), want);
}

#[test]
fn its_memory_is_fixed_and_small() {
    // What the docs claim: 300 records of eight 32-bit words.
    assert_eq!(std::mem::size_of::<[[AtomicU32; WORDS]; LEN]>(), 9_600);
}

#[test]
fn a_reader_never_sees_a_torn_record_while_the_writer_pushes() {
    let ring = Arc::new(Ring::new());
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (ring, done) = (Arc::clone(&ring), Arc::clone(&done));
        std::thread::spawn(move || {
            for n in 0..20_000 {
                ring.push(&numbered(n));
                // Give the reader turns mid-stream, not only after the last push.
                std::thread::yield_now();
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut out = Vec::new();
    let mut reads = 0;
    while !done.load(Ordering::Acquire) || reads == 0 {
        ring.read_into(&mut out);
        // Consecutive records, each whole.
        let first = out.first().map_or(0, |r| r.t_s - 1_700_000_000);
        for (i, r) in out.iter().enumerate() {
            assert_eq!(*r, numbered(first + i as u32), "read {reads}, record {i}");
        }
        reads += 1;
    }
    writer.join().expect("writer");
    assert_eq!(records(&ring).len(), LEN);
}

fn totals(ok: u64, overloaded: u64, rejected: u64, fast: u64, slow: u64, met: u64) -> Totals {
    let mut latency = [0; BUCKETS];
    latency[3] = fast; // (0.5 ms, 1 ms]
    latency[BUCKETS - 1] = slow; // beyond 5 s
    Totals {
        calls: Calls {
            ok,
            overloaded,
            rejected,
            timeout: 1,
            failed: 0,
        },
        latency,
        deadline_met: met,
        deadline_missed: 2,
        ..Totals::default()
    }
}

#[test]
fn a_record_holds_what_changed_over_the_interval() {
    let prev = totals(100, 10, 5, 100, 0, 40);
    let cur = totals(200, 13, 6, 200, 0, 70);
    let gauges = Gauges {
        running: 3,
        queued: 2,
        slots: 4,
    };
    let r = Record::between(
        &prev,
        &cur,
        gauges,
        1_700_000_000_499,
        Duration::from_millis(1003),
    );
    assert_eq!(r.t_s, 1_700_000_000);
    assert_eq!(r.interval_ms, 1003);
    assert_eq!((r.load, r.slots), (5, 4));
    assert_eq!(r.calls, 104);
    assert_eq!(r.rejected, 4);
    assert_eq!((r.deadline_met, r.deadline_missed), (30, 0));
    // 100 answered calls, all in (0.5 ms, 1 ms]: p99 interpolates to 0.995 ms.
    assert_eq!(r.p99_us, Some(995));
    // Rounded to the nearest second.
    let later = Record::between(&prev, &cur, gauges, 1_700_000_000_500, Duration::ZERO);
    assert_eq!(later.t_s, 1_700_000_001);
}

#[test]
fn without_answered_calls_there_is_no_p99_and_beyond_the_last_bound_it_is_capped() {
    let idle = totals(5, 0, 0, 5, 0, 0);
    let quiet = Record::between(&idle, &idle, Gauges::default(), 0, Duration::ZERO);
    assert_eq!((quiet.calls, quiet.p99_us), (0, None));
    let slow = Record::between(
        &idle,
        &totals(15, 0, 0, 5, 10, 0),
        Gauges::default(),
        0,
        Duration::ZERO,
    );
    assert_eq!(slow.p99_us, Some(5_000_000));
}

#[test]
fn counters_that_went_backwards_count_zero_and_gauges_saturate() {
    let r = Record::between(
        &totals(10, 10, 10, 10, 0, 10),
        &totals(0, 0, 0, 0, 0, 0),
        Gauges {
            running: 65_536,
            queued: 65_536,
            slots: 65_536,
        },
        0,
        Duration::ZERO,
    );
    assert_eq!(
        (r.calls, r.rejected, r.deadline_met, r.p99_us),
        (0, 0, 0, None)
    );
    assert_eq!((r.load, r.slots), (u16::MAX, u16::MAX));
}

#[test]
fn quantiles_interpolate_inside_the_bucket() {
    let mut d = [0; BUCKETS];
    d[0] = 50; // (0, 0.1 ms]
    d[1] = 50; // (0.1 ms, 0.25 ms]
    assert_eq!(quantile(&d, 0.5), Some(0.000_1));
    let p99 = quantile(&d, 0.99).expect("calls");
    assert!((p99 - 0.000_247).abs() < 1e-9, "{p99}");
    assert_eq!(quantile(&[0; BUCKETS], 0.5), None);
}

#[test]
fn a_series_is_the_records_as_columns() {
    let rs: Vec<Record> = (0..4).map(numbered).collect();
    let s = Series::new("a".into(), "127.0.0.1:1".into(), &rs);
    assert_eq!(s.t, rs.iter().map(|r| r.t_s).collect::<Vec<_>>());
    assert_eq!(s.p99_us, rs.iter().map(|r| r.p99_us).collect::<Vec<_>>());
    let json = serde_json::to_value(&s).expect("json");
    assert_eq!(json["id"], "a");
    assert_eq!(json["calls"], serde_json::json!([0, 3, 6, 9]));
    // No answered call: null, not a number.
    assert_eq!(json["p99_us"][0], serde_json::Value::Null);
    assert_eq!(
        serde_json::from_value::<Series>(json).expect("round trip"),
        s
    );
}
