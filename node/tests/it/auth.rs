//! The cluster key: admin and peer calls must be signed (HMAC-SHA256 over method, target, timestamp,
//! nonce and body digest); unsigned, forged, replayed and expired calls get 401 and are counted; nodes
//! sharing the key forward to each other, a node with another key is refused and the job falls back.
//! The signature is computed here independently of the node's code, as a client would.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::harness::{Conn, Node, Reply, toml_strings, wait_for_peers};
use crate::nodetest;

const KEY: &str = "a-cluster-key-of-32-bytes-length";

/// A key file for `key`, one per key and process (reused, so runs leave one small file each).
fn key_file(key: &str) -> String {
    // The test keys are [a-z0-9-] only, so they name their file.
    let path = std::env::temp_dir().join(format!("p2pfaas-it-{}-{key}", std::process::id()));
    // Tests run in parallel and share the file: write a private copy and rename it into place, so a
    // node starting meanwhile never reads a half-written (empty) key.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let private = path.with_extension(format!("tmp{n}"));
    std::fs::write(&private, format!("{key}\n")).expect("write key");
    std::fs::rename(&private, &path).expect("rename key");
    path.display().to_string()
}

pub(crate) fn config(
    id: &str,
    key: &str,
    scheduler: &str,
    params: &str,
    peers: &[SocketAddr],
) -> String {
    let peers = toml_strings(peers);
    format!(
        r#"
[node]
listen = "127.0.0.1:0"
workers = 2
[scheduler]
name = "{scheduler}"
parameters = [{params}]
[discovery]
machine_id = "{id}"
init_servers = [{peers}]
[peers]
refresh_interval_ms = 200
[auth]
cluster_key_file = "{}"
[functions.echo]
backend = "builtin"
builtin = "echo"
"#,
        key_file(key)
    )
}

/// The three signature headers for a call, signed `age` ago with `nonce`.
pub(crate) fn sign(
    key: &str,
    method: &str,
    target: &str,
    body: &[u8],
    age: Duration,
    nonce: u64,
) -> [(String, String); 3] {
    let ts = (SystemTime::now() - age)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let digest: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let text = format!("p2pfaas-v1\n{method}\n{target}\n{ts}\n{nonce:016x}\n{digest}");
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(text.as_bytes());
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    [
        ("X-P2pfaas-Auth-Timestamp".into(), ts.to_string()),
        ("X-P2pfaas-Auth-Nonce".into(), format!("{nonce:016x}")),
        ("X-P2pfaas-Auth-Signature".into(), sig),
    ]
}

fn post(addr: SocketAddr, path: &str, headers: &[(String, String)], body: &[u8]) -> Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut c = Conn::open(addr);
    c.send("POST", path, &headers, body);
    c.read_reply()
}

nodetest!(admin_calls_need_a_fresh_valid_signature, |driver| {
    let node = Node::start(
        driver,
        &config("a", KEY, "NoScheduler", "\"false\"", &[]),
        &[],
    );
    let body = br#"{"queue_length_max": 2}"#;
    let unsigned = post(node.addr, "/configuration", &[], body);
    assert_eq!(unsigned.status, 401, "{}", unsigned.text());
    assert_eq!(unsigned.header("X-P2pfaas-Auth-Error"), Some("missing"));

    let good = sign(KEY, "POST", "/configuration", body, Duration::ZERO, 1);
    let r = post(node.addr, "/configuration", &good, body);
    assert_eq!(r.status, 200, "{}", r.text());
    // The same signature again: a replay.
    let r = post(node.addr, "/configuration", &good, body);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("X-P2pfaas-Auth-Error"), Some("replayed"));
    // Another body under that signature, another key, or an old timestamp.
    let r = post(
        node.addr,
        "/configuration",
        &sign(KEY, "POST", "/configuration", b"{}", Duration::ZERO, 2),
        body,
    );
    assert_eq!(r.header("X-P2pfaas-Auth-Error"), Some("forged"));
    let other = sign(
        "another-key-that-is-long-enough",
        "POST",
        "/configuration",
        body,
        Duration::ZERO,
        3,
    );
    assert_eq!(
        post(node.addr, "/configuration", &other, body).header("X-P2pfaas-Auth-Error"),
        Some("forged")
    );
    let old = sign(
        KEY,
        "POST",
        "/configuration",
        body,
        Duration::from_secs(60),
        4,
    );
    assert_eq!(
        post(node.addr, "/configuration", &old, body).header("X-P2pfaas-Auth-Error"),
        Some("expired")
    );
    // Peer routes too.
    let r = post(
        node.addr,
        "/peer/function/echo",
        &[
            ("X-P2pfaas-Peer-Protocol".into(), "native/1".into()),
            ("X-P2pfaas-Hops".into(), "1".into()),
        ],
        b"x",
    );
    assert_eq!(r.status, 401);
    // Reads stay open; refusals are counted by reason.
    let metrics = node.get("/metrics").text();
    for line in [
        "p2pfaas_auth_failures_total{reason=\"missing\"} 2",
        "p2pfaas_auth_failures_total{reason=\"replayed\"} 1",
        "p2pfaas_auth_failures_total{reason=\"forged\"} 2",
        "p2pfaas_auth_failures_total{reason=\"expired\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
});

nodetest!(
    nodes_sharing_the_key_forward_and_strangers_are_refused,
    |driver| {
        let b = Node::start(
            driver,
            &config("b", KEY, "NoScheduler", "\"false\"", &[]),
            &[],
        );
        let a = Node::start(
            driver,
            &config("a", KEY, "ForwardScheduler", "\"1\"", &[b.addr]),
            &[],
        );
        wait_for_peers(&a, 1);
        let mut c = Conn::open(a.addr);
        c.send("POST", "/function/echo", &[], b"signed");
        let r = c.read_reply();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("X-P2pfaas-Externally-Executed"), Some("True"));

        let stranger = Node::start(
            driver,
            &config(
                "s",
                "a-different-key-also-long-enough",
                "ForwardScheduler",
                "\"1\"",
                &[b.addr],
            ),
            &[],
        );
        wait_for_peers(&stranger, 1);
        let mut c = Conn::open(stranger.addr);
        c.send("POST", "/function/echo", &[], b"refused");
        let r = c.read_reply();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("X-P2pfaas-Externally-Executed"), None);
        assert_eq!(
            r.header("X-P2pfaas-Scheduler-Fallback"),
            Some("peer_failed")
        );
        assert_eq!(r.text(), "refused");
    }
);

nodetest!(discovery_ignores_unsigned_registrations, |driver| {
    let node = Node::start(
        driver,
        &config("a", KEY, "NoScheduler", "\"false\"", &[]),
        &[],
    );
    // Something is listening at the claimed address, but the claim is not signed.
    let other = Node::start(
        driver,
        &config("o", KEY, "NoScheduler", "\"false\"", &[]),
        &[],
    );
    let mut c = Conn::open(node.addr);
    let claimed = other.addr.to_string();
    c.send(
        "GET",
        "/discovery/list",
        &[("User-Agent", "Machine"), ("p2pfaas-machine-ip", &claimed)],
        b"",
    );
    assert_eq!(c.read_reply().status, 200);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(node.get("/discovery/list").json(), serde_json::json!([]));
});

/// The four ways a signed route refuses a call, on `method path`: unsigned, a replayed signature, a
/// signature over another body, and one too old; a good signature gets past the check (whatever the
/// route then says about the body). Nonces `nonce..nonce+3` are used.
fn refuses_bad_signatures(node: &Node, method: &str, path: &str, body: &[u8], nonce: u64) {
    let call = |headers: &[(String, String)]| {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        node.call(method, path, &headers, body)
    };
    let reason = |r: &Reply| r.header("X-P2pfaas-Auth-Error").map(str::to_owned);
    let r = call(&[]);
    assert_eq!(
        (r.status, reason(&r).as_deref()),
        (401, Some("missing")),
        "{method} {path}"
    );
    let good = sign(KEY, method, path, body, Duration::ZERO, nonce);
    let r = call(&good);
    assert_ne!(r.status, 401, "{method} {path} signed: {}", r.text());
    let r = call(&good);
    assert_eq!(reason(&r).as_deref(), Some("replayed"), "{method} {path}");
    let forged = sign(
        KEY,
        method,
        path,
        b"another body",
        Duration::ZERO,
        nonce + 1,
    );
    assert_eq!(
        reason(&call(&forged)).as_deref(),
        Some("forged"),
        "{method} {path}"
    );
    let old = sign(KEY, method, path, body, Duration::from_secs(60), nonce + 2);
    assert_eq!(
        reason(&call(&old)).as_deref(),
        Some("expired"),
        "{method} {path}"
    );
}

nodetest!(
    peer_gossip_and_cancel_routes_refuse_every_bad_signature,
    |driver| {
        let node = Node::start(
            driver,
            &config("a", KEY, "NoScheduler", "\"false\"", &[]),
            &[],
        );
        refuses_bad_signatures(&node, "POST", "/peer/function/echo", b"{}", 10);
        refuses_bad_signatures(&node, "POST", "/peer/gossip", b"not gossip", 20);
        refuses_bad_signatures(&node, "POST", "/peer/cancel", br#"{"job_id":"a/1"}"#, 30);
    }
);

nodetest!(
    every_admin_route_needs_a_signature_with_a_cluster_key,
    |driver| {
        let node = Node::start(
            driver,
            &config("a", KEY, "NoScheduler", "\"false\"", &[]),
            &[],
        );
        // The audit table in docs/security.md: every route that changes the node.
        let changes = [
            (
                "POST",
                "/configuration",
                br#"{"queue_length_max": 2}"#.as_slice(),
            ),
            (
                "POST",
                "/configuration/scheduler",
                br#"{"name": "NoScheduler", "parameters": ["true"]}"#,
            ),
            (
                "POST",
                "/system/functions",
                br#"{"name": "more", "backend": "builtin", "builtin": "echo"}"#,
            ),
            ("DELETE", "/system/functions/more", b""),
            ("POST", "/learner/parameters", br#"{"alpha": 0.2}"#),
            ("POST", "/learner/reset", b""),
            // Not a change, but the node's whole learned policy as a file (a fleet run's restore).
            ("GET", "/learner/weights/file", b""),
            (
                "POST",
                "/discovery/configuration",
                br#"{"group_name": "g"}"#,
            ),
            // The original's discovery reset is a GET; it still changes the node.
            ("GET", "/discovery/reset", b""),
        ];
        for (i, (method, path, body)) in changes.into_iter().enumerate() {
            refuses_bad_signatures(&node, method, path, body, 100 + 10 * i as u64);
        }
        // Reads stay open.
        for path in [
            "/configuration",
            "/system/functions",
            "/metrics",
            "/discovery/list",
        ] {
            assert_eq!(node.get(path).status, 200, "{path}");
        }
    }
);

nodetest!(discovery_lists_only_addresses_it_has_reached, |driver| {
    // No cluster key: anyone may register, but a claim is only probed, and listed once it answers.
    let open = |id: &str| {
        format!(
            "[node]\nlisten = \"127.0.0.1:0\"\n[discovery]\nmachine_id = \"{id}\"\n\
             [peers]\nrefresh_interval_ms = 100\nprobe_timeout_ms = 200\n\
             [functions.echo]\nbackend = \"builtin\"\nbuiltin = \"echo\"\n"
        )
    };
    let node = Node::start(driver, &open("a"), &[]);
    let real = Node::start(driver, &open("r"), &[]);
    // Nothing listens on a port just released (only one entry is listed, the real one's port).
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    for claimed in [dead.as_str(), "203.0.113.9:18080", &real.addr.to_string()] {
        let mut c = Conn::open(node.addr);
        c.send(
            "GET",
            "/discovery/list",
            &[("User-Agent", "Machine"), ("p2pfaas-machine-ip", claimed)],
            b"",
        );
        assert_eq!(c.read_reply().status, 200);
    }
    // The reachable claim shows up; the others never do (eight refreshes later).
    wait_for_peers(&node, 1);
    std::thread::sleep(Duration::from_millis(800));
    let listed = node.get("/discovery/list").json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    // The original's bare `ip`, and the port beside it.
    assert_eq!(listed[0]["ip"], "127.0.0.1", "{listed}");
    assert_eq!(listed[0]["port"], real.addr.port(), "{listed}");
    assert!(!listed.to_string().contains("203.0.113.9"), "{listed}");
});
