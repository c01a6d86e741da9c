//! The client against a scripted agent on a real Unix socket: answers, a stall, a bad answer,
//! transitions in a batch, a reconnect after the agent drops the connection, and a new shape announced
//! on the live connection.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::sync::mpsc;

use super::*;
use crate::config::{Config, Raw};

/// Frames the scripted agent saw: (kind, body).
type Frames = Vec<(u8, Vec<u8>)>;
/// Where the scripted agent reports each frame.
type Seen = mpsc::Sender<(u8, Vec<u8>)>;

fn read_frame(s: &mut std::os::unix::net::UnixStream) -> Option<(u8, Vec<u8>)> {
    let mut len = [0; 4];
    s.read_exact(&mut len).ok()?;
    let mut frame = vec![0; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut frame).ok()?;
    Some((frame[0], frame[1..].to_vec()))
}

/// The agent: answers 1 to task type 0, 99 (out of range) to type 8, nothing to type 9, and closes
/// the first connection at a decide of type 7.
fn agent(listener: &UnixListener, seen: &Seen) {
    for conn in listener.incoming() {
        let Ok(mut s) = conn else { return };
        while let Some((kind, body)) = read_frame(&mut s) {
            let _ = seen.send((kind, body.clone()));
            if kind != codec::kind::DECIDE {
                continue;
            }
            let eid = u64::from_le_bytes(body[..8].try_into().expect("8 bytes"));
            let action = match u16::from_le_bytes([body[8], body[9]]) {
                0 => 1,
                8 => 99,
                7 => break,
                _ => continue,
            };
            let mut out = Vec::new();
            codec::encode_action(&mut out, codec::Action { eid, action });
            if s.write_all(&out).is_err() {
                break;
            }
        }
    }
}

/// A scripted agent on a fresh socket in a temp dir, a node (for its shutdown) and a client of
/// 3-value states for worker 1; `test` runs with the client connected, then the node shuts down.
/// Returns the frames the agent saw, the worker's metrics, and the temp dir (to remove).
fn with_client<F: Future<Output = ()>>(
    tag: &str,
    test: impl FnOnce(Rc<Client>, Arc<WorkerMetrics>) -> F,
) -> (Frames, Arc<WorkerMetrics>, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("p2pfaas-agent-client-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("agent.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || agent(&listener, &tx));
    let toml = format!("[node]\ndata_dir = \"{}\"\n", dir.join("data").display());
    let config = Config::from_raw(Raw::from_toml(&toml).expect("toml")).expect("config");
    let node = Arc::new(Node::new(config).expect("node"));
    let metrics = Arc::new(WorkerMetrics::new());
    let shape = Shape {
        dims: 3,
        actions: 3,
        worker: 1,
        node: "n-test".into(),
    };
    let client = Client::new(Target::Unix(path), shape, Arc::clone(&metrics));
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime");
    rt.block_on(async {
        monoio::spawn(Rc::clone(&client).run(Arc::clone(&node)));
        for _ in 0..200 {
            if client.connected.get() {
                break;
            }
            monoio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(client.connected.get(), "connects");
        test(client, Arc::clone(&metrics)).await;
        node.shutdown.trigger();
    });
    (rx.try_iter().collect(), metrics, dir)
}

#[test]
fn decides_times_out_rejects_bad_answers_batches_transitions_and_reconnects() {
    let (frames, metrics, dir) = with_client("basics", |client, metrics| async move {
        let up = |c: &Client| c.connected.get();
        let state = [0.0, 1.0, 2.0];
        let long = Duration::from_secs(5);
        let (eid, action) = client.decide(0, &state, long).await.expect("answered");
        assert_eq!(action, 1);
        assert_eq!(eid >> 48, 1, "the worker sits in the eid's top bits");
        // Pipelined: several decides in flight on one connection.
        let (a, b) = monoio::join!(
            client.decide(0, &state, long),
            client.decide(0, &state, long)
        );
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(
            client.decide(9, &state, Duration::from_millis(30)).await,
            Err(Fallback::Timeout)
        );
        assert_eq!(
            client.decide(8, &state, long).await,
            Err(Fallback::BadAnswer)
        );
        for eid in 0..3 {
            client.queue_transition(&Transition {
                eid,
                task_type: 0,
                action: 1,
                reward: 0.5,
                state: &state,
            });
        }
        // A partial batch goes out after FLUSH_EVERY of quiet.
        monoio::time::sleep(FLUSH_EVERY * 5).await;
        // The agent drops the connection: the wait ends at once, then the client reconnects.
        assert_eq!(
            client.decide(7, &state, long).await,
            Err(Fallback::Disconnected)
        );
        for _ in 0..200 {
            if metrics.agent_connects.load(Relaxed) == 2 && up(&client) {
                break;
            }
            monoio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(metrics.agent_connects.load(Relaxed), 2, "reconnected");
        assert_eq!(client.decide(0, &state, long).await.map(|a| a.1), Ok(1));
    });
    let hellos: Vec<_> = frames
        .iter()
        .filter(|f| f.0 == codec::kind::HELLO)
        .collect();
    assert_eq!(hellos.len(), 2, "one hello per connection");
    assert_eq!(hellos[0].1[0], codec::VERSION);
    assert!(hellos[0].1.ends_with(b"n-test"));
    let batch = frames
        .iter()
        .find(|f| f.0 == codec::kind::TRANSITIONS)
        .expect("a transitions frame");
    assert_eq!(&batch.1[..4], &3u32.to_le_bytes());
    assert_eq!(batch.1.len(), 4 + 3 * codec::transition_len(3));
    assert_eq!(metrics.agent_transitions.load(Relaxed), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reshape_sends_a_new_hello_after_the_old_shapes_transitions() {
    let (frames, metrics, dir) = with_client("reshape", |client, _| async move {
        let long = Duration::from_secs(5);
        let old = [0.0, 1.0, 2.0];
        let new = [0.0, 1.0, 2.0, 3.0, 4.0];
        let t = |eid, state| Transition {
            eid,
            task_type: 0,
            action: 1,
            reward: 1.0,
            state,
        };
        client.reshape(3);
        client.queue_transition(&t(1, &old));
        client.queue_transition(&t(2, &old));
        client.reshape(5);
        assert_eq!(client.dims(), 5);
        // Decided before the change, finished after it: its state no longer fits the agent's shape.
        client.queue_transition(&t(3, &old));
        client.queue_transition(&t(4, &new));
        assert_eq!(client.decide(0, &new, long).await.map(|a| a.1), Ok(1));
        monoio::time::sleep(FLUSH_EVERY * 5).await;
    });
    let kinds: Vec<u8> = frames.iter().map(|f| f.0).collect();
    use codec::kind::{DECIDE, HELLO, TRANSITIONS};
    assert_eq!(kinds, [HELLO, TRANSITIONS, HELLO, DECIDE, TRANSITIONS]);
    assert_eq!(
        &frames[0].1[1..3],
        &3u16.to_le_bytes(),
        "the first hello: 3"
    );
    assert_eq!(frames[1].1.len(), 4 + 2 * codec::transition_len(3));
    assert_eq!(&frames[2].1[1..3], &5u16.to_le_bytes(), "the new hello: 5");
    assert_eq!(frames[3].1.len(), 10 + 4 * 5);
    assert_eq!(frames[4].1.len(), 4 + codec::transition_len(5));
    assert_eq!(metrics.agent_transitions.load(Relaxed), 3);
    assert_eq!(metrics.agent_transitions_dropped.load(Relaxed), 1);
    assert_eq!(
        metrics.agent_connects.load(Relaxed),
        1,
        "the same connection"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
