//! K slots and the FIFO queue, seen from outside: exactly K run at once, Q wait, the rest get 429 with
//! `Retry-After`; K changes take effect without a restart; `NoScheduler(true)` never queues.

use crate::harness::{BASE_CONFIG, Node, Reply, concurrent};
use crate::nodetest;

/// Waiting jobs have queue time near 1 s (one service time), running ones near 0: split at 0.5 s.
fn split(replies: &[Reply]) -> (usize, usize, usize) {
    let ok: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    let immediate = ok
        .iter()
        .filter(|r| r.seconds("X-P2pfaas-Timing-Queue-Seconds") < 0.5)
        .count();
    let rejected = replies.iter().filter(|r| r.status == 429).count();
    (immediate, ok.len() - immediate, rejected)
}

nodetest!(
    k4_q4_ten_calls_four_run_four_wait_two_rejected_then_resize,
    |driver| {
        let node = Node::start(driver, BASE_CONFIG, &[]);
        let replies = concurrent(&node, 10, "/function/sleep");
        assert_eq!(split(&replies), (4, 4, 2), "{replies:#?}");
        for r in replies.iter().filter(|r| r.status == 429) {
            assert_eq!(r.header("Retry-After"), Some("1"));
            assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("queue_full"));
            assert_eq!(r.json()["code"], 400);
        }
        for r in replies.iter().filter(|r| r.status == 200) {
            assert!(r.text().starts_with("job-"), "body kept: {}", r.text());
        }

        let r = node.post(
            "/configuration",
            br#"{"parallel_running_functions_max": 8}"#,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let probe = std::thread::spawn({
            let addr = node.addr;
            move || {
                std::thread::sleep(std::time::Duration::from_millis(400));
                let mut c = crate::harness::Conn::open(addr);
                c.send("GET", "/monitoring/load", &[], b"");
                c.read_reply()
            }
        });
        let replies = concurrent(&node, 10, "/function/sleep");
        assert_eq!(split(&replies), (8, 2, 0), "{replies:#?}");
        let load = probe.join().expect("probe");
        assert_eq!(load.header("X-P2pfaas-Load"), Some("8"));
        assert_eq!(load.header("X-P2pfaas-Maxload"), Some("8"));
        assert_eq!(load.header("X-P2pfog-Queue-Length"), Some("2"));
    }
);

nodetest!(loss_scheduler_never_queues, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    let r = node.post(
        "/configuration/scheduler",
        br#"{"name":"NoScheduler","parameters":["true"]}"#,
    );
    assert_eq!(r.status, 200);
    let replies = concurrent(&node, 6, "/function/short");
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let lost: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!((ok, lost.len()), (4, 2), "{replies:#?}");
    assert!(
        lost.iter()
            .all(|r| r.header("X-P2pfaas-Reject-Reason") == Some("no_free_slot"))
    );
});

nodetest!(scheduler_switch_while_jobs_run, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    let addr = node.addr;
    let running = std::thread::spawn(move || {
        let mut c = crate::harness::Conn::open(addr);
        c.send("POST", "/function/sleep", &[], b"x");
        c.read_reply()
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let r = node.post(
        "/configuration/scheduler",
        br#"{"name":"NoScheduler","parameters":["true"]}"#,
    );
    assert_eq!(
        r.status,
        200,
        "the original refused while jobs ran: {}",
        r.text()
    );
    assert_eq!(running.join().expect("client").status, 200);
});

nodetest!(a_scheduler_change_restarts_the_random_streams, |driver| {
    // cpu-loop answers with the work it drew: the worker's random stream, seen from outside.
    let config = format!(
        "{BASE_CONFIG}\n[functions.draw]\nbackend = \"builtin\"\nbuiltin = \"cpu-loop\"\nmean_ms = 1\ndistribution = \"exponential\"\n"
    );
    let node = Node::start(driver, &config, &["--seed", "42"]);
    // One connection, so one worker draws every sample.
    let mut c = crate::harness::Conn::open(node.addr);
    let mut draws = || -> Vec<String> {
        (0..4)
            .map(|_| {
                c.send("POST", "/function/draw", &[], b"");
                let r = c.read_reply();
                assert_eq!(r.status, 200, "{}", r.text());
                r.json()["cpu_seconds"].to_string()
            })
            .collect()
    };
    let fresh = draws();
    let later = draws();
    assert_ne!(fresh, later, "the stream goes on between calls");
    let r = node.post(
        "/configuration/scheduler",
        br#"{"name":"NoScheduler","parameters":["false"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        draws(),
        fresh,
        "after a scheduler change, as from a fresh start"
    );
});

nodetest!(per_function_max_inflight, |driver| {
    let config = format!(
        "{BASE_CONFIG}\n[functions.single]\nbackend = \"builtin\"\nbuiltin = \"sleep\"\nmean_ms = 300\ndistribution = \"fixed\"\nmax_inflight = 1\n"
    );
    let node = Node::start(driver, &config, &[]);
    let replies = concurrent(&node, 3, "/function/single");
    let limited: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(limited.len(), 2, "{replies:#?}");
    assert!(
        limited
            .iter()
            .all(|r| r.header("X-P2pfaas-Reject-Reason") == Some("function_limit"))
    );
});

nodetest!(retry_after_follows_the_measured_service_time, |driver| {
    // K = 1, no queue, a 1.5 s function: once one call has been measured, a reject suggests retrying
    // after 2 s (the moving average rounded up), not a constant 1 s.
    let config = BASE_CONFIG
        .replace("slots = 4", "slots = 1")
        .replace("queue_len = 4", "queue_len = 0")
        .replace("mean_ms = 1000", "mean_ms = 1500");
    let node = Node::start(driver, &config, &[]);
    let first = concurrent(&node, 2, "/function/sleep");
    let refused: Vec<&Reply> = first.iter().filter(|r| r.status == 429).collect();
    assert_eq!(refused.len(), 1, "{first:#?}");
    assert_eq!(
        refused[0].header("Retry-After"),
        Some("1"),
        "nothing measured yet"
    );
    let second = concurrent(&node, 2, "/function/sleep");
    let refused: Vec<&Reply> = second.iter().filter(|r| r.status == 429).collect();
    assert_eq!(refused.len(), 1, "{second:#?}");
    assert_eq!(refused[0].header("Retry-After"), Some("2"));
    assert_eq!(
        refused[0].header("X-P2pfaas-Reject-Reason"),
        Some("queue_full")
    );
});

nodetest!(the_originals_reject_status_for_clients, |driver| {
    // compat.reject_status = 500: what the original's client and plots count as a reject, with the
    // same reason, Retry-After and body.
    let config = format!(
        "{}\n[compat]\nreject_status = 500\n",
        BASE_CONFIG.replace("queue_len = 4", "queue_len = 0")
    );
    let node = Node::start(driver, &config, &[]);
    let replies = concurrent(&node, 6, "/function/sleep");
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 500).collect();
    assert_eq!(refused.len(), 2, "{replies:#?}");
    for r in refused {
        assert_eq!(r.json()["code"], 400);
        assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("queue_full"));
        assert!(r.header("Retry-After").is_some());
    }
    assert!(replies.iter().all(|r| matches!(r.status, 200 | 500)));
    // A deliberate rejection stays 503.
    let r = node.call(
        "POST",
        "/function/echo",
        &[("X-P2pfaas-Scheduler-Reject", "1")],
        b"",
    );
    assert_eq!(r.status, 503);
    // Anything else is refused at start, naming the field.
    let bad = Node::try_start(driver, &config.replace("= 500", "= 502"), &[]);
    assert!(
        bad.as_ref()
            .err()
            .is_some_and(|e| e.contains("compat.reject_status")),
        "{:?}",
        bad.err()
    );
});
