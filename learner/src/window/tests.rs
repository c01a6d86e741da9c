use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

/// A trained transition, owned, for assertions.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    eid: u64,
    state: f32,
    action: u32,
    reward: f32,
    next_state: f32,
    next_action: u32,
}

/// Entry `e` carries state `[e, -e]`, action `e % 7`, reward `e / 2`, so a
/// transition can be checked against the EIDs it claims.
fn push(w: &mut Window, eid: u64) -> Push {
    let e = eid as f32;
    w.push(eid, &[e, -e], (eid % 7) as u32, e / 2.0)
}

fn drain(w: &mut Window, out: &mut Vec<Seen>) {
    w.drain(|t| out.push(seen(&t)));
}

fn flush(w: &mut Window, out: &mut Vec<Seen>) {
    w.flush(|t| out.push(seen(&t)));
}

fn seen(t: &Transition<'_>) -> Seen {
    assert_eq!(t.state.len(), 2);
    assert_eq!(t.state[1], -t.state[0]);
    assert_eq!(t.next_state[1], -t.next_state[0]);
    Seen {
        eid: t.eid,
        state: t.state[0],
        action: t.action,
        reward: t.reward,
        next_state: t.next_state[0],
        next_action: t.next_action,
    }
}

fn expected(eid: u64) -> Seen {
    let e = eid as f32;
    Seen {
        eid,
        state: e,
        action: (eid % 7) as u32,
        reward: e / 2.0,
        next_state: e + 1.0,
        next_action: ((eid + 1) % 7) as u32,
    }
}

fn eids(out: &[Seen]) -> Vec<u64> {
    out.iter().map(|s| s.eid).collect()
}

#[test]
fn rejects_bad_parameters() {
    assert_eq!(
        Window::new(1, 2, 1, 0).err(),
        Some(WindowError::CapacityTooSmall(1))
    );
    assert_eq!(Window::new(8, 0, 1, 0).err(), Some(WindowError::ZeroDims));
    assert!(matches!(
        Window::new(8, 2, 0, 0),
        Err(WindowError::WindowSize { .. })
    ));
    assert!(matches!(
        Window::new(8, 2, 8, 0),
        Err(WindowError::WindowSize { .. })
    ));
    assert!(matches!(
        Window::new(8, 2, 1, 8),
        Err(WindowError::MaxWait { .. })
    ));
    assert_eq!(
        Window::new(usize::MAX, 2, 1, 0).err(),
        Some(WindowError::TooLarge)
    );
}

#[test]
fn w1_trains_as_soon_as_successor_arrives() {
    let mut w = Window::new(16, 2, 1, 4).expect("valid");
    let mut out = Vec::new();
    assert_eq!(push(&mut w, 10), Push::Accepted);
    drain(&mut w, &mut out);
    assert!(out.is_empty());
    push(&mut w, 11);
    drain(&mut w, &mut out);
    assert_eq!(out, vec![expected(10)]);
    push(&mut w, 13);
    drain(&mut w, &mut out);
    assert_eq!(out.len(), 1, "13 waits for 12");
    push(&mut w, 12);
    drain(&mut w, &mut out);
    assert_eq!(out, vec![expected(10), expected(11), expected(12)]);
    assert_eq!(w.pending(), 1, "13 stays as the next source");
}

#[test]
fn transition_between_windows_is_learned() {
    let mut w = Window::new(64, 2, 5, 10).expect("valid");
    let mut out = Vec::new();
    for e in 0..4 {
        push(&mut w, e);
        drain(&mut w, &mut out);
    }
    assert!(out.is_empty(), "window of 5 not complete");
    push(&mut w, 4);
    drain(&mut w, &mut out);
    assert_eq!(eids(&out), vec![0, 1, 2, 3]);
    for e in 5..10 {
        push(&mut w, e);
        drain(&mut w, &mut out);
    }
    // (4, 5) crosses the window boundary and is learned.
    assert_eq!(eids(&out), (0..9).collect::<Vec<_>>());
    assert_eq!(w.stats().trained, 9);
}

#[test]
fn no_gaps_w_dividing_n_trains_n_minus_1_even_shuffled() {
    let mut w = Window::new(32, 2, 4, 8).expect("valid");
    let mut out = Vec::new();
    // 0..12, locally shuffled.
    for e in [1, 0, 3, 2, 5, 7, 4, 6, 8, 11, 10, 9] {
        push(&mut w, e);
        drain(&mut w, &mut out);
    }
    assert_eq!(eids(&out), (0..11).collect::<Vec<_>>());
}

#[test]
fn gap_is_skipped_after_max_wait_later_entries() {
    let mut w = Window::new(32, 2, 1, 3).expect("valid");
    let mut out = Vec::new();
    for e in [0, 1, 2, 4, 5] {
        push(&mut w, e);
        drain(&mut w, &mut out);
    }
    assert_eq!(eids(&out), vec![0, 1]);
    assert_eq!(w.stats().gaps_skipped, 0, "2 beyond the gap, wait is 3");
    push(&mut w, 6);
    drain(&mut w, &mut out);
    // 2 had no successor: dropped untrained; (4,5), (5,6) trained.
    assert_eq!(eids(&out), vec![0, 1, 4, 5]);
    let s = w.stats();
    assert_eq!((s.gaps_skipped, s.tails), (1, 1));
    assert_eq!(push(&mut w, 3), Push::Stale);
    assert_eq!(w.stats().stale, 1);
}

#[test]
fn gap_filled_in_time_loses_nothing() {
    let mut w = Window::new(32, 2, 3, 5).expect("valid");
    let mut out = Vec::new();
    for e in [0, 1, 3, 4, 5, 6, 2, 7, 8] {
        push(&mut w, e);
        drain(&mut w, &mut out);
    }
    assert_eq!(eids(&out), (0..8).collect::<Vec<_>>());
    assert_eq!(w.stats().gaps_skipped, 0);
}

#[test]
fn duplicates_take_no_slot() {
    let mut w = Window::new(4, 2, 3, 2).expect("valid");
    let mut out = Vec::new();
    push(&mut w, 0);
    for _ in 0..100 {
        assert_eq!(push(&mut w, 0), Push::Duplicate);
    }
    for e in 1..4 {
        push(&mut w, e);
        drain(&mut w, &mut out);
    }
    assert_eq!(eids(&out), vec![0, 1]);
    assert_eq!(w.stats().duplicates, 100);
    assert_eq!(w.stats().forced_skips, 0);
}

#[test]
fn wrong_dims_and_out_of_range_are_refused() {
    let mut w = Window::new(4, 2, 1, 0).expect("valid");
    assert_eq!(w.push(0, &[1.0], 0, 0.0), Push::WrongDims);
    assert_eq!(w.push(u64::MAX, &[1.0, 2.0], 0, 0.0), Push::OutOfRange);
    assert_eq!(w.pending(), 0);
    assert_eq!(w.stats().wrong_dims, 1);
}

#[test]
fn full_ring_force_skips_instead_of_blocking() {
    let mut w = Window::new(8, 2, 1, 7).expect("valid");
    let mut out = Vec::new();
    for e in [0, 1, 3, 4, 5, 6, 7] {
        push(&mut w, e);
        drain(&mut w, &mut out);
    }
    assert_eq!(eids(&out), vec![0]);
    // 9 does not fit in 1..9: the gap at 2 is forced, 1 is evicted.
    assert_eq!(push(&mut w, 9), Push::Accepted);
    drain(&mut w, &mut out);
    let s = w.stats();
    assert_eq!((s.forced_skips, s.evicted), (1, 1));
    assert_eq!(eids(&out), vec![0, 3, 4, 5, 6]);
    // A far jump clears the ring without looping over the distance.
    assert_eq!(push(&mut w, 1_000_000_000_000), Push::Accepted);
    assert_eq!(w.pending(), 1);
    push(&mut w, 1_000_000_000_001);
    drain(&mut w, &mut out);
    assert_eq!(out.last().map(|s| s.eid), Some(1_000_000_000_000));
}

#[test]
fn cursor_follows_lowest_eid_before_training() {
    let mut w = Window::new(16, 2, 4, 8).expect("valid");
    let mut out = Vec::new();
    for e in [7, 6, 5, 4] {
        push(&mut w, e);
    }
    drain(&mut w, &mut out);
    assert_eq!(eids(&out), vec![4, 5, 6]);
}

#[test]
fn declared_start_makes_a_missing_first_eid_a_gap() {
    let mut w = Window::new(16, 2, 1, 3).expect("valid").with_start(1);
    let mut out = Vec::new();
    for e in [3, 2] {
        push(&mut w, e);
        drain(&mut w, &mut out);
    }
    assert!(out.is_empty(), "waiting for 1");
    push(&mut w, 1);
    drain(&mut w, &mut out);
    assert_eq!(eids(&out), vec![1, 2]);
    assert_eq!(push(&mut w, 0), Push::Stale);
    // Missing 4: skipped after 3 entries beyond it; only 3 is lost (a tail).
    for e in [5, 6, 7] {
        push(&mut w, e);
        drain(&mut w, &mut out);
    }
    assert_eq!(eids(&out), vec![1, 2, 5, 6]);
    assert_eq!(w.stats().tails, 1);
    w.reset();
    push(&mut w, 1);
    push(&mut w, 2);
    drain(&mut w, &mut out);
    assert_eq!(eids(&out), vec![1, 2, 5, 6, 1]);
}

#[test]
fn flush_trains_everything_available() {
    let mut w = Window::new(16, 2, 10, 15).expect("valid");
    let mut out = Vec::new();
    for e in [0, 1, 2, 4, 5] {
        push(&mut w, e);
    }
    drain(&mut w, &mut out);
    assert!(out.is_empty());
    flush(&mut w, &mut out);
    assert_eq!(eids(&out), vec![0, 1, 4]);
    assert_eq!(w.pending(), 1);
}

/// `(arrival order with duplicates, set of missing EIDs)` over `0..n`.
fn scenario(max_n: u64, gaps: bool) -> impl Strategy<Value = (u64, Vec<u64>, BTreeSet<u64>)> {
    (2..max_n).prop_flat_map(move |n| {
        let max_missing = if gaps { n as usize / 4 + 1 } else { 0 };
        let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
        let dups = proptest::collection::vec(0..n, 0..(n as usize / 2 + 1));
        let missing = proptest::collection::btree_set(0..n, 0..=max_missing);
        (Just(n), order, dups, missing, any::<u64>()).prop_map(|(n, order, dups, missing, seed)| {
            let mut arrivals: Vec<u64> =
                order.into_iter().filter(|e| !missing.contains(e)).collect();
            for (i, d) in dups.into_iter().enumerate() {
                if !missing.contains(&d) {
                    let at = (seed.rotate_left(i as u32) as usize) % (arrivals.len() + 1);
                    arrivals.insert(at, d);
                }
            }
            (n, arrivals, missing)
        })
    })
}

proptest! {
    /// With room and patience for the whole stream, every (e, e+1) with both
    /// present is trained exactly once, in order, and none crosses a gap.
    #[test]
    fn every_present_pair_trained_once((n, arrivals, missing) in scenario(200, true), w in 1usize..12) {
        let cap = n as usize + 1;
        let mut win = Window::new(cap, 2, w.min(cap - 1), cap - 1).expect("valid").with_start(0);
        let mut out = Vec::new();
        for &e in &arrivals {
            push(&mut win, e);
            drain(&mut win, &mut out);
        }
        flush(&mut win, &mut out);
        let want: Vec<Seen> = (0..n.saturating_sub(1))
            .filter(|e| !missing.contains(e) && !missing.contains(&(e + 1)))
            .map(expected)
            .collect();
        prop_assert_eq!(out, want);
        let s = win.stats();
        prop_assert_eq!(s.forced_skips, 0);
        prop_assert_eq!(s.pushed + s.duplicates + s.stale, arrivals.len() as u64);
    }

    /// No gaps, W | N, in any order, with duplicates: N − 1 transitions
    /// without flushing.
    #[test]
    fn no_gaps_trains_n_minus_1((n, arrivals, _) in scenario(120, false), w in 1usize..8) {
        let n = n - n % w as u64;
        prop_assume!(n >= 2);
        let arrivals: Vec<u64> = arrivals.into_iter().filter(|&e| e < n).collect();
        let cap = n as usize + 1;
        let mut win = Window::new(cap, 2, w, cap - 1).expect("valid").with_start(0);
        let mut out = Vec::new();
        for &e in &arrivals {
            push(&mut win, e);
            drain(&mut win, &mut out);
        }
        prop_assert_eq!(eids(&out), (0..n - 1).collect::<Vec<_>>());
    }

    /// Small ring, short patience, arbitrary traffic (including stale and far
    /// EIDs): nothing panics, every trained transition is a real consecutive
    /// pair, at most once, in increasing order; all entries are accounted for.
    #[test]
    fn small_ring_never_lies(
        arrivals in proptest::collection::vec(0u64..300, 0..400),
        cap in 2usize..24,
        w in 1usize..24,
        wait in 0usize..24,
        start in proptest::option::of(0u64..300),
    ) {
        let w = w.min(cap - 1);
        let wait = wait.min(cap - 1);
        let mut win = Window::new(cap, 2, w, wait).expect("valid");
        if let Some(start) = start {
            win = win.with_start(start);
        }
        let mut out = Vec::new();
        let mut accepted = BTreeSet::new();
        for &e in &arrivals {
            if push(&mut win, e) == Push::Accepted {
                prop_assert!(accepted.insert(e), "accepted twice: {}", e);
            }
            drain(&mut win, &mut out);
        }
        flush(&mut win, &mut out);
        for pair in out.windows(2) {
            prop_assert!(pair[0].eid < pair[1].eid);
        }
        for s in &out {
            prop_assert_eq!(s, &expected(s.eid));
            prop_assert!(accepted.contains(&s.eid) && accepted.contains(&(s.eid + 1)));
        }
        let s = win.stats();
        prop_assert_eq!(s.pushed + s.duplicates + s.stale, arrivals.len() as u64);
        // Each accepted entry ends trained as a source, a tail, evicted, or pending.
        prop_assert_eq!(s.pushed, s.trained + s.tails + s.evicted + win.pending() as u64);
    }
}

#[test]
fn set_limits_keeps_buffered_entries_and_checks_ranges() {
    let mut w = Window::new(8, 2, 4, 2).expect("valid").with_start(1);
    let mut out = Vec::new();
    for e in 1..=3 {
        assert_eq!(push(&mut w, e), Push::Accepted);
    }
    drain(&mut w, &mut out);
    assert!(out.is_empty(), "W = 4 is not complete yet");
    assert!(w.set_limits(8, 0).is_err());
    assert!(w.set_limits(0, 0).is_err());
    assert!(w.set_limits(2, 8).is_err());
    w.set_limits(2, 1).expect("in range");
    drain(&mut w, &mut out);
    assert_eq!(
        out.iter().map(|s| s.eid).collect::<Vec<_>>(),
        vec![1],
        "the smaller window releases the first block (1 → 2) of what was buffered"
    );
}
