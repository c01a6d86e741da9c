//! `LearningScheduler` and the learner API on a real node: the node learns from deadline rewards it
//! computes itself, reports the original's learning headers, serves `/learner/*` (and the original paths
//! on a learner port), validates everything, and keeps its weights across a restart.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{Conn, Node, Reply, toml_strings, wait_for_peers};
use crate::nodetest;

/// K = 1, Q = 1, a 20 ms function and a generous deadline: running locally earns 1 unless slot and queue
/// are both taken, when it is refused (429) and earns −1; the learner's own reject earns 0. The best policy
/// is therefore "local unless full".
const CONFIG: &str = r#"
[node]
listen = "127.0.0.1:0"
workers = 2
seed = 11
[queue]
slots = 1
queue_len = 1
task_types = 1
[scheduler]
name = "LearningScheduler"
parameters = ["1"]
[learner]
reward_met = 1.0
reward_missed = -1.0
reward_rejected = 0.0
[learner.parameters]
alpha = 0.1
beta = 0.01
epsilon_start = 0.9
epsilon_min = 0.05
epsilon_decay = 0.99
window_size = 5
[functions.work]
backend = "builtin"
builtin = "sleep"
mean_ms = 20
distribution = "fixed"
[functions.echo]
backend = "builtin"
builtin = "echo"
"#;

/// The reward the node computes, seen from the client.
fn reward(r: &Reply) -> f64 {
    match r.status {
        200 => 1.0,
        503 => 0.0,
        _ => -1.0,
    }
}

/// Three closed-loop clients (2 ms think time) send `total` calls with a deadline; returns the replies in
/// answer order.
fn drive(addr: SocketAddr, total: usize) -> Vec<Reply> {
    let replies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let stop = Arc::new(AtomicBool::new(false));
    let end = Instant::now() + Duration::from_secs(60);
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (replies, stop) = (Arc::clone(&replies), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut c = Conn::open(addr);
                while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                    c.send(
                        "POST",
                        "/function/work",
                        &[("X-P2pfaas-Deadline-Ms", "500")],
                        b"x",
                    );
                    let r = c.read_reply();
                    {
                        let mut all = replies
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        all.push(r);
                        if all.len() >= total {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    // A short think time, so that the node is sometimes idle.
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    replies
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

fn mean(rs: &[Reply]) -> f64 {
    rs.iter().map(reward).sum::<f64>() / rs.len().max(1) as f64
}

/// The greedy action values of a state, from `/learner/weights`.
fn values(node: &Node, key: &str) -> Vec<f64> {
    let w = node.get("/learner/weights").json();
    let row = w["states_map"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("state {key} never visited: {w}"));
    w["table"][row as usize]
        .as_array()
        .map(|r| r.iter().filter_map(serde_json::Value::as_f64).collect())
        .unwrap_or_default()
}

nodetest!(
    learns_to_reject_only_when_slot_and_queue_are_full,
    |driver| {
        let node = Node::start(driver, CONFIG, &[]);
        let replies = drive(node.addr, 900);
        assert!(replies.len() >= 900, "only {} replies", replies.len());
        for r in &replies {
            assert!(
                matches!(r.status, 200 | 429 | 503),
                "unexpected {}: {}",
                r.status,
                r.text()
            );
            assert!(r.header("X-P2pfaas-Scheduler-Learning-Eid").is_some());
            assert_eq!(
                r.header("X-P2pfaas-Scheduler"),
                Some("LearningScheduler(1)")
            );
        }
        let early = mean(&replies[..150]);
        let late = mean(&replies[replies.len() - 300..]);
        let refused =
            |rs: &[Reply]| rs.iter().filter(|r| r.status == 429).count() as f64 / rs.len() as f64;
        let (early_refused, late_refused) = (
            refused(&replies[..150]),
            refused(&replies[replies.len() - 300..]),
        );
        eprintln!(
            "reward per decision: first 150 {early:.3} ({early_refused:.3} refused), \
             last 300 {late:.3} ({late_refused:.3} refused)"
        );
        assert!(
            late > early + 0.1 && late_refused * 3.0 < early_refused,
            "reward rate should improve: first 150 {early:.3} ({early_refused:.3} refused), \
         last 300 {late:.3} ({late_refused:.3} refused)"
        );

        // The greedy policy: local when there is room, reject when slot and queue are taken.
        let idle = values(&node, "0,0,0");
        assert!(idle[1] > idle[0], "idle: {idle:?}");
        let full = values(&node, "0,1,1");
        assert!(full[0] > full[1], "full: {full:?}");

        // Every decision got its reward from the node and each transition between them was trained.
        let stats = node.get("/learner/stats").json();
        let decisions = stats["inferences"].as_u64().unwrap_or(0);
        assert!(decisions >= replies.len() as u64, "{stats}");
        assert_eq!(stats["rewards"].as_u64(), Some(decisions), "{stats}");
        assert_eq!(
            stats["trained_items"].as_u64(),
            Some(decisions - 1),
            "{stats}"
        );
        assert_eq!(stats["late_rewards"], 0, "{stats}");
        let metrics = node.get("/metrics").text();
        assert!(
            metrics.contains("p2pfaas_learner_inferences_total "),
            "{metrics}"
        );
    }
);

nodetest!(learning_headers_have_the_originals_formats, |driver| {
    let node = Node::start(driver, CONFIG, &[]);
    let r = node.call("POST", "/function/echo", &[], b"hi");
    let eid: u64 = r
        .header("X-P2pfaas-Scheduler-Learning-Eid")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{:?}", r.headers));
    assert!(eid >= 1);
    assert_eq!(
        r.header("X-P2pfaas-Scheduler-Learning-State"),
        Some("0.000000,0.000000,0.000000")
    );
    let action = r
        .header("X-P2pfaas-Scheduler-Learning-Action")
        .unwrap_or("");
    assert!(
        action == "0.000000" || action == "1.000000",
        "action {action:?}"
    );
    assert_eq!(
        r.header("X-P2pfaas-Scheduler-Learning-Eps"),
        Some("0.900000")
    );
    // A rejection carries the headers too, with the learner's reason.
    let mut saw_reject = false;
    for _ in 0..40 {
        let r = node.call("POST", "/function/echo", &[], b"hi");
        if r.status == 503 {
            assert_eq!(r.header("X-P2pfaas-Reject-Reason"), Some("learner_reject"));
            assert_eq!(
                r.header("X-P2pfaas-Scheduler-Learning-Action"),
                Some("0.000000")
            );
            assert_eq!(r.json()["code"], 401);
            saw_reject = true;
            break;
        }
    }
    assert!(saw_reject, "ε = 0.9 rejects about half the calls");
    // No deadline: nothing is learned by the node, the client may train instead.
    assert_eq!(node.get("/learner/stats").json()["rewards"], 0);
    // A bad deadline is a 400 naming the header.
    let r = node.call(
        "POST",
        "/function/echo",
        &[("X-P2pfaas-Deadline-Ms", "soon")],
        b"",
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("X-P2pfaas-Deadline-Ms"), "{}", r.text());
});

nodetest!(forward_actions_fall_back_to_local_with_a_reason, |driver| {
    let node = Node::start(driver, CONFIG, &[]);
    let r = node.post(
        "/learner/parameters",
        br#"{"actions_n": 5, "epsilon_min": 1.0, "epsilon_start": 1.0}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["parameters"]["actions_n"], 5);
    let mut reasons = std::collections::BTreeSet::new();
    for _ in 0..60 {
        let r = node.call("POST", "/function/echo", &[], b"");
        let action = r
            .header("X-P2pfaas-Scheduler-Learning-Action")
            .unwrap_or_default()
            .to_owned();
        if action == "2.000000" || action == "3.000000" || action == "4.000000" {
            assert_eq!(r.status, 200, "falls back to local");
            reasons.insert(
                r.header("X-P2pfaas-Scheduler-Fallback")
                    .unwrap_or("none")
                    .to_owned(),
            );
        }
    }
    assert_eq!(
        reasons.into_iter().collect::<Vec<_>>(),
        vec!["no_peer".to_owned(), "peer_unavailable".to_owned()]
    );
});

nodetest!(the_originals_configure_script_body_applies, |driver| {
    let node = Node::start(driver, CONFIG, &[]);
    // configure_learner.py's exact body: every key applies, `epsilon` as the current ε.
    let r = node.post(
        "/learner/parameters",
        br#"{"actions_n": 14, "alpha": 0.001, "beta": 0.1, "window_size": 10, "epsilon": 0.9,
             "epsilon_min": 0.05, "epsilon_decay": 0.9995, "epsilon_decay_enabled": true,
             "entry_missing_max_attempts": 50}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let p = node.get("/learner/parameters").json();
    assert_eq!(p["parameters"]["actions_n"], 14);
    assert_eq!(p["parameters"]["window_size"], 10);
    assert_eq!(p["parameters"]["entry_missing_max_attempts"], 50);
    assert!(
        p["parameters"].get("epsilon").is_none(),
        "not a parameter: {p}"
    );
    let eps = node.get("/learner/stats").json()["epsilon"]
        .as_f64()
        .unwrap_or(0.0);
    assert!((eps - 0.9).abs() < 1e-6, "{eps}");
    // A second post moves the current ε again; a value out of range names the key.
    assert_eq!(
        node.post("/learner/parameters", br#"{"epsilon": 0.3}"#)
            .status,
        200
    );
    let eps = node.get("/learner/stats").json()["epsilon"]
        .as_f64()
        .unwrap_or(0.0);
    assert!((eps - 0.3).abs() < 1e-6, "{eps}");
    let r = node.post("/learner/parameters", br#"{"epsilon": 2}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("epsilon"), "{}", r.text());
});

nodetest!(learner_api_validates_and_trains_in_eid_order, |driver| {
    let node = Node::start(driver, CONFIG, &[]);
    // Unknown and mistyped keys are refused by name; nothing changes.
    let r = node.post("/learner/parameters", br#"{"epsilon_max": 0.5}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("epsilon_max"), "{}", r.text());
    let r = node.post("/learner/parameters", br#"{"window_size": "ten"}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("window_size"), "{}", r.text());
    let p = node.get("/learner/parameters").json();
    assert_eq!(p["name"], "SarsaQTable");
    assert_eq!(p["parameters"]["window_size"], 5);
    // EIDs 1..=3 are the node's own; none have been handed out, so the window expects them from 1.
    let r = node.post("/learner/parameters", br#"{"window_size": 1}"#);
    assert_eq!(r.status, 200, "{}", r.text());

    // A batch with a bad entry is refused whole, naming index and field.
    let r = node.post(
        "/learner/train_batch",
        br#"[{"eid":"1","state":"0,0,0","action":"1","reward":1},
             {"eid":"2","state":"0,0","action":"1","reward":1}]"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("[1].state"), "{}", r.text());
    assert_eq!(node.get("/learner/stats").json()["pending_entries"], 0);

    // Out-of-order entries are trained once consecutive: 3 arrives first, then 1 and 2.
    let r = node.post(
        "/learner/train_batch",
        br#"[{"eid":"3","state":"0,1,0","action":"1","reward":1}]"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "ok");
    let train = |eid: &str| {
        node.call(
            "GET",
            "/learner/train",
            &[
                ("X-P2pfaas-Learning-Eid", eid),
                ("X-P2pfaas-Learning-State", "0.0000,0.0000,0.0000"),
                ("X-P2pfaas-Learning-Action", "1.0000"),
                ("X-P2pfaas-Learning-Reward", "1.0000"),
            ],
            b"",
        )
    };
    assert_eq!(train("2").status, 200);
    assert_eq!(node.get("/learner/stats").json()["trained_items"], 0);
    assert_eq!(train("1").status, 200);
    let stats = node.get("/learner/stats").json();
    assert_eq!(stats["trained_items"], 2, "{stats}");
    assert_eq!(stats["eid_last_trained"], 3, "{stats}");
    // A repeat of a trained entry is accepted and ignored, as in the original.
    assert_eq!(train("1").status, 200);
    assert_eq!(node.get("/learner/stats").json()["stale"], 1);
    let r = node.call(
        "GET",
        "/learner/train",
        &[("X-P2pfaas-Learning-Eid", "4")],
        b"",
    );
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("X-P2pfaas-Learning-State"),
        "{}",
        r.text()
    );

    // /act answers an action and ε; a wrong-length state is a 400.
    let r = node.call(
        "GET",
        "/learner/act",
        &[("X-P2pfaas-Learning-State", "\"0,1,0\"")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert!(matches!(r.text().as_str(), "0" | "1"), "{}", r.text());
    assert!(r.header("X-P2pfaas-Eps").is_some());
    let r = node.call(
        "GET",
        "/learner/act",
        &[("X-P2pfaas-Learning-State", "0,1")],
        b"",
    );
    assert_eq!(r.status, 400);

    // Reset empties the table and the counters.
    assert_eq!(node.get("/learner/reset").status, 200);
    let stats = node.get("/learner/stats").json();
    assert_eq!(stats["trained_items"], 0);
    assert_eq!(stats["states"], 0);
});

nodetest!(learner_port_serves_the_original_paths, |driver| {
    let config = CONFIG.replace("[learner]\n", "[learner]\nlisten = \"127.0.0.1:0\"\n");
    let mut node = Node::start(driver, &config, &[]);
    let learner: SocketAddr = node.api_addr("learner");
    let call = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        let mut c = Conn::open(learner);
        c.send(method, path, headers, body);
        c.read_reply()
    };
    let r = call("GET", "/", &[], b"");
    assert_eq!(r.status, 200);
    assert!(
        r.text().starts_with("This is p2pfaas-learner"),
        "{}",
        r.text()
    );
    let r = call("GET", "/act", &[("X-P2pfaas-Learning-State", "0,0,0")], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = call(
        "POST",
        "/train_batch",
        &[("Content-Type", "application/json")],
        br#"[{"eid":"1","state":"0,0,0","action":"1","reward":1}]"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(call("GET", "/learner/stats", &[], b"").json()["rewards"], 1);
    // Function calls are not served on the learner port, nor the bare learner paths on the main port.
    assert_eq!(call("POST", "/function/echo", &[], b"").status, 404);
    assert_eq!(node.get("/act").status, 404);
});

nodetest!(weights_survive_a_restart, |driver| {
    let node = Node::start(driver, CONFIG, &[]);
    let r = node.post(
        "/learner/train_batch",
        br#"[{"eid":1,"state":"0,0,0","action":1,"reward":1},
             {"eid":2,"state":"0,1,0","action":1,"reward":1},
             {"eid":3,"state":"0,1,1","action":0,"reward":0},
             {"eid":4,"state":"0,0,0","action":1,"reward":1},
             {"eid":5,"state":"0,0,0","action":1,"reward":1},
             {"eid":6,"state":"0,0,0","action":1,"reward":1}]"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let before = node.get("/learner/weights").json();
    assert!(
        !before["states_map"]
            .as_object()
            .is_none_or(serde_json::Map::is_empty),
        "{before}"
    );
    let dir = node.stop_keep_dir();
    let node = Node::start_in(dir, driver, CONFIG, &[]);
    assert_eq!(node.get("/learner/weights").json(), before);
});

nodetest!(switching_schedulers_keeps_what_was_learned, |driver| {
    let config = CONFIG.replace("task_types = 1", "task_types = 2");
    let node = Node::start(driver, &config, &[]);
    let r = node.post(
        "/learner/train_batch",
        br#"[{"eid":1,"state":"0,0,0","action":1,"reward":1},
             {"eid":2,"state":"0,1,0","action":1,"reward":1}]"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let before = node.get("/learner/weights").json();
    let set = |body: &[u8]| node.post("/configuration/scheduler", body);
    assert_eq!(
        set(br#"{"name":"NoScheduler","parameters":["false"]}"#).status,
        200
    );
    assert_eq!(
        set(br#"{"name":"LearningScheduler","parameters":["1"]}"#).status,
        200
    );
    assert_eq!(node.get("/learner/weights").json(), before);
    // More task types than the node counts is refused, naming the parameter.
    let r = set(br#"{"name":"LearningScheduler","parameters":["3"]}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("NumberOfTaskTypes"), "{}", r.text());
    // A new N changes the state's shape: the table starts over with 1 + 2·2 values per state.
    assert_eq!(
        set(br#"{"name":"LearningScheduler","parameters":["2"]}"#).status,
        200
    );
    assert_eq!(node.get("/learner/stats").json()["dims"], 5);
    assert_eq!(node.get("/learner/stats").json()["states"], 0);
    let r = node.call(
        "POST",
        "/function/echo",
        &[("X-P2pfaas-Scheduler-Learning-Task-Type", "1")],
        b"",
    );
    assert_eq!(
        r.header("X-P2pfaas-Scheduler-Learning-State"),
        Some("1.000000,0.000000,0.000000,0.000000,0.000000")
    );
    assert_eq!(
        r.header("X-P2pfaas-Scheduler"),
        Some("LearningScheduler(2)")
    );
});

/// A node `id` whose scheduler is `LearningScheduler(1, true)` (double decision) with ε = 1, so that its
/// learned accept-or-refuse is a coin toss, or the origin `a` (no scheduler of its own) with `peers`.
fn double_config(id: &str, scheduler: &str, params: &[&str], peers: &[SocketAddr]) -> String {
    let (params, peers) = (toml_strings(params), toml_strings(peers));
    format!(
        r#"
[node]
listen = "127.0.0.1:0"
workers = 2
[queue]
slots = 4
queue_len = 8
task_types = 1
[scheduler]
name = "{scheduler}"
parameters = [{params}]
[discovery]
machine_id = "{id}"
init_servers = [{peers}]
[peers]
refresh_interval_ms = 200
[learner]
reward_refused = 0.5
[learner.parameters]
epsilon_start = 1.0
epsilon_min = 1.0
[functions.echo]
backend = "builtin"
builtin = "echo"
"#
    )
}

nodetest!(
    double_decision_refusal_makes_the_origin_run_the_job,
    |driver| {
        let b = Node::start(
            driver,
            &double_config("b", "LearningScheduler", &["1", "true"], &[]),
            &[],
        );
        let a = Node::start(
            driver,
            &double_config("a", "NoScheduler", &["false"], &[b.addr]),
            &[],
        );
        wait_for_peers(&a, 1);
        let (mut refused, mut accepted) = (0, 0);
        for i in 0..40 {
            let r = a.call(
                "POST",
                "/function/echo",
                &[
                    ("X-P2pfaas-Scheduler-Forward", "1"),
                    ("X-P2pfaas-Deadline-Ms", "2000"),
                ],
                format!("job {i}").as_bytes(),
            );
            // Every job is answered, by b when it accepts and by a when it refuses.
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.text(), format!("job {i}"));
            match (
                r.header("X-P2pfaas-Scheduler-Fallback"),
                r.header("X-P2pfaas-Externally-Executed"),
            ) {
                (Some("peer_refused"), None) => refused += 1,
                (None, Some(_)) => accepted += 1,
                other => panic!("neither refused nor accepted: {other:?} {:?}", r.headers),
            }
        }
        // A coin toss 40 times: each side at least 5 times unless something decides for it (p < 1e-6).
        assert!(
            refused >= 5 && accepted >= 5,
            "{refused} refused, {accepted} accepted"
        );
        // The decisions were b's second agent's: its main agent decided nothing.
        assert_eq!(b.get("/learner/stats").json()["inferences"], 0);
        let rejected = b.get("/metrics").text();
        assert!(
            rejected.contains("outcome=\"rejected\""),
            "b counts its refusals as rejects: {rejected}"
        );
        // The second agent's table outlives a restart: it is saved with the first's at shutdown.
        let learned = b.get("/learner/acceptance/weights").json();
        assert!(
            learned["states_map"]
                .as_object()
                .is_some_and(|m| !m.is_empty()),
            "b's second agent learned: {learned}"
        );
        let dir = b.stop_keep_dir();
        let b = Node::start_in(
            dir,
            driver,
            &double_config("b", "LearningScheduler", &["1", "true"], &[]),
            &[],
        );
        assert_eq!(b.get("/learner/acceptance/weights").json(), learned);
    }
);

/// The double decision over `protocol` (`native` or `json`, the origin's `peers.protocol`): `b` decides
/// whether to take jobs of task type 1 whose 4 ms deadline its 30 ms function cannot meet. Its acceptance
/// agent's state holds the task type first and the deadline class last (`deadline_slack`: 2 for 4 ms),
/// and it learns only from jobs with a deadline: the states it learned say what reached it.
fn double_decision_sees_task_type_and_deadline(driver: crate::harness::Driver, protocol: &str) {
    let two_types = |text: String| {
        text.replace("task_types = 1", "task_types = 2")
            .replace(
                "[learner]\n",
                "[learner]\nstate_features = [\"deadline_slack\"]\n",
            )
            .replace(
                "[peers]\n",
                &format!("[peers]\nprotocol = \"{protocol}\"\n"),
            )
            + "[functions.slow]\nbackend = \"builtin\"\nbuiltin = \"sleep\"\nmean_ms = 30\n\
               distribution = \"fixed\"\n"
    };
    let b = Node::start(
        driver,
        &two_types(double_config("b", "LearningScheduler", &["2", "true"], &[])),
        &[],
    );
    let a = Node::start(
        driver,
        &two_types(double_config("a", "NoScheduler", &["false"], &[b.addr])),
        &[],
    );
    wait_for_peers(&a, 1);
    let mut outcomes = std::collections::BTreeSet::new();
    for _ in 0..16 {
        let r = a.call(
            "POST",
            "/function/slow",
            &[
                ("X-P2pfaas-Scheduler-Forward", "1"),
                ("X-P2pfaas-Scheduler-Learning-Task-Type", "1"),
                ("X-P2pfaas-Deadline-Ms", "4"),
            ],
            b"job",
        );
        // Refused by b and run by a, or run by b: answered either way.
        assert_eq!(r.status, 200, "{protocol}: {}", r.text());
        outcomes.insert((
            r.header("X-P2pfaas-Scheduler-Fallback").map(str::to_owned),
            r.header("X-P2pfaas-Externally-Executed").map(str::to_owned),
        ));
    }
    for outcome in &outcomes {
        assert!(
            matches!(
                outcome,
                (Some(f), None) if f == "peer_refused"
            ) || matches!(outcome, (None, Some(_))),
            "{protocol}: neither refused nor accepted: {outcome:?}"
        );
    }
    let learned = b.get("/learner/acceptance/weights").json();
    let states: Vec<String> = learned["states_map"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert!(
        !states.is_empty(),
        "{protocol}: b learned nothing (no deadline reached it): {learned}"
    );
    for state in &states {
        assert!(
            state.starts_with("1,") && state.ends_with(",2"),
            "{protocol}: state {state:?} is not task type 1 with a 4 ms deadline: {learned}"
        );
    }
}

nodetest!(double_decision_gets_the_deadline_native, |driver| {
    double_decision_sees_task_type_and_deadline(driver, "native");
});

nodetest!(double_decision_gets_the_deadline_in_json, |driver| {
    double_decision_sees_task_type_and_deadline(driver, "json");
});

nodetest!(
    weights_load_from_a_file_or_a_post_and_a_mismatch_names_the_field,
    |driver| {
        // Train a node a little, take its weight file by stopping it (saved at shutdown).
        let node = Node::start(driver, CONFIG, &[]);
        drive(node.addr, 60);
        let trained = values(&node, "0,0,0");
        let dir = node.stop_keep_dir();
        let file = std::fs::read_dir(dir.join("data"))
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "bin"))
            .expect("weights saved at shutdown");
        // learner.weights_file starts a fresh node from them.
        let with_file = CONFIG.replace(
            "[learner]\n",
            &format!(
                "[learner]\nweights_file = {:?}\n",
                file.display().to_string()
            ),
        );
        let loaded = Node::start(driver, &with_file, &[]);
        assert_eq!(values(&loaded, "0,0,0"), trained);
        // POST /learner/weights loads the same bytes into a running node.
        let bytes = std::fs::read(&file).expect("readable");
        let fresh = Node::start(driver, CONFIG, &[]);
        let r = fresh.post("/learner/weights", &bytes);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(values(&fresh, "0,0,0"), trained);
        // Another state shape (a feature more): refused, naming the field and both values.
        let wider = CONFIG.replace("[learner]\n", "[learner]\nstate_features = [\"speed\"]\n");
        let other = Node::start(driver, &wider, &[]);
        let r = other.post("/learner/weights", &bytes);
        assert_eq!(r.status, 400);
        assert!(
            r.text()
                .contains("`dims`: file has 3, value function has 4"),
            "{}",
            r.text()
        );
        let bad = wider.replace(
            "[learner]\n",
            &format!(
                "[learner]\nweights_file = {:?}\n",
                file.display().to_string()
            ),
        );
        let err = Node::try_start(driver, &bad, &[]).err().unwrap_or_default();
        assert!(
            err.contains("learner.weights_file") && err.contains("`dims`: file has 3"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
);
