//! `learner.external` on a real node with stand-in agents: a binary-protocol agent that checks every
//! frame against the shape its connection's last hello announced, and an original-style HTTP learner
//! (`docs/external-agent.md`).

use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{Node, Reply, read_request, temp_dir};
use crate::nodetest;

/// What the binary stand-in saw: every hello's dimension, and frames that did not fit the shape.
#[derive(Default)]
struct Seen {
    hellos: Vec<u16>,
    misfits: Vec<String>,
    transitions: usize,
}

fn read_frame(s: &mut UnixStream) -> Option<(u8, Vec<u8>)> {
    let mut len = [0; 4];
    s.read_exact(&mut len).ok()?;
    let mut frame = vec![0; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut frame).ok()?;
    Some((frame[0], frame[1..].to_vec()))
}

/// One node worker's connection: answers "run here" (1) to every decide whose state has the
/// dimension of the last hello, and 99 (a bad answer, so the test sees it) to any other.
fn serve_binary(mut s: UnixStream, seen: &Mutex<Seen>) {
    let mut dims = 0usize;
    while let Some((kind, body)) = read_frame(&mut s) {
        let mut seen = seen.lock().expect("lock");
        match kind {
            1 => {
                dims = usize::from(u16::from_le_bytes([body[1], body[2]]));
                seen.hellos.push(u16::from_le_bytes([body[1], body[2]]));
            }
            2 => {
                let eid = &body[..8];
                let fits = body.len() == 10 + 4 * dims;
                if !fits {
                    seen.misfits
                        .push(format!("decide of {} bytes, dims {dims}", body.len()));
                }
                let action: u16 = if fits { 1 } else { 99 };
                let mut out = 11u32.to_le_bytes().to_vec();
                out.push(0x81);
                out.extend_from_slice(eid);
                out.extend_from_slice(&action.to_le_bytes());
                drop(seen);
                if s.write_all(&out).is_err() {
                    return;
                }
            }
            3 => {
                let count = u32::from_le_bytes([body[0], body[1], body[2], body[3]]) as usize;
                if body.len() != 4 + count * (16 + 4 * dims) {
                    seen.misfits.push(format!(
                        "{count} transitions in {} bytes, dims {dims}",
                        body.len()
                    ));
                }
                seen.transitions += count;
            }
            k => seen.misfits.push(format!("frame kind {k}")),
        }
    }
}

fn metric(node: &Node, name: &str) -> f64 {
    let text = node.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two workers, N = 1 of 2 counted task types, the agent at `external`; a generous timeout for a
/// debug build on a shared machine.
fn config(external: &str) -> String {
    format!(
        r#"
[node]
listen = "127.0.0.1:0"
workers = 2
[queue]
slots = 4
task_types = 2
[scheduler]
name = "LearningScheduler"
parameters = ["1"]
[learner]
external = "{external}"
external_timeout_ms = 2000
[learner.parameters]
actions_n = 3
[functions.echo]
backend = "builtin"
builtin = "echo"
"#
    )
}

/// A client job with a deadline (so its transition is streamed) that the agent decided.
fn agent_decides(node: &Node) -> Reply {
    let r = node.call(
        "POST",
        "/function/echo",
        &[("X-P2pfaas-Deadline-Ms", "5000")],
        b"x",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("X-P2pfaas-Scheduler-Fallback"),
        None,
        "{:?}",
        r.headers
    );
    assert_eq!(
        r.header("X-P2pfaas-Scheduler-Learning-Action"),
        Some("1.000000")
    );
    r
}

nodetest!(agent_decides_again_after_n_changes_at_run_time, |driver| {
    let dir = temp_dir("agent-reshape");
    let path = dir.join("agent.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let agent_seen = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let seen = Arc::clone(&agent_seen);
            std::thread::spawn(move || serve_binary(conn, &seen));
        }
    });
    let node = Node::start(driver, &config(&format!("unix:{}", path.display())), &[]);
    wait_until("both workers' connections", || {
        metric(&node, "p2pfaas_agent_connects_total") >= 2.0
    });
    for _ in 0..6 {
        let r = agent_decides(&node);
        assert_eq!(
            r.header("X-P2pfaas-Scheduler-Learning-State")
                .map(|s| s.split(',').count()),
            Some(3)
        );
    }
    let r = node.post(
        "/configuration/scheduler",
        br#"{"name":"LearningScheduler","parameters":["2"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Each worker announces the new shape before its first decide of it, on the same connection.
    for _ in 0..20 {
        let r = agent_decides(&node);
        assert_eq!(
            r.header("X-P2pfaas-Scheduler-Learning-State")
                .map(|s| s.split(',').count()),
            Some(5)
        );
    }
    let shape = "p2pfaas_agent_fallbacks_total{reason=\"shape_mismatch\"}";
    assert_eq!(metric(&node, shape), 0.0);
    assert_eq!(metric(&node, "p2pfaas_agent_decisions_total"), 26.0);
    assert_eq!(
        metric(&node, "p2pfaas_agent_connects_total"),
        2.0,
        "no reconnect"
    );
    wait_until("the transitions", || {
        seen.lock().expect("lock").transitions >= 20
    });
    let seen = seen.lock().expect("lock");
    assert!(seen.misfits.is_empty(), "{:?}", seen.misfits);
    let (old, new) = seen.hellos.iter().partition::<Vec<u16>, _>(|d| **d == 3);
    assert_eq!(
        old.len(),
        2,
        "one hello per worker at the start: {:?}",
        seen.hellos
    );
    assert!(
        !new.is_empty() && new.iter().all(|d| *d == 5),
        "a hello of dimension 1 + 2·2 after the change: {:?}",
        seen.hellos
    );
    let _ = std::fs::remove_dir_all(&dir);
});

/// The original learner's `/act` (the action, and its ε in `X-P2pfaas-Eps`) and `/train_batch`, one
/// keep-alive connection.
fn serve_http(s: std::net::TcpStream) {
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    let mut s = s;
    while let Some((line, _body)) = read_request(&mut reader) {
        let reply = if line.starts_with("GET /act") {
            "HTTP/1.1 200 OK\r\nX-P2pfaas-Eps: 0.9\r\nContent-Length: 1\r\n\r\n1"
        } else {
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        };
        if s.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

nodetest!(http_agent_epsilon_is_in_the_learning_headers, |driver| {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve_http(conn));
        }
    });
    let node = Node::start(driver, &config(&format!("http://{addr}")), &[]);
    for _ in 0..4 {
        let r = agent_decides(&node);
        assert_eq!(
            r.header("X-P2pfaas-Scheduler-Learning-Eps"),
            Some("0.900000"),
            "the learner's ε, not 0"
        );
    }
});
