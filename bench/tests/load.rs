//! The load shell against a scripted std-socket server (no node needed, well under a second): what each
//! CSV column carries, open-loop sending while answers are held back, and timeouts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use p2pfaas_bench::arrivals::{Process, Profile};
use p2pfaas_bench::load::{self, Class, Spec, Target};

/// Serves every connection on its own thread: reads a request head (and its small body), then calls
/// `answer(head)` for a delay and the bytes to reply, or `None` to stay silent.
fn serve(answer: fn(&str) -> Option<(Duration, String)>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || connection(stream, answer));
        }
    });
    addr
}

fn connection(mut stream: TcpStream, answer: fn(&str) -> Option<(Duration, String)>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let body_len = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() < end + 4 + body_len {
                break;
            }
            buf.drain(..end + 4 + body_len);
            match answer(&head) {
                Some((delay, reply)) => {
                    thread::sleep(delay);
                    if stream.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
                None => thread::sleep(Duration::from_secs(5)),
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn spec(addr: SocketAddr, rate: f64, count: u64) -> Spec {
    Spec {
        targets: vec![Target {
            addr,
            profile: Profile::constant(rate).expect("valid rate"),
        }],
        process: Process::Deterministic,
        seed: 1,
        function: "f".into(),
        classes: vec![Class {
            payload: b"body".to_vec(),
            task_type: Some(1),
            deadline_ms: Some(250.0),
            ..Class::default()
        }],
        timeout: Duration::from_millis(300),
        max_requests: count,
        max_duration: Duration::from_secs(5),
        connections: 2,
        max_connections: 64,
        spin: Duration::from_micros(100),
        progress: false,
    }
}

fn rows(csv: &[u8]) -> Vec<Vec<String>> {
    String::from_utf8_lossy(csv)
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn columns_carry_status_reason_hops_and_executor() {
    let addr = serve(|head| {
        if head.starts_with("GET /discovery/configuration") {
            return None;
        }
        // A wrong request gets no answer, so the run below times out and fails.
        let expected = head.starts_with("POST /function/f HTTP/1.1")
            && head.contains("X-P2pfaas-Scheduler-Learning-Task-Type: 1")
            && head.contains("X-P2pfaas-Deadline-Ms: 250");
        if !expected {
            return None;
        }
        Some((
            Duration::ZERO,
            "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\nX-P2pfaas-Reject-Reason: queue_full\r\n\
             X-P2pfaas-Hops: 1\r\nX-P2pfaas-Peers-List-Id: [\"a\",\"b\"]\r\n\r\n{}"
                .to_owned(),
        ))
    });
    let mut csv = Vec::new();
    let summary = load::run(&spec(addr, 200.0, 20), &mut csv).expect("run");
    assert_eq!(
        (summary.sent, summary.answered, summary.rejected),
        (20, 20, 20)
    );
    for r in rows(&csv) {
        assert_eq!(r[4], "429");
        assert_eq!(r[6], "queue_full");
        assert_eq!(r[7], "1");
        assert_eq!(r[8], "b", "the last node on the path ran it");
        assert_eq!(r[9], "");
    }
}

#[test]
fn a_mix_draws_classes_by_weight_and_records_them() {
    // Task type 7 is refused, anything else answered: the class column must agree with the status.
    let addr = serve(|head| {
        if head.starts_with("GET /discovery") {
            return None;
        }
        let status = if head.contains("Task-Type: 7") {
            "429 Too Many Requests"
        } else {
            "200 OK"
        };
        Some((
            Duration::ZERO,
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n"),
        ))
    });
    let mut s = spec(addr, 2000.0, 800);
    s.classes.push(Class {
        weight: 3.0,
        payload: b"other".to_vec(),
        task_type: Some(7),
        ..Class::default()
    });
    let mut csv = Vec::new();
    let summary = load::run(&s, &mut csv).expect("run");
    assert_eq!(summary.answered, 800, "{}", summary.render());
    let rows = rows(&csv);
    for r in &rows {
        assert_eq!(r[4] == "429", r[10] == "1", "{r:?}");
    }
    let heavy = rows.iter().filter(|r| r[10] == "1").count();
    // Binomial(800, 0.75): sd ≈ 12; ±60 is five sd.
    assert!(
        (540..=660).contains(&heavy),
        "{heavy} of 800 drew the weight-3 class"
    );
}

#[test]
fn sends_on_time_while_answers_are_slow_and_times_out() {
    // Every answer takes 150 ms, the last request is never answered; at 200/s the generator needs
    // ~30 connections in flight and must not wait for any of them before sending the next request.
    let addr = serve(|head| {
        if head.starts_with("GET /discovery") {
            return Some((
                Duration::ZERO,
                "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{\"machine_id\":\"n-1\"}".to_owned(),
            ));
        }
        let reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_owned();
        Some((Duration::from_millis(150), reply))
    });
    let started = Instant::now();
    let mut csv = Vec::new();
    let summary = load::run(&spec(addr, 200.0, 40), &mut csv).expect("run");
    assert_eq!(summary.ok, 40, "{}", summary.render());
    // 40 sends at 200/s take 0.2 s; sequential sending would take 40 × 150 ms = 6 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(summary.connections_opened_late > 0);
    let rows = rows(&csv);
    assert!(
        rows.iter().all(|r| r[8] == "n-1"),
        "executor is the target's machine_id"
    );
    // Send-time error stays far below the 150 ms answers (10× slack for a busy CI machine).
    let worst = rows
        .iter()
        .map(|r| r[3].parse::<i64>().expect("send_error_ns"))
        .max()
        .unwrap_or(0);
    assert!(worst < 50_000_000, "worst send error {worst} ns");

    let silent = serve(|head| {
        (!head.starts_with("POST")).then(|| {
            (
                Duration::ZERO,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned(),
            )
        })
    });
    let mut csv = Vec::new();
    let summary = load::run(&spec(silent, 100.0, 3), &mut csv).expect("run");
    assert_eq!((summary.sent, summary.failed), (3, 3));
    assert!(rows_of(&csv).all(|r| r[4] == "0" && r[9] == "timeout" && r[8] == silent.to_string()));
}

fn rows_of(csv: &[u8]) -> impl Iterator<Item = Vec<String>> {
    rows(csv).into_iter()
}
