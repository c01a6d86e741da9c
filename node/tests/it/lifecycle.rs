//! Start-up, persistence across restarts, and graceful shutdown on SIGTERM.

use std::time::{Duration, Instant};

use crate::harness::{BASE_CONFIG, Conn, Node, temp_dir};
use crate::nodetest;

nodetest!(sigterm_finishes_in_flight_work_then_exits_0, |driver| {
    let mut node = Node::start(driver, BASE_CONFIG, &[]);
    let addr = node.addr;
    // Six calls: four run, two wait in the queue; all must complete.
    let clients: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Conn::open(addr);
                c.send("POST", "/function/sleep", &[], format!("{i}").as_bytes());
                c.read_reply()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let idle = Conn::open(addr);
    let t0 = Instant::now();
    node.terminate();
    let replies: Vec<_> = clients
        .into_iter()
        .map(|h| h.join().expect("client"))
        .collect();
    assert!(replies.iter().all(|r| r.status == 200), "{replies:#?}");
    assert!(
        replies
            .iter()
            .all(|r| r.header("Connection") == Some("close"))
    );
    let status = node.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "stderr: {}",
        node.stderr()
    );
    // Queued work took a second service time; the process did not exit before it was done.
    assert!(
        t0.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        t0.elapsed()
    );
    drop(idle);
    // New connections are refused once it has exited.
    assert!(std::net::TcpStream::connect(addr).is_err());
});

nodetest!(runtime_settings_persist_across_restart, |driver| {
    let node = Node::start_in(temp_dir("persist"), driver, BASE_CONFIG, &[]);
    assert_eq!(
        node.post(
            "/configuration",
            br#"{"parallel_running_functions_max": 7, "queue_enabled": false}"#
        )
        .status,
        200
    );
    assert_eq!(
        node.post(
            "/configuration/scheduler",
            br#"{"name":"NoScheduler","parameters":["true"]}"#
        )
        .status,
        200
    );
    let dir = node.stop_keep_dir();
    let node = Node::start_in(dir, driver, BASE_CONFIG, &[]);
    let c = node.get("/configuration").json();
    assert_eq!(c["parallel_running_functions_max"], 7);
    assert_eq!(c["queue_enabled"], false);
    assert_eq!(node.get("/monitoring/load").json()["queue_len"], 0);
    assert_eq!(
        node.get("/configuration/scheduler").json()["parameters"][0],
        "true"
    );
});

#[test]
fn monoio_force_legacy_env_selects_epoll() {
    let dir = temp_dir("legacy-env");
    std::fs::write(dir.join("node.toml"), BASE_CONFIG).expect("write");
    let mut child = std::process::Command::new(crate::harness::binary())
        .arg("--config")
        .arg(dir.join("node.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("MONOIO_FORCE_LEGACY_DRIVER", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .expect("listening line");
    let mut c = Conn::open(addr);
    c.send("GET", "/metrics", &[], b"");
    let text = c.read_reply().text();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        text.contains("p2pfaas_runtime_driver_info{driver=\"epoll\""),
        "{text}"
    );
}

/// With io_uring impossible to set up (an unprivileged user whose locked-memory limit is 0 cannot map a
/// ring), `driver = "auto"` must fall back to epoll, say why, and serve normally.
#[test]
fn auto_driver_falls_back_to_epoll_when_io_uring_cannot_be_set_up() {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let tools = ["setpriv", "prlimit"].iter().all(|t| {
        std::process::Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !root || !tools {
        eprintln!("skipped: needs root plus setpriv and prlimit to run the node unprivileged");
        return;
    }
    let dir = temp_dir("fallback");
    let _ = std::process::Command::new("chmod")
        .arg("777")
        .arg(&dir)
        .status();
    let wrapper = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "prlimit",
        "--memlock=0:0",
    ];
    let node = Node::spawn_wrapped(dir, &wrapper, None, BASE_CONFIG, &[])
        .unwrap_or_else(|e| panic!("node did not start unprivileged: {e}"));
    let metrics = node.get("/metrics").text();
    assert!(
        metrics.contains("p2pfaas_runtime_driver_info{driver=\"epoll\""),
        "{metrics}"
    );
    assert_eq!(node.post("/function/echo", b"fallback").text(), "fallback");
    let stderr = node.stderr();
    assert!(
        stderr.contains("using the epoll driver") && stderr.contains("reason="),
        "{stderr}"
    );
}

nodetest!(a_second_node_on_a_taken_port_refuses_to_start, |driver| {
    let first = Node::start(driver, BASE_CONFIG, &[]);
    let port = first.addr.port().to_string();
    let config = BASE_CONFIG.replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    // With SO_REUSEPORT alone the second would silently take half of the first one's connections.
    let err = Node::try_start(driver, &config, &[])
        .err()
        .unwrap_or_else(|| "it started".into());
    assert!(err.contains("Address already in use"), "{err}");
    assert_eq!(first.get("/healthz").status, 200);
});

/// The node's few logarithms come from the `libm` crate: linked against glibc's libm.so instead, every
/// node maps it at start (~450 KiB resident at idle, see bench/overhead.sh) for three functions.
#[test]
fn the_binary_does_not_load_libm() {
    let exe = crate::harness::binary();
    let bytes = std::fs::read(exe).expect("read the node binary");
    let needs_libm = bytes.windows(b"libm.so".len()).any(|w| w == b"libm.so");
    assert!(
        !needs_libm,
        "{exe} names libm.so: some f64/f32 math function now comes from glibc's libm; use libm:: (the crate)"
    );
}
