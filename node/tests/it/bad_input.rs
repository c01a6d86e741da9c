//! Bad input gets a clear 4xx with a JSON `{code, message}` body; malformed HTTP closes the connection
//! cleanly and the node keeps serving; an invalid config file exits 64 naming the field.

use std::process::Command;

use crate::harness::{BASE_CONFIG, Conn, Node, binary, temp_dir};
use crate::nodetest;

nodetest!(unknown_function_and_route_are_404_json, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    let r = node.post("/function/nope", b"x");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], 3);
    assert_eq!(node.get("/no/such/route").status, 404);
});

nodetest!(body_over_limit_is_413_and_node_keeps_serving, |driver| {
    let config = format!("{BASE_CONFIG}\n[http]\nmax_body_bytes = 1024\n");
    let node = Node::start(driver, &config, &[]);
    let r = node.post("/function/echo", &vec![b'a'; 5000]);
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["code"], 4);
    // Chunked bodies are counted as they are decoded.
    let mut c = Conn::open(node.addr);
    let mut req =
        b"POST /function/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        req.extend_from_slice(b"200\r\n");
        req.extend_from_slice(&[b'b'; 512]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    c.send_raw(&req);
    assert_eq!(c.read_reply().status, 413);
    assert_eq!(node.post("/function/echo", b"small").status, 200);
});

nodetest!(
    malformed_json_configuration_is_400_naming_the_problem,
    |driver| {
        let node = Node::start(driver, BASE_CONFIG, &[]);
        let r = node.post("/configuration", b"{\"parallel_running_functions_max\": ");
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["code"], 4);
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("malformed JSON")
        );
        let r = node.post(
            "/configuration",
            br#"{"parallel_running_functions_max": 0}"#,
        );
        assert_eq!(r.status, 400);
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("parallel_running_functions_max")
        );
        let r = node.post("/configuration", br#"{"queue_lenght_max": 3}"#);
        assert_eq!(r.status, 400);
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap_or_default()
                .contains("queue_lenght_max")
        );
        let r = node.post(
            "/configuration/scheduler",
            br#"{"name":"NoScheduler","parameters":["maybe"]}"#,
        );
        assert_eq!(r.status, 400);
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap_or_default()
                .contains("Loss")
        );
        // Nothing changed.
        assert_eq!(
            node.get("/configuration").json()["parallel_running_functions_max"],
            4
        );
    }
);

/// Sends raw bytes on a fresh connection; expects `status`, then a clean close.
fn malformed(node: &Node, raw: &[u8], status: u16) {
    let mut c = Conn::open(node.addr);
    c.send_raw(raw);
    let r = c.read_reply();
    assert_eq!(
        r.status,
        status,
        "for {:?}: {}",
        String::from_utf8_lossy(raw),
        r.text()
    );
    assert!(r.json()["code"].is_number());
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(
        c.is_closed(),
        "connection must be closed after a framing error"
    );
}

nodetest!(malformed_http_gets_4xx_and_a_clean_close, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    malformed(&node, b"GARBAGE\r\n\r\n", 400);
    malformed(&node, b"GET / HTTP/9.9\r\nHost: t\r\n\r\n", 505);
    let mut big = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    big.extend_from_slice(&[b'x'; 20 * 1024]);
    big.extend_from_slice(b"\r\n\r\n");
    malformed(&node, &big, 431);
    malformed(
        &node,
        b"POST /function/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        400,
    );
    malformed(
        &node,
        b"POST /function/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        400,
    );
    // The node is still healthy.
    assert_eq!(
        node.post("/function/echo", b"still here").text(),
        "still here"
    );
});

fn run_with_config(config: &str) -> (Option<i32>, String) {
    let dir = temp_dir("badcfg");
    let path = dir.join("bad.toml");
    std::fs::write(&path, config).expect("write config");
    let out = Command::new(binary())
        .arg("--config")
        .arg(&path)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .output()
        .expect("run binary");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_config_exits_64_naming_the_field() {
    let cases = [
        ("[queue]\nslots = 0\n", "queue.slots"),
        ("[node]\nlisten = \"nowhere\"\n", "node.listen"),
        ("[queue]\nslotz = 3\n", "slotz"),
        (
            "[functions.f]\nbackend = \"builtin\"\nbuiltin = \"sleep\"\n",
            "functions.f.mean_ms",
        ),
        (
            "[functions.f]\nbackend = \"docker\"\n",
            "functions.f.backend",
        ),
        (
            "[scheduler]\nname = \"NoScheduler\"\nparameters = [\"x\"]\n",
            "scheduler",
        ),
        ("[http]\nidle_timeout_ms = 0\n", "http.idle_timeout_ms"),
    ];
    for (config, field) in cases {
        let (code, stderr) = run_with_config(config);
        assert_eq!(code, Some(64), "{config}: {stderr}");
        assert!(
            stderr.contains(field),
            "{config}: stderr should name {field}: {stderr}"
        );
    }
}

// A connection keeps one idle timer for its life, moved on lazily: it must still count from the last
// request, not from the connection's start.
nodetest!(idle_timeout_counts_from_the_last_request, |driver| {
    let config = format!("{BASE_CONFIG}\n[http]\nidle_timeout_ms = 300\n");
    let node = Node::start(driver, &config, &[]);
    let mut c = Conn::open(node.addr);
    // Twice the idle timeout of traffic on one connection, never idle for long.
    for i in 0..6 {
        c.send("POST", "/function/echo", &[], format!("{i}").as_bytes());
        let r = c.read_reply();
        assert_eq!(r.status, 200, "request {i}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let t0 = std::time::Instant::now();
    assert!(c.is_closed());
    let waited = t0.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(150)
            && waited < std::time::Duration::from_secs(5),
        "{waited:?}"
    );
});

// A keep-alive connection between requests registers for the shutdown signal once: it must still be
// closed at shutdown, not at the end of the grace period or its idle timeout.
nodetest!(
    shutdown_closes_an_idle_keep_alive_connection_at_once,
    |driver| {
        let mut node = Node::start(driver, BASE_CONFIG, &[]);
        let mut c = Conn::open(node.addr);
        for i in 0..2 {
            c.send("POST", "/function/echo", &[], format!("{i}").as_bytes());
            assert_eq!(c.read_reply().status, 200);
        }
        let t0 = std::time::Instant::now();
        node.terminate();
        assert!(c.is_closed());
        let waited = t0.elapsed();
        assert!(waited < std::time::Duration::from_secs(5), "{waited:?}");
        let status = node.wait_exit(std::time::Duration::from_secs(10));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "stderr: {}",
            node.stderr()
        );
    }
);

nodetest!(timeouts_idle_partial_head_and_function, |driver| {
    let config = format!(
        "{BASE_CONFIG}\n[http]\nidle_timeout_ms = 300\nrequest_timeout_ms = 700\n\
         [functions.slow]\nbackend = \"builtin\"\nbuiltin = \"sleep\"\nmean_ms = 2000\ndistribution = \"fixed\"\ntimeout_ms = 200\n"
    );
    let node = Node::start(driver, &config, &[]);
    // An idle keep-alive connection is closed after the idle timeout.
    let mut idle = Conn::open(node.addr);
    let t0 = std::time::Instant::now();
    assert!(idle.is_closed());
    let waited = t0.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(250)
            && waited < std::time::Duration::from_secs(5),
        "{waited:?}"
    );
    // A head that never completes gets 408 within the request timeout.
    let mut partial = Conn::open(node.addr);
    partial.send_raw(b"POST /function/echo HTTP/1.1\r\nHost: t\r\n");
    let r = partial.read_reply();
    assert_eq!(r.status, 408);
    assert_eq!(r.json()["code"], 4);
    // A function past its timeout gets 504.
    let r = node.post("/function/slow", b"x");
    assert_eq!(r.status, 504);
    assert_eq!(r.json()["code"], 1);
    // The request deadline also bounds execution: a 1 s function under a 0.7 s deadline gets 504 in time.
    let t0 = std::time::Instant::now();
    let r = node.post("/function/sleep", b"x");
    assert_eq!(r.status, 504);
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t0.elapsed()
    );
});
