//! The `http` and `openfaas` backends against a scripted function server started by the test (std
//! sockets, one thread per connection, keep-alive aware): what reaches the function, what comes back,
//! connection reuse, the stale-connection retry, unreachable and slow functions, gateway auth and timing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{Conn, Node, temp_dir};
use crate::nodetest;

/// One request as the function server saw it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Script = dyn Fn(&Received) -> Vec<u8> + Send + Sync;

/// A tiny HTTP/1.1 function server; its threads die with the test process.
struct FnServer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    accepted: Arc<AtomicUsize>,
}

impl FnServer {
    /// Answers every request with `script(request)`; closes after each reply when `close_after`
    /// (without saying so, like a server whose idle timeout fired).
    fn start(
        close_after: bool,
        script: impl Fn(&Received) -> Vec<u8> + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let (r, a) = (Arc::clone(&received), Arc::clone(&accepted));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                a.fetch_add(1, Ordering::SeqCst);
                let (r, script) = (Arc::clone(&r), Arc::clone(&script));
                std::thread::spawn(move || serve(stream, &r, &*script, close_after));
            }
        });
        Self {
            port,
            received,
            accepted,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, log: &Mutex<Vec<Received>>, script: &Script, close_after: bool) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut stream, &mut buf) else {
            return;
        };
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let reply = script(&req);
        log.lock().expect("lock").push(req);
        if stream.write_all(&reply).is_err() || close || close_after {
            return;
        }
    }
}

fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Received> {
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        fill(stream, buf)?;
    };
    let (first, headers, len) = crate::harness::split_head(&buf[..end]);
    let mut start = first.split(' ');
    let (method, target) = (start.next()?.to_owned(), start.next()?.to_owned());
    while buf.len() < end + 4 + len {
        fill(stream, buf)?;
    }
    let body = buf[end + 4..end + 4 + len].to_vec();
    buf.drain(..end + 4 + len);
    Some(Received {
        method,
        target,
        headers,
        body,
    })
}

fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk) {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}

fn reply(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn ok(_: &Received) -> Vec<u8> {
    reply("200 OK", &[], b"ok")
}

/// One worker, so that every call goes through the same connection pool.
fn config(functions: &str) -> String {
    format!("[node]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n{functions}")
}

fn http_function(port: u16, extra: &str) -> String {
    config(&format!(
        "[functions.f]\nbackend = \"http\"\nurl = \"http://127.0.0.1:{port}/\"\n{extra}"
    ))
}

nodetest!(request_reaches_the_function_intact, |driver| {
    let server = FnServer::start(false, ok);
    let node = Node::start(driver, &http_function(server.port, ""), &[]);

    let r = node.call(
        "GET",
        "/function/f/sub/path?a=1&b=two",
        &[("X-Custom", "hello")],
        b"",
    );
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    // A chunked client body with hop-by-hop headers, some nominated by Connection.
    let mut c = Conn::open(node.addr);
    c.send_raw(
        b"PUT /function/f HTTP/1.1\r\nHost: node\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\
          Keep-Alive: timeout=5\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n\
          Content-Type: text/plain\r\nX-Custom: 2\r\n\r\n4\r\nbody\r\n5\r\n text\r\n0\r\n\r\n",
    );
    assert_eq!(c.read_reply().status, 200);

    let got = server.received();
    assert_eq!(got.len(), 2);
    let host = format!("127.0.0.1:{}", server.port);
    assert_eq!(got[0].method, "GET");
    assert_eq!(got[0].target, "/sub/path?a=1&b=two");
    assert_eq!(got[0].header("X-Custom"), Some("hello"));
    assert_eq!(got[0].header("Host"), Some(host.as_str()));
    assert_eq!(got[1].method, "PUT");
    assert_eq!(got[1].target, "/");
    assert_eq!(got[1].body, b"body text");
    assert_eq!(got[1].header("Content-Type"), Some("text/plain"));
    assert_eq!(got[1].header("Content-Length"), Some("9"));
    assert_eq!(got[1].header("X-Custom"), Some("2"));
    for hop in [
        "Connection",
        "X-Hop",
        "Keep-Alive",
        "TE",
        "Transfer-Encoding",
    ] {
        assert_eq!(
            got[1].header(hop),
            None,
            "{hop} was forwarded: {:?}",
            got[1].headers
        );
    }
});

nodetest!(function_status_headers_and_body_come_back, |driver| {
    let server = FnServer::start(false, |req| {
        let mut body = b"created:".to_vec();
        body.extend_from_slice(&req.body);
        reply(
            "201 Created",
            &[
                ("Content-Type", "application/x-custom"),
                ("X-Fn-Header", "yes"),
            ],
            &body,
        )
    });
    let node = Node::start(driver, &http_function(server.port, ""), &[]);
    let r = node.call(
        "POST",
        "/function/f",
        &[("Content-Type", "text/plain")],
        b"abc",
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("Content-Type"), Some("application/x-custom"));
    assert_eq!(r.header("X-Fn-Header"), Some("yes"));
    assert_eq!(r.text(), "created:abc");
    assert!(r.seconds("X-P2pfaas-Timing-Execution-Time-Seconds") >= 0.0);
});

nodetest!(sequential_calls_reuse_one_connection, |driver| {
    let server = FnServer::start(false, ok);
    let node = Node::start(driver, &http_function(server.port, ""), &[]);
    for _ in 0..5 {
        assert_eq!(node.post("/function/f", b"x").status, 200);
    }
    assert_eq!(server.received().len(), 5);
    assert_eq!(server.accepted(), 1);
});

nodetest!(
    connection_closed_by_the_function_is_retried_once,
    |driver| {
        // The server closes after every reply without announcing it: each pooled connection is stale.
        let server = FnServer::start(true, ok);
        let node = Node::start(driver, &http_function(server.port, ""), &[]);
        for i in 0..3 {
            let r = node.post("/function/f", format!("{i}").as_bytes());
            assert_eq!((r.status, r.text().as_str()), (200, "ok"), "call {i}");
        }
        // Every stale request was never processed, so the function saw each call exactly once.
        assert_eq!(server.received().len(), 3);
        assert_eq!(server.accepted(), 3);
    }
);

nodetest!(stopped_function_is_502_quickly, |driver| {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let node = Node::start(driver, &http_function(port, ""), &[]);
    let start = Instant::now();
    let r = node.post("/function/f", b"x");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(r.status, 502);
    assert_eq!(
        r.header("X-P2pfaas-Reject-Reason"),
        Some("function_unreachable")
    );
});

nodetest!(slow_function_is_504_at_its_timeout, |driver| {
    let server = FnServer::start(false, |req| {
        std::thread::sleep(Duration::from_secs(6));
        ok(req)
    });
    let node = Node::start(driver, &http_function(server.port, "timeout_ms = 300"), &[]);
    let start = Instant::now();
    let r = node.post("/function/f", b"x");
    let took = start.elapsed();
    assert_eq!(r.status, 504);
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(4),
        "{took:?}"
    );
});

fn openfaas_function(port: u16, creds: &std::path::Path) -> String {
    config(&format!(
        "[functions.g]\nbackend = \"openfaas\"\nurl = \"http://127.0.0.1:{port}\"\n\
         gateway_function = \"fn-x\"\nbasic_auth_file = \"{}\"\n",
        creds.display()
    ))
}

nodetest!(
    openfaas_gateway_gets_path_and_auth_and_reports_duration,
    |driver| {
        let dir = temp_dir("openfaas");
        let creds = dir.join("basic-auth");
        std::fs::write(&creds, "user:pass\n").expect("write credentials");
        let server = FnServer::start(false, |req| {
            let authorized = req.header("Authorization") == Some("Basic dXNlcjpwYXNz");
            if !authorized || !req.target.starts_with("/function/fn-x") {
                return reply("401 Unauthorized", &[], b"no");
            }
            reply("200 OK", &[("X-Duration-Seconds", "0.123456")], &req.body)
        });
        let node = Node::start(driver, &openfaas_function(server.port, &creds), &[]);
        let r = node.call(
            "POST",
            "/function/g/extra?q=1",
            &[("Authorization", "Bearer client")],
            b"in",
        );
        assert_eq!((r.status, r.text().as_str()), (200, "in"));
        assert_eq!(
            r.header("X-P2pfaas-Timing-Execution-Time-Seconds"),
            Some("0.123456")
        );
        let got = server.received();
        assert_eq!(got[0].target, "/function/fn-x/extra?q=1");
        assert_eq!(got[0].method, "POST");
        let _ = std::fs::remove_dir_all(dir);
    }
);

nodetest!(
    openfaas_without_credentials_file_is_502_naming_it,
    |driver| {
        let server = FnServer::start(false, ok);
        let dir = temp_dir("openfaas-missing");
        let missing = dir.join("no-such-credentials");
        let node = Node::start(driver, &openfaas_function(server.port, &missing), &[]);
        let r = node.post("/function/g", b"x");
        assert_eq!(r.status, 502);
        assert_eq!(
            r.header("X-P2pfaas-Reject-Reason"),
            Some("function_unreachable")
        );
        assert!(r.text().contains("no-such-credentials"), "{}", r.text());
        assert!(server.received().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
);

nodetest!(
    response_over_the_limit_is_502_and_the_node_keeps_serving,
    |driver| {
        let server = FnServer::start(false, |req| {
            let size = if req.body == b"big" { 1000 } else { 10 };
            reply("200 OK", &[], &vec![b'z'; size])
        });
        let toml = format!(
            "{}\n[http]\nmax_response_bytes = 100\n",
            http_function(server.port, "")
        );
        let node = Node::start(driver, &toml, &[]);
        let r = node.post("/function/f", b"big");
        assert_eq!(r.status, 502, "{}", r.text());
        assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("function_failed"));
        assert_eq!(node.post("/function/f", b"small").body, vec![b'z'; 10]);
    }
);
