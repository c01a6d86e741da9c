use super::*;

const TTL: Duration = Duration::from_secs(60);

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// A table that has been up longer than its ttl: it has seen every id it could have.
fn warm(capacity: usize) -> (JobTable, Duration) {
    (JobTable::new(capacity, TTL, s(0)), s(100))
}

#[test]
fn an_id_runs_once_and_a_duplicate_learns_the_first_outcome() {
    let (mut t, now) = warm(16);
    assert_eq!(t.arrive("a/1", now), Arrival::New);
    let dup = |t: &mut JobTable| t.arrive("a/1", now);
    assert_eq!(
        dup(&mut t),
        Arrival::Duplicate {
            executed: Executed::Unknown,
            status: None
        }
    );
    assert!(t.start("a/1", now));
    assert_eq!(
        dup(&mut t),
        Arrival::Duplicate {
            executed: Executed::Yes,
            status: None
        }
    );
    t.end("a/1", 200);
    assert_eq!(
        dup(&mut t),
        Arrival::Duplicate {
            executed: Executed::Yes,
            status: Some(200)
        }
    );
    assert_eq!(t.len(), 1);
}

#[test]
fn cancel_before_start_drops_the_job() {
    let (mut t, now) = warm(16);
    t.arrive("a/1", now);
    assert_eq!(t.cancel("a/1", now), Executed::No);
    assert!(!t.start("a/1", now), "a cancelled job never starts");
    assert!(!t.forward("a/1", now), "nor goes on to another peer");
    assert_eq!(t.cancel("a/1", now), Executed::No, "a second cancel agrees");
}

#[test]
fn cancel_during_run_and_after_finish_answers_ran() {
    let (mut t, now) = warm(16);
    t.arrive("a/1", now);
    assert!(t.start("a/1", now));
    assert_eq!(t.cancel("a/1", now), Executed::Yes);
    t.end("a/1", 200);
    assert_eq!(t.cancel("a/1", now), Executed::Yes);
    assert!(!t.start("a/1", now), "an ended job never starts again");
    // A job refused here (no room) never ran.
    t.arrive("a/2", now);
    t.end("a/2", 429);
    assert_eq!(t.cancel("a/2", now), Executed::No);
}

#[test]
fn a_cancel_that_arrives_first_refuses_the_late_job() {
    let (mut t, now) = warm(16);
    assert_eq!(t.cancel("a/1", now), Executed::No);
    assert_eq!(
        t.arrive("a/1", now),
        Arrival::Duplicate {
            executed: Executed::No,
            status: None
        }
    );
}

#[test]
fn a_lost_cancel_leaves_the_job_to_run_once() {
    // The origin's cancel never arrives: the job runs and ends; no copy of it runs again.
    let (mut t, now) = warm(16);
    t.arrive("a/1", now);
    assert!(t.start("a/1", now));
    t.end("a/1", 200);
    assert!(matches!(t.arrive("a/1", now), Arrival::Duplicate { .. }));
}

#[test]
fn a_forwarded_job_is_unknown_and_a_cancel_stops_its_fallback() {
    let (mut t, now) = warm(16);
    t.arrive("a/1", now);
    assert!(t.forward("a/1", now));
    assert_eq!(t.cancel("a/1", now), Executed::Unknown);
    assert!(
        !t.start("a/1", now),
        "no local fallback after the origin gave up"
    );
}

#[test]
fn ids_expire_after_the_ttl() {
    let (mut t, now) = warm(16);
    t.arrive("a/1", now);
    t.arrive("a/2", now + s(30));
    assert_eq!(t.len(), 2);
    assert_eq!(t.arrive("a/3", now + TTL), Arrival::New);
    assert_eq!(t.len(), 2, "a/1 is forgotten");
    // Long after a clean forget, an unknown id did not run.
    assert_eq!(t.cancel("a/1", now + TTL), Executed::No);
}

#[test]
fn the_table_is_bounded_and_blind_after_an_early_eviction() {
    let (mut t, now) = warm(3);
    for i in 0..10 {
        t.arrive(&format!("a/{i}"), now);
    }
    assert_eq!(t.len(), 3);
    // a/0 was evicted before its ttl: the table cannot say it did not run.
    assert_eq!(t.cancel("a/0", now + s(1)), Executed::Unknown);
    assert!(t.len() <= 3);
    // Once every evicted id would have expired anyway, unknown means never seen.
    assert_eq!(t.cancel("b/1", now + TTL + s(1)), Executed::No);
}

#[test]
fn a_restarted_executor_does_not_claim_a_job_did_not_run() {
    // Created at 50 s (the executor restarted): ids seen before are gone.
    let mut t = JobTable::new(16, TTL, s(50));
    assert_eq!(t.cancel("a/1", s(51)), Executed::Unknown);
    assert_eq!(
        t.arrive("a/1", s(52)),
        Arrival::Duplicate {
            executed: Executed::No,
            status: None
        },
        "the tombstone still refuses the id"
    );
    assert_eq!(t.cancel("a/2", s(50) + TTL), Executed::No);
}

#[test]
fn executed_round_trips() {
    for e in [Executed::No, Executed::Yes, Executed::Unknown] {
        assert_eq!(Executed::parse(e.as_str().as_bytes()), Some(e));
    }
    assert_eq!(Executed::parse(b"maybe"), None);
}

#[test]
fn ids_longer_than_the_inline_size_behave_the_same() {
    let (mut t, now) = warm(4);
    let long = "x".repeat(INLINE_ID_LEN + 1);
    let inline = "x".repeat(INLINE_ID_LEN);
    assert_eq!(t.arrive(&long, now), Arrival::New);
    assert_eq!(
        t.arrive(&inline, now),
        Arrival::New,
        "a prefix is another id"
    );
    assert!(t.start(&long, now));
    t.end(&long, 200);
    assert_eq!(
        t.arrive(&long, now),
        Arrival::Duplicate {
            executed: Executed::Yes,
            status: Some(200)
        }
    );
    assert_eq!(t.cancel(&inline, now), Executed::No);
    // Eviction and expiry forget both kinds.
    for i in 0..4 {
        t.arrive(&format!("a/{i}"), now);
    }
    assert_eq!(t.len(), 4);
    assert_eq!(t.arrive(&long, now + TTL), Arrival::New);
    assert_eq!(t.len(), 1);
}

#[test]
fn ids_stay_found_across_growth_and_wrap_around() {
    // Many times the capacity, with expiry and eviction interleaved: every remembered id is found
    // with its own phase, every forgotten one is new again.
    let (mut t, now) = warm(100);
    for i in 0..1_000u64 {
        let at = now + Duration::from_millis(i * 100);
        assert_eq!(t.arrive(&format!("n/{i}"), at), Arrival::New);
        if i % 3 == 0 {
            assert!(t.start(&format!("n/{i}"), at));
            t.end(&format!("n/{i}"), 200);
        }
        assert!(t.len() <= 100);
        let back = i.saturating_sub(50);
        let expected = if back % 3 == 0 {
            Executed::Yes
        } else {
            Executed::Unknown
        };
        match t.arrive(&format!("n/{back}"), at) {
            Arrival::Duplicate { executed, .. } => assert_eq!(executed, expected, "n/{back}"),
            Arrival::New => panic!("n/{back} was forgotten within its ttl and capacity"),
        }
    }
    assert_eq!(t.arrive("n/0", now + s(1_000)), Arrival::New);
}
