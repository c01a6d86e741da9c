//! Several nodes on loopback (distinct ports): forwarding under each peer-aware scheduler, hop limits
//! and loop refusal, errors coming back cleanly, a peer killed mid-traffic (jobs it had may have run:
//! 504 and no second run), and the original's JSON peer protocol in both directions.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{Conn, Node, Reply, read_request, toml_strings, wait_for_peers};
use crate::nodetest;

/// A node called `id` with K = `slots`, the given scheduler and peers.
fn config(
    id: &str,
    slots: usize,
    scheduler: &str,
    params: &[&str],
    peers: &[SocketAddr],
) -> String {
    let params = toml_strings(params);
    let peers = toml_strings(peers);
    format!(
        r#"
[node]
listen = "127.0.0.1:0"
workers = 2
[queue]
slots = {slots}
queue_len = 8
[scheduler]
name = "{scheduler}"
parameters = [{params}]
[discovery]
machine_id = "{id}"
init_servers = [{peers}]
[peers]
refresh_interval_ms = 200
probe_timeout_ms = 500
[functions.echo]
backend = "builtin"
builtin = "echo"
[functions.sleep]
backend = "builtin"
builtin = "sleep"
mean_ms = 400
distribution = "fixed"
[functions.fail]
backend = "process"
command = ["sh", "-c", "echo broken >&2; exit 3"]
"#
    )
}

fn call(addr: SocketAddr, path: &str, body: &[u8]) -> Reply {
    let mut c = Conn::open(addr);
    c.send("POST", path, &[], body);
    c.read_reply()
}

/// One call now, then `more` concurrent calls 100 ms later (when the first holds this node's only slot).
fn busy_then(addr: SocketAddr, more: usize) -> Vec<Reply> {
    let first = std::thread::spawn(move || call(addr, "/function/sleep", b"first"));
    std::thread::sleep(Duration::from_millis(100));
    let rest: Vec<_> = (0..more)
        .map(|i| {
            std::thread::spawn(move || call(addr, "/function/sleep", format!("{i}").as_bytes()))
        })
        .collect();
    let mut all = vec![first.join().expect("client")];
    all.extend(rest.into_iter().map(|h| h.join().expect("client")));
    all
}

fn list(r: &Reply, name: &str) -> Vec<String> {
    r.header(name)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

fn numbers(r: &Reply, name: &str) -> Vec<f64> {
    r.header(name)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

/// A busy node forwards to its idle peer; the answer carries the forwarded-job headers.
fn forwards_when_busy(driver: crate::harness::Driver, scheduler: &str, params: &[&str]) {
    let b = Node::start(driver, &config("b", 4, "NoScheduler", &["false"], &[]), &[]);
    let a = Node::start(driver, &config("a", 1, scheduler, params, &[b.addr]), &[]);
    assert_eq!(wait_for_peers(&a, 1).as_array().map(Vec::len), Some(1));
    let replies = busy_then(a.addr, 2);
    assert!(replies.iter().all(|r| r.status == 200), "{replies:#?}");
    let forwarded: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.header("X-P2pfaas-Externally-Executed") == Some("True"))
        .collect();
    assert!(!forwarded.is_empty(), "{replies:#?}");
    for r in forwarded {
        assert_eq!(r.header("X-P2pfaas-Hops"), Some("1"));
        assert_eq!(list(r, "X-P2pfaas-Peers-List-Id"), ["a", "b"]);
        // Bare IPs as the original wrote them; the full addresses beside them.
        assert_eq!(
            list(r, "X-P2pfaas-Peers-List-Ip"),
            ["127.0.0.1", "127.0.0.1"]
        );
        assert_eq!(
            list(r, "X-P2pfaas-Peers-List-Addr"),
            [a.addr.to_string(), b.addr.to_string()]
        );
        let total = numbers(r, "X-P2pfaas-Timing-Total-Seconds-List");
        assert_eq!(total.len(), 2, "{:?}", r.headers);
        // One entry per node in every list, 0.0 where the executor did not probe.
        for name in [
            "X-P2pfaas-Timing-Scheduling-Seconds-List",
            "X-P2pfaas-Timing-Probing-Seconds-List",
        ] {
            assert_eq!(numbers(r, name).len(), 2, "{name}: {:?}", r.headers);
        }
        assert_eq!(numbers(r, "X-P2pfaas-Timing-Probing-Seconds-List")[1], 0.0);
        assert!(total[0] >= total[1] && total[1] >= 0.4, "{total:?}");
        assert!(r.seconds("X-P2pfaas-Timing-Execution-Time-Seconds") >= 0.4);
        assert!(
            r.text().starts_with(char::is_numeric),
            "body kept: {}",
            r.text()
        );
    }
}

nodetest!(power_of_n_forwards_from_a_busy_node, |driver| {
    forwards_when_busy(driver, "PowerOfNScheduler", &["1", "1", "false", "1"]);
});

nodetest!(tau_delays_the_decision_after_probing, |driver| {
    let b = Node::start(driver, &config("b", 4, "NoScheduler", &["false"], &[]), &[]);
    let a = Node::start(
        driver,
        &config(
            "a",
            4,
            "PowerOfNSchedulerTau",
            &["1", "0", "false", "1", "300ms"],
            &[b.addr],
        ),
        &[],
    );
    wait_for_peers(&a, 1);
    // T = 0: every call probes; b is as idle as a, so the job stays, but only after Tau.
    let r = call(a.addr, "/function/echo", b"x");
    assert_eq!(r.status, 200, "{}", r.text());
    let scheduling = numbers(&r, "X-P2pfaas-Timing-Scheduling-Seconds-List");
    let scheduling = if scheduling.is_empty() {
        r.seconds("X-P2pfaas-Timing-Scheduling-Seconds-List")
    } else {
        scheduling[0]
    };
    assert!(scheduling >= 0.3, "{scheduling}");
    assert!(r.header("X-P2pfaas-Timing-Probing-Seconds-List").is_some());
});

nodetest!(least_loaded_cached_forwards_without_probing, |driver| {
    forwards_when_busy(driver, "LeastLoadedCached", &["1", "1"]);
});

nodetest!(hops_are_counted_and_loops_refused, |driver| {
    let c = Node::start(
        driver,
        &config("c", 4, "ForwardScheduler", &["2"], &[]),
        &[],
    );
    let b = Node::start(
        driver,
        &config("b", 4, "ForwardScheduler", &["2"], &[c.addr]),
        &[],
    );
    let a = Node::start(
        driver,
        &config("a", 4, "ForwardScheduler", &["2"], &[b.addr, c.addr]),
        &[],
    );
    // c is configured with no peers and learns the others through gossip.
    wait_for_peers(&a, 2);
    wait_for_peers(&b, 2);
    assert_eq!(wait_for_peers(&c, 2).as_array().map(Vec::len), Some(2));
    let mut seen_two = false;
    for _ in 0..20 {
        let r = call(a.addr, "/function/echo", b"x");
        assert_eq!(r.status, 200, "{}", r.text());
        let ids = list(&r, "X-P2pfaas-Peers-List-Id");
        let hops: usize = r
            .header("X-P2pfaas-Hops")
            .and_then(|h| h.parse().ok())
            .unwrap_or(0);
        assert_eq!(ids.len(), hops + 1);
        assert_eq!(ids[0], "a");
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), ids.len(), "no node twice: {ids:?}");
        assert!(hops <= 2);
        if hops == 2 {
            assert!(ids == ["a", "b", "c"] || ids == ["a", "c", "b"], "{ids:?}");
            // Every timing list has one entry per node, origin first (none of them probed).
            for name in [
                "X-P2pfaas-Timing-Total-Seconds-List",
                "X-P2pfaas-Timing-Scheduling-Seconds-List",
                "X-P2pfaas-Timing-Probing-Seconds-List",
            ] {
                assert_eq!(numbers(&r, name).len(), 3, "{name}: {:?}", r.headers);
            }
            assert_eq!(
                numbers(&r, "X-P2pfaas-Timing-Probing-Seconds-List"),
                [0.0, 0.0, 0.0]
            );
            seen_two = true;
        }
    }
    assert!(
        seen_two,
        "two-hop chains happen (the second node forwards once more)"
    );
    // A job whose path already holds this node is refused.
    let mut conn = Conn::open(a.addr);
    conn.send(
        "POST",
        "/peer/function/echo",
        &[
            ("X-P2pfaas-Peer-Protocol", "native/1"),
            ("X-P2pfaas-Hops", "1"),
            ("X-P2pfaas-Peers-List-Id", "[\"a\"]"),
            ("X-P2pfaas-Peers-List-Addr", "[\"10.0.0.1:1\"]"),
        ],
        b"x",
    );
    let r = conn.read_reply();
    assert_eq!(r.status, 508, "{}", r.text());
    assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("loop_detected"));
    assert!(
        r.header("X-P2pfaas-Load").is_some(),
        "load piggybacks on errors too"
    );
});

nodetest!(the_forward_header_sends_one_call_to_a_peer, |driver| {
    let b = Node::start(driver, &config("b", 4, "NoScheduler", &["false"], &[]), &[]);
    let a = Node::start(
        driver,
        &config("a", 4, "NoScheduler", &["false"], &[b.addr]),
        &[],
    );
    wait_for_peers(&a, 1);
    let r = a.call(
        "POST",
        "/function/echo",
        &[("X-P2pfaas-Scheduler-Forward", "1")],
        b"there",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("X-P2pfaas-Scheduler"), Some("ForwardScheduler(1)"));
    assert_eq!(list(&r, "X-P2pfaas-Peers-List-Id"), ["a", "b"]);
    assert_eq!(r.text(), "there");
    let r = a.call("POST", "/function/echo", &[], b"here");
    assert_eq!(r.header("X-P2pfaas-Externally-Executed"), None);
});

/// K = 1 and no queue on both: with both slots held, a forward is refused by b and the fallback finds
/// no room on a either. The cluster is full, not broken: a capacity reject (`reject_status`), not 502.
/// Between the two nodes the refusal stays a refusal (native 429) whatever `compat.reject_status` is:
/// otherwise a would report `peer_failed`.
fn refusing_peer_and_full_origin(driver: crate::harness::Driver, reject_status: u16) {
    {
        let loss = |id, peers: &[SocketAddr]| {
            let c = config(id, 1, "NoScheduler", &["true"], peers)
                .replace("queue_len = 8", "queue_len = 0");
            format!("{c}\n[compat]\nreject_status = {reject_status}\n")
        };
        let b = Node::start(driver, &loss("b", &[]), &[]);
        let a = Node::start(driver, &loss("a", &[b.addr]), &[]);
        wait_for_peers(&a, 1);
        let (a_addr, b_addr) = (a.addr, b.addr);
        let hold: Vec<_> = [a_addr, b_addr]
            .into_iter()
            .map(|addr| std::thread::spawn(move || call(addr, "/function/sleep", b"hold")))
            .collect();
        std::thread::sleep(Duration::from_millis(150));
        let r = a.call(
            "POST",
            "/function/echo",
            &[("X-P2pfaas-Scheduler-Forward", "1")],
            b"nowhere",
        );
        assert_eq!(r.status, reject_status, "{}", r.text());
        assert_eq!(r.json()["code"], 400);
        assert_eq!(
            r.header("X-P2pfaas-Scheduler-Fallback"),
            Some("peer_refused")
        );
        // The fallback admits through the queue, which has no places here.
        assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("queue_full"));
        assert!(r.header("Retry-After").is_some());
        for h in hold {
            assert_eq!(h.join().expect("client").status, 200);
        }
    }
}

nodetest!(
    a_refusing_peer_and_a_full_origin_make_a_capacity_reject,
    |driver| {
        refusing_peer_and_full_origin(driver, 429);
    }
);

nodetest!(
    with_the_originals_reject_status_peers_still_refuse_natively,
    |driver| {
        refusing_peer_and_full_origin(driver, 500);
    }
);

nodetest!(a_forwarded_function_error_comes_back_clean, |driver| {
    let b = Node::start(driver, &config("b", 4, "NoScheduler", &["false"], &[]), &[]);
    let a = Node::start(
        driver,
        &config("a", 4, "ForwardScheduler", &["1"], &[b.addr]),
        &[],
    );
    wait_for_peers(&a, 1);
    let r = call(a.addr, "/function/fail", b"");
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("function_failed"));
    assert_eq!(r.header("X-P2pfaas-Externally-Executed"), Some("True"));
    assert!(r.text().contains("broken"), "{}", r.text());
});

nodetest!(
    a_peer_killed_mid_traffic_leaves_no_request_unanswered,
    |driver| {
        let mut b = Node::start(driver, &config("b", 8, "NoScheduler", &["false"], &[]), &[]);
        let a = Node::start(
            driver,
            &config("a", 8, "ForwardScheduler", &["1"], &[b.addr]),
            &[],
        );
        wait_for_peers(&a, 1);
        let addr = a.addr;
        let clients: Vec<_> = (0..6)
            .map(|_| std::thread::spawn(move || call(addr, "/function/sleep", b"x")))
            .collect();
        std::thread::sleep(Duration::from_millis(150));
        let _ = b.child.kill();
        let _ = b.child.wait();
        let started = Instant::now();
        for c in clients {
            let r = c.join().expect("every request gets a response");
            assert!(
                [200, 502, 504].contains(&r.status),
                "{} {:?}",
                r.status,
                r.text()
            );
            if r.status == 504 {
                // Sent before the kill: it may have run there, so it does not run again here.
                assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("forward_lost"));
                assert_eq!(r.header("X-P2pfaas-Executed"), Some("unknown"));
            }
            if r.status == 200 {
                assert_eq!(
                    r.header("X-P2pfaas-Scheduler-Fallback"),
                    Some("peer_failed")
                );
            }
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        // The survivor stops listing (and using) the dead peer within a few refreshes.
        let end = Instant::now() + Duration::from_secs(6);
        while wait_for_peers(&a, 0)
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            assert!(Instant::now() < end, "dead peer still listed");
            std::thread::sleep(Duration::from_millis(100));
        }
        let r = call(a.addr, "/function/echo", b"after");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("X-P2pfaas-Scheduler-Fallback"), Some("no_peer"));
    }
);

nodetest!(answers_the_originals_json_peer_requests, |driver| {
    let b = Node::start(driver, &config("b", 4, "NoScheduler", &["false"], &[]), &[]);
    let mut conn = Conn::open(b.addr);
    let body = br#"{"service_id_request": 42, "service_id_tracing": "t", "function_name": "echo",
        "hops": 1, "peers_list": null, "payload": "aGVsbG8=", "content_type": "text/plain",
        "headers": null}"#;
    conn.send(
        "POST",
        "/peer/function/echo",
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "Machine"),
        ],
        body,
    );
    let r = conn.read_reply();
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    assert_eq!(answer["status_code"], 200);
    assert_eq!(answer["body"], "aGVsbG8=");
    assert_eq!(answer["peers_list"][0]["machine_id"], "b");
    assert!(
        answer["peers_list"][0]["timings"]["total_time"]
            .as_f64()
            .is_some()
    );
    assert_eq!(r.header("X-P2pfaas-Peer-Protocol"), Some("native/1"));
    // A bad payload is a 400 inside the original's envelope.
    conn.send(
        "POST",
        "/peer/function/echo",
        &[("Content-Type", "application/json")],
        br#"{"function_name":"echo","hops":1,"payload":"%%%"}"#,
    );
    let r = conn.read_reply();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["status_code"], 400);
});

/// A stand-in for an original P2PFaaS node: `/monitoring/load` with headers only, and the JSON peer
/// protocol; records the JSON requests it got.
/// With `full`, it answers every job as the original did when it had no room: status 500 and error code
/// 400 inside the JSON envelope.
fn original_node(full: bool) -> (SocketAddr, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = Arc::clone(&record);
            std::thread::spawn(move || serve_original(stream, &record, full));
        }
    });
    (addr, seen)
}

fn serve_original(stream: TcpStream, record: &Mutex<Vec<serde_json::Value>>, full: bool) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    while let Some((line, body)) = read_request(&mut reader) {
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let reply = if !path.starts_with("/peer/function/") && path != "/monitoring/load" {
            // The original has no membership protocol.
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()
        } else if path == "/monitoring/load" {
            "HTTP/1.1 200 OK\r\nX-P2pfaas-Load: 0\r\nX-P2pfaas-Maxload: 4\r\nX-P2pfog-Queue-Length: 0\r\nContent-Length: 0\r\n\r\n".to_owned()
        } else {
            let job: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            record
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(job.clone());
            let (status, body) = if full {
                // base64 of {"code":400,"message":"Job cannot be scheduled: "}
                (
                    500,
                    "eyJjb2RlIjo0MDAsIm1lc3NhZ2UiOiJKb2IgY2Fubm90IGJlIHNjaGVkdWxlZDogIn0=".into(),
                )
            } else {
                (200, job["payload"].clone())
            };
            let answer = serde_json::json!({
                "peers_list": [{"machine_id": "orig", "machine_ip": "127.0.0.1",
                                "timings": {"execution_time": 0.01, "total_time": 0.02}}],
                "body": body,
                "status_code": status,
            })
            .to_string();
            format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                answer.len()
            )
        };
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Node `a` (ForwardScheduler) sends one echo call to an original node (full or not): the client's
/// reply, what the original node received, and `a`'s address.
fn through_original(
    driver: crate::harness::Driver,
    full: bool,
) -> (Reply, Vec<serde_json::Value>, SocketAddr, SocketAddr) {
    let (orig, seen) = original_node(full);
    let a = Node::start(
        driver,
        &config("a", 4, "ForwardScheduler", &["1"], &[orig]),
        &[],
    );
    wait_for_peers(&a, 1);
    let r = call(a.addr, "/function/echo", b"hello");
    assert_eq!(r.status, 200, "{}", r.text());
    let jobs = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    (r, jobs, a.addr, orig)
}

nodetest!(forwards_to_an_original_node_in_json, |driver| {
    let (r, jobs, a_addr, orig) = through_original(driver, false);
    assert_eq!(r.text(), "hello");
    assert_eq!(list(&r, "X-P2pfaas-Peers-List-Id"), ["a", "orig"]);
    assert_eq!(r.header("X-P2pfaas-Hops"), Some("1"));
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["hops"], 1);
    assert_eq!(jobs[0]["function_name"], "echo");
    assert_eq!(jobs[0]["payload"], "aGVsbG8=");
    assert_eq!(jobs[0]["peers_list"][0]["machine_id"], "a");
    // The original's formats: a bare IP in machine_ip (the full address rides in a field it ignores).
    assert_eq!(jobs[0]["peers_list"][0]["machine_ip"], "127.0.0.1");
    assert_eq!(jobs[0]["peers_list"][0]["machine_addr"], a_addr.to_string());
    assert_eq!(
        list(&r, "X-P2pfaas-Peers-List-Ip"),
        ["127.0.0.1", "127.0.0.1"]
    );
    assert_eq!(
        list(&r, "X-P2pfaas-Peers-List-Addr"),
        [a_addr.to_string(), orig.ip().to_string()]
    );
    for name in [
        "X-P2pfaas-Timing-Total-Seconds-List",
        "X-P2pfaas-Timing-Scheduling-Seconds-List",
        "X-P2pfaas-Timing-Probing-Seconds-List",
    ] {
        assert_eq!(numbers(&r, name).len(), 2, "{name}: {:?}", r.headers);
    }
});

nodetest!(an_original_nodes_capacity_reject_is_a_refusal, |driver| {
    // The original answers a full node with 500 and code 400: a refusal, so the job runs here instead
    // (a failure would say peer_failed).
    let (r, jobs, _, _) = through_original(driver, true);
    assert_eq!(
        r.header("X-P2pfaas-Scheduler-Fallback"),
        Some("peer_refused")
    );
    assert_eq!(r.header("X-P2pfaas-Externally-Executed"), None);
    assert_eq!(jobs.len(), 1);
});

nodetest!(
    an_original_node_gets_the_originals_reject_status,
    |driver| {
        // b (compat.reject_status = 500, K = 1, no queue) answers an original node's JSON job: full, it
        // says so as the original did (500, code 400, inside the envelope); with room, its path member
        // carries a bare IP and every timing.
        let b_config = format!(
            "{}\n[compat]\nreject_status = 500\n",
            config("b", 1, "NoScheduler", &["false"], &[])
                .replace("queue_len = 8", "queue_len = 0")
        );
        let b = Node::start(driver, &b_config, &[]);
        let job =
            br#"{"service_id_request": 7, "service_id_tracing": "n0t7", "function_name": "echo",
        "hops": 1, "peers_list": null, "payload": "aGVsbG8=", "content_type": "text/plain",
        "headers": null}"#;
        let send = |addr: SocketAddr| {
            let mut conn = Conn::open(addr);
            conn.send(
                "POST",
                "/peer/function/echo",
                &[
                    ("Content-Type", "application/json"),
                    ("User-Agent", "Machine"),
                ],
                job,
            );
            conn.read_reply()
        };
        let b_addr = b.addr;
        let hold = std::thread::spawn(move || call(b_addr, "/function/sleep", b"hold"));
        std::thread::sleep(Duration::from_millis(150));
        let r = send(b.addr);
        assert_eq!(r.status, 500, "{}", r.text());
        let answer = r.json();
        assert_eq!(answer["status_code"], 500);
        let error: serde_json::Value = answer["body"]
            .as_str()
            .and_then(|b| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            })
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        assert_eq!(error["code"], 400, "{answer}");
        assert_eq!(hold.join().expect("client").status, 200);
        let r = send(b.addr);
        assert_eq!(r.status, 200, "{}", r.text());
        let member = &r.json()["peers_list"][0];
        assert_eq!(member["machine_id"], "b");
        assert_eq!(member["machine_ip"], "127.0.0.1");
        for t in ["execution_time", "total_time", "scheduling_time"] {
            assert!(member["timings"][t].as_f64().is_some(), "{t}: {member}");
        }
    }
);

nodetest!(
    discovery_api_on_its_own_port_lists_reached_peers,
    |driver| {
        let b = Node::start(driver, &config("b", 4, "NoScheduler", &["false"], &[]), &[]);
        let a_config = config("a", 4, "NoScheduler", &["false"], &[b.addr])
            .replace("[discovery]\n", "[discovery]\nlisten = \"127.0.0.1:0\"\n");
        let mut a = Node::start(driver, &a_config, &[]);
        let discovery: SocketAddr = a.api_addr("discovery");
        wait_for_peers(&a, 1);
        let get = |path: &str| {
            let mut c = Conn::open(discovery);
            c.send("GET", path, &[], b"");
            c.read_reply()
        };
        assert!(
            get("/")
                .text()
                .starts_with("Welcome to the p2p-fog discovery service")
        );
        let list = get("/list");
        assert_eq!(list.header("P2pfaas-Machine-Name"), Some("a"));
        let machines = list.json();
        assert_eq!(machines[0]["name"], "b");
        assert_eq!(machines[0]["ip"], "127.0.0.1");
        assert_eq!(machines[0]["port"], b.addr.port());
        assert_eq!(machines[0]["alive"], true);
        let conf = get("/configuration").json();
        assert_eq!(conf["machine_id"], "a");
        assert_eq!(conf["machine_ip"], a.addr.to_string());
        // Function calls are not served there.
        assert_eq!(get("/function/echo").status, 404);
        // Forgetting every peer (admin, loopback here) empties the list until one is added again.
        assert_eq!(a.get("/discovery/reset").status, 200);
        assert_eq!(get("/list").json(), serde_json::json!([]));
        let r = a.post(
            "/discovery/configuration",
            format!("{{\"init_servers\": [\"{}\"]}}", b.addr).as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(wait_for_peers(&a, 1)[0]["name"], "b");
    }
);

nodetest!(two_nodes_with_one_machine_id_are_reported, |driver| {
    let a = Node::start(
        driver,
        &config("twin", 2, "NoScheduler", &["false"], &[]),
        &[],
    );
    let b = Node::start(
        driver,
        &config("twin", 2, "NoScheduler", &["false"], &[a.addr]),
        &[],
    );
    let conflicts = |n: &Node| -> u64 {
        n.get("/metrics")
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("p2pfaas_identity_conflicts_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let end = Instant::now() + Duration::from_secs(10);
    while conflicts(&a) + conflicts(&b) == 0 {
        assert!(Instant::now() < end, "no identity conflict reported");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Both keep serving.
    for n in [&a, &b] {
        assert_eq!(call(n.addr, "/function/echo", b"x").status, 200);
    }
});

nodetest!(seeds_by_host_name_do_not_list_a_node_twice, |driver| {
    let b = Node::start(driver, &config("b", 2, "NoScheduler", &["false"], &[]), &[]);
    // a's own address and b's, both by host name: the first is a itself, the second an alias of b's
    // advertised address, which membership brings in.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let seeds = format!("\"localhost:{port}\", \"localhost:{}\"", b.addr.port());
    let a_config = config("a", 2, "NoScheduler", &["false"], &[])
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace("init_servers = []", &format!("init_servers = [{seeds}]"));
    let a = Node::start(driver, &a_config, &[]);
    wait_for_peers(&a, 1);
    // Long enough for the host-name seeds to be probed several times.
    std::thread::sleep(Duration::from_millis(1500));
    let listed = a.get("/discovery/list").json();
    let names: Vec<&str> = listed
        .as_array()
        .map(|l| l.iter().filter_map(|m| m["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["b"], "{listed}");
});
