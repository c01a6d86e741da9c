//! Counts the heap allocations of learning decisions taken by an external agent (`learner.external`,
//! binary protocol over a Unix socket): the node and the client run on this test's one monoio runtime,
//! so the workspace's counting allocator (`p2pfaas-alloc-count`, which counts this thread only) sees
//! every allocation of the node's decide, wait, answer and transition path; the stand-in agent runs on
//! its own thread and is not counted.
//!
//! The node is warmed up first (connection up, buffers sized); then `CALLS` calls with a deadline (so
//! each decision's transition is streamed back too) are counted, across a change of N at run time
//! (which re-announces the shape on the live connection) done during the warm-up. Nothing may
//! allocate per decision.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use p2pfaas_alloc_count::count;

mod alloc_support;
use alloc_support::{Answer, Client, node, runtime, serve};

#[global_allocator]
static GLOBAL: p2pfaas_alloc_count::Counting = p2pfaas_alloc_count::Counting;

const WARM_UP: usize = 200;
const CALLS: usize = 1000;

/// Answers "run here" to every decide; reads and ignores everything else.
fn agent(mut s: UnixStream) {
    let mut frame = Vec::new();
    loop {
        let mut len = [0; 4];
        if s.read_exact(&mut len).is_err() {
            return;
        }
        frame.resize(u32::from_le_bytes(len) as usize, 0);
        if s.read_exact(&mut frame).is_err() {
            return;
        }
        if frame[0] == 2 {
            let mut out = [0u8; 15];
            out[..4].copy_from_slice(&11u32.to_le_bytes());
            out[4] = 0x81;
            out[5..13].copy_from_slice(&frame[1..9]);
            out[13..].copy_from_slice(&1u16.to_le_bytes());
            if s.write_all(&out).is_err() {
                return;
            }
        }
    }
}

/// The echo ran here (the agent's action 1).
fn ran_here(a: &Answer) -> bool {
    a.status == 200 && a.body_len == 5 && !a.forwarded
}

#[test]
fn an_external_agents_decision_allocates_nothing() {
    let dir = std::env::temp_dir().join(format!("p2pfaas-agent-alloc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("agent.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || agent(conn));
        }
    });
    let config = format!(
        r#"
[scheduler]
name = "LearningScheduler"
parameters = ["1"]
[learner]
external = "unix:{}"
external_timeout_ms = 5000
[functions.echo]
backend = "builtin"
builtin = "echo"
"#,
        path.display()
    );
    let n = node("a", &dir, &config);
    let mut rt = runtime();
    let (mut client, before) = rt.block_on(async {
        let addr = serve(&n).await;
        let request = format!(
            "POST /function/echo HTTP/1.1\r\nHost: {addr}\r\nX-P2pfaas-Deadline-Ms: 10000\r\n\
             Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
        )
        .into_bytes();
        let decisions = || n.metrics[0].agent_decisions.load(Relaxed);
        // Until the agent's connection is up, decisions fall back.
        let mut client = Client::connect(addr, request).await;
        for _ in 0..500 {
            assert!(ran_here(&client.call().await));
            if decisions() > 0 {
                break;
            }
            monoio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(decisions() > 0, "the agent decides");
        for i in 0..WARM_UP {
            if i == WARM_UP / 2 {
                let desc = p2pfaas_node::scheduler::Descriptor {
                    name: "LearningScheduler".into(),
                    parameters: vec!["2".into()],
                };
                n.set_scheduler(desc).expect("LearningScheduler(2)");
            }
            assert!(ran_here(&client.call().await));
        }
        let before = decisions();
        // Let the warm-up's transitions go out in a partial batch.
        monoio::time::sleep(Duration::from_millis(100)).await;
        (client, before)
    });
    let ((), runtime) = count(|| rt.block_on(async {}));
    let (done, allocations) = count(|| {
        rt.block_on(async {
            let calls = async {
                for _ in 0..CALLS {
                    assert!(ran_here(&client.call().await));
                }
                // Two partial-batch periods: the last transitions are framed and written.
                monoio::time::sleep(Duration::from_millis(60)).await;
            };
            monoio::time::timeout(Duration::from_secs(60), calls).await
        })
    });
    done.expect("in time");
    let _ = std::fs::remove_dir_all(&dir);
    let m = &n.metrics[0];
    assert_eq!(
        m.agent_decisions.load(Relaxed) - before,
        CALLS as u64,
        "every counted call was the agent's decision"
    );
    assert!(
        m.agent_transitions.load(Relaxed) >= CALLS as u64,
        "the decisions' transitions went out"
    );
    eprintln!(
        "{allocations} allocations over {CALLS} agent decisions ({runtime} of them `block_on`'s own)"
    );
    assert_eq!(
        allocations - runtime,
        0,
        "the external agent's decision path allocates in steady state"
    );
}
