//! The dashboard's routes on real nodes: `/ui` and its assets, the `/events` stream (one cluster frame
//! per second, this node's snapshot and its peers'), its end at shutdown, the last five minutes
//! (`/events/history`, `/events/cluster/history`), and operator actions relayed to a peer
//! (`/cluster/<node>/…`) with and without a cluster key.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::{Node, concurrent, toml_strings, wait_for_peers};
use crate::nodetest;

fn config(id: &str, peers: &[SocketAddr]) -> String {
    format!(
        r#"
[node]
listen = "127.0.0.1:0"
workers = 2
[discovery]
machine_id = "{id}"
init_servers = [{}]
[peers]
refresh_interval_ms = 200
[functions.echo]
backend = "builtin"
builtin = "echo"
"#,
        toml_strings(peers)
    )
}

/// Opens `GET /events` and returns the stream after the response head.
fn open_events(addr: SocketAddr) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).expect("read head");
        assert!(n > 0, "closed before the head");
        got.extend_from_slice(&buf[..n]);
    }
    (s, String::from_utf8_lossy(&got).into_owned())
}

/// Reads events until `n` data events arrived; returns their JSON.
fn read_frames(s: &mut TcpStream, mut pending: String, n: usize) -> Vec<serde_json::Value> {
    let mut frames = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            if !data.is_empty() {
                frames.push(serde_json::from_str(&data).expect("frame is JSON"));
                if frames.len() == n {
                    return frames;
                }
            }
        }
        let got = s.read(&mut buf).expect("read frame");
        assert!(got > 0, "stream closed after {} frames", frames.len());
        pending.push_str(&String::from_utf8_lossy(&buf[..got]));
    }
}

nodetest!(events_streams_one_cluster_frame_per_second, |driver| {
    let b = Node::start(driver, &config("b", &[]), &[]);
    let a = Node::start(driver, &config("a", &[b.addr]), &[]);
    wait_for_peers(&a, 1);
    a.post("/function/echo", b"x");
    let (mut s, text) = open_events(a.addr);
    let (head, rest) = text.split_once("\r\n\r\n").expect("head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    let started = Instant::now();
    let frames = read_frames(&mut s, rest.to_owned(), 3);
    // Three frames one second apart: about two seconds (10x margin).
    assert!(started.elapsed() < Duration::from_secs(20));
    let last = &frames[2];
    assert_eq!(last["self"], "a");
    assert_eq!(last["signed"], false);
    let ids: Vec<&str> = last["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(ids, ["a", "b"], "{last}");
    assert_eq!(last["nodes"][0]["calls"]["ok"], 1);
    assert_eq!(last["nodes"][0]["peers"][0]["id"], "b");
    let t = |f: &serde_json::Value| f["nodes"][0]["t"].as_u64().unwrap_or(0);
    assert!(t(&frames[2]) > t(&frames[0]), "snapshots are taken anew");
    // The one-off form, for the page's first paint.
    let once = a.get("/events/cluster");
    assert_eq!(once.status, 200);
    assert_eq!(once.json()["nodes"][1]["id"], "b");
});

nodetest!(an_open_stream_does_not_hold_up_shutdown, |driver| {
    let mut a = Node::start(driver, &config("a", &[]), &[]);
    let (mut s, text) = open_events(a.addr);
    let rest = text.split_once("\r\n\r\n").map(|(_, r)| r.to_owned());
    read_frames(&mut s, rest.unwrap_or_default(), 1);
    a.terminate();
    assert!(
        a.wait_exit(Duration::from_secs(5)).is_some(),
        "node still running 5 s after SIGTERM with a stream open"
    );
});

nodetest!(the_page_and_its_assets_are_embedded, |driver| {
    let a = Node::start(driver, &config("a", &[]), &[]);
    for (path, kind) in [
        ("/ui", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
        ("/ui/events.js", "text/javascript"),
    ] {
        let r = a.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type")
                .is_some_and(|v| v.starts_with(kind)),
            "{path}"
        );
        assert!(r.header("content-security-policy").is_some(), "{path}");
    }
    assert!(a.get("/ui").text().contains("/ui/app.js"));
});

nodetest!(actions_are_relayed_to_a_member_only, |driver| {
    let b = Node::start(driver, &config("b", &[]), &[]);
    let a = Node::start(driver, &config("a", &[b.addr]), &[]);
    wait_for_peers(&a, 1);
    // By machine id once known, and by address.
    let end = Instant::now() + Duration::from_secs(10);
    let mut r = a.post("/cluster/b/configuration", br#"{"queue_length_max": 3}"#);
    while r.status == 400 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
        r = a.post("/cluster/b/configuration", br#"{"queue_length_max": 3}"#);
    }
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(b.get("/configuration").json()["queue_length_max"], 3);
    let r = a.post(
        &format!("/cluster/{}/configuration/scheduler", b.addr),
        br#"{"name":"NoScheduler","parameters":["true"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        b.get("/configuration/scheduler").json()["parameters"][0],
        "true"
    );
    // The peer's own refusal comes back as it is.
    let r = a.post("/cluster/b/configuration", br#"{"queue_length_max": -1}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("queue_length_max"), "{}", r.text());
    // Never to an address outside the membership, never another route.
    let r = a.post("/cluster/127.0.0.1:9/configuration", b"{}");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("not a known member"), "{}", r.text());
    assert_eq!(a.post("/cluster/b/system/functions", b"{}").status, 404);
});

nodetest!(
    with_a_key_a_relayed_action_needs_the_signature_for_the_peer,
    |driver| {
        use crate::auth::{config, sign};
        let key = "dashboard-relay-key-0123456789";
        let b = Node::start(
            driver,
            &config("b", key, "NoScheduler", "\"false\"", &[]),
            &[],
        );
        let a = Node::start(
            driver,
            &config("a", key, "NoScheduler", "\"false\"", &[b.addr]),
            &[],
        );
        wait_for_peers(&a, 1);
        let body = br#"{"queue_length_max": 2}"#;
        let relay = format!("/cluster/{}/configuration", b.addr);
        // POSTs `body` to the relay, signed with `key` for `signed_path`; the status.
        let relayed = |key: &str, signed_path: &str, nonce: u64| {
            let signature = sign(key, "POST", signed_path, body, Duration::ZERO, nonce);
            let headers: Vec<(&str, &str)> = signature
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            a.call("POST", &relay, &headers, body).status
        };
        // Signed for the relay's own path: refused here, before anything reaches b.
        assert_eq!(relayed(key, &relay, 1), 401);
        // Signed for the peer's path: checked here and again by b.
        assert_eq!(relayed(key, "/configuration", 2), 200);
        assert_eq!(b.get("/configuration").json()["queue_length_max"], 2);
        // Another key: refused.
        assert_eq!(
            relayed("another-key-0123456789abcdef", "/configuration", 3),
            401
        );
        assert_eq!(a.get("/events/cluster").json()["signed"], true);
    }
);

/// A history column as numbers (`null` as `None`).
fn column(h: &serde_json::Value, name: &str) -> Vec<Option<u64>> {
    h[name]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is not an array: {h}"))
        .iter()
        .map(serde_json::Value::as_u64)
        .collect()
}

fn total(h: &serde_json::Value, name: &str) -> u64 {
    column(h, name).into_iter().flatten().sum()
}

/// Polls `path` on `node` until `done` holds for its JSON (or 20 s pass); returns the last answer.
fn poll(node: &Node, path: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let v = node.get(path).json();
        if done(&v) || Instant::now() > end {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

nodetest!(
    a_node_keeps_its_last_seconds_with_the_calls_made,
    |driver| {
        let a = Node::start(
            driver,
            r#"
[node]
listen = "127.0.0.1:0"
workers = 2
[discovery]
machine_id = "a"
[queue]
slots = 1
queue_len = 0
[functions.echo]
backend = "builtin"
builtin = "echo"
[functions.long]
backend = "builtin"
builtin = "sleep"
mean_ms = 2500
distribution = "fixed"
"#,
            &[],
        );
        // One job holds the only slot across at least two seconds; the two beside it are refused.
        let replies = concurrent(&a, 3, "/function/long");
        let refused = replies.iter().filter(|r| r.status != 200).count() as u64;
        assert_eq!(refused, 2, "K = 1, no queue");
        for _ in 0..2 {
            let r = a.call(
                "POST",
                "/function/echo",
                &[("X-P2pfaas-Deadline-Ms", "5000")],
                b"x",
            );
            assert_eq!(r.status, 200);
        }
        let h = poll(&a, "/events/history", |h| total(h, "calls") == 5);
        assert_eq!(h["id"], "a");
        assert_eq!(total(&h, "calls"), 5, "{h}");
        assert_eq!(total(&h, "rejected"), refused, "{h}");
        assert_eq!(total(&h, "deadline_met"), 2, "{h}");
        assert_eq!(total(&h, "deadline_missed"), 0, "{h}");
        // Several records, one per second: equal columns, time moving on, intervals about a second.
        let t = column(&h, "t");
        assert!(t.len() >= 3, "{h}");
        for name in [
            "interval_ms",
            "load",
            "slots",
            "calls",
            "rejected",
            "deadline_met",
            "deadline_missed",
            "p99_us",
        ] {
            assert_eq!(column(&h, name).len(), t.len(), "{name}");
        }
        assert!(t.windows(2).all(|w| w[0] < w[1]), "{h}");
        let intervals = column(&h, "interval_ms");
        assert!(
            intervals[1..]
                .iter()
                .flatten()
                .all(|ms| (400..=10_000).contains(ms)),
            "{h}"
        );
        assert!(column(&h, "slots").iter().all(|k| *k == Some(1)), "{h}");
        // The 2.5 s job was running at some second's end, and its latency is the p99 of its second.
        assert!(column(&h, "load").contains(&Some(1)), "{h}");
        assert!(
            column(&h, "p99_us")
                .into_iter()
                .flatten()
                .any(|us| us > 1_000_000),
            "{h}"
        );
    }
);

nodetest!(the_cluster_history_includes_each_peers, |driver| {
    let b = Node::start(driver, &config("b", &[]), &[]);
    let a = Node::start(driver, &config("a", &[b.addr]), &[]);
    wait_for_peers(&a, 1);
    for _ in 0..3 {
        assert_eq!(b.post("/function/echo", b"x").status, 200);
    }
    a.post("/function/echo", b"x");
    poll(&b, "/events/history", |h| total(h, "calls") == 3);
    let c = poll(&a, "/events/cluster/history", |c| {
        c["nodes"][1]["id"] == "b" && total(&c["nodes"][1], "calls") == 3
    });
    assert_eq!(c["self"], "a");
    let ids: Vec<&str> = c["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(ids, ["a", "b"], "{c}");
    assert_eq!(total(&c["nodes"][1], "calls"), 3, "{c}");
    assert!(!column(&c["nodes"][1], "t").is_empty(), "{c}");
    assert_eq!(c["unreachable"], serde_json::json!([]), "{c}");
    // A member that stopped answering has no series (it is listed under `unreachable` for as long as
    // the membership still holds it) and does not hold up the answer.
    drop(b);
    let c = poll(&a, "/events/cluster/history", |c| {
        c["nodes"].as_array().is_some_and(|n| n.len() == 1)
    });
    assert_eq!(c["nodes"].as_array().map(Vec::len), Some(1), "{c}");
    assert_eq!(c["nodes"][0]["id"], "a");
});
