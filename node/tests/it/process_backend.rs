//! The process backend through the real node: stdin/stdout, `Http_*` environment, working directory,
//! failures (502) and the timeout (504) that must kill the whole process group and leave no zombie.

use std::time::{Duration, Instant};

use crate::harness::{Node, Reply};
use crate::nodetest;

/// A marker unique to this test process and call site, put in a command line so /proc can find it.
fn marker(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("p2pfaas-marker-{tag}-{}-{nanos}", std::process::id())
}

fn config(functions: &str) -> String {
    format!(
        r#"
[node]
listen = "127.0.0.1:0"
workers = 2
blocking_threads = 4
[queue]
slots = 4
queue_len = 4
{functions}
"#
    )
}

fn message(reply: &Reply) -> String {
    reply.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Processes whose command line or environment contains `needle` (children inherit the environment,
/// so this finds every descendant of a function process).
fn processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let has = |file: &str| {
            std::fs::read(entry.path().join(file))
                .is_ok_and(|text| text.windows(needle.len()).any(|w| w == needle.as_bytes()))
        };
        if has("cmdline") || has("environ") {
            found.push(pid);
        }
    }
    found
}

/// Zombie children of `parent`.
fn zombies_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) S ppid ...": the command may contain spaces, so split after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if state == Some("Z") && ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

nodetest!(cat_echoes_a_large_body_with_its_content_type, |driver| {
    let node = Node::start(
        driver,
        &config("[functions.cat]\nbackend = \"process\"\ncommand = [\"cat\"]"),
        &[],
    );
    let body: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let reply = node.call(
        "POST",
        "/function/cat",
        &[("Content-Type", "application/octet-stream")],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.body.len(), body.len());
    assert!(reply.body == body, "body changed on the way through cat");
    assert_eq!(
        reply.header("Content-Type"),
        Some("application/octet-stream")
    );
    // Without a request type the reply is plain text.
    let reply = node.post("/function/cat", b"hello");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "hello");
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
});

nodetest!(
    environment_metadata_and_workdir_reach_the_process,
    |driver| {
        let functions = r#"
[functions.env]
backend = "process"
command = ["sh", "-c", "printf '%s %s %s %s %s' \"$GREETING\" \"$Http_Method\" \"$Http_Query\" \"$Http_Path\" \"$Http_X_Custom_Id\""]
env = { GREETING = "hi" }
[functions.pwd]
backend = "process"
command = ["pwd"]
workdir = "/tmp"
"#;
        let node = Node::start(driver, &config(functions), &[]);
        let reply = node.call(
            "PUT",
            "/function/env/sub/path?x=1&y=2",
            &[("X-Custom-Id", "abc")],
            b"",
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.text(), "hi PUT x=1&y=2 /sub/path abc");
        let reply = node.get("/function/env");
        assert_eq!(reply.text(), "hi GET  / ");
        let reply = node.post("/function/pwd", b"");
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.text().trim_end(), "/tmp");
    }
);

nodetest!(failures_are_502_with_the_reason, |driver| {
    let functions = r#"
[functions.fail]
backend = "process"
command = ["sh", "-c", "echo oops >&2; exit 3"]
[functions.missing]
backend = "process"
command = ["/nonexistent/p2pfaas-no-such-program"]
"#;
    let node = Node::start(driver, &config(functions), &[]);
    let reply = node.post("/function/fail", b"x");
    assert_eq!(reply.status, 502, "{}", reply.text());
    let msg = message(&reply);
    assert!(msg.contains("exit status 3"), "{msg}");
    assert!(msg.contains("oops"), "{msg}");
    assert_eq!(
        reply.header("X-P2pfaas-Reject-Reason"),
        Some("function_failed")
    );
    let reply = node.post("/function/missing", b"");
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(message(&reply).contains("cannot start"), "{}", reply.text());
});

nodetest!(
    timeout_kills_the_whole_group_and_leaves_no_zombie,
    |driver| {
        let mark = marker(match driver {
            crate::harness::Driver::IoUring => "uring",
            crate::harness::Driver::Epoll => "epoll",
        });
        let functions = format!(
            r#"
[functions.sleeper]
backend = "process"
command = ["sh", "-c", "sleep 30 & sleep 30; : {mark}", "{mark}"]
env = {{ P2PFAAS_TEST_MARK = "{mark}" }}
timeout_ms = 300
[functions.cat]
backend = "process"
command = ["cat"]
"#
        );
        let node = Node::start(driver, &config(&functions), &[]);
        let addr = node.addr;
        let t0 = Instant::now();
        let call = std::thread::spawn(move || {
            let mut conn = crate::harness::Conn::open(addr);
            conn.send("POST", "/function/sleeper", &[], b"");
            conn.read_reply()
        });
        // While it runs, the scan sees the shell and both sleeps (so an empty scan later means something).
        std::thread::sleep(Duration::from_millis(150));
        let running = processes_with(&mark);
        let reply = call.join().expect("client");
        let took = t0.elapsed();
        assert!(
            running.len() >= 3,
            "expected sh and two sleeps: {running:?}"
        );
        assert_eq!(reply.status, 504, "{}", reply.text());
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{took:?}"
        );
        // The shell was started with the marker in its argv; the sleeps are its children in its group.
        std::thread::sleep(Duration::from_secs(1));
        let left = processes_with(&mark);
        assert!(left.is_empty(), "processes survived the kill: {left:?}");
        let zombies = zombies_of(node.child.id());
        assert!(
            zombies.is_empty(),
            "zombie children of the node: {zombies:?}"
        );
        // The node keeps serving.
        let reply = node.post("/function/cat", b"still here");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), "still here");
    }
);

// Every one of K process calls runs at once: a call holds a blocking-pool thread for its whole run, so
// the pool grows with K (here K = 6 on a machine with fewer cores), including after a live resize.
nodetest!(k_process_calls_run_concurrently, |driver| {
    let dir = crate::harness::temp_dir("concurrency");
    let functions = format!(
        "[functions.count]\nbackend = \"process\"\ncommand = [\"sh\", \"-c\", \"touch \\\"$DIR/$$\\\"; sleep 0.5; n=$(ls \\\"$DIR\\\" | wc -l); sleep 0.5; rm \\\"$DIR/$$\\\"; echo $n\"]\nenv = {{ DIR = {:?} }}\n",
        dir.display().to_string()
    );
    let node = Node::start(driver, &config(&functions), &[]);
    assert_eq!(
        node.post(
            "/configuration",
            br#"{"parallel_running_functions_max": 6}"#
        )
        .status,
        200
    );
    let replies = crate::harness::concurrent(&node, 6, "/function/count");
    let counts: Vec<u32> = replies
        .iter()
        .map(|r| r.text().trim().parse().unwrap_or(0))
        .collect();
    assert!(replies.iter().all(|r| r.status == 200), "{replies:#?}");
    // Each call counts the calls alive half-way through its run (files are removed at the end), so a
    // call that had to wait for a pool thread sees fewer than six.
    assert_eq!(counts, [6; 6], "all six must run at once: {counts:?}");
    let _ = std::fs::remove_dir_all(&dir);
});
