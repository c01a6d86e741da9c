//! At most once across nodes: every forwarded job carries an id, a peer never runs an id twice, and
//! an origin whose forward got no answer cancels it and runs it itself only when the peer answers
//! "not run" — else the client gets 504 saying whether it ran. The cancel protocol before the job
//! started, while it runs, after it finished, and when the cancel is lost.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use crate::harness::{Node, Reply, toml_strings, wait_for_peers};
use crate::nodetest;

/// A node `id` with K = `slots`, a 400 ms `sleep` function, forwards timing out after
/// `forward_timeout_ms`, in the peer protocol `protocol`.
fn config(
    id: &str,
    slots: usize,
    forward_timeout_ms: u64,
    protocol: &str,
    peers: &[SocketAddr],
) -> String {
    let peers = toml_strings(peers);
    format!(
        r#"
[node]
listen = "127.0.0.1:0"
workers = 2
[queue]
slots = {slots}
queue_len = 4
[scheduler]
name = "NoScheduler"
parameters = ["false"]
[discovery]
machine_id = "{id}"
init_servers = [{peers}]
[peers]
refresh_interval_ms = 200
probe_timeout_ms = 300
forward_timeout_ms = {forward_timeout_ms}
protocol = "{protocol}"
[functions.sleep]
backend = "builtin"
builtin = "sleep"
mean_ms = 400
distribution = "fixed"
"#
    )
}

/// A native peer job with id `id` straight to `node`, as a peer `x` would send it.
fn peer_job(node: SocketAddr, id: &str) -> Reply {
    let mut c = crate::harness::Conn::open(node);
    c.send(
        "POST",
        "/peer/function/sleep",
        &[
            ("X-P2pfaas-Peer-Protocol", "native/1"),
            ("X-P2pfaas-Hops", "1"),
            ("X-P2pfaas-Peers-List-Id", r#"["x"]"#),
            ("X-P2pfaas-Peers-List-Addr", r#"["127.0.0.1:9"]"#),
            ("X-P2pfaas-Job-Id", id),
        ],
        b"job",
    );
    c.read_reply()
}

/// `POST /peer/cancel` for `id`: the `X-P2pfaas-Executed` answer (checked against the body).
fn cancel(node: &Node, id: &str) -> String {
    let r = node.post("/peer/cancel", format!(r#"{{"job_id":"{id}"}}"#).as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let executed = r
        .header("X-P2pfaas-Executed")
        .unwrap_or_default()
        .to_owned();
    assert_eq!(r.json()["executed"], executed.as_str());
    executed
}

fn forced_forward(origin: &Node) -> Reply {
    origin.call(
        "POST",
        "/function/sleep",
        &[("X-P2pfaas-Scheduler-Forward", "1")],
        b"job",
    )
}

nodetest!(cancel_before_start_during_run_and_after_finish, |driver| {
    let b = Node::start(driver, &config("b", 1, 1000, "auto", &[]), &[]);
    let addr = b.addr;
    // x/1 takes the only slot; x/2 waits in the queue.
    let first = std::thread::spawn(move || peer_job(addr, "x/1"));
    std::thread::sleep(Duration::from_millis(100));
    let second = std::thread::spawn(move || peer_job(addr, "x/2"));
    std::thread::sleep(Duration::from_millis(100));
    // A copy of the queued job is refused and leaves the first alone.
    let copy = peer_job(addr, "x/2");
    assert_eq!(copy.status, 409, "{}", copy.text());
    assert_eq!(copy.header("X-P2pfaas-Executed"), Some("unknown"));
    assert_eq!(cancel(&b, "x/2"), "no", "queued: dropped");
    assert_eq!(cancel(&b, "x/1"), "yes", "running");
    let dropped = second.join().expect("client");
    assert_eq!(dropped.status, 409, "{}", dropped.text());
    assert_eq!(
        dropped.header("X-P2pfaas-Reject-Reason"),
        Some("job_cancelled")
    );
    assert_eq!(dropped.header("X-P2pfaas-Executed"), Some("no"));
    let ran = first.join().expect("client");
    assert_eq!(ran.status, 200, "{}", ran.text());
    assert_eq!(ran.header("X-P2pfaas-Job-Id"), Some("x/1"));
    assert_eq!(cancel(&b, "x/1"), "yes", "finished");
    // A second copy of a job that ran: refused with the first outcome.
    let copy = peer_job(addr, "x/1");
    assert_eq!(copy.status, 409);
    assert_eq!(
        copy.header("X-P2pfaas-Reject-Reason"),
        Some("duplicate_job")
    );
    assert_eq!(copy.header("X-P2pfaas-Executed"), Some("yes"));
    assert_eq!(copy.header("X-P2pfaas-Job-First-Status"), Some("200"));
    // A cancel before its job: b started moments ago (it may have been restarted), so it cannot say
    // the job never ran here; the late job is refused either way.
    assert_eq!(cancel(&b, "x/3"), "unknown");
    let late = peer_job(addr, "x/3");
    assert_eq!(
        (late.status, late.header("X-P2pfaas-Executed")),
        (409, Some("no"))
    );
    let bad = b.post("/peer/cancel", b"{}");
    assert_eq!(bad.status, 400, "{}", bad.text());
});

/// The origin `a` forwards to `b`, whose job outlives `a`'s forward timeout: running there, the
/// client gets 504 and the job does not run again; still queued there, `a` cancels it and runs it.
fn timed_out_forward_runs_once(driver: crate::harness::Driver, protocol: &str) {
    let b = Node::start(driver, &config("b", 1, 1000, protocol, &[]), &[]);
    let a = Node::start(driver, &config("a", 4, 200, protocol, &[b.addr]), &[]);
    wait_for_peers(&a, 1);
    let r = forced_forward(&a);
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("forward_timeout"));
    assert_eq!(r.header("X-P2pfaas-Executed"), Some("yes"));
    let id = r.header("X-P2pfaas-Job-Id").unwrap_or_default().to_owned();
    assert!(id.starts_with("a/"), "{id}");
    // The peer has the id: a cancel of it there says it ran.
    assert_eq!(cancel(&b, &id), "yes");
    std::thread::sleep(Duration::from_millis(400));

    let addr = b.addr;
    let hold = std::thread::spawn(move || peer_job(addr, "hold/1"));
    std::thread::sleep(Duration::from_millis(100));
    let r = forced_forward(&a);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("X-P2pfaas-Scheduler-Fallback"),
        Some("peer_timeout")
    );
    assert_eq!(r.header("X-P2pfaas-Externally-Executed"), None, "ran on a");
    let id = r.header("X-P2pfaas-Job-Id").unwrap_or_default().to_owned();
    assert_eq!(cancel(&b, &id), "no", "dropped from b's queue");
    assert_eq!(hold.join().expect("client").status, 200);
}

nodetest!(a_timed_out_forward_runs_once_native, |driver| {
    timed_out_forward_runs_once(driver, "native");
});

nodetest!(a_timed_out_forward_runs_once_json, |driver| {
    timed_out_forward_runs_once(driver, "json");
});

/// A full peer (K = 1, no queue, its slot held) refuses a job with a deadline alike in both protocols:
/// the origin falls back and runs it itself, saying why.
fn a_full_peer_refuses(driver: crate::harness::Driver, protocol: &str) {
    let full = config("b", 1, 1000, protocol, &[]).replace("queue_len = 4", "queue_len = 0");
    let b = Node::start(driver, &full, &[]);
    let a = Node::start(driver, &config("a", 4, 1000, protocol, &[b.addr]), &[]);
    wait_for_peers(&a, 1);
    let addr = b.addr;
    let hold = std::thread::spawn(move || peer_job(addr, "hold/1"));
    std::thread::sleep(Duration::from_millis(100));
    let r = a.call(
        "POST",
        "/function/sleep",
        &[
            ("X-P2pfaas-Scheduler-Forward", "1"),
            ("X-P2pfaas-Deadline-Ms", "2000"),
        ],
        b"job",
    );
    assert_eq!(r.status, 200, "{protocol}: {}", r.text());
    assert_eq!(
        r.header("X-P2pfaas-Scheduler-Fallback"),
        Some("peer_refused"),
        "{protocol}"
    );
    assert_eq!(r.header("X-P2pfaas-Externally-Executed"), None, "ran on a");
    assert_eq!(hold.join().expect("client").status, 200);
}

nodetest!(a_full_peer_refuses_native, |driver| {
    a_full_peer_refuses(driver, "native");
});

nodetest!(a_full_peer_refuses_json, |driver| {
    a_full_peer_refuses(driver, "json");
});

/// A peer that answers load probes and never anything else: jobs and cancels sent to it are lost.
fn mute_peer() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut out = stream;
                loop {
                    let mut head = Vec::new();
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 && line.trim() != "" {
                        head.push(std::mem::take(&mut line));
                    }
                    if !head
                        .first()
                        .is_some_and(|l| l.starts_with("GET /monitoring/load"))
                    {
                        // Hold the connection without a word, long past every timeout.
                        std::thread::sleep(Duration::from_secs(30));
                        return;
                    }
                    let load = "HTTP/1.1 200 OK\r\nX-P2pfaas-Load: 0\r\nX-P2pfaas-Maxload: 4\r\n\
                                X-P2pfog-Queue-Length: 0\r\nContent-Length: 0\r\n\r\n";
                    if out.write_all(load.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

nodetest!(a_lost_cancel_answers_executed_unknown, |driver| {
    let mute = mute_peer();
    let a = Node::start(driver, &config("a", 4, 200, "native", &[mute]), &[]);
    wait_for_peers(&a, 1);
    let started = Instant::now();
    let r = forced_forward(&a);
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("forward_timeout"));
    assert_eq!(r.header("X-P2pfaas-Executed"), Some("unknown"));
    // The forward timeout, then the cancel's (the probe timeout), and no local run.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
});
