//! The client-facing contract: echo with the compatible headers, keep-alive, pipelining, chunked bodies,
//! override headers, routes and the admin API.

use crate::harness::{BASE_CONFIG, Conn, Node};
use crate::nodetest;

nodetest!(
    echo_returns_body_status_content_type_and_headers,
    |driver| {
        let node = Node::start(driver, BASE_CONFIG, &[]);
        let r = node.call(
            "POST",
            "/function/echo",
            &[("Content-Type", "application/x-test")],
            b"hello p2pfaas",
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"hello p2pfaas");
        assert_eq!(r.header("Content-Type"), Some("application/x-test"));
        assert_eq!(
            r.header("X-P2pfaas-Version"),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(r.header("X-P2pfaas-Scheduler"), Some("NoScheduler"));
        for h in [
            "X-P2pfaas-Timing-Total-Seconds-List",
            "X-P2pfaas-Timing-Scheduling-Seconds-List",
        ] {
            let v = r.header(h).unwrap_or_default();
            // The original's local format: a one-element list with six decimals, e.g. [0.000123].
            assert!(
                v.starts_with("[0.") && v.ends_with(']') && v.len() == 10,
                "{h}: {v}"
            );
        }
        assert!(r.seconds("X-P2pfaas-Timing-Execution-Time-Seconds") >= 0.0);
        assert!(r.seconds("X-P2pfaas-Timing-Queue-Seconds") >= 0.0);
    }
);

nodetest!(keep_alive_pipelining_and_chunked_bodies, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    let mut c = Conn::open(node.addr);
    for i in 0..5 {
        c.send("POST", "/function/echo", &[], format!("req {i}").as_bytes());
        assert_eq!(c.read_reply().text(), format!("req {i}"));
    }
    // Two pipelined requests in one write come back in order.
    c.send_raw(
        b"POST /function/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\noneGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(c.read_reply().text(), "one");
    assert_eq!(c.read_reply().json()["status"], "ok");
    // A chunked request body is decoded.
    c.send_raw(b"POST /function/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    assert_eq!(c.read_reply().text(), "hello world");
    // Connection: close is honoured.
    c.send("GET", "/healthz", &[("Connection", "close")], b"");
    assert_eq!(c.read_reply().status, 200);
    assert!(c.is_closed());
});

// Bodies that arrive in pieces after their head: the connection decodes from behind the head and
// keeps what follows the body for the next request.
nodetest!(bodies_split_across_reads, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    let mut c = Conn::open(node.addr);
    let pause = || std::thread::sleep(std::time::Duration::from_millis(50));
    c.send_raw(b"POST /function/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello");
    pause();
    c.send_raw(b" worl");
    pause();
    c.send_raw(b"dGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_reply().text(), "hello world");
    assert_eq!(c.read_reply().json()["status"], "ok");
    c.send_raw(
        b"POST /function/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    );
    pause();
    c.send_raw(b"lo\r\n6\r\n world\r\n0\r\n\r\n");
    assert_eq!(c.read_reply().text(), "hello world");
});

nodetest!(override_headers_reject_and_bypass, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    let r = node.call(
        "POST",
        "/function/echo",
        &[("X-P2pfaas-Scheduler-Reject", "1")],
        b"x",
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], 401);
    assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("reject_header"));
    assert_eq!(r.header("X-P2pfaas-Scheduler"), Some("RejectScheduler"));
    let r = node.call(
        "POST",
        "/function/echo",
        &[("X-P2pfaas-Scheduler-Bypass", "yes")],
        b"x",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-P2pfaas-Scheduler"), Some("NoScheduler"));
    // An empty value is not an override (the original's rule).
    let r = node.call(
        "POST",
        "/function/echo",
        &[("X-P2pfaas-Scheduler-Reject", "")],
        b"x",
    );
    assert_eq!(r.status, 200);
});

nodetest!(routes_info_health_metrics_and_load, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    let hello = node.get("/").json();
    assert_eq!(hello["name"], "p2pfaas-node");
    assert_eq!(hello["version"], env!("CARGO_PKG_VERSION"));
    assert!(hello["version_commit"].is_string());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let clock = u128::from(hello["unix_ms"].as_u64().expect("unix_ms"));
    assert!(clock.abs_diff(now_ms) < 10_000, "{clock} vs {now_ms}");
    assert_eq!(node.get("/healthz").status, 200);
    assert_eq!(node.get("/readyz").json()["status"], "ready");
    let load = node.get("/monitoring/load");
    assert_eq!(load.header("X-P2pfaas-Load"), Some("0"));
    assert_eq!(load.header("X-P2pfaas-Maxload"), Some("4"));
    assert_eq!(load.header("X-P2pfog-Queue-Length"), Some("0"));
    assert_eq!(load.json()["slots"], 4);
    node.post("/function/echo", b"x");
    let metrics = node.get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.contains("p2pfaas_invocations_total{function=\"echo\",outcome=\"ok\"} 1\n"),
        "{text}"
    );
    let driver_line = match driver {
        crate::harness::Driver::IoUring => "p2pfaas_runtime_driver_info{driver=\"io_uring\"",
        crate::harness::Driver::Epoll => "p2pfaas_runtime_driver_info{driver=\"epoll\"",
    };
    assert!(text.contains(driver_line), "{text}");
    let r = node.call("DELETE", "/metrics", &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET"));
    assert_eq!(r.json()["code"], 1);
});

nodetest!(configuration_and_scheduler_routes, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    let c = node.get("/configuration").json();
    assert_eq!(c["parallel_running_functions_max"], 4);
    assert_eq!(c["queue_length_max"], 4);
    assert_eq!(c["queue_enabled"], true);
    let r = node.post("/configuration", br#"{"queue_length_max": 2}"#);
    assert_eq!(r.status, 200);
    let c = node.get("/configuration").json();
    assert_eq!(
        (
            c["parallel_running_functions_max"].as_u64(),
            c["queue_length_max"].as_u64()
        ),
        (Some(4), Some(2))
    );
    assert_eq!(node.get("/monitoring/load").json()["queue_len"], 2);

    assert_eq!(
        node.get("/configuration/scheduler").json()["name"],
        "NoScheduler"
    );
    let r = node.post(
        "/configuration/scheduler",
        br#"{"name":"NoScheduler","parameters":["true"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let s = node.get("/configuration/scheduler").json();
    assert_eq!(s["parameters"][0], "true");
    let r = node.post(
        "/configuration/scheduler",
        br#"{"name":"Bogus","parameters":[]}"#,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Bogus")
    );
});
